/*
 * xen/hvm/start_info.h - corresponds to Xen's public header
 * arch-x86/hvm/start_info.h (the PVH boot information).
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300).
 * A PVH kernel enters at its XEN_ELFNOTE_PHYS32_ENTRY in 32-bit protected
 * mode with paging off and EBX = the physical address of struct
 * hvm_start_info. Every address in these structs is guest-physical; the
 * layouts are the same for 32- and 64-bit guests.
 */
#ifndef XENKIT_XEN_HVM_START_INFO_H
#define XENKIT_XEN_HVM_START_INFO_H

#define XEN_HVM_START_MAGIC_VALUE  0x336ec578   /* "xEn3" with bit 7 of 'E' set */

/* hvm_memmap_table_entry.type (the E820 numbering) */
#define XEN_HVM_MEMMAP_TYPE_RAM       1
#define XEN_HVM_MEMMAP_TYPE_RESERVED  2
#define XEN_HVM_MEMMAP_TYPE_ACPI      3
#define XEN_HVM_MEMMAP_TYPE_NVS       4
#define XEN_HVM_MEMMAP_TYPE_UNUSABLE  5
#define XEN_HVM_MEMMAP_TYPE_DISABLED  6
#define XEN_HVM_MEMMAP_TYPE_PMEM      7

#ifndef __ASSEMBLER__

#include <stdint.h>

/* 56 bytes (version 1; version 0 ends after rsdp_paddr). */
struct hvm_start_info {
    uint32_t magic;             /* XEN_HVM_START_MAGIC_VALUE */
    uint32_t version;
    uint32_t flags;             /* SIF_* */
    uint32_t nr_modules;
    uint64_t modlist_paddr;     /* array of struct hvm_modlist_entry */
    uint64_t cmdline_paddr;     /* NUL-terminated */
    uint64_t rsdp_paddr;        /* 0 when there is no ACPI */
    uint64_t memmap_paddr;      /* v1: array of struct hvm_memmap_table_entry */
    uint32_t memmap_entries;    /* v1 */
    uint32_t reserved;
};

/* 32 bytes. */
struct hvm_modlist_entry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
};

/* 24 bytes. */
struct hvm_memmap_table_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;              /* XEN_HVM_MEMMAP_TYPE_* */
    uint32_t reserved;
};

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_HVM_START_INFO_H */
