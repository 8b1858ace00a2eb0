/**
 * `xenkit` end to end: the compiled CLI (dist/src/cli/main.js, built by
 * `tsc -p tsconfig.json`, which `npm test` runs first) is spawned as a user
 * would run it, on the pv-min fixture, on variants of it patched to end in
 * each possible way (reboot, suspend, crash, an exception with no handler,
 * a triple fault, a halt, a spin to interrupt), and on the guest template's
 * kernels built from a copy of templates/minios.
 *
 * Checked: the exit status of every outcome, guest output on stdout,
 * --help and --version, the --trace hypercalls line shape with symbolized
 * callers, the crash report's contents, and that bad input gives one line
 * on stderr and never a JavaScript stack trace.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectKernel } from '../../src/loader/kernel.js';
import { EXIT, EXIT_STATUSES } from '../../src/cli/exit-codes.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(root, 'dist', 'src', 'cli', 'main.js');
const PV_MIN = join(root, 'tests', 'fixtures', 'loader', 'pv-min.elf');
const work = mkdtempSync(join(tmpdir(), 'xenkit-cli-'));
const template = join(work, 'minios');
const PV = join(template, 'build', 'kernel.elf');
const PVH = join(template, 'build', 'kernel-pvh.elf');

interface Result { status: number | null; stdout: string; stderr: string }

/** Run `node dist/src/cli/main.js ...args` to completion. */
function xenkit(...args: string[]): Promise<Result> {
  return new Promise((done) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, NO_COLOR: '', XENKIT_DEBUG: '' }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const status = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        done({ status, stdout, stderr });
      });
  });
}

/** No JavaScript stack trace, no colour codes. */
function expectCleanStderr(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at .*[(:]\d+/m);
  expect(stderr).not.toMatch(/\b(TypeError|RangeError|ReferenceError|SyntaxError)\b/);
  expect(stderr).not.toContain('\x1b[');
}

/** A one-line error for bad input: status 2, "xenkit: ..." on stderr, nothing on stdout. */
function expectOneLineError(r: Result, ...fragments: string[]): void {
  expect(r.status).toBe(EXIT.USAGE);
  expect(r.stdout).toBe('');
  expect(r.stderr.endsWith('\n')).toBe(true);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^xenkit: /);
  for (const f of fragments) expect(r.stderr).toContain(f);
  expectCleanStderr(r.stderr);
}

/** A copy of `file` with `bytes` written at kernel address `addr` (PV: virtual, PVH: physical); returns the copy's path. */
function patched(file: string, name: string, edits: [addr: number, bytes: number[]][]): string {
  const b = new Uint8Array(readFileSync(file));
  const k = inspectKernel(b, file);
  for (const [addr, bytes] of edits) {
    const seg = k.elf.segments.find((s) => {
      const at = k.type === 'pv' ? s.vaddr : s.paddr;
      return s.type === 1 && addr >= at && addr + bytes.length <= at + s.filesz;
    });
    if (seg === undefined) throw new Error(`0x${addr.toString(16)} is not in ${file}'s file image`);
    b.set(bytes, seg.offset + addr - (k.type === 'pv' ? seg.vaddr : seg.paddr));
  }
  const out = join(work, name);
  writeFileSync(out, b);
  return out;
}

// pv-min: _start at 0x100000; shutdown_arg (SHUTDOWN_poweroff) at 0x101014.
const START = 0x100000, SHUTDOWN_ARG = 0x101014;
const withReason = (reason: number): string => patched(PV_MIN, `pv-reason-${reason}.elf`, [[SHUTDOWN_ARG, [reason, 0, 0, 0]]]);

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -p tsconfig.json)`);
  cpSync(join(root, 'templates', 'minios'), template, { recursive: true, filter: (src) => !/[/\\]build$/.test(src) });
  execFileSync('make', ['-s', '-C', template], { stdio: ['ignore', 'pipe', 'pipe'] });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('xenkit --help and --version', () => {
  it('documents every option of run and every exit status', async () => {
    for (const args of [['--help'], ['run', '--help']]) {
      const r = await xenkit(...args);
      expect(r.status).toBe(0);
      if (args[0] === 'run') {
        for (const o of ['--memory <size>', '--cmdline <str>', '--trace <what>', 'hypercalls', '--help']) expect(r.stdout).toContain(o);
      } else {
        expect(r.stdout).toContain('run [options] <kernel.elf>');
        expect(r.stdout).toContain('--version');
      }
      expect(r.stdout).toContain('Exit status:');
      for (const [n, text] of EXIT_STATUSES) expect(r.stdout).toContain(`  ${String(n).padEnd(4)} ${text}`);
      expect(r.stdout).toContain('NO_COLOR');
    }
  });

  it('prints package.json\'s version', async () => {
    const r = await xenkit('--version');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(r).toEqual({ status: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });
});

describe('xenkit run: how a guest ends is the exit status', () => {
  it('powers off: status 0, console on stdout, nothing on stderr', async () => {
    expect(await xenkit('run', PV_MIN)).toEqual({ status: 0, stdout: 'hello from pv-min\n', stderr: '' });
  });

  it('gives each other shutdown reason its status and one line', async () => {
    const cases: [number, number, RegExp][] = [
      [1, EXIT.REBOOT, /^xenkit: the guest shut down with SHUTDOWN_reboot; xenkit does not restart guests\n$/],
      [2, EXIT.SUSPEND, /^xenkit: the guest shut down with SHUTDOWN_suspend\n$/],
      [4, EXIT.WATCHDOG, /^xenkit: the guest shut down with SHUTDOWN_watchdog\n$/],
      [5, EXIT.SOFT_RESET, /^xenkit: the guest shut down with SHUTDOWN_soft_reset\n$/],
    ];
    const results = await Promise.all(cases.map(([reason]) => xenkit('run', withReason(reason))));
    results.forEach((r, i) => {
      expect(r.status).toBe(cases[i]![1]);
      expect(r.stdout).toBe('hello from pv-min\n');
      expect(r.stderr).toMatch(cases[i]![2]);
    });
  });

  it('SHUTDOWN_crash: status 4 and a crash report after the guest output', async () => {
    const r = await xenkit('run', withReason(3));
    expect(r.status).toBe(EXIT.GUEST_CRASH);
    expect(r.stdout).toBe('hello from pv-min\n');
    expect(r.stderr).toMatch(/^=== xenkit crash report ===\nreason: {2}the guest shut down with SHUTDOWN_crash/);
    expect(r.stderr).toContain('backtrace');
    expect(r.stderr).toMatch(/#1 +0x00100025 +_start\+0x25/);
    expect(r.stderr).toMatch(/sched_op\(.*\) = 0 {2}<- _start\+0x25 \(0x00100025\)/);
    expectCleanStderr(r.stderr);
  });

  it('an exception with no handler: status 5, the faulting instruction in the report', async () => {
    const r = await xenkit('run', patched(PV_MIN, 'pv-ud2.elf', [[START, [0x0f, 0x0b]]]));
    expect(r.status).toBe(EXIT.DOMAIN_CRASH);
    expect(r.stderr).toContain('reason:  domain crashed: unhandled #UD invalid opcode');
    expect(r.stderr).toMatch(/faulting instruction \(0x00100000, _start\):\n {2}0f 0b +ud2\n/);
    expect(r.stderr).toMatch(/#UD invalid opcode at 0x00100000 _start/);
    expect(r.stderr).toContain('last hypercalls (oldest first, 0):');
    expectCleanStderr(r.stderr);
  });

  it('a triple fault (PVH with no IDT): status 6 and a report', async () => {
    const entry = inspectKernel(new Uint8Array(readFileSync(PVH)), PVH).entry;
    const r = await xenkit('run', patched(PVH, 'pvh-ud2.elf', [[entry, [0x0f, 0x0b]]]));
    expect(r.status).toBe(EXIT.TRIPLE_FAULT);
    expect(r.stderr).toContain('reason:  triple fault');
    expect(r.stderr).toContain('ud2');
    expectCleanStderr(r.stderr);
  });

  it('a vCPU halted for good: status 10 and one line', async () => {
    const entry = inspectKernel(new Uint8Array(readFileSync(PVH)), PVH).entry;
    const r = await xenkit('run', patched(PVH, 'pvh-hlt.elf', [[entry, [0xfa, 0xf4]]]));
    expect(r.status).toBe(EXIT.HALTED);
    expect(r.stderr).toMatch(/^xenkit: the vCPU halted with nothing that could wake it \(.*\); stopped at hlt, eip 0x[0-9a-f]{8} \(_pvh_start\+0x2\)\n$/);
  });

  it('SIGINT stops a spinning guest: status 130 and where it was', async () => {
    // Print, then spin where the shutdown call was: the output shows the run loop (and its SIGINT handler) is live.
    const spin = patched(PV_MIN, 'pv-spin.elf', [[START + 0x20, [0xeb, 0xfe]]]);
    const child = spawn(process.execPath, [MAIN, 'run', spin], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stderr.setEncoding('utf8'); // whole characters, however the chunks fall
    child.stderr.on('data', (d: string) => { stderr += d; });
    child.stdout.setEncoding('utf8'); // whole characters, however the chunks fall
    await new Promise<void>((r) => child.stdout.on('data', (d: string) => { stdout += d; r(); }));
    child.kill('SIGINT');
    const status = await new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    expect(status).toBe(EXIT.INTERRUPTED);
    expect(stdout).toBe('hello from pv-min\n');
    expect(stderr).toMatch(/^xenkit: interrupted \(SIGINT\) after \d+ guest instructions, at eip 0x00100020 \(_start\+0x20\)\n$/);
  });
});

describe('xenkit run: bad input is one line and status 2', () => {
  it('a truncated kernel', async () => {
    const file = join(work, 'truncated.elf');
    writeFileSync(file, readFileSync(PV_MIN).subarray(0, 40));
    expectOneLineError(await xenkit('run', file), file, 'truncated');
  });

  it('a file that is not an ELF, a missing file, a directory', async () => {
    const notElf = join(work, 'not-elf.txt');
    writeFileSync(notElf, 'hello\n');
    const [a, b, c] = await Promise.all([xenkit('run', notElf), xenkit('run', join(work, 'missing.elf')), xenkit('run', work)]);
    expectOneLineError(a, notElf, 'not an ELF');
    expectOneLineError(b, 'missing.elf', 'no such file');
    expectOneLineError(c, 'is a directory');
  });

  it('bad options', async () => {
    const rs = await Promise.all([
      xenkit('run', PV_MIN, '--memory', '64X'),
      xenkit('run', PV_MIN, '--memory', '2G'),
      xenkit('run', PV_MIN, '--memory', '1M'),
      xenkit('run', PV_MIN, '--trace', 'everything'),
      xenkit('run', PV_MIN, '--bogus'),
      xenkit('run'),
      xenkit('frobnicate'),
    ]);
    expectOneLineError(rs[0]!, '--memory', '64X', 'not a size');
    expectOneLineError(rs[1]!, '--memory 2G is too large');
    expectOneLineError(rs[2]!, '--memory 1M is too small');
    expectOneLineError(rs[3]!, '--trace', 'everything', 'hypercalls');
    expectOneLineError(rs[4]!, "unknown option '--bogus'");
    expectOneLineError(rs[5]!, 'missing required argument');
    expectOneLineError(rs[6]!, "unknown command 'frobnicate'");
  });
});

describe('a reader that goes away', () => {
  it('is not an error: no stack trace when stdout closes early', async () => {
    const err = join(work, 'epipe.err');
    for (const args of ['--help', `run "${PV_MIN}"`]) {
      await new Promise<void>((done, fail) => {
        // `true` exits at once: every write to the pipe gets EPIPE.
        execFile('sh', ['-c', `"${process.execPath}" "${MAIN}" ${args} 2>"${err}" | true`],
          (e) => (e === null ? done() : fail(e)));
      });
      expect(readFileSync(err, 'utf8')).toBe('');
    }
  });
});

describe('xenkit run: the guest template', () => {
  it('boots the PV and PVH kernels, prints the banner on stdout and powers off', async () => {
    const [pv, pvh] = await Promise.all([xenkit('run', PV), xenkit('run', PVH, '--memory', '32M')]);
    for (const r of [pv, pvh]) {
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('xenkit-minios');
      expect(r.stdout).toContain('command line: ""');
      expect(r.stdout).toContain('powering off');
      expectCleanStderr(r.stderr);
    }
    expect(pv.stdout).toContain('PV32 (PAE) kernel');
    expect(pvh.stdout).toContain('PVH32 kernel');
    expect(pvh.stdout).toContain('-0x01ffffff'); // the memory map ends at 32 MiB
  });

  it('passes --cmdline; "crash" gives status 4 and a full crash report', async () => {
    const [pv, pvh] = await Promise.all([xenkit('run', PV, '--cmdline', 'crash'), xenkit('run', PVH, '-c', 'crash')]);
    for (const r of [pv, pvh]) {
      expect(r.status).toBe(EXIT.GUEST_CRASH);
      expect(r.stdout).toContain('command line: "crash"');
      const e = r.stderr;
      expect(e).toContain('=== xenkit crash report ===');
      expect(e).toContain('SHUTDOWN_crash');
      expect(e).toContain('command line "crash"');
      for (const reg of ['eax=', 'ebx=', 'ecx=', 'edx=', 'esi=', 'edi=', 'ebp=', 'esp=', 'eip=', 'eflags=', 'cs=', 'ss=', 'cr0=', 'cr2=', 'cr3=', 'cr4=']) {
        expect(e).toContain(reg);
      }
      // The fault that started the panic, disassembled, with its symbol.
      expect(e).toMatch(/#UD invalid opcode at 0x[0-9a-f]{8} [A-Za-z_]\w*\+0x[0-9a-f]+.*\n {4}0f 0b +ud2\n/);
      // A symbolized backtrace through the panic path.
      expect(e).toMatch(/backtrace \(.*\):\n {2}#0 +0x[0-9a-f]{8} +hypercall_page\+0x[0-9a-f]+\n {2}#1 +0x[0-9a-f]{8} +[A-Za-z_]\w*\+0x[0-9a-f]+\n/);
      expect(e).toMatch(/#\d+ +0x[0-9a-f]{8} +(panic|shutdown|do_trap)\+0x/);
      expect(e).toContain('last hypercalls (oldest first');
      expect(e).toMatch(/ {2}sched_op\(.*crash.*\) = 0 {2}<- [A-Za-z_]\w*\+0x[0-9a-f]+ \(0x[0-9a-f]{8}\)\n$/);
      expectCleanStderr(e);
    }
  });

  it('--trace hypercalls prints one symbolized line per hypercall on stderr', async () => {
    // --deterministic: the demo prints times, which differ between two host-clock runs.
    const [plain, traced] = await Promise.all([
      xenkit('run', PVH, '--deterministic'), xenkit('run', PVH, '--deterministic', '--trace', 'hypercalls'),
    ]);
    expect(traced.status).toBe(0);
    expect(traced.stdout).toBe(plain.stdout);
    const lines = traced.stderr.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(5);
    for (const l of lines) {
      expect(l).toMatch(/^\[hcall\] [a-z_0-9 ]+\(.*\) = (-|-?\d+( \([A-Z0-9]+\))?|0x[0-9a-f]+) {2}<- ([A-Za-z_][\w.]*(\+0x[0-9a-f]+)? \()?0x[0-9a-f]{8}\)?$/);
    }
    // Every guest asks for the Xen version first (the banner); its callers are named by the symbol table.
    expect(lines.some((l) => /^\[hcall\] xen_version\(.+\) = \S+ {2}<- [A-Za-z_]\w*\+0x[0-9a-f]+ \(0x[0-9a-f]{8}\)$/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^\[hcall\] sched_op\(.*poweroff.*\) = 0 {2}<- shutdown\+0x[0-9a-f]+ \(0x[0-9a-f]{8}\)$/);
  });
});
