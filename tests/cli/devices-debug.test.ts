/**
 * Disks and NICs under watch mode and gdb: the run opens each image and
 * network port once and lends them to every machine it boots (a rebuilt
 * kernel, `monitor reset`, a reboot that waited for gdb to resume), so
 * each boot finds on the disk what the previous one wrote, the image lock
 * stays with this process until the run ends, and one capture file
 * records the frames of every boot. The guest is tests/guests/rebootdev.c
 * in a `xenkit new` project: it prints the mark the previous boot left in
 * sector 8, writes its own, and sends one ARP announcement per boot.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaffold } from '../../src/cli/new.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { GUESTS_DIR } from '../e2e/guests.js';
import { BAD, HAVE_GDB, runGdb, startXenkit, statusWithin, until } from '../gdb/harness.js';

const HAVE_MAKE = (() => {
  try {
    execFileSync('make', ['--version'], { stdio: 'ignore' });
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let work: string;
beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'xenkit-devdebug-')); });
afterAll(() => { if (work) rmSync(work, { recursive: true, force: true }); });

/** A `xenkit new` project whose app is rebootdev.c, built; plus a blank 1 MiB image. */
function project(name: string): { dir: string; app: string; img: string; pcap: string } {
  const dir = join(work, name);
  scaffold(dir, work);
  const app = join(dir, 'app', 'demo.c');
  copyFileSync(join(GUESTS_DIR, 'rebootdev.c'), app);
  copyFileSync(join(GUESTS_DIR, 'guest.h'), join(dir, 'app', 'guest.h'));
  execFileSync('make', ['-s', '-j2', 'pv'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const img = join(dir, 'disk.img');
  writeFileSync(img, Buffer.alloc(1 << 20));
  return { dir, app, img, pcap: join(dir, 'vif.pcap') };
}

function bumpVersion(app: string, to: number): void {
  const s = readFileSync(app, 'utf8');
  const t = s.replace(/#define REBOOTDEV_VERSION \d+/, `#define REBOOTDEV_VERSION ${to}`);
  if (t === s) throw new Error('no version to bump');
  writeFileSync(app, t);
}

/** The mark in sector 8 of the image. */
function mark(img: string): string {
  const s = readFileSync(img).subarray(8 * 512, 8 * 512 + 64);
  return s.subarray(0, s.indexOf(0)).toString('latin1');
}

/** The records of a classic pcap file: each one's frame. */
function pcapFrames(file: string): Buffer[] {
  const b = readFileSync(file);
  expect(b.readUInt32LE(0)).toBe(0xa1b2c3d4);
  const frames: Buffer[] = [];
  for (let off = 24; off + 16 <= b.length;) {
    const len = b.readUInt32LE(off + 8);
    frames.push(b.subarray(off + 16, off + 16 + len));
    off += 16 + len;
  }
  return frames;
}

const ARP = 0x0806;

describe.runIf(HAVE_MAKE)('devices across reboots', () => {
  it('watch mode: the rebuilt guest finds the old guest\'s data on the same image; one capture for both boots', async () => {
    const p = project('watch');
    const x = await startXenkit('build/kernel.elf', {
      gdb: undefined, watch: true, deterministic: false, disk: [p.img], net: [`switch:lan,pcap=${p.pcap}`],
    }, { cwd: p.dir, debounceMs: 30 });
    await x.waitErr((e) => e.includes('waiting for a change'));
    expect(x.out()).toContain('rebootdev v1: previous mark: (none)');
    expect(x.out()).toContain('Test result: SUCCESS');
    expect(existsSync(`${p.img}.lock`)).toBe(true); // held between boots
    const first = x.target.machine;

    bumpVersion(p.app, 2);
    await x.waitErr((e) => e.includes('rebooted into build/kernel.elf'));
    await until(() => (x.out().match(/Test result: SUCCESS/g) ?? []).length === 2);
    expect(x.target.machine).not.toBe(first);
    expect(x.out()).toContain('rebootdev v2: previous mark: mark v1');
    expect(x.err()).not.toMatch(/lock|disk xvda:|vif0:|disk\.img|vif\.pcap/i);
    expect(mark(p.img)).toBe('mark v2');

    x.interrupt();
    expect(await statusWithin(x)).toBe(EXIT.INTERRUPTED);
    expect(existsSync(`${p.img}.lock`)).toBe(false);
    const arps = pcapFrames(p.pcap).filter((f) => f.readUInt16BE(12) === ARP);
    expect(arps).toHaveLength(2);
  }, 60_000);

  it.runIf(HAVE_GDB)('gdb: a reboot that waits for gdb to resume, then monitor reset, each boot on the same disk', async () => {
    const p = project('gdb');
    const kernel = join(p.dir, 'build', 'kernel.elf');
    const x = await startXenkit('build/kernel.elf', {
      gdbWait: true, watch: true, deterministic: false, disk: [p.img], net: [`switch:lan,pcap=${p.pcap}`],
    }, { cwd: p.dir, debounceMs: 30 });
    // gdb's shell waits for this file, which the test writes once xenkit says the rebuilt kernel waits for gdb.
    const pendingFlag = join(work, 'gdb-reboot-pending');
    const flagWhenPending = until(() => x.err().includes('was rebuilt; the guest reboots into it'), 40_000)
      .then(() => writeFileSync(pendingFlag, ''));
    const r = await runGdb(x.port, [
      'break devices_done', 'continue',
      // Edit while gdb holds the guest stopped: the rebuilt kernel waits for gdb to resume it.
      `shell sed -i 's/REBOOTDEV_VERSION 1/REBOOTDEV_VERSION 2/' ${p.app} && ` +
        `for i in $(seq 600); do [ -e ${pendingFlag} ] && break; sleep 0.05; done`,
      'echo ==c2\\n', 'continue', 'echo ==c3\\n', 'continue', 'echo ==c4\\n', 'continue',
      'echo ==reset\\n', 'monitor reset', 'echo ==c5\\n', 'continue', 'monitor devices',
      'delete', 'detach',
    ], { elf: kernel, timeoutMs: 40_000 });
    await flagWhenPending;
    const out = r.text;
    expect(out, out).not.toMatch(BAD);
    // gdb steps off the breakpoint in the old kernel, then continues: the rebuilt kernel boots,
    // stopped at its first instruction, with xenkit's message.
    expect(out).toMatch(/==c2\n+Program received signal SIGTRAP, Trace\/breakpoint trap\.\n_start \(\)/);
    expect(out).toMatch(/xenkit: rebooted into the rebuilt build\/kernel\.elf\./);
    expect(out).toMatch(/==c3\n+Breakpoint 1, devices_done \(\)/);
    // The new boot ends (watch mode keeps it inspectable): a SIGTRAP stop.
    expect(out).toMatch(/==c4\n+Program received signal SIGTRAP/);
    expect(out).toMatch(/xenkit: reset: rebooted build\/kernel\.elf/);
    expect(out).toMatch(/==c5\n+Breakpoint 1, devices_done \(\)/);
    // monitor devices: the disk and the vif of the current boot, connected, with their counters.
    expect(out).toMatch(/^vbd \/local\/domain\/0\/backend\/vbd\/1\/51712: Connected, frontend Connected; \d+ requests \(1 reads, 1 writes, 1 flushes, 0 discards\), 0 errors/m);
    expect(out).toMatch(/^vif \/local\/domain\/0\/backend\/vif\/1\/0 \((?:[0-9a-f]{2}:){5}[0-9a-f]{2}\): Connected, frontend Connected; tx 1 packets 60 bytes/m);
    expect(out).toContain('[Inferior 1 (Remote target) detached]');
    // v1 stopped at the breakpoint for good; both v2 boots ran to the end.
    await until(() => (x.out().match(/Test result: SUCCESS/g) ?? []).length === 2);
    const lines = x.out().split('\n').filter((l) => l.includes('previous mark'));
    expect(lines).toEqual([
      'rebootdev v1: previous mark: (none)',
      'rebootdev v2: previous mark: mark v1',
      'rebootdev v2: previous mark: mark v2',
    ]);
    expect(x.err()).not.toMatch(/locked|disk xvda:|vif0:/i);
    // The image and the capture change as the guest runs: not a reason to rebuild.
    expect(x.err()).not.toMatch(/disk\.img|vif\.pcap/);
    x.interrupt();
    expect(await statusWithin(x)).toBe(EXIT.INTERRUPTED);
    expect(existsSync(`${p.img}.lock`)).toBe(false);
    expect(mark(p.img)).toBe('mark v2');
    expect(pcapFrames(p.pcap).filter((f) => f.readUInt16BE(12) === ARP)).toHaveLength(3);
  }, 60_000);
});
