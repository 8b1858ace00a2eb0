/**
 * Xen's public header arch-x86/hvm/start_info.h: the PVH boot information
 * whose physical address a PVH kernel receives in EBX. All addresses are
 * guest-physical; the layouts are the same for 32- and 64-bit guests.
 *
 * Mirrors templates/minios/include/xen/hvm/start_info.h.
 */
import { constants, struct } from './layout.js';

export const XEN_HVM_START_MAGIC_VALUE = 0x336ec578;

export const XEN_HVM_MEMMAP_TYPE = constants('XEN_HVM_MEMMAP_TYPE_', {
  RAM: 1,
  RESERVED: 2,
  ACPI: 3,
  NVS: 4,
  UNUSABLE: 5,
  DISABLED: 6,
  PMEM: 7,
});

/** Version 1 (56 bytes); version 0 ends after rsdp_paddr (40 bytes). */
export const HVM_START_INFO = struct('struct hvm_start_info', 56, {
  magic: [0, 'u32'],
  version: [4, 'u32'],
  flags: [8, 'u32'],
  nr_modules: [12, 'u32'],
  modlist_paddr: [16, 'u64'],
  cmdline_paddr: [24, 'u64'],
  rsdp_paddr: [32, 'u64'],
  memmap_paddr: [40, 'u64'],
  memmap_entries: [48, 'u32'],
  reserved: [52, 'u32'],
});

export const HVM_MODLIST_ENTRY = struct('struct hvm_modlist_entry', 32, {
  paddr: [0, 'u64'],
  size: [8, 'u64'],
  cmdline_paddr: [16, 'u64'],
  reserved: [24, 'u64'],
});

export const HVM_MEMMAP_TABLE_ENTRY = struct('struct hvm_memmap_table_entry', 24, {
  addr: [0, 'u64'],
  size: [8, 'u64'],
  type: [16, 'u32'],
  reserved: [20, 'u32'],
});
