/**
 * Miscellaneous integer instructions: XCHG (86/87, 91-97), NOP/PAUSE (90,
 * F3 90), CMPXCHG (0F B0/B1), CMPXCHG8B (0F C7 /1), XADD (0F C0/C1), LAHF
 * (9F), SAHF (9E), XLAT (D7), CLC/STC/CMC/CLD/STD (F8/F9/F5/FC/FD), the
 * multi-byte and hint NOPs (0F 19-0F 1F, 0F 18 prefetch hints, 0F 0D AMD
 * PREFETCH/PREFETCHW), UD1/UD2 (0F B9, 0F 0B), CPUID (0F A2) and RDTSC
 * (0F 31).
 *
 * Specifications followed (Intel SDM vol. 2, per-instruction pages unless
 * noted):
 *  - XCHG: a memory operand is always locked (no LOCK needed); it is a
 *    read-modify-write, so writability is checked before anything changes.
 *  - CMPXCHG: flags as CMP accumulator, destination. On failure the
 *    accumulator is loaded and the destination is written back with its own
 *    value ("the destination operand is written back if the comparison
 *    fails"), so a read-only destination faults whichever way it compares.
 *  - CMPXCHG8B: memory only (#UD for a register operand); only ZF changes;
 *    the 0x66 prefix has no effect; the same written-back rule applies.
 *  - XADD: TEMP <- SRC + DEST; SRC <- DEST; DEST <- TEMP, flags as ADD.
 *    With the same register as both operands that register ends up holding
 *    the sum (the DEST write comes last).
 *  - LAHF/SAHF: AH <-> SF:ZF:0:AF:0:PF:1:CF; OF is untouched.
 *  - XLAT: AL <- [seg:(E)BX + zero-extended AL], DS unless overridden, BX
 *    with a 16-bit address size.
 *  - NOP Ev (0F 1F) and the reserved-NOP space (vol. 2 appendix A, table
 *    0F 19-0F 1E; group 16 at 0F 18): the ModRM is decoded but the
 *    memory operand is never accessed, so no segment or page check is made.
 *    The PREFETCHh hints (0F 18 /0-3) and the AMD PREFETCH/PREFETCHW group
 *    (0F 0D, AMD APM vol. 3) likewise have no architectural effect. This
 *    host (AMD EPYC) and binutils both treat 0F 18 /4-7 and the register
 *    forms of 0F 18 as NOPs too, and so do we; the register forms of 0F 0D
 *    raise #UD on this host (the APM lists memory operands only), and on
 *    ours (both checked by tests/cpu/diff/misc.test.ts).
 *  - UD2 (0F 0B) and UD1 (0F B9 /r, with ModRM) raise #UD.
 *  - CPUID: see CPUID_LEAVES below for the leaf set we report.
 *  - RDTSC: #GP(0) when CR4.TSD = 1 and CPL > 0 (vol. 3B §17.17.1).
 *
 * Flags: CMPXCHG and XADD leave all six arithmetic flags lazy (a SUB resp.
 * ADD record, flags.ts); CMPXCHG8B, SAHF, CLC/STC/CMC write their flags
 * eagerly and drop exactly those bits from `lfLazy`, leaving the others
 * lazy. No instruction in this family has an undefined flag.
 */
import { CR4_TSD, type Cpu } from '../cpu.js';
import { CpuFault, Vec } from '../fault.js';
import { AF, CF, DF, PF, SF, ZF, getAF, getCF, getPF, getSF, getZF } from '../flags.js';
import { D, type ExecFn, type Insn, type OpDef } from '../insn.js';
import { laW, segR } from '../operands.js';
import type { OpTable } from '../table.js';
import { ALU16, ALU32, ALU8 } from './alu.js';

// --- CPUID -----------------------------------------------------------------------

/** One CPUID leaf of the built-in answer set. */
export interface CpuidLeaf {
  readonly leaf: number;
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
  /** What the leaf says, for documentation. */
  readonly note: string;
}

/** Four ASCII characters packed little-endian, as CPUID returns strings. */
function str4(s: string, at: number): number {
  let v = 0;
  for (let k = 0; k < 4; k++) v |= (s.charCodeAt(at + k) || 0) << (8 * k);
  return v | 0;
}

/** The processor brand string (0x80000002-0x80000004), NUL-padded to 48 bytes. */
export const CPUID_BRAND = 'xenkit virtual i686 CPU';

/** CPUID.01H:EDX feature bits we report (Intel SDM vol. 2 table 3-11). */
export const CPUID_FEATURES_EDX =
  (1 << 2) | // DE: debugging extensions (CR4.DE, I/O breakpoints)
  (1 << 3) | // PSE: 4 MiB pages
  (1 << 4) | // TSC: RDTSC and CR4.TSD
  (1 << 5) | // MSR: RDMSR/WRMSR
  (1 << 6) | // PAE
  (1 << 8) | // CX8: CMPXCHG8B
  (1 << 13) | // PGE: global pages
  (1 << 15); // CMOV
// Deliberately clear: FPU (no x87), VME, MCE, APIC, SEP, MTRR, MCA, PAT,
// PSE36, CLFSH, MMX, FXSR, SSE, SSE2, HTT. CPUID.01H:ECX is 0.

/**
 * The built-in CPUID leaves: a Pentium II-class ("Deschutes": family 6,
 * model 5, stepping 2) GenuineIntel processor with no x87, MMX or SSE, plus
 * the extended leaves a PAE/NX-aware kernel probes. `cpu.host.cpuid` is
 * asked first (the Xen layer answers its 0x40000000 leaves there). Subleaf
 * (ECX) is ignored by every leaf here.
 *
 * Any other leaf — between the highest basic leaf (2) and 0x80000000, or
 * above the highest extended leaf (0x80000008) — returns the data of the
 * highest basic leaf, which is what Intel documents for out-of-range leaves
 * (CPUID, "INPUT EAX = 0"/"Returns ... the highest basic information leaf").
 */
export const CPUID_LEAVES: readonly CpuidLeaf[] = [
  {
    leaf: 0, eax: 2, ebx: str4('GenuineIntel', 0), edx: str4('GenuineIntel', 4), ecx: str4('GenuineIntel', 8),
    note: 'highest basic leaf 2; vendor "GenuineIntel" in EBX, EDX, ECX',
  },
  {
    leaf: 1, eax: 0x00000652, ebx: 0, ecx: 0, edx: CPUID_FEATURES_EDX,
    note: 'family 6 model 5 stepping 2; EBX 0 (no CLFLUSH size, one logical CPU, APIC ID 0); ECX 0; EDX DE PSE TSC MSR PAE CX8 PGE CMOV',
  },
  {
    leaf: 2, eax: 0x03020101, ebx: 0, ecx: 0, edx: 0x0c040843,
    note: 'cache/TLB descriptors of a Pentium II: 01 02 03 ITLB/DTLB, 43 512 KiB L2, 08 16 KiB L1i, 04 DTLB 4M, 0C 16 KiB L1d',
  },
  { leaf: 0x80000000, eax: 0x80000008 | 0, ebx: 0, ecx: 0, edx: 0, note: 'highest extended leaf 0x80000008' },
  { leaf: 0x80000001, eax: 0, ebx: 0, ecx: 0, edx: 1 << 20, note: 'EDX NX (bit 20): execute-disable with PAE' },
  ...[0, 1, 2].map((k) => ({
    leaf: (0x80000002 + k) | 0,
    eax: str4(CPUID_BRAND, 16 * k), ebx: str4(CPUID_BRAND, 16 * k + 4),
    ecx: str4(CPUID_BRAND, 16 * k + 8), edx: str4(CPUID_BRAND, 16 * k + 12),
    note: `brand string bytes ${16 * k}-${16 * k + 15}`,
  })),
  { leaf: 0x80000005 | 0, eax: 0, ebx: 0, ecx: 0, edx: 0, note: 'reserved on Intel: 0' },
  {
    leaf: 0x80000006 | 0, eax: 0, ebx: 0, ecx: (512 << 16) | (4 << 12) | 32, edx: 0,
    note: 'ECX L2: 512 KiB, 4-way (code 4), 32-byte lines',
  },
  { leaf: 0x80000007 | 0, eax: 0, ebx: 0, ecx: 0, edx: 0, note: 'no invariant TSC (the TSC counts instructions)' },
  { leaf: 0x80000008 | 0, eax: 0x2024, ebx: 0, ecx: 0, edx: 0, note: 'EAX: 36 physical, 32 linear address bits' },
];

/** Index of the entry answering `leaf` (unsigned) in CPUID_LEAVES. */
function cpuidIndex(leaf: number): number {
  const L = CPUID_LEAVES;
  for (let k = 0; k < L.length; k++) if (L[k]!.leaf >>> 0 === leaf) return k;
  return 2; // out of range: the highest basic leaf's data
}

/** Scratch for the host's answer: CPUID must not allocate. */
const CPUID_OUT = new Int32Array(4);

/** Execute CPUID for EAX = leaf, ECX = subleaf (both unsigned). */
export function cpuid(c: Cpu, leaf: number, subleaf: number): void {
  const out = CPUID_OUT;
  if (c.host.cpuid(leaf, subleaf, out)) {
    c.r32[0] = out[0]!;
    c.r32[3] = out[1]!;
    c.r32[1] = out[2]!;
    c.r32[2] = out[3]!;
    return;
  }
  const e = CPUID_LEAVES[cpuidIndex(leaf)]!;
  c.r32[0] = e.eax;
  c.r32[3] = e.ebx;
  c.r32[1] = e.ecx;
  c.r32[2] = e.edx;
}

// --- RDTSC -----------------------------------------------------------------------

// The last tscOffset seen, split into unsigned 32-bit halves, so the common
// path (no hook, unchanged offset) does number arithmetic only: comparing
// two bigints allocates nothing, converting one does.
let offKey = 0n, offLo = 0, offHi = 0;
const TWO32 = 4294967296;

/**
 * RDTSC: EDX:EAX <- the time-stamp counter, `cpu.tscHook()` when set, else
 * icount + tscOffset (mod 2^64). `icount` is the number of instructions
 * retired before the current block started; RDTSC ends its block so that
 * successive reads always differ.
 */
export function rdtsc(c: Cpu): void {
  if ((c.cr4 & CR4_TSD) !== 0 && c.cpl > 0) throw new CpuFault(Vec.GP, 0);
  if (c.tscHook !== null) {
    const v = BigInt.asUintN(64, c.tscHook());
    c.r32[0] = Number(v & 0xffffffffn) | 0;
    c.r32[2] = Number(v >> 32n) | 0;
    return;
  }
  if (c.tscOffset !== offKey) {
    const u = BigInt.asUintN(64, c.tscOffset);
    offLo = Number(u & 0xffffffffn);
    offHi = Number(u >> 32n);
    offKey = c.tscOffset;
  }
  const n = c.icount;
  const lo = (n % TWO32) + offLo;
  const hi = Math.floor(n / TWO32) + offHi + (lo >= TWO32 ? 1 : 0);
  c.r32[0] = lo | 0; // ToInt32 reduces mod 2^32
  c.r32[2] = hi | 0;
}

// --- flag helpers ------------------------------------------------------------------

/** Set or clear eager flag bits `bits` and drop them from the lazy set. */
function setFlags(c: Cpu, bits: number, on: number): void {
  c.lfLazy &= ~bits;
  c.flags = (c.flags & ~bits) | (on & bits);
}

// --- exec builders -----------------------------------------------------------------

const cmp8 = ALU8[7]!, cmp16 = ALU16[7]!, cmp32 = ALU32[7]!;
const add8 = ALU8[0]!, add16 = ALU16[0]!, add32 = ALU32[0]!;

const xchg8: ExecFn = (c, i) => {
  const r = c.r8[i.rb]!;
  if (i.mod === 3) { c.r8[i.rb] = c.r8[i.rmb]!; c.r8[i.rmb] = r; return; }
  const la = laW(c, i, 1);
  c.probeW(la, 1);
  const m = c.rd8(la);
  c.wr8(la, r);
  c.r8[i.rb] = m;
};
const xchg16: ExecFn = (c, i) => {
  const r = c.r16[i.reg << 1]!;
  if (i.mod === 3) { c.r16[i.reg << 1] = c.r16[i.rm << 1]!; c.r16[i.rm << 1] = r; return; }
  const la = laW(c, i, 2);
  c.probeW(la, 2);
  const m = c.rd16(la);
  c.wr16(la, r);
  c.r16[i.reg << 1] = m;
};
const xchg32: ExecFn = (c, i) => {
  const r = c.r32[i.reg]!;
  if (i.mod === 3) { c.r32[i.reg] = c.r32[i.rm]!; c.r32[i.rm] = r; return; }
  const la = laW(c, i, 4);
  c.probeW(la, 4);
  const m = c.rd32(la);
  c.wr32(la, r);
  c.r32[i.reg] = m;
};

// CMPXCHG: the comparison (flags) is computed from values already read, and
// every memory write is preceded by probeW, so a fault changes nothing.
const cmpxchg8: ExecFn = (c, i) => {
  const acc = c.r8[0]!;
  if (i.mod === 3) {
    const d = c.r8[i.rmb]!;
    cmp8(c, acc, d);
    if (acc === d) c.r8[i.rmb] = c.r8[i.rb]!;
    else c.r8[0] = d;
    return;
  }
  const la = laW(c, i, 1);
  c.probeW(la, 1);
  const d = c.rd8(la);
  cmp8(c, acc, d);
  if (acc === d) c.wr8(la, c.r8[i.rb]!);
  else { c.wr8(la, d); c.r8[0] = d; }
};
const cmpxchg16: ExecFn = (c, i) => {
  const acc = c.r16[0]!;
  if (i.mod === 3) {
    const d = c.r16[i.rm << 1]!;
    cmp16(c, acc, d);
    if (acc === d) c.r16[i.rm << 1] = c.r16[i.reg << 1]!;
    else c.r16[0] = d;
    return;
  }
  const la = laW(c, i, 2);
  c.probeW(la, 2);
  const d = c.rd16(la);
  cmp16(c, acc, d);
  if (acc === d) c.wr16(la, c.r16[i.reg << 1]!);
  else { c.wr16(la, d); c.r16[0] = d; }
};
const cmpxchg32: ExecFn = (c, i) => {
  const acc = c.r32[0]!;
  if (i.mod === 3) {
    const d = c.r32[i.rm]!;
    cmp32(c, acc, d);
    if (acc === d) c.r32[i.rm] = c.r32[i.reg]!;
    else c.r32[0] = d;
    return;
  }
  const la = laW(c, i, 4);
  c.probeW(la, 4);
  const d = c.rd32(la);
  cmp32(c, acc, d);
  if (acc === d) c.wr32(la, c.r32[i.reg]!);
  else { c.wr32(la, d); c.r32[0] = d; }
};

/** CMPXCHG8B m64 (memory only: the decoder turns mod == 3 into #UD). */
const cmpxchg8b: ExecFn = (c, i) => {
  const la = laW(c, i, 8);
  c.probeW(la, 8);
  const lo = c.rd32(la), hi = c.rd32((la + 4) | 0);
  if (lo === c.r32[0] && hi === c.r32[2]) {
    c.wr32(la, c.r32[3]!);
    c.wr32((la + 4) | 0, c.r32[1]!);
    setFlags(c, ZF, ZF);
  } else {
    c.wr32(la, lo);
    c.wr32((la + 4) | 0, hi);
    c.r32[0] = lo;
    c.r32[2] = hi;
    setFlags(c, ZF, 0);
  }
};

// XADD: with a register destination equal to the source register, the
// DEST <- TEMP write comes last, so the register holds the sum.
const xadd8: ExecFn = (c, i) => {
  const s = c.r8[i.rb]!;
  if (i.mod === 3) {
    const d = c.r8[i.rmb]!;
    const sum = add8(c, d, s);
    c.r8[i.rb] = d;
    c.r8[i.rmb] = sum;
    return;
  }
  const la = laW(c, i, 1);
  c.probeW(la, 1);
  const d = c.rd8(la);
  c.wr8(la, add8(c, d, s));
  c.r8[i.rb] = d;
};
const xadd16: ExecFn = (c, i) => {
  const s = c.r16[i.reg << 1]!;
  if (i.mod === 3) {
    const d = c.r16[i.rm << 1]!;
    const sum = add16(c, d, s);
    c.r16[i.reg << 1] = d;
    c.r16[i.rm << 1] = sum;
    return;
  }
  const la = laW(c, i, 2);
  c.probeW(la, 2);
  const d = c.rd16(la);
  c.wr16(la, add16(c, d, s));
  c.r16[i.reg << 1] = d;
};
const xadd32: ExecFn = (c, i) => {
  const s = c.r32[i.reg]!;
  if (i.mod === 3) {
    const d = c.r32[i.rm]!;
    const sum = add32(c, d, s);
    c.r32[i.reg] = d;
    c.r32[i.rm] = sum;
    return;
  }
  const la = laW(c, i, 4);
  c.probeW(la, 4);
  const d = c.rd32(la);
  c.wr32(la, add32(c, d, s));
  c.r32[i.reg] = d;
};

const LAHF_BITS = SF | ZF | AF | PF | CF;

const nop: ExecFn = () => {};
const ud: ExecFn = () => { throw new CpuFault(Vec.UD); };

/** XLAT offset: (E)BX + zero-extended AL, wrapped to the address size. */
function xlatOffset(c: Cpu, i: Insn): number {
  return i.a16 ? (c.r16[6]! + c.r8[0]!) & 0xffff : (c.r32[3]! + c.r8[0]!) | 0;
}

/** Register this family's opcodes (see the header for the list). */
export function register(t: OpTable): void {
  // XCHG: the memory forms are implicitly locked, and LOCK is legal on them.
  t.op(0x86, { name: 'xchg', operands: 'Eb,Gb', modrm: true, exec: xchg8, flags: D.LOCKABLE | D.BYTE });
  t.op(0x87, { name: 'xchg', operands: 'Ev,Gv', modrm: true, exec: xchg32, exec16: xchg16, flags: D.LOCKABLE });
  // 90 is XCHG eAX,eAX: a true NOP in 32-bit code (F3 90 = PAUSE, 66 90 = XCHG AX,AX).
  t.op(0x90, { name: 'nop', exec: nop });
  for (let r = 1; r < 8; r++) {
    const w = r << 1;
    t.op(0x90 + r, {
      name: 'xchg', operands: 'Zv,eAX',
      exec: (c) => { const v = c.r32[0]!; c.r32[0] = c.r32[r]!; c.r32[r] = v; },
      exec16: (c) => { const v = c.r16[0]!; c.r16[0] = c.r16[w]!; c.r16[w] = v; },
    });
  }

  t.op(0x0fb0, { name: 'cmpxchg', operands: 'Eb,Gb', modrm: true, exec: cmpxchg8, flags: D.LOCKABLE | D.BYTE });
  t.op(0x0fb1, { name: 'cmpxchg', operands: 'Ev,Gv', modrm: true, exec: cmpxchg32, exec16: cmpxchg16, flags: D.LOCKABLE });
  t.group(0x0fc7, 1, { name: 'cmpxchg8b', operands: 'Mq', exec: cmpxchg8b, flags: D.MEM_ONLY | D.LOCKABLE | D.BYTE });
  t.op(0x0fc0, { name: 'xadd', operands: 'Eb,Gb', modrm: true, exec: xadd8, flags: D.LOCKABLE | D.BYTE });
  t.op(0x0fc1, { name: 'xadd', operands: 'Ev,Gv', modrm: true, exec: xadd32, exec16: xadd16, flags: D.LOCKABLE });

  t.op(0x9f, {
    name: 'lahf', flags: D.BYTE,
    exec: (c) => {
      c.r8[1] = (getSF(c) ? SF : 0) | (getZF(c) ? ZF : 0) | (getAF(c) ? AF : 0) | (getPF(c) ? PF : 0) | 2 | (getCF(c) ? CF : 0);
    },
  });
  t.op(0x9e, { name: 'sahf', flags: D.BYTE, exec: (c) => { setFlags(c, LAHF_BITS, c.r8[1]!); } });

  t.op(0xd7, {
    name: 'xlat', operands: 'XLAT', flags: D.BYTE,
    exec: (c, i) => { c.r8[0] = c.rd8(segR(c, i.seg, xlatOffset(c, i), 1)); },
  });

  t.op(0xf8, { name: 'clc', exec: (c) => { setFlags(c, CF, 0); } });
  t.op(0xf9, { name: 'stc', exec: (c) => { setFlags(c, CF, CF); } });
  t.op(0xf5, { name: 'cmc', exec: (c) => { setFlags(c, CF, getCF(c) ? 0 : CF); } });
  t.op(0xfc, { name: 'cld', exec: (c) => { c.flags &= ~DF; } });
  t.op(0xfd, { name: 'std', exec: (c) => { c.flags |= DF; } });

  // Hint NOPs: ModRM decoded, memory operand never touched.
  t.op(0x0f1f, { name: 'nop', operands: 'Ev', modrm: true, exec: nop });
  for (let op = 0x0f19; op <= 0x0f1e; op++) t.op(op, { name: 'nop', operands: 'Ev', modrm: true, exec: nop });
  // 0F 18: /0-3 with a memory operand are the PREFETCHh hints; every
  // other form is a reserved NOP (resolved on the whole ModRM for naming).
  const hintNop: OpDef = { name: 'nop', operands: 'Ev', exec: nop };
  const prefetch: OpDef[] = ['prefetchnta', 'prefetcht0', 'prefetcht1', 'prefetcht2']
    .map((name) => ({ name, operands: 'Mb', exec: nop }));
  t.resolver(0x0f18, (m) => (m < 0xc0 && (m & 0x38) < 0x20 ? prefetch[(m >> 3) & 3]! : hintNop));
  for (let r = 0; r < 8; r++) {
    t.group(0x0f0d, r, { name: r === 1 ? 'prefetchw' : 'prefetch', operands: 'Mb', exec: nop, flags: D.MEM_ONLY });
  }

  // UD2/UD1 end their block: code after them is often data (BUG() markers).
  t.op(0x0f0b, { name: 'ud2', exec: ud, flags: D.ENDS });
  t.op(0x0fb9, { name: 'ud1', operands: 'Gv,Ev', modrm: true, exec: ud, flags: D.ENDS });

  t.op(0x0fa2, { name: 'cpuid', exec: (c) => { cpuid(c, c.r32[0]! >>> 0, c.r32[1]! >>> 0); } });
  t.op(0x0f31, { name: 'rdtsc', exec: rdtsc, flags: D.ENDS });
}
