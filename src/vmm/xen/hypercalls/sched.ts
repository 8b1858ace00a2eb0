/**
 * Scheduler hypercalls: sched_op (29, PV and PVH) and the legacy
 * sched_op_compat (6, PV only) (reference §3.2 "Scheduler", §3.3, §4).
 *
 * Xen's rules (common/sched/core.c do_sched_op, arch/x86/compat.c) kept here:
 *  - yield → 0. block → 0 after enabling event delivery: it clears
 *    vcpu_info.evtchn_upcall_mask like Xen's vcpu_block_enable_events (the
 *    PV virtual IF; HVM/PVH ignores the mask), then the vCPU sleeps
 *    (Domain.block) unless an event needs delivery at once; it wakes when
 *    evtchn_upcall_pending goes from 0 to 1 (for PVH only with a callback
 *    vector, Xen's vcpu_mark_events_pending).
 *  - poll(sched_poll*): more than 128 ports → -EINVAL ("fairly arbitrary
 *    limit"); a ports array outside the guest's range → -EFAULT; an event
 *    that needs delivery → 0 at once (before any port is read); then each
 *    port is read (-EFAULT) and checked in order (Xen's evtchn_port_poll):
 *    ≥ 1024 → -EINVAL, a pending bound port → 0 at once. Otherwise → 0 and
 *    the vCPU sleeps until a polled port is raised (with several ports,
 *    any port of the domain, as in Xen), an upcall becomes pending, or the
 *    absolute timeout (ns of system time; 0 = none) passes.
 *  - shutdown(sched_shutdown*) stops the domain with the reason; when the
 *    guest stored a code with SCHEDOP_shutdown_code earlier, Xen shuts down
 *    with that code instead (domain_shutdown: "reason = d->shutdown_code").
 *  - shutdown_code stores the code once (later calls keep the first) → 0.
 *  - remote_shutdown: an unknown domain → -ESRCH; an existing one (itself or
 *    dom0) is refused by the default XSM policy (XSM_DM_PRIV) → -EPERM.
 *  - watchdog(id, timeout): id 0 allocates one of 2 slots (→ slot id 1..2,
 *    or -ENOSPC); id > 2 → -EINVAL; an id not in use → -EINVAL; timeout 0
 *    frees the slot, otherwise re-arms it (deadline = now + timeout s).
 *  - pin_override is for the hardware domain only → -EPERM.
 *  - Unknown commands → -ENOSYS.
 *  - sched_op_compat passes the argument by value and knows only yield,
 *    block and shutdown (reason in the 2nd argument); it returns 0 for a
 *    shutdown; anything else → -ENOSYS.
 *
 * xenkit choices where Xen is looser:
 *  - Xen truncates a shutdown reason to u8 and accepts any value; xenkit
 *    refuses reasons above SHUTDOWN_MAX with -EINVAL (for shutdown,
 *    shutdown_code and the compat call), so a stop always maps to a known
 *    exit status.
 *
 * Yield, block and poll call `dom.onSchedule` (an observer); backends run
 * after every hypercall anyway (Machine.pollDevices, reference §4: "run
 * backend work inside yield/poll/block").
 */
import { XEN_ERRNO } from '../abi/errno.js';
import { nameOf } from '../abi/layout.js';
import { SCHEDOP, SCHED_POLL, SCHED_REMOTE_SHUTDOWN, SCHED_WATCHDOG, SHUTDOWN, SHUTDOWN_MAX } from '../abi/sched.js';
import { DOMID } from '../abi/xen.js';
import type { GuestAccess } from '../guest-access.js';
import type { Domain } from '../domain.js';
import { handleOkay } from './memory.js';
import { EventChannels } from '../events.js';

const BOTH = { pv: true, pvh: true } as const;
const PV = { pv: true, pvh: false } as const;
const { EFAULT, EINVAL, ENOSYS, EPERM, ESRCH, ENOSPC } = XEN_ERRNO;

/** SCHEDOP_poll accepts at most this many ports (Xen's limit). */
export const SCHED_POLL_MAX_PORTS = 128;
/** Xen's NR_DOMAIN_WATCHDOG_TIMERS. */
const WATCHDOG_SLOTS = 2;

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16);
}

function u32(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
}

/** Stop the domain the way Xen's domain_shutdown does (a stored shutdown code wins). */
function shutdownDomain(dom: Domain, reason: number): number {
  if (reason > SHUTDOWN_MAX) return -EINVAL;
  dom.shutdown(dom.shutdownCodeSet ? dom.shutdownCode : reason);
  return 0;
}

/** SCHEDOP_block: enable event delivery and sleep until an event is pending (Domain.block). */
function block(dom: Domain): number {
  dom.block();
  dom.onSchedule?.('block');
  return 0;
}

function poll(dom: Domain, guest: GuestAccess, arg: number): number {
  const b = guest.read(arg, SCHED_POLL.size);
  if (b === null) return -EFAULT;
  const ports = u32(b, SCHED_POLL.fields.ports), nr = u32(b, SCHED_POLL.fields.nr_ports);
  const timeout = new DataView(b.buffer).getBigUint64(SCHED_POLL.fields.timeout, true);
  if (nr > SCHED_POLL_MAX_PORTS) return -EINVAL;
  if (!handleOkay(dom, ports, nr * 4)) return -EFAULT;
  dom.onSchedule?.('poll');
  if (dom.eventsNeedDelivery()) return 0;
  let port = 0;
  for (let i = 0; i < nr; i++) {
    const p = guest.read32((ports + i * 4) >>> 0);
    if (p === null) return -EFAULT;
    if (!EventChannels.valid(p)) return -EINVAL;
    // Free and reserved ports are never "pending" to a poller (evtchn_usable).
    if (dom.events.usable(p) && dom.events.isPending(p)) return 0;
    port = p;
  }
  // Xen's poll_evtchn: the single port, else any port wakes the poller (also for port 0).
  dom.pollSleep(nr === 1 && port !== 0 ? port : -1, timeout === 0n ? null : timeout);
  return 0;
}

function watchdog(dom: Domain, id: number, timeoutS: number): number {
  const slots = dom.watchdogDeadlineNs;
  if (id > WATCHDOG_SLOTS) return -EINVAL;
  const deadline = dom.systemTimeNs() + BigInt(timeoutS) * 1_000_000_000n;
  if (id === 0) {
    // Xen arms a new slot even for timeout 0 (it fires at once).
    for (let i = 0; i < WATCHDOG_SLOTS; i++) {
      if (slots[i] === null) {
        slots[i] = deadline;
        return i + 1;
      }
    }
    return -ENOSPC;
  }
  if (slots[id - 1] === null || slots[id - 1] === undefined) return -EINVAL;
  slots[id - 1] = timeoutS === 0 ? null : deadline;
  return 0;
}

export function describeSchedOp(args: readonly number[], guest: GuestAccess): string {
  try {
    const cmd = args[0]! >>> 0, arg = args[1]! >>> 0;
    const name = nameOf(SCHEDOP, cmd) ?? `cmd ${cmd}`;
    switch (cmd) {
      case SCHEDOP.yield:
      case SCHEDOP.block:
        return name;
      case SCHEDOP.shutdown:
      case SCHEDOP.shutdown_code: {
        const r = guest.read32(arg);
        return r === null ? `${name} ${hex(arg)} (unreadable)` : `${name} reason=${nameOf(SHUTDOWN, r) ?? r}`;
      }
      case SCHEDOP.poll: {
        const b = guest.read(arg, SCHED_POLL.size);
        if (b === null) return `poll ${hex(arg)} (unreadable)`;
        const nr = u32(b, SCHED_POLL.fields.nr_ports);
        const ports = nr <= 8 ? guest.read(u32(b, SCHED_POLL.fields.ports), nr * 4) : null;
        const list = ports === null ? '' : ' [' + Array.from({ length: nr }, (_, i) => u32(ports, i * 4)).join(',') + ']';
        const timeout = new DataView(b.buffer).getBigUint64(SCHED_POLL.fields.timeout, true);
        return `poll nr_ports=${nr}${list} timeout=${timeout}`;
      }
      case SCHEDOP.remote_shutdown: {
        const b = guest.read(arg, SCHED_REMOTE_SHUTDOWN.size);
        if (b === null) return `${name} ${hex(arg)} (unreadable)`;
        return `${name} dom=${new DataView(b.buffer).getUint16(0, true)} reason=${u32(b, SCHED_REMOTE_SHUTDOWN.fields.reason)}`;
      }
      case SCHEDOP.watchdog: {
        const b = guest.read(arg, SCHED_WATCHDOG.size);
        if (b === null) return `${name} ${hex(arg)} (unreadable)`;
        return `${name} id=${u32(b, SCHED_WATCHDOG.fields.id)} timeout=${u32(b, SCHED_WATCHDOG.fields.timeout)}s`;
      }
      default:
        return `${name} arg=${hex(arg)}`;
    }
  } catch {
    return 'sched_op (undecodable)';
  }
}

export function describeSchedOpCompat(args: readonly number[]): string {
  const cmd = args[0]! >>> 0, arg = args[1]! >>> 0;
  const name = nameOf(SCHEDOP, cmd) ?? `cmd ${cmd}`;
  if (cmd === SCHEDOP.shutdown) return `shutdown reason=${nameOf(SHUTDOWN, arg) ?? arg}`;
  return cmd === SCHEDOP.yield || cmd === SCHEDOP.block ? name : `${name} arg=${hex(arg)}`;
}

export function registerSchedHypercalls(dom: Domain): void {
  const t = dom.hypercalls;

  t.register({
    nr: 29, name: 'sched_op', avail: BOTH,
    handler: ({ args, guest }) => {
      const cmd = args[0]! >>> 0, arg = args[1]! >>> 0;
      switch (cmd) {
        case SCHEDOP.yield:
          dom.onSchedule?.('yield');
          return 0;
        case SCHEDOP.block:
          return block(dom);
        case SCHEDOP.poll:
          return poll(dom, guest, arg);
        case SCHEDOP.shutdown: {
          const reason = guest.read32(arg);
          if (reason === null) return -EFAULT;
          return shutdownDomain(dom, reason);
        }
        case SCHEDOP.shutdown_code: {
          const reason = guest.read32(arg);
          if (reason === null) return -EFAULT;
          if (reason > SHUTDOWN_MAX) return -EINVAL;
          if (!dom.shutdownCodeSet) {
            dom.shutdownCode = reason;
            dom.shutdownCodeSet = true;
          }
          return 0;
        }
        case SCHEDOP.remote_shutdown: {
          const b = guest.read(arg, SCHED_REMOTE_SHUTDOWN.size);
          if (b === null) return -EFAULT;
          const target = new DataView(b.buffer).getUint16(SCHED_REMOTE_SHUTDOWN.fields.domain_id, true);
          // Only the domain itself and dom0 exist; DOMID_SELF is not looked up by
          // rcu_lock_domain_by_id, so it is "no such domain".
          if (target === DOMID.SELF) return -ESRCH;
          return target === dom.domid || target === 0 ? -EPERM : -ESRCH;
        }
        case SCHEDOP.watchdog: {
          const b = guest.read(arg, SCHED_WATCHDOG.size);
          if (b === null) return -EFAULT;
          return watchdog(dom, u32(b, SCHED_WATCHDOG.fields.id), u32(b, SCHED_WATCHDOG.fields.timeout));
        }
        case SCHEDOP.pin_override:
          // Xen checks the privilege before reading the argument.
          return -EPERM;
        default:
          return -ENOSYS;
      }
    },
    describe: describeSchedOp,
  });

  t.register({
    nr: 6, name: 'sched_op_compat', avail: PV,
    handler: ({ args }) => {
      const cmd = args[0]! >>> 0, arg = args[1]! >>> 0;
      switch (cmd) {
        case SCHEDOP.yield:
          dom.onSchedule?.('yield');
          return 0;
        case SCHEDOP.block:
          return block(dom);
        case SCHEDOP.shutdown:
          return shutdownDomain(dom, arg);
        default:
          return -ENOSYS;
      }
    },
    describe: (a) => describeSchedOpCompat(a),
  });
}
