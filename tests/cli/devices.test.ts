/**
 * `xenkit run --disk/--net` from the command line: devices are attached
 * (the image lock is taken and released, a pcap file is written), and every
 * mistake is one line with status 2 before the guest starts: a missing
 * image, an image another live VMM holds, a bad spec — also with --gdb,
 * before the stub listens. (Devices across reboots under --gdb and
 * --watch: devices-debug.test.ts.)
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildGuest } from '../e2e/guests.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(root, 'dist', 'src', 'cli', 'main.js');
const PV_MIN = join(root, 'tests', 'fixtures', 'loader', 'pv-min.elf');
const work = mkdtempSync(join(tmpdir(), 'xenkit-devices-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function xenkit(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      done({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

describe('xenkit run --disk / --net', () => {
  it('attaches a disk and a NIC, writes the capture header and releases the image lock', async () => {
    const img = join(work, 'disk.img'), pcap = join(work, 'vif.pcap');
    writeFileSync(img, Buffer.alloc(1 << 20));
    const r = await xenkit('run', PV_MIN, '--disk', img, '--net', `switch:lan,pcap=${pcap}`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('hello from pv-min');
    expect(existsSync(`${img}.lock`)).toBe(false);
    expect(readFileSync(pcap).readUInt32LE(0)).toBe(0xa1b2c3d4); // libpcap magic
  });

  it('refuses an image another live VMM holds', async () => {
    const img = join(work, 'locked.img');
    writeFileSync(img, Buffer.alloc(1 << 20));
    writeFileSync(`${img}.lock`, `${process.pid} ${hostname()}\n`); // this test process is alive
    const r = await xenkit('run', PV_MIN, '--disk', img);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/locked|in use/i);
    expect(r.stdout).toBe('');
  });

  it('gives one line and status 2 for bad specs, with or without --gdb', async () => {
    for (const args of [
      ['--disk', join(work, 'missing.img')],
      ['--disk', `${join(work, 'x.img')},bogus`],
      ['--net', 'bogus:1'],
      ['--net', 'vxlan:127.0.0.1,vni=99999999'],
      ['--net', 'switch:a,mac=zz:zz'],
      ['--disk', join(work, 'x.img'), '--gdb', '0'],
    ]) {
      const r = await xenkit('run', PV_MIN, ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('a guest waiting only for VXLAN frames keeps the run alive (stdin closed) until SIGINT', async () => {
    const demo = buildGuest(join('..', '..', 'templates', 'minios', 'app', 'netdemo.c'));
    const child = spawn(process.execPath, [MAIN, 'run', demo.pv, '--net', 'vxlan:127.0.0.1:9,vni=7,local=127.0.0.1:0', '--cmdline', 'seconds=0'], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' },
    });
    let out = '', err = '';
    child.stdout.setEncoding('utf8'); // whole characters, however the chunks fall
    child.stdout.on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8'); // whole characters, however the chunks fall
    child.stderr.on('data', (d: string) => { err += d; });
    const status = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    // Up and waiting: give it time to (wrongly) exit by itself, then interrupt.
    const t0 = Date.now();
    while (!out.includes('netdemo') && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 800));
    expect(child.exitCode, `${out}\n${err}`).toBeNull();
    child.kill('SIGINT');
    expect(await status).toBe(130);
    expect(err).toMatch(/xenkit: interrupted \(SIGINT\)/);
  }, 30_000);

  it('--trace xenstore shows the xenbus handshake of a disk step by step, --trace events its notifications, next to --trace hypercalls', async () => {
    const blkdemo = buildGuest(join('..', '..', 'templates', 'minios', 'app', 'blkdemo.c'));
    const img = join(work, 'trace.img');
    writeFileSync(img, Buffer.alloc(1 << 20));
    const r = await xenkit('run', blkdemo.pv, '--disk', img, '--trace', 'xenstore,events', '--trace', 'hypercalls');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Test result: SUCCESS');
    const lines = r.stderr.split('\n');
    const at = (re: RegExp, from = 0): number => lines.findIndex((l, i) => i >= from && re.test(l));
    // The frontend finds its backend, publishes its ring in a transaction, and the backend connects.
    const found = at(/^\[xs\] dom1 READ "device\/vbd\/51712\/backend" = "\/local\/domain\/0\/backend\/vbd\/1\/51712"$/);
    const published = at(/^\[xs\] dom1 tx \d+ WRITE "device\/vbd\/51712\/state" "4" \(Connected\) = OK$/);
    const ended = at(/^\[xs\] dom1 tx \d+ TRANSACTION_END "T" = OK$/);
    // The backend's watch on the frontend's state fires for the commit; then it reads the ring details and connects.
    const heard = at(/^\[xs\] dom0 <- WATCH_EVENT "\/local\/domain\/1\/device\/vbd\/51712\/state" /, ended);
    const ring = at(/^\[xs\] dom0 READ "\/local\/domain\/1\/device\/vbd\/51712\/ring-ref" = "\d+"$/, heard);
    const connected = at(/^\[xs\] dom0 WRITE "\/local\/domain\/0\/backend\/vbd\/1\/51712\/state" "4" \(Connected\) = OK$/, ring);
    expect([found, published, ended, heard, ring, connected].every((i) => i >= 0), r.stderr).toBe(true);
    expect(found).toBeLessThan(published);
    expect(published).toBeLessThan(ended);
    expect(r.stderr).toMatch(/^\[xs\] dom1 READ "\/local\/domain\/0\/backend\/vbd\/1\/51712\/sectors" = "2048"$/m);
    expect(r.stderr).toMatch(/^\[hcall\] /m);
    // --trace events: the frontend kicks the backend, the backend answers on the guest's port.
    const evPort = Number(/WRITE "device\/vbd\/51712\/event-channel" "(\d+)"/.exec(r.stderr)?.[1]);
    expect(r.stderr).toMatch(new RegExp(`^\\[ev\\] dom1 send port ${evPort} -> dom0 port \\d+$`, 'm'));
    expect(r.stderr).toMatch(new RegExp(`^\\[ev\\] dom0 port \\d+ -> dom1 port ${evPort} \\((upcall|already pending)\\)$`, 'm'));
  }, 30_000);

  it('a crash report ends with the devices as they were (the demo crashing with a disk it never opened)', async () => {
    const img = join(work, 'crash.img');
    writeFileSync(img, Buffer.alloc(1 << 20));
    const r = await xenkit('demo', '--cmdline', 'crash noecho', '--disk', img);
    expect(r.status, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/\ndevices:\n {2}vbd \/local\/domain\/0\/backend\/vbd\/1\/51712: InitWait, frontend Initialising; 0 requests/);
  }, 30_000);
});
