/**
 * Integer ALU family: ADD, OR, ADC, SBB, AND, SUB, XOR, CMP in all their
 * encodings (00-3D, 80/81/82/83), TEST (84/85/A8/A9/F6/0, F7/0), INC/DEC
 * (40-4F, FE/FF /0-1), NOT/NEG (F6/F7 /2-3).
 *
 * Flags follow Intel SDM vol. 2: ADD/ADC/SUB/SBB/CMP/NEG set all six
 * arithmetic flags lazily (flags.ts); AND/OR/XOR/TEST clear CF and OF and
 * leave AF as the host CPU does (cleared; Intel calls it undefined);
 * INC/DEC keep CF; NOT changes no flag.
 */
import type { Cpu } from '../cpu.js';
import { ARITH, AF, CF, OF, LF, getCF } from '../flags.js';
import { D, Imm, type ExecFn, type Insn } from '../insn.js';
import { laW, rmRead16, rmRead32, rmRead8 } from '../operands.js';
import type { OpTable } from '../table.js';

/** An ALU operation on values of one size; returns the (unmasked) result. */
type AluOp = (cpu: Cpu, a: number, b: number) => number;

function lazy(cpu: Cpu, op: LF, dst: number, src: number, res: number, mask: number, sign: number): void {
  cpu.lfOp = op;
  cpu.lfDst = dst;
  cpu.lfSrc = src;
  cpu.lfRes = res;
  cpu.lfMask = mask;
  cpu.lfSign = sign;
  cpu.lfLazy = ARITH;
}

function logic(cpu: Cpu, res: number, mask: number, sign: number): number {
  cpu.flags &= ~(CF | OF | AF);
  cpu.lfOp = LF.RES;
  cpu.lfRes = res;
  cpu.lfMask = mask;
  cpu.lfSign = sign;
  cpu.lfLazy = ARITH & ~(CF | OF | AF);
  return res;
}

function makeOps(mask: number, sign: number): AluOp[] {
  return [
    (c, a, b) => { const r = (a + b) & mask; lazy(c, LF.ADD, a, b, r, mask, sign); return r; },
    (c, a, b) => logic(c, (a | b) & mask, mask, sign),
    (c, a, b) => {
      const cin = getCF(c) ? 1 : 0;
      const r = (a + b + cin) & mask;
      lazy(c, cin ? LF.ADC : LF.ADD, a, b, r, mask, sign);
      return r;
    },
    (c, a, b) => {
      const cin = getCF(c) ? 1 : 0;
      const r = (a - b - cin) & mask;
      lazy(c, cin ? LF.SBB : LF.SUB, a, b, r, mask, sign);
      return r;
    },
    (c, a, b) => logic(c, a & b & mask, mask, sign),
    (c, a, b) => { const r = (a - b) & mask; lazy(c, LF.SUB, a, b, r, mask, sign); return r; },
    (c, a, b) => logic(c, (a ^ b) & mask, mask, sign),
    (c, a, b) => { const r = (a - b) & mask; lazy(c, LF.SUB, a, b, r, mask, sign); return r; },
  ];
}

/** ALU operations indexed by the ModRM.reg / opcode bits 3-5 encoding. */
export const ALU8 = makeOps(0xff, 0x80);
export const ALU16 = makeOps(0xffff, 0x8000);
export const ALU32 = makeOps(-1, 0x80000000 | 0);
const NAMES = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const CMP = 7;

// --- exec builders: r/m destination (read-modify-write unless CMP) ---------

function rmDst8(op: number, src: (c: Cpu, i: Insn) => number): ExecFn {
  const f = ALU8[op]!;
  if (op === CMP) return (c, i) => { f(c, rmRead8(c, i), src(c, i)); };
  return (c, i) => {
    if (i.mod === 3) { c.r8[i.rmb] = f(c, c.r8[i.rmb]!, src(c, i)); return; }
    const la = laW(c, i, 1);
    c.probeW(la, 1);
    const v = c.rd8(la);
    c.wr8(la, f(c, v, src(c, i)));
  };
}
function rmDst16(op: number, src: (c: Cpu, i: Insn) => number): ExecFn {
  const f = ALU16[op]!;
  if (op === CMP) return (c, i) => { f(c, rmRead16(c, i), src(c, i)); };
  return (c, i) => {
    if (i.mod === 3) { c.r16[i.rm << 1] = f(c, c.r16[i.rm << 1]!, src(c, i)); return; }
    const la = laW(c, i, 2);
    c.probeW(la, 2);
    const v = c.rd16(la);
    c.wr16(la, f(c, v, src(c, i)));
  };
}
function rmDst32(op: number, src: (c: Cpu, i: Insn) => number): ExecFn {
  const f = ALU32[op]!;
  if (op === CMP) return (c, i) => { f(c, rmRead32(c, i), src(c, i)); };
  return (c, i) => {
    if (i.mod === 3) { c.r32[i.rm] = f(c, c.r32[i.rm]!, src(c, i)); return; }
    const la = laW(c, i, 4);
    c.probeW(la, 4);
    const v = c.rd32(la);
    c.wr32(la, f(c, v, src(c, i)));
  };
}

const srcReg8 = (c: Cpu, i: Insn): number => c.r8[i.rb]!;
const srcReg16 = (c: Cpu, i: Insn): number => c.r16[i.reg << 1]!;
const srcReg32 = (c: Cpu, i: Insn): number => c.r32[i.reg]!;
const srcImm8 = (_c: Cpu, i: Insn): number => i.imm & 0xff;
const srcImm16 = (_c: Cpu, i: Insn): number => i.imm & 0xffff;
const srcImm32 = (_c: Cpu, i: Insn): number => i.imm | 0;

export function register(t: OpTable): void {
  for (let op = 0; op < 8; op++) {
    const base = op << 3;
    const name = NAMES[op]!;
    const lockable = op === CMP ? 0 : D.LOCKABLE;
    const f8 = ALU8[op]!, f16 = ALU16[op]!, f32 = ALU32[op]!;
    t.op(base + 0, { name, modrm: true, exec: rmDst8(op, srcReg8), flags: lockable | D.BYTE });
    t.op(base + 1, { name, modrm: true, exec: rmDst32(op, srcReg32), exec16: rmDst16(op, srcReg16), flags: lockable });
    if (op === CMP) {
      t.op(base + 2, { name, modrm: true, exec: (c, i) => { f8(c, c.r8[i.rb]!, rmRead8(c, i)); }, flags: D.BYTE });
      t.op(base + 3, {
        name, modrm: true,
        exec: (c, i) => { f32(c, c.r32[i.reg]!, rmRead32(c, i)); },
        exec16: (c, i) => { f16(c, c.r16[i.reg << 1]!, rmRead16(c, i)); },
      });
      t.op(base + 4, { name, imm: Imm.B, exec: (c, i) => { f8(c, c.r8[0]!, i.imm); }, flags: D.BYTE });
      t.op(base + 5, {
        name, imm: Imm.Z,
        exec: (c, i) => { f32(c, c.r32[0]!, i.imm); },
        exec16: (c, i) => { f16(c, c.r16[0]!, i.imm & 0xffff); },
      });
    } else {
      t.op(base + 2, { name, modrm: true, exec: (c, i) => { c.r8[i.rb] = f8(c, c.r8[i.rb]!, rmRead8(c, i)); }, flags: D.BYTE });
      t.op(base + 3, {
        name, modrm: true,
        exec: (c, i) => { c.r32[i.reg] = f32(c, c.r32[i.reg]!, rmRead32(c, i)); },
        exec16: (c, i) => { c.r16[i.reg << 1] = f16(c, c.r16[i.reg << 1]!, rmRead16(c, i)); },
      });
      t.op(base + 4, { name, imm: Imm.B, exec: (c, i) => { c.r8[0] = f8(c, c.r8[0]!, i.imm); }, flags: D.BYTE });
      t.op(base + 5, {
        name, imm: Imm.Z,
        exec: (c, i) => { c.r32[0] = f32(c, c.r32[0]!, i.imm); },
        exec16: (c, i) => { c.r16[0] = f16(c, c.r16[0]!, i.imm & 0xffff); },
      });
    }
    // Group 1: 80 (Eb,Ib), 81 (Ev,Iz), 82 (alias of 80 in 32-bit mode), 83 (Ev,Ib sign-extended).
    t.group(0x80, op, { name, imm: Imm.B, exec: rmDst8(op, srcImm8), flags: lockable | D.BYTE });
    t.group(0x81, op, { name, imm: Imm.Z, exec: rmDst32(op, srcImm32), exec16: rmDst16(op, srcImm16), flags: lockable });
    t.group(0x82, op, { name, imm: Imm.B, exec: rmDst8(op, srcImm8), flags: lockable | D.BYTE });
    t.group(0x83, op, { name, imm: Imm.SB, exec: rmDst32(op, srcImm32), exec16: rmDst16(op, srcImm16), flags: lockable });
  }

  // TEST
  const and8 = ALU8[4]!, and16 = ALU16[4]!, and32 = ALU32[4]!;
  t.op(0x84, { name: 'test', modrm: true, exec: (c, i) => { and8(c, rmRead8(c, i), c.r8[i.rb]!); }, flags: D.BYTE });
  t.op(0x85, {
    name: 'test', modrm: true,
    exec: (c, i) => { and32(c, rmRead32(c, i), c.r32[i.reg]!); },
    exec16: (c, i) => { and16(c, rmRead16(c, i), c.r16[i.reg << 1]!); },
  });
  t.op(0xa8, { name: 'test', imm: Imm.B, exec: (c, i) => { and8(c, c.r8[0]!, i.imm); }, flags: D.BYTE });
  t.op(0xa9, {
    name: 'test', imm: Imm.Z,
    exec: (c, i) => { and32(c, c.r32[0]!, i.imm); },
    exec16: (c, i) => { and16(c, c.r16[0]!, i.imm & 0xffff); },
  });
  const test8: ExecFn = (c, i) => { and8(c, rmRead8(c, i), i.imm); };
  const test32: ExecFn = (c, i) => { and32(c, rmRead32(c, i), i.imm); };
  const test16: ExecFn = (c, i) => { and16(c, rmRead16(c, i), i.imm & 0xffff); };
  // F6/F7 /0 and the undocumented alias /1.
  t.group(0xf6, 0, { name: 'test', imm: Imm.B, exec: test8, flags: D.BYTE });
  t.group(0xf6, 1, { name: 'test', imm: Imm.B, exec: test8, flags: D.BYTE });
  t.group(0xf7, 0, { name: 'test', imm: Imm.Z, exec: test32, exec16: test16 });
  t.group(0xf7, 1, { name: 'test', imm: Imm.Z, exec: test32, exec16: test16 });

  // NOT / NEG
  t.group(0xf6, 2, { name: 'not', exec: unary8((_c, v) => ~v & 0xff), flags: D.LOCKABLE | D.BYTE });
  t.group(0xf7, 2, { name: 'not', exec: unary32((_c, v) => ~v), exec16: unary16((_c, v) => ~v & 0xffff), flags: D.LOCKABLE });
  const sub8 = ALU8[5]!, sub16 = ALU16[5]!, sub32 = ALU32[5]!;
  t.group(0xf6, 3, { name: 'neg', exec: unary8((c, v) => sub8(c, 0, v)), flags: D.LOCKABLE | D.BYTE });
  t.group(0xf7, 3, { name: 'neg', exec: unary32((c, v) => sub32(c, 0, v)), exec16: unary16((c, v) => sub16(c, 0, v)), flags: D.LOCKABLE });

  // INC / DEC
  for (let r = 0; r < 8; r++) {
    t.op(0x40 + r, {
      name: 'inc',
      exec: (c, i) => { c.r32[i.op & 7] = incdec(c, c.r32[i.op & 7]!, 1, -1, 0x80000000 | 0); },
      exec16: (c, i) => { c.r16[(i.op & 7) << 1] = incdec(c, c.r16[(i.op & 7) << 1]!, 1, 0xffff, 0x8000); },
    });
    t.op(0x48 + r, {
      name: 'dec',
      exec: (c, i) => { c.r32[i.op & 7] = incdec(c, c.r32[i.op & 7]!, -1, -1, 0x80000000 | 0); },
      exec16: (c, i) => { c.r16[(i.op & 7) << 1] = incdec(c, c.r16[(i.op & 7) << 1]!, -1, 0xffff, 0x8000); },
    });
  }
  t.group(0xfe, 0, { name: 'inc', exec: unary8((c, v) => incdec(c, v, 1, 0xff, 0x80)), flags: D.LOCKABLE | D.BYTE });
  t.group(0xfe, 1, { name: 'dec', exec: unary8((c, v) => incdec(c, v, -1, 0xff, 0x80)), flags: D.LOCKABLE | D.BYTE });
  t.group(0xff, 0, {
    name: 'inc', exec: unary32((c, v) => incdec(c, v, 1, -1, 0x80000000 | 0)),
    exec16: unary16((c, v) => incdec(c, v, 1, 0xffff, 0x8000)), flags: D.LOCKABLE,
  });
  t.group(0xff, 1, {
    name: 'dec', exec: unary32((c, v) => incdec(c, v, -1, -1, 0x80000000 | 0)),
    exec16: unary16((c, v) => incdec(c, v, -1, 0xffff, 0x8000)), flags: D.LOCKABLE,
  });
}

/** INC (delta 1) / DEC (delta -1): like ADD/SUB 1 but CF is preserved. */
function incdec(c: Cpu, v: number, delta: number, mask: number, sign: number): number {
  const cf = getCF(c);
  const r = (v + delta) & mask;
  c.flags = cf ? c.flags | CF : c.flags & ~CF;
  c.lfOp = delta > 0 ? LF.ADD : LF.SUB;
  c.lfDst = v;
  c.lfSrc = 1;
  c.lfRes = r;
  c.lfMask = mask;
  c.lfSign = sign;
  c.lfLazy = ARITH & ~CF;
  return r;
}

/** Build a read-modify-write exec for a one-operand r/m instruction. */
export function unary8(f: (c: Cpu, v: number) => number): ExecFn {
  return (c, i) => {
    if (i.mod === 3) { c.r8[i.rmb] = f(c, c.r8[i.rmb]!); return; }
    const la = laW(c, i, 1);
    c.probeW(la, 1);
    const v = c.rd8(la);
    c.wr8(la, f(c, v));
  };
}
export function unary16(f: (c: Cpu, v: number) => number): ExecFn {
  return (c, i) => {
    if (i.mod === 3) { c.r16[i.rm << 1] = f(c, c.r16[i.rm << 1]!); return; }
    const la = laW(c, i, 2);
    c.probeW(la, 2);
    const v = c.rd16(la);
    c.wr16(la, f(c, v));
  };
}
export function unary32(f: (c: Cpu, v: number) => number): ExecFn {
  return (c, i) => {
    if (i.mod === 3) { c.r32[i.rm] = f(c, c.r32[i.rm]!); return; }
    const la = laW(c, i, 4);
    c.probeW(la, 4);
    const v = c.rd32(la);
    c.wr32(la, f(c, v));
  };
}
