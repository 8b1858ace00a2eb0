/**
 * Multiply, divide, sign extension and decimal adjust:
 * MUL (F6/4, F7/4), IMUL (F6/5, F7/5, 0F AF, 69 Iz, 6B Ib), DIV (F6/6,
 * F7/6), IDIV (F6/7, F7/7), CBW/CWDE (98), CWD/CDQ (99), DAA (27), DAS
 * (2F), AAA (37), AAS (3F), AAM (D4 ib), AAD (D5 ib) and SALC (D6).
 *
 * Semantics follow the Intel SDM vol. 2 instruction pages (MUL, IMUL, DIV,
 * IDIV, CBW/CWDE/CDQE, CWD/CDQ/CQO, DAA, DAS, AAA, AAS, AAM, AAD) and the
 * AMD APM vol. 3 instruction reference for the same mnemonics. SALC (D6)
 * has no SDM page (the opcode map leaves D6 reserved; it is invalid in
 * 64-bit mode); in 32-bit code the processors execute it as
 * "AL = CF ? FFh : 00h" without touching the flags, which the differential
 * tests confirm on the host.
 *
 * Exactness: 32x32->64 products are built from 16-bit partial products
 * (`mulHi32`), so every intermediate stays below 2^32; 64/32 divisions use
 * one double division when the dividend is below 2^53 (provably exact, see
 * `divu64`) and otherwise a two-step long division on 16-bit digits. No
 * BigInt, no allocation.
 *
 * #DE (SDM "Protected Mode Exceptions"): DIV/IDIV raise it for a zero
 * divisor and for a quotient that does not fit the destination (including
 * INT_MIN / -1 at every size); AAM raises it for an immediate of 0. The
 * check comes after the operand read (so #PF/#GP win) and before any
 * register or flag changes.
 *
 * Flags the SDM documents are computed as documented. Flags it calls
 * undefined are set the way the reference host (AMD EPYC, family 1Ah,
 * measured from user mode by tests/cpu/diff/muldiv.test.ts) sets them:
 *  - MUL/IMUL (all forms): CF = OF as documented; SF, ZF, AF and PF are
 *    left unchanged.
 *  - DIV/IDIV: CF and OF are left unchanged; SF = ZF = PF = 0; AF = 1.
 *    (On #DE nothing changes.)
 *  - DAA/DAS: OF is the signed overflow of the whole adjustment viewed as
 *    one 8-bit addition (DAA: AL + corr) or subtraction (DAS: AL - corr),
 *    where corr is the total correction applied (00h, 06h, 60h or 66h).
 *  - AAA/AAS: the host performs AX +/- 106h (or +/- 0 when no adjustment
 *    is needed) as a 16-bit operation and takes ZF (AX == 0), SF (bit 15),
 *    PF (low byte) and OF (16-bit signed overflow) from that sum, before
 *    AL is masked to its low nibble. CF and AF are as documented.
 *  - AAM: CF = AF = OF = 0.
 *  - AAD: all six flags are those of the 8-bit addition AL + (AH * imm8)
 *    (the SDM defines SF/ZF/PF from the same result).
 * CBW/CWDE/CWD/CDQ/SALC change no flag.
 */
import type { Cpu } from '../cpu.js';
import { CpuFault, Vec } from '../fault.js';
import { AF, ARITH, CF, LF, OF, PARITY, PF, SF, ZF, getAF, getCF } from '../flags.js';
import { D, Imm, type ExecFn } from '../insn.js';
import { rmRead16, rmRead32, rmRead8 } from '../operands.js';
import type { OpTable } from '../table.js';

// --- flag helpers --------------------------------------------------------------

/**
 * MUL/IMUL flags: CF = OF = `ov`; the other four arithmetic flags keep
 * whatever they were, lazily or not (the lazy record is left intact, so
 * only CF and OF leave the lazy set).
 */
function mulFlags(c: Cpu, ov: boolean): void {
  c.flags = (c.flags & ~(CF | OF)) | (ov ? CF | OF : 0);
  c.lfLazy &= ~(CF | OF);
}

/** DIV/IDIV flags as the reference host sets them: SF = ZF = PF = 0, AF = 1, CF/OF kept. */
function divFlags(c: Cpu): void {
  c.flags = (c.flags & ~(SF | ZF | PF)) | AF;
  c.lfLazy &= ~(SF | ZF | PF | AF);
}

/** Replace all six arithmetic flags with the eagerly computed `f`. */
function setArith(c: Cpu, f: number): void {
  c.flags = (c.flags & ~ARITH) | f;
  c.lfLazy = 0;
}

/** SF, ZF and PF of an 8-bit result. */
function szp8(v: number): number {
  return (v & 0x80) | (v === 0 ? ZF : 0) | PARITY[v]!;
}

// --- wide arithmetic -----------------------------------------------------------

/**
 * High 32 bits of the unsigned product a * b (a, b taken as uint32),
 * returned as int32. Schoolbook multiplication on 16-bit digits: each
 * partial sum is below 2^32, so doubles hold them exactly.
 */
export function mulHi32(a: number, b: number): number {
  const aL = a & 0xffff, aH = a >>> 16, bL = b & 0xffff, bH = b >>> 16;
  const ll = aL * bL;
  const m1 = aH * bL + (ll >>> 16); // <= (2^16-1)^2 + 2^16-1 < 2^32
  const m2 = aL * bH + (m1 & 0xffff); // likewise
  return (aH * bH + (m1 >>> 16) + (m2 >>> 16)) | 0;
}

/**
 * High 32 bits of the signed product a * b (a, b taken as int32). From the
 * unsigned high half: hi_s = hi_u - (a < 0 ? b : 0) - (b < 0 ? a : 0)
 * (mod 2^32).
 */
export function imulHi32(a: number, b: number): number {
  return (mulHi32(a, b) - ((a >> 31) & b) - ((b >> 31) & a)) | 0;
}

/**
 * Quotient [0] and remainder [1] of the last `divu64`. A typed array rather
 * than module-level `let`s: storing a non-Smi number into a context slot
 * boxes it (a heap allocation per division), a Uint32Array store does not.
 */
const DIV = new Uint32Array(2);

/**
 * Unsigned 64/32 division (hi:lo) / d into DIV[0] (quotient) and DIV[1]
 * (remainder). Preconditions: 0 < d < 2^32 and hi < d (so the quotient fits in
 * 32 bits; callers raise #DE otherwise).
 *
 * With n = hi:lo < 2^53 one double division suffices: n and d are exact,
 * and if n/d is not an integer its distance to the next integer is at
 * least 1/d, while the rounding error is at most (n/d)·2^-53 < 1/d, so
 * floor() of the rounded quotient is the true quotient. Larger dividends
 * take two long-division steps on 16-bit digits, each dividing a value
 * below d·2^16 < 2^48 (exact by the same argument).
 */
function divu64(hi: number, lo: number, d: number): void {
  if (hi < 0x200000) {
    const n = hi * 4294967296 + lo;
    const q = Math.floor(n / d);
    DIV[0] = q;
    DIV[1] = n - q * d;
    return;
  }
  const t1 = hi * 65536 + (lo >>> 16);
  const q1 = Math.floor(t1 / d);
  const r1 = t1 - q1 * d;
  const t2 = r1 * 65536 + (lo & 0xffff);
  const q2 = Math.floor(t2 / d);
  DIV[0] = q1 * 65536 + q2;
  DIV[1] = t2 - q2 * d;
}

/** Raise #DE (divide error: zero divisor or quotient overflow). */
function divideError(): never {
  throw new CpuFault(Vec.DE);
}

// --- MUL / IMUL ----------------------------------------------------------------

/** MUL r/m8: AX = AL * src. CF = OF = (AH != 0). */
const mul8: ExecFn = (c, i) => {
  const p = c.r8[0]! * rmRead8(c, i);
  c.r16[0] = p;
  mulFlags(c, p > 0xff);
};
/** MUL r/m16: DX:AX = AX * src (below 2^32: exact). CF = OF = (DX != 0). */
const mul16: ExecFn = (c, i) => {
  const p = c.r16[0]! * rmRead16(c, i);
  c.r16[0] = p & 0xffff;
  c.r16[4] = p >>> 16;
  mulFlags(c, p > 0xffff);
};
/** MUL r/m32: EDX:EAX = EAX * src. CF = OF = (EDX != 0). */
const mul32: ExecFn = (c, i) => {
  const b = rmRead32(c, i);
  const a = c.r32[0]!;
  const hi = mulHi32(a, b);
  c.r32[0] = Math.imul(a, b);
  c.r32[2] = hi;
  mulFlags(c, hi !== 0);
};

/** IMUL r/m8: AX = AL * src signed. CF = OF = (AX != sext(AL)). */
const imul8: ExecFn = (c, i) => {
  const p = ((c.r8[0]! << 24) >> 24) * ((rmRead8(c, i) << 24) >> 24);
  c.r16[0] = p;
  mulFlags(c, p !== (p << 24) >> 24);
};
/** IMUL r/m16: DX:AX = AX * src signed (|p| <= 2^30: exact). CF = OF = (DX:AX != sext(AX)). */
const imul16: ExecFn = (c, i) => {
  const p = ((c.r16[0]! << 16) >> 16) * ((rmRead16(c, i) << 16) >> 16);
  c.r16[0] = p & 0xffff;
  c.r16[4] = p >>> 16;
  mulFlags(c, p !== (p << 16) >> 16);
};
/** IMUL r/m32: EDX:EAX = EAX * src signed. CF = OF = (EDX:EAX != sext(EAX)). */
const imul32: ExecFn = (c, i) => {
  const b = rmRead32(c, i);
  const a = c.r32[0]!;
  const lo = Math.imul(a, b);
  const hi = imulHi32(a, b);
  c.r32[0] = lo;
  c.r32[2] = hi;
  mulFlags(c, hi !== lo >> 31);
};

/**
 * Truncating signed 32-bit multiply for the two- and three-operand forms:
 * sets CF = OF when the product does not fit in 32 bits and returns the low
 * half. The double product a * b is exact whenever the true product fits in
 * int32 (|a·b| < 2^31 < 2^53); when it does not fit, rounding is monotonic
 * and the neighbouring values -2^31-1 and 2^31 are representable, so the
 * rounded product stays outside int32 and differs from the wrapped one.
 */
function imulTrunc32(c: Cpu, a: number, b: number): number {
  const lo = Math.imul(a, b);
  mulFlags(c, a * b !== lo);
  return lo;
}
/** 16-bit counterpart of `imulTrunc32` (operands already sign-extended; exact). */
function imulTrunc16(c: Cpu, a: number, b: number): number {
  const p = a * b;
  mulFlags(c, p !== (p << 16) >> 16);
  return p & 0xffff;
}

/** IMUL r32, r/m32 (0F AF). */
const imulRm32: ExecFn = (c, i) => { c.r32[i.reg] = imulTrunc32(c, c.r32[i.reg]!, rmRead32(c, i)); };
const imulRm16: ExecFn = (c, i) => {
  c.r16[i.reg << 1] = imulTrunc16(c, (c.r16[i.reg << 1]! << 16) >> 16, (rmRead16(c, i) << 16) >> 16);
};
/** IMUL r32, r/m32, imm (69 Iz / 6B Ib: the decoder already sign-extended imm8). */
const imulImm32: ExecFn = (c, i) => { c.r32[i.reg] = imulTrunc32(c, rmRead32(c, i), i.imm | 0); };
const imulImm16: ExecFn = (c, i) => {
  c.r16[i.reg << 1] = imulTrunc16(c, (rmRead16(c, i) << 16) >> 16, (i.imm << 16) >> 16);
};

// --- DIV / IDIV ----------------------------------------------------------------

/** DIV r/m8: AL = AX / src, AH = AX % src. */
const div8: ExecFn = (c, i) => {
  const d = rmRead8(c, i);
  if (d === 0) divideError();
  const n = c.r16[0]!;
  const q = (n / d) | 0;
  if (q > 0xff) divideError();
  c.r8[0] = q;
  c.r8[1] = n - q * d;
  divFlags(c);
};
/** DIV r/m16: AX = DX:AX / src, DX = DX:AX % src. */
const div16: ExecFn = (c, i) => {
  const d = rmRead16(c, i);
  if (d === 0) divideError();
  const n = ((c.r16[4]! << 16) | c.r16[0]!) >>> 0;
  const q = Math.floor(n / d);
  if (q > 0xffff) divideError();
  c.r16[0] = q;
  c.r16[4] = n - q * d;
  divFlags(c);
};
/** DIV r/m32: EAX = EDX:EAX / src, EDX = EDX:EAX % src. */
const div32: ExecFn = (c, i) => {
  const d = rmRead32(c, i) >>> 0;
  if (d === 0) divideError();
  const hi = c.r32[2]! >>> 0;
  // The quotient fits in 32 bits exactly when the high half is below the divisor.
  if (hi >= d) divideError();
  divu64(hi, c.r32[0]! >>> 0, d);
  c.r32[0] = DIV[0]!;
  c.r32[2] = DIV[1]!;
  divFlags(c);
};

/**
 * IDIV r/m8: AL = AX / src, AH = AX % src, signed; the quotient truncates
 * toward zero and the remainder takes the dividend's sign (JavaScript's
 * `/`+trunc and `%` do exactly that). -128 is a valid quotient.
 */
const idiv8: ExecFn = (c, i) => {
  const d = (rmRead8(c, i) << 24) >> 24;
  if (d === 0) divideError();
  const n = (c.r16[0]! << 16) >> 16;
  const q = Math.trunc(n / d);
  if (q > 0x7f || q < -0x80) divideError();
  c.r8[0] = q;
  c.r8[1] = n % d;
  divFlags(c);
};
/** IDIV r/m16: AX = DX:AX / src, DX = DX:AX % src, signed. */
const idiv16: ExecFn = (c, i) => {
  const d = (rmRead16(c, i) << 16) >> 16;
  if (d === 0) divideError();
  const n = (c.r16[4]! << 16) | c.r16[0]!;
  const q = Math.trunc(n / d);
  if (q > 0x7fff || q < -0x8000) divideError();
  c.r16[0] = q;
  c.r16[4] = n % d;
  divFlags(c);
};
/** IDIV r/m32: EAX = EDX:EAX / src, EDX = EDX:EAX % src, signed. */
const idiv32: ExecFn = (c, i) => {
  const d = rmRead32(c, i);
  if (d === 0) divideError();
  const lo = c.r32[0]!, hi = c.r32[2]!;
  if (hi === lo >> 31) {
    // Common case (after CDQ): the dividend is an int32. Only INT_MIN / -1
    // overflows; every other quotient is exact under the 2^53 argument.
    if (d === -1 && lo === (0x80000000 | 0)) divideError();
    c.r32[0] = Math.trunc(lo / d);
    c.r32[2] = lo % d;
    divFlags(c);
    return;
  }
  // Full 64-bit dividend: divide magnitudes, then apply the signs.
  const neg = hi < 0;
  let mhi = hi >>> 0, mlo = lo >>> 0;
  if (neg) {
    // Two's-complement negation of hi:lo; the carry into hi happens when lo is 0.
    mhi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    mlo = -lo >>> 0;
  }
  const md = d < 0 ? -d >>> 0 : d;
  if (mhi >= md) divideError();
  divu64(mhi, mlo, md);
  const q = DIV[0]!, r = DIV[1]!;
  const qneg = neg !== d < 0;
  if (q > (qneg ? 0x80000000 : 0x7fffffff)) divideError();
  c.r32[0] = qneg ? -q : q;
  c.r32[2] = neg ? -r : r;
  divFlags(c);
};

// --- decimal adjust ------------------------------------------------------------

/** DAA (SDM DAA "Operation"), OF as the reference host sets it (see header). */
const daa: ExecFn = (c) => {
  const al = c.r8[0]!;
  const cf = getCF(c), af = getAF(c);
  let r = al, f = 0;
  if ((al & 0x0f) > 9 || af) {
    r = (al + 6) & 0xff;
    f |= AF;
  }
  // The SDM's first-step "CF = old_CF or carry" is always overridden here:
  // a carry out of AL + 6 needs AL > 99h, which takes this branch anyway.
  if (al > 0x99 || cf) {
    r = (r + 0x60) & 0xff;
    f |= CF;
  }
  const corr = (r - al) & 0xff;
  if (((al ^ r) & (corr ^ r) & 0x80) !== 0) f |= OF;
  c.r8[0] = r;
  setArith(c, f | szp8(r));
};

/** DAS (SDM DAS "Operation"): unlike DAA, a borrow out of AL - 6 survives as CF. */
const das: ExecFn = (c) => {
  const al = c.r8[0]!;
  const cf = getCF(c), af = getAF(c);
  let r = al, f = 0;
  if ((al & 0x0f) > 9 || af) {
    if (cf || al < 6) f |= CF;
    r = (al - 6) & 0xff;
    f |= AF;
  }
  if (al > 0x99 || cf) {
    r = (r - 0x60) & 0xff;
    f |= CF;
  }
  const corr = (al - r) & 0xff;
  if (((al ^ corr) & (al ^ r) & 0x80) !== 0) f |= OF;
  c.r8[0] = r;
  setArith(c, f | szp8(r));
};

/**
 * AAA / AAS: AX +/- 106h when (AL & 0Fh) > 9 or AF (the current SDM
 * wording: the carry/borrow out of AL reaches AH), then AL &= 0Fh.
 * CF = AF = "adjusted"; ZF/SF/PF/OF come from the 16-bit sum (see header).
 */
function asciiAdjust(c: Cpu, sub: boolean): void {
  const ax = c.r16[0]!;
  const adj = (ax & 0x0f) > 9 || getAF(c);
  const d = adj ? 0x106 : 0;
  const r = (sub ? ax - d : ax + d) & 0xffff;
  const ov = sub ? (ax ^ d) & (ax ^ r) : (ax ^ r) & (d ^ r);
  c.r16[0] = r & 0xff0f;
  setArith(c, (adj ? CF | AF : 0) | (r === 0 ? ZF : 0) | ((r >> 8) & SF) | PARITY[r & 0xff]! | ((ov >> 4) & OF));
}

/** AAM imm8: AH = AL / imm8, AL = AL % imm8; #DE when imm8 is 0. */
const aam: ExecFn = (c, i) => {
  const base = i.imm & 0xff;
  if (base === 0) divideError();
  const al = c.r8[0]!;
  const q = (al / base) | 0;
  const r = al - q * base;
  c.r8[1] = q;
  c.r8[0] = r;
  // SF/ZF/PF from AL (lazy); CF/AF/OF cleared as on the reference host.
  c.flags &= ~(CF | AF | OF);
  c.lfOp = LF.RES;
  c.lfRes = r;
  c.lfMask = 0xff;
  c.lfSign = 0x80;
  c.lfLazy = ZF | SF | PF;
};

/**
 * AAD imm8: AL = (AL + AH * imm8) & FFh, AH = 0. The flags are exactly
 * those of the 8-bit ADD of AL and the low byte of AH * imm8, so they go
 * into the lazy record as an ADD.
 */
const aad: ExecFn = (c, i) => {
  const al = c.r8[0]!;
  const p = (c.r8[1]! * (i.imm & 0xff)) & 0xff;
  const r = (al + p) & 0xff;
  c.r16[0] = r;
  c.lfOp = LF.ADD;
  c.lfDst = al;
  c.lfSrc = p;
  c.lfRes = r;
  c.lfMask = 0xff;
  c.lfSign = 0x80;
  c.lfLazy = ARITH;
};

// --- registration --------------------------------------------------------------

/** Register this family's opcodes (see the header for the list). */
export function register(t: OpTable): void {
  t.group(0xf6, 4, { name: 'mul', exec: mul8, flags: D.BYTE });
  t.group(0xf6, 5, { name: 'imul', exec: imul8, flags: D.BYTE });
  t.group(0xf6, 6, { name: 'div', exec: div8, flags: D.BYTE });
  t.group(0xf6, 7, { name: 'idiv', exec: idiv8, flags: D.BYTE });
  t.group(0xf7, 4, { name: 'mul', exec: mul32, exec16: mul16 });
  t.group(0xf7, 5, { name: 'imul', exec: imul32, exec16: imul16 });
  t.group(0xf7, 6, { name: 'div', exec: div32, exec16: div16 });
  t.group(0xf7, 7, { name: 'idiv', exec: idiv32, exec16: idiv16 });
  t.op(0x0faf, { name: 'imul', modrm: true, exec: imulRm32, exec16: imulRm16 });
  t.op(0x69, { name: 'imul', modrm: true, imm: Imm.Z, exec: imulImm32, exec16: imulImm16 });
  t.op(0x6b, { name: 'imul', modrm: true, imm: Imm.SB, exec: imulImm32, exec16: imulImm16 });

  // CBW / CWDE: sign-extend AL into AX, or AX into EAX.
  t.op(0x98, {
    name: 'cwde',
    exec: (c) => { c.r32[0] = (c.r32[0]! << 16) >> 16; },
    exec16: (c) => { c.r16[0] = (c.r8[0]! << 24) >> 24; },
  });
  // CWD / CDQ: fill DX / EDX with the sign of AX / EAX.
  t.op(0x99, {
    name: 'cdq',
    exec: (c) => { c.r32[2] = c.r32[0]! >> 31; },
    exec16: (c) => { c.r16[4] = (c.r16[0]! << 16) >> 31; },
  });

  t.op(0x27, { name: 'daa', exec: daa, flags: D.BYTE });
  t.op(0x2f, { name: 'das', exec: das, flags: D.BYTE });
  t.op(0x37, { name: 'aaa', exec: (c) => { asciiAdjust(c, false); }, flags: D.BYTE });
  t.op(0x3f, { name: 'aas', exec: (c) => { asciiAdjust(c, true); }, flags: D.BYTE });
  t.op(0xd4, { name: 'aam', imm: Imm.B, exec: aam, flags: D.BYTE });
  t.op(0xd5, { name: 'aad', imm: Imm.B, exec: aad, flags: D.BYTE });
  t.op(0xd6, { name: 'salc', exec: (c) => { c.r8[0] = getCF(c) ? 0xff : 0; }, flags: D.BYTE });
}
