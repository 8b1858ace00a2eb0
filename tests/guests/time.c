/*
 * time: the template's clock and timers (kernel/time.c, block_domain in
 * kernel/events.c) against the VMM's vcpu_time_info, timers and
 * SCHEDOP_block / SCHEDOP_poll / PVH hlt.
 *
 *  1. vcpu_time_info is consistent (even version, a non-zero multiplier)
 *     and monotonic_clock() never goes back and advances while the vCPU
 *     runs; the wall clock is a plausible time of day (after 2020) and
 *     moves with system time.
 *  2. msleep(10) returns no earlier than 10 ms later, woken by one
 *     VIRQ_TIMER event (the single-shot timer) — and no more: the PV
 *     default periodic timer was stopped at boot.
 *  3. A deadline in the past fires at once.
 *  4. block_domain() also wakes for another event, long before its
 *     deadline, and that event's handler has run when it returns.
 *  5. A periodic timer started with VCPUOP_set_periodic_timer (10 ms)
 *     ticks about five times in 55 ms; stopped, it ticks no more.
 *  6. SCHEDOP_poll returns at once for a pending port, and after its
 *     timeout (absolute system time) for one that stays idle.
 */
#include "guest.h"
#include <minios/events.h>
#include <minios/time.h>
#include <xen/errno.h>
#include <xen/vcpu.h>

static volatile unsigned int loop_events;

static void count(evtchn_port_t port, struct trap_frame *regs, void *data)
{
    (void)port;
    (void)regs;
    (void)data;
    loop_events++;
}

static void show_ns(const char *what, uint64_t ns)
{
    printf("time: %s %llu.%06llu ms\n", what, (unsigned long long)(ns / 1000000),
           (unsigned long long)(ns % 1000000));
}

static void test_clock(void)
{
    const volatile struct vcpu_time_info *t = &xen_shared_info->vcpu_info[0].time;
    const volatile shared_info_t *s = xen_shared_info;
    uint64_t prev, now, start;
    struct wall_time w1, w2;
    bool backwards = false;

    test_check(!(t->version & 1), "vcpu_time_info.version %u is odd outside an update", t->version);
    test_check(t->tsc_to_system_mul != 0, "vcpu_time_info.tsc_to_system_mul is 0");

    start = prev = monotonic_clock();
    for (int i = 0; i < 2000; i++) {
        now = monotonic_clock();
        if (now < prev)
            backwards = true;
        prev = now;
    }
    test_check(!backwards, "monotonic_clock() went backwards");
    test_check(prev > start, "monotonic_clock() did not advance over 2000 reads (%llu)",
               (unsigned long long)start);

    test_check(!(s->wc_version & 1), "wc_version %u is odd outside an update", s->wc_version);
    wall_clock(&w1);
    test_check(w1.sec >= 1577836800ULL, "the wall clock says %llu s since 1970, before 2020",
               (unsigned long long)w1.sec);
    test_check(w1.nsec < NSEC_PER_SEC, "wall clock nanoseconds %u out of range", w1.nsec);
    msleep(20);
    wall_clock(&w2);
    test_check(w2.sec * NSEC_PER_SEC + w2.nsec >= w1.sec * NSEC_PER_SEC + w1.nsec + MILLISECS(20),
               "the wall clock moved less than the 20 ms slept");
}

static void test_sleep(void)
{
    unsigned long ticks = timer_event_count();
    uint64_t t0 = monotonic_clock(), t1;

    msleep(10);
    t1 = monotonic_clock();
    show_ns("msleep(10) took", t1 - t0);
    test_check(t1 - t0 >= MILLISECS(10), "msleep(10) returned after %llu ns", (unsigned long long)(t1 - t0));
    test_check(t1 - t0 < SECONDS(1), "msleep(10) took %llu ns", (unsigned long long)(t1 - t0));
    test_check(timer_event_count() == ticks + 1, "msleep(10) saw %lu timer events, expected 1 (the single-shot timer)",
               timer_event_count() - ticks);

    /* Only our deadlines make timer events: no periodic tick meanwhile. */
    ticks = timer_event_count();
    msleep(50);
    test_check(timer_event_count() == ticks + 1, "50 ms asleep saw %lu timer events, expected 1 (a periodic timer runs?)",
               timer_event_count() - ticks);
}

static void test_past_deadline(void)
{
    unsigned long ticks = timer_event_count(), flags;
    uint64_t t0 = monotonic_clock();

    flags = local_irq_save();
    block_domain(t0 > 1000 ? t0 - 1000 : 1);
    local_irq_restore(flags);
    test_check(timer_event_count() == ticks + 1, "a deadline in the past: %lu timer events, expected 1",
               timer_event_count() - ticks);
    test_check(monotonic_clock() - t0 < MILLISECS(10), "a deadline in the past slept %llu ns",
               (unsigned long long)(monotonic_clock() - t0));
}

static void test_block_wakes_for_events(void)
{
    long a, b;
    unsigned long flags;
    uint64_t t0;

    a = evtchn_alloc_unbound(DOMID_SELF, count, NULL);
    b = a > 0 ? evtchn_bind_interdomain(DOMID_SELF, (evtchn_port_t)a, count, NULL) : a;
    if (b <= 0) {
        test_error("a loopback channel: %ld", b);
        return;
    }
    loop_events = 0;
    flags = local_irq_save();
    evtchn_send((evtchn_port_t)a);      /* pending, not delivered: events are disabled */
    t0 = monotonic_clock();
    block_domain(t0 + SECONDS(1));
    local_irq_restore(flags);
    test_check(loop_events == 1, "block_domain() returned with %u handler calls, expected 1", loop_events);
    test_check(monotonic_clock() - t0 < MILLISECS(100), "block_domain() with an event pending slept %llu ns",
               (unsigned long long)(monotonic_clock() - t0));

    /* The one-second timer is still armed: let it fire, so later counts start clean. */
    sleep_until(t0 + SECONDS(1));
    evtchn_close((evtchn_port_t)a);
    evtchn_close((evtchn_port_t)b);
}

static void test_periodic(void)
{
    struct vcpu_set_periodic_timer p = { .period_ns = MILLISECS(10) };
    unsigned long ticks;
    long rc;

    rc = hypercall_vcpu_op(VCPUOP_set_periodic_timer, 0, &p);
    if (!test_check(rc == 0, "VCPUOP_set_periodic_timer(10 ms): %ld", rc))
        return;
    ticks = timer_event_count();
    msleep(55);
    ticks = timer_event_count() - ticks;
    printf("time: %lu timer events in 55 ms with a 10 ms periodic timer\n", ticks);
    test_check(ticks >= 5 && ticks <= 7, "a 10 ms periodic timer gave %lu events in 55 ms, expected 5-7", ticks);

    rc = hypercall_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL);
    test_check(rc == 0, "VCPUOP_stop_periodic_timer: %ld", rc);
    ticks = timer_event_count();
    msleep(50);
    test_check(timer_event_count() == ticks + 1, "after stopping the periodic timer, 50 ms gave %lu events, expected 1",
               timer_event_count() - ticks);
}

static void test_poll(void)
{
    evtchn_port_t port;
    uint64_t t0;
    long a, rc;

    a = evtchn_alloc_unbound(DOMID_SELF, count, NULL);
    if (a <= 0) {
        test_error("alloc_unbound: %ld", a);
        return;
    }
    port = (evtchn_port_t)a;
    evtchn_mask(port);

    t0 = monotonic_clock();
    rc = sched_poll(&port, 1, t0 + MILLISECS(20));
    test_check(rc == 0, "SCHEDOP_poll with a timeout: %ld", rc);
    test_check(monotonic_clock() - t0 >= MILLISECS(20), "SCHEDOP_poll returned after %llu ns, before its 20 ms timeout",
               (unsigned long long)(monotonic_clock() - t0));

    /* A masked port made pending by hand still counts for poll. */
    sync_set_bit(port % 32, &xen_shared_info->evtchn_pending[port / 32]);
    t0 = monotonic_clock();
    rc = sched_poll(&port, 1, t0 + SECONDS(1));
    test_check(rc == 0, "SCHEDOP_poll on a pending port: %ld", rc);
    test_check(monotonic_clock() - t0 < MILLISECS(100), "SCHEDOP_poll on a pending port slept %llu ns",
               (unsigned long long)(monotonic_clock() - t0));
    evtchn_clear(port);
    evtchn_close(port);
}

void app_main(void)
{
    printf("time: %s kernel\n", xen_pvh ? "PVH" : "PV");
    if (!xen_shared_info) {
        test_error("no shared_info");
        test_report();
        return;
    }
    if (!timer_port()) {
        test_error("VIRQ_TIMER is not bound");
        test_report();
        return;
    }
    test_clock();
    test_sleep();
    test_past_deadline();
    test_block_wakes_for_events();
    test_periodic();
    test_poll();
    test_report();
}
