/**
 * Xen's public header vcpu.h: vcpu_op commands and argument structs
 * (x86_32, where uint64_t is 4-byte aligned: vcpu_runstate_info is 44
 * bytes, not 48).
 *
 * Mirrors templates/minios/include/xen/vcpu.h.
 */
import { constants, struct } from './layout.js';

export const VCPUOP = constants('VCPUOP_', {
  initialise: 0,
  up: 1,
  down: 2,
  is_up: 3,
  get_runstate_info: 4,
  register_runstate_memory_area: 5,
  set_periodic_timer: 6,
  stop_periodic_timer: 7,
  set_singleshot_timer: 8,
  stop_singleshot_timer: 9,
  register_vcpu_info: 10,
  send_nmi: 11,
  get_physid: 12,
  register_vcpu_time_memory_area: 13,
  register_runstate_phys_area: 14,
  register_vcpu_time_phys_area: 15,
});

export const RUNSTATE = constants('RUNSTATE_', { running: 0, runnable: 1, blocked: 2, offline: 3 });

/** Set in state_entry_time while Xen updates a registered runstate area. */
export const XEN_RUNSTATE_UPDATE = 1n << 63n;

/** vcpu_set_singleshot_timer.flags: -ETIME if the deadline has passed (may be ignored). */
export const VCPU_SSHOTTMR_future = 1;

export const VCPU_RUNSTATE_INFO = struct('struct vcpu_runstate_info', 44, {
  state: [0, 'i32'],
  state_entry_time: [4, 'u64'],
  time: [12, 'u64[4]'],
});

export const VCPU_REGISTER_RUNSTATE_MEMORY_AREA = struct('struct vcpu_register_runstate_memory_area', 8, {
  addr: [0, 'blob[8]'],
  'addr.h': [0, 'ptr'],
  'addr.v': [0, 'ptr'],
  'addr.p': [0, 'u64'],
});

export const VCPU_SET_PERIODIC_TIMER = struct('struct vcpu_set_periodic_timer', 8, {
  period_ns: [0, 'u64'],
});

export const VCPU_SET_SINGLESHOT_TIMER = struct('struct vcpu_set_singleshot_timer', 12, {
  timeout_abs_ns: [0, 'u64'],
  flags: [8, 'u32'],
});

export const VCPU_REGISTER_VCPU_INFO = struct('struct vcpu_register_vcpu_info', 16, {
  mfn: [0, 'u64'],
  offset: [8, 'u32'],
  rsvd: [12, 'u32'],
});

export const VCPU_GET_PHYSID = struct('struct vcpu_get_physid', 8, {
  phys_id: [0, 'u64'],
});

export const VCPU_REGISTER_TIME_MEMORY_AREA = struct('struct vcpu_register_time_memory_area', 8, {
  addr: [0, 'blob[8]'],
  'addr.h': [0, 'ptr'],
  'addr.v': [0, 'ptr'],
  'addr.p': [0, 'u64'],
});
