/**
 * event_channel_op (32, PV and PVH) and the legacy event_channel_op_compat
 * (16, PV only) (reference §3.2 "Event channels", §3.3, §4 "Two-level
 * event channel rules", §8.5): struct decoding, domain-id checks and the
 * copy-back, in front of the event-channel core (../events.ts, which holds
 * the port table and Xen's per-operation rules).
 *
 * Xen's do_event_channel_op kept here:
 *  - Every command first copies its struct in (-EFAULT). Commands with an
 *    output (alloc_unbound, bind_interdomain, bind_virq, bind_ipi, status)
 *    copy the whole struct back on success; a failed copy-back returns
 *    -EFAULT and leaves the port allocated ("cleaning up here would be a
 *    mess!").
 *  - Ports: any number below 1024 is valid; ≥ 1024 → -EINVAL.
 *  - alloc_unbound{dom, remote_dom}: `dom` must be DOMID_SELF or the
 *    caller's id (dom0 exists but the default XSM policy refuses → -EPERM;
 *    unknown → -ESRCH); remote_dom is not checked (DOMID_SELF means the
 *    caller).
 *  - bind_interdomain{remote_dom, remote_port}: remote_dom DOMID_SELF or
 *    the caller (a loopback channel) or 0 (xenkit's backends); others
 *    -ESRCH.
 *  - status{dom, port}: domain lookup (-ESRCH), then the port (-EINVAL),
 *    then the XSM check (dom0 → -EPERM). Reports closed (free and reserved
 *    ports), unbound{dom}, interdomain{dom, port}, virq{virq}, ipi, and
 *    the notified vCPU; the rest of the union keeps what the guest wrote.
 *  - reset{dom}: domain lookup as for status (dom0 → -EPERM), then every
 *    port is closed (the toolstack's console and xenstore channels too, as
 *    in Xen). reset_cont (14, Xen's continuation) with no reset in progress
 *    → -EBUSY.
 *  - bind_pirq: xenkit has no physical IRQs → -EPERM (Xen's answer to a PV
 *    domU without IRQ access).
 *  - init_control and expand_array (the FIFO ABI) → -EOPNOTSUPP, what a Xen
 *    built without FIFO event channels answers, so guests keep
 *    the 2-level ABI; set_priority: a bad port → -EINVAL, else -ENOSYS (the
 *    2-level ABI has no priorities).
 *  - Unknown commands → -ENOSYS.
 *  - event_channel_op_compat reads a 28-byte {cmd; union} and runs cmds
 *    0..9 on the union at offset 4 (so outputs are written back there);
 *    other cmds → -ENOSYS; an unreadable wrapper → -EFAULT.
 *
 * A successful send also calls `dom.onEvtchnSend(port)` (an observer for
 * tests and traces; backends get the send through their BackendChannel).
 */
import { XEN_ERRNO } from '../abi/errno.js';
import { nameOf } from '../abi/layout.js';
import {
  EVTCHNOP, EVTCHNOP_INTERNAL, EVTCHNSTAT, EVTCHN_ALLOC_UNBOUND, EVTCHN_BIND_INTERDOMAIN, EVTCHN_BIND_IPI,
  EVTCHN_BIND_PIRQ, EVTCHN_BIND_VIRQ, EVTCHN_BIND_VCPU, EVTCHN_EXPAND_ARRAY, EVTCHN_INIT_CONTROL, EVTCHN_OP,
  EVTCHN_RESET, EVTCHN_SET_PRIORITY, EVTCHN_STATUS,
} from '../abi/event-channel.js';
import { DOMID } from '../abi/xen.js';
import type { Domain } from '../domain.js';
import { EventChannels, type PortState } from '../events.js';
import type { GuestAccess } from '../guest-access.js';

const BOTH = { pv: true, pvh: true } as const;
const PV = { pv: true, pvh: false } as const;
const { EBUSY, EFAULT, EINVAL, ENOSYS, EPERM, ESRCH } = XEN_ERRNO;

/** EVTCHNSTAT_* for a port state. */
const STAT: Record<PortState, number> = {
  free: EVTCHNSTAT.closed, reserved: EVTCHNSTAT.closed, unbound: EVTCHNSTAT.unbound,
  interdomain: EVTCHNSTAT.interdomain, virq: EVTCHNSTAT.virq, ipi: EVTCHNSTAT.ipi,
};

function u32(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
}

function u16(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(off, true);
}

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16);
}

/** The domain a `dom` field names: 'self' (DOMID_SELF or the caller), 'dom0', or null (no such domain). */
function whichDomain(dom: Domain, id: number): 'self' | 'dom0' | null {
  const d = id & 0xffff;
  if (d === DOMID.SELF || d === dom.domid) return 'self';
  return d === 0 ? 'dom0' : null;
}

/** True for a port the domain has bound in any way (not free, not reserved). */
export function evtchnIsBound(dom: Domain, port: number): boolean {
  return dom.events.usable(port);
}

/** The 2-level pending bit of `port` in shared_info. */
export function evtchnIsPending(dom: Domain, port: number): boolean {
  return dom.events.isPending(port);
}

/** Run `fn` on the struct read from `arg`; on success (rc ≥ 0 from fn) write it back. */
function withStruct(guest: GuestAccess, arg: number, size: number, fn: (b: Uint8Array, dv: DataView) => number): number {
  const b = guest.read(arg, size);
  if (b === null) return -EFAULT;
  const rc = fn(b, new DataView(b.buffer, b.byteOffset, b.byteLength));
  if (rc < 0) return rc;
  return guest.write(arg, b) ? 0 : -EFAULT;
}

/** One event-channel command on the op struct at guest VA `arg`. */
function evtchnOp(dom: Domain, guest: GuestAccess, cmd: number, arg: number): number {
  const ev = dom.events;
  switch (cmd) {
    case EVTCHNOP.alloc_unbound:
      return withStruct(guest, arg, EVTCHN_ALLOC_UNBOUND.size, (b, dv) => {
        const f = EVTCHN_ALLOC_UNBOUND.fields;
        const which = whichDomain(dom, dv.getUint16(f.dom, true));
        if (which === null) return -ESRCH;
        if (which === 'dom0') return -EPERM;
        const port = ev.allocUnbound(dv.getUint16(f.remote_dom, true));
        if (port < 0) return port;
        dv.setUint32(f.port, port, true);
        return 0;
      });
    case EVTCHNOP.bind_interdomain:
      return withStruct(guest, arg, EVTCHN_BIND_INTERDOMAIN.size, (b, dv) => {
        const f = EVTCHN_BIND_INTERDOMAIN.fields;
        const port = ev.bindInterdomain(dv.getUint16(f.remote_dom, true), dv.getUint32(f.remote_port, true));
        if (port < 0) return port;
        dv.setUint32(f.local_port, port, true);
        return 0;
      });
    case EVTCHNOP.bind_virq:
      return withStruct(guest, arg, EVTCHN_BIND_VIRQ.size, (b, dv) => {
        const f = EVTCHN_BIND_VIRQ.fields;
        const port = ev.bindVirq(dv.getUint32(f.virq, true), dv.getUint32(f.vcpu, true));
        if (port < 0) return port;
        dv.setUint32(f.port, port, true);
        return 0;
      });
    case EVTCHNOP.bind_ipi:
      return withStruct(guest, arg, EVTCHN_BIND_IPI.size, (b, dv) => {
        const f = EVTCHN_BIND_IPI.fields;
        const port = ev.bindIpi(dv.getUint32(f.vcpu, true));
        if (port < 0) return port;
        dv.setUint32(f.port, port, true);
        return 0;
      });
    case EVTCHNOP.bind_pirq:
      return guest.read(arg, EVTCHN_BIND_PIRQ.size) === null ? -EFAULT : -EPERM;
    case EVTCHNOP.close: {
      const port = guest.read32(arg);
      return port === null ? -EFAULT : ev.close(port);
    }
    case EVTCHNOP.send: {
      const port = guest.read32(arg);
      if (port === null) return -EFAULT;
      const rc = ev.send(port);
      if (rc === 0) dom.onEvtchnSend?.(port);
      return rc;
    }
    case EVTCHNOP.status:
      return withStruct(guest, arg, EVTCHN_STATUS.size, (b, dv) => {
        const f = EVTCHN_STATUS.fields;
        const which = whichDomain(dom, dv.getUint16(f.dom, true));
        if (which === null) return -ESRCH;
        const port = dv.getUint32(f.port, true);
        if (!EventChannels.valid(port)) return -EINVAL;
        if (which === 'dom0') return -EPERM;
        const st = ev.status(port);
        if (typeof st === 'number') return st;
        dv.setUint32(f.status, STAT[st.state], true);
        if (st.state === 'unbound') dv.setUint16(f['u.unbound.dom'], st.remoteDom, true);
        if (st.state === 'interdomain') {
          dv.setUint16(f['u.interdomain.dom'], st.remoteDom, true);
          dv.setUint32(f['u.interdomain.port'], st.remotePort, true);
        }
        if (st.state === 'virq') dv.setUint32(f['u.virq'], st.virq, true);
        dv.setUint32(f.vcpu, st.vcpu, true);
        return 0;
      });
    case EVTCHNOP.bind_vcpu: {
      const b = guest.read(arg, EVTCHN_BIND_VCPU.size);
      if (b === null) return -EFAULT;
      return ev.bindVcpu(u32(b, EVTCHN_BIND_VCPU.fields.port), u32(b, EVTCHN_BIND_VCPU.fields.vcpu));
    }
    case EVTCHNOP.unmask: {
      const port = guest.read32(arg);
      return port === null ? -EFAULT : ev.unmask(port);
    }
    case EVTCHNOP.reset:
    case EVTCHNOP_INTERNAL.reset_cont: {
      const b = guest.read(arg, EVTCHN_RESET.size);
      if (b === null) return -EFAULT;
      const which = whichDomain(dom, u16(b, EVTCHN_RESET.fields.dom));
      if (which === null) return -ESRCH;
      if (which === 'dom0') return -EPERM;
      // A reset never pauses half-way here, so there is nothing to continue.
      return cmd === EVTCHNOP.reset ? ev.reset() : -EBUSY;
    }
    case EVTCHNOP.init_control:
      return guest.read(arg, EVTCHN_INIT_CONTROL.size) === null ? -EFAULT : -XEN_ERRNO.EOPNOTSUPP;
    case EVTCHNOP.expand_array:
      return guest.read(arg, EVTCHN_EXPAND_ARRAY.size) === null ? -EFAULT : -XEN_ERRNO.EOPNOTSUPP;
    case EVTCHNOP.set_priority: {
      const b = guest.read(arg, EVTCHN_SET_PRIORITY.size);
      if (b === null) return -EFAULT;
      return EventChannels.valid(u32(b, EVTCHN_SET_PRIORITY.fields.port)) ? -ENOSYS : -EINVAL;
    }
    default:
      return -ENOSYS;
  }
}

/** Decoded form of one command's struct for traces. */
function describeOp(cmd: number, arg: number, guest: GuestAccess): string {
  const name = nameOf(EVTCHNOP, cmd) ?? (cmd === EVTCHNOP_INTERNAL.reset_cont ? 'reset_cont' : `cmd ${cmd}`);
  const b = guest.read(arg, 12);
  if (b === null) return `${name} ${hex(arg)} (unreadable)`;
  switch (cmd) {
    case EVTCHNOP.send:
    case EVTCHNOP.close:
    case EVTCHNOP.unmask:
      return `${name} port=${u32(b, 0)}`;
    case EVTCHNOP.status:
      return `${name} dom=${hex(u32(b, 0) & 0xffff)} port=${u32(b, 4)}`;
    case EVTCHNOP.bind_virq:
      return `${name} virq=${u32(b, 0)} vcpu=${u32(b, 4)}`;
    case EVTCHNOP.bind_ipi:
      return `${name} vcpu=${u32(b, 0)}`;
    case EVTCHNOP.bind_interdomain:
      return `${name} remote_dom=${hex(u32(b, 0) & 0xffff)} remote_port=${u32(b, 4)}`;
    case EVTCHNOP.alloc_unbound:
      return `${name} dom=${hex(u32(b, 0) & 0xffff)} remote_dom=${hex(u32(b, 0) >>> 16)}`;
    case EVTCHNOP.bind_vcpu:
      return `${name} port=${u32(b, 0)} vcpu=${u32(b, 4)}`;
    case EVTCHNOP.reset:
    case EVTCHNOP_INTERNAL.reset_cont:
      return `${name} dom=${hex(u32(b, 0) & 0xffff)}`;
    default:
      return `${name} ${hex(arg)}`;
  }
}

export function describeEventChannelOp(args: readonly number[], guest: GuestAccess): string {
  try {
    return describeOp(args[0]! >>> 0, args[1]! >>> 0, guest);
  } catch {
    return 'event_channel_op (undecodable)';
  }
}

export function describeEventChannelOpCompat(args: readonly number[], guest: GuestAccess): string {
  try {
    const p = args[0]! >>> 0;
    const cmd = guest.read32(p);
    if (cmd === null) return `${hex(p)} (unreadable)`;
    return describeOp(cmd, (p + EVTCHN_OP.fields.u) >>> 0, guest);
  } catch {
    return 'event_channel_op_compat (undecodable)';
  }
}

export function registerEvtchnHypercalls(dom: Domain): void {
  const t = dom.hypercalls;

  t.register({
    nr: 32, name: 'event_channel_op', avail: BOTH,
    handler: ({ args, guest }) => evtchnOp(dom, guest, args[0]! >>> 0, args[1]! >>> 0),
    describe: describeEventChannelOp,
  });

  t.register({
    nr: 16, name: 'event_channel_op_compat', avail: PV,
    handler: ({ args, guest }) => {
      const p = args[0]! >>> 0;
      const b = guest.read(p, EVTCHN_OP.size);
      if (b === null) return -EFAULT;
      const cmd = u32(b, EVTCHN_OP.fields.cmd);
      // Xen forwards only the commands that existed when the wrapper was retired.
      if (cmd > EVTCHNOP.unmask) return -ENOSYS;
      return evtchnOp(dom, guest, cmd, (p + EVTCHN_OP.fields.u) >>> 0);
    },
    describe: describeEventChannelOpCompat,
  });
}
