/*
 * xen/vcpu.h - corresponds to Xen's public header vcpu.h.
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300,
 * x86_32). Call as HYPERVISOR_vcpu_op(VCPUOP_xxx, vcpuid, arg).
 */
#ifndef XENKIT_XEN_VCPU_H
#define XENKIT_XEN_VCPU_H

#include "xen.h"

#define VCPUOP_initialise                      0   /* vcpu_guest_context (PV) */
#define VCPUOP_up                              1
#define VCPUOP_down                            2
#define VCPUOP_is_up                           3   /* returns 1 if up */
#define VCPUOP_get_runstate_info               4   /* struct vcpu_runstate_info * */
#define VCPUOP_register_runstate_memory_area   5
#define VCPUOP_set_periodic_timer              6   /* struct vcpu_set_periodic_timer * */
#define VCPUOP_stop_periodic_timer             7   /* NULL */
#define VCPUOP_set_singleshot_timer            8   /* struct vcpu_set_singleshot_timer * */
#define VCPUOP_stop_singleshot_timer           9   /* NULL */
#define VCPUOP_register_vcpu_info             10   /* struct vcpu_register_vcpu_info * */
#define VCPUOP_send_nmi                       11   /* NULL */
#define VCPUOP_get_physid                     12   /* struct vcpu_get_physid * */
#define VCPUOP_register_vcpu_time_memory_area 13
#define VCPUOP_register_runstate_phys_area    14
#define VCPUOP_register_vcpu_time_phys_area   15

/* vcpu_runstate_info.state */
#define RUNSTATE_running   0
#define RUNSTATE_runnable  1
#define RUNSTATE_blocked   2
#define RUNSTATE_offline   3

/* Set in state_entry_time while Xen rewrites a registered runstate area. */
#define XEN_RUNSTATE_UPDATE  (XENKIT_ULL(1) << 63)

/* vcpu_set_singleshot_timer.flags: fail with -XEN_ETIME if already past. */
#define VCPU_SSHOTTMR_future  XENKIT_U(1)

#ifndef __ASSEMBLER__

/* 44 bytes on x86_32 (the uint64_t members are only 4-byte aligned). */
struct vcpu_runstate_info {
    int      state;             /* RUNSTATE_* */
    uint64_t state_entry_time;  /* system time (ns) the state was entered */
    uint64_t time[4];           /* ns spent in each RUNSTATE_* */
};
typedef struct vcpu_runstate_info vcpu_runstate_info_t;

struct vcpu_register_runstate_memory_area {
    union {
        XEN_GUEST_HANDLE(vcpu_runstate_info_t) h;
        struct vcpu_runstate_info *v;
        uint64_t p;
    } addr;
};
typedef struct vcpu_register_runstate_memory_area vcpu_register_runstate_memory_area_t;

struct vcpu_set_periodic_timer {
    uint64_t period_ns;
};
typedef struct vcpu_set_periodic_timer vcpu_set_periodic_timer_t;

/* 12 bytes. */
struct vcpu_set_singleshot_timer {
    uint64_t timeout_abs_ns;    /* absolute system time */
    uint32_t flags;             /* VCPU_SSHOTTMR_* */
};
typedef struct vcpu_set_singleshot_timer vcpu_set_singleshot_timer_t;

/* Move this vCPU's vcpu_info to (mfn, offset). 16 bytes. */
struct vcpu_register_vcpu_info {
    uint64_t mfn;
    uint32_t offset;
    uint32_t rsvd;
};
typedef struct vcpu_register_vcpu_info vcpu_register_vcpu_info_t;

struct vcpu_get_physid {
    uint64_t phys_id;
};
typedef struct vcpu_get_physid vcpu_get_physid_t;

struct vcpu_register_time_memory_area {
    union {
        XEN_GUEST_HANDLE(vcpu_time_info_t) h;
        struct vcpu_time_info *v;
        uint64_t p;
    } addr;
};
typedef struct vcpu_register_time_memory_area vcpu_register_time_memory_area_t;

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_VCPU_H */
