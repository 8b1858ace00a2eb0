/**
 * Xen's public header grant_table.h: grant_table_op commands, entry flags,
 * map flags, status codes and the op structs (x86_32).
 *
 * Mirrors templates/minios/include/xen/grant_table.h.
 */
import { constants, struct } from './layout.js';

export const GNTTAB_NR_RESERVED_ENTRIES = 8;
export const GNTTAB_RESERVED_CONSOLE = 0;
export const GNTTAB_RESERVED_XENSTORE = 1;

/** Derived geometry (no C counterpart): v1 entries per 4 KiB frame. */
export const GNTTAB_GEOMETRY = Object.freeze({ v1EntriesPerFrame: 4096 / 8, v2EntriesPerFrame: 4096 / 16 });

/** grant entry flags: type in bits 0-1, then flag bits. */
export const GTF = constants('GTF_', {
  invalid: 0,
  permit_access: 1,
  accept_transfer: 2,
  transitive: 3,
  type_mask: 3,
  readonly: 1 << 2,
  reading: 1 << 3,
  writing: 1 << 4,
  PWT: 1 << 5,
  PCD: 1 << 6,
  PAT: 1 << 7,
  sub_page: 1 << 8,
  transfer_committed: 1 << 2,
  transfer_completed: 1 << 3,
});

export const GNTTABOP = constants('GNTTABOP_', {
  map_grant_ref: 0,
  unmap_grant_ref: 1,
  setup_table: 2,
  dump_table: 3,
  transfer: 4,
  copy: 5,
  query_size: 6,
  unmap_and_replace: 7,
  set_version: 8,
  get_status_frames: 9,
  get_version: 10,
  swap_grant_ref: 11,
  cache_flush: 12,
});

export const GNTMAP = constants('GNTMAP_', {
  device_map: 1 << 0,
  host_map: 1 << 1,
  readonly: 1 << 2,
  application_map: 1 << 3,
  contains_pte: 1 << 4,
  guest_avail_mask: 0xffff0000,
});

export const GNTST = constants('GNTST_', {
  okay: 0,
  general_error: -1,
  bad_domain: -2,
  bad_gntref: -3,
  bad_handle: -4,
  bad_virt_addr: -5,
  bad_dev_addr: -6,
  no_device_space: -7,
  permission_denied: -8,
  bad_page: -9,
  bad_copy_arg: -10,
  address_too_big: -11,
  eagain: -12,
  no_space: -13,
});

export const GNTCOPY = constants('GNTCOPY_', { source_gref: 1 << 0, dest_gref: 1 << 1 });

export const GNTTAB_CACHE = constants('GNTTAB_CACHE_', {
  CLEAN: 1 << 0,
  INVAL: 1 << 1,
  SOURCE_GREF: 0x80000000,
});

export const GRANT_ENTRY_V1 = struct('struct grant_entry_v1', 8, {
  flags: [0, 'u16'],
  domid: [2, 'u16'],
  frame: [4, 'u32'],
});

export const GRANT_ENTRY_HEADER = struct('struct grant_entry_header', 4, {
  flags: [0, 'u16'],
  domid: [2, 'u16'],
});

export const GRANT_ENTRY_V2 = struct('union grant_entry_v2', 16, {
  hdr: [0, GRANT_ENTRY_HEADER],
  'full_page.hdr': [0, GRANT_ENTRY_HEADER],
  'full_page.pad0': [4, 'u32'],
  'full_page.frame': [8, 'u64'],
  'sub_page.hdr': [0, GRANT_ENTRY_HEADER],
  'sub_page.page_off': [4, 'u16'],
  'sub_page.length': [6, 'u16'],
  'sub_page.frame': [8, 'u64'],
  'transitive.hdr': [0, GRANT_ENTRY_HEADER],
  'transitive.trans_domid': [4, 'u16'],
  'transitive.pad0': [6, 'u16'],
  'transitive.gref': [8, 'u32'],
  __spacer: [0, 'u32[4]'],
});

export const GNTTAB_MAP_GRANT_REF = struct('struct gnttab_map_grant_ref', 32, {
  host_addr: [0, 'u64'],
  flags: [8, 'u32'],
  ref: [12, 'u32'],
  dom: [16, 'u16'],
  status: [18, 'i16'],
  handle: [20, 'u32'],
  dev_bus_addr: [24, 'u64'],
});

export const GNTTAB_UNMAP_GRANT_REF = struct('struct gnttab_unmap_grant_ref', 24, {
  host_addr: [0, 'u64'],
  dev_bus_addr: [8, 'u64'],
  handle: [16, 'u32'],
  status: [20, 'i16'],
});

/** frame_list returns the table's frames (MFNs for PV). */
export const GNTTAB_SETUP_TABLE = struct('struct gnttab_setup_table', 16, {
  dom: [0, 'u16'],
  nr_frames: [4, 'u32'],
  status: [8, 'i16'],
  frame_list: [12, 'ptr'],
});

export const GNTTAB_DUMP_TABLE = struct('struct gnttab_dump_table', 4, {
  dom: [0, 'u16'],
  status: [2, 'i16'],
});

export const GNTTAB_TRANSFER = struct('struct gnttab_transfer', 16, {
  mfn: [0, 'u32'],
  domid: [4, 'u16'],
  ref: [8, 'u32'],
  status: [12, 'i16'],
});

export const GNTTAB_COPY_PTR = struct('struct gnttab_copy_ptr', 8, {
  u: [0, 'blob[4]'],
  'u.ref': [0, 'u32'],
  'u.gmfn': [0, 'u32'],
  domid: [4, 'u16'],
  offset: [6, 'u16'],
});

export const GNTTAB_COPY = struct('struct gnttab_copy', 24, {
  source: [0, GNTTAB_COPY_PTR],
  'source.u.ref': [0, 'u32'],
  'source.u.gmfn': [0, 'u32'],
  'source.domid': [4, 'u16'],
  'source.offset': [6, 'u16'],
  dest: [8, GNTTAB_COPY_PTR],
  'dest.u.ref': [8, 'u32'],
  'dest.u.gmfn': [8, 'u32'],
  'dest.domid': [12, 'u16'],
  'dest.offset': [14, 'u16'],
  len: [16, 'u16'],
  flags: [18, 'u16'],
  status: [20, 'i16'],
});

export const GNTTAB_QUERY_SIZE = struct('struct gnttab_query_size', 16, {
  dom: [0, 'u16'],
  nr_frames: [4, 'u32'],
  max_nr_frames: [8, 'u32'],
  status: [12, 'i16'],
});

export const GNTTAB_UNMAP_AND_REPLACE = struct('struct gnttab_unmap_and_replace', 24, {
  host_addr: [0, 'u64'],
  new_addr: [8, 'u64'],
  handle: [16, 'u32'],
  status: [20, 'i16'],
});

export const GNTTAB_SET_VERSION = struct('struct gnttab_set_version', 4, {
  version: [0, 'u32'],
});

export const GNTTAB_GET_STATUS_FRAMES = struct('struct gnttab_get_status_frames', 12, {
  nr_frames: [0, 'u32'],
  dom: [4, 'u16'],
  status: [6, 'i16'],
  frame_list: [8, 'ptr'],
});

export const GNTTAB_GET_VERSION = struct('struct gnttab_get_version', 8, {
  dom: [0, 'u16'],
  pad: [2, 'u16'],
  version: [4, 'u32'],
});

export const GNTTAB_SWAP_GRANT_REF = struct('struct gnttab_swap_grant_ref', 12, {
  ref_a: [0, 'u32'],
  ref_b: [4, 'u32'],
  status: [8, 'i16'],
});

export const GNTTAB_CACHE_FLUSH = struct('struct gnttab_cache_flush', 16, {
  a: [0, 'blob[8]'],
  'a.dev_bus_addr': [0, 'u64'],
  'a.ref': [0, 'u32'],
  offset: [8, 'u16'],
  length: [10, 'u16'],
  op: [12, 'u32'],
});

