/**
 * One Xen domain as the hypervisor sees it: its guest type, memory, the
 * single vCPU, the hypervisor-owned frames (shared_info, M2P, grant
 * frames), the per-vCPU PV state that hypercalls register (trap table,
 * kernel stack, callbacks, GDT frames, VM assists), the event channels
 * (events.ts) and the clock (time.ts), the vCPU's timers and sleep state
 * with Xen's wake rules, shutdown/crash state and the recent-hypercall log
 * that crash reports print.
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
import { decodeCallbackVia, HVM_PARAM, HVM_PARAM_CALLBACK_TYPE } from './abi/hvm.js';
import { VIRQ } from './abi/xen.js';
import { DOM0, EventChannels, type BackendChannel } from './events.js';
import { GuestAccess } from './guest-access.js';
import { GrantTable } from './grants.js';
import { HypercallTable } from './hypercalls.js';
import { GuestTime, type Clock } from './time.js';

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
  /** Host clock for guest time; omitted or null: the deterministic clock (time.ts). */
  clock?: Clock | null;
}

/**
 * Why the vCPU is not running (Xen's _VPF_blocked): SCHEDOP_block (or a
 * PVH `hlt` with IF=1, which Xen turns into SCHEDOP_block), or
 * SCHEDOP_poll. The hypercall has already returned its result; the vCPU
 * resumes after it when woken (Domain.wake).
 */
export type VcpuSleep =
  | { kind: 'block'; hlt: boolean; sinceNs: bigint }
  /** `port`: the single polled port, or -1 for several (any port becoming pending wakes, as in Xen). */
  | { kind: 'poll'; port: number; timeoutNs: bigint | null; sinceNs: bigint };

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
  /** The event channels (port table, 2-level bits, backends' dom0 ends). */
  readonly events: EventChannels;
  /** The domain's clock (system time, TSC, wall clock). */
  readonly time: GuestTime;
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
    this.events = new EventChannels(o.mem, () => this.sharedInfoPa, this.domid);
    this.events.onUpcall = () => { if (this.sleep !== null && this.kickWakes()) this.wake(); };
    this.events.onPending = (port) => {
      const s = this.sleep;
      if (s !== null && s.kind === 'poll' && (s.port === -1 || s.port === port)) this.wake();
    };
    this.time = new GuestTime(o.cpu, o.clock ?? null);
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
    this.mem.fill(base, this.m2pFrames * 4096, 0xff);
    for (let mfn = 0; mfn < this.nrPages; mfn++) this.mem.write32(base + mfn * 4, mfn);
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
  // Fields below are set by hypercalls/{sched,vcpu,hvm,evtchn}.ts; the
  // Machine's run loop acts on them (time.ts fires the timers, wake-ups
  // below, upcall delivery in machine.ts).

  /** Guest system time in ns (Xen's NOW(); vcpu_time_info.system_time): `time.nowNs()`. */
  systemTimeNs(): bigint {
    return this.time.nowNs();
  }
  /**
   * VCPUOP_set_periodic_timer period in ns, 0 = stopped. registerVcpuHypercalls
   * sets Xen's default: 10 ms for PV vCPUs, none for PVH (reference §4 Timers).
   */
  periodicTimerNs = 0n;
  /** System time of the periodic timer's last tick (or of its arming); it fires at last + period. */
  periodicLastNs = 0n;
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
   * Called when the guest yields, blocks or polls (SCHEDOP_*): an observer
   * (tests, tools); backends run at the check point after every hypercall.
   */
  onSchedule: ((op: 'yield' | 'block' | 'poll') => void) | null = null;
  /** Called after a successful EVTCHNOP_send (an observer; backends hear sends through their BackendChannel). */
  onEvtchnSend: ((port: number) => void) | null = null;

  /**
   * The grant-table engine over this domain's grant frames (grants.ts): the
   * in-VMM backends map and copy the guest's grants through it, and
   * grant_table_op runs the guest's own map/unmap/copy on it.
   */
  readonly grants: GrantTable = new GrantTable(this);

  // --- sleeping and waking (Xen's vcpu_block / do_poll / vcpu_unblock) --------------

  /** Why the vCPU is not running, or null while it runs. */
  sleep: VcpuSleep | null = null;
  /** Runstate accounting: when the vCPU last changed state, and its total blocked time. */
  runstateEntryNs = 0n;
  blockedNs = 0n;
  /** Called after the sleeping vCPU was woken (the Machine tells an idle CLI loop). */
  onWake: (() => void) | null = null;

  /**
   * PVH: the vector event upcalls are injected with: the per-vCPU
   * HVMOP_set_evtchn_upcall_vector one if set, else HVM_PARAM_CALLBACK_IRQ
   * of type "vector"; 0 = none (GSI and PCI INTx callbacks have no
   * interrupt controller behind them in xenkit). PV: always 0.
   */
  upcallVector(): number {
    if (this.type !== 'pvh') return 0;
    if (this.evtchnUpcallVector !== 0) return this.evtchnUpcallVector;
    const via = this.hvmParams.get(HVM_PARAM.CALLBACK_IRQ);
    if (via === undefined) return 0;
    const d = decodeCallbackVia(via);
    return d.type === HVM_PARAM_CALLBACK_TYPE.VECTOR ? d.vector ?? 0 : 0;
  }

  /**
   * Xen's local_events_need_delivery(): an upcall is pending and can be
   * delivered now. PV: evtchn_upcall_pending && !evtchn_upcall_mask. PVH:
   * evtchn_upcall_pending, a callback vector, EFLAGS.IF = 1 and no
   * interrupt shadow (the mask is unused for HVM).
   */
  eventsNeedDelivery(): boolean {
    if (this.upcallPending === 0) return false;
    if (this.type === 'pv') return this.upcallMask === 0;
    return this.upcallVector() !== 0 && this.cpu.interruptsEnabled && !this.cpu.intShadow;
  }

  /** Whether a kick (evtchn_upcall_pending 0 → 1) wakes this vCPU: PV always, PVH only with a callback vector. */
  kickWakes(): boolean {
    return this.type === 'pv' || this.upcallVector() !== 0;
  }

  /** SCHEDOP_block (and PVH `hlt` with IF=1): enable events, sleep unless one needs delivery. */
  block(hlt = false): void {
    // Xen's vcpu_block_enable_events(): the PV virtual IF comes on (HVM ignores the mask).
    this.upcallMask = 0;
    if (this.eventsNeedDelivery()) return;
    this.sleep = { kind: 'block', hlt, sinceNs: this.time.nowNs() };
  }

  /** SCHEDOP_poll after its checks found nothing pending: sleep until `port` (or any, -1) is raised or `timeoutNs`. */
  pollSleep(port: number, timeoutNs: bigint | null): void {
    this.sleep = { kind: 'poll', port, timeoutNs, sinceNs: this.time.nowNs() };
  }

  /** vcpu_unblock: the vCPU runs again (the blocked time goes to the runstate). */
  wake(): void {
    const s = this.sleep;
    if (s === null) return;
    const now = this.time.nowNs();
    this.blockedNs += now - s.sinceNs;
    this.runstateEntryNs = now;
    this.sleep = null;
    this.onWake?.();
  }

  /** Would a VIRQ_TIMER firing now wake the sleeping vCPU? (An unbound, masked or pending timer port cannot.) */
  timerWouldWake(): boolean {
    const s = this.sleep;
    if (s === null) return true;
    const p = this.events.virqToPort[VIRQ.TIMER] ?? 0;
    if (p === 0 || this.events.isPending(p)) return false;
    if (s.kind === 'poll' && (s.port === -1 || s.port === p)) return true;
    return this.events.raiseWouldKick(p) && this.kickWakes();
  }

  // --- the toolstack's channels ---------------------------------------------------------

  /**
   * What libxl and the dom0 daemons do before the guest starts: allocate
   * the xenstore port, then the console port, unbound for dom0 (ports 1
   * and 2), and bind dom0's ends (xenstored's, xenconsoled's), so that
   * EVTCHNOP_status reports both as interdomain to domain 0. Sets
   * storeEvtchn and consoleEvtchn; backends attach their handlers to the
   * returned channels (`onSend`).
   */
  bindToolstackChannels(): { store: BackendChannel; console: BackendChannel } {
    const store = this.events.allocUnbound(DOM0);
    const console = this.events.allocUnbound(DOM0);
    const s = this.events.bindBackend(store), c = this.events.bindBackend(console);
    if (typeof s === 'number' || typeof c === 'number') throw new Error('toolstack event channels could not be bound');
    this.storeEvtchn = store;
    this.consoleEvtchn = console;
    return { store: s, console: c };
  }
}
