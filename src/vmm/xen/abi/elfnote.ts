/**
 * Xen's public header elfnote.h: the types of the "Xen" ELF notes a
 * kernel uses to describe itself to the domain builder.
 *
 * Mirrors templates/minios/include/xen/elfnote.h. (src/loader/notes.ts
 * parses the notes; this module is the ABI table.)
 */
import { constants } from './layout.js';

export const XEN_ELFNOTE = constants('XEN_ELFNOTE_', {
  INFO: 0,
  ENTRY: 1,
  HYPERCALL_PAGE: 2,
  VIRT_BASE: 3,
  PADDR_OFFSET: 4,
  XEN_VERSION: 5,
  GUEST_OS: 6,
  GUEST_VERSION: 7,
  LOADER: 8,
  PAE_MODE: 9,
  FEATURES: 10,
  BSD_SYMTAB: 11,
  HV_START_LOW: 12,
  L1_MFN_VALID: 13,
  SUSPEND_CANCEL: 14,
  INIT_P2M: 15,
  MOD_START_PFN: 16,
  SUPPORTED_FEATURES: 17,
  PHYS32_ENTRY: 18,
  PHYS32_RELOC: 19,
  MAX: 19,
  CRASH_INFO: 0x1000001,
  CRASH_REGS: 0x1000002,
  DUMPCORE_NONE: 0x2000000,
  DUMPCORE_HEADER: 0x2000001,
  DUMPCORE_XEN_VERSION: 0x2000002,
  DUMPCORE_FORMAT_VERSION: 0x2000003,
});

/** The note name every Xen note carries ("Xen\0", namesz 4). */
export const XEN_ELFNOTE_NAME = 'Xen';
