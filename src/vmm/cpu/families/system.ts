/**
 * System instructions: segment-register loads and stores on the stack,
 * far control transfers, software interrupts and IRET, CLI/STI, BOUND,
 * ARPL and HLT. (Descriptor-table, control-register, MSR, I/O and VMCALL
 * instructions live in sysregs.ts; MOV r/m,Sreg in mov.ts.)
 *
 *  - MOV Sreg,r/m (8E): loading CS (reg 1) or reg 6/7 is #UD; the load
 *    itself follows segments.ts (SDM vol. 2 "MOV"). MOV SS and POP SS set
 *    the interrupt shadow and end the block (SDM vol. 2 "MOV", "POP").
 *  - PUSH Sreg (06, 0E, 16, 1E, 0F A0, 0F A8): with a 32-bit operand size
 *    the selector is zero-extended and written as a dword. The SDM allows
 *    either that or a 16-bit store; AMD processors (our reference host)
 *    write the dword, recent Intel cores a word.
 *  - POP Sreg (07, 17, 1F, 0F A1, 0F A9): read the slot, load the register
 *    (which may fault), then release the slot.
 *  - LES/LDS (C4/C5), LSS/LFS/LGS (0F B2/B4/B5): memory operand only (a
 *    register operand is #UD); offset then selector, segment load first,
 *    general register last.
 *  - JMP/CALL far (EA, 9A, FF /5, FF /3), RET far (CB, CA imm16): see
 *    segments.ts. IRET (CF): see interrupts.ts.
 *  - INT n (CD), INT3 (CC), INTO (CE, only when OF is set): software
 *    interrupts, gate DPL checked against CPL; INT1/ICEBP (F1): #DB
 *    delivered like a hardware trap, without the DPL check (SDM vol. 2
 *    "INT n/INTO/INT3/INT1"). All deliver with EIP past the instruction.
 *  - BOUND (62): memory operand only; #BR when the signed index is below
 *    the lower or above the upper bound.
 *  - ARPL (63): protected mode only (#UD otherwise); raises the RPL of the
 *    destination selector to the source's, setting ZF when it did.
 *  - CLI/STI (FA/FB): #GP(0) unless CPL <= IOPL (with CR4.PVI at CPL 3 they
 *    act on VIF instead); STI that sets IF opens a one-instruction
 *    interrupt shadow.
 */
import { Cpu, CR4_PVI, Exit, IntKind, R, Seg } from '../cpu.js';
import { CpuFault, Vec } from '../fault.js';
import { IF, IOPL, VIF, VIP, ZF, getOF, materialize } from '../flags.js';
import { D, Imm, type ExecFn, type Insn } from '../insn.js';
import { iret } from '../interrupts.js';
import { deliverUnwatched } from '../debug.js';
import { ea, laW, peekStack16, peekStack32, push16, push32, segR } from '../operands.js';
import { farCall, farJump, farReturn, loadSegment, protectedMode } from '../segments.js';
import type { OpTable } from '../table.js';

/** Offset of the memory operand plus `k` bytes, wrapped to the address size. */
function eaPlus(c: Cpu, i: Insn, k: number): number {
  const e = ea(c, i);
  return i.a16 ? (e + k) & 0xffff : (e + k) | 0;
}

/** Read a far pointer m16:32 / m16:16 (offset, then selector) into farOff / farSel. */
let farOff = 0, farSel = 0;
function readFarPointer(c: Cpu, i: Insn, o16: boolean): void {
  const e = ea(c, i);
  if (o16) {
    farOff = c.rd16(segR(c, i.seg, e, 2));
    farSel = c.rd16(segR(c, i.seg, eaPlus(c, i, 2), 2));
  } else {
    farOff = c.rd32(segR(c, i.seg, e, 4));
    farSel = c.rd16(segR(c, i.seg, eaPlus(c, i, 4), 2));
  }
}

/** After loading SS: block interrupts (and the run loop's batching) for one instruction. */
function ssShadow(c: Cpu): void {
  c.intShadow = true;
  c.brk = true;
}

/** Release `n` bytes of stack using the stack size in force before a POP SS. */
function release(c: Cpu, big: boolean, n: number): void {
  if (big) c.r32[R.ESP] = (c.r32[R.ESP]! + n) | 0;
  else c.r16[R.ESP << 1] = (c.r16[R.ESP << 1]! + n) & 0xffff;
}

function pushSeg(t: OpTable, op: number, seg: number, name: string): void {
  t.op(op, {
    name,
    exec: (c) => { push32(c, c.segSel[seg]!); },
    exec16: (c) => { push16(c, c.segSel[seg]!); },
  });
}

function popSeg(t: OpTable, op: number, seg: number, name: string): void {
  t.op(op, {
    name,
    exec: (c) => {
      const big = c.stack32;
      loadSegment(c, seg, peekStack32(c, 0) & 0xffff);
      release(c, big, 4);
      if (seg === Seg.SS) ssShadow(c);
    },
    exec16: (c) => {
      const big = c.stack32;
      loadSegment(c, seg, peekStack16(c, 0));
      release(c, big, 2);
      if (seg === Seg.SS) ssShadow(c);
    },
  });
}

/** LES/LDS/LSS/LFS/LGS r, m16:32 (or m16:16). */
function loadFar(t: OpTable, op: number, seg: number, name: string): void {
  t.op(op, {
    name, modrm: true, flags: D.MEM_ONLY,
    exec: (c, i) => {
      readFarPointer(c, i, false);
      const off = farOff;
      loadSegment(c, seg, farSel);
      c.r32[i.reg] = off;
    },
    exec16: (c, i) => {
      readFarPointer(c, i, true);
      const off = farOff;
      loadSegment(c, seg, farSel);
      c.r16[i.reg << 1] = off;
    },
  });
}

/** Deliver a software interrupt from an exec function (EIP is already past it). */
function softInt(c: Cpu, vector: number): void {
  deliverUnwatched(c, vector, IntKind.SOFTWARE);
}

/**
 * CLI/STI privilege check (SDM vol. 2 "CLI", "STI"): returns true when the
 * instruction acts on IF, false when it acts on VIF (PVI at CPL 3); throws
 * #GP(0) otherwise.
 */
function ifAccess(c: Cpu): boolean {
  if (c.cpl <= (c.flags & IOPL) >>> 12) return true;
  if (c.cpl === 3 && (c.cr4 & CR4_PVI) !== 0 && protectedMode(c)) return false;
  throw new CpuFault(Vec.GP, 0);
}

/** Register the system instructions listed in the header. */
export function register(t: OpTable): void {
  // HLT: privileged (#GP(0) unless CPL 0); halts until an interrupt.
  t.op(0xf4, {
    name: 'hlt', flags: D.ENDS,
    exec: (c) => {
      if (c.cpl !== 0) throw new CpuFault(Vec.GP, 0);
      c.halted = true;
      c.requestExit(Exit.HLT);
    },
  });

  // --- segment registers ---------------------------------------------------
  pushSeg(t, 0x06, Seg.ES, 'push es');
  pushSeg(t, 0x0e, Seg.CS, 'push cs');
  pushSeg(t, 0x16, Seg.SS, 'push ss');
  pushSeg(t, 0x1e, Seg.DS, 'push ds');
  pushSeg(t, 0x0fa0, Seg.FS, 'push fs');
  pushSeg(t, 0x0fa8, Seg.GS, 'push gs');
  popSeg(t, 0x07, Seg.ES, 'pop es');
  popSeg(t, 0x17, Seg.SS, 'pop ss');
  popSeg(t, 0x1f, Seg.DS, 'pop ds');
  popSeg(t, 0x0fa1, Seg.FS, 'pop fs');
  popSeg(t, 0x0fa9, Seg.GS, 'pop gs');

  const movSreg: ExecFn = (c, i) => {
    const r = i.reg;
    if (r === Seg.CS || r > Seg.GS) throw new CpuFault(Vec.UD);
    const v = i.mod === 3 ? c.r16[i.rm << 1]! : c.rd16(segR(c, i.seg, ea(c, i), 2));
    loadSegment(c, r, v);
    if (r === Seg.SS) ssShadow(c);
  };
  t.op(0x8e, { name: 'mov', modrm: true, exec: movSreg });

  loadFar(t, 0xc4, Seg.ES, 'les');
  loadFar(t, 0xc5, Seg.DS, 'lds');
  loadFar(t, 0x0fb2, Seg.SS, 'lss');
  loadFar(t, 0x0fb4, Seg.FS, 'lfs');
  loadFar(t, 0x0fb5, Seg.GS, 'lgs');

  // --- far transfers -----------------------------------------------------------
  t.op(0xea, {
    name: 'jmp far', imm: Imm.AP, flags: D.ENDS,
    exec: (c, i) => { farJump(c, i.imm2, i.imm, false); },
    exec16: (c, i) => { farJump(c, i.imm2, i.imm, true); },
  });
  t.op(0x9a, {
    name: 'call far', imm: Imm.AP, flags: D.ENDS,
    exec: (c, i) => { farCall(c, i.imm2, i.imm, false); },
    exec16: (c, i) => { farCall(c, i.imm2, i.imm, true); },
  });
  t.group(0xff, 3, {
    name: 'call far', flags: D.ENDS | D.MEM_ONLY,
    exec: (c, i) => { readFarPointer(c, i, false); farCall(c, farSel, farOff, false); },
    exec16: (c, i) => { readFarPointer(c, i, true); farCall(c, farSel, farOff, true); },
  });
  t.group(0xff, 5, {
    name: 'jmp far', flags: D.ENDS | D.MEM_ONLY,
    exec: (c, i) => { readFarPointer(c, i, false); farJump(c, farSel, farOff, false); },
    exec16: (c, i) => { readFarPointer(c, i, true); farJump(c, farSel, farOff, true); },
  });
  t.op(0xcb, {
    name: 'retf', flags: D.ENDS,
    exec: (c) => { farReturn(c, false, 0); },
    exec16: (c) => { farReturn(c, true, 0); },
  });
  t.op(0xca, {
    name: 'retf', imm: Imm.W, flags: D.ENDS,
    exec: (c, i) => { farReturn(c, false, i.imm); },
    exec16: (c, i) => { farReturn(c, true, i.imm); },
  });

  // --- interrupts -------------------------------------------------------------
  t.op(0xcc, { name: 'int3', flags: D.ENDS, exec: (c) => { softInt(c, Vec.BP); } });
  t.op(0xcd, { name: 'int', imm: Imm.B, flags: D.ENDS, exec: (c, i) => { softInt(c, i.imm & 0xff); } });
  t.op(0xce, { name: 'into', flags: D.ENDS, exec: (c) => { if (getOF(c)) softInt(c, Vec.OF); } });
  t.op(0xf1, {
    name: 'int1', flags: D.ENDS,
    // A "privileged software exception": no gate DPL check, EXT set in nested error codes.
    exec: (c) => { deliverUnwatched(c, Vec.DB, IntKind.EXCEPTION); },
  });
  t.op(0xcf, {
    name: 'iret', flags: D.ENDS,
    exec: (c) => { iret(c, false); },
    exec16: (c) => { iret(c, true); },
  });

  t.op(0xfa, {
    name: 'cli',
    exec: (c) => {
      if (ifAccess(c)) c.flags &= ~IF;
      else c.flags &= ~VIF;
    },
  });
  t.op(0xfb, {
    name: 'sti',
    exec: (c) => {
      if (!ifAccess(c)) {
        if ((c.flags & VIP) !== 0) throw new CpuFault(Vec.GP, 0);
        c.flags |= VIF;
        return;
      }
      if ((c.flags & IF) === 0) {
        c.flags |= IF;
        // Interrupts stay blocked until the next instruction completes.
        c.intShadow = true;
        c.brk = true;
      }
    },
  });

  // --- BOUND, ARPL ---------------------------------------------------------------
  t.op(0x62, {
    name: 'bound', modrm: true, flags: D.MEM_ONLY,
    exec: (c, i) => {
      const lo = c.rd32(segR(c, i.seg, ea(c, i), 4));
      const hi = c.rd32(segR(c, i.seg, eaPlus(c, i, 4), 4));
      const v = c.r32[i.reg]!;
      if (v < lo || v > hi) throw new CpuFault(Vec.BR);
    },
    exec16: (c, i) => {
      const lo = (c.rd16(segR(c, i.seg, ea(c, i), 2)) << 16) >> 16;
      const hi = (c.rd16(segR(c, i.seg, eaPlus(c, i, 2), 2)) << 16) >> 16;
      const v = (c.r16[i.reg << 1]! << 16) >> 16;
      if (v < lo || v > hi) throw new CpuFault(Vec.BR);
    },
  });
  t.op(0x63, {
    name: 'arpl', modrm: true, flags: D.BYTE,
    exec: (c, i) => {
      if (!protectedMode(c)) throw new CpuFault(Vec.UD);
      const src = c.r16[i.reg << 1]! & 3;
      let la = 0, dst: number;
      if (i.mod === 3) {
        dst = c.r16[i.rm << 1]!;
      } else {
        la = laW(c, i, 2);
        dst = c.rd16(la);
      }
      const adjust = (dst & 3) < src;
      // The write (which may fault) comes before the flag update.
      if (adjust) {
        if (i.mod === 3) c.r16[i.rm << 1] = (dst & ~3) | src;
        else c.wr16(la, (dst & ~3) | src);
      }
      materialize(c);
      c.flags = adjust ? c.flags | ZF : c.flags & ~ZF;
    },
  });
}
