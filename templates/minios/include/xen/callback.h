/*
 * xen/callback.h - corresponds to Xen's public header callback.h.
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300,
 * x86_32). Call as HYPERVISOR_callback_op(CALLBACKOP_xxx, arg).
 * set_callbacks(ev_cs, ev_eip, fs_cs, fs_eip) is the older equivalent for
 * the event and failsafe callbacks.
 */
#ifndef XENKIT_XEN_CALLBACK_H
#define XENKIT_XEN_CALLBACK_H

#include "xen.h"

#define CALLBACKTYPE_event                0   /* event-channel upcall */
#define CALLBACKTYPE_failsafe             1   /* Xen could not reload segments */
#define CALLBACKTYPE_syscall              2   /* 64-bit guests */
#define CALLBACKTYPE_sysenter_deprecated  3
#define CALLBACKTYPE_nmi                  4
#define CALLBACKTYPE_sysenter             5
#define CALLBACKTYPE_syscall32            7

#define CALLBACKF_mask_events  (XENKIT_U(1) << 0)  /* mask events while in the callback */

#define CALLBACKOP_register    0   /* struct callback_register * */
#define CALLBACKOP_unregister  1   /* struct callback_unregister * */

#ifndef __ASSEMBLER__

/* 12 bytes on x86_32. */
struct callback_register {
    uint16_t       type;        /* CALLBACKTYPE_* */
    uint16_t       flags;       /* CALLBACKF_* */
    xen_callback_t address;     /* cs:eip */
};
typedef struct callback_register callback_register_t;

struct callback_unregister {
    uint16_t type;
    uint16_t _unused;
};
typedef struct callback_unregister callback_unregister_t;

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_CALLBACK_H */
