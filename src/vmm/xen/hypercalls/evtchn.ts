/**
 * Event channels, minimal version: event_channel_op (32, PV and PVH) and
 * the legacy event_channel_op_compat (16, PV only) (reference §3.2 "Event
 * channels", §3.3, §4 "Two-level event channel rules", §8.5).
 *
 * The only channels that exist are the two the toolstack binds before boot:
 * the xenstore port (dom.storeEvtchn) and the console port
 * (dom.consoleEvtchn), both interdomain to dom0. The events issue replaces
 * this file with a real port table (alloc_unbound, bind_*, delivery).
 *
 * Xen's rules (common/event_channel.c, event_2l.c) kept here, for the
 * 2-level ABI of an x86_32 guest (ports 0..1023):
 *  - A port ≥ 1024 is not a valid port → -EINVAL everywhere.
 *  - send: an interdomain port notifies the remote end → 0; a free port
 *    (and reserved port 0) → -EINVAL.
 *  - status(evtchn_status*): dom must be DOMID_SELF or the domain's own id
 *    (an unknown domain → -ESRCH, dom0 → -EPERM under the default XSM
 *    policy); the bound ports read EVTCHNSTAT_interdomain with u.interdomain
 *    = {dom 0, remote port}; free ports and reserved port 0 read
 *    EVTCHNSTAT_closed (Xen maps ECS_FREE and ECS_RESERVED to closed);
 *    vcpu = 0. The whole struct is written back (-EFAULT if read-only).
 *  - close: a free port or port 0 → -EINVAL; a bound port becomes free → 0.
 *  - unmask: for a bound port, clears its mask bit in shared_info; if the
 *    port is pending and its selector bit was clear, sets the selector bit
 *    and vcpu_info.evtchn_upcall_pending (event_2l.c). Any port < 1024 → 0
 *    (Xen leaves free ports' bits alone but still succeeds).
 *  - bind_vcpu: vCPU ≠ 0 → -ENOENT; an interdomain port → 0; others -EINVAL.
 *  - alloc_unbound, bind_interdomain, bind_virq, bind_pirq, bind_ipi, reset,
 *    init_control (FIFO ABI), expand_array, set_priority and unknown
 *    commands → -ENOSYS for now (guests treat a failed init_control as "use
 *    the 2-level ABI"; binding arrives with the events issue).
 *  - event_channel_op_compat reads a 28-byte {cmd; union} and runs cmds 0..9
 *    on the union at offset 4 (so status writes back there); other cmds →
 *    -ENOSYS; an unreadable wrapper → -EFAULT.
 *
 * xenkit placeholders (no dom0 port table exists yet): the remote port
 * reported for a bound channel is the local port number. A successful send
 * calls `dom.onEvtchnSend(port)` so backends can consume their rings.
 */
import { XEN_ERRNO } from '../abi/errno.js';
import { nameOf } from '../abi/layout.js';
import { EVTCHNOP, EVTCHNSTAT, EVTCHN_2L_NR_CHANNELS, EVTCHN_OP, EVTCHN_STATUS } from '../abi/event-channel.js';
import { SHARED_INFO } from '../abi/xen.js';
import { VCPU_INFO, type Domain } from '../domain.js';
import type { GuestAccess } from '../guest-access.js';
import { lookupDomid } from './memory.js';

const BOTH = { pv: true, pvh: true } as const;
const PV = { pv: true, pvh: false } as const;
const { EFAULT, EINVAL, ENOENT, ENOSYS } = XEN_ERRNO;

/** Ports the guest closed (the toolstack's two channels, until the events issue). */
const closedPorts = new WeakMap<Domain, Set<number>>();

function closedOf(dom: Domain): Set<number> {
  let s = closedPorts.get(dom);
  if (s === undefined) closedPorts.set(dom, s = new Set());
  return s;
}

/** True for an interdomain port the domain has bound (the store and console channels). */
export function evtchnIsBound(dom: Domain, port: number): boolean {
  if (!Number.isInteger(port) || port <= 0 || port >= EVTCHN_2L_NR_CHANNELS) return false;
  if (port !== dom.storeEvtchn && port !== dom.consoleEvtchn) return false;
  return !closedOf(dom).has(port);
}

/** The 2-level pending bit of `port` in shared_info. */
export function evtchnIsPending(dom: Domain, port: number): boolean {
  if (!Number.isInteger(port) || port < 0 || port >= EVTCHN_2L_NR_CHANNELS) return false;
  const word = dom.mem.read32(dom.sharedInfoPa + SHARED_INFO.fields.evtchn_pending + (port >>> 5) * 4);
  return ((word >>> (port & 31)) & 1) !== 0;
}

function u32(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
}

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16);
}

/** 2-level unmask (event_2l.c): clear the mask bit; re-raise the upcall if the port is pending. */
function unmask(dom: Domain, port: number): void {
  const si = dom.sharedInfoPa;
  const maskAt = si + SHARED_INFO.fields.evtchn_mask + (port >>> 5) * 4;
  const bit = 1 << (port & 31);
  const mask = dom.mem.read32(maskAt);
  if ((mask & bit) === 0) return;
  dom.mem.write32(maskAt, mask & ~bit);
  if (!evtchnIsPending(dom, port)) return;
  const selAt = si + VCPU_INFO.pendingSel;
  const sel = dom.mem.read32(selAt), selBit = 1 << (port >>> 5);
  if ((sel & selBit) !== 0) return;
  dom.mem.write32(selAt, sel | selBit);
  dom.mem.write8(si + VCPU_INFO.upcallPending, 1);
}

/** One event-channel command on the op struct at guest VA `arg`. */
function evtchnOp(dom: Domain, guest: GuestAccess, cmd: number, arg: number): number {
  switch (cmd) {
    case EVTCHNOP.send: {
      const port = guest.read32(arg);
      if (port === null) return -EFAULT;
      if (!evtchnIsBound(dom, port)) return -EINVAL;
      dom.onEvtchnSend?.(port);
      return 0;
    }
    case EVTCHNOP.status: {
      const b = guest.read(arg, EVTCHN_STATUS.size);
      if (b === null) return -EFAULT;
      const dv = new DataView(b.buffer);
      const rc = lookupDomid(dom, dv.getUint16(EVTCHN_STATUS.fields.dom, true));
      if (rc !== 0) return rc;
      const port = dv.getUint32(EVTCHN_STATUS.fields.port, true);
      if (port >= EVTCHN_2L_NR_CHANNELS) return -EINVAL;
      if (evtchnIsBound(dom, port)) {
        dv.setUint32(EVTCHN_STATUS.fields.status, EVTCHNSTAT.interdomain, true);
        dv.setUint16(EVTCHN_STATUS.fields['u.interdomain.dom'], 0, true);
        dv.setUint32(EVTCHN_STATUS.fields['u.interdomain.port'], port, true);
      } else {
        dv.setUint32(EVTCHN_STATUS.fields.status, EVTCHNSTAT.closed, true);
      }
      dv.setUint32(EVTCHN_STATUS.fields.vcpu, 0, true);
      return guest.write(arg, b) ? 0 : -EFAULT;
    }
    case EVTCHNOP.close: {
      const port = guest.read32(arg);
      if (port === null) return -EFAULT;
      if (!evtchnIsBound(dom, port)) return -EINVAL;
      closedOf(dom).add(port);
      return 0;
    }
    case EVTCHNOP.unmask: {
      const port = guest.read32(arg);
      if (port === null) return -EFAULT;
      if (port >= EVTCHN_2L_NR_CHANNELS) return -EINVAL;
      // Xen unmasks only usable (bound) channels but succeeds for any valid port.
      if (evtchnIsBound(dom, port)) unmask(dom, port);
      return 0;
    }
    case EVTCHNOP.bind_vcpu: {
      const b = guest.read(arg, 8);
      if (b === null) return -EFAULT;
      if (u32(b, 4) !== 0) return -ENOENT;
      return evtchnIsBound(dom, u32(b, 0)) ? 0 : -EINVAL;
    }
    // Events issue: alloc_unbound, bind_interdomain, bind_virq, bind_pirq,
    // bind_ipi, reset, init_control, expand_array, set_priority.
    default:
      return -ENOSYS;
  }
}

/** Decoded form of one command's struct for traces. */
function describeOp(cmd: number, arg: number, guest: GuestAccess): string {
  const name = nameOf(EVTCHNOP, cmd) ?? `cmd ${cmd}`;
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
    case EVTCHNOP.bind_interdomain:
      return `${name} remote_dom=${u32(b, 0) & 0xffff} remote_port=${u32(b, 4)}`;
    case EVTCHNOP.alloc_unbound:
      return `${name} dom=${hex(u32(b, 0) & 0xffff)} remote_dom=${u32(b, 0) >>> 16}`;
    case EVTCHNOP.bind_vcpu:
      return `${name} port=${u32(b, 0)} vcpu=${u32(b, 4)}`;
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
