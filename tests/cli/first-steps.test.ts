/**
 * The newcomer's commands: `xenkit demo` (what `npm start` runs) with its
 * prebuilt fallback, `xenkit new` and `xenkit doctor`.
 *
 * - assets/demo/kernel.elf must be built from the current template: the
 *   hash in assets/demo/SOURCES must match the template's sources (run
 *   `npm run demo:update` after changing the template), and the prebuilt
 *   kernel must boot to its banner and power off;
 * - `xenkit new DIR` copies the template with a .gdbinit, refuses a
 *   non-empty directory, and the project builds and runs as printed;
 * - `xenkit doctor` prints install commands for what is missing and exits
 *   non-zero only when something required is missing.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { templateSourceHash } from '../../src/cli/paths.js';
import { formatChecks, runChecks } from '../../src/cli/doctor.js';
import { inspectKernel } from '../../src/loader/kernel.js';
import { Machine } from '../../src/vmm/machine.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(root, 'bin', 'xenkit.js');
const work = mkdtempSync(join(tmpdir(), 'xenkit-first-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function xenkit(cwd: string, ...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      done({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

describe('the prebuilt demo kernel', () => {
  it('is built from the current template sources (else: npm run demo:update)', () => {
    const recorded = readFileSync(join(root, 'assets', 'demo', 'SOURCES'), 'utf8').split('\n').find((l) => /^[0-9a-f]{64}$/.test(l));
    expect(recorded, 'assets/demo/SOURCES has no hash').toBeDefined();
    expect(templateSourceHash(join(root, 'templates', 'minios')), 'the template changed: run `npm run demo:update`').toBe(recorded);
  });

  it('boots to its banner and powers off', () => {
    const bytes = new Uint8Array(readFileSync(join(root, 'assets', 'demo', 'kernel.elf')));
    let out = '';
    const m = new Machine({ kernel: inspectKernel(bytes, 'kernel.elf'), console: { write: (b) => { out += Buffer.from(b).toString('latin1'); } } });
    const e = m.runToEnd(50_000_000);
    expect(e).toEqual({ kind: 'shutdown', reason: 0 });
    expect(out).toMatch(/xenkit-minios .*PV32 \(PAE\) kernel/);
    expect(out).toContain('powering off');
  });

  it('`xenkit demo` boots a demo kernel and exits 0', async () => {
    const r = await xenkit(root, 'demo');
    expect(r.stderr).toMatch(/booting the demo kernel/);
    expect(r.stdout).toContain('powering off');
    expect(r.status).toBe(0);
  });
});

describe('xenkit new', () => {
  it('scaffolds a project that builds and runs as printed', async () => {
    const r = await xenkit(work, 'new', 'mykernel');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('cd mykernel');
    expect(r.stdout).toContain('npx xenkit run build/kernel.elf');
    const dir = join(work, 'mykernel');
    for (const f of ['Makefile', 'README.md', '.gdbinit', '.gitignore', 'app/demo.c', 'arch/x86/head-pv.S']) expect(existsSync(join(dir, f)), f).toBe(true);
    expect(existsSync(join(dir, 'build'))).toBe(false);
    expect(readFileSync(join(dir, '.gdbinit'), 'utf8')).toMatch(/target remote 127\.0\.0\.1:1234/);
    execFileSync('make', ['-s', '-C', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const run = await xenkit(dir, 'run', 'build/kernel.elf');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('powering off');
  });

  it('refuses a non-empty directory with one line and status 2', async () => {
    const dir = join(work, 'busy');
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'keep.txt'), 'mine');
    const r = await xenkit(work, 'new', 'busy');
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/busy is not empty/);
    expect(readFileSync(join(dir, 'keep.txt'), 'utf8')).toBe('mine');
  });
});

describe('xenkit doctor', () => {
  it('finds the toolchain the tests themselves use', () => {
    const checks = runChecks();
    for (const name of ['Node.js', 'C compiler', 'linker', 'make']) {
      const c = checks.find((x) => x.name.startsWith(name));
      expect(c?.ok, name).toBe(true);
    }
    expect(formatChecks(checks).ok).toBe(true);
  });

  it('prints install commands for each distribution and fails on a missing requirement', () => {
    const { text, ok } = formatChecks(runChecks('18.19.0'));
    expect(ok).toBe(false);
    expect(text).toMatch(/MISSING\s+Node\.js >= 20: v18\.19\.0/);
    expect(text).toContain('Debian/Ubuntu:');
    expect(text).toContain('Fedora:');
    expect(text).toContain('macOS:');
  });

  it('exits 0 here', async () => {
    const r = await xenkit(work, 'doctor');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Everything xenkit needs is here.');
  });
});
