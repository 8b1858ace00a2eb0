/**
 * vcpu_op (hypercall 24, PV and PVH) for xenkit's single vCPU 0
 * (reference §3.2 "vCPU", §3.3 "vCPU timer and info structs", §4 "Timers").
 *
 * Xen's rules (common/domain.c common_vcpu_op, arch/x86/domain.c
 * do_vcpu_op, compat/domain.c) kept here:
 *  - A vCPU id other than 0 does not exist → -ENOENT (checked first).
 *  - initialise: the argument is read (vcpu_guest_context, 2800 bytes, for
 *    PV; vcpu_hvm_context, 128 bytes, for PVH; -EFAULT), then vCPU 0 is
 *    already initialised → -EEXIST.
 *  - up → 0 (vCPU 0 is up; nothing to wake). down on the last running vCPU
 *    shuts the domain down with SHUTDOWN_poweroff and returns 0.
 *    is_up → 1.
 *  - get_runstate_info → the 44-byte i386 vcpu_runstate_info: the caller
 *    is running; state_entry_time is when it last woke (0: boot);
 *    time[running] = now − blocked time, time[blocked] = the time it spent
 *    in SCHEDOP_block / SCHEDOP_poll / hlt, the other two 0.
 *  - register_runstate_memory_area({addr}): unreadable → -EFAULT; a PV
 *    address must pass the range check below the hypervisor hole (-EFAULT);
 *    the address is stored and the current runstate copied there
 *    best-effort (a failing copy is ignored, as in Xen) → 0.
 *  - set_periodic_timer(period_ns): < 1 ms or > 2^62 − 1 ns → -EINVAL;
 *    the next tick comes one period from now. stop_periodic_timer sets the
 *    period to 0. PV vCPUs start with Xen's default 10 ms period (ticking
 *    from boot), PVH vCPUs with none.
 *  - set_singleshot_timer({timeout_abs_ns, flags}): a deadline in the past
 *    with VCPU_SSHOTTMR_future → -ETIME (the flag's documented meaning;
 *    Xen 4.19 ignores it, xenkit keeps the check); a deadline in the past
 *    without it disarms the timer and raises VIRQ_TIMER at once; otherwise
 *    it arms the timer. stop_singleshot_timer disarms it.
 *  - register_vcpu_info({mfn u64, offset u32}): the guest address must not
 *    overflow (-EINVAL), must keep the 64-byte vcpu_info inside one frame
 *    and be 4-byte aligned (-ENXIO), and the frame must be guest RAM
 *    (-EINVAL).
 *  - send_nmi: the argument must be NULL (-EINVAL); the NMI is latched in
 *    dom.nmiPending → 0.
 *  - get_physid is for the hardware domain's pinned vCPUs → -EINVAL.
 *  - register_vcpu_time_memory_area and the *_phys_area commands, and
 *    unknown commands → -ENOSYS.
 *
 * xenkit choice: vcpu_info stays in shared_info (Domain's upcall accessors
 * and PV delivery read it there), so a *valid* register_vcpu_info request
 * returns -ENOSYS, which guests take as "keep using shared_info's
 * vcpu_info" (Linux falls back; Mini-OS never asks). Likewise the time
 * area registration is not offered (-ENOSYS; the guest reads
 * vcpu_info.time).
 *
 * Also here: set_timer_op (hypercall 15, PV and PVH), the older single-shot
 * timer call: the 64-bit absolute deadline arrives split in two registers
 * (low, high). 0 disarms the timer; a negative deadline, or one more than
 * 2^50 ns (about 13 days) ahead, is taken as "100 ms from now" (Xen's
 * workaround for old Linux jiffy wrap-around); anything else arms it (a
 * past deadline fires at the next check). Always 0.
 *
 * Timer state lives in Domain (periodicTimerNs, periodicLastNs,
 * singleshotDeadlineNs); the machine's run loop fires it (time.ts).
 */
import { XEN_ERRNO } from '../abi/errno.js';
import { nameOf } from '../abi/layout.js';
import {
  RUNSTATE, VCPUOP, VCPU_REGISTER_VCPU_INFO, VCPU_RUNSTATE_INFO, VCPU_SET_PERIODIC_TIMER, VCPU_SET_SINGLESHOT_TIMER, VCPU_SSHOTTMR_future,
} from '../abi/vcpu.js';
import { VCPU_GUEST_CONTEXT } from '../abi/xen.js';
import { SHUTDOWN } from '../abi/sched.js';
import { VCPU_INFO, type Domain } from '../domain.js';
import type { GuestAccess } from '../guest-access.js';
import { handleOkay } from './memory.js';
import { sendTimerEvent } from '../time.js';

const BOTH = { pv: true, pvh: true } as const;
const { EEXIST, EFAULT, EINVAL, ENOENT, ENOSYS, ENXIO, ETIME } = XEN_ERRNO;

/** Xen's default periodic timer for PV vCPUs (10 ms, VIRQ_TIMER at 100 Hz). */
export const PV_DEFAULT_PERIOD_NS = 10_000_000n;
/** Xen's MILLISECS(1) lower bound and STIME_DELTA_MAX upper bound for periods. */
const MIN_PERIOD_NS = 1_000_000n, MAX_PERIOD_NS = (1n << 62n) - 1n;
/** sizeof(struct vcpu_hvm_context) on x86_32 (mode, pad, 120-byte register union). */
const VCPU_HVM_CONTEXT_SIZE = 128;

function hex(v: number | bigint): string {
  return '0x' + v.toString(16);
}

/** The vCPU's vcpu_runstate_info (i386 layout, 44 bytes), as the running vCPU sees it. */
export function runstateInfo(dom: Domain): Uint8Array {
  const out = new Uint8Array(VCPU_RUNSTATE_INFO.size);
  const dv = new DataView(out.buffer);
  const f = VCPU_RUNSTATE_INFO.fields;
  const now = dom.time.nowNs();
  dv.setInt32(f.state, RUNSTATE.running, true);
  dv.setBigUint64(f.state_entry_time, BigInt.asUintN(64, dom.runstateEntryNs), true);
  dv.setBigUint64(f.time + RUNSTATE.running * 8, BigInt.asUintN(64, now - dom.blockedNs), true);
  dv.setBigUint64(f.time + RUNSTATE.blocked * 8, BigInt.asUintN(64, dom.blockedNs), true);
  return out;
}

/** Xen's do_set_timer_op(timeout) with the deadline as a signed 64-bit value. */
export function setTimerOp(dom: Domain, timeout: bigint): number {
  const now = dom.time.nowNs();
  if (timeout === 0n) {
    dom.singleshotDeadlineNs = null;
  } else if (timeout < 0n || (timeout - now > 0n && ((timeout - now) >> 50n) !== 0n)) {
    dom.singleshotDeadlineNs = now + 100_000_000n;
  } else {
    dom.singleshotDeadlineNs = timeout;
  }
  return 0;
}

function vcpuOp(dom: Domain, guest: GuestAccess, cmd: number, vcpuid: number, arg: number): number {
  if (vcpuid !== 0) return -ENOENT;
  switch (cmd) {
    case VCPUOP.initialise: {
      const size = dom.type === 'pv' ? VCPU_GUEST_CONTEXT.size : VCPU_HVM_CONTEXT_SIZE;
      if (guest.read(arg, size) === null) return -EFAULT;
      return -EEXIST;
    }
    case VCPUOP.up:
      return 0;
    case VCPUOP.down:
      // The only vCPU going down is the last one: Xen powers the domain off.
      dom.shutdown(SHUTDOWN.poweroff);
      return 0;
    case VCPUOP.is_up:
      return 1;
    case VCPUOP.get_runstate_info:
      return guest.write(arg, runstateInfo(dom)) ? 0 : -EFAULT;
    case VCPUOP.register_runstate_memory_area: {
      const va = guest.read32(arg);
      if (va === null) return -EFAULT;
      if (!handleOkay(dom, va, 1, VCPU_RUNSTATE_INFO.size)) return -EFAULT;
      dom.runstateAreaVa = va;
      guest.write(va, runstateInfo(dom)); // best effort, like Xen's __copy_to_guest here
      return 0;
    }
    case VCPUOP.set_periodic_timer: {
      const b = guest.read(arg, VCPU_SET_PERIODIC_TIMER.size);
      if (b === null) return -EFAULT;
      const period = new DataView(b.buffer).getBigUint64(VCPU_SET_PERIODIC_TIMER.fields.period_ns, true);
      if (period < MIN_PERIOD_NS || period > MAX_PERIOD_NS) return -EINVAL;
      dom.periodicTimerNs = period;
      dom.periodicLastNs = dom.time.nowNs();
      return 0;
    }
    case VCPUOP.stop_periodic_timer:
      dom.periodicTimerNs = 0n;
      return 0;
    case VCPUOP.set_singleshot_timer: {
      const b = guest.read(arg, VCPU_SET_SINGLESHOT_TIMER.size);
      if (b === null) return -EFAULT;
      const dv = new DataView(b.buffer);
      const deadline = dv.getBigUint64(VCPU_SET_SINGLESHOT_TIMER.fields.timeout_abs_ns, true);
      const flags = dv.getUint32(VCPU_SET_SINGLESHOT_TIMER.fields.flags, true);
      if (deadline < dom.time.nowNs()) {
        if ((flags & VCPU_SSHOTTMR_future) !== 0) return -ETIME;
        // Already expired: Xen stops the timer and sends the event at once.
        dom.singleshotDeadlineNs = null;
        sendTimerEvent(dom);
        return 0;
      }
      dom.singleshotDeadlineNs = deadline;
      return 0;
    }
    case VCPUOP.stop_singleshot_timer:
      dom.singleshotDeadlineNs = null;
      return 0;
    case VCPUOP.register_vcpu_info: {
      const b = guest.read(arg, VCPU_REGISTER_VCPU_INFO.size);
      if (b === null) return -EFAULT;
      const dv = new DataView(b.buffer);
      const mfn = dv.getBigUint64(VCPU_REGISTER_VCPU_INFO.fields.mfn, true);
      const offset = BigInt(dv.getUint32(VCPU_REGISTER_VCPU_INFO.fields.offset, true));
      // Xen computes the guest address in 64 bits and refuses ~0 and any wrap.
      const gaddr = BigInt.asUintN(64, (mfn << 12n) + offset);
      if (gaddr === (1n << 64n) - 1n || gaddr >> 12n !== mfn) return -EINVAL;
      if (offset + BigInt(VCPU_INFO.size) > 4096n || (offset & 3n) !== 0n) return -ENXIO;
      if (mfn >= BigInt(dom.nrPages)) return -EINVAL;
      // Valid, but xenkit keeps vcpu_info in shared_info (see the header).
      return -ENOSYS;
    }
    case VCPUOP.send_nmi:
      if (arg !== 0) return -EINVAL;
      dom.nmiPending = true;
      return 0;
    case VCPUOP.get_physid:
      return -EINVAL;
    default:
      return -ENOSYS;
  }
}

export function describeVcpuOp(args: readonly number[], guest: GuestAccess): string {
  try {
    const cmd = args[0]! >>> 0, vcpu = args[1]! >>> 0, arg = args[2]! >>> 0;
    const name = `${nameOf(VCPUOP, cmd) ?? `cmd ${cmd}`} vcpu=${vcpu}`;
    switch (cmd) {
      case VCPUOP.set_periodic_timer: {
        const b = guest.read(arg, 8);
        return b === null ? `${name} ${hex(arg)} (unreadable)` : `${name} period=${new DataView(b.buffer).getBigUint64(0, true)}ns`;
      }
      case VCPUOP.set_singleshot_timer: {
        const b = guest.read(arg, 12);
        if (b === null) return `${name} ${hex(arg)} (unreadable)`;
        const dv = new DataView(b.buffer);
        return `${name} timeout=${dv.getBigUint64(0, true)}ns flags=${dv.getUint32(8, true)}`;
      }
      case VCPUOP.register_vcpu_info: {
        const b = guest.read(arg, 16);
        if (b === null) return `${name} ${hex(arg)} (unreadable)`;
        const dv = new DataView(b.buffer);
        return `${name} mfn=${hex(dv.getBigUint64(0, true))} offset=${hex(dv.getUint32(8, true))}`;
      }
      case VCPUOP.is_up:
      case VCPUOP.up:
      case VCPUOP.down:
      case VCPUOP.stop_periodic_timer:
      case VCPUOP.stop_singleshot_timer:
        return name;
      default:
        return `${name} arg=${hex(arg)}`;
    }
  } catch {
    return 'vcpu_op (undecodable)';
  }
}

export function registerVcpuHypercalls(dom: Domain): void {
  // Xen gives every PV vCPU a 10 ms periodic timer from the start; PVH none.
  dom.periodicTimerNs = dom.type === 'pv' ? PV_DEFAULT_PERIOD_NS : 0n;
  dom.hypercalls.register({
    nr: 15, name: 'set_timer_op', avail: BOTH,
    // 32-bit guests pass the 64-bit deadline as (low, high).
    handler: ({ args }) => setTimerOp(dom, BigInt.asIntN(64, (BigInt(args[1]! >>> 0) << 32n) | BigInt(args[0]! >>> 0))),
    describe: (a) => `timeout=${BigInt.asIntN(64, (BigInt((a[1] ?? 0) >>> 0) << 32n) | BigInt((a[0] ?? 0) >>> 0))}ns`,
  });
  dom.hypercalls.register({
    nr: 24, name: 'vcpu_op', avail: BOTH,
    handler: ({ args, guest }) => vcpuOp(dom, guest, args[0]! >>> 0, args[1]! >>> 0, args[2]! >>> 0),
    describe: describeVcpuOp,
  });
}
