/*
 * xen/sched.h - corresponds to Xen's public header sched.h.
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300,
 * x86_32). Call as HYPERVISOR_sched_op(SCHEDOP_xxx, arg). The old
 * sched_op_compat hypercall (6) takes the same commands but passes the
 * argument by value.
 */
#ifndef XENKIT_XEN_SCHED_H
#define XENKIT_XEN_SCHED_H

#include "event_channel.h"

#define SCHEDOP_yield            0   /* arg: NULL */
#define SCHEDOP_block            1   /* arg: NULL; unmasks events (PV) and waits */
#define SCHEDOP_shutdown         2   /* arg: struct sched_shutdown * */
#define SCHEDOP_poll             3   /* arg: struct sched_poll * */
#define SCHEDOP_remote_shutdown  4   /* arg: struct sched_remote_shutdown * */
#define SCHEDOP_shutdown_code    5   /* arg: struct sched_shutdown * */
#define SCHEDOP_watchdog         6   /* arg: struct sched_watchdog * */
#define SCHEDOP_pin_override     7   /* arg: struct sched_pin_override * */

#define SHUTDOWN_poweroff    0
#define SHUTDOWN_reboot      1
#define SHUTDOWN_suspend     2
#define SHUTDOWN_crash       3
#define SHUTDOWN_watchdog    4
#define SHUTDOWN_soft_reset  5
#define SHUTDOWN_MAX         5

#ifndef __ASSEMBLER__

struct sched_shutdown {
    unsigned int reason;        /* SHUTDOWN_* */
};
typedef struct sched_shutdown sched_shutdown_t;

/*
 * Wait until one of the ports is pending or the timeout (absolute system
 * time in ns; 0 = none) passes. 16 bytes on x86_32.
 */
struct sched_poll {
    XEN_GUEST_HANDLE(evtchn_port_t) ports;
    unsigned int nr_ports;
    uint64_t     timeout;
};
typedef struct sched_poll sched_poll_t;

struct sched_remote_shutdown {
    domid_t      domain_id;
    unsigned int reason;        /* SHUTDOWN_* */
};
typedef struct sched_remote_shutdown sched_remote_shutdown_t;

struct sched_watchdog {
    uint32_t id;
    uint32_t timeout;
};
typedef struct sched_watchdog sched_watchdog_t;

struct sched_pin_override {
    int32_t pcpu;
};
typedef struct sched_pin_override sched_pin_override_t;

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_SCHED_H */
