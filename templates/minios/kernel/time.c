/*
 * Time (Xen ABI reference §1.5 "vcpu_time_info", §4 "Timers", "Time";
 * include/minios/time.h for the interface).
 *
 * System time. Xen publishes, per vCPU, a snapshot: system_time (ns since
 * the domain started) taken at TSC value tsc_timestamp, and the TSC's
 * rate as a 32.32 fixed-point factor (tsc_to_system_mul, applied after
 * shifting by tsc_shift). Now is
 *
 *     system_time + scale_delta(rdtsc() - tsc_timestamp, mul, shift)
 *
 * with the 64 x 32-bit multiply of lib/clock.c. The snapshot is read
 * with Xen's version protocol: version is odd while Xen rewrites the
 * record, and changes with every rewrite, so read version, the fields and
 * the TSC, then version again, and retry on an odd or changed version.
 * Snapshots taken at different times may disagree by a few nanoseconds;
 * monotonic_clock() never returns less than it did before.
 *
 * Wall clock: shared_info's wc_sec (with arch.wc_sec_hi on i386) and
 * wc_nsec are the time of day at system time 0, under wc_version (same
 * protocol); the time of day now adds monotonic_clock().
 *
 * Timers: VIRQ_TIMER is raised by Xen's single-shot timer (set_timer_op,
 * which block_domain() arms for its deadline) and, on a PV vCPU, by a
 * default periodic timer of 10 ms. This kernel stops the periodic one
 * (VCPUOP_stop_periodic_timer) at boot: PVH vCPUs have none, so both
 * kinds of kernel then see timer events only for the deadlines they ask
 * for — no 100 Hz wake-ups of an idle domain, and timer counts that mean
 * the same thing everywhere. A kernel that wants a tick can start one
 * with VCPUOP_set_periodic_timer. The VIRQ_TIMER handler only counts; its
 * real job is to be there, so that the timer's event wakes block_domain().
 */
#include <minios/time.h>
#include <minios/arch.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/setup.h>
#include <xen/vcpu.h>

static evtchn_port_t virq_timer_port;
static volatile unsigned long timer_events;
static uint64_t last_now;

static void timer_handler(evtchn_port_t port, struct trap_frame *regs, void *data)
{
    (void)port;
    (void)regs;
    (void)data;
    timer_events++;
}

uint64_t monotonic_clock(void)
{
    const volatile struct vcpu_time_info *t;
    uint32_t version, mul;
    uint64_t stamp, system_time, tsc, now;
    unsigned long flags;
    int shift;

    if (!xen_shared_info)
        return 0;
    t = &xen_shared_info->vcpu_info[0].time;
    do {
        version = t->version;
        rmb();
        stamp = t->tsc_timestamp;
        system_time = t->system_time;
        mul = t->tsc_to_system_mul;
        shift = t->tsc_shift;
        tsc = rdtsc();
        rmb();
    } while ((version & 1) || version != t->version);
    now = system_time + scale_delta(tsc - stamp, mul, shift);

    flags = local_irq_save();
    if (now < last_now)
        now = last_now;
    last_now = now;
    local_irq_restore(flags);
    return now;
}

void wall_clock(struct wall_time *wt)
{
    const volatile shared_info_t *s = xen_shared_info;
    uint32_t version, nsec;
    uint64_t sec, now;

    if (!s) {
        wt->sec = 0;
        wt->nsec = 0;
        return;
    }
    do {
        version = s->wc_version;
        rmb();
        sec = (uint64_t)s->arch.wc_sec_hi << 32 | s->wc_sec;
        nsec = s->wc_nsec;
        rmb();
    } while ((version & 1) || version != s->wc_version);

    now = monotonic_clock() + nsec;
    wt->sec = sec + now / NSEC_PER_SEC;
    wt->nsec = (uint32_t)(now % NSEC_PER_SEC);
}

void sleep_until(uint64_t deadline_ns)
{
    unsigned long flags = local_irq_save();

    while (monotonic_clock() < deadline_ns)
        block_domain(deadline_ns);
    local_irq_restore(flags);
}

void msleep(uint32_t ms)
{
    sleep_until(monotonic_clock() + MILLISECS(ms));
}

evtchn_port_t timer_port(void)
{
    return virq_timer_port;
}

unsigned long timer_event_count(void)
{
    return timer_events;
}

void time_init(void)
{
    long rc;

    if (!xen_pvh) {
        rc = hypercall_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL);
        if (rc)
            printf("time: could not stop the periodic timer (%ld)\n", rc);
    }
    rc = evtchn_bind_virq(VIRQ_TIMER, timer_handler, NULL);
    if (rc < 0)
        printf("time: could not bind VIRQ_TIMER (%ld): deadlines will not wake the kernel\n", rc);
    else
        virq_timer_port = (evtchn_port_t)rc;
}
