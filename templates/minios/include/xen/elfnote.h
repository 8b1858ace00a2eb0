/*
 * xen/elfnote.h - corresponds to Xen's public header elfnote.h.
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300).
 * A kernel describes itself to the domain builder with ELF notes named
 * "Xen" (namesz 4) whose type is one of the numbers below. Numeric
 * descriptors are little-endian of 1, 2, 4 or 8 bytes; string descriptors
 * are NUL-terminated. A PV kernel needs at least LOADER ("generic"),
 * XEN_VERSION ("xen-3.0") and PAE_MODE ("yes"); a PVH kernel needs only
 * PHYS32_ENTRY. Usable from assembly.
 */
#ifndef XENKIT_XEN_ELFNOTE_H
#define XENKIT_XEN_ELFNOTE_H

#define XEN_ELFNOTE_INFO                  0   /* str: legacy NAME=VALUE list */
#define XEN_ELFNOTE_ENTRY                 1   /* int: virtual entry point */
#define XEN_ELFNOTE_HYPERCALL_PAGE        2   /* int: VA of the hypercall page */
#define XEN_ELFNOTE_VIRT_BASE             3   /* int: default 0 */
#define XEN_ELFNOTE_PADDR_OFFSET          4   /* int: default 0 */
#define XEN_ELFNOTE_XEN_VERSION           5   /* str: "xen-3.0" */
#define XEN_ELFNOTE_GUEST_OS              6   /* str */
#define XEN_ELFNOTE_GUEST_VERSION         7   /* str */
#define XEN_ELFNOTE_LOADER                8   /* str: "generic" */
#define XEN_ELFNOTE_PAE_MODE              9   /* str: "yes", "no", "bimodal", "yes,bimodal" */
#define XEN_ELFNOTE_FEATURES             10   /* str: "a|!b" list of XENFEAT names, ! = required */
#define XEN_ELFNOTE_BSD_SYMTAB           11   /* str */
#define XEN_ELFNOTE_HV_START_LOW         12   /* int: lowest start of the hypervisor hole */
#define XEN_ELFNOTE_L1_MFN_VALID         13
#define XEN_ELFNOTE_SUSPEND_CANCEL       14   /* int */
#define XEN_ELFNOTE_INIT_P2M             15   /* int: 64-bit guests only */
#define XEN_ELFNOTE_MOD_START_PFN        16   /* int */
#define XEN_ELFNOTE_SUPPORTED_FEATURES   17   /* int: bitmap of XENFEAT_* */
#define XEN_ELFNOTE_PHYS32_ENTRY         18   /* int: PVH 32-bit physical entry */
#define XEN_ELFNOTE_PHYS32_RELOC         19   /* PVH: up to 3 u32 (align, min, max) */
#define XEN_ELFNOTE_MAX                  XEN_ELFNOTE_PHYS32_RELOC

/* Notes in crash dumps and dump-core files, not in kernels. */
#define XEN_ELFNOTE_CRASH_INFO                0x1000001
#define XEN_ELFNOTE_CRASH_REGS                0x1000002
#define XEN_ELFNOTE_DUMPCORE_NONE             0x2000000
#define XEN_ELFNOTE_DUMPCORE_HEADER           0x2000001
#define XEN_ELFNOTE_DUMPCORE_XEN_VERSION      0x2000002
#define XEN_ELFNOTE_DUMPCORE_FORMAT_VERSION   0x2000003

#endif /* XENKIT_XEN_ELFNOTE_H */
