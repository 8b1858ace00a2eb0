/*
 * xen/io/blkif.h - corresponds to Xen's public header io/blkif.h (and the
 * protocol names of io/protocols.h).
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300).
 * These are the x86_32 layouts (frontend "protocol" = "x86_32-abi"):
 * id and sector_number sit at 4 and 12 because uint64_t is 4-byte aligned
 * on i386, so a request is 108 bytes and a response 12. A one-page ring
 * holds 32 slots.
 *
 * A request names up to 11 segments; each is a granted 4 KiB frame plus
 * an inclusive range of 512-byte sectors [first_sect, last_sect] (0-7)
 * within it. Sector numbers are always in 512-byte units.
 */
#ifndef XENKIT_XEN_IO_BLKIF_H
#define XENKIT_XEN_IO_BLKIF_H

#include "ring.h"
#include "../grant_table.h"

#define XEN_IO_PROTO_ABI_X86_32  "x86_32-abi"
#define XEN_IO_PROTO_ABI_X86_64  "x86_64-abi"
#define XEN_IO_PROTO_ABI_ARM     "arm-abi"
#define XEN_IO_PROTO_ABI_NATIVE  XEN_IO_PROTO_ABI_X86_32

#define BLKIF_OP_READ             0
#define BLKIF_OP_WRITE            1
#define BLKIF_OP_WRITE_BARRIER    2   /* backend "feature-barrier" */
#define BLKIF_OP_FLUSH_DISKCACHE  3   /* backend "feature-flush-cache" */
#define BLKIF_OP_RESERVED_1       4
#define BLKIF_OP_DISCARD          5   /* backend "feature-discard" */
#define BLKIF_OP_INDIRECT         6   /* backend "feature-max-indirect-segments" */

#define BLKIF_MAX_SEGMENTS_PER_REQUEST        11
#define BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST   8

/* blkif_request_discard.flag */
#define BLKIF_DISCARD_SECURE  (1 << 0)

/* blkif_response.status */
#define BLKIF_RSP_EOPNOTSUPP  (-2)
#define BLKIF_RSP_ERROR       (-1)
#define BLKIF_RSP_OKAY          0

/* Bits of the backend's "info" node. */
#define VDISK_CDROM      0x1
#define VDISK_REMOVABLE  0x2
#define VDISK_READONLY   0x4

#ifndef __ASSEMBLER__

typedef uint16_t blkif_vdev_t;
typedef uint64_t blkif_sector_t;

/* 8 bytes (2 of them padding). */
struct blkif_request_segment {
    grant_ref_t gref;
    uint8_t     first_sect;
    uint8_t     last_sect;
};

/* 108 bytes on x86_32. */
struct blkif_request {
    uint8_t        operation;   /* BLKIF_OP_* */
    uint8_t        nr_segments;
    blkif_vdev_t   handle;
    uint64_t       id;          /* echoed in the response */
    blkif_sector_t sector_number;
    struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};
typedef struct blkif_request blkif_request_t;

/* 28 bytes on x86_32. */
struct blkif_request_discard {
    uint8_t        operation;   /* BLKIF_OP_DISCARD */
    uint8_t        flag;        /* BLKIF_DISCARD_SECURE or 0 */
    blkif_vdev_t   handle;
    uint64_t       id;
    blkif_sector_t sector_number;
    uint64_t       nr_sectors;
};
typedef struct blkif_request_discard blkif_request_discard_t;

/* 64 bytes on x86_32 (the trailing pad exists only there). */
struct blkif_request_indirect {
    uint8_t        operation;   /* BLKIF_OP_INDIRECT */
    uint8_t        indirect_op; /* BLKIF_OP_READ or _WRITE */
    uint16_t       nr_segments;
    uint64_t       id;
    blkif_sector_t sector_number;
    blkif_vdev_t   handle;
    grant_ref_t    indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
    uint64_t       pad;
};
typedef struct blkif_request_indirect blkif_request_indirect_t;

/* 12 bytes on x86_32. */
struct blkif_response {
    uint64_t id;
    uint8_t  operation;
    int16_t  status;            /* BLKIF_RSP_* */
};
typedef struct blkif_response blkif_response_t;

XENKIT_DEFINE_RING(blkif, struct blkif_request, struct blkif_response);

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_IO_BLKIF_H */
