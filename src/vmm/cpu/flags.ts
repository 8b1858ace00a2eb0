/**
 * EFLAGS: bit definitions and lazy arithmetic-flag evaluation.
 *
 * Arithmetic instructions do not compute CF/PF/AF/ZF/SF/OF eagerly. They
 * record the operation kind, its operands and result (`lfOp`, `lfDst`,
 * `lfSrc`, `lfRes`, operand size) and a mask `lfLazy` of the flags that must
 * be derived from that record; every other bit lives in `cpu.flags`.
 *
 *  - ZF, SF and PF always derive from the result.
 *  - CF, OF and AF derive from the operation kind (ADD-like or SUB-like, with
 *    or without a carry-in) when they are lazy.
 *  - Instructions with irregular flags (shifts, multiplies, BCD, ...) write
 *    CF/OF/AF eagerly into `cpu.flags` and leave only ZF/SF/PF lazy.
 *
 * The formulas are the standard ones (Intel SDM vol. 1 §3.4.3 and vol. 2
 * per-instruction flag tables) and are checked against the host CPU by the
 * differential tests.
 */
import type { Cpu } from './cpu.js';

export const CF = 0x0001;
export const PF = 0x0004;
export const AF = 0x0010;
export const ZF = 0x0040;
export const SF = 0x0080;
export const TF = 0x0100;
export const IF = 0x0200;
export const DF = 0x0400;
export const OF = 0x0800;
export const IOPL = 0x3000;
export const NT = 0x4000;
export const RF = 0x10000;
export const VM = 0x20000;
export const AC = 0x40000;
export const VIF = 0x80000;
export const VIP = 0x100000;
export const ID = 0x200000;

/** The six arithmetic status flags. */
export const ARITH = CF | PF | AF | ZF | SF | OF;
/** Bit 1 of EFLAGS always reads as 1. */
export const FIXED1 = 0x0002;

/** Lazy operation kinds. */
export const enum LF {
  /** Result-only: ZF/SF/PF from lfRes; CF/OF/AF never lazy. */
  RES = 0,
  ADD = 1,
  /** ADD with carry-in 1. */
  ADC = 2,
  SUB = 3,
  /** SUB with borrow-in 1. */
  SBB = 4,
}

/** PARITY[b] is PF for a result whose low byte is b. */
export const PARITY: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let bits = 0;
    for (let b = i; b; b >>= 1) bits += b & 1;
    t[i] = bits % 2 === 0 ? PF : 0;
  }
  return t;
})();

/** Operand-size masks and sign bits indexed by size in bytes (1, 2, 4). */
export const SIZE_MASK: readonly number[] = [0, 0xff, 0xffff, 0, -1];
export const SIZE_SIGN: readonly number[] = [0, 0x80, 0x8000, 0, 0x80000000 | 0];

export function getCF(c: Cpu): boolean {
  if ((c.lfLazy & CF) === 0) return (c.flags & CF) !== 0;
  const m = c.lfMask;
  const res = (c.lfRes & m) >>> 0;
  const dst = (c.lfDst & m) >>> 0;
  switch (c.lfOp) {
    case LF.ADD: return res < dst;
    case LF.ADC: return res <= dst;
    case LF.SUB: return dst < ((c.lfSrc & m) >>> 0);
    case LF.SBB: return dst <= ((c.lfSrc & m) >>> 0);
    default: return (c.flags & CF) !== 0;
  }
}

export function getZF(c: Cpu): boolean {
  return (c.lfLazy & ZF) !== 0 ? (c.lfRes & c.lfMask) === 0 : (c.flags & ZF) !== 0;
}

export function getSF(c: Cpu): boolean {
  return (c.lfLazy & SF) !== 0 ? (c.lfRes & c.lfSign) !== 0 : (c.flags & SF) !== 0;
}

export function getPF(c: Cpu): boolean {
  return (c.lfLazy & PF) !== 0 ? PARITY[c.lfRes & 0xff] !== 0 : (c.flags & PF) !== 0;
}

export function getOF(c: Cpu): boolean {
  if ((c.lfLazy & OF) === 0) return (c.flags & OF) !== 0;
  const { lfDst: d, lfSrc: s, lfRes: r } = c;
  switch (c.lfOp) {
    case LF.ADD: case LF.ADC: return (((d ^ r) & (s ^ r)) & c.lfSign) !== 0;
    case LF.SUB: case LF.SBB: return (((d ^ s) & (d ^ r)) & c.lfSign) !== 0;
    default: return (c.flags & OF) !== 0;
  }
}

export function getAF(c: Cpu): boolean {
  if ((c.lfLazy & AF) === 0) return (c.flags & AF) !== 0;
  return c.lfOp === LF.RES ? (c.flags & AF) !== 0 : ((c.lfDst ^ c.lfSrc ^ c.lfRes) & 0x10) !== 0;
}

/** Fold every lazy flag into `cpu.flags`; afterwards nothing is lazy. */
export function materialize(c: Cpu): void {
  if (c.lfLazy === 0) return;
  let f = c.flags & ~c.lfLazy;
  const lazy = c.lfLazy;
  if (lazy & CF && getCF(c)) f |= CF;
  if (lazy & PF && getPF(c)) f |= PF;
  if (lazy & AF && getAF(c)) f |= AF;
  if (lazy & ZF && getZF(c)) f |= ZF;
  if (lazy & SF && getSF(c)) f |= SF;
  if (lazy & OF && getOF(c)) f |= OF;
  c.flags = f;
  c.lfLazy = 0;
}

/** Full EFLAGS value as the guest would read it (PUSHF, interrupts). */
export function readEflags(c: Cpu): number {
  materialize(c);
  return (c.flags | FIXED1) >>> 0;
}

/**
 * Evaluate condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc):
 * O, NO, B, AE, E, NE, BE, A, S, NS, P, NP, L, GE, LE, G.
 */
export function testCC(c: Cpu, cc: number): boolean {
  // Fast path: the common compare-then-branch on a lazy SUB.
  if (c.lfLazy === ARITH && c.lfOp === LF.SUB) {
    const m = c.lfMask;
    const a = c.lfDst & m, b = c.lfSrc & m;
    switch (cc) {
      case 0x2: return (a >>> 0) < (b >>> 0);
      case 0x3: return (a >>> 0) >= (b >>> 0);
      case 0x4: return a === b;
      case 0x5: return a !== b;
      case 0x6: return (a >>> 0) <= (b >>> 0);
      case 0x7: return (a >>> 0) > (b >>> 0);
      default: break;
    }
  }
  let r: boolean;
  switch (cc >> 1) {
    case 0: r = getOF(c); break;
    case 1: r = getCF(c); break;
    case 2: r = getZF(c); break;
    case 3: r = getCF(c) || getZF(c); break;
    case 4: r = getSF(c); break;
    case 5: r = getPF(c); break;
    case 6: r = getSF(c) !== getOF(c); break;
    default: r = getZF(c) || getSF(c) !== getOF(c); break;
  }
  return (cc & 1) !== 0 ? !r : r;
}
