/**
 * Interrupt and exception delivery through the IDT, and IRET.
 *
 * Specs followed (Intel SDM):
 *  - vol. 3A §6.10-6.13: IDT and gate descriptors, interrupt versus trap
 *    gates (only interrupt gates clear IF; both clear TF, NT, RF and VM),
 *    privilege rules, the stack switch through the TSS (§6.12.1), error
 *    codes with the EXT and IDT bits (§6.13);
 *  - vol. 3A §6.3 table 6-1 for the fault/trap class of each vector (RF
 *    is set in the pushed EFLAGS image of every fault-class exception,
 *    vol. 3B §17.3.1.1);
 *  - vol. 2 "INT n/INTO/INT3/INT1" and "IRET/IRETD" operation sections,
 *    whose check order and error codes we keep; §20.1.4 for real mode.
 *
 * Precise delivery: the gate, the target code segment, the inner stack
 * (from the TSS) and every stack slot are checked — limits first, then
 * pages — before anything changes. A fault raised here propagates as a
 * CpuFault; the run loop (exec.ts) turns faults during delivery into #DF
 * and a fault while delivering #DF into a triple fault.
 *
 * Error codes for faults raised while delivering: EXT (bit 0) is set unless
 * the event is a software interrupt (INT n, INT3, INTO); references to an
 * IDT entry are vector*8 + 2 (the IDT bit).
 *
 * Task gates switch tasks (segments.ts, SDM §6.11.2, §7.3); an IRET with
 * NT set returns to the previous task.
 *
 * Documented deviations:
 *  - virtual-8086 mode is never entered: an IRET at CPL 0 whose EFLAGS
 *    image has VM set raises #GP(0);
 *  - RF is produced in pushed EFLAGS images but not kept in `cpu.flags`
 *    (it only matters to instruction breakpoints, which the run loop does
 *    not implement), so IRET does not load it.
 */
import { CR0_PE, Cpu, IntKind, R, SA, Seg, type Delivery } from './cpu.js';
import { CpuFault, Vec } from './fault.js';
import {
  AC, ARITH, DF, FIXED1, ID, IF, IOPL, NT, RF, TF, VIF, VIP, VM, readEflags,
} from './flags.js';
import { peekStack16, peekStack32 } from './operands.js';
import { setAccessed } from './descriptor.js';
import {
  Desc, StackFrame, addSp, checkInnerStack, checkReturnCode, checkReturnStack, commitCS, descBase,
  descConforming, descDpl, descIsCode, descLimit, descAttr, descPresent, loadCacheFrom,
  nullInaccessibleSegments, readDesc, readTssStack, setOuterSp, switchTask, sysRead16, sysRead32, taskGateTarget,
  taskReturn, TaskSrc, tssStack,
} from './segments.js';

/** Vectors whose exceptions are faults (table 6-1): their pushed EFLAGS image has RF set. */
const FAULT_CLASS: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const v of [0, 5, 6, 7, 10, 11, 12, 13, 14, 16, 17, 19, 20]) t[v] = 1;
  return t;
})();

const D_CS = new Desc();
const D_SS = new Desc();
const D_RCS = new Desc();
const D_RSS = new Desc();
const FRAME = new StackFrame();

function gp(ec: number): CpuFault { return new CpuFault(Vec.GP, ec); }

/**
 * The default delivery policy: real-mode IVT or protected-mode IDT,
 * depending on CR0.PE.
 */
export class IdtDelivery implements Delivery {
  deliver(cpu: Cpu, vector: number, kind: IntKind, errorCode: number): void {
    if ((cpu.cr0 & CR0_PE) === 0) deliverReal(cpu, vector);
    else deliverProtected(cpu, vector, kind, errorCode);
    cpu.halted = false;
  }
}

/**
 * Real-address-mode delivery (SDM §20.1.4): the IVT entry at IDTR.base +
 * 4*vector gives CS:IP; FLAGS, CS and IP are pushed (16-bit), IF, TF and AC
 * are cleared. No error code is pushed. #GP(0) when the entry lies beyond
 * the IDT limit, #SS(0) when the stack cannot hold the frame.
 */
export function deliverReal(cpu: Cpu, vector: number): void {
  if (vector * 4 + 3 > cpu.idtrLimit >>> 0) throw gp(0);
  const a = (cpu.idtrBase + vector * 4) | 0;
  const ip = sysRead16(cpu, a), cs = sysRead16(cpu, (a + 2) | 0);
  const f = FRAME.beginCurrent(cpu, 0)
    .push16(readEflags(cpu)).push16(cpu.segSel[Seg.CS]!).push16(cpu.eip);
  f.checkLimits();
  f.probe(cpu);
  f.write(cpu);
  cpu.r32[R.ESP] = f.sp;
  // Real mode: base = selector * 16, limit and attributes unchanged.
  cpu.loadSegCache(Seg.CS, cs, cs << 4, cpu.segLimit[Seg.CS]!, (cpu.segAttr[Seg.CS]! & ~SA.NULL) | SA.P | SA.S);
  cpu.eip = ip;
  cpu.flags &= ~(IF | TF | AC);
}

/**
 * Protected-mode delivery of `vector` through the IDT (SDM vol. 2 "INT n"
 * PROTECTED-MODE, INTER- and INTRA-PRIVILEGE-LEVEL-INTERRUPT). `errorCode`
 * (>= 0) is pushed after EIP with the gate's size. `cpu.eip` is the return
 * address: the faulting instruction for faults, the next one for traps and
 * software interrupts.
 */
export function deliverProtected(cpu: Cpu, vector: number, kind: IntKind, errorCode: number): void {
  const ext = kind === IntKind.SOFTWARE ? 0 : 1;
  const idtEc = vector * 8 + 2 + ext;
  if (vector * 8 + 7 > cpu.idtrLimit >>> 0) throw gp(idtEc);
  const a = (cpu.idtrBase + vector * 8) | 0;
  const lo = sysRead32(cpu, a), hi = sysRead32(cpu, (a + 4) | 0);
  // Type with the S bit: only system task (5), 16-bit interrupt/trap (6/7)
  // and 32-bit interrupt/trap (0xE/0xF) gates are valid IDT entries.
  const t = (hi >>> 8) & 0x1f;
  if (t !== 5 && t !== 6 && t !== 7 && t !== 0xe && t !== 0xf) throw gp(idtEc);
  // Gate DPL is checked for INT n / INT3 / INTO only (no EXT bit: software).
  if (kind === IntKind.SOFTWARE && ((hi >>> 13) & 3) < cpu.cpl) throw gp(vector * 8 + 2);
  if ((hi & 0x8000) === 0) throw new CpuFault(Vec.NP, idtEc);
  if (t === 5) {
    // Task gate: switch to the TSS it names; the error code goes on the new task's stack.
    const tss = taskGateTarget(cpu, lo, ext);
    switchTask(cpu, tss, TaskSrc.INT, errorCode, ext, false);
    return;
  }

  const gate32 = t >= 0xe;
  const trapGate = (t & 1) !== 0;
  const csSel = lo >>> 16;
  const off = gate32 ? ((lo & 0xffff) | (hi & 0xffff0000)) | 0 : lo & 0xffff;
  if ((csSel & 0xfffc) === 0) throw gp(ext);
  const d = D_CS;
  const cec = (csSel & 0xfffc) | ext;
  if (!readDesc(cpu, csSel, d)) throw gp(cec);
  const dpl = descDpl(d);
  if (!descIsCode(d) || dpl > cpu.cpl) throw gp(cec);
  if (!descPresent(d)) throw new CpuFault(Vec.NP, cec);

  let eflags = readEflags(cpu);
  if (kind === IntKind.EXCEPTION && FAULT_CLASS[vector] === 1) eflags |= RF;
  const oldCs = cpu.segSel[Seg.CS]!, eip = cpu.eip;
  const hasEc = errorCode >= 0;

  if (!descConforming(d) && dpl < cpu.cpl) {
    // Inner privilege: SS:ESP for ring `dpl` from the TSS.
    readTssStack(cpu, dpl, ext);
    const newSs = tssStack.ss & 0xffff;
    const s = D_SS;
    checkInnerStack(cpu, newSs, dpl, ext, s);
    const f = FRAME.begin(descBase(s), descLimit(s), descAttr(s), tssStack.esp, false, (newSs & 0xfffc) | ext);
    f.push(cpu.segSel[Seg.SS]!, gate32).push(cpu.r32[R.ESP]!, gate32).push(eflags, gate32)
      .push(oldCs, gate32).push(eip, gate32);
    if (hasEc) f.push(errorCode, gate32);
    f.checkLimits();
    if ((off >>> 0) > descLimit(d)) throw gp(ext);
    f.probe(cpu);
    setAccessed(cpu, d);
    setAccessed(cpu, s);
    // Nothing can fault from here on.
    f.write(cpu);
    loadCacheFrom(cpu, Seg.SS, newSs, s);
    cpu.r32[R.ESP] = f.sp;
    commitCS(cpu, csSel, d, dpl);
  } else {
    // Same privilege (or a conforming handler, which keeps CPL).
    const f = FRAME.beginCurrent(cpu, ext).push(eflags, gate32).push(oldCs, gate32).push(eip, gate32);
    if (hasEc) f.push(errorCode, gate32);
    f.checkLimits();
    if ((off >>> 0) > descLimit(d)) throw gp(ext);
    f.probe(cpu);
    setAccessed(cpu, d);
    f.write(cpu);
    cpu.r32[R.ESP] = f.sp;
    commitCS(cpu, csSel, d, cpu.cpl);
  }
  cpu.eip = off;
  cpu.flags &= trapGate ? ~(TF | NT | RF | VM) : ~(TF | NT | RF | VM | IF);
}

// --- IRET -----------------------------------------------------------------------

/**
 * Load EFLAGS from an IRET image by the SDM's privilege rules: the
 * arithmetic flags, TF, DF and NT always; RF is not kept (see header); AC
 * and ID with a 32-bit operand; IF only when CPL <= IOPL; IOPL (and, with a
 * 32-bit operand, VIF/VIP) only at CPL 0. `cpl` is the CPL before the
 * return. A 16-bit image leaves bits 16-31 unchanged.
 */
export function loadIretFlags(cpu: Cpu, image: number, o16: boolean, cpl: number): void {
  let mask = ARITH | TF | DF | NT;
  if (!o16) mask |= AC | ID;
  if (cpl <= ((cpu.flags & IOPL) >>> 12)) mask |= IF;
  if (cpl === 0) {
    mask |= IOPL;
    if (!o16) mask |= VIF | VIP;
  }
  // Every arithmetic flag is replaced, so nothing lazy survives.
  cpu.lfLazy = 0;
  cpu.flags = (cpu.flags & ~mask) | (image & mask) | FIXED1;
}

/**
 * IRET/IRETD (CF). Protected mode: pop EIP, CS, EFLAGS; a return to an
 * outer level also pops ESP and SS, and nulls DS/ES/FS/GS that the outer
 * level may not use. Real mode: pop IP, CS, FLAGS. See the header for NT
 * and VM.
 */
export function iret(cpu: Cpu, o16: boolean): void {
  const size = o16 ? 2 : 4;
  const pm = (cpu.cr0 & CR0_PE) !== 0;
  // NT set means a return to the previous task, decided before any pop.
  if (pm && (cpu.flags & NT) !== 0) {
    taskReturn(cpu);
    return;
  }
  // Every frame read comes next (#SS(0) when outside the stack segment).
  const eipRaw = o16 ? peekStack16(cpu, 0) : peekStack32(cpu, 0);
  const csSel = (o16 ? peekStack16(cpu, 2) : peekStack32(cpu, 4)) & 0xffff;
  const image = o16 ? peekStack16(cpu, 4) : peekStack32(cpu, 8);

  if (!pm) {
    if ((eipRaw >>> 0) > cpu.segLimit[Seg.CS]!) throw gp(0);
    addSp(cpu, 3 * size);
    cpu.loadSegCache(Seg.CS, csSel, csSel << 4, cpu.segLimit[Seg.CS]!, cpu.segAttr[Seg.CS]!);
    cpu.eip = eipRaw;
    if (o16) {
      cpu.lfLazy = 0;
      cpu.flags = (cpu.flags & ~0xffff) | (image & 0x7fd5) | FIXED1;
    } else {
      // VM, VIF and VIP keep their values; RF is not kept (see header).
      cpu.lfLazy = 0;
      cpu.flags = (image & 0x247fd5) | (cpu.flags & (VM | VIF | VIP)) | FIXED1;
    }
    return;
  }
  if (!o16 && (image & VM) !== 0 && cpu.cpl === 0) throw gp(0); // return to V86: unsupported

  const d = D_RCS;
  checkReturnCode(cpu, csSel, d);
  const rpl = csSel & 3, oldCpl = cpu.cpl;
  if (rpl === oldCpl) {
    if ((eipRaw >>> 0) > descLimit(d)) throw gp(0);
    setAccessed(cpu, d);
    addSp(cpu, 3 * size);
    commitCS(cpu, csSel, d, rpl);
    loadIretFlags(cpu, image, o16, oldCpl);
    cpu.eip = eipRaw;
    return;
  }
  // RETURN-TO-OUTER-PRIVILEGE-LEVEL.
  const espRaw = o16 ? peekStack16(cpu, 6) : peekStack32(cpu, 12);
  const ssSel = (o16 ? peekStack16(cpu, 8) : peekStack32(cpu, 16)) & 0xffff;
  const s = D_RSS;
  checkReturnStack(cpu, ssSel, rpl, s);
  if ((eipRaw >>> 0) > descLimit(d)) throw gp(0);
  setAccessed(cpu, d);
  setAccessed(cpu, s);
  // IF/IOPL rules use the CPL before the return.
  loadIretFlags(cpu, image, o16, oldCpl);
  commitCS(cpu, csSel, d, rpl);
  loadCacheFrom(cpu, Seg.SS, ssSel, s);
  setOuterSp(cpu, espRaw);
  nullInaccessibleSegments(cpu, rpl);
  cpu.eip = eipRaw;
}
