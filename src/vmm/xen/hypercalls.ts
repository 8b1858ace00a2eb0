/**
 * The hypercall table: each Xen subsystem registers its handlers here
 * (Solo5-style module registration), and the VMM dispatches a trapped
 * hypercall through it.
 *
 * Calling convention (x86_32, reference §1.6): EAX = number, arguments in
 * EBX, ECX, EDX, ESI, EDI (EBP for a sixth), result in EAX. Unknown numbers,
 * and numbers not available to the guest type (hypercall-defs.c: pv32 vs
 * hvm32), return -ENOSYS. Handlers return Xen's errno for bad arguments and
 * never throw for guest-controlled input; a thrown Error means a broken VMM
 * invariant and stops the VMM.
 */
import type { GuestAccess } from './guest-access.js';

export const ENOSYS = 38;

/** The guest types a hypercall is available to. */
export interface Availability {
  pv: boolean;
  pvh: boolean;
}

/** What a handler sees of the call. */
export interface HypercallCall {
  readonly nr: number;
  /** Raw argument registers (EBX, ECX, EDX, ESI, EDI, EBP) as unsigned 32-bit. */
  readonly args: readonly number[];
  /** The calling vCPU's CPL (PVH: hypercalls from CPL > 0 return -EPERM). */
  readonly cpl: number;
  readonly guest: GuestAccess;
}

/**
 * A handler returns the value for EAX (negative errno on failure), or
 * `NO_RESULT` when it has set the vCPU's registers itself (the iret
 * hypercall) and EAX must not be touched.
 */
export type HypercallHandler = (call: HypercallCall) => number;

/** Handler result meaning "registers already set; leave EAX alone". */
export const NO_RESULT = 0x1_0000_0000;

export interface HypercallDef {
  readonly nr: number;
  readonly name: string;
  readonly avail: Availability;
  readonly handler: HypercallHandler;
  /** Optional formatter of the arguments for `--trace hypercalls` (may read guest memory; must not throw). */
  readonly describe?: (args: readonly number[], guest: GuestAccess) => string;
}

export class HypercallTable {
  private readonly defs = new Map<number, HypercallDef>();

  register(def: HypercallDef): void {
    if (this.defs.has(def.nr)) throw new Error(`hypercall ${def.nr} (${def.name}) registered twice`);
    this.defs.set(def.nr, def);
  }

  get(nr: number): HypercallDef | undefined {
    return this.defs.get(nr);
  }

  /** Dispatch for a guest of `type`: the result for EAX. */
  dispatch(type: 'pv' | 'pvh', call: HypercallCall): number {
    const def = this.defs.get(call.nr >>> 0);
    if (def === undefined || !(type === 'pv' ? def.avail.pv : def.avail.pvh)) return -ENOSYS;
    return def.handler(call);
  }

  /** Name of a hypercall number for traces ("hypercall 99" when unknown). */
  name(nr: number): string {
    return this.defs.get(nr >>> 0)?.name ?? `hypercall ${nr >>> 0}`;
  }
}
