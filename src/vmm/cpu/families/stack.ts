/**
 * Stack instructions: PUSH/POP of general registers (50-5F), PUSH imm
 * (68 Iz, 6A Ib), PUSH r/m (FF /6), POP r/m (8F /0), PUSHA/PUSHAD (60),
 * POPA/POPAD (61), PUSHF/PUSHFD (9C), POPF/POPFD (9D), ENTER (C8) and
 * LEAVE (C9), with 16- and 32-bit operand sizes on 16- and 32-bit stacks.
 * Segment-register pushes and pops belong to the system family.
 *
 * Rules from Intel SDM vol. 2B (PUSH, POP, PUSHA, POPA, PUSHF, POPF, ENTER,
 * LEAVE) that shape the code:
 *  - PUSH ESP/SP stores the value the register had before the push; POP
 *    ESP/SP leaves the popped value in the register (the increment is
 *    overwritten). PUSH r/m computes its operand address with the ESP
 *    before the decrement.
 *  - POP r/m: "If the ESP register is used as a base register for
 *    addressing a destination operand in memory, the POP instruction
 *    computes the effective address of the operand after it increments the
 *    ESP register." The stack read, the destination checks and the
 *    destination probe all happen before ESP changes, so a fault on the
 *    destination leaves ESP as it was.
 *  - PUSHA pushes EAX, ECX, EDX, EBX, the original ESP, EBP, ESI, EDI;
 *    POPA pops them back in reverse order and discards the ESP slot. All
 *    eight slots are checked (segment limit, page writability / readability)
 *    before anything changes.
 *  - PUSHF stores EFLAGS with VM and RF cleared in the image (the 16-bit
 *    form stores the low word). POPF (protected mode, CPL in c.cpl):
 *    CF PF AF ZF SF TF DF OF NT always load; IOPL loads only at CPL 0; IF
 *    loads only when CPL <= IOPL; the 32-bit form also loads AC and ID (both
 *    writable on a 686) and clears RF; VIP, VIF and VM are never changed;
 *    the 16-bit form changes bits 0-15 only. Bit 1 stays 1 and bits 3, 5,
 *    15 and 22-31 stay 0. The popped flags become the authoritative
 *    `cpu.flags` (nothing lazy remains). Virtual-8086 mode is not modelled
 *    beyond the SDM's #GP(0) for PUSHF/POPF with EFLAGS.VM = 1 and IOPL < 3
 *    (no CR4.VME virtual-interrupt handling).
 *  - POPF ends the block: TF and IF must be seen by the run loop before the
 *    next instruction (a TF set by POPF traps after the instruction that
 *    follows it, as on hardware).
 *  - ENTER imm16, imm8: the nesting level is imm8 mod 32. Level 0 pushes
 *    (E)BP; level L >= 1 pushes (E)BP, copies L - 1 frame pointers from the
 *    old frame (read at (E)BP - k * size through SS), and pushes the new
 *    frame pointer; then (E)BP <- frame pointer and (E)SP -= imm16. The
 *    operand size picks the push width and whether EBP or BP is written;
 *    the stack size picks ESP/SP and the width of the frame-pointer walk,
 *    which uses a temporary, so the upper half of EBP is untouched by a
 *    16-bit ENTER (AMD APM vol. 3 ENTER pseudo-code; on a 16-bit stack a
 *    32-bit ENTER loads EBP with the zero-extended SP). Every push slot,
 *    every frame-pointer read and the final (E)SP against the SS limit
 *    ("#SS(0) if the new value of the SP or ESP register is outside the
 *    stack segment limit") and for writability (a page fault there, as
 *    the host raises one) are checked before the first write.
 *  - LEAVE: (E)SP <- (E)BP by stack size, then (E)BP <- pop by operand
 *    size; the pop is read before ESP changes.
 *
 * Faulting multi-slot instructions (PUSHA, ENTER) store nothing: the AMD
 * host has already written the first slots when a later slot page-faults,
 * which the architecture allows (only registers must be restored); we
 * validate every slot before the first store, as this emulator does for
 * all instructions.
 *
 * No instruction here changes the arithmetic flags, except POPF.
 */
import { Seg, SF_, type Cpu } from '../cpu.js';
import { CpuFault, Vec } from '../fault.js';
import { AC, AF, CF, DF, FIXED1, ID, IF, IOPL, NT, OF, PF, RF, SF, TF, VM, ZF, readEflags } from '../flags.js';
import { D, Imm, type ExecFn, type Insn } from '../insn.js';
import {
  ea, peekStack16, peekStack32, pop16, pop32, push16, push32, rmRead16, rmRead32, segR, segW,
} from '../operands.js';
import { releaseStack } from './control.js';
import type { OpTable } from '../table.js';

const ESP = 4, EBP = 5;
const SP16 = 8, BP16 = 10;

/** Flags POPF loads at every privilege level (IF, IOPL, AC, ID, RF are handled separately). */
const POPF_ALWAYS = CF | PF | AF | ZF | SF | TF | DF | OF | NT;

/**
 * Check that `count` pushes of `n` bytes below the current stack pointer
 * would succeed (SS limit and page writability), without writing anything.
 */
function checkPushes(c: Cpu, count: number, n: number): void {
  const total = count * n;
  if (c.stack32 && (c.segFast[Seg.SS]! & SF_.WRITE) !== 0) {
    c.probeW((c.segBase[Seg.SS]! + c.r32[ESP]! - total) | 0, total);
    return;
  }
  for (let k = 1; k <= count; k++) {
    const off = c.stack32 ? (c.r32[ESP]! - k * n) | 0 : (c.r16[SP16]! - k * n) & 0xffff;
    c.probeW(segW(c, Seg.SS, off, n), n);
  }
}

/** #GP(0) for PUSHF/POPF in virtual-8086 mode with IOPL < 3. */
function vm86Check(c: Cpu): void {
  if ((c.flags & VM) !== 0 && (c.flags & IOPL) !== IOPL) throw new CpuFault(Vec.GP, 0);
}

/** Load a value popped by POPF (16-bit form when `o16`) under the privilege rules. */
function loadPopped(c: Cpu, v: number, o16: boolean): void {
  let mask = POPF_ALWAYS;
  if (!o16) mask |= AC | ID;
  if (c.cpl === 0) mask |= IOPL;
  if (c.cpl <= (c.flags & IOPL) >>> 12) mask |= IF;
  // Every arithmetic flag is in the mask, so stale lazy state is simply dropped.
  let f = (c.flags & ~mask) | (v & mask);
  if (!o16) f &= ~RF;
  c.flags = f | FIXED1;
  c.lfLazy = 0;
}

/** POP r/m (8F /0) for operand size n. */
function popRm(c: Cpu, i: Insn, n: number): void {
  const v = n === 4 ? peekStack32(c, 0) : peekStack16(c, 0);
  if (i.mod === 3) {
    releaseStack(c, n);
    if (n === 4) c.r32[i.rm] = v;
    else c.r16[i.rm << 1] = v;
    return;
  }
  const old = c.r32[ESP]!;
  const next = c.stack32 ? (old + n) | 0 : (old & ~0xffff) | ((old + n) & 0xffff);
  let off = ea(c, i);
  // Only a 32-bit ModRM can use ESP as a base (never as an index, never in 16-bit forms).
  if (i.base === ESP) off = (off + (next - old)) | 0;
  const la = segW(c, i.seg, off, n);
  c.probeW(la, n);
  c.r32[ESP] = next;
  if (n === 4) c.wr32(la, v);
  else c.wr16(la, v);
}

/** ENTER for operand size n (see the header for the ordering rules). */
function enter(c: Cpu, i: Insn, n: number): void {
  const alloc = i.imm & 0xffff;
  const level = i.imm2 & 31;
  const s32 = c.stack32;
  const sp0 = s32 ? c.r32[ESP]! : c.r16[SP16]!;
  const bp0 = s32 ? c.r32[EBP]! : c.r16[BP16]!;
  const pushes = level === 0 ? 1 : level + 1;
  // Validate everything first.
  checkPushes(c, pushes, n);
  for (let k = 1; k < level; k++) {
    const off = s32 ? (bp0 - k * n) | 0 : (bp0 - k * n) & 0xffff;
    const la = segR(c, Seg.SS, off, n);
    if (n === 4) c.rd32(la);
    else c.rd16(la);
  }
  // The final stack pointer must be inside SS and its byte writable: the
  // host (AMD) raises #PF(W) for an unmapped final ESP even when nothing
  // is stored there.
  const finalSp = s32 ? (sp0 - pushes * n - alloc) | 0 : (sp0 - pushes * n - alloc) & 0xffff;
  c.probeW(segW(c, Seg.SS, finalSp, 1), 1);
  // Commit; nothing below can fault.
  const frame = s32 ? (sp0 - n) | 0 : (sp0 - n) & 0xffff;
  if (n === 4) push32(c, c.r32[EBP]!);
  else push16(c, c.r16[BP16]!);
  if (level > 0) {
    let bp = bp0;
    for (let k = 1; k < level; k++) {
      bp = s32 ? (bp - n) | 0 : (bp - n) & 0xffff;
      const la = segR(c, Seg.SS, bp, n);
      if (n === 4) push32(c, c.rd32(la));
      else push16(c, c.rd16(la));
    }
    if (n === 4) push32(c, frame);
    else push16(c, frame);
  }
  if (n === 4) c.r32[EBP] = frame;
  else c.r16[BP16] = frame;
  if (s32) c.r32[ESP] = finalSp;
  else c.r16[SP16] = finalSp;
}

/** LEAVE for operand size n. */
function leave(c: Cpu, n: number): void {
  if (c.stack32) {
    const bp = c.r32[EBP]!;
    const la = segR(c, Seg.SS, bp, n);
    const v = n === 4 ? c.rd32(la) : c.rd16(la);
    c.r32[ESP] = (bp + n) | 0;
    if (n === 4) c.r32[EBP] = v;
    else c.r16[BP16] = v;
  } else {
    const bp = c.r16[BP16]!;
    const la = segR(c, Seg.SS, bp, n);
    const v = n === 4 ? c.rd32(la) : c.rd16(la);
    c.r16[SP16] = bp + n;
    if (n === 4) c.r32[EBP] = v;
    else c.r16[BP16] = v;
  }
}

/** Register 50-61, 68, 6A, 8F /0, 9C, 9D, C8, C9 and FF /6. */
export function register(t: OpTable): void {
  for (let r = 0; r < 8; r++) {
    const w = r << 1;
    t.op(0x50 + r, {
      name: 'push',
      exec: (c) => { push32(c, c.r32[r]!); },
      exec16: (c) => { push16(c, c.r16[w]!); },
    });
    // The register is written after the pop has moved ESP, so POP ESP keeps the popped value.
    t.op(0x58 + r, {
      name: 'pop',
      exec: (c) => { const v = pop32(c); c.r32[r] = v; },
      exec16: (c) => { const v = pop16(c); c.r16[w] = v; },
    });
  }
  const pushImm32: ExecFn = (c, i) => { push32(c, i.imm); };
  const pushImm16: ExecFn = (c, i) => { push16(c, i.imm & 0xffff); };
  t.op(0x68, { name: 'push', imm: Imm.Z, exec: pushImm32, exec16: pushImm16 });
  t.op(0x6a, { name: 'push', imm: Imm.SB, exec: pushImm32, exec16: pushImm16 });

  t.group(0xff, 6, {
    name: 'push',
    exec: (c, i) => { push32(c, rmRead32(c, i)); },
    exec16: (c, i) => { push16(c, rmRead16(c, i)); },
  });
  t.group(0x8f, 0, {
    name: 'pop',
    exec: (c, i) => { popRm(c, i, 4); },
    exec16: (c, i) => { popRm(c, i, 2); },
  });

  t.op(0x60, {
    name: 'pusha',
    exec: (c) => {
      checkPushes(c, 8, 4);
      const r = c.r32, sp = r[ESP]!;
      push32(c, r[0]!); push32(c, r[1]!); push32(c, r[2]!); push32(c, r[3]!);
      push32(c, sp); push32(c, r[5]!); push32(c, r[6]!); push32(c, r[7]!);
    },
    exec16: (c) => {
      checkPushes(c, 8, 2);
      const r = c.r16, sp = r[SP16]!;
      push16(c, r[0]!); push16(c, r[2]!); push16(c, r[4]!); push16(c, r[6]!);
      push16(c, sp); push16(c, r[10]!); push16(c, r[12]!); push16(c, r[14]!);
    },
  });
  t.op(0x61, {
    name: 'popa',
    exec: (c) => {
      // Read all eight slots before changing any register.
      const edi = peekStack32(c, 0), esi = peekStack32(c, 4), ebp = peekStack32(c, 8);
      const ebx = peekStack32(c, 16), edx = peekStack32(c, 20), ecx = peekStack32(c, 24), eax = peekStack32(c, 28);
      const r = c.r32;
      r[7] = edi; r[6] = esi; r[5] = ebp; r[3] = ebx; r[2] = edx; r[1] = ecx; r[0] = eax;
      releaseStack(c, 32);
    },
    exec16: (c) => {
      const di = peekStack16(c, 0), si = peekStack16(c, 2), bp = peekStack16(c, 4);
      const bx = peekStack16(c, 8), dx = peekStack16(c, 10), cx = peekStack16(c, 12), ax = peekStack16(c, 14);
      const r = c.r16;
      r[14] = di; r[12] = si; r[10] = bp; r[6] = bx; r[4] = dx; r[2] = cx; r[0] = ax;
      releaseStack(c, 16);
    },
  });

  t.op(0x9c, {
    name: 'pushf',
    exec: (c) => { vm86Check(c); push32(c, readEflags(c) & ~(VM | RF)); },
    exec16: (c) => { vm86Check(c); push16(c, readEflags(c) & 0xffff); },
  });
  t.op(0x9d, {
    name: 'popf', flags: D.ENDS,
    exec: (c) => { vm86Check(c); loadPopped(c, pop32(c), false); },
    exec16: (c) => { vm86Check(c); loadPopped(c, pop16(c), true); },
  });

  t.op(0xc8, {
    name: 'enter', imm: Imm.IWIB,
    exec: (c, i) => { enter(c, i, 4); },
    exec16: (c, i) => { enter(c, i, 2); },
  });
  t.op(0xc9, {
    name: 'leave',
    exec: (c) => { leave(c, 4); },
    exec16: (c) => { leave(c, 2); },
  });
}
