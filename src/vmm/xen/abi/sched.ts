/**
 * Xen's public header sched.h: sched_op commands, shutdown reasons and
 * their argument structs (x86_32).
 *
 * Mirrors templates/minios/include/xen/sched.h.
 */
import { constants, struct } from './layout.js';

export const SCHEDOP = constants('SCHEDOP_', {
  yield: 0,
  block: 1,
  shutdown: 2,
  poll: 3,
  remote_shutdown: 4,
  shutdown_code: 5,
  watchdog: 6,
  pin_override: 7,
});

export const SHUTDOWN = constants('SHUTDOWN_', {
  poweroff: 0,
  reboot: 1,
  suspend: 2,
  crash: 3,
  watchdog: 4,
  soft_reset: 5,
});
export const SHUTDOWN_MAX = 5;

export const SCHED_SHUTDOWN = struct('struct sched_shutdown', 4, {
  reason: [0, 'u32'],
});

/** timeout: absolute system time in ns, 0 = none. */
export const SCHED_POLL = struct('struct sched_poll', 16, {
  ports: [0, 'ptr'],
  nr_ports: [4, 'u32'],
  timeout: [8, 'u64'],
});

export const SCHED_REMOTE_SHUTDOWN = struct('struct sched_remote_shutdown', 8, {
  domain_id: [0, 'u16'],
  reason: [4, 'u32'],
});

export const SCHED_WATCHDOG = struct('struct sched_watchdog', 8, {
  id: [0, 'u32'],
  timeout: [4, 'u32'],
});

export const SCHED_PIN_OVERRIDE = struct('struct sched_pin_override', 4, {
  pcpu: [0, 'i32'],
});
