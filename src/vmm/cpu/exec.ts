/**
 * The run loop: execute decoded blocks for a bounded instruction budget and
 * return why it stopped, as a value (Firecracker-style exits).
 *
 * Faults thrown by instruction semantics or the MMU are caught here, and
 * only here, then delivered through `cpu.delivery` (IDT or Xen PV). A fault
 * raised while delivering escalates per Intel SDM vol. 3A §6.15 table 6-5:
 * contributory-after-contributory or contributory/#PF-after-#PF becomes
 * #DF, and a fault while delivering #DF is a triple fault, reported as
 * Exit.TRIPLE_FAULT (the VMM decides what a shutdown means).
 *
 * The budget is exact: `run(cpu, n)` retires at most n instructions, and
 * exactly n unless something ends the run earlier (HLT, an exit request, a
 * triple fault), even in the middle of a block. A faulting instruction does
 * not retire; delivering an event retires nothing. Virtual time, replay and
 * single-step all rely on that, and `cpu.icount` is therefore independent
 * of how a run is sliced into budgets.
 *
 * Instructions that must be observed one at a time run alone:
 *  - EFLAGS.TF set before an instruction: a single-step #DB trap follows it
 *    (SDM vol. 3A §17.3.1.4; DR6.BS is set), also when the instruction
 *    cleared TF (POPF, IRET). Not after an instruction that faulted (the
 *    fault is delivered instead), that delivered an event itself (INT n,
 *    INTO, INT3: entering a handler discards the pending trap, which
 *    resumes on return since TF is restored by IRET), or that ended the run.
 *    Limitation: the debug-trap shadow of MOV SS / POP SS is not modelled.
 *  - an interrupt shadow (STI, MOV SS, POP SS): the shadow covers exactly
 *    the next instruction, so `cpu.intShadow` is cleared as that instruction
 *    starts (it may set it again) and on any fault delivery. An instruction
 *    that sets `intShadow` must also set `cpu.brk`, so the rest of its block
 *    is not run under a stale shadow.
 *
 * Debugger: while breakpoints or watchpoints exist, or a single step is
 * requested (`cpu.debug`), `run` hands over to `runDebug` (debug.ts), the
 * same loop plus a breakpoint check at every block start; otherwise the
 * only cost is one test per call. Event delivery (raiseException,
 * raiseInterrupt) turns watchpoint checks off for its own accesses.
 *
 * Interrupt window: while `cpu.irqWindow` is set (the VMM has an external
 * interrupt to inject), the loop returns Exit.STOPPED at the first block
 * boundary where EFLAGS.IF=1 and no interrupt shadow is active: right after
 * the instruction an STI shadows, after an IRET, or at the end of the block
 * in which a POPF set IF.
 *
 * Protocol with instruction semantics: before `exec` runs, `cpu.eip` holds
 * the next instruction's offset; branches overwrite it. On a fault the loop
 * restores the faulting instruction's EIP. Anything that changes what the
 * next block must be checked against (CS, CR0/CR3/CR4, a code write, an exit
 * request) sets `cpu.brk`, which ends the block after the current
 * instruction. A Delivery must make progress or request an exit: an event
 * that leaves the CPU where it was would be delivered forever.
 */
import { Cpu, Exit, IntKind, type Delivery } from './cpu.js';
import { CpuFault, Vec } from './fault.js';
import { IF, TF } from './flags.js';
import type { Block } from './blocks.js';
import { runDebug } from './debug.js';

/** Contributory exceptions (table 6-4): #DE, #TS, #NP, #SS, #GP. */
function contributory(v: number): boolean {
  return v === 0 || (v >= 10 && v <= 13);
}

/** Serial (benign) faults tolerated while delivering one event before giving up as a shutdown. */
const MAX_NESTED = 8;

/**
 * Deliver an exception, escalating to #DF and triple fault as the SDM
 * requires (table 6-5). CR2 is loaded whenever a #PF is detected, also
 * when a #PF during delivery escalates to #DF (as Bochs does: the processor
 * writes CR2 as it recognises the fault). Returns false on a triple fault.
 */
export function raiseException(cpu: Cpu, f: CpuFault): boolean {
  const d = cpu.debug;
  if (!d.watchLive) return deliverException(cpu, f);
  // Accesses made by event delivery are not the instruction's: no watchpoint hits.
  d.watchLive = false;
  try {
    return deliverException(cpu, f);
  } finally {
    d.watchLive = true;
  }
}

function deliverException(cpu: Cpu, f: CpuFault): boolean {
  let vector = f.vector, ec = f.errorCode;
  if (vector === Vec.PF) cpu.cr2 = f.cr2;
  for (let attempt = 0; attempt < MAX_NESTED; attempt++) {
    const first = vector;
    try {
      cpu.deliveringVector = first;
      cpu.delivery.deliver(cpu, vector, IntKind.EXCEPTION, ec);
      cpu.deliveringVector = -1;
      return true;
    } catch (e) {
      cpu.deliveringVector = -1;
      if (!(e instanceof CpuFault)) throw e;
      // A fault while delivering #DF: shutdown.
      if (first === Vec.DF) return false;
      const second = e.vector;
      if (second === Vec.PF) cpu.cr2 = e.cr2;
      const escalate = (contributory(first) && contributory(second)) ||
        (first === Vec.PF && (second === Vec.PF || contributory(second)));
      if (escalate) {
        vector = Vec.DF;
        ec = 0;
      } else {
        // Benign combinations: handle the second fault serially.
        vector = second;
        ec = e.errorCode;
      }
    }
  }
  return false;
}

/**
 * Deliver a fault raised by a software-interrupt instruction or an external
 * interrupt, with the same escalation rules (the event itself is benign).
 */
export function raiseInterrupt(cpu: Cpu, vector: number, kind: IntKind): boolean {
  const d = cpu.debug;
  if (!d.watchLive) return deliverInterrupt(cpu, vector, kind);
  d.watchLive = false;
  try {
    return deliverInterrupt(cpu, vector, kind);
  } finally {
    d.watchLive = true;
  }
}

function deliverInterrupt(cpu: Cpu, vector: number, kind: IntKind): boolean {
  try {
    cpu.delivery.deliver(cpu, vector, kind, -1);
    return true;
  } catch (e) {
    if (!(e instanceof CpuFault)) throw e;
    return raiseException(cpu, e);
  }
}

/** Result of `stepOne` that means "keep running". */
export const CONTINUE = -1;

/** Wraps the CPU's delivery while one instruction is single-stepped, to see whether it delivered an event. */
class WatchDelivery implements Delivery {
  delivered = false;
  constructor(readonly inner: Delivery) {}
  deliver(cpu: Cpu, vector: number, kind: IntKind, errorCode: number): void {
    this.delivered = true;
    this.inner.deliver(cpu, vector, kind, errorCode);
  }
}

/**
 * Run the first instruction of `block` alone (TF or interrupt shadow), with
 * the single-step trap after it. Returns CONTINUE or an Exit.
 */
export function stepOne(cpu: Cpu, block: Block): number {
  const tf = (cpu.flags & TF) !== 0;
  const i = block.insns[0]!;
  cpu.intShadow = false; // the shadow covers this instruction only
  const watch = tf ? new WatchDelivery(cpu.delivery) : null;
  try {
    if (watch !== null) cpu.delivery = watch;
    cpu.eip = i.next;
    i.exec(cpu, i);
  } catch (e) {
    if (watch !== null && cpu.delivery === watch) cpu.delivery = watch.inner;
    if (!(e instanceof CpuFault)) throw e;
    cpu.eip = i.eip;
    cpu.brk = false;
    // A watchpoint hit by an instruction that then faulted is not reported.
    if (cpu.exitReason === Exit.WATCH) cpu.debug.dropHit();
    if (!raiseException(cpu, e)) return Exit.TRIPLE_FAULT;
    if (cpu.exitReason !== Exit.BUDGET) return cpu.exitReason;
    cpu.brk = false;
    return CONTINUE;
  }
  // Restore the delivery unless the instruction itself installed a new one.
  if (watch !== null && cpu.delivery === watch) cpu.delivery = watch.inner;
  cpu.icount++;
  if (cpu.exitReason !== Exit.BUDGET) return cpu.exitReason;
  if (watch !== null && !watch.delivered) {
    // Single-step trap after the instruction: EIP already names the next one.
    cpu.dr[6] = cpu.dr[6]! | 0x4000;
    if (!raiseException(cpu, new CpuFault(Vec.DB))) return Exit.TRIPLE_FAULT;
    if (cpu.exitReason !== Exit.BUDGET) return cpu.exitReason;
  }
  cpu.brk = false;
  return CONTINUE;
}

/**
 * Run up to `budget` instructions. Returns the exit reason; `cpu.icount`
 * says how many retired in total.
 */
export function run(cpu: Cpu, budget: number): Exit {
  // Breakpoints, watchpoints or a single step: the debugger's loop (debug.ts).
  const dbg = cpu.debug;
  if (dbg.armed || dbg.stepping) return runDebug(cpu, budget);
  const blocks = cpu.blocks;
  let left = budget;
  cpu.exitReason = Exit.BUDGET;
  cpu.brk = false;
  // The block that just ran to its end without a break: its links may name the next one.
  let prev: Block | null = null;
  while (left > 0) {
    if (cpu.halted) return Exit.HLT;
    // The VMM waits for an interrupt window: IF=1 and no shadow (set mid-block by POPF: seen at the block's end).
    if (cpu.irqWindow && (cpu.flags & IF) !== 0 && !cpu.intShadow) return Exit.STOPPED;
    let block: Block;
    try {
      block = prev !== null ? blocks.next(prev) : blocks.lookup();
    } catch (e) {
      // The first instruction of the block cannot be fetched.
      if (!(e instanceof CpuFault)) throw e;
      prev = null;
      cpu.intShadow = false;
      cpu.brk = false;
      if (!raiseException(cpu, e)) return Exit.TRIPLE_FAULT;
      if (cpu.exitReason !== Exit.BUDGET) return cpu.exitReason;
      cpu.brk = false; // the delivery's CS load: the next lookup starts afresh anyway
      continue;
    }

    if ((cpu.flags & TF) !== 0 || cpu.intShadow) {
      const icount = cpu.icount;
      const r = stepOne(cpu, block);
      left -= cpu.icount - icount;
      prev = null;
      if (r !== CONTINUE) return r as Exit;
      continue;
    }

    const insns = block.insns;
    const len = insns.length;
    const n = len < left ? len : left;
    let k = 0;
    try {
      while (k < n) {
        const i = insns[k]!;
        cpu.eip = i.next;
        k++;
        i.exec(cpu, i);
        if (cpu.brk) break;
      }
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      // The faulting instruction does not retire; the ones before it did.
      k--;
      cpu.eip = insns[k]!.eip;
      cpu.icount += k;
      left -= k;
      prev = null;
      cpu.brk = false;
      if (!raiseException(cpu, e)) return Exit.TRIPLE_FAULT;
      if (cpu.exitReason !== Exit.BUDGET) return cpu.exitReason;
      cpu.brk = false;
      continue;
    }
    cpu.icount += k;
    left -= k;
    if (cpu.brk) {
      prev = null;
      cpu.brk = false;
      if (cpu.exitReason !== Exit.BUDGET) return cpu.exitReason;
    } else {
      prev = k === len ? block : null;
    }
  }
  return Exit.BUDGET;
}
