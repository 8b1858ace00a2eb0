/**
 * Architectural faults: the one type the CPU throws for #DE, #GP, #PF, ...
 *
 * A `CpuFault` is thrown from deep inside instruction semantics or the MMU
 * and caught in exactly one place (the run loop), which delivers it through
 * the IDT or through the Xen-PV delivery hook. It deliberately does not
 * extend `Error`: no stack trace is captured, so guest page faults stay
 * cheap. Host and VMM failures use ordinary `Error` subclasses.
 */

export const enum Vec {
  DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7,
  DF = 8, TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18, XM = 19,
}

/** Names for traces and crash reports, indexed by vector. */
export const VECTOR_NAMES: readonly string[] = [
  '#DE divide error', '#DB debug', 'NMI', '#BP breakpoint', '#OF overflow', '#BR bound range',
  '#UD invalid opcode', '#NM device not available', '#DF double fault', 'coprocessor overrun',
  '#TS invalid TSS', '#NP segment not present', '#SS stack fault', '#GP general protection',
  '#PF page fault', 'reserved 15', '#MF x87 error', '#AC alignment check', '#MC machine check',
  '#XM SIMD exception',
];

/** Vectors that push an error code when raised as exceptions. */
export function vectorHasErrorCode(v: number): boolean {
  return v === 8 || (v >= 10 && v <= 14) || v === 17;
}

export class CpuFault {
  constructor(
    /** Exception vector 0-31. */
    readonly vector: number,
    /** Error code pushed for vectors that have one; -1 when none. */
    readonly errorCode: number = -1,
    /** Faulting linear address, for #PF (also written to CR2). */
    readonly cr2: number = 0,
  ) {}

  toString(): string {
    const name = VECTOR_NAMES[this.vector] ?? `vector ${this.vector}`;
    const ec = this.errorCode >= 0 ? ` error=0x${this.errorCode.toString(16)}` : '';
    const addr = this.vector === Vec.PF ? ` cr2=0x${(this.cr2 >>> 0).toString(16).padStart(8, '0')}` : '';
    return `${name}${ec}${addr}`;
  }
}

export function gp(errorCode = 0): CpuFault {
  return new CpuFault(Vec.GP, errorCode);
}
export function ud(): CpuFault {
  return new CpuFault(Vec.UD);
}
export function ss(errorCode = 0): CpuFault {
  return new CpuFault(Vec.SS, errorCode);
}
export function np(errorCode: number): CpuFault {
  return new CpuFault(Vec.NP, errorCode);
}
export function ts(errorCode: number): CpuFault {
  return new CpuFault(Vec.TS, errorCode);
}
