/*
 * xen/hvm/hvm_op.h - corresponds to Xen's public header hvm/hvm_op.h (the
 * parts a guest uses).
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300,
 * x86_32). Call as HYPERVISOR_hvm_op(HVMOP_xxx, arg). A PVH guest reads
 * its console and xenstore pages and ports with HVMOP_get_param (see
 * params.h).
 */
#ifndef XENKIT_XEN_HVM_HVM_OP_H
#define XENKIT_XEN_HVM_HVM_OP_H

#include "../xen.h"

#define HVMOP_set_param                 0   /* struct xen_hvm_param * */
#define HVMOP_get_param                 1   /* struct xen_hvm_param * */
#define HVMOP_flush_tlbs                5   /* NULL */
#define HVMOP_pagetable_dying           9   /* struct xen_hvm_pagetable_dying * */
#define HVMOP_get_time                 10   /* struct xen_hvm_get_time * */
#define HVMOP_xentrace                 11
#define HVMOP_get_mem_type             15   /* struct xen_hvm_get_mem_type * */
#define HVMOP_set_evtchn_upcall_vector 23   /* struct xen_hvm_evtchn_upcall_vector * */
#define HVMOP_guest_request_vm_event   24
#define HVMOP_altp2m                   25

#ifndef __ASSEMBLER__

/* 16 bytes. */
struct xen_hvm_param {
    domid_t  domid;             /* DOMID_SELF */
    uint16_t pad;
    uint32_t index;             /* HVM_PARAM_* */
    uint64_t value;
};
typedef struct xen_hvm_param xen_hvm_param_t;

struct xen_hvm_pagetable_dying {
    domid_t  domid;
    uint16_t pad[3];
    uint64_t gpa;
};
typedef struct xen_hvm_pagetable_dying xen_hvm_pagetable_dying_t;

struct xen_hvm_get_time {
    uint64_t now;               /* ns since boot */
};
typedef struct xen_hvm_get_time xen_hvm_get_time_t;

struct xen_hvm_get_mem_type {
    domid_t  domid;
    uint16_t mem_type;          /* OUT */
    uint16_t pad[2];
    uint64_t pfn;
};
typedef struct xen_hvm_get_mem_type xen_hvm_get_mem_type_t;

/* Per-vCPU alternative to HVM_PARAM_CALLBACK_IRQ's vector type. */
struct xen_hvm_evtchn_upcall_vector {
    uint32_t vcpu;
    uint8_t  vector;
};
typedef struct xen_hvm_evtchn_upcall_vector xen_hvm_evtchn_upcall_vector_t;

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_HVM_HVM_OP_H */
