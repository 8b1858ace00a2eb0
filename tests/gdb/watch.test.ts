/**
 * Watch mode (`xenkit run --watch`), in a project made by `xenkit new`
 * (the template, its Makefile and its .gdbinit) whose app is the gdb test
 * guest: edit a file, the kernel is rebuilt with `make` and the guest
 * reboots into it — with the real gdb attached through the project's
 * .gdbinit, which reads the new symbols by itself, so a breakpoint hits
 * in the new kernel; a failed build prints its errors and keeps the old
 * guest; a missing compiler points to `xenkit doctor`; a kernel rebuilt by
 * something else is picked up; an unchanged one is not rebooted.
 * Plus the pure helpers: globs, the project directory, missing tools.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaffold } from '../../src/cli/new.js';
import { findProjectDir, globBase, globToRegExp, missingTool } from '../../src/cli/watch.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { GUESTS_DIR, buildGuest } from '../e2e/guests.js';
import { BAD, HAVE_GDB, runGdb, startXenkit, statusWithin, until } from './harness.js';

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

/** A `xenkit new` project whose app is tests/guests/gdb.c, built. */
function project(name: string): string {
  const dir = join(work, name);
  scaffold(dir, work);
  copyFileSync(join(GUESTS_DIR, 'gdb.c'), join(dir, 'app', 'demo.c'));
  copyFileSync(join(GUESTS_DIR, 'guest.h'), join(dir, 'app', 'guest.h'));
  execFileSync('make', ['-s', '-j2', 'pv'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  return dir;
}

function edit(file: string, from: string | RegExp, to: string): void {
  const s = readFileSync(file, 'utf8');
  const t = s.replace(from, to);
  if (t === s) throw new Error(`edit of ${file} changed nothing`);
  writeFileSync(file, t);
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'xenkit-watch-'));
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('watch mode helpers', () => {
  it('globs: * and ? within a segment, ** across, classes and alternatives', () => {
    const re = (g: string): RegExp => globToRegExp(g);
    expect(re('/p/src/*.c').test('/p/src/main.c')).toBe(true);
    expect(re('/p/src/*.c').test('/p/src/sub/main.c')).toBe(false);
    expect(re('/p/**/*.c').test('/p/main.c')).toBe(true);
    expect(re('/p/**/*.c').test('/p/a/b/main.c')).toBe(true);
    expect(re('/p/**/*.c').test('/p/a/b/main.h')).toBe(false);
    expect(re('/p/*.{c,h,S}').test('/p/x.S')).toBe(true);
    expect(re('/p/*.{c,h,S}').test('/p/x.o')).toBe(false);
    expect(re('/p/v?.[ch]').test('/p/v1.h')).toBe(true);
    expect(re('/p/v?.[!ch]').test('/p/v1.h')).toBe(false);
    expect(re('/p/a.b').test('/p/axb')).toBe(false);
    expect(re('/p/app/**').test('/p/app/x/y.c')).toBe(true);
    expect(globBase('kernel/**/*.c')).toBe('kernel');
    expect(globBase('/abs/dir/*.c')).toBe('/abs/dir');
    expect(globBase('*.c')).toBe('.');
  });

  it('the project directory is the nearest one with a Makefile at or above the kernel', () => {
    const dir = join(work, 'proj');
    mkdirSync(join(dir, 'build', 'x'), { recursive: true });
    writeFileSync(join(dir, 'Makefile'), 'all:\n');
    expect(findProjectDir(join(dir, 'build', 'x', 'kernel.elf'))).toBe(dir);
    const bare = join(work, 'bare');
    mkdirSync(bare);
    expect(findProjectDir(join(bare, 'k.elf'))).toBe(bare);
  });

  it('recognises a missing compiler in build output', () => {
    expect(missingTool(2, 'make: gcc: No such file or directory\nmake: *** [Makefile:83: build/kernel/main.o] Error 127\n')).toBe('gcc');
    expect(missingTool(127, '/bin/sh: 1: i686-elf-gcc: not found\n')).toBe('i686-elf-gcc');
    expect(missingTool(2, 'gcc: error: unrecognized command-line option \'-m32\'\n')).toBe('a 32-bit toolchain');
    expect(missingTool(127, 'sh: 1: mybuild: not found\n')).toBe('mybuild');
    expect(missingTool(127, 'bash: line 1: cc65: command not found\n')).toBe('cc65');
    expect(missingTool(127, '')).toBe('the build command');
    expect(missingTool(1, 'gcc: fatal error: app/x.c: No such file or directory\n')).toBeNull();
    expect(missingTool(2, 'app/demo.c:3:1: error: expected \';\' before \'}\' token\n')).toBeNull();
  });
});

describe.runIf(HAVE_MAKE && HAVE_GDB)('watch mode with gdb attached', () => {
  it('edit, rebuild, reboot: gdb stays attached, reads the new symbols, and a breakpoint hits in the new kernel', async () => {
    const dir = project('gdbwatch');
    const kernel = join(dir, 'build', 'kernel.elf');
    const x = await startXenkit('build/kernel.elf', { cmdline: 'spin', gdbWait: true, watch: true, deterministic: false }, { cwd: dir, debounceMs: 30 });
    // The project's own .gdbinit, on our port.
    edit(join(dir, '.gdbinit'), /127\.0\.0\.1:1234/, `127.0.0.1:${x.port}`);
    const app = join(dir, 'app', 'demo.c');
    const r = await runGdb(x.port, [
      'break leaf', 'continue', 'print version', 'print &spin', 'delete',
      // The edit moves every function after middle (a longer body) and bumps the version.
      `shell sed -i -e 's/GDB_GUEST_VERSION 1/GDB_GUEST_VERSION 2/' -e 's/int r = leaf(x + 1);/int r = leaf(x + 1) + magic * 3;/' ${app}`,
      'continue',
      'print &spin', 'break leaf', 'continue', 'print version', 'bt 2', 'finish',
      'monitor reset', 'info breakpoints', 'detach',
    ], { connect: false, args: ['-x', '.gdbinit'], cwd: dir, timeoutMs: 40_000 });
    const out = r.text;
    expect(out, out).not.toMatch(BAD);
    expect(out).toMatch(/Breakpoint 1, leaf \(x=x@entry=1\) at app\/demo\.c:\d+/);
    expect(out).toContain('$1 = 1');
    const spin1 = /\$2 = \(void \(\*\)\(void\)\) (0x[0-9a-f]+) <spin>/.exec(out)?.[1];
    // The reboot is a stop gdb hears while it waits for `continue`, with xenkit's message.
    expect(out).toMatch(/xenkit: rebooted into the rebuilt build\/kernel\.elf\./);
    expect(out).toContain(`xenkit: ${kernel} changed: reading its symbols again`);
    expect(out).toMatch(/Program received signal SIGTRAP, Trace\/breakpoint trap\.\n_start \(\) at arch\/x86\/head-pv\.S:\d+/);
    // The new symbols: spin moved.
    const spin2 = /\$3 = \(void \(\*\)\(void\)\) (0x[0-9a-f]+) <spin>/.exec(out)?.[1];
    expect(spin1).toBeDefined();
    expect(spin2).toBeDefined();
    expect(spin2).not.toBe(spin1);
    expect(Number(spin2)).toBe(x.target.machine.kernel.symbols.address('spin'));
    // A breakpoint in the new kernel hits, and the new code runs: middle adds magic*3.
    expect(out).toMatch(/Breakpoint 2, leaf \(x=x@entry=1\) at app\/demo\.c:\d+/);
    expect(out).toContain('$4 = 2');
    expect(out).toMatch(/#1 +0x[0-9a-f]+ in middle \(x=x@entry=0\) at app\/demo\.c:\d+/);
    expect(out).toMatch(/Value returned is \$5 = 44/);
    // monitor reset: the same kernel again, stopped at its first instruction.
    expect(out).toMatch(/xenkit: reset: rebooted build\/kernel\.elf\nThe guest is stopped at its first instruction/);
    expect(out).toContain('[Inferior 1 (Remote target) detached]');
    // xenkit's side of the story.
    await x.waitErr((e) => e.includes('gdb: disconnected'));
    const err = x.err();
    expect(err).toMatch(/xenkit: watching \.\/ and build\/kernel\.elf; on a change: make \(in \.\)/);
    expect(err).toMatch(/xenkit: app\/demo\.c changed; rebuilding \(make\)…\nxenkit: build ok \(\d+\.\d s\)\nxenkit: rebooted into build\/kernel\.elf; gdb was told/);
    // Detached: the (reset) guest runs on; only Ctrl-C ends watch mode.
    await until(() => x.out().includes('gdb guest v2') && x.target.state === 'running');
    expect(x.out()).toContain('gdb guest v1:');
    x.interrupt();
    expect(await statusWithin(x)).toBe(EXIT.INTERRUPTED);
  }, 60_000);
});

describe.runIf(HAVE_MAKE)('watch mode without gdb', () => {
  it('a failed build keeps the old guest; the fixed one reboots it; an ended guest waits for the next build', async () => {
    const dir = project('plain');
    const x = await startXenkit('build/kernel.elf', { gdb: undefined, watch: true, deterministic: false }, { cwd: dir, debounceMs: 30 });
    await x.waitErr((e) => e.includes('waiting for a change'));
    expect(x.out()).toContain('gdb guest v1: sum=159');
    const first = x.target.machine;
    const app = join(dir, 'app', 'demo.c');
    edit(app, 'int magic = 42;', 'int magic = 42 /* oops */');
    await x.waitErr((e) => e.includes('build failed'));
    expect(x.err()).toMatch(/error: expected [^\n]*\n/);
    expect(x.err()).toMatch(/xenkit: build failed \(make exited with status 2\); the guest keeps running the old kernel\n/);
    expect(x.err()).not.toContain('xenkit doctor');
    expect(x.target.machine).toBe(first);
    // Saved the way editors and `sed -i` save: a temporary file renamed over the original.
    const tmp = join(dir, 'app', 'sedTMP123');
    writeFileSync(tmp, readFileSync(app, 'utf8').replace('int magic = 42 /* oops */', 'int magic = 7;'));
    renameSync(tmp, app);
    await x.waitErr((e) => e.includes('rebooted into build/kernel.elf'));
    // Only the real file is named, and the vanished temporary file starts no second build.
    expect(x.err()).toMatch(/xenkit: app\/demo\.c changed; rebuilding \(make\)…\nxenkit: build ok \(\d+\.\d s\)\nxenkit: rebooted into build\/kernel\.elf/);
    expect(x.err()).not.toContain('sedTMP123');
    await until(() => x.out().includes('gdb guest v1: sum=54 magic=7'));
    expect(x.target.machine).not.toBe(first);
    // A change that leaves the kernel as it is does not reboot.
    writeFileSync(join(dir, 'README.md'), 'edited\n');
    await x.waitErr((e) => e.includes('build/kernel.elf is unchanged, the guest keeps running'));
    x.interrupt();
    expect(await statusWithin(x)).toBe(EXIT.INTERRUPTED);
    expect(x.err()).toMatch(/xenkit: interrupted \(SIGINT\) after \d+ guest instructions/);
  }, 60_000);

  it('points to `xenkit doctor` when the compiler is missing; with --build true a kernel built elsewhere reboots the guest', async () => {
    const dir = project('elsewhere');
    const kernels = buildGuest('gdb.c');
    const x = await startXenkit('build/kernel.elf', {
      gdb: undefined, watch: true, deterministic: false, cmdline: 'spin', build: 'make -s CC=xenkit-no-such-gcc', watchPath: ['app/*.c'],
    }, { cwd: dir, debounceMs: 30 });
    await until(() => x.out().includes('spinning'));
    expect(x.err()).toMatch(/xenkit: watching app\/\*\.c and build\/kernel\.elf; on a change: make -s CC=xenkit-no-such-gcc \(in \.\)/);
    // Not matched by the glob: no build.
    writeFileSync(join(dir, 'README.md'), 'edited\n');
    edit(join(dir, 'app', 'demo.c'), 'int magic = 42;', 'int magic = 43;');
    await x.waitErr((e) => e.includes('build failed'));
    expect(x.err()).not.toContain('README.md changed');
    expect(x.err()).toContain('xenkit: xenkit-no-such-gcc seems to be missing: `xenkit doctor` checks the toolchain and says how to install it');
    x.interrupt();
    expect(await statusWithin(x)).toBe(EXIT.INTERRUPTED);

    // A kernel written by someone else (the PVH build of the same guest): the (no-op) build runs, then the reboot.
    const y = await startXenkit('build/kernel.elf', { gdb: undefined, watch: true, deterministic: false, cmdline: 'spin', build: 'true' }, { cwd: dir, debounceMs: 30 });
    await until(() => y.out().includes('spinning'));
    copyFileSync(kernels.pvh, join(dir, 'build', 'kernel.elf.new'));
    execFileSync('mv', [join(dir, 'build', 'kernel.elf.new'), join(dir, 'build', 'kernel.elf')]);
    await y.waitErr((e) => e.includes('rebooted into build/kernel.elf'));
    expect(y.err()).toMatch(/xenkit: build\/kernel\.elf changed; rebuilding \(true\)…\nxenkit: build ok/);
    await until(() => y.out().includes('PVH32 kernel'));
    expect(y.target.machine.kernel.type).toBe('pvh');
    y.interrupt();
    expect(await statusWithin(y)).toBe(EXIT.INTERRUPTED);
  }, 60_000);
});
