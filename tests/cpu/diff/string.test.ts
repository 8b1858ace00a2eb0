/**
 * String family against the host CPU: MOVS, CMPS, STOS, LODS, SCAS in byte,
 * word and dword forms, with no prefix, REP/REPE (F3) and REPNE (F2), DF
 * clear and set, counts 0/1/2/odd/large (large forward runs exercise the
 * page-run fast paths), overlapping forward and backward copies, segment
 * overrides on the source, prefix-order variants, a 16-bit address size
 * where it touches no memory (CX = 0 with ECX's upper half set), and code
 * that a REP STOS/MOVS overwrites just ahead of itself.
 *
 * 16-bit-address forms that touch memory cannot run natively (offsets below
 * 64 KiB are unmapped in a Linux process); tests/cpu/string-faults.test.ts
 * covers them in the emulator.
 */
import { describe, expect, it } from 'vitest';
import { buildAndRunNative, diffSuite, rng, SCRATCH, SCRATCH_SIZE, type DiffCase } from './harness.js';

const DF = 0x400;
const OPS = { movs: 0xa4, cmps: 0xa6, stos: 0xaa, lods: 0xac, scas: 0xae } as const;
type Op = keyof typeof OPS;
const SIZES = [1, 2, 4] as const;

/** Opcode bytes for op/size with optional prefixes (in the order given). */
function enc(op: Op, n: number, prefixes: number[] = []): string {
  const b = [...prefixes];
  if (n === 2) b.push(0x66);
  b.push(OPS[op] + (n === 1 ? 0 : 1));
  return `  .byte ${b.map((x) => `0x${x.toString(16)}`).join(',')}`;
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

/** Random scratch image. */
function randomImage(r: () => number, alphabet = 256): Uint8Array {
  const m = new Uint8Array(SCRATCH_SIZE);
  for (let k = 0; k < m.length; k++) m[k] = alphabet === 256 ? r() & 0xff : r() % alphabet;
  return m;
}

function flip(m: Uint8Array, off: number, bits: number): void {
  m[off] = m[off]! ^ bits;
}

function putElem(m: Uint8Array, off: number, n: number, v: number): void {
  for (let b = 0; b < n; b++) if (off + b >= 0 && off + b < m.length) m[off + b] = (v >>> (8 * b)) & 0xff;
}

/** Start offsets so that `count` elements of size n in direction df stay in [lo, hi). */
function startFor(r: () => number, count: number, n: number, df: boolean, lo: number, hi: number): number {
  const span = Math.max(count, 1) * n;
  const room = hi - lo - span;
  const base = lo + (room > 0 ? r() % (room + 1) : 0);
  return df ? base + span - n : base;
}

function cases(): DiffCase[] {
  const out: DiffCase[] = [];
  const r = rng(0x5751);

  // --- systematic: every op, size, prefix, DF, count -------------------------
  const COUNTS = [0, 1, 2, 3, 17, 40];
  for (const op of Object.keys(OPS) as Op[]) {
    for (const n of SIZES) {
      for (const rep of [0, 0xf3, 0xf2]) {
        for (const df of [false, true]) {
          for (const cnt of COUNTS) {
            const elems = rep === 0 ? 1 : cnt;
            const img = randomImage(r, op === 'cmps' || op === 'scas' ? 3 : 256);
            // Source in the low half, destination in the high half (no overlap).
            const s = startFor(r, elems, n, df, 0, 240);
            const d = startFor(r, elems, n, df, 256, 496);
            const eax = op === 'scas' ? (r() % 3) * (n === 1 ? 1 : n === 2 ? 0x0101 : 0x01010101) : r();
            if (op === 'cmps' && rep === 0xf3) {
              // Mostly equal streams so REPE runs for a while; one difference late.
              copyRegion(img, s, d, elems, n, df);
              if (elems > 2) flip(img, d + (df ? -1 : 1) * n * (elems - 2), 1);
            }
            if (op === 'scas' && rep === 0xf3) {
              for (let k = 0; k < elems; k++) putElem(img, d + (df ? -k : k) * n, n, k === elems - 3 ? eax ^ 0x100 : eax);
            }
            out.push({
              name: `${op}${n} rep=${rep.toString(16)} df=${df ? 1 : 0} cnt=${cnt}`,
              code: enc(op, n, rep ? [rep] : []),
              regs: { esi: SCRATCH + s, edi: SCRATCH + d, ecx: rep ? cnt : 0x55, eax },
              eflags: (df ? DF : 0) | (r() & 0x8d5),
              mem: img,
            });
          }
        }
      }
    }
  }

  // --- large forward runs (fast paths), whole scratch ------------------------
  for (const n of SIZES) {
    for (const off of [0, 1, 2, 3]) {
      const cnt = Math.floor((240 - off) / n);
      const img = randomImage(r);
      out.push({ name: `rep movs${n} big off=${off}`, code: enc('movs', n, [0xf3]), regs: { esi: SCRATCH + off, edi: SCRATCH + 256 + off, ecx: cnt }, mem: img });
      out.push({ name: `rep movs${n} big dst-first off=${off}`, code: enc('movs', n, [0xf3]), regs: { esi: SCRATCH + 256 + off, edi: SCRATCH + off, ecx: cnt }, mem: img });
      for (const v of [0, 0xffffffff, 0x41414141, 0x12345678, 0x80, 0x1234]) {
        out.push({ name: `rep stos${n} ${hex(v)} off=${off}`, code: enc('stos', n, [0xf3]), regs: { edi: SCRATCH + 8 + off, ecx: Math.floor(400 / n), eax: v }, mem: img });
      }
      // REPE CMPS over equal buffers with one difference at various points.
      for (const at of [0, 1, 50, cnt - 1, -1]) {
        const m = randomImage(r);
        m.copyWithin(256, 0, 256);
        if (at >= 0) flip(m, 256 + off + at * n + (at % n), 0x80);
        out.push({ name: `repe cmps${n} big diff@${at} off=${off}`, code: enc('cmps', n, [0xf3]), regs: { esi: SCRATCH + off, edi: SCRATCH + 256 + off, ecx: cnt }, eflags: r() & 0x8d5, mem: m });
        out.push({ name: `repne cmps${n} big same@${at} off=${off}`, code: enc('cmps', n, [0xf2]), regs: { esi: SCRATCH + off, edi: SCRATCH + 256 + off, ecx: cnt }, mem: invertExcept(m, off, n, at) });
      }
      // SCAS: a needle at various positions (REPNE) / a mismatch (REPE).
      for (const at of [0, 3, 90, -1]) {
        const m = new Uint8Array(SCRATCH_SIZE).fill(0x11);
        const needle = n === 1 ? 0x5a : n === 2 ? 0x5a11 : 0x5a111111;
        if (at >= 0) putElem(m, 8 + off + at * n, n, needle);
        const filler = n === 1 ? 0x11 : n === 2 ? 0x1111 : 0x11111111;
        out.push({ name: `repne scas${n} needle@${at} off=${off}`, code: enc('scas', n, [0xf2]), regs: { edi: SCRATCH + 8 + off, ecx: Math.floor(400 / n), eax: needle }, mem: m });
        out.push({ name: `repe scas${n} miss@${at} off=${off}`, code: enc('scas', n, [0xf3]), regs: { edi: SCRATCH + 8 + off, ecx: Math.floor(400 / n), eax: filler }, mem: m });
      }
    }
  }

  // --- overlapping copies -----------------------------------------------------
  for (const n of SIZES) {
    for (const delta of [1, 2, 3, 4, 5, 6, 8, 12, 63, -1, -2, -4, -5, -9]) {
      for (const df of [false, true]) {
        const cnt = 40;
        const img = randomImage(r);
        const s = df ? 300 : 100;
        out.push({
          name: `rep movs${n} overlap delta=${delta} df=${df ? 1 : 0}`,
          code: enc('movs', n, [0xf3]),
          regs: { esi: SCRATCH + s, edi: SCRATCH + s + delta, ecx: cnt },
          eflags: df ? DF : 0,
          mem: img,
        });
      }
    }
  }

  // --- segment overrides and prefix orders ------------------------------------
  for (const seg of [0x26, 0x2e, 0x36, 0x3e]) {
    for (const op of ['movs', 'cmps', 'lods', 'stos', 'scas'] as Op[]) {
      for (const n of SIZES) {
        const img = randomImage(r, 2);
        for (const order of [0, 1]) {
          const prefixes = order === 0 ? [seg, 0xf3] : [0xf3, seg];
          out.push({
            name: `${op}${n} seg=${seg.toString(16)} order=${order}`,
            code: enc(op, n, prefixes),
            regs: { esi: SCRATCH + 16, edi: SCRATCH + 272, ecx: 9, eax: 1 },
            eflags: r() & 0x8d5,
            mem: img,
          });
        }
        out.push({
          name: `${op}${n} seg=${seg.toString(16)} single`,
          code: enc(op, n, [seg]),
          regs: { esi: SCRATCH + 16, edi: SCRATCH + 272, ecx: 9, eax: r() },
          mem: img,
        });
      }
    }
  }
  // Both repeat prefixes: the last one decides (checked against the host).
  for (const op of ['cmps', 'scas', 'movs'] as Op[]) {
    for (const prefixes of [[0xf3, 0xf2], [0xf2, 0xf3]]) {
      const img = randomImage(r, 2);
      out.push({
        name: `${op} prefixes ${prefixes.map((x) => x.toString(16)).join(' ')}`,
        code: enc(op, 1, prefixes),
        regs: { esi: SCRATCH + 16, edi: SCRATCH + 272, ecx: 30, eax: 1 },
        mem: img,
      });
    }
  }

  // --- 16-bit address size without memory traffic ------------------------------
  for (const op of Object.keys(OPS) as Op[]) {
    for (const rep of [0xf3, 0xf2]) {
      out.push({
        name: `a16 ${op} cx=0 ecx=0x10000 rep=${rep.toString(16)}`,
        code: enc(op, 4, [0x67, rep]),
        regs: { esi: SCRATCH, edi: SCRATCH + 256, ecx: 0x10000, eax: 7 },
        eflags: 0x8d5,
        mem: randomImage(r),
      });
    }
  }

  // --- REP LODS / repeated STOS of the accumulator ------------------------------
  for (const n of SIZES) {
    out.push({ name: `rep lods${n} 5`, code: enc('lods', n, [0xf3]), regs: { esi: SCRATCH + 20, ecx: 5, eax: 0xdeadbeef }, mem: randomImage(r) });
    out.push({ name: `rep lods${n} 5 df`, code: enc('lods', n, [0xf2]), regs: { esi: SCRATCH + 200, ecx: 5, eax: 0xdeadbeef }, eflags: DF, mem: randomImage(r) });
  }

  // --- self-modifying code ---------------------------------------------------------
  out.push({
    name: 'rep stosb over the next instruction',
    code: `  leal 1f, %edi
  movl $5, %ecx
  movb $0x90, %al
  rep stosb
1:
  movl $0x11111111, %ebx
  movl $0x22222222, %edx`,
  });
  out.push({
    name: 'rep movsl copies new code ahead',
    code: `  leal 2f, %esi
  leal 1f, %edi
  movl $2, %ecx
  rep movsl
1:
  movl $1, %eax
  nop
  nop
  nop
  jmp 3f
2:
  movl $2, %eax
  nop
  nop
  nop
3:`,
  });
  out.push({
    name: 'movsb (no rep) patches an immediate ahead',
    code: `  leal 2f, %esi
  leal 1f+1, %edi
  movsb
1:
  movl $0x11111111, %ebx
  jmp 3f
2:
  .byte 0x77
3:`,
  });
  out.push({
    name: 'rep stosl over code, two runs in one block',
    code: `  leal 1f, %edi
  movl $2, %ecx
  movl $0x90909090, %eax
  rep stosl
1:
  movl $0x11111111, %ebx
  nop
  nop
  nop
  movl $0x33333333, %edx`,
  });

  // --- random ----------------------------------------------------------------------
  const ops = Object.keys(OPS) as Op[];
  for (let k = 0; k < 1500; k++) {
    const op = ops[r() % ops.length]!;
    const n = SIZES[r() % 3]!;
    const rep = [0, 0xf3, 0xf2][r() % 3]!;
    const df = (r() & 1) === 1;
    const cnt = r() % 4 === 0 ? r() % 4 : r() % Math.floor(200 / n);
    const elems = rep === 0 ? 1 : cnt;
    const overlap = op === 'movs' && r() % 3 === 0;
    const s = startFor(r, elems, n, df, 0, overlap ? 480 : 240);
    const span = Math.max(elems, 1) * n;
    const dLo = df ? span - n : 0, dHi = df ? SCRATCH_SIZE - n : SCRATCH_SIZE - span;
    const d = overlap ? Math.min(Math.max(s + (r() % 17) - 8, dLo), dHi) : startFor(r, elems, n, df, 256, 496);
    const img = randomImage(r, op === 'cmps' || op === 'scas' ? 2 : 256);
    if (op === 'cmps' && rep !== 0 && r() % 2 === 0) {
      copyRegion(img, s, d, elems, n, df);
      if (elems > 0) flip(img, d + (df ? n - 1 - (r() % span) : r() % span), 1);
    }
    const eax = op === 'scas' ? [0, 0x01010101, 0x00010001, 0x01000100][r() % 4]! : r();
    out.push({
      name: `rnd ${k} ${op}${n} rep=${rep.toString(16)} df=${df ? 1 : 0} cnt=${cnt} s=${s} d=${d}`,
      code: enc(op, n, rep ? [rep] : []),
      regs: { esi: SCRATCH + s, edi: SCRATCH + d, ecx: rep ? cnt : r(), eax, ebx: r(), edx: r() },
      eflags: (df ? DF : 0) | (r() & 0x8d5),
      mem: img,
    });
  }
  return out;
}

/** Copy the `elems` elements a string op would visit from start s to start d. */
function copyRegion(m: Uint8Array, s: number, d: number, elems: number, n: number, df: boolean): void {
  const span = elems * n;
  const sLo = df ? s + n - span : s, dLo = df ? d + n - span : d;
  m.copyWithin(dLo, sLo, sLo + span);
}

/** A copy of m whose high half differs from the low half everywhere except element `at`. */
function invertExcept(m: Uint8Array, off: number, n: number, at: number): Uint8Array {
  const x = new Uint8Array(m);
  for (let k = 0; k < 256; k++) x[256 + k] = x[k]! ^ 0xff;
  if (at >= 0) for (let b = 0; b < n; b++) x[256 + off + at * n + b] = x[off + at * n + b]!;
  return x;
}

describe('string family vs host CPU', () => {
  const all = cases();
  it(`matches the host on ${all.length} cases (flat)`, () => {
    expect(diffSuite('string', all).slice(0, 20)).toEqual([]);
  });
  it('matches the host with PAE paging on', () => {
    expect(diffSuite('string', all, { paging: true }).slice(0, 20)).toEqual([]);
  });
  it('every case runs to its final hlt natively (no case passes by crashing on both sides)', () => {
    const b = buildAndRunNative('string', all);
    const crashed = all.filter((_c, k) => !(b.native[k]!.vector === 13 && b.native[k]!.eip === b.addrs[k]!.end));
    expect(crashed.map((c) => c.name).slice(0, 20)).toEqual([]);
  });
});
