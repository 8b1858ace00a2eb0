/**
 * Near control transfers: Jcc (70-7F, 0F 80-8F), JMP (EB, E9, FF/4), CALL
 * (E8, FF/2), RET (C3, C2 imm16), LOOP/LOOPE/LOOPNE (E0-E2), JCXZ/JECXZ
 * (E3).
 *
 * A near branch checks its target against the CS limit before committing
 * (#GP(0)), as the SDM requires. With a 16-bit operand size the target is
 * truncated to 16 bits. Branches end their block.
 */
import { Seg } from '../cpu.js';
import { CpuFault, Vec } from '../fault.js';
import { getZF, testCC } from '../flags.js';
import { D, Imm, type ExecFn } from '../insn.js';
import { peekStack16, peekStack32, pop16, pop32, push16, push32, rmRead16, rmRead32 } from '../operands.js';
import type { Cpu } from '../cpu.js';
import type { OpTable } from '../table.js';

/** Commit a near branch to `target` after the CS limit check. */
export function jumpNear(c: Cpu, target: number): void {
  if ((target >>> 0) > c.segLimit[Seg.CS]!) throw new CpuFault(Vec.GP, 0);
  c.eip = target;
}

export function register(t: OpTable): void {
  for (let cc = 0; cc < 16; cc++) {
    const jcc: ExecFn = (c, i) => { if (testCC(c, cc)) jumpNear(c, i.target); };
    t.op(0x70 + cc, { name: `j${CC_NAMES[cc]}`, imm: Imm.J8, exec: jcc, flags: D.ENDS });
    t.op(0x0f80 + cc, { name: `j${CC_NAMES[cc]}`, imm: Imm.JZ, exec: jcc, flags: D.ENDS });
  }
  const jmp: ExecFn = (c, i) => { jumpNear(c, i.target); };
  t.op(0xeb, { name: 'jmp', imm: Imm.J8, exec: jmp, flags: D.ENDS });
  t.op(0xe9, { name: 'jmp', imm: Imm.JZ, exec: jmp, flags: D.ENDS });
  t.op(0xe8, {
    name: 'call', imm: Imm.JZ, flags: D.ENDS,
    exec: (c, i) => {
      if ((i.target >>> 0) > c.segLimit[Seg.CS]!) throw new CpuFault(Vec.GP, 0);
      push32(c, i.next);
      c.eip = i.target;
    },
    exec16: (c, i) => {
      if ((i.target >>> 0) > c.segLimit[Seg.CS]!) throw new CpuFault(Vec.GP, 0);
      push16(c, i.next);
      c.eip = i.target;
    },
  });
  t.group(0xff, 2, {
    name: 'call', flags: D.ENDS,
    exec: (c, i) => {
      const target = rmRead32(c, i);
      if ((target >>> 0) > c.segLimit[Seg.CS]!) throw new CpuFault(Vec.GP, 0);
      push32(c, i.next);
      c.eip = target;
    },
    exec16: (c, i) => {
      const target = rmRead16(c, i);
      if (target > c.segLimit[Seg.CS]!) throw new CpuFault(Vec.GP, 0);
      push16(c, i.next);
      c.eip = target;
    },
  });
  t.group(0xff, 4, {
    name: 'jmp', flags: D.ENDS,
    exec: (c, i) => { jumpNear(c, rmRead32(c, i)); },
    exec16: (c, i) => { jumpNear(c, rmRead16(c, i)); },
  });
  // RET: read the return address, check it, then release the stack.
  const ret32 = (c: Cpu, extra: number): void => {
    const target = peekStack32(c, 0);
    if ((target >>> 0) > c.segLimit[Seg.CS]!) throw new CpuFault(Vec.GP, 0);
    pop32(c);
    releaseStack(c, extra);
    c.eip = target;
  };
  const ret16 = (c: Cpu, extra: number): void => {
    const target = peekStack16(c, 0);
    if (target > c.segLimit[Seg.CS]!) throw new CpuFault(Vec.GP, 0);
    pop16(c);
    releaseStack(c, extra);
    c.eip = target;
  };
  // LOOP/LOOPE/LOOPNE (E2/E1/E0) and JCXZ/JECXZ (E3): the counter is CX
  // with a 16-bit address size, else ECX; the operand size only truncates
  // the target (done by the decoder). The decremented count is written only
  // after the target passed the CS-limit check, so a #GP leaves ECX intact.
  t.op(0xe2, { name: 'loop', imm: Imm.J8, exec: makeLoop(0), flags: D.ENDS });
  t.op(0xe1, { name: 'loope', imm: Imm.J8, exec: makeLoop(1), flags: D.ENDS });
  t.op(0xe0, { name: 'loopne', imm: Imm.J8, exec: makeLoop(2), flags: D.ENDS });
  t.op(0xe3, {
    name: 'jecxz', imm: Imm.J8, flags: D.ENDS,
    exec: (c, i) => { if ((i.a16 ? c.r16[2]! : c.r32[1]!) === 0) jumpNear(c, i.target); },
  });
  t.op(0xc3, { name: 'ret', flags: D.ENDS, exec: (c) => { ret32(c, 0); }, exec16: (c) => { ret16(c, 0); } });
  t.op(0xc2, {
    name: 'ret', imm: Imm.W, flags: D.ENDS,
    exec: (c, i) => { ret32(c, i.imm); },
    exec16: (c, i) => { ret16(c, i.imm); },
  });
}

/**
 * LOOP family exec: `kind` 0 = LOOP (count only), 1 = LOOPE (also ZF = 1),
 * 2 = LOOPNE (also ZF = 0). SDM vol. 2A LOOP/LOOPcc.
 */
function makeLoop(kind: number): ExecFn {
  return (c, i) => {
    const z = kind === 0 ? true : kind === 1 ? getZF(c) : !getZF(c);
    if (i.a16) {
      const n = (c.r16[2]! - 1) & 0xffff;
      if (n !== 0 && z) jumpNear(c, i.target);
      c.r16[2] = n;
    } else {
      const n = (c.r32[1]! - 1) | 0;
      if (n !== 0 && z) jumpNear(c, i.target);
      c.r32[1] = n;
    }
  };
}

/** Add `n` to the stack pointer (ESP or SP by the stack size). */
export function releaseStack(c: Cpu, n: number): void {
  if (n === 0) return;
  if (c.stack32) c.r32[4] = (c.r32[4]! + n) | 0;
  else c.r16[8] = (c.r16[8]! + n) & 0xffff;
}

export const CC_NAMES = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
