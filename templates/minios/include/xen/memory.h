/*
 * xen/memory.h - corresponds to Xen's public header memory.h (the parts a
 * guest may use), plus the e820 record XENMEM_memory_map fills.
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300,
 * x86_32). Call as HYPERVISOR_memory_op(XENMEM_xxx, arg).
 */
#ifndef XENKIT_XEN_MEMORY_H
#define XENKIT_XEN_MEMORY_H

#include "xen.h"

#define XENMEM_increase_reservation   0   /* struct xen_memory_reservation * */
#define XENMEM_decrease_reservation   1   /* struct xen_memory_reservation * */
#define XENMEM_maximum_ram_page       2   /* NULL; returns the highest MFN */
#define XENMEM_current_reservation    3   /* domid_t *; returns pages */
#define XENMEM_maximum_reservation    4   /* domid_t *; returns pages */
#define XENMEM_machphys_mfn_list      5   /* struct xen_machphys_mfn_list * */
#define XENMEM_populate_physmap       6   /* struct xen_memory_reservation * */
#define XENMEM_add_to_physmap         7   /* struct xen_add_to_physmap * */
#define XENMEM_memory_map             9   /* struct xen_memory_map * */
#define XENMEM_machine_memory_map    10   /* struct xen_memory_map * */
#define XENMEM_exchange              11   /* struct xen_memory_exchange * */
#define XENMEM_machphys_mapping      12   /* struct xen_machphys_mapping * */
#define XENMEM_set_memory_map        13   /* struct xen_foreign_memory_map * */
#define XENMEM_maximum_gpfn          14   /* domid_t *; returns the highest GPFN */
#define XENMEM_remove_from_physmap   15   /* struct xen_remove_from_physmap * */
#define XENMEM_set_pod_target        16
#define XENMEM_get_pod_target        17
#define XENMEM_add_to_physmap_batch  23   /* struct xen_add_to_physmap_batch * */
#define XENMEM_machphys_compat_mfn_list 25
#define XENMEM_get_vnumainfo         26
#define XENMEM_acquire_resource      28

/* xen_memory_reservation.mem_flags */
#define XENMEMF_populate_on_demand   (1 << 16)
#define XENMEMF_exact_node_request   (1 << 17)
#define XENMEMF_vnode                (1 << 18)
#define XENMEMF_address_bits(bits)   (bits)
#define XENMEMF_node(node)           (((node) + 1) << 8)

/* Sources for XENMEM_add_to_physmap. */
#define XENMAPSPACE_shared_info   0   /* idx 0 */
#define XENMAPSPACE_grant_table   1   /* idx = frame; | XENMAPIDX_grant_table_status for v2 status */
#define XENMAPSPACE_gmfn          2
#define XENMAPSPACE_gmfn_range    3
#define XENMAPSPACE_gmfn_foreign  4
#define XENMAPSPACE_dev_mmio      5
#define XENMAPIDX_grant_table_status  XENKIT_U(0x80000000)

/* e820 record types (the BIOS convention, as XENMEM_memory_map returns). */
#define E820_RAM       1
#define E820_RESERVED  2
#define E820_ACPI      3
#define E820_NVS       4
#define E820_UNUSABLE  5
#define E820_PMEM      7

#ifndef __ASSEMBLER__

/* 20 bytes on x86_32. */
struct xen_memory_reservation {
    XEN_GUEST_HANDLE(xen_pfn_t) extent_start;
    xen_ulong_t  nr_extents;
    unsigned int extent_order;  /* each extent is 2^order pages */
    unsigned int mem_flags;     /* XENMEMF_* */
    domid_t      domid;         /* DOMID_SELF for unprivileged guests */
};
typedef struct xen_memory_reservation xen_memory_reservation_t;

struct xen_memory_exchange {
    struct xen_memory_reservation in;
    struct xen_memory_reservation out;
    xen_ulong_t nr_exchanged;   /* must be 0 on entry */
};
typedef struct xen_memory_exchange xen_memory_exchange_t;

struct xen_memory_domain {
    domid_t domid;
};

struct xen_machphys_mfn_list {
    unsigned int max_extents;
    XEN_GUEST_HANDLE(xen_pfn_t) extent_start;
    unsigned int nr_extents;
};
typedef struct xen_machphys_mfn_list xen_machphys_mfn_list_t;

struct xen_machphys_mapping {
    xen_ulong_t v_start, v_end;
    xen_ulong_t max_mfn;
};
typedef struct xen_machphys_mapping xen_machphys_mapping_t;

/*
 * Map a Xen-owned page (shared_info, a grant-table frame, ...) at guest
 * frame gpfn. 16 bytes.
 */
struct xen_add_to_physmap {
    domid_t      domid;
    uint16_t     size;          /* pages, for XENMAPSPACE_gmfn_range */
    unsigned int space;         /* XENMAPSPACE_* */
    xen_ulong_t  idx;
    xen_pfn_t    gpfn;
};
typedef struct xen_add_to_physmap xen_add_to_physmap_t;

struct xen_add_to_physmap_batch {
    domid_t  domid;
    uint16_t space;             /* XENMAPSPACE_* */
    uint16_t size;
    union {
        domid_t  foreign_domid; /* XENMAPSPACE_gmfn_foreign */
        uint16_t res0;          /* zero otherwise */
    } u;
    XEN_GUEST_HANDLE(xen_ulong_t) idxs;
    XEN_GUEST_HANDLE(xen_pfn_t) gpfns;
    XEN_GUEST_HANDLE(int) errs;
};
typedef struct xen_add_to_physmap_batch xen_add_to_physmap_batch_t;

struct xen_remove_from_physmap {
    domid_t   domid;
    xen_pfn_t gpfn;
};
typedef struct xen_remove_from_physmap xen_remove_from_physmap_t;

/*
 * IN: nr_entries = capacity of buffer (in e820 records);
 * OUT: nr_entries = records written.
 */
struct xen_memory_map {
    unsigned int nr_entries;
    XEN_GUEST_HANDLE(void) buffer;
};
typedef struct xen_memory_map xen_memory_map_t;

struct xen_foreign_memory_map {
    domid_t               domid;
    struct xen_memory_map map;
};
typedef struct xen_foreign_memory_map xen_foreign_memory_map_t;

/*
 * One record of the XENMEM_memory_map buffer: 20 bytes, packed, the layout
 * of BIOS INT 15h/E820h. Xen's headers describe the format in prose only;
 * the struct is xenkit's.
 */
struct e820entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;              /* E820_* */
} __attribute__((packed));

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_MEMORY_H */
