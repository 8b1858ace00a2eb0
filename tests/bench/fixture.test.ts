/**
 * The CPU benchmark's guest fixture (bench/guest/bench.elf).
 *
 * - The committed ELF must be what its sources build to: the test rebuilds
 *   it with its Makefile in a temporary folder and byte-compares. GCC and
 *   ld output is byte-reproducible for the same compiler (no build id, no
 *   debug info, no paths: sources are compiled from their own folder), so
 *   any difference means the fixture is stale — unless this host's GCC is
 *   not the one that built the fixture (its version is kept in the ELF's
 *   .comment section), in which case the comparison proves nothing and the
 *   test is skipped with a note.
 * - The guest may use only what an i686 without x87/SSE executes.
 * - End to end: a one-iteration build of the same workload, run on the
 *   emulated CPU with paging on, must report the same checksum as the
 *   native build (the full-size run is `npm run bench`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { nativeChecksum, runGuest, hex32 } from '../../bench/cpu.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const guest = join(root, 'bench', 'guest');
const work = mkdtempSync(join(tmpdir(), 'xenkit-bench-fixture-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function make(out: string, ...args: string[]): void {
  execFileSync('make', ['-s', '-C', guest, `O=${out}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Section name → contents (SHT_NOBITS sections as their size). */
function sections(elf: Buffer): Map<string, Buffer> {
  const shoff = elf.readUInt32LE(32), shentsize = elf.readUInt16LE(46), shnum = elf.readUInt16LE(48), shstrndx = elf.readUInt16LE(50);
  const sh = (k: number) => {
    const p = shoff + k * shentsize;
    return { name: elf.readUInt32LE(p), type: elf.readUInt32LE(p + 4), off: elf.readUInt32LE(p + 16), size: elf.readUInt32LE(p + 20) };
  };
  const strs = sh(shstrndx);
  const out = new Map<string, Buffer>();
  for (let k = 1; k < shnum; k++) {
    const s = sh(k);
    const start = strs.off + s.name;
    const name = elf.toString('latin1', start, elf.indexOf(0, start));
    out.set(name, s.type === 8 ? Buffer.from(`nobits:${s.size}`) : elf.subarray(s.off, s.off + s.size));
  }
  return out;
}

function compilerOf(elf: Buffer): string {
  return (sections(elf).get('.comment') ?? Buffer.alloc(0)).toString('latin1').replace(/\0+/g, ' ').trim();
}

describe('CPU benchmark guest', () => {
  it('bench/guest/bench.elf is up to date with its sources', (ctx) => {
    const out = join(work, 'rebuild');
    make(out);
    const fresh = readFileSync(join(out, 'bench.elf'));
    const committed = readFileSync(join(guest, 'bench.elf'));
    if (fresh.equals(committed)) return;
    const was = compilerOf(committed), now = compilerOf(fresh);
    if (was !== now) ctx.skip(`bench.elf was built by "${was}", this host has "${now}": a rebuild cannot tell whether it is stale`);
    const a = sections(committed), b = sections(fresh);
    const differing = [...new Set([...a.keys(), ...b.keys()])].filter((n) => !(a.get(n)?.equals(b.get(n) ?? Buffer.alloc(0)) ?? false));
    expect.fail(`bench/guest/bench.elf is stale (sections differing from a rebuild: ${differing.join(', ') || 'headers only'}); ` +
      'run `make -C bench/guest` and commit bench.elf');
  });

  it('uses integer i686 instructions only (no x87, MMX or SSE)', () => {
    const dis = execFileSync('objdump', ['-d', '--no-show-raw-insn', join(guest, 'bench.elf')], { encoding: 'utf8' });
    const bad = dis.split('\n').filter((l) => /%(xmm|mm|st)\d?|\t(f[a-z]+|emms|ldmxcsr|stmxcsr|endbr32)\b/.test(l));
    expect(bad).toEqual([]);
  });

  it('runs on the emulated CPU (paging on) to the native checksum (1-iteration build)', () => {
    const defs = '-DBENCH_ITERATIONS=1';
    const out = join(work, 'small');
    make(out, `DEFS=${defs}`);
    const expected = nativeChecksum(root, defs);
    expect(expected.iterations).toBe(1);
    const r = runGuest(new Uint8Array(readFileSync(join(out, 'bench.elf'))), { maxInstructions: 50_000_000 });
    expect(hex32(r.checksum)).toBe(hex32(expected.checksum));
    expect(r.icount).toBeGreaterThan(500_000);
  });
});
