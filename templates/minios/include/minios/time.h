/*
 * Time (kernel/time.c): Xen's system time as a monotonic clock, the wall
 * clock, VIRQ_TIMER, and sleeping until a deadline.
 *
 * System time counts nanoseconds since the domain started. Deadlines are
 * absolute system times: `monotonic_clock() + MILLISECS(100)`. The timer
 * is Xen's single-shot timer (set_timer_op), armed by block_domain()
 * (include/minios/events.h); the default 10 ms periodic timer of PV vCPUs
 * is stopped at boot, so PV and PVH kernels see the same thing: a timer
 * event only when a deadline asks for one.
 */
#ifndef MINIOS_TIME_H
#define MINIOS_TIME_H

#include <stdint.h>
#include <xen/event_channel.h>
#include <minios/lib.h>

#define NSEC_PER_SEC       1000000000ULL
#define MICROSECS(us)      ((uint64_t)(us) * 1000ULL)
#define MILLISECS(ms)      ((uint64_t)(ms) * 1000000ULL)
#define SECONDS(s)         ((uint64_t)(s) * NSEC_PER_SEC)

/**
 * Stop the PV periodic timer and bind VIRQ_TIMER (without it no deadline
 * could wake a sleeping vCPU). Called once by start_kernel, after
 * events_init().
 */
void time_init(void);

/**
 * Nanoseconds of system time since the domain started, from
 * vcpu_time_info and the TSC; never goes backwards.
 */
uint64_t monotonic_clock(void);

/** Time of day: seconds and nanoseconds since 1970-01-01T00:00:00Z. */
struct wall_time {
    uint64_t sec;
    uint32_t nsec;
};

/** The wall clock now: shared_info's wc_* (the time of day at system time 0) plus monotonic_clock(). */
void wall_clock(struct wall_time *t);

/** Sleep until system time reaches `deadline_ns` (events are handled meanwhile). */
void sleep_until(uint64_t deadline_ns);

/** Sleep for `ms` milliseconds. */
void msleep(uint32_t ms);

/** The port VIRQ_TIMER is bound to (0 if binding failed). */
evtchn_port_t timer_port(void);

/** How many VIRQ_TIMER events have arrived. */
unsigned long timer_event_count(void);

#endif /* MINIOS_TIME_H */
