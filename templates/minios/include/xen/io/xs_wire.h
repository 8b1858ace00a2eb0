/*
 * xen/io/xs_wire.h - corresponds to Xen's public header io/xs_wire.h.
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300).
 * The xenstore protocol: a message is a 16-byte struct xsd_sockmsg header
 * followed by len payload bytes (NUL-separated strings), written as a byte
 * stream into the req[] ring of the xenstore page; replies and watch
 * events arrive in rsp[]. Streams may wrap around the 1024-byte rings.
 * Errors come back as type XS_ERROR with the errno *name* ("ENOENT")
 * as payload.
 */
#ifndef XENKIT_XEN_IO_XS_WIRE_H
#define XENKIT_XEN_IO_XS_WIRE_H

#define XENSTORE_RING_SIZE     1024
#define XENSTORE_PAYLOAD_MAX   4096   /* larger messages break the protocol */
#define XENSTORE_ABS_PATH_MAX  3072
#define XENSTORE_REL_PATH_MAX  2048

/* xenstore_domain_interface.server_features */
#define XENSTORE_SERVER_FEATURE_RECONNECTION  1
#define XENSTORE_SERVER_FEATURE_ERROR         2
#define XENSTORE_SERVER_FEATURE_WATCHDEPTH    4
#define XENSTORE_SERVER_FEATURE_DOMID_ANY     8

/* xenstore_domain_interface.connection */
#define XENSTORE_CONNECTED  0
#define XENSTORE_RECONNECT  1

/* xenstore_domain_interface.error */
#define XENSTORE_ERROR_NONE     0
#define XENSTORE_ERROR_COMM     1
#define XENSTORE_ERROR_RINGIDX  2
#define XENSTORE_ERROR_PROTO    3

#ifndef __ASSEMBLER__

#include <stdint.h>
#include "../errno.h"

enum xsd_sockmsg_type {
    XS_CONTROL              = 0,
    XS_DIRECTORY            = 1,
    XS_READ                 = 2,
    XS_GET_PERMS            = 3,
    XS_WATCH                = 4,
    XS_UNWATCH              = 5,
    XS_TRANSACTION_START    = 6,
    XS_TRANSACTION_END      = 7,
    XS_INTRODUCE            = 8,
    XS_RELEASE              = 9,
    XS_GET_DOMAIN_PATH      = 10,
    XS_WRITE                = 11,
    XS_MKDIR                = 12,
    XS_RM                   = 13,
    XS_SET_PERMS            = 14,
    XS_WATCH_EVENT          = 15,
    XS_ERROR                = 16,
    XS_IS_DOMAIN_INTRODUCED = 17,
    XS_RESUME               = 18,
    XS_SET_TARGET           = 19,
    /* 20 was XS_RESTRICT, since withdrawn */
    XS_RESET_WATCHES        = 21,
    XS_DIRECTORY_PART       = 22,
    XS_GET_FEATURE          = 23,
    XS_SET_FEATURE          = 24,
    XS_GET_QUOTA            = 25,
    XS_SET_QUOTA            = 26,
    XS_TYPE_COUNT           = 27,     /* one past the last valid type */
    XS_INVALID              = 0xffff  /* never a valid type */
};
#define XS_DEBUG XS_CONTROL

/* Fields of an XS_WATCH_EVENT payload, in order. */
enum xs_watch_type {
    XS_WATCH_PATH  = 0,
    XS_WATCH_TOKEN = 1
};

/* 16 bytes, followed by len payload bytes. */
struct xsd_sockmsg {
    uint32_t type;              /* enum xsd_sockmsg_type */
    uint32_t req_id;            /* echoed in the reply */
    uint32_t tx_id;             /* transaction, 0 for none */
    uint32_t len;               /* payload bytes */
};

/*
 * The error names an XS_ERROR reply may carry, in the protocol's order,
 * paired with Xen's errno values.
 */
struct xsd_errors {
    int         errnum;
    const char *errstring;
};
static const struct xsd_errors xsd_errors[] __attribute__((unused)) = {
    { XEN_EINVAL,    "EINVAL" },
    { XEN_EACCES,    "EACCES" },
    { XEN_EEXIST,    "EEXIST" },
    { XEN_EISDIR,    "EISDIR" },
    { XEN_ENOENT,    "ENOENT" },
    { XEN_ENOMEM,    "ENOMEM" },
    { XEN_ENOSPC,    "ENOSPC" },
    { XEN_EIO,       "EIO" },
    { XEN_ENOTEMPTY, "ENOTEMPTY" },
    { XEN_ENOSYS,    "ENOSYS" },
    { XEN_EROFS,     "EROFS" },
    { XEN_EBUSY,     "EBUSY" },
    { XEN_EAGAIN,    "EAGAIN" },
    { XEN_EISCONN,   "EISCONN" },
    { XEN_E2BIG,     "E2BIG" },
    { XEN_EPERM,     "EPERM" },
};

typedef uint32_t XENSTORE_RING_IDX;

/* Ring offset of free-running index idx. */
#define MASK_XENSTORE_IDX(idx) ((idx) & (XENSTORE_RING_SIZE - 1))

/* The xenstore page (2080 bytes used). */
struct xenstore_domain_interface {
    char              req[XENSTORE_RING_SIZE];  /* guest -> xenstored */
    char              rsp[XENSTORE_RING_SIZE];  /* replies and watch events */
    XENSTORE_RING_IDX req_cons, req_prod;
    XENSTORE_RING_IDX rsp_cons, rsp_prod;
    uint32_t          server_features;          /* XENSTORE_SERVER_FEATURE_* */
    uint32_t          connection;               /* XENSTORE_CONNECTED / _RECONNECT */
    uint32_t          error;                    /* XENSTORE_ERROR_* */
    uint32_t          evtchn_port;
};

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_IO_XS_WIRE_H */
