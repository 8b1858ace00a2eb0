/**
 * bin/xenkit.js, the executable: it runs the CommonJS bundle with V8's
 * code cache (dist/.v8-cache/<kind>-<size>-<mtime>.bin), written at the
 * first run of each kind and whenever V8 rejects it, and falls back to the
 * unbundled modules without a bundle. Tried on a copy of bin/ and dist/
 * so the repository's own cache is left alone.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PV_MIN = join(root, 'tests', 'fixtures', 'loader', 'pv-min.elf');
let copy: string;

beforeAll(() => {
  copy = mkdtempSync(join(tmpdir(), 'xenkit-bin-'));
  cpSync(join(root, 'bin'), join(copy, 'bin'), { recursive: true });
  cpSync(join(root, 'dist'), join(copy, 'dist'), { recursive: true, filter: (src) => !src.includes('.v8-cache') && !src.includes(`${join('dist', 'bench')}`) });
  cpSync(join(root, 'package.json'), join(copy, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
});
afterAll(() => { if (copy) rmSync(copy, { recursive: true, force: true }); });

function xenkit(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(copy, 'bin', 'xenkit.js'), ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const cacheDir = (): string => join(copy, 'dist', '.v8-cache');
const caches = (): string[] => (existsSync(cacheDir()) ? readdirSync(cacheDir()).sort() : []);

describe('bin/xenkit.js', () => {
  it('writes a code cache per kind of command, keyed by the bundle, and survives a corrupt one', () => {
    const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
    expect(xenkit('--version').stdout.trim()).toBe(version);
    expect(caches()).toHaveLength(1);
    expect(caches()[0]).toMatch(/^cli-\d+-\d+\.bin$/);
    const r = xenkit('run', PV_MIN);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('hello from pv-min');
    expect(caches().map((f) => f.split('-')[0])).toEqual(['cli', 'run']);
    // Used from now on: the same output.
    expect(xenkit('run', PV_MIN).stdout).toBe(r.stdout);

    // Garbage in the cache: V8 rejects it, the run is unaffected, the cache is rewritten.
    const runCache = join(cacheDir(), caches()[1]!);
    writeFileSync(runCache, Buffer.alloc(4096, 0x5a));
    expect(xenkit('run', PV_MIN).stdout).toBe(r.stdout);
    expect(readFileSync(runCache).equals(Buffer.alloc(4096, 0x5a))).toBe(false);

    // A rebuilt bundle (another mtime) never meets the old cache: a new file replaces it.
    const bundle = join(copy, 'dist', 'xenkit.cjs');
    const later = new Date(Date.now() + 60_000);
    utimesSync(bundle, later, later);
    expect(xenkit('run', PV_MIN).stdout).toBe(r.stdout);
    const after = caches();
    expect(after).toHaveLength(2);
    expect(after[1]).toMatch(/^run-\d+-\d+\.bin$/);
    expect(join(cacheDir(), after[1]!)).not.toBe(runCache);
  });

  it('runs the unbundled modules when there is no bundle', () => {
    rmSync(join(copy, 'dist', 'xenkit.cjs'));
    const r = xenkit('run', PV_MIN);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('hello from pv-min');
  });
});
