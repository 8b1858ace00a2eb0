/**
 * Xen's public header event_channel.h: event_channel_op commands, port
 * states, and every op struct (x86_32), including the 28-byte compat
 * wrapper struct evtchn_op used by hypercall 16.
 *
 * Mirrors templates/minios/include/xen/event_channel.h.
 */
import { constants, struct } from './layout.js';

export const EVTCHNOP = constants('EVTCHNOP_', {
  bind_interdomain: 0,
  bind_virq: 1,
  bind_pirq: 2,
  close: 3,
  send: 4,
  status: 5,
  alloc_unbound: 6,
  bind_ipi: 7,
  bind_vcpu: 8,
  unmask: 9,
  reset: 10,
  init_control: 11,
  expand_array: 12,
  set_priority: 13,
});

/**
 * Sub-ops Xen's public header reserves for the hypervisor itself
 * (EVTCHNOP_reset_cont is the continuation of a preempted reset); absent
 * from the guest C header.
 */
export const EVTCHNOP_INTERNAL = Object.freeze({ reset_cont: 14 });

export const EVTCHNSTAT = constants('EVTCHNSTAT_', {
  closed: 0,
  unbound: 1,
  interdomain: 2,
  pirq: 3,
  virq: 4,
  ipi: 5,
});

export const BIND_PIRQ__WILL_SHARE = 1;

/** Ports of the 2-level ABI on x86_32 (32 words × 32 bits). */
export const EVTCHN_2L_NR_CHANNELS = 1024;

export const EVTCHN_FIFO_PRIORITY_MAX = 0;
export const EVTCHN_FIFO_PRIORITY_DEFAULT = 7;
export const EVTCHN_FIFO_PRIORITY_MIN = 15;
export const EVTCHN_FIFO_MAX_QUEUES = 16;
export const EVTCHN_FIFO_PENDING = 31;
export const EVTCHN_FIFO_MASKED = 30;
export const EVTCHN_FIFO_LINKED = 29;
export const EVTCHN_FIFO_BUSY = 28;
export const EVTCHN_FIFO_LINK_BITS = 17;
export const EVTCHN_FIFO_LINK_MASK = (1 << 17) - 1;
export const EVTCHN_FIFO_NR_CHANNELS = 1 << 17;

export const EVTCHN_ALLOC_UNBOUND = struct('struct evtchn_alloc_unbound', 8, {
  dom: [0, 'u16'],
  remote_dom: [2, 'u16'],
  port: [4, 'u32'],
});

export const EVTCHN_BIND_INTERDOMAIN = struct('struct evtchn_bind_interdomain', 12, {
  remote_dom: [0, 'u16'],
  remote_port: [4, 'u32'],
  local_port: [8, 'u32'],
});

export const EVTCHN_BIND_VIRQ = struct('struct evtchn_bind_virq', 12, {
  virq: [0, 'u32'],
  vcpu: [4, 'u32'],
  port: [8, 'u32'],
});

export const EVTCHN_BIND_PIRQ = struct('struct evtchn_bind_pirq', 12, {
  pirq: [0, 'u32'],
  flags: [4, 'u32'],
  port: [8, 'u32'],
});

export const EVTCHN_BIND_IPI = struct('struct evtchn_bind_ipi', 8, {
  vcpu: [0, 'u32'],
  port: [4, 'u32'],
});

export const EVTCHN_CLOSE = struct('struct evtchn_close', 4, { port: [0, 'u32'] });
export const EVTCHN_SEND = struct('struct evtchn_send', 4, { port: [0, 'u32'] });

export const EVTCHN_STATUS = struct('struct evtchn_status', 24, {
  dom: [0, 'u16'],
  port: [4, 'u32'],
  status: [8, 'u32'],
  vcpu: [12, 'u32'],
  u: [16, 'blob[8]'],
  'u.unbound.dom': [16, 'u16'],
  'u.interdomain.dom': [16, 'u16'],
  'u.interdomain.port': [20, 'u32'],
  'u.pirq': [16, 'u32'],
  'u.virq': [16, 'u32'],
});

export const EVTCHN_BIND_VCPU = struct('struct evtchn_bind_vcpu', 8, {
  port: [0, 'u32'],
  vcpu: [4, 'u32'],
});

export const EVTCHN_UNMASK = struct('struct evtchn_unmask', 4, { port: [0, 'u32'] });

export const EVTCHN_RESET = struct('struct evtchn_reset', 2, { dom: [0, 'u16'] });

export const EVTCHN_INIT_CONTROL = struct('struct evtchn_init_control', 24, {
  control_gfn: [0, 'u64'],
  offset: [8, 'u32'],
  vcpu: [12, 'u32'],
  link_bits: [16, 'u8'],
  _pad: [17, 'u8[7]'],
});

export const EVTCHN_EXPAND_ARRAY = struct('struct evtchn_expand_array', 8, {
  array_gfn: [0, 'u64'],
});

export const EVTCHN_SET_PRIORITY = struct('struct evtchn_set_priority', 8, {
  port: [0, 'u32'],
  priority: [4, 'u32'],
});

/** The compat wrapper: {cmd; union of the op structs} (28 bytes). */
export const EVTCHN_OP = struct('struct evtchn_op', 28, {
  cmd: [0, 'u32'],
  u: [4, 'blob[24]'],
  'u.alloc_unbound': [4, EVTCHN_ALLOC_UNBOUND],
  'u.bind_interdomain': [4, EVTCHN_BIND_INTERDOMAIN],
  'u.bind_virq': [4, EVTCHN_BIND_VIRQ],
  'u.bind_pirq': [4, EVTCHN_BIND_PIRQ],
  'u.bind_ipi': [4, EVTCHN_BIND_IPI],
  'u.close': [4, EVTCHN_CLOSE],
  'u.send': [4, EVTCHN_SEND],
  'u.status': [4, EVTCHN_STATUS],
  'u.bind_vcpu': [4, EVTCHN_BIND_VCPU],
  'u.unmask': [4, EVTCHN_UNMASK],
});

export const EVTCHN_FIFO_CONTROL_BLOCK = struct('struct evtchn_fifo_control_block', 72, {
  ready: [0, 'u32'],
  _rsvd: [4, 'u32'],
  head: [8, 'u32[16]'],
});
