/**
 * The event-channel core of one domain: the port table, the VIRQ bindings,
 * the 2-level pending/mask/selector bits in shared_info, and the dom0 end
 * of interdomain channels that xenkit's in-VMM backends own (reference
 * §1.5, §3.2 "Event channels", §3.3 "Event channel structs", §4
 * "Two-level event channel rules", §8.5).
 *
 * Follows Xen's common/event_channel.c and common/event_2l.c for an x86_32
 * guest on the 2-level ABI: 32 words × 32 bits = 1024 ports. Everything is
 * plain data (one `Port` record per port, a VIRQ → port table, a map of
 * dom0 ports); the bits live in guest-visible shared_info, found through
 * `sharedInfoPa()` because a PVH guest moves the page. The hypercall layer
 * (hypercalls/evtchn.ts) decodes structs and checks domain ids; this module
 * returns a port number or a negative Xen errno.
 *
 * Port states (Xen's ECS_*): free, reserved (port 0, never valid), unbound
 * (allocated, waiting for `remoteDom` to bind), interdomain (connected to
 * (`remoteDom`, `remotePort`)), virq (`virq`), ipi. Every port notifies
 * vCPU 0, the only one.
 *
 * Xen's rules kept here:
 *  - Every port below 1024 is a valid port (Xen allocates them in buckets;
 *    xenkit has them all from the start). New ports are the lowest free
 *    one ≥ 1; none left → -ENOSPC.
 *  - set_pending(p): if pending[p] was already set, nothing more; else if
 *    mask[p] is clear and the selector bit p/32 of vcpu_info was clear,
 *    set it and, if evtchn_upcall_pending was clear, set that too and kick
 *    the vCPU (`onUpcall`). Then pollers of p are woken (`onPending`).
 *  - unmask(p): only for a usable (non-free, non-reserved) port: if the
 *    mask bit was set and is now cleared, and pending[p] is set, and the
 *    selector bit was clear → set it and mark the upcall pending.
 *  - send: interdomain → the remote end's set_pending (or the backend's
 *    handler for a dom0 end); ipi → the port's own set_pending; unbound →
 *    silently dropped (0); free, reserved, virq → -EINVAL.
 *  - bind_interdomain allocates the local port first, then requires the
 *    remote port to be unbound *for this domain* (-EINVAL otherwise), and
 *    conservatively marks the new local port pending (notifications sent to
 *    the unbound remote were lost).
 *  - bind_virq: virq ≥ NR_VIRQS → -EINVAL; a global VIRQ (anything but
 *    TIMER, DEBUG, XENOPROF, XENPMU) on a vCPU ≠ 0 → -EINVAL; a vCPU that
 *    does not exist → -ENOENT; already bound → -EEXIST.
 *  - close clears the pending bit (not the mask) and frees the port; an
 *    interdomain port's remote end becomes unbound, waiting for this domain
 *    again; a virq port is unbound from its VIRQ. Free/reserved → -EINVAL.
 *  - bind_vcpu: only vCPU 0 exists (-ENOENT); unbound, interdomain and
 *    global-VIRQ ports accept it, others -EINVAL.
 *  - reset closes every port.
 *
 * Backends (xenkit's choice of mechanism, Xen's semantics): the devices in
 * the VMM act as domain 0. A dom0 port is a `BackendChannel`; when the guest
 * sends on its end, the channel's `onSend` runs synchronously inside the
 * guest's EVTCHNOP_send (the reference's "run backend work on
 * EVTCHNOP_send"); `notify()` is dom0's EVTCHNOP_send, raising the guest's
 * port. A backend connects either way round:
 *  - `bindBackend(guestPort)`: dom0 binds to a port the guest allocated
 *    with alloc_unbound(remote_dom = 0) (a frontend writes it to xenstore;
 *    the toolstack does it for the console and xenstore ports at boot);
 *  - `allocBackendUnbound()`: dom0 allocates an unbound port for the guest,
 *    which binds to it with bind_interdomain(0, channel.backendPort).
 * dom0's port numbers (EVTCHNOP_status's remote port) count from 1 in the
 * order backends create them and are never reused.
 */
import type { PhysMemory } from '../memory/phys.js';
import { XEN_ERRNO } from './abi/errno.js';
import { EVTCHN_2L_NR_CHANNELS } from './abi/event-channel.js';
import { DOMID, NR_VIRQS, SHARED_INFO, VIRQ } from './abi/xen.js';

const { EEXIST, EINVAL, ENOENT, ENOSPC } = XEN_ERRNO;

/** Ports of the 2-level ABI on x86_32. */
export const NR_EVENT_CHANNELS = EVTCHN_2L_NR_CHANNELS;
/** The domain xenkit's backends run as. */
export const DOM0 = 0;

const PENDING = SHARED_INFO.fields.evtchn_pending;
const MASK = SHARED_INFO.fields.evtchn_mask;
/** vcpu_info[0] offsets inside shared_info. */
const UPCALL_PENDING = 0, PENDING_SEL = 4;

/** Xen's ECS_* states. */
export type PortState = 'free' | 'reserved' | 'unbound' | 'interdomain' | 'virq' | 'ipi';

/** One port of the domain's table. */
export interface Port {
  state: PortState;
  /** unbound: the domain allowed to bind; interdomain: the remote domain. */
  remoteDom: number;
  /** interdomain: the remote port (a dom0 backend port, or a local port for a loopback channel). */
  remotePort: number;
  /** virq: the VIRQ number. */
  virq: number;
  /** The vCPU notified (EVTCHNOP_bind_vcpu; always 0). */
  vcpu: number;
}

/** A VIRQ delivered per vCPU (the rest are global: bound on vCPU 0 only). */
export function virqIsPerVcpu(virq: number): boolean {
  return virq === VIRQ.TIMER || virq === VIRQ.DEBUG || virq === VIRQ.XENOPROF || virq === VIRQ.XENPMU;
}

/**
 * dom0's end of an interdomain channel, owned by an in-VMM backend. The
 * guest's end is `guestPort` (0 while unbound: not yet bound by the guest,
 * or the guest closed its port).
 */
export class BackendChannel {
  /** The guest port connected to this dom0 port, 0 when unbound. */
  guestPort = 0;
  /** dom0 closed its end: the port is gone. */
  closed = false;
  /**
   * Runs when the guest sends on its end (inside its EVTCHNOP_send) and
   * once when the channel is bound (Xen's conservative notification of
   * the binder's port).
   */
  onSend: ((ch: BackendChannel) => void) | null;

  constructor(
    private readonly events: EventChannels,
    /** dom0's port number (what EVTCHNOP_status reports as the remote port). */
    readonly backendPort: number,
    onSend: ((ch: BackendChannel) => void) | null,
  ) {
    this.onSend = onSend;
  }

  /** Both ends are bound. */
  get connected(): boolean {
    return this.guestPort !== 0 && !this.closed;
  }

  /**
   * dom0's EVTCHNOP_send: raise the guest's port. Returns false (and does
   * nothing, as Xen drops sends on an unbound port) when not connected.
   */
  notify(): boolean {
    if (!this.connected) return false;
    const trace = this.events.onTrace;
    if (trace !== null) {
      trace({ kind: 'notify', domid: this.events.domid, port: this.guestPort, dom0Port: this.backendPort, was: this.events.portWas(this.guestPort) });
    }
    this.events.setPending(this.guestPort);
    return true;
  }

  /** dom0's EVTCHNOP_close: the guest's port becomes unbound, waiting for dom0. */
  close(): void {
    this.events.closeBackend(this);
  }
}

/**
 * What the event trace (`xenkit run --trace events`) hears: a guest's
 * EVTCHNOP_send and where it went, dom0 raising a guest port (a backend's
 * notification), a VIRQ raised. `was` is the guest port's state before:
 * already pending (the raise changed nothing), masked (no upcall), or
 * neither (an upcall follows).
 */
export type EventTraceRecord =
  | { kind: 'send'; domid: number; port: number; to: 'dom0' | 'self' | 'dropped' | 'local'; remotePort: number }
  | { kind: 'notify'; domid: number; port: number; dom0Port: number; was: PortWas }
  | { kind: 'virq'; domid: number; port: number; virq: number; was: PortWas };
export type PortWas = 'pending' | 'masked' | 'clear';

/** What EVTCHNOP_status reports for a port. */
export interface PortStatus {
  state: PortState;
  remoteDom: number;
  remotePort: number;
  virq: number;
  vcpu: number;
}

export class EventChannels {
  /** The port table; port 0 is reserved. */
  readonly ports: Port[] = [];
  /** VIRQ → bound port (0 = none), for vCPU 0. */
  readonly virqToPort = new Uint16Array(NR_VIRQS);
  /** dom0 ports owned by backends, by dom0 port number. */
  private readonly dom0 = new Map<number, BackendChannel>();
  private nextDom0Port = 1;
  /** Called when evtchn_upcall_pending goes from 0 to 1 (Xen's vcpu_mark_events_pending → kick). */
  onUpcall: (() => void) | null = null;
  /** Called when a port becomes pending (Xen's evtchn_check_pollers). */
  onPending: ((port: number) => void) | null = null;

  constructor(
    private readonly mem: PhysMemory,
    /** Physical address of shared_info now (PVH guests move it). */
    private readonly sharedInfoPa: () => number,
    /** The domain's own id (what DOMID_SELF means). */
    readonly domid: number,
  ) {
    for (let p = 0; p < NR_EVENT_CHANNELS; p++) {
      this.ports.push({ state: p === 0 ? 'reserved' : 'free', remoteDom: 0, remotePort: 0, virq: 0, vcpu: 0 });
    }
  }

  /** A port number the 2-level ABI can name. */
  static valid(port: number): boolean {
    return Number.isInteger(port) && port >= 0 && port < NR_EVENT_CHANNELS;
  }

  private port(p: number): Port | null {
    return EventChannels.valid(p) ? this.ports[p]! : null;
  }

  /** Xen's evtchn_usable: bound in some way (not free, not reserved). */
  usable(p: number): boolean {
    const port = this.port(p);
    return port !== null && port.state !== 'free' && port.state !== 'reserved';
  }

  // --- the 2-level bits ---------------------------------------------------------

  private bit(base: number, p: number): boolean {
    return ((this.mem.read32(this.sharedInfoPa() + base + (p >>> 5) * 4) >>> (p & 31)) & 1) !== 0;
  }

  /** pending[p] in shared_info. */
  isPending(p: number): boolean {
    return EventChannels.valid(p) && this.bit(PENDING, p);
  }

  /** mask[p] in shared_info. */
  isMasked(p: number): boolean {
    return EventChannels.valid(p) && this.bit(MASK, p);
  }

  /** vcpu_info[0].evtchn_upcall_pending. */
  get upcallPending(): boolean {
    return this.mem.read8(this.sharedInfoPa() + UPCALL_PENDING) !== 0;
  }

  /** Selector bit `word` of vcpu_info[0].evtchn_pending_sel. */
  selectorSet(word: number): boolean {
    return ((this.mem.read32(this.sharedInfoPa() + PENDING_SEL) >>> word) & 1) !== 0;
  }

  /** Set bit p of the bitmap at `base`; returns whether it was set before. */
  private testAndSet(base: number, p: number): boolean {
    const at = this.sharedInfoPa() + base + (p >>> 5) * 4, bit = 1 << (p & 31);
    const w = this.mem.read32(at);
    if ((w & bit) !== 0) return true;
    this.mem.write32(at, w | bit);
    return false;
  }

  /** Clear bit p of the bitmap at `base`; returns whether it was set before. */
  private testAndClear(base: number, p: number): boolean {
    const at = this.sharedInfoPa() + base + (p >>> 5) * 4, bit = 1 << (p & 31);
    const w = this.mem.read32(at);
    if ((w & bit) === 0) return false;
    this.mem.write32(at, w & ~bit);
    return true;
  }

  /** Set selector bit `word`; returns whether it was set before. */
  private testAndSetSelector(word: number): boolean {
    const at = this.sharedInfoPa() + PENDING_SEL, bit = 1 << word;
    const w = this.mem.read32(at);
    if ((w & bit) !== 0) return true;
    this.mem.write32(at, w | bit);
    return false;
  }

  /** Xen's vcpu_mark_events_pending: set evtchn_upcall_pending; kick the vCPU on 0 → 1. */
  private markEventsPending(): void {
    const at = this.sharedInfoPa() + UPCALL_PENDING;
    if (this.mem.read8(at) !== 0) return;
    this.mem.write8(at, 1);
    this.onUpcall?.();
  }

  /** evtchn_2l_set_pending (see the header). */
  setPending(p: number): void {
    if (!EventChannels.valid(p)) return;
    if (this.testAndSet(PENDING, p)) return;
    if (!this.bit(MASK, p) && !this.testAndSetSelector(p >>> 5)) this.markEventsPending();
    this.onPending?.(p);
  }

  /** evtchn_2l_clear_pending. */
  clearPending(p: number): void {
    if (EventChannels.valid(p)) this.testAndClear(PENDING, p);
  }

  /** Set mask[p] (what a guest does itself; for the VMM's tests and tools). */
  mask(p: number): void {
    if (EventChannels.valid(p)) this.testAndSet(MASK, p);
  }

  /** EVTCHNOP_unmask (evtchn_2l_unmask for usable ports). */
  unmask(p: number): number {
    if (!EventChannels.valid(p)) return -EINVAL;
    if (!this.usable(p)) return 0;
    if (this.testAndClear(MASK, p) && this.bit(PENDING, p) && !this.testAndSetSelector(p >>> 5)) this.markEventsPending();
    return 0;
  }

  /**
   * Would raising port `p` now set evtchn_upcall_pending from 0 to 1 (and
   * so kick a blocked vCPU)? Used to tell whether a timer can wake a
   * sleeping vCPU.
   */
  raiseWouldKick(p: number): boolean {
    if (!EventChannels.valid(p) || this.bit(PENDING, p) || this.bit(MASK, p)) return false;
    return !this.selectorSet(p >>> 5) && !this.upcallPending;
  }

  // --- guest operations (EVTCHNOP_*) ---------------------------------------------

  /** The lowest free port ≥ 1, or -ENOSPC. */
  private freePort(): number {
    for (let p = 1; p < NR_EVENT_CHANNELS; p++) if (this.ports[p]!.state === 'free') return p;
    return -ENOSPC;
  }

  private set(p: number, state: PortState, remoteDom = 0, remotePort = 0, virq = 0): void {
    const port = this.ports[p]!;
    port.state = state;
    port.remoteDom = remoteDom;
    port.remotePort = remotePort;
    port.virq = virq;
  }

  /** EVTCHNOP_alloc_unbound: a port `remoteDom` may bind to (DOMID_SELF: this domain). */
  allocUnbound(remoteDom: number): number {
    const p = this.freePort();
    if (p < 0) return p;
    const rd = remoteDom & 0xffff;
    this.set(p, 'unbound', rd === DOMID.SELF ? this.domid : rd);
    return p;
  }

  /** EVTCHNOP_bind_interdomain to (remoteDom, remotePort): the new local port or -errno. */
  bindInterdomain(remoteDom: number, remotePort: number): number {
    let rd = remoteDom & 0xffff;
    if (rd === DOMID.SELF) rd = this.domid;
    if (rd !== this.domid && rd !== DOM0) return -XEN_ERRNO.ESRCH;
    const lport = this.freePort();
    if (lport < 0) return lport;
    if (rd === this.domid) {
      // A loopback channel between two ports of this domain.
      const r = this.port(remotePort);
      if (r === null || r.state !== 'unbound' || r.remoteDom !== this.domid) return -EINVAL;
      this.set(lport, 'interdomain', this.domid, remotePort);
      this.set(remotePort, 'interdomain', this.domid, lport);
    } else {
      const ch = this.dom0.get(remotePort);
      if (ch === undefined || ch.guestPort !== 0) return -EINVAL;
      this.set(lport, 'interdomain', DOM0, remotePort);
      ch.guestPort = lport;
    }
    // Notifications sent to the unbound remote end were lost: raise the new port once.
    this.setPending(lport);
    return lport;
  }

  /** EVTCHNOP_bind_virq. */
  bindVirq(virq: number, vcpu: number): number {
    if (!Number.isInteger(virq) || virq < 0 || virq >= NR_VIRQS) return -EINVAL;
    if (!virqIsPerVcpu(virq) && vcpu !== 0) return -EINVAL;
    if (vcpu !== 0) return -ENOENT;
    if (this.virqToPort[virq] !== 0) return -EEXIST;
    const p = this.freePort();
    if (p < 0) return p;
    this.set(p, 'virq', 0, 0, virq);
    this.virqToPort[virq] = p;
    return p;
  }

  /** EVTCHNOP_bind_ipi. */
  bindIpi(vcpu: number): number {
    if (vcpu !== 0) return -ENOENT;
    const p = this.freePort();
    if (p < 0) return p;
    this.set(p, 'ipi');
    return p;
  }

  /** EVTCHNOP_close. */
  close(p: number): number {
    const port = this.port(p);
    if (port === null) return -EINVAL;
    switch (port.state) {
      case 'free':
      case 'reserved':
        return -EINVAL;
      case 'unbound':
      case 'ipi':
        break;
      case 'virq':
        if (this.virqToPort[port.virq] === p) this.virqToPort[port.virq] = 0;
        break;
      case 'interdomain':
        if (port.remoteDom === DOM0) {
          const ch = this.dom0.get(port.remotePort);
          if (ch !== undefined) ch.guestPort = 0; // dom0's end is unbound again, for this domain
        } else {
          // Loopback: the other end waits for this domain again.
          this.set(port.remotePort, 'unbound', this.domid);
        }
        break;
    }
    // Xen clears the pending bit so a re-bound port starts clean; the mask stays.
    this.clearPending(p);
    this.set(p, 'free');
    port.vcpu = 0;
    return 0;
  }

  /** Everything the event trace hears (see EventTraceRecord); null: off. */
  onTrace: ((r: EventTraceRecord) => void) | null = null;

  /** A port's state as the trace reports it. */
  portWas(p: number): PortWas {
    return this.isPending(p) ? 'pending' : this.isMasked(p) ? 'masked' : 'clear';
  }

  /** EVTCHNOP_send. */
  send(p: number): number {
    const port = this.port(p);
    if (port === null) return -EINVAL;
    if (this.onTrace !== null && (port.state === 'interdomain' || port.state === 'ipi' || port.state === 'unbound')) {
      const to = port.state === 'ipi' ? 'self' : port.state === 'unbound' ? 'dropped' : port.remoteDom === DOM0 ? 'dom0' : 'local';
      this.onTrace({ kind: 'send', domid: this.domid, port: p, to, remotePort: port.remotePort });
    }
    switch (port.state) {
      case 'interdomain':
        if (port.remoteDom === DOM0) {
          const ch = this.dom0.get(port.remotePort);
          ch?.onSend?.(ch);
        } else {
          this.setPending(port.remotePort);
        }
        return 0;
      case 'ipi':
        this.setPending(p);
        return 0;
      case 'unbound':
        return 0; // silently dropped
      default:
        return -EINVAL;
    }
  }

  /** EVTCHNOP_status of a port of this domain (the caller checks the domain id). */
  status(p: number): PortStatus | number {
    const port = this.port(p);
    if (port === null) return -EINVAL;
    return { state: port.state, remoteDom: port.remoteDom, remotePort: port.remotePort, virq: port.virq, vcpu: port.vcpu };
  }

  /** EVTCHNOP_bind_vcpu. */
  bindVcpu(p: number, vcpu: number): number {
    if (vcpu !== 0) return -ENOENT;
    const port = this.port(p);
    if (port === null) return -EINVAL;
    switch (port.state) {
      case 'virq':
        if (virqIsPerVcpu(port.virq)) return -EINVAL;
        port.vcpu = vcpu;
        return 0;
      case 'unbound':
      case 'interdomain':
        port.vcpu = vcpu;
        return 0;
      default:
        return -EINVAL;
    }
  }

  /** EVTCHNOP_reset: close every port. */
  reset(): number {
    for (let p = 1; p < NR_EVENT_CHANNELS; p++) if (this.usable(p)) this.close(p);
    return 0;
  }

  // --- the VMM's side -------------------------------------------------------------

  /** send_guest_vcpu_virq / send_guest_global_virq: raise the port bound to `virq`, if any. */
  sendVirq(virq: number): void {
    const p = this.virqToPort[virq] ?? 0;
    if (p === 0) return;
    this.onTrace?.({ kind: 'virq', domid: this.domid, port: p, virq, was: this.portWas(p) });
    this.setPending(p);
  }

  /**
   * dom0 binds to `guestPort`, which the guest (or the toolstack) allocated
   * unbound for domain 0. Returns the channel, or -EINVAL when the port is
   * not unbound for dom0. `onSend` runs once right away (Xen's conservative
   * notification of the binder's new port) and on every guest send.
   */
  bindBackend(guestPort: number, onSend: ((ch: BackendChannel) => void) | null = null): BackendChannel | number {
    const port = this.port(guestPort);
    if (port === null || port.state !== 'unbound' || port.remoteDom !== DOM0) return -EINVAL;
    const ch = new BackendChannel(this, this.nextDom0Port++, onSend);
    this.dom0.set(ch.backendPort, ch);
    ch.guestPort = guestPort;
    this.set(guestPort, 'interdomain', DOM0, ch.backendPort);
    ch.onSend?.(ch);
    return ch;
  }

  /** dom0 allocates a port unbound for this domain; the guest binds with bind_interdomain(0, ch.backendPort). */
  allocBackendUnbound(onSend: ((ch: BackendChannel) => void) | null = null): BackendChannel {
    const ch = new BackendChannel(this, this.nextDom0Port++, onSend);
    this.dom0.set(ch.backendPort, ch);
    return ch;
  }

  /** The backend channel connected to guest port `p`, if any. */
  backendOf(p: number): BackendChannel | null {
    const port = this.port(p);
    if (port === null || port.state !== 'interdomain' || port.remoteDom !== DOM0) return null;
    return this.dom0.get(port.remotePort) ?? null;
  }

  /** dom0 sends on the channel connected to guest port `p`; false if there is none. */
  notifyGuest(p: number): boolean {
    return this.backendOf(p)?.notify() ?? false;
  }

  /** BackendChannel.close: free dom0's port; a connected guest port becomes unbound for dom0. */
  closeBackend(ch: BackendChannel): void {
    if (ch.closed) return;
    if (ch.guestPort !== 0) this.set(ch.guestPort, 'unbound', DOM0);
    ch.guestPort = 0;
    ch.closed = true;
    this.dom0.delete(ch.backendPort);
  }
}
