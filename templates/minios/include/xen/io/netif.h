/*
 * xen/io/netif.h - corresponds to Xen's public header io/netif.h (the
 * single-queue data path).
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300).
 * These layouts are the same on i386 and x86_64. Transmit: the guest
 * grants its buffer and posts netif_tx_request slots (size is the whole
 * packet in the first slot, the fragment size in later ones); the backend
 * copies out and answers with netif_tx_response. Receive: the guest posts
 * granted empty pages as netif_rx_request; the backend copies a packet in
 * and answers with offset and length (status > 0) or an error.
 */
#ifndef XENKIT_XEN_IO_NETIF_H
#define XENKIT_XEN_IO_NETIF_H

#include "ring.h"
#include "../grant_table.h"

#define XEN_NETIF_NR_SLOTS_MIN  18
#define XEN_NETIF_MAX_TX_SIZE   0xFFFF

/* netif_tx_request.flags */
#define NETTXF_csum_blank      (XENKIT_U(1) << 0)
#define NETTXF_data_validated  (XENKIT_U(1) << 1)
#define NETTXF_more_data       (XENKIT_U(1) << 2)   /* packet continues in the next slot */
#define NETTXF_extra_info      (XENKIT_U(1) << 3)   /* a netif_extra_info slot follows */

/* netif_rx_response.flags */
#define NETRXF_data_validated  (XENKIT_U(1) << 0)
#define NETRXF_csum_blank      (XENKIT_U(1) << 1)
#define NETRXF_more_data       (XENKIT_U(1) << 2)
#define NETRXF_extra_info      (XENKIT_U(1) << 3)
#define NETRXF_gso_prefix      (XENKIT_U(1) << 4)

/* Response status codes (rx status > 0 is a length instead). */
#define NETIF_RSP_DROPPED  (-2)
#define NETIF_RSP_ERROR    (-1)
#define NETIF_RSP_OKAY       0
#define NETIF_RSP_NULL       1   /* the answer to an extra-info slot */

/* netif_extra_info.type */
#define XEN_NETIF_EXTRA_TYPE_NONE       0
#define XEN_NETIF_EXTRA_TYPE_GSO        1
#define XEN_NETIF_EXTRA_TYPE_MCAST_ADD  2
#define XEN_NETIF_EXTRA_TYPE_MCAST_DEL  3
#define XEN_NETIF_EXTRA_TYPE_HASH       4
#define XEN_NETIF_EXTRA_TYPE_MAX        5

/* netif_extra_info.flags */
#define XEN_NETIF_EXTRA_FLAG_MORE  (XENKIT_U(1) << 0)

/* netif_extra_info.u.gso.type */
#define XEN_NETIF_GSO_TYPE_NONE   0
#define XEN_NETIF_GSO_TYPE_TCPV4  1
#define XEN_NETIF_GSO_TYPE_TCPV6  2

#ifndef __ASSEMBLER__

/* 12 bytes. */
struct netif_tx_request {
    grant_ref_t gref;
    uint16_t    offset;         /* within the granted page */
    uint16_t    flags;          /* NETTXF_* */
    uint16_t    id;             /* echoed in the response */
    uint16_t    size;
};
typedef struct netif_tx_request netif_tx_request_t;

/* 8 bytes: an extra descriptor in a request slot. */
struct netif_extra_info {
    uint8_t type;               /* XEN_NETIF_EXTRA_TYPE_* */
    uint8_t flags;              /* XEN_NETIF_EXTRA_FLAG_* */
    union {
        struct {
            uint16_t size;
            uint8_t  type;      /* XEN_NETIF_GSO_TYPE_* */
            uint8_t  pad;
            uint16_t features;
        } gso;
        struct {
            uint8_t addr[6];
        } mcast;
        struct {
            uint8_t type;
            uint8_t algorithm;
            uint8_t value[4];
        } hash;
        uint16_t pad[3];
    } u;
};
typedef struct netif_extra_info netif_extra_info_t;

/* 4 bytes. */
struct netif_tx_response {
    uint16_t id;
    int16_t  status;            /* NETIF_RSP_* */
};
typedef struct netif_tx_response netif_tx_response_t;

/* 8 bytes. */
struct netif_rx_request {
    uint16_t    id;
    uint16_t    pad;
    grant_ref_t gref;
};
typedef struct netif_rx_request netif_rx_request_t;

/* 8 bytes. */
struct netif_rx_response {
    uint16_t id;
    uint16_t offset;
    uint16_t flags;             /* NETRXF_* */
    int16_t  status;            /* bytes received, or NETIF_RSP_* */
};
typedef struct netif_rx_response netif_rx_response_t;

XENKIT_DEFINE_RING(netif_tx, struct netif_tx_request, struct netif_tx_response);
XENKIT_DEFINE_RING(netif_rx, struct netif_rx_request, struct netif_rx_response);

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_IO_NETIF_H */
