/**
 * Xen's public headers hvm/hvm_op.h and hvm/params.h (the guest-visible
 * parts): hvm_op commands, HVM parameters, the callback-via encoding and
 * the op structs (x86_32).
 *
 * Mirrors templates/minios/include/xen/hvm/hvm_op.h and hvm/params.h.
 */
import { constants, struct } from './layout.js';

export const HVMOP = constants('HVMOP_', {
  set_param: 0,
  get_param: 1,
  flush_tlbs: 5,
  pagetable_dying: 9,
  get_time: 10,
  xentrace: 11,
  get_mem_type: 15,
  set_evtchn_upcall_vector: 23,
  guest_request_vm_event: 24,
  altp2m: 25,
});

export const HVM_PARAM = constants('HVM_PARAM_', {
  CALLBACK_IRQ: 0,
  STORE_PFN: 1,
  STORE_EVTCHN: 2,
  IOREQ_PFN: 5,
  BUFIOREQ_PFN: 6,
  VIRIDIAN: 9,
  TIMER_MODE: 10,
  HPET_ENABLED: 11,
  IDENT_PT: 12,
  ACPI_S_STATE: 14,
  VM86_TSS: 15,
  VPT_ALIGN: 16,
  CONSOLE_PFN: 17,
  CONSOLE_EVTCHN: 18,
  ACPI_IOPORTS_LOCATION: 19,
  PAGING_RING_PFN: 27,
  MONITOR_RING_PFN: 28,
  SHARING_RING_PFN: 29,
  TRIPLE_FAULT_REASON: 31,
  IOREQ_SERVER_PFN: 32,
  NR_IOREQ_SERVER_PAGES: 33,
  VM_GENERATION_ID_ADDR: 34,
  ALTP2M: 35,
  X87_FIP_WIDTH: 36,
  VM86_TSS_SIZED: 37,
  MCA_CAP: 38,
});
export const HVM_NR_PARAMS = 39;

/** The type byte (bits 63:56) of an HVM_PARAM_CALLBACK_IRQ value. */
export const HVM_PARAM_CALLBACK_TYPE = constants('HVM_PARAM_CALLBACK_TYPE_', {
  GSI: 0,
  PCI_INTX: 1,
  VECTOR: 2,
});
export const HVM_PARAM_CALLBACK_IRQ_TYPE_MASK = 0xff00000000000000n;

export const HVMPTM = constants('HVMPTM_', {
  delay_for_missed_ticks: 0,
  no_delay_for_missed_ticks: 1,
  no_missed_ticks_pending: 2,
  one_missed_tick_pending: 3,
});

/** Split an HVM_PARAM_CALLBACK_IRQ value into its type and payload. */
export function decodeCallbackVia(value: bigint): { type: number; payload: bigint; vector?: number } {
  const v = BigInt.asUintN(64, value);
  const type = Number(v >> 56n);
  const payload = v & 0x00ffffffffffffffn;
  return type === HVM_PARAM_CALLBACK_TYPE.VECTOR ? { type, payload, vector: Number(v & 0xffn) } : { type, payload };
}

/** Build an HVM_PARAM_CALLBACK_IRQ value. */
export function encodeCallbackVia(type: number, payload: bigint | number): bigint {
  return (BigInt(type & 0xff) << 56n) | (BigInt(payload) & 0x00ffffffffffffffn);
}

export const XEN_HVM_PARAM = struct('struct xen_hvm_param', 16, {
  domid: [0, 'u16'],
  pad: [2, 'u16'],
  index: [4, 'u32'],
  value: [8, 'u64'],
});

export const XEN_HVM_PAGETABLE_DYING = struct('struct xen_hvm_pagetable_dying', 16, {
  domid: [0, 'u16'],
  pad: [2, 'u16[3]'],
  gpa: [8, 'u64'],
});

export const XEN_HVM_GET_TIME = struct('struct xen_hvm_get_time', 8, {
  now: [0, 'u64'],
});

export const XEN_HVM_GET_MEM_TYPE = struct('struct xen_hvm_get_mem_type', 16, {
  domid: [0, 'u16'],
  mem_type: [2, 'u16'],
  pad: [4, 'u16[2]'],
  pfn: [8, 'u64'],
});

export const XEN_HVM_EVTCHN_UPCALL_VECTOR = struct('struct xen_hvm_evtchn_upcall_vector', 8, {
  vcpu: [0, 'u32'],
  vector: [4, 'u8'],
});
