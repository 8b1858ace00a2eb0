/**
 * Xen's public headers version.h and features.h: xen_version commands,
 * their argument structs, and the XENFEAT_* bits XENVER_get_features
 * reports.
 *
 * Mirrors templates/minios/include/xen/version.h and features.h.
 */
import { constants, struct } from './layout.js';

export const XENVER = constants('XENVER_', {
  version: 0,
  extraversion: 1,
  compile_info: 2,
  capabilities: 3,
  changeset: 4,
  platform_parameters: 5,
  get_features: 6,
  pagesize: 7,
  guest_handle: 8,
  commandline: 9,
  build_id: 10,
  extraversion2: 11,
  capabilities2: 12,
  changeset2: 13,
  commandline2: 14,
});

export const XEN_EXTRAVERSION_LEN = 16;
export const XEN_CAPABILITIES_INFO_LEN = 1024;
export const XEN_CHANGESET_INFO_LEN = 64;

/** Feature bit numbers (submap 0 = bits 0-31). */
export const XENFEAT = constants('XENFEAT_', {
  writable_page_tables: 0,
  writable_descriptor_tables: 1,
  auto_translated_physmap: 2,
  supervisor_mode_kernel: 3,
  pae_pgdir_above_4gb: 4,
  mmu_pt_update_preserve_ad: 5,
  highmem_assist: 6,
  gnttab_map_avail_bits: 7,
  hvm_callback_vector: 8,
  hvm_safe_pvclock: 9,
  hvm_pirqs: 10,
  dom0: 11,
  memory_op_vnode_supported: 13,
  ARM_SMCCC_supported: 14,
  linux_rsdp_unrestricted: 15,
  not_direct_mapped: 16,
  direct_mapped: 17,
  runstate_phys_area: 18,
  vcpu_time_phys_area: 19,
  dm_msix_all_writes: 20,
});
export const XENFEAT_NR_SUBMAPS = 1;

export const XEN_COMPILE_INFO = struct('struct xen_compile_info', 144, {
  compiler: [0, 'char[64]'],
  compile_by: [64, 'char[16]'],
  compile_domain: [80, 'char[32]'],
  compile_date: [112, 'char[32]'],
});

export const XEN_PLATFORM_PARAMETERS = struct('struct xen_platform_parameters', 4, {
  virt_start: [0, 'u32'],
});

export const XEN_FEATURE_INFO = struct('struct xen_feature_info', 8, {
  submap_idx: [0, 'u32'],
  submap: [4, 'u32'],
});

/** Header of a variable-length reply; buf[] follows at 4. */
export const XEN_BUILD_ID = struct('struct xen_build_id', 4, {
  len: [0, 'u32'],
});
export const XEN_VARBUF = struct('struct xen_varbuf', 4, {
  len: [0, 'u32'],
});

