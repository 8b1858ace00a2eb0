/**
 * Guest time: the clock a domain's system time, TSC and wall clock come
 * from, the vcpu_time_info and wall-clock records in shared_info, and the
 * vCPU's timers (reference §1.5 "vcpu_time_info", §4 "Timers", "Time").
 *
 * Two clocks:
 *  - host (`new GuestTime(cpu, clock)`): system time is the injected host
 *    clock's monotonic nanoseconds since the domain was built, the wall
 *    clock its real time then. The CLI passes the process clock
 *    (src/cli/host-clock.ts); tests pass fakes. Nothing here reads the
 *    host by itself.
 *  - deterministic (`new GuestTime(cpu)`): system time is the retired
 *    instruction count at 1 ns per instruction (a 1 GHz, one-instruction-
 *    per-cycle machine), plus the idle time the machine skipped: while the
 *    vCPU sleeps, time jumps straight to the next deadline. The wall clock
 *    starts at DETERMINISTIC_EPOCH. The same guest and input then see the
 *    same times, so runs are byte-identical.
 *
 * The TSC is a virtual 1 GHz counter equal to system time, so
 * vcpu_time_info carries tsc_to_system_mul = 0x80000000 and tsc_shift = 1
 * (((tsc − tsc_timestamp) << 1) × 2^31 >> 32 = tsc − tsc_timestamp: an
 * exact 1:1 mapping, the reference's "VMM tip"), and RDTSC (the CPU's
 * tscHook) reads the same clock. XEN_PVCLOCK_TSC_STABLE_BIT is set: the
 * counter never goes backwards. A guest write to the TSC MSR does not move
 * it (the hook owns the counter).
 *
 * Records are published with Xen's version protocol: version becomes odd,
 * the fields are written, version becomes even (the guest retries while
 * it reads an odd or changed version). The machine publishes
 * vcpu_time_info at boot, whenever a timer fires, when the vCPU wakes and
 * at least once per second of guest time; the wall clock (wc_sec,
 * wc_nsec, arch.wc_sec_hi under wc_version: the time of day at system time
 * 0) at boot.
 *
 * Timers (Xen's common/sched/core.c, common/domain.c), on Domain fields:
 *  - the single-shot timer (set_timer_op, VCPUOP_set_singleshot_timer):
 *    `singleshotDeadlineNs`, fires once, then disarms;
 *  - the periodic timer (`periodicTimerNs`, PV's default 10 ms): fires when
 *    now ≥ last + period, then last = now (missed ticks coalesce into one,
 *    as in Xen's vcpu_periodic_timer_work);
 *  - both raise VIRQ_TIMER (nothing happens if the guest has not bound it);
 *  - SCHEDOP_watchdog slots: an expired one shuts the domain down with
 *    SHUTDOWN_watchdog (a stored SCHEDOP_shutdown_code wins, as in Xen);
 *  - the SCHEDOP_poll timeout wakes the polling vCPU.
 */
import type { Cpu } from '../cpu/cpu.js';
import type { PhysMemory } from '../memory/phys.js';
import { SHUTDOWN } from './abi/sched.js';
import { SHARED_INFO, VCPU_INFO, VIRQ, XEN_PVCLOCK } from './abi/xen.js';
import type { Domain } from './domain.js';

/** Host time, injected (the CLI's process clock, or a test's fake). */
export interface Clock {
  /** Monotonic nanoseconds since an arbitrary origin; never decreases. */
  monotonicNs(): bigint;
  /** Real time: nanoseconds since 1970-01-01T00:00:00Z. */
  realtimeNs(): bigint;
}

/** Wall-clock time at boot in deterministic mode: 2024-01-01T00:00:00Z. */
export const DETERMINISTIC_EPOCH_NS = 1_704_067_200n * 1_000_000_000n;
/** vcpu_time_info scale for the virtual 1 GHz TSC (1:1 with nanoseconds). */
export const TSC_TO_SYSTEM_MUL = 0x80000000, TSC_SHIFT = 1;
/** The virtual TSC frequency. */
export const TSC_HZ = 1_000_000_000;
/** The machine republishes vcpu_time_info at least this often (guest ns). */
export const TIME_INFO_REFRESH_NS = 1_000_000_000n;

const NS_PER_S = 1_000_000_000n;

/** A domain's clock: system time since boot, the TSC and the wall clock at boot. */
export class GuestTime {
  /** True when time follows the instruction count (no host clock). */
  readonly deterministic: boolean;
  /** Deterministic mode: idle nanoseconds skipped so far (added to the instruction count). */
  skippedNs = 0n;
  /** Wall-clock time (ns since the Unix epoch) at system time 0. */
  readonly bootWallNs: bigint;
  private readonly origin: bigint;

  constructor(private readonly cpu: Cpu, private readonly clock: Clock | null = null) {
    this.deterministic = clock === null;
    if (clock === null) {
      this.origin = 0n;
      this.bootWallNs = DETERMINISTIC_EPOCH_NS;
    } else {
      this.origin = clock.monotonicNs();
      this.bootWallNs = clock.realtimeNs();
    }
  }

  /** System time: nanoseconds since the domain was built (Xen's NOW()). */
  nowNs(): bigint {
    if (this.clock === null) return BigInt(this.cpu.icount) + this.skippedNs;
    return this.clock.monotonicNs() - this.origin;
  }

  /** The virtual TSC (1 GHz: equal to system time). */
  tsc(): bigint {
    return this.nowNs();
  }

  /** Deterministic mode: let time jump forward to `ns` (the vCPU idles until then). */
  skipTo(ns: bigint): void {
    if (this.clock !== null) throw new Error('skipTo needs the deterministic clock');
    const now = this.nowNs();
    if (ns > now) this.skippedNs += ns - now;
  }

  /**
   * Deterministic mode: instructions left until system time reaches `ns`
   * (0 when it already has; capped at 2^52).
   */
  instructionsUntil(ns: bigint): number {
    const d = ns - this.nowNs();
    if (d <= 0n) return 0;
    return d > 1n << 52n ? 2 ** 52 : Number(d);
  }
}

/** Publish vcpu_info[0].time (at shared_info `siPa`) for system time `now` with Xen's version protocol. */
export function publishTimeInfo(mem: PhysMemory, siPa: number, now: bigint, tsc: bigint): void {
  const f = VCPU_INFO.fields;
  const at = siPa + f['time.version'];
  const v = mem.read32(at) >>> 0;
  mem.write32(at, (v + 1) | 1); // odd: update in progress
  mem.write64(siPa + f['time.tsc_timestamp'], BigInt.asUintN(64, tsc));
  mem.write64(siPa + f['time.system_time'], BigInt.asUintN(64, now));
  mem.write32(siPa + f['time.tsc_to_system_mul'], TSC_TO_SYSTEM_MUL);
  mem.write8(siPa + f['time.tsc_shift'], TSC_SHIFT);
  mem.write8(siPa + f['time.flags'], XEN_PVCLOCK.TSC_STABLE_BIT);
  mem.write32(at, ((v + 1) | 1) + 1); // even: done
}

/** Publish the wall clock at boot (wc_sec, wc_nsec, arch.wc_sec_hi under wc_version). */
export function publishWallClock(mem: PhysMemory, siPa: number, bootWallNs: bigint): void {
  const f = SHARED_INFO.fields;
  const sec = bootWallNs / NS_PER_S, nsec = bootWallNs % NS_PER_S;
  const v = mem.read32(siPa + f.wc_version) >>> 0;
  mem.write32(siPa + f.wc_version, (v + 1) | 1);
  mem.write32(siPa + f.wc_sec, Number(sec & 0xffffffffn));
  mem.write32(siPa + f.wc_nsec, Number(nsec));
  mem.write32(siPa + f['arch.wc_sec_hi'], Number((sec >> 32n) & 0xffffffffn));
  mem.write32(siPa + f.wc_version, ((v + 1) | 1) + 1);
}

/** Guest system time from vcpu_time_info and a TSC value, the way a guest computes it (reference §4 "Time"). */
export function guestNowFromTimeInfo(mem: PhysMemory, siPa: number, tsc: bigint): bigint {
  const f = VCPU_INFO.fields;
  const ts = mem.read64(siPa + f['time.tsc_timestamp']);
  const sys = mem.read64(siPa + f['time.system_time']);
  const mul = BigInt(mem.read32(siPa + f['time.tsc_to_system_mul']) >>> 0);
  const shift = (mem.read8(siPa + f['time.tsc_shift']) << 24) >> 24;
  let delta = BigInt.asUintN(64, tsc - ts);
  delta = shift >= 0 ? delta << BigInt(shift) : delta >> BigInt(-shift);
  return sys + ((delta * mul) >> 32n);
}

// --- timers ------------------------------------------------------------------------

/** When the periodic timer fires next, or null when it is stopped. */
export function periodicDeadline(dom: Domain): bigint | null {
  return dom.periodicTimerNs > 0n ? dom.periodicLastNs + dom.periodicTimerNs : null;
}

/** Xen's send_timer_event: VIRQ_TIMER on vCPU 0. */
export function sendTimerEvent(dom: Domain): void {
  dom.events.sendVirq(VIRQ.TIMER);
}

/**
 * Fire every timer due at system time `now`. Returns true when one fired
 * (the caller republishes vcpu_time_info).
 */
export function fireDueTimers(dom: Domain, now: bigint): boolean {
  let fired = false;
  if (dom.singleshotDeadlineNs !== null && dom.singleshotDeadlineNs <= now) {
    dom.singleshotDeadlineNs = null;
    sendTimerEvent(dom);
    fired = true;
  }
  const periodic = periodicDeadline(dom);
  if (periodic !== null && periodic <= now) {
    dom.periodicLastNs = now;
    sendTimerEvent(dom);
    fired = true;
  }
  const sleep = dom.sleep;
  if (sleep !== null && sleep.kind === 'poll' && sleep.timeoutNs !== null && sleep.timeoutNs <= now) {
    dom.wake();
    fired = true;
  }
  const slots = dom.watchdogDeadlineNs;
  for (let i = 0; i < slots.length; i++) {
    const d = slots[i];
    if (d !== null && d !== undefined && d <= now) {
      slots[i] = null;
      dom.shutdown(dom.shutdownCodeSet ? dom.shutdownCode : SHUTDOWN.watchdog);
      fired = true;
    }
  }
  return fired;
}

/**
 * The earliest deadline of any timer (`wakingOnly`: only of those whose
 * firing would wake the sleeping vCPU or stop the domain — a timer raising
 * an unbound, masked or already pending VIRQ_TIMER port cannot). Null when
 * none is armed.
 */
export function nextDeadline(dom: Domain, wakingOnly = false): bigint | null {
  let best: bigint | null = null;
  const take = (d: bigint | null | undefined): void => {
    if (d !== null && d !== undefined && (best === null || d < best)) best = d;
  };
  const timerWakes = !wakingOnly || dom.timerWouldWake();
  if (timerWakes) {
    take(dom.singleshotDeadlineNs);
    take(periodicDeadline(dom));
  }
  const sleep = dom.sleep;
  if (sleep !== null && sleep.kind === 'poll') take(sleep.timeoutNs);
  for (const d of dom.watchdogDeadlineNs) take(d);
  return best;
}
