/**
 * The run loop: execute decoded blocks for a bounded instruction budget and
 * return why it stopped, as a value (Firecracker-style exits).
 *
 * Faults thrown by instruction semantics or the MMU are caught here, and
 * only here, then delivered through `cpu.delivery` (IDT or Xen PV). A fault
 * raised while delivering escalates per Intel SDM vol. 3A §6.15 table 6-5:
 * contributory-after-contributory or anything-but-benign after #PF becomes
 * #DF, and a fault while delivering #DF is a triple fault, reported as
 * Exit.TRIPLE_FAULT (the VMM decides what a shutdown means).
 *
 * The budget is exact: `run(cpu, n)` retires at most n instructions, even in
 * the middle of a block. Virtual time, replay and single-step all rely on
 * that. Instructions that must be observed one at a time (TF set, an
 * interrupt shadow, a debugger with breakpoints) run with a budget of one.
 */
import { Cpu, Exit, IntKind } from './cpu.js';
import { CpuFault, Vec } from './fault.js';
import { TF } from './flags.js';

/** Contributory exceptions (table 6-4). */
function contributory(v: number): boolean {
  return v === 0 || (v >= 10 && v <= 13);
}

/**
 * Deliver an exception, escalating to #DF and triple fault as the SDM
 * requires. Returns false on a triple fault.
 */
export function raiseException(cpu: Cpu, f: CpuFault): boolean {
  let vector = f.vector, ec = f.errorCode;
  if (vector === Vec.PF) cpu.cr2 = f.cr2;
  for (let attempt = 0; attempt < 3; attempt++) {
    const first = vector;
    try {
      cpu.deliveringVector = first;
      cpu.delivery.deliver(cpu, vector, IntKind.EXCEPTION, ec);
      cpu.deliveringVector = -1;
      return true;
    } catch (e) {
      cpu.deliveringVector = -1;
      if (!(e instanceof CpuFault)) throw e;
      if (first === Vec.DF) return false;
      const second = e.vector;
      if (second === Vec.PF) cpu.cr2 = e.cr2;
      const escalate = (contributory(first) && contributory(second)) ||
        (first === Vec.PF && (second === Vec.PF || contributory(second)));
      if (escalate) {
        vector = Vec.DF;
        ec = 0;
      } else {
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
  try {
    cpu.delivery.deliver(cpu, vector, kind, -1);
    return true;
  } catch (e) {
    if (!(e instanceof CpuFault)) throw e;
    return raiseException(cpu, e);
  }
}

/**
 * Run up to `budget` instructions. Returns the exit reason; `cpu.icount`
 * says how many retired in total.
 */
export function run(cpu: Cpu, budget: number): Exit {
  const blocks = cpu.blocks;
  let left = budget;
  cpu.exitReason = Exit.BUDGET;
  cpu.brk = false;
  while (left > 0) {
    if (cpu.halted) return Exit.HLT;
    let block;
    try {
      block = blocks.lookup();
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      if (!raiseException(cpu, e)) return Exit.TRIPLE_FAULT;
      continue;
    }
    const insns = block.insns;
    const tf = (cpu.flags & TF) !== 0;
    const single = tf || cpu.intShadow;
    let n = insns.length < left ? insns.length : left;
    if (single) n = 1;
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
      k--;
      cpu.eip = insns[k]!.eip;
      cpu.icount += k;
      left -= k;
      cpu.brk = false;
      if (!raiseException(cpu, e)) return Exit.TRIPLE_FAULT;
      if (cpu.exitReason !== Exit.BUDGET) return cpu.exitReason;
      continue;
    }
    cpu.icount += k;
    left -= k;
    if (single) {
      cpu.intShadow = false;
      if (tf && k === 1 && cpu.exitReason === Exit.BUDGET) {
        // Single-step trap after the instruction (SDM vol. 3B §17.3.1.4).
        cpu.dr[6] = cpu.dr[6]! | 0x4000;
        if (!raiseException(cpu, new CpuFault(Vec.DB))) return Exit.TRIPLE_FAULT;
      }
    }
    if (cpu.brk) {
      cpu.brk = false;
      if (cpu.exitReason !== Exit.BUDGET) return cpu.exitReason;
    }
  }
  return Exit.BUDGET;
}
