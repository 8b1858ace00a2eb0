/**
 * The process's clock for guest time (the `Clock` of src/vmm/xen/time.ts):
 * `process.hrtime.bigint()` for monotonic nanoseconds and `Date.now()` for
 * the time of day. Only the CLI reads host time; `xenkit run
 * --deterministic` passes no clock at all.
 */
import type { Clock } from '../vmm/xen/time.js';

export function hostClock(): Clock {
  return {
    monotonicNs: () => process.hrtime.bigint(),
    realtimeNs: () => BigInt(Date.now()) * 1_000_000n,
  };
}
