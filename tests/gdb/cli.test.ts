/**
 * `xenkit run --gdb … / --watch …` as a user runs it: the built command
 * (bin/xenkit.js → dist/xenkit.cjs, which `npm test` builds first) in a
 * child process — the options and their help, one-line errors for bad
 * combinations and addresses, the exposure warning for a non-loopback
 * host, a guest that ends with no debugger attached ending the run, and
 * one whole session with the real gdb through the bundled CLI.
 */
import { execFile, spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/exit-codes.js';
import { buildGuest, type GuestKernels } from '../e2e/guests.js';
import { BAD, HAVE_GDB, runGdb } from './harness.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const XENKIT = join(root, 'bin', 'xenkit.js');
const PV_MIN = join(root, 'tests', 'fixtures', 'loader', 'pv-min.elf');

interface Result { status: number | null; stdout: string; stderr: string }

function xenkit(args: string[], cwd = root): Promise<Result> {
  return new Promise((done) => {
    execFile(process.execPath, [XENKIT, ...args], { cwd, env: { ...process.env, NO_COLOR: '', XENKIT_DEBUG: '' }, timeout: 20_000 },
      (err, stdout, stderr) => {
        const status = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        done({ status, stdout, stderr });
      });
  });
}

function expectOneLineError(r: Result, ...fragments: string[]): void {
  expect(r.status, r.stderr).toBe(EXIT.USAGE);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^xenkit: /);
  for (const f of fragments) expect(r.stderr).toContain(f);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

let work: string;
let gdbGuest: GuestKernels;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'xenkit-gdbcli-'));
  gdbGuest = buildGuest('gdb.c');
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('xenkit run --gdb / --watch options', () => {
  it('are in the help, with examples', async () => {
    const r = await xenkit(['run', '--help']);
    expect(r.status).toBe(0);
    for (const o of ['--gdb <[host:]port>', '--gdb-wait', '--watch', '--build <cmd>', '--watch-path <glob>']) expect(r.stdout).toContain(o);
    expect(r.stdout).toContain("xenkit run build/kernel.elf --gdb 1234 --gdb-wait   # then: gdb build/kernel.elf -ex 'target remote :1234'");
    expect(r.stdout).toContain('xenkit run build/kernel.elf --watch ');
    const d = await xenkit(['demo', '--help']);
    for (const o of ['--gdb <[host:]port>', '--gdb-wait', '--watch']) expect(d.stdout).toContain(o);
  });

  it('bad combinations and addresses are one-line errors with status 2', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as AddressInfo).port;
    writeFileSync(join(work, 'k.elf'), 'x');
    try {
      const rs = await Promise.all([
        xenkit(['run', PV_MIN, '--gdb-wait']),
        xenkit(['run', PV_MIN, '--build', 'make']),
        xenkit(['run', PV_MIN, '--watch-path', 'src']),
        xenkit(['run', PV_MIN, '--gdb', '::1:1234']),
        xenkit(['run', PV_MIN, '--gdb', 'port']),
        xenkit(['run', PV_MIN, '--gdb', `127.0.0.1:${port}`]),
        xenkit(['run', join(work, 'k.elf'), '--watch'], work),
      ]);
      expectOneLineError(rs[0]!, '--gdb-wait needs --gdb');
      expectOneLineError(rs[1]!, '--build is for watch mode: add --watch');
      expectOneLineError(rs[2]!, '--watch-path is for watch mode: add --watch');
      expectOneLineError(rs[3]!, 'an IPv6 address needs brackets');
      expectOneLineError(rs[4]!, 'the port is not a number');
      expectOneLineError(rs[5]!, `cannot listen for gdb on 127.0.0.1:${port}: the port is in use`);
      expectOneLineError(rs[6]!, '--watch: no Makefile in . or above; say how to build the kernel with --build CMD');
    } finally {
      busy.close();
    }
  });

  it('warns about a non-loopback address; a guest that ends with no debugger attached ends the run', async () => {
    const r = await xenkit(['run', PV_MIN, '--gdb', '0.0.0.0:0']);
    expect(r.status).toBe(EXIT.POWEROFF);
    expect(r.stdout).toBe('hello from pv-min\n');
    expect(r.stderr).toMatch(/^xenkit: warning: the gdb stub listens on 0\.0\.0\.0:\d+, not on loopback: anyone who can reach this port can read and change the guest/m);
    expect(r.stderr).toMatch(/^xenkit: gdb stub listening on 0\.0\.0\.0:\d+: gdb .*pv-min\.elf -ex 'target remote 0\.0\.0\.0:\d+'$/m);
  });
});

describe.runIf(HAVE_GDB)('a gdb session with the built command', () => {
  it('--gdb-wait, break, continue to the exit; xenkit ends with the guest status once gdb is gone', async () => {
    const child = spawn(process.execPath, [XENKIT, 'run', gdbGuest.pv, '--gdb', '127.0.0.1:0', '--gdb-wait'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '', stdout = '';
    child.stdout.setEncoding('utf8'); // whole characters, however the chunks fall
    child.stdout.on('data', (d: string) => { stdout += d; });
    const port = await new Promise<number>((resolvePort, reject) => {
      const t = setTimeout(() => reject(new Error(`no listening line:\n${stderr}`)), 10_000);
      child.stderr.setEncoding('utf8'); // whole characters, however the chunks fall
      child.stderr.on('data', (d: string) => {
        stderr += d;
        const m = /gdb stub listening on 127\.0\.0\.1:(\d+)/.exec(stderr);
        if (m !== null) {
          clearTimeout(t);
          resolvePort(Number(m[1]));
        }
      });
    });
    const status = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const g = await runGdb(port, ['break outer', 'continue', 'bt 2', 'delete', 'continue'], { elf: gdbGuest.pv });
    expect(g.text, g.text).not.toMatch(BAD);
    expect(g.text).toMatch(/Breakpoint 1, outer \(x=x@entry=0\) at .*gdb\.c:\d+/);
    expect(g.text).toMatch(/#1 +0x[0-9a-f]+ in app_main \(\)/);
    expect(g.text).toContain('[Inferior 1 (Remote target) exited normally]');
    expect(await status).toBe(EXIT.POWEROFF);
    expect(stdout).toContain('gdb guest v1: sum=159');
    expect(stderr).toContain('xenkit: the guest waits for gdb before its first instruction');
    expect(stderr).toMatch(/xenkit: gdb: connected from 127\.0\.0\.1:\d+\nxenkit: gdb: disconnected\n$/);
  });
});
