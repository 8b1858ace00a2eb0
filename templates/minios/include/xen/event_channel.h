/*
 * xen/event_channel.h - corresponds to Xen's public header event_channel.h.
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300,
 * x86_32). Call as HYPERVISOR_event_channel_op(EVTCHNOP_xxx, &struct).
 * Port 0 is never a valid port. The 2-level ABI (bitmaps in shared_info)
 * gives an i386 guest 1024 ports.
 */
#ifndef XENKIT_XEN_EVENT_CHANNEL_H
#define XENKIT_XEN_EVENT_CHANNEL_H

#include "xen.h"

#define EVTCHNOP_bind_interdomain   0
#define EVTCHNOP_bind_virq          1
#define EVTCHNOP_bind_pirq          2
#define EVTCHNOP_close              3
#define EVTCHNOP_send               4
#define EVTCHNOP_status             5
#define EVTCHNOP_alloc_unbound      6
#define EVTCHNOP_bind_ipi           7
#define EVTCHNOP_bind_vcpu          8
#define EVTCHNOP_unmask             9
#define EVTCHNOP_reset             10
#define EVTCHNOP_init_control      11   /* FIFO ABI */
#define EVTCHNOP_expand_array      12   /* FIFO ABI */
#define EVTCHNOP_set_priority      13   /* FIFO ABI */

/* evtchn_status.status */
#define EVTCHNSTAT_closed       0
#define EVTCHNSTAT_unbound      1
#define EVTCHNSTAT_interdomain  2
#define EVTCHNSTAT_pirq         3
#define EVTCHNSTAT_virq         4
#define EVTCHNSTAT_ipi          5

/* evtchn_bind_pirq.flags */
#define BIND_PIRQ__WILL_SHARE   1

/* Ports of the 2-level ABI on x86_32: 32 selector bits x 32-bit words. */
#define EVTCHN_2L_NR_CHANNELS   1024

/* FIFO ABI constants. */
#define EVTCHN_FIFO_PRIORITY_MAX      0
#define EVTCHN_FIFO_PRIORITY_DEFAULT  7
#define EVTCHN_FIFO_PRIORITY_MIN     15
#define EVTCHN_FIFO_MAX_QUEUES       16
#define EVTCHN_FIFO_PENDING          31
#define EVTCHN_FIFO_MASKED           30
#define EVTCHN_FIFO_LINKED           29
#define EVTCHN_FIFO_BUSY             28
#define EVTCHN_FIFO_LINK_BITS        17
#define EVTCHN_FIFO_LINK_MASK        ((1 << EVTCHN_FIFO_LINK_BITS) - 1)
#define EVTCHN_FIFO_NR_CHANNELS      (1 << EVTCHN_FIFO_LINK_BITS)

#ifndef __ASSEMBLER__

typedef uint32_t evtchn_port_t;

/* Allocate a port that remote_dom may later bind to. OUT: port. */
struct evtchn_alloc_unbound {
    domid_t       dom;          /* DOMID_SELF */
    domid_t       remote_dom;
    evtchn_port_t port;
};
typedef struct evtchn_alloc_unbound evtchn_alloc_unbound_t;

/* Connect to an unbound port of another domain. OUT: local_port. */
struct evtchn_bind_interdomain {
    domid_t       remote_dom;
    evtchn_port_t remote_port;
    evtchn_port_t local_port;
};
typedef struct evtchn_bind_interdomain evtchn_bind_interdomain_t;

/* Bind a VIRQ_* on one vCPU. OUT: port. */
struct evtchn_bind_virq {
    uint32_t      virq;
    uint32_t      vcpu;
    evtchn_port_t port;
};
typedef struct evtchn_bind_virq evtchn_bind_virq_t;

struct evtchn_bind_pirq {
    uint32_t      pirq;
    uint32_t      flags;        /* BIND_PIRQ__* */
    evtchn_port_t port;
};
typedef struct evtchn_bind_pirq evtchn_bind_pirq_t;

/* An inter-processor interrupt channel. OUT: port. */
struct evtchn_bind_ipi {
    uint32_t      vcpu;
    evtchn_port_t port;
};
typedef struct evtchn_bind_ipi evtchn_bind_ipi_t;

struct evtchn_close {
    evtchn_port_t port;
};
typedef struct evtchn_close evtchn_close_t;

struct evtchn_send {
    evtchn_port_t port;
};
typedef struct evtchn_send evtchn_send_t;

/* Query a port (24 bytes). IN: dom, port. OUT: the rest. */
struct evtchn_status {
    domid_t       dom;
    evtchn_port_t port;
    uint32_t      status;       /* EVTCHNSTAT_* */
    uint32_t      vcpu;
    union {
        struct {
            domid_t dom;
        } unbound;
        struct {
            domid_t       dom;
            evtchn_port_t port;
        } interdomain;
        uint32_t pirq;
        uint32_t virq;
    } u;
};
typedef struct evtchn_status evtchn_status_t;

/* Move a port's notifications to another vCPU. */
struct evtchn_bind_vcpu {
    evtchn_port_t port;
    uint32_t      vcpu;
};
typedef struct evtchn_bind_vcpu evtchn_bind_vcpu_t;

/* Clear a port's mask bit, re-raising the upcall if it is pending. */
struct evtchn_unmask {
    evtchn_port_t port;
};
typedef struct evtchn_unmask evtchn_unmask_t;

struct evtchn_reset {
    domid_t dom;
};
typedef struct evtchn_reset evtchn_reset_t;

struct evtchn_init_control {
    uint64_t control_gfn;
    uint32_t offset;
    uint32_t vcpu;
    uint8_t  link_bits;         /* OUT */
    uint8_t  _pad[7];
};
typedef struct evtchn_init_control evtchn_init_control_t;

struct evtchn_expand_array {
    uint64_t array_gfn;
};
typedef struct evtchn_expand_array evtchn_expand_array_t;

struct evtchn_set_priority {
    evtchn_port_t port;
    uint32_t      priority;
};
typedef struct evtchn_set_priority evtchn_set_priority_t;

/*
 * Argument of the old event_channel_op_compat hypercall (16): the command
 * travels inside the argument (28 bytes).
 */
struct evtchn_op {
    uint32_t cmd;               /* EVTCHNOP_* */
    union {
        struct evtchn_alloc_unbound    alloc_unbound;
        struct evtchn_bind_interdomain bind_interdomain;
        struct evtchn_bind_virq        bind_virq;
        struct evtchn_bind_pirq        bind_pirq;
        struct evtchn_bind_ipi         bind_ipi;
        struct evtchn_close            close;
        struct evtchn_send             send;
        struct evtchn_status           status;
        struct evtchn_bind_vcpu        bind_vcpu;
        struct evtchn_unmask           unmask;
    } u;
};
typedef struct evtchn_op evtchn_op_t;

/* FIFO ABI per-vCPU control block. */
typedef uint32_t event_word_t;
struct evtchn_fifo_control_block {
    uint32_t ready;
    uint32_t _rsvd;
    uint32_t head[EVTCHN_FIFO_MAX_QUEUES];
};
typedef struct evtchn_fifo_control_block evtchn_fifo_control_block_t;

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_EVENT_CHANNEL_H */
