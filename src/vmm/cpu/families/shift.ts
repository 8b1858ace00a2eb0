/**
 * Shifts and rotates: group 2 (C0/C1 by imm8, D0/D1 by 1, D2/D3 by CL;
 * /0 ROL, /1 ROR, /2 RCL, /3 RCR, /4 SHL, /5 SHR, /6 SAL, /7 SAR) and the
 * double-precision shifts SHLD (0F A4 imm8, 0F A5 CL) and SHRD (0F AC imm8,
 * 0F AD CL).
 *
 * Semantics follow Intel SDM vol. 2B "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR",
 * "SHLD", "SHRD" and AMD APM vol. 3 for the same instructions:
 *
 *  - The count is masked to 5 bits. A masked count of 0 changes nothing,
 *    not even the lazy-flag record (a memory operand is still checked for
 *    writability and read, since the access belongs to the instruction).
 *  - RCL/RCR on 8/16-bit operands rotate through CF by count mod 9 / mod 17;
 *    ROL/ROR on them rotate by count mod 8 / mod 16 but still set CF and OF
 *    when the masked count is a non-zero multiple of the width.
 *
 * Flags the SDM leaves undefined are computed as the AMD processors do (the
 * differential tests check them against an AMD EPYC host, where the values
 * are deterministic):
 *
 *  - AF: set to 1 by every shift (SHL/SAL/SHR/SAR/SHLD/SHRD) with a non-zero
 *    count; rotates leave it (and ZF/SF/PF) unchanged.
 *  - OF for counts other than 1, with `res` the result and w the width:
 *      SHL/SAL, SHLD: OF = CF xor bit w-1 of (dst << count), i.e. the same
 *                     "sign changed on the last step" rule as for count 1;
 *      SHR, SHRD:     OF = bit w-1 of res xor bit w-2 of res (so SHR gives
 *                     0 for counts > 1);
 *      SAR:           OF = 0;
 *      ROL, RCL:      OF = bit w-1 of res xor the new CF;
 *      ROR, RCR:      OF = bit w-1 of res xor bit w-2 of res.
 *  - CF for 8/16-bit SHL/SHR with count >= width: the last bit shifted out
 *    of the zero-extended operand (0 once the count exceeds the width; for
 *    SHL by exactly the width it is bit 0). SAR shifts in copies of the sign.
 *  - 16-bit SHLD/SHRD with a count of 17-31 (Intel: result undefined): the
 *    result is taken from the 48-bit string dst:src:src (SHLD, top 16 bits
 *    after shifting left) or src:src:dst (SHRD, low 16 bits after shifting
 *    right); CF is the last bit shifted out of dst alone, hence 0 for those
 *    counts, and OF follows the rules above (0 for SHLD).
 *
 * Flag representation: shifts write CF/OF/AF eagerly into `cpu.flags` and
 * leave ZF/SF/PF lazy from the result (LF.RES). Rotates write CF/OF eagerly
 * and only drop CF/OF from `lfLazy`, so whatever lazy record still
 * describes ZF/SF/PF/AF keeps doing so (no materialisation needed).
 */
import type { Cpu } from '../cpu.js';
import { AF, CF, OF, PF, SF, ZF, LF, getCF } from '../flags.js';
import { D, Imm, type ExecFn } from '../insn.js';
import { laW } from '../operands.js';
import type { OpTable } from '../table.js';

/**
 * One group-2 operation on a value of one width: `v` is the zero-extended
 * operand (any int32 for 32 bits), `n` the masked count (1-31). Sets the
 * flags and returns the result.
 */
type ShiftFn = (c: Cpu, v: number, n: number) => number;

/** A double shift: destination `d`, source `s` (zero-extended for 16 bits), count 1-31. */
type DoubleFn = (c: Cpu, d: number, s: number, n: number) => number;

/** Flags of a shift: CF and OF given, AF = 1, ZF/SF/PF lazy from the result. */
function shiftFlags(c: Cpu, res: number, cf: number, of: number, mask: number, sign: number): void {
  c.flags = (c.flags & ~(CF | OF)) | AF | cf | of;
  c.lfOp = LF.RES;
  c.lfRes = res;
  c.lfMask = mask;
  c.lfSign = sign;
  c.lfLazy = ZF | SF | PF;
}

/** Flags of a rotate: only CF and OF change; the rest keep their (possibly lazy) values. */
function rotFlags(c: Cpu, cf: number, of: number): void {
  c.flags = (c.flags & ~(CF | OF)) | cf | of;
  c.lfLazy &= ~(CF | OF);
}

/** Build the eight group-2 operations (ModRM.reg order) for width `w` (8, 16 or 32). */
function makeShifts(w: number): ShiftFn[] {
  const mask = w === 32 ? -1 : (1 << w) - 1;
  const sign = w === 32 ? 0x80000000 | 0 : 1 << (w - 1);
  const up = 32 - w; // sign-extension distance for SAR
  const rol: ShiftFn = (c, v, n) => {
    const r = n & (w - 1);
    const res = r === 0 ? v & mask : ((v << r) | (v >>> (w - r))) & mask;
    const cf = res & 1;
    rotFlags(c, cf, ((res >>> (w - 1)) ^ cf) & 1 ? OF : 0);
    return res;
  };
  const ror: ShiftFn = (c, v, n) => {
    const r = n & (w - 1);
    const res = r === 0 ? v & mask : ((v >>> r) | (v << (w - r))) & mask;
    rotFlags(c, (res >>> (w - 1)) & 1, (res ^ (res << 1)) & sign ? OF : 0);
    return res;
  };
  // RCL/RCR rotate the (w+1)-bit string CF:v. The pieces shifted by w-r+1
  // are split into two shifts so that no JavaScript shift count reaches 32
  // (which would wrap to 0) when w is 32.
  const rcl: ShiftFn = (c, v, n) => {
    const r = w === 32 ? n : n % (w + 1);
    const cin = getCF(c) ? 1 : 0;
    let res: number, cf: number;
    if (r === 0) {
      res = v & mask;
      cf = cin;
    } else {
      res = ((v << r) | (cin << (r - 1)) | ((v >>> (w - r)) >>> 1)) & mask;
      cf = (v >>> (w - r)) & 1;
    }
    rotFlags(c, cf, ((res >>> (w - 1)) ^ cf) & 1 ? OF : 0);
    return res;
  };
  const rcr: ShiftFn = (c, v, n) => {
    const r = w === 32 ? n : n % (w + 1);
    const cin = getCF(c) ? 1 : 0;
    let res: number, cf: number;
    if (r === 0) {
      res = v & mask;
      cf = cin;
    } else {
      res = ((v >>> r) | (cin << (w - r)) | ((v << (w - r)) << 1)) & mask;
      cf = (v >>> (r - 1)) & 1;
    }
    rotFlags(c, cf, (res ^ (res << 1)) & sign ? OF : 0);
    return res;
  };
  const shl: ShiftFn = (c, v, n) => {
    // Counts up to 31 on an 8/16-bit operand: bits beyond the width simply fall off.
    const res = (v << n) & mask;
    const cf = (v << (n - 1)) & sign ? 1 : 0;
    shiftFlags(c, res, cf, ((res & sign ? 1 : 0) ^ cf) !== 0 ? OF : 0, mask, sign);
    return res;
  };
  const shr: ShiftFn = (c, v, n) => {
    const res = (v >>> n) & mask;
    shiftFlags(c, res, (v >>> (n - 1)) & 1, (res ^ (res << 1)) & sign ? OF : 0, mask, sign);
    return res;
  };
  const sar: ShiftFn = (c, v, n) => {
    const sv = (v << up) >> up;
    const res = (sv >> n) & mask;
    shiftFlags(c, res, (sv >> (n - 1)) & 1, 0, mask, sign);
    return res;
  };
  return [rol, ror, rcl, rcr, shl, shr, shl, sar];
}

/** Group-2 operations for 8-, 16- and 32-bit operands, indexed by ModRM.reg. */
export const SHIFT8: readonly ShiftFn[] = makeShifts(8);
export const SHIFT16: readonly ShiftFn[] = makeShifts(16);
export const SHIFT32: readonly ShiftFn[] = makeShifts(32);

/** SHLD r/m32: dst shifted left, vacated bits filled from the top of src. */
export const shld32: DoubleFn = (c, d, s, n) => {
  const res = (d << n) | (s >>> (32 - n));
  const cf = (d << (n - 1)) >>> 31;
  shiftFlags(c, res, cf, (cf ^ ((d << n) >>> 31)) !== 0 ? OF : 0, -1, 0x80000000 | 0);
  return res;
};

/** SHRD r/m32: dst shifted right, vacated bits filled from the bottom of src. */
export const shrd32: DoubleFn = (c, d, s, n) => {
  const res = (d >>> n) | (s << (32 - n));
  shiftFlags(c, res, (d >>> (n - 1)) & 1, (res ^ (res << 1)) < 0 ? OF : 0, -1, 0x80000000 | 0);
  return res;
};

/**
 * SHLD r/m16: the top 16 bits of dst:src:src shifted left by n (see the
 * header for counts 17-31). `t` holds dst:src, `y` src:src; the bits of `y`
 * only reach the top half once n > 16.
 */
export const shld16: DoubleFn = (c, d, s, n) => {
  const t = (d << 16) | s, y = (s << 16) | s;
  const res = (((t << n) | (y >>> (32 - n))) >>> 16) & 0xffff;
  const cf = ((d << (n - 1)) >>> 15) & 1;
  shiftFlags(c, res, cf, (cf ^ ((d << n) >>> 15)) & 1 ? OF : 0, 0xffff, 0x8000);
  return res;
};

/** SHRD r/m16: the low 16 bits of src:src:dst shifted right by n. */
export const shrd16: DoubleFn = (c, d, s, n) => {
  const t = (s << 16) | d, y = (s << 16) | s;
  const res = ((t >>> n) | (y << (32 - n))) & 0xffff;
  shiftFlags(c, res, (d >>> (n - 1)) & 1, (res ^ (res << 1)) & 0x8000 ? OF : 0, 0xffff, 0x8000);
  return res;
};

/** Where the count comes from. */
const enum Cnt { IMM = 0, ONE = 1, CL = 2 }

// Each builder returns one ExecFn per (operation, width, count source),
// made once at registration. A count of zero still performs the memory
// checks (segment, page writability) and the read, then writes nothing.

function grp8(f: ShiftFn, k: Cnt): ExecFn {
  return (c, i) => {
    const n = (k === Cnt.CL ? c.r8[4]! : k === Cnt.ONE ? 1 : i.imm) & 31;
    if (i.mod === 3) {
      if (n !== 0) c.r8[i.rmb] = f(c, c.r8[i.rmb]!, n);
      return;
    }
    const la = laW(c, i, 1);
    c.probeW(la, 1);
    const v = c.rd8(la);
    if (n !== 0) c.wr8(la, f(c, v, n));
  };
}

function grp16(f: ShiftFn, k: Cnt): ExecFn {
  return (c, i) => {
    const n = (k === Cnt.CL ? c.r8[4]! : k === Cnt.ONE ? 1 : i.imm) & 31;
    if (i.mod === 3) {
      if (n !== 0) c.r16[i.rm << 1] = f(c, c.r16[i.rm << 1]!, n);
      return;
    }
    const la = laW(c, i, 2);
    c.probeW(la, 2);
    const v = c.rd16(la);
    if (n !== 0) c.wr16(la, f(c, v, n));
  };
}

function grp32(f: ShiftFn, k: Cnt): ExecFn {
  return (c, i) => {
    const n = (k === Cnt.CL ? c.r8[4]! : k === Cnt.ONE ? 1 : i.imm) & 31;
    if (i.mod === 3) {
      if (n !== 0) c.r32[i.rm] = f(c, c.r32[i.rm]!, n);
      return;
    }
    const la = laW(c, i, 4);
    c.probeW(la, 4);
    const v = c.rd32(la);
    if (n !== 0) c.wr32(la, f(c, v, n));
  };
}

function dbl16(f: DoubleFn, k: Cnt): ExecFn {
  return (c, i) => {
    const n = (k === Cnt.CL ? c.r8[4]! : i.imm) & 31;
    const s = c.r16[i.reg << 1]!;
    if (i.mod === 3) {
      if (n !== 0) c.r16[i.rm << 1] = f(c, c.r16[i.rm << 1]!, s, n);
      return;
    }
    const la = laW(c, i, 2);
    c.probeW(la, 2);
    const v = c.rd16(la);
    if (n !== 0) c.wr16(la, f(c, v, s, n));
  };
}

function dbl32(f: DoubleFn, k: Cnt): ExecFn {
  return (c, i) => {
    const n = (k === Cnt.CL ? c.r8[4]! : i.imm) & 31;
    const s = c.r32[i.reg]!;
    if (i.mod === 3) {
      if (n !== 0) c.r32[i.rm] = f(c, c.r32[i.rm]!, s, n);
      return;
    }
    const la = laW(c, i, 4);
    c.probeW(la, 4);
    const v = c.rd32(la);
    if (n !== 0) c.wr32(la, f(c, v, s, n));
  };
}

const NAMES = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];

/** Register group 2 (C0, C1, D0-D3) and SHLD/SHRD (0F A4, A5, AC, AD). */
export function register(t: OpTable): void {
  for (let op = 0; op < 8; op++) {
    const name = NAMES[op]!;
    const f8 = SHIFT8[op]!, f16 = SHIFT16[op]!, f32 = SHIFT32[op]!;
    t.group(0xc0, op, { name, imm: Imm.B, exec: grp8(f8, Cnt.IMM), flags: D.BYTE });
    t.group(0xc1, op, { name, imm: Imm.B, exec: grp32(f32, Cnt.IMM), exec16: grp16(f16, Cnt.IMM) });
    t.group(0xd0, op, { name, exec: grp8(f8, Cnt.ONE), flags: D.BYTE });
    t.group(0xd1, op, { name, exec: grp32(f32, Cnt.ONE), exec16: grp16(f16, Cnt.ONE) });
    t.group(0xd2, op, { name, exec: grp8(f8, Cnt.CL), flags: D.BYTE });
    t.group(0xd3, op, { name, exec: grp32(f32, Cnt.CL), exec16: grp16(f16, Cnt.CL) });
  }
  t.op(0x0fa4, { name: 'shld', modrm: true, imm: Imm.B, exec: dbl32(shld32, Cnt.IMM), exec16: dbl16(shld16, Cnt.IMM) });
  t.op(0x0fa5, { name: 'shld', modrm: true, exec: dbl32(shld32, Cnt.CL), exec16: dbl16(shld16, Cnt.CL) });
  t.op(0x0fac, { name: 'shrd', modrm: true, imm: Imm.B, exec: dbl32(shrd32, Cnt.IMM), exec16: dbl16(shrd16, Cnt.IMM) });
  t.op(0x0fad, { name: 'shrd', modrm: true, exec: dbl32(shrd32, Cnt.CL), exec16: dbl16(shrd16, Cnt.CL) });
}
