/**
 * One Xen domain as the hypervisor sees it: its guest type, memory, the
 * single vCPU, the hypervisor-owned frames (shared_info, M2P, grant
 * frames), the per-vCPU PV state that hypercalls register (trap table,
 * kernel stack, callbacks, GDT frames, VM assists), shutdown/crash state
 * and the recent-hypercall log that crash reports print.
 *
 * Plain data plus small accessors: hypercall handlers (hypercalls/*.ts)
 * and the PV trap layer (pv/*.ts) read and write it; the Machine creates it.
 * Address spaces (reference §8.2): PV guests see an identity p2m, so an
 * MFN below `nrPages` is the same number as its PFN; frames at and above
 * `nrPages` are Xen's own (shared_info, M2P, grant frames) and are never
 * reported as RAM.
 */
import type { Cpu } from '../cpu/cpu.js';
import { Exit } from '../cpu/cpu.js';
import type { PhysMemory } from '../memory/phys.js';
import { GuestAccess } from './guest-access.js';
import { HypercallTable } from './hypercalls.js';

export type GuestType = 'pv' | 'pvh';

/** Where guest console output goes (stdout in the CLI, a buffer in tests). */
export interface ConsoleSink {
  write(bytes: Uint8Array): void;
}

/** One line of the hypercall log. */
export interface HypercallRecord {
  nr: number;
  name: string;
  args: readonly number[];
  result: number | null;
  /** Guest address the call came from (return address of the hypercall-page call). */
  caller: number;
  /** Decoded arguments, when the handler offers a describer. */
  detail?: string;
}

/** Why the domain stopped running (the CLI maps these to exit statuses). */
export type DomainStop =
  | { kind: 'shutdown'; reason: number }
  | { kind: 'crash'; message: string; vector?: number; errorCode?: number };

/** Number of grant-table frames the domain owns (v1: 512 entries each). */
export const GRANT_FRAMES = 4;
/** Entries kept in the recent-hypercall log. */
export const HYPERCALL_LOG = 16;
/** Hypervisor's linear range start for 32-bit PV guests (compat M2P). */
export const HYPERVISOR_VIRT_START = 0xf5800000;

/** vcpu_info field offsets (reference §1.5). */
export const VCPU_INFO = { upcallPending: 0, upcallMask: 1, pendingSel: 4, cr2: 8, time: 32, size: 64 } as const;

/** Per-vCPU PV state registered by hypercalls. */
export class PvVcpu {
  /** Trap table (set_trap_table): handler CS, EIP and flags (DPL bits 0-1, bit 2 = mask events). */
  readonly trapCs = new Uint16Array(256);
  readonly trapEip = new Int32Array(256);
  readonly trapFlags = new Uint8Array(256);
  /** stack_switch: the ring-1 stack used when a trap arrives from ring 3. */
  kernelSs = 0;
  kernelSp = 0;
  eventCs = 0;
  eventEip = 0;
  failsafeCs = 0;
  failsafeEip = 0;
  failsafeMask = false;
  /** Callbacks registered through callback_op that Xen keeps but a 686 never uses (syscall, sysenter, nmi). */
  readonly otherCallbacks = new Map<number, { cs: number; eip: number; flags: number }>();
  /** set_gdt frames (MFNs) and entry count. */
  gdtFrames: number[] = [];
  gdtEntries = 0;
  /** MMUEXT_SET_LDT. */
  ldtBase = 0;
  ldtEntries = 0;
}

export interface DomainOptions {
  type: GuestType;
  domid?: number;
  cpu: Cpu;
  mem: PhysMemory;
  nrPages: number;
  console: ConsoleSink;
  cmdline: string;
}

export class Domain {
  readonly type: GuestType;
  readonly domid: number;
  readonly cpu: Cpu;
  readonly mem: PhysMemory;
  readonly guest: GuestAccess;
  readonly hypercalls = new HypercallTable();
  readonly nrPages: number;
  readonly cmdline: string;
  console: ConsoleSink;
  readonly pv = new PvVcpu();
  /** VMASST_* bits enabled (PV starts with pae_extended_cr3). */
  vmAssist = 0;

  /** Physical address of shared_info (Xen frame; for PVH moved onto the GPFN given to add_to_physmap). */
  sharedInfoPa: number;
  /** Xen frame that holds shared_info until a PVH guest places it. */
  readonly sharedInfoMfn: number;
  /** First Xen frame of the M2P table and how many frames it spans. */
  readonly m2pMfn: number;
  readonly m2pFrames: number;
  /** Grant-table frames (physical frame numbers; PVH may move them with add_to_physmap). */
  readonly grantFrames: number[] = [];

  consolePfn = 0;
  consoleEvtchn = 0;
  storePfn = 0;
  storeEvtchn = 0;
  /** HVM params (hvm_op get/set_param), by index. */
  readonly hvmParams = new Map<number, bigint>();

  stop: DomainStop | null = null;
  /** SCHEDOP_shutdown_code. */
  shutdownCode = 0;
  readonly log: HypercallRecord[] = [];
  /** Called for every hypercall when tracing. */
  onHypercall: ((rec: HypercallRecord) => void) | null = null;

  constructor(o: DomainOptions) {
    this.type = o.type;
    this.domid = o.domid ?? 1;
    this.cpu = o.cpu;
    this.mem = o.mem;
    this.guest = new GuestAccess(o.cpu);
    this.nrPages = o.nrPages;
    this.console = o.console;
    this.cmdline = o.cmdline;
    let next = o.nrPages;
    this.sharedInfoMfn = next++;
    this.sharedInfoPa = this.sharedInfoMfn * 4096;
    this.m2pMfn = next;
    this.m2pFrames = Domain.m2pFramesFor(o.mem.ramPages + o.mem.extraPages);
    next += this.m2pFrames;
    for (let i = 0; i < GRANT_FRAMES; i++) this.grantFrames.push(next++);
    if (next > o.mem.ramPages + o.mem.extraPages) throw new Error(`domain needs ${next - o.nrPages} Xen frames, memory has ${o.mem.extraPages}`);
    this.fillM2p();
  }

  /** M2P frames for `totalFrames` machine frames (4 bytes per entry). */
  static m2pFramesFor(totalFrames: number): number {
    return Math.ceil((totalFrames * 4) / 4096);
  }

  /** Xen frames a domain with `nrPages` of RAM needs above it. */
  static extraFramesFor(nrPages: number): number {
    // shared_info + grant frames + M2P covering RAM and the Xen frames themselves.
    let extra = 1 + GRANT_FRAMES;
    for (;;) {
      const need = 1 + GRANT_FRAMES + Domain.m2pFramesFor(nrPages + extra);
      if (need <= extra) return extra;
      extra = need;
    }
  }

  /** Identity M2P for RAM; Xen's own frames read as INVALID_M2P_ENTRY (~0). */
  private fillM2p(): void {
    const base = this.m2pMfn * 4096;
    const total = this.mem.ramPages + this.mem.extraPages;
    this.mem.fill(base, this.m2pFrames * 4096, 0xff);
    for (let mfn = 0; mfn < this.nrPages; mfn++) this.mem.write32(base + mfn * 4, mfn);
    void total;
  }

  /** A machine frame the guest may map: its RAM, shared_info or a grant frame. */
  ownsFrame(mfn: number): boolean {
    if (!Number.isInteger(mfn) || mfn < 0) return false;
    if (mfn < this.nrPages) return true;
    return mfn === this.sharedInfoMfn || this.grantFrames.includes(mfn);
  }

  // --- vcpu_info[0] in shared_info -------------------------------------------

  get upcallMask(): number {
    return this.mem.read8(this.sharedInfoPa + VCPU_INFO.upcallMask);
  }

  set upcallMask(v: number) {
    this.mem.write8(this.sharedInfoPa + VCPU_INFO.upcallMask, v ? 1 : 0);
  }

  get upcallPending(): number {
    return this.mem.read8(this.sharedInfoPa + VCPU_INFO.upcallPending);
  }

  /** PV #PF: Xen stores the faulting address in vcpu_info.arch.cr2. */
  setGuestCr2(la: number): void {
    this.mem.write32(this.sharedInfoPa + VCPU_INFO.cr2, la);
  }

  // --- stopping ---------------------------------------------------------------

  /** SCHEDOP_shutdown and friends: stop the vCPU with a reason. */
  shutdown(reason: number): void {
    if (this.stop === null) this.stop = { kind: 'shutdown', reason };
    this.cpu.requestExit(Exit.STOPPED);
  }

  /** Xen's domain_crash(): the guest did something Xen cannot continue from. */
  crash(message: string, vector?: number, errorCode?: number): void {
    if (this.stop === null) {
      this.stop = { kind: 'crash', message };
      if (vector !== undefined) this.stop.vector = vector;
      if (errorCode !== undefined) this.stop.errorCode = errorCode;
    }
    this.cpu.requestExit(Exit.STOPPED);
  }

  /** Remember a hypercall for crash reports and hand it to the tracer. */
  record(rec: HypercallRecord): void {
    if (this.log.length === HYPERCALL_LOG) this.log.shift();
    this.log.push(rec);
    this.onHypercall?.(rec);
  }

  // --- state kept by the core hypercalls (sched, vcpu, hvm, evtchn) ------------
  // Fields below are set by hypercalls/{sched,vcpu,hvm,evtchn}.ts. The events
  // and time work makes them act (fire timers, wake blocked vCPUs, inject the
  // upcall vector); until then they are only recorded.

  /**
   * Guest system time in ns (what vcpu_time_info.system_time and NOW() in Xen
   * report). Placeholder virtual clock: one nanosecond per retired
   * instruction; the time work replaces it with the real time source.
   */
  systemTimeNs: () => bigint = () => BigInt(this.cpu.icount);
  /**
   * VCPUOP_set_periodic_timer period in ns, 0 = stopped. registerVcpuHypercalls
   * sets Xen's default: 10 ms for PV vCPUs, none for PVH (reference §4 Timers).
   */
  periodicTimerNs = 0n;
  /** Single-shot timer deadline (absolute system time in ns), null = not armed. */
  singleshotDeadlineNs: bigint | null = null;
  /** SCHEDOP_watchdog slots (Xen has 2): absolute deadline in ns, or null when the slot is free. */
  readonly watchdogDeadlineNs: (bigint | null)[] = [null, null];
  /** HVMOP_set_evtchn_upcall_vector for vCPU 0 (0 = none registered). */
  evtchnUpcallVector = 0;
  /** VCPUOP_register_runstate_memory_area: guest VA of the vcpu_runstate_info copy, or null. */
  runstateAreaVa: number | null = null;
  /** VCPUOP_send_nmi raised an NMI not yet delivered. */
  nmiPending = false;
  /** SCHEDOP_shutdown_code stored a code (Xen keeps only the first; a later shutdown uses it). */
  shutdownCodeSet = false;
  /**
   * Called when the guest yields, blocks or polls (SCHEDOP_*): the place to run
   * backend work (reference §4 "Scheduler ops") until event channels exist.
   */
  onSchedule: ((op: 'yield' | 'block' | 'poll') => void) | null = null;
  /** Called after a successful EVTCHNOP_send on a bound port (backends consume rings here). */
  onEvtchnSend: ((port: number) => void) | null = null;
}
