/**
 * A recorder of the exceptions and software interrupts a vCPU delivers,
 * for crash reports: when a guest panics from its own fault handler and
 * then calls SCHEDOP_shutdown(SHUTDOWN_crash), the vCPU's registers show
 * the shutdown hypercall, while the fault that started it all is the last
 * exception recorded here.
 *
 * It wraps the CPU's `Delivery` (the IDT, or Xen PV's bounce frames) and
 * forwards every call unchanged, remembering the vector, error code and
 * CS:EIP first, so an exception whose delivery fails (and escalates to a
 * double or triple fault, or crashes the domain) is recorded too. The PV
 * hypercall trap (`int $0x82`) is not an exception and is not recorded.
 */
import { IntKind, Seg, type Cpu, type Delivery } from '../cpu/cpu.js';

/** The PV hypercall trap vector, which the recorder ignores. */
const HYPERCALL_VECTOR = 0x82;

/** One delivered exception or software interrupt. */
export interface ExceptionRecord {
  vector: number;
  kind: 'exception' | 'software' | 'external';
  /** Error code, -1 when the vector has none. */
  errorCode: number;
  cs: number;
  /** Linear address of CS base + EIP at delivery (the faulting instruction; past the INT for software interrupts). */
  linear: number;
  eip: number;
  /** CR2 at delivery (meaningful for #PF). */
  cr2: number;
  /** Instructions retired when it was delivered. */
  icount: number;
}

/** A `Delivery` that records what passes through it (the last `size` events). */
export class ExceptionLog implements Delivery {
  readonly records: ExceptionRecord[] = [];

  constructor(readonly inner: Delivery, readonly size = 8) {}

  deliver(cpu: Cpu, vector: number, kind: IntKind, errorCode: number): void {
    if (!(kind === IntKind.SOFTWARE && vector === HYPERCALL_VECTOR)) {
      if (this.records.length === this.size) this.records.shift();
      this.records.push({
        vector,
        kind: kind === IntKind.EXCEPTION ? 'exception' : kind === IntKind.SOFTWARE ? 'software' : 'external',
        errorCode,
        cs: cpu.segSel[Seg.CS]!,
        eip: cpu.eip >>> 0,
        linear: (cpu.segBase[Seg.CS]! + cpu.eip) >>> 0,
        cr2: cpu.cr2 >>> 0,
        icount: cpu.icount,
      });
    }
    this.inner.deliver(cpu, vector, kind, errorCode);
  }

  /** The most recent record, if any. */
  get last(): ExceptionRecord | undefined {
    return this.records[this.records.length - 1];
  }
}

/**
 * Install a recorder in front of the CPU's current delivery and return it.
 * Call after the machine has set its delivery (Machine's constructor does).
 */
export function recordExceptions(cpu: Cpu, size = 8): ExceptionLog {
  const log = new ExceptionLog(cpu.delivery, size);
  cpu.delivery = log;
  return log;
}
