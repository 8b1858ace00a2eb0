/**
 * Several guests in one `xenkit run` (`--and`, src/cli/multi-run.ts), end
 * to end through the built CLI (bin/xenkit.js, as a user runs it):
 *  - two app/netdemo.c guests on `switch:lan`, one pinging the other with
 *    `ping=`, the other stopping after `answer=4` (and with no timer
 *    armed, `seconds=0`: only the frames wake it): every stdout line
 *    carries its guest's prefix ([netdemo], [netdemo-2]: one kernel, two
 *    names), the replies and the summary are there, the MACs differ, both
 *    power off (one stderr line each), status 0, and the `pcap=` capture
 *    of one vif has records;
 *  - with --deterministic on both, the guests share one guest time
 *    (lockstep): the answering guest's 60 s sleep cannot run ahead of the
 *    pinger, and two runs print the same bytes and write the same capture;
 *  - stdin goes to the first guest (it reads "quit"); the second, waiting
 *    for frames with no deadline, ends 'halted' (status 10) once its only
 *    peer has gone: the run's status is the first non-poweroff in order;
 *  - a guest that crashes next to one that powers off: status 4, and the
 *    crash report names the guest; the order of guests decides the status;
 *  - usage errors are one line and status 2: an option error in guest 2
 *    names guest 2, a dangling or leading `--and`, `--gdb` with two
 *    guests, two guests writing one disk image (its lock).
 * Each run is bounded by a timeout.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectKernel } from '../../src/loader/kernel.js';
import { buildGuest } from '../e2e/guests.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(root, 'bin', 'xenkit.js');
const PV_MIN = join(root, 'tests', 'fixtures', 'loader', 'pv-min.elf');
const work = mkdtempSync(join(tmpdir(), 'xenkit-multi-'));
/** The netdemo kernel, copied to <work>/netdemo/kernel.elf: both guests are named after that directory. */
let netdemo = '';

beforeAll(() => {
  const built = buildGuest(join('..', '..', 'templates', 'minios', 'app', 'netdemo.c'));
  mkdirSync(join(work, 'netdemo'));
  netdemo = join(work, 'netdemo', 'kernel.elf');
  copyFileSync(built.pv, netdemo);
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Result { status: number | null; stdout: string; stderr: string }

/** `node bin/xenkit.js ...args` with `input` on stdin, killed after `timeoutMs`. */
function xenkit(args: string[], input = '', timeoutMs = 30_000): Promise<Result> {
  return new Promise((done) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1', XENKIT_DEBUG: '' }, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        done({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr });
      });
    child.stdin?.end(input);
  });
}

function expectOneLine(r: Result, ...fragments: string[]): void {
  const why = JSON.stringify(r);
  expect(r.status, why).toBe(2);
  expect(r.stdout, why).toBe('');
  expect(r.stderr.trimEnd().split('\n'), why).toHaveLength(1);
  expect(r.stderr, why).toMatch(/^xenkit: /);
  expect(r.stderr, why).not.toMatch(/^\s+at /m);
  for (const f of fragments) expect(r.stderr, why).toContain(f);
}

/** A copy of pv-min that shuts down with `reason` (its shutdown_arg is at 0x101014). */
function pvMinWithReason(reason: number, name: string): string {
  const b = new Uint8Array(readFileSync(PV_MIN));
  const k = inspectKernel(b, PV_MIN);
  const addr = 0x101014;
  const seg = k.elf.segments.find((s) => s.type === 1 && addr >= s.vaddr && addr + 4 <= s.vaddr + s.filesz);
  if (seg === undefined) throw new Error('shutdown_arg is not in pv-min\'s file image');
  b.set([reason, 0, 0, 0], seg.offset + addr - seg.vaddr);
  const out = join(work, name);
  writeFileSync(out, b);
  return out;
}

describe('xenkit run --and: two netdemo guests on one switch', () => {
  it('one pings the other: prefixed consoles, replies, summary, both power off, status 0, a capture', async () => {
    const pcap = join(work, 'pinger.pcap');
    const r = await xenkit(['run',
      // seconds=0: no timer at all, only the pinger's frames can wake this guest.
      netdemo, '--net', 'switch:lan', '--cmdline', 'ip=10.0.0.2/24 answer=4 seconds=0',
      '--and', netdemo, '--net', `switch:lan,pcap=${pcap}`, '--cmdline', 'ip=10.0.0.3/24 ping=10.0.0.2']);
    const why = `status ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
    expect(r.status, why).toBe(0);
    const lines = r.stdout.replace(/\r/g, '').split('\n');
    expect(lines.pop(), why).toBe(''); // ends with a newline
    for (const l of lines) expect(l, why).toMatch(/^\[(netdemo|netdemo-2)\] /);
    const of = (name: string): string => lines.filter((l) => l.startsWith(`[${name}] `)).map((l) => l.slice(name.length + 3)).join('\n') + '\n';
    const a = of('netdemo'), b = of('netdemo-2');
    expect(a, why).toContain('netdemo: address 10.0.0.2/24 (from the command line)\n');
    expect(b, why).toContain('netdemo: address 10.0.0.3/24 (from the command line)\n');
    expect(b, why).toContain('netdemo: pinging 10.0.0.2 4 times\n');
    for (const seq of [1, 2, 3, 4]) expect(b, why).toMatch(new RegExp(`^netdemo: 64 bytes from 10\\.0\\.0\\.2: icmp_seq=${seq} time=\\d+\\.\\d{3} ms$`, 'm'));
    expect(b, why).toContain('netdemo: 4 packets transmitted, 4 received\n');
    for (const seq of [1, 2, 3, 4]) expect(a, why).toContain(`netdemo: ping from 10.0.0.3: id 28260 seq ${seq}, 56 bytes: answered\n`);
    expect(a, why).toContain('netdemo: answered 4 echo requests (answer=4): stopping\n');
    for (const g of [a, b]) expect(g, why).toContain('xenkit-minios: done, powering off\n');
    // One kernel, two guests: two generated MACs.
    const mac = (g: string): string | undefined => /: mac ([0-9a-f:]{17})\n/.exec(g)?.[1];
    expect(mac(a), why).toBeDefined();
    expect(mac(b), why).toBeDefined();
    expect(mac(a), why).not.toBe(mac(b));
    expect(b, why).toContain(`netdemo: ARP: 10.0.0.2 is at ${mac(a)!}\n`);
    expect(r.stderr.split('\n').filter((l) => l !== '').sort(), why).toEqual(['xenkit: [netdemo-2] powered off', 'xenkit: [netdemo] powered off']);
    // The capture: the libpcap header and records (ARP and 8 ICMP frames at least).
    const cap = readFileSync(pcap);
    expect(cap.readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect(cap.length, why).toBeGreaterThan(24 + 9 * (16 + 60));
  }, 60_000);

  it('--deterministic on every guest: one common guest time, the same bytes on every run', async () => {
    const run = (pcap: string): Promise<Result> => xenkit(['run',
      netdemo, '--deterministic', '--net', 'switch:lan', '--cmdline', 'ip=10.0.0.2/24 answer=4',
      '--and', netdemo, '--deterministic', '--net', `switch:lan,pcap=${pcap}`, '--cmdline', 'ip=10.0.0.3/24 ping=10.0.0.2']);
    const [p1, p2] = [join(work, 'det1.pcap'), join(work, 'det2.pcap')];
    const [r1, r2] = [await run(p1), await run(p2)];
    const why = `stdout:\n${r1.stdout}\nstderr:\n${r1.stderr}`;
    expect(r1.status, why).toBe(0);
    expect(r2.status).toBe(0);
    const out = r1.stdout.replace(/\r/g, '');
    // The answering guest sleeps up to 60 s between frames: in lockstep its time cannot run ahead
    // of the pinger's, so it is still there for all four pings (alone, it would skip its 60 s at once).
    expect(out, why).toContain('[netdemo-2] netdemo: 4 packets transmitted, 4 received\n');
    expect(out, why).toContain('[netdemo] netdemo: answered 4 echo requests (answer=4): stopping\n');
    // Round trips in guest time: identical in every run, and the whole output too.
    const rtts = [...out.matchAll(/icmp_seq=\d time=(\d+\.\d{3}) ms/g)].map((m) => m[1]);
    expect(rtts, why).toHaveLength(4);
    expect(r2.stdout).toBe(r1.stdout);
    expect(r2.stderr).toBe(r1.stderr);
    // The captures too: their timestamps are the guest's own time (from 2024-01-01, the deterministic epoch).
    const c1 = readFileSync(p1);
    expect(c1.length).toBeGreaterThan(24 + 9 * (16 + 60));
    expect(readFileSync(p2).equals(c1)).toBe(true);
    expect(c1.readUInt32LE(24)).toBe(1_704_067_200); // the first record's seconds

  }, 60_000);

  it('stdin is the first guest\'s; the second, left waiting for frames alone, halts: status 10', async () => {
    const r = await xenkit(['run',
      netdemo, '--net', 'switch:lan', '--cmdline', 'seconds=0',
      '--and', netdemo, '--net', 'switch:lan', '--cmdline', 'seconds=0 ip=10.0.0.3'], 'quit\n');
    const why = `status ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
    const out = r.stdout.replace(/\r\n/g, '\n');
    expect(r.status, why).toBe(10);
    expect(out, why).toContain('[netdemo] quit\n[netdemo] netdemo: quit\n');
    expect(out, why).not.toContain('[netdemo-2] netdemo: quit');
    expect(out, why).toContain('[netdemo] xenkit-minios: done, powering off\n');
    expect(r.stderr, why).toContain('xenkit: [netdemo] powered off\n');
    expect(r.stderr, why).toMatch(/^xenkit: \[netdemo-2\] the vCPU halted with nothing that could wake it/m);
  }, 60_000);
});

describe('xenkit run --and: how the run ends', () => {
  it('a guest crashes while the other powers off: the crash\'s status, a report naming the guest', async () => {
    const crash = pvMinWithReason(3, 'pv-crash.elf');
    const r = await xenkit(['run', PV_MIN, '--and', crash]);
    const why = `status ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
    expect(r.status, why).toBe(4);
    expect(r.stdout.split('\n').sort(), why).toEqual(['', '[pv-crash] hello from pv-min', '[pv-min] hello from pv-min']);
    expect(r.stderr, why).toContain('xenkit: [pv-min] powered off\n');
    expect(r.stderr, why).toMatch(/^=== xenkit crash report: guest \[pv-crash\] ===\nreason: {2}the guest shut down with SHUTDOWN_crash/m);
    expect(r.stderr, why).toContain(`kernel:  ${crash}`);
  }, 30_000);

  it('the status is the first guest\'s, in command-line order, that did not power off', async () => {
    const crash = pvMinWithReason(3, 'pv-crash.elf'), reboot = pvMinWithReason(1, 'pv-reboot.elf');
    const [first, second] = await Promise.all([
      xenkit(['run', reboot, '--and', crash, '--and', PV_MIN]),
      xenkit(['run', PV_MIN, '--and', crash, '--and', reboot]),
    ]);
    expect(first.status, first.stderr).toBe(3);
    expect(first.stderr).toContain('xenkit: [pv-reboot] the guest shut down with SHUTDOWN_reboot; xenkit does not restart guests\n');
    expect(second.status, second.stderr).toBe(4);
    // Same kernel twice: two names.
    const twice = await xenkit(['run', PV_MIN, '--and', PV_MIN]);
    expect(twice).toEqual({
      status: 0, stdout: '[pv-min] hello from pv-min\n[pv-min-2] hello from pv-min\n',
      stderr: 'xenkit: [pv-min] powered off\nxenkit: [pv-min-2] powered off\n',
    });
  }, 30_000);

  it('one guest is unchanged: no prefix, no line on stderr', async () => {
    expect(await xenkit(['run', PV_MIN])).toEqual({ status: 0, stdout: 'hello from pv-min\n', stderr: '' });
  });
});

describe('xenkit run --and: usage errors are one line, status 2', () => {
  it('names the guest whose options are wrong', async () => {
    expectOneLine(await xenkit(['run', PV_MIN, '--and', PV_MIN, '--foo']), "guest 2: unknown option '--foo'");
    expectOneLine(await xenkit(['run', PV_MIN, '--and', PV_MIN, '--memory', '64X']), 'guest 2: --memory "64X" is not a size');
    expectOneLine(await xenkit(['run', PV_MIN, '--and', join(work, 'missing.elf')]), 'guest 2: ', 'missing.elf: cannot read the kernel: no such file');
    expectOneLine(await xenkit(['run', PV_MIN, '--and', '--memory', '32M']), 'guest 2: ', 'kernel.elf');
  });

  it('refuses a dangling or leading --and', async () => {
    expectOneLine(await xenkit(['run', PV_MIN, '--and']), '--and must be followed by a kernel');
    expectOneLine(await xenkit(['run', PV_MIN, '--and', '--and', PV_MIN]), '--and must be followed by a kernel');
    expectOneLine(await xenkit(['run', '--and', PV_MIN]), '--and goes between guests');
  });

  it('refuses --gdb and --watch with several guests', async () => {
    expectOneLine(await xenkit(['run', PV_MIN, '--and', PV_MIN, '--gdb', '1234']), 'guest 2: --gdb: debugging and watch mode take one guest');
    expectOneLine(await xenkit(['run', PV_MIN, '--watch', '--and', PV_MIN]), 'guest 1: --watch: debugging and watch mode take one guest');
  });

  it('refuses two guests writing one disk image (its lock), and releases the lock', async () => {
    const img = join(work, 'shared.img');
    writeFileSync(img, Buffer.alloc(1 << 20));
    expectOneLine(await xenkit(['run', PV_MIN, '--disk', img, '--and', PV_MIN, '--disk', img]), 'guest 2: ', 'in use');
    expect(existsSync(`${img}.lock`)).toBe(false);
  });

  it('documents --and in run --help', async () => {
    const r = await xenkit(['run', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('[--and <kernel.elf> [options]]...');
    expect(r.stdout).toMatch(/--and build\/netdemo\/kernel\.elf --net switch:lan/);
    expect(r.stdout).toContain('stdin goes to the first guest whose console is stdio');
  });
});
