/**
 * Xen's public header memory.h (guest-visible part): memory_op commands,
 * map spaces, and their argument structs (x86_32), plus the 20-byte e820
 * record XENMEM_memory_map fills (a BIOS format Xen's headers describe
 * only in prose, so that layout is flagged xenkitOnly).
 *
 * Mirrors templates/minios/include/xen/memory.h.
 */
import { constants, struct } from './layout.js';

export const XENMEM = constants('XENMEM_', {
  increase_reservation: 0,
  decrease_reservation: 1,
  maximum_ram_page: 2,
  current_reservation: 3,
  maximum_reservation: 4,
  machphys_mfn_list: 5,
  populate_physmap: 6,
  add_to_physmap: 7,
  memory_map: 9,
  machine_memory_map: 10,
  exchange: 11,
  machphys_mapping: 12,
  set_memory_map: 13,
  maximum_gpfn: 14,
  remove_from_physmap: 15,
  set_pod_target: 16,
  get_pod_target: 17,
  add_to_physmap_batch: 23,
  machphys_compat_mfn_list: 25,
  get_vnumainfo: 26,
  acquire_resource: 28,
});

/** xen_memory_reservation.mem_flags bits (address_bits and node live in bits 0-15). */
export const XENMEMF = constants('XENMEMF_', {
  populate_on_demand: 1 << 16,
  exact_node_request: 1 << 17,
  vnode: 1 << 18,
});

export const XENMAPSPACE = constants('XENMAPSPACE_', {
  shared_info: 0,
  grant_table: 1,
  gmfn: 2,
  gmfn_range: 3,
  gmfn_foreign: 4,
  dev_mmio: 5,
});
/** OR'd into xen_add_to_physmap.idx to map a v2 grant status frame. */
export const XENMAPIDX_grant_table_status = 0x80000000;

/** e820 record types (BIOS numbering). */
export const E820 = constants('E820_', {
  RAM: 1, RESERVED: 2, ACPI: 3, NVS: 4, UNUSABLE: 5, PMEM: 7,
}, { xenkitOnly: true });

export const XEN_MEMORY_RESERVATION = struct('struct xen_memory_reservation', 20, {
  extent_start: [0, 'ptr'],
  nr_extents: [4, 'u32'],
  extent_order: [8, 'u32'],
  mem_flags: [12, 'u32'],
  domid: [16, 'u16'],
});

export const XEN_MEMORY_EXCHANGE = struct('struct xen_memory_exchange', 44, {
  in: [0, XEN_MEMORY_RESERVATION],
  out: [20, XEN_MEMORY_RESERVATION],
  nr_exchanged: [40, 'u32'],
});

export const XEN_MEMORY_DOMAIN = struct('struct xen_memory_domain', 2, {
  domid: [0, 'u16'],
});

export const XEN_MACHPHYS_MFN_LIST = struct('struct xen_machphys_mfn_list', 12, {
  max_extents: [0, 'u32'],
  extent_start: [4, 'ptr'],
  nr_extents: [8, 'u32'],
});

export const XEN_MACHPHYS_MAPPING = struct('struct xen_machphys_mapping', 12, {
  v_start: [0, 'u32'],
  v_end: [4, 'u32'],
  max_mfn: [8, 'u32'],
});

export const XEN_ADD_TO_PHYSMAP = struct('struct xen_add_to_physmap', 16, {
  domid: [0, 'u16'],
  size: [2, 'u16'],
  space: [4, 'u32'],
  idx: [8, 'u32'],
  gpfn: [12, 'u32'],
});

export const XEN_ADD_TO_PHYSMAP_BATCH = struct('struct xen_add_to_physmap_batch', 20, {
  domid: [0, 'u16'],
  space: [2, 'u16'],
  size: [4, 'u16'],
  u: [6, 'blob[2]'],
  'u.foreign_domid': [6, 'u16'],
  'u.res0': [6, 'u16'],
  idxs: [8, 'ptr'],
  gpfns: [12, 'ptr'],
  errs: [16, 'ptr'],
});

export const XEN_REMOVE_FROM_PHYSMAP = struct('struct xen_remove_from_physmap', 8, {
  domid: [0, 'u16'],
  gpfn: [4, 'u32'],
});

/** nr_entries: IN capacity of buffer (in e820 records), OUT records written. */
export const XEN_MEMORY_MAP = struct('struct xen_memory_map', 8, {
  nr_entries: [0, 'u32'],
  buffer: [4, 'ptr'],
});

export const XEN_FOREIGN_MEMORY_MAP = struct('struct xen_foreign_memory_map', 12, {
  domid: [0, 'u16'],
  map: [4, XEN_MEMORY_MAP],
});

/** One packed 20-byte record of the XENMEM_memory_map buffer. */
export const E820ENTRY = struct('struct e820entry', 20, {
  addr: [0, 'u64'],
  size: [8, 'u64'],
  type: [16, 'u32'],
}, { xenkitOnly: true });
