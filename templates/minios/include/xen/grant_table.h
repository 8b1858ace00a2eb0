/*
 * xen/grant_table.h - corresponds to Xen's public header grant_table.h.
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300,
 * x86_32). Call as HYPERVISOR_grant_table_op(GNTTABOP_xxx, ops, count).
 *
 * Granting a page with a v1 entry: fill domid and frame, issue a write
 * barrier, then set flags (GTF_permit_access, maybe | GTF_readonly). To
 * revoke, clear flags with a compare-and-swap that fails while Xen or the
 * peer still has GTF_reading/GTF_writing set. Entries below
 * GNTTAB_NR_RESERVED_ENTRIES belong to the toolstack (0 console,
 * 1 xenstore); frontends allocate from 8. One 4 KiB frame holds 512 v1
 * entries.
 */
#ifndef XENKIT_XEN_GRANT_TABLE_H
#define XENKIT_XEN_GRANT_TABLE_H

#include "xen.h"

#define GNTTAB_NR_RESERVED_ENTRIES  8
#define GNTTAB_RESERVED_CONSOLE     0
#define GNTTAB_RESERVED_XENSTORE    1

/* Entry type in flags bits 0-1, then flag bits. */
#define GTF_invalid             XENKIT_U(0)
#define GTF_permit_access       XENKIT_U(1)
#define GTF_accept_transfer     XENKIT_U(2)
#define GTF_transitive          XENKIT_U(3)
#define GTF_type_mask           XENKIT_U(3)
#define GTF_readonly            XENKIT_U(0x04)   /* guest: peer may only read */
#define GTF_reading             XENKIT_U(0x08)   /* Xen: mapped/copied for reading */
#define GTF_writing             XENKIT_U(0x10)   /* Xen: mapped/copied for writing */
#define GTF_PWT                 XENKIT_U(0x20)
#define GTF_PCD                 XENKIT_U(0x40)
#define GTF_PAT                 XENKIT_U(0x80)
#define GTF_sub_page            XENKIT_U(0x100)  /* v2 only */
#define GTF_transfer_committed  XENKIT_U(0x04)   /* accept_transfer entries */
#define GTF_transfer_completed  XENKIT_U(0x08)

#define GNTTABOP_map_grant_ref      0
#define GNTTABOP_unmap_grant_ref    1
#define GNTTABOP_setup_table        2
#define GNTTABOP_dump_table         3
#define GNTTABOP_transfer           4
#define GNTTABOP_copy               5
#define GNTTABOP_query_size         6
#define GNTTABOP_unmap_and_replace  7
#define GNTTABOP_set_version        8
#define GNTTABOP_get_status_frames  9
#define GNTTABOP_get_version       10
#define GNTTABOP_swap_grant_ref    11
#define GNTTABOP_cache_flush       12

/* gnttab_map_grant_ref.flags */
#define GNTMAP_device_map        (1 << 0)
#define GNTMAP_host_map          (1 << 1)
#define GNTMAP_readonly          (1 << 2)
#define GNTMAP_application_map   (1 << 3)
#define GNTMAP_contains_pte      (1 << 4)
#define GNTMAP_guest_avail_mask  XENKIT_U(0xFFFF0000)

/* Per-operation status codes. */
#define GNTST_okay                0
#define GNTST_general_error      (-1)
#define GNTST_bad_domain         (-2)
#define GNTST_bad_gntref         (-3)
#define GNTST_bad_handle         (-4)
#define GNTST_bad_virt_addr      (-5)
#define GNTST_bad_dev_addr       (-6)
#define GNTST_no_device_space    (-7)
#define GNTST_permission_denied  (-8)
#define GNTST_bad_page           (-9)
#define GNTST_bad_copy_arg       (-10)
#define GNTST_address_too_big    (-11)
#define GNTST_eagain             (-12)
#define GNTST_no_space           (-13)

/* gnttab_copy.flags: which side is named by a grant reference. */
#define GNTCOPY_source_gref  (1 << 0)
#define GNTCOPY_dest_gref    (1 << 1)

/* gnttab_cache_flush.op */
#define GNTTAB_CACHE_CLEAN        XENKIT_U(0x1)
#define GNTTAB_CACHE_INVAL        XENKIT_U(0x2)
#define GNTTAB_CACHE_SOURCE_GREF  XENKIT_U(0x80000000)

#ifndef __ASSEMBLER__

typedef uint32_t grant_ref_t;
typedef uint32_t grant_handle_t;
typedef uint16_t grant_status_t;

/* A v1 grant entry (8 bytes). frame: MFN for PV guests, GFN for HVM/PVH. */
struct grant_entry_v1 {
    uint16_t flags;             /* GTF_* */
    domid_t  domid;             /* the domain allowed access */
    uint32_t frame;
};
typedef struct grant_entry_v1 grant_entry_v1_t;

struct grant_entry_header {
    uint16_t flags;
    domid_t  domid;
};
typedef struct grant_entry_header grant_entry_header_t;

/* A v2 grant entry (16 bytes). */
union grant_entry_v2 {
    struct grant_entry_header hdr;
    struct {
        struct grant_entry_header hdr;
        uint32_t pad0;
        uint64_t frame;
    } full_page;
    struct {
        struct grant_entry_header hdr;
        uint16_t page_off;
        uint16_t length;
        uint64_t frame;
    } sub_page;
    struct {
        struct grant_entry_header hdr;
        domid_t     trans_domid;
        uint16_t    pad0;
        grant_ref_t gref;
    } transitive;
    uint32_t __spacer[4];
};
typedef union grant_entry_v2 grant_entry_v2_t;

/* 32 bytes. OUT: status, handle, dev_bus_addr. */
struct gnttab_map_grant_ref {
    uint64_t       host_addr;
    uint32_t       flags;       /* GNTMAP_* */
    grant_ref_t    ref;
    domid_t        dom;
    int16_t        status;      /* GNTST_* */
    grant_handle_t handle;
    uint64_t       dev_bus_addr;
};
typedef struct gnttab_map_grant_ref gnttab_map_grant_ref_t;

/* 24 bytes. */
struct gnttab_unmap_grant_ref {
    uint64_t       host_addr;
    uint64_t       dev_bus_addr;
    grant_handle_t handle;
    int16_t        status;
};
typedef struct gnttab_unmap_grant_ref gnttab_unmap_grant_ref_t;

/*
 * Size the caller's grant table to nr_frames and return its frames in
 * frame_list (MFNs for PV). 16 bytes.
 */
struct gnttab_setup_table {
    domid_t  dom;
    uint32_t nr_frames;
    int16_t  status;
    XEN_GUEST_HANDLE(xen_pfn_t) frame_list;
};
typedef struct gnttab_setup_table gnttab_setup_table_t;

struct gnttab_dump_table {
    domid_t dom;
    int16_t status;
};
typedef struct gnttab_dump_table gnttab_dump_table_t;

struct gnttab_transfer {
    xen_pfn_t   mfn;
    domid_t     domid;
    grant_ref_t ref;
    int16_t     status;
};
typedef struct gnttab_transfer gnttab_transfer_t;

/* One side of a copy: a grant reference or a local frame, plus offset. */
struct gnttab_copy_ptr {
    union {
        grant_ref_t ref;
        xen_pfn_t   gmfn;
    } u;
    domid_t  domid;
    uint16_t offset;
};

/* 24 bytes. */
struct gnttab_copy {
    struct gnttab_copy_ptr source;
    struct gnttab_copy_ptr dest;
    uint16_t len;
    uint16_t flags;             /* GNTCOPY_* */
    int16_t  status;
};
typedef struct gnttab_copy gnttab_copy_t;

/* 16 bytes. */
struct gnttab_query_size {
    domid_t  dom;
    uint32_t nr_frames;
    uint32_t max_nr_frames;
    int16_t  status;
};
typedef struct gnttab_query_size gnttab_query_size_t;

struct gnttab_unmap_and_replace {
    uint64_t       host_addr;
    uint64_t       new_addr;
    grant_handle_t handle;
    int16_t        status;
};
typedef struct gnttab_unmap_and_replace gnttab_unmap_and_replace_t;

/* IN: wanted version; OUT: version in force. */
struct gnttab_set_version {
    uint32_t version;
};
typedef struct gnttab_set_version gnttab_set_version_t;

struct gnttab_get_status_frames {
    uint32_t nr_frames;
    domid_t  dom;
    int16_t  status;
    XEN_GUEST_HANDLE(uint64_t) frame_list;
};
typedef struct gnttab_get_status_frames gnttab_get_status_frames_t;

struct gnttab_get_version {
    domid_t  dom;
    uint16_t pad;
    uint32_t version;
};
typedef struct gnttab_get_version gnttab_get_version_t;

struct gnttab_swap_grant_ref {
    grant_ref_t ref_a;
    grant_ref_t ref_b;
    int16_t     status;
};
typedef struct gnttab_swap_grant_ref gnttab_swap_grant_ref_t;

struct gnttab_cache_flush {
    union {
        uint64_t    dev_bus_addr;
        grant_ref_t ref;
    } a;
    uint16_t offset;
    uint16_t length;
    uint32_t op;                /* GNTTAB_CACHE_* */
};
typedef struct gnttab_cache_flush gnttab_cache_flush_t;

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_GRANT_TABLE_H */
