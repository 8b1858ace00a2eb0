/*
 * events: the template's event channels (kernel/events.c) against the
 * VMM's 2-level event channels, PV (event callback) and PVH (callback
 * vector) alike.
 *
 *  1. Bindings the kernel made at boot: VIRQ_TIMER is bound (status virq
 *     0), binding it again is -EEXIST; the xenstore port is interdomain
 *     to domain 0.
 *  2. A loopback channel: alloc_unbound(DOMID_SELF) gives port A, unbound;
 *     bind_interdomain(DOMID_SELF, A) gives port B, and Xen raises B once
 *     at once (notifications to the unbound end were lost), so B's
 *     handler has run when the call returns. A and B are interdomain to
 *     each other; a send on either end runs the other's handler.
 *  3. Mask rules: with B masked, sends set pending[B] but raise no upcall
 *     (upcall_pending stays clear, the handler does not run); two sends
 *     are one pending bit; EVTCHNOP_unmask delivers it, once.
 *  4. Disabled events: a send with events disabled sets upcall_pending
 *     and waits; enabling events delivers it at once (PV: the kernel
 *     enters Xen to have it delivered; PVH: STI opens the interrupt window
 *     after one more instruction).
 *  5. A handler that raises its own port again is called again within
 *     the same upcall (the dispatcher re-checks upcall_pending).
 *  6. An IPI port (bind_ipi) delivers to itself.
 *  7. Closing A leaves B unbound (a send on it is dropped, 0); closing B
 *     frees it; closing or sending on a closed port, or on port 0, is
 *     -EINVAL.
 */
#include "guest.h"
#include <minios/events.h>
#include <minios/time.h>
#include <xen/errno.h>

struct counter {
    volatile unsigned int calls;
    evtchn_port_t last_port;
};

static struct counter ca, cb, cipi;
static evtchn_port_t port_a;
static volatile unsigned int resend_left;

static void count(evtchn_port_t port, struct trap_frame *regs, void *data)
{
    struct counter *c = data;

    (void)regs;
    c->calls++;
    c->last_port = port;
}

/* Phase 5: B's handler raises B again (through A) while it runs, and notes which upcall it runs in. */
static unsigned long resend_upcall[4];
static unsigned int resend_calls;

static void count_and_resend(evtchn_port_t port, struct trap_frame *regs, void *data)
{
    count(port, regs, data);
    if (resend_calls < ARRAY_SIZE(resend_upcall))
        resend_upcall[resend_calls++] = event_upcall_count();
    if (resend_left) {
        resend_left--;
        evtchn_send(port_a);
    }
}

static long status_of(evtchn_port_t port, struct evtchn_status *st)
{
    memset(st, 0, sizeof(*st));
    st->dom = DOMID_SELF;
    st->port = port;
    return hypercall_event_channel_op(EVTCHNOP_status, st);
}

static uint8_t upcall_pending(void)
{
    return READ_ONCE(xen_shared_info->vcpu_info[0].evtchn_upcall_pending);
}

static void test_boot_bindings(void)
{
    struct evtchn_status st;
    long rc;

    if (test_check(timer_port() != 0, "the kernel did not bind VIRQ_TIMER")) {
        rc = status_of(timer_port(), &st);
        test_check(rc == 0 && st.status == EVTCHNSTAT_virq && st.u.virq == VIRQ_TIMER,
                   "status of the timer port %u: rc %ld, status %u, virq %u", timer_port(), rc, st.status, st.u.virq);
    }
    rc = evtchn_bind_virq(VIRQ_TIMER, count, &ca);
    test_check(rc == -XEN_EEXIST, "binding VIRQ_TIMER a second time: %ld, expected -EEXIST", rc);

    rc = status_of(boot_info.xenstore_evtchn, &st);
    test_check(rc == 0 && st.status == EVTCHNSTAT_interdomain && st.u.interdomain.dom == 0,
               "status of the xenstore port %u: rc %ld, status %u, remote dom %u", boot_info.xenstore_evtchn, rc,
               st.status, st.u.interdomain.dom);
}

static evtchn_port_t test_loopback(void)
{
    struct evtchn_status st;
    long a, b, rc;

    a = evtchn_alloc_unbound(DOMID_SELF, count, &ca);
    if (a <= 0) {
        test_error("alloc_unbound(DOMID_SELF): %ld", a);
        return 0;
    }
    port_a = (evtchn_port_t)a;
    rc = status_of(port_a, &st);
    test_check(rc == 0 && st.status == EVTCHNSTAT_unbound, "port A %ld: status rc %ld, %u, expected unbound", a, rc,
               st.status);

    b = evtchn_bind_interdomain(DOMID_SELF, port_a, count, &cb);
    if (b <= 0) {
        test_error("bind_interdomain(DOMID_SELF, %ld): %ld", a, b);
        return 0;
    }
    printf("events: loopback channel A=%ld <-> B=%ld\n", a, b);
    test_check(cb.calls == 1 && cb.last_port == (evtchn_port_t)b,
               "binding B: its handler ran %u times (port %u), expected once (Xen raises a new interdomain port)",
               cb.calls, cb.last_port);
    test_check(ca.calls == 0, "binding B ran A's handler %u times", ca.calls);

    rc = status_of(port_a, &st);
    test_check(rc == 0 && st.status == EVTCHNSTAT_interdomain && st.u.interdomain.port == (evtchn_port_t)b,
               "port A: status %u remote port %u, expected interdomain to %ld", st.status, st.u.interdomain.port, b);
    rc = status_of((evtchn_port_t)b, &st);
    test_check(rc == 0 && st.status == EVTCHNSTAT_interdomain && st.u.interdomain.port == port_a,
               "port B: status %u remote port %u, expected interdomain to %ld", st.status, st.u.interdomain.port, a);

    rc = evtchn_send(port_a);
    test_check(rc == 0 && cb.calls == 2, "send on A: rc %ld, B's handler ran %u times in all, expected 2", rc, cb.calls);
    rc = evtchn_send((evtchn_port_t)b);
    test_check(rc == 0 && ca.calls == 1 && ca.last_port == port_a,
               "send on B: rc %ld, A's handler ran %u times (port %u), expected once on A", rc, ca.calls,
               ca.last_port);
    return (evtchn_port_t)b;
}

static void test_mask(evtchn_port_t b)
{
    unsigned int before = cb.calls;
    long rc;

    evtchn_mask(b);
    evtchn_send(port_a);
    evtchn_send(port_a);
    test_check(cb.calls == before, "a masked port's handler ran");
    test_check(evtchn_is_pending(b), "a send on A did not make the masked B pending");
    test_check(!upcall_pending(), "a masked port raised evtchn_upcall_pending");
    rc = evtchn_unmask(b);
    test_check(rc == 0, "EVTCHNOP_unmask: %ld", rc);
    test_check(cb.calls == before + 1, "after unmasking B its handler ran %u times, expected once",
               cb.calls - before);
    test_check(!evtchn_is_pending(b), "B is still pending after its handler ran");
    test_check(!evtchn_is_masked(b), "B is still masked after EVTCHNOP_unmask");

    /* Unmasking a port that is not pending delivers nothing. */
    before = cb.calls;
    evtchn_mask(b);
    evtchn_unmask(b);
    test_check(cb.calls == before, "unmasking an idle port ran its handler");
}

static void test_disabled(evtchn_port_t b)
{
    unsigned int before = cb.calls;

    local_irq_disable();
    evtchn_send(port_a);
    test_check(cb.calls == before, "a handler ran with events disabled");
    test_check(upcall_pending(), "a send with events disabled did not set evtchn_upcall_pending");
    test_check(evtchn_is_pending(b), "a send with events disabled did not make B pending");
    local_irq_enable();
    /* Delivered before local_irq_enable() returns: PV forces a callback; PVH's
     * STI lets the vector in after the next instruction, as hardware does. */
    if (cb.calls == before) {
        unsigned int spins = 0;

        while (cb.calls == before && spins < 100000)
            spins++;
        test_failure("enabling events did not deliver the pending event at once (%s after %u more loop iterations)",
                     cb.calls == before ? "not even" : "only", spins);
    }
    test_check(cb.calls == before + 1, "enabling events: B's handler ran %u times, expected once", cb.calls - before);
}

static void test_reraise(evtchn_port_t b)
{
    unsigned int before = cb.calls;

    evtchn_bind(b, count_and_resend, &cb);
    resend_calls = 0;
    resend_left = 2;
    evtchn_send(port_a);
    test_check(cb.calls == before + 3, "a handler that raises its port twice ran %u times, expected 3",
               cb.calls - before);
    test_check(resend_calls == 3 && resend_upcall[1] == resend_upcall[0] && resend_upcall[2] == resend_upcall[0],
               "the re-raised port was handled in upcalls %lu, %lu, %lu, expected one upcall", resend_upcall[0],
               resend_upcall[1], resend_upcall[2]);
    evtchn_bind(b, count, &cb);
}

static void test_ipi(void)
{
    struct evtchn_bind_ipi op = { .vcpu = 0 };
    long rc = hypercall_event_channel_op(EVTCHNOP_bind_ipi, &op);

    if (!test_check(rc == 0, "bind_ipi: %ld", rc))
        return;
    rc = evtchn_bind(op.port, count, &cipi);
    test_check(rc == 0 && cipi.calls == 0, "binding the IPI port: rc %ld, %u calls", rc, cipi.calls);
    rc = evtchn_send(op.port);
    test_check(rc == 0 && cipi.calls == 1 && cipi.last_port == op.port,
               "send on an IPI port: rc %ld, its handler ran %u times", rc, cipi.calls);
    rc = evtchn_close(op.port);
    test_check(rc == 0, "closing the IPI port: %ld", rc);
}

static void test_close(evtchn_port_t b)
{
    struct evtchn_status st;
    unsigned int before = cb.calls;
    long rc;

    rc = evtchn_close(port_a);
    test_check(rc == 0, "closing A: %ld", rc);
    rc = status_of(b, &st);
    test_check(rc == 0 && st.status == EVTCHNSTAT_unbound, "after closing A, B has status %u, expected unbound",
               st.status);
    rc = evtchn_send(b);
    test_check(rc == 0 && cb.calls == before, "a send on the unbound B: rc %ld, expected 0 (dropped)", rc);
    rc = evtchn_close(b);
    test_check(rc == 0, "closing B: %ld", rc);
    rc = status_of(b, &st);
    test_check(rc == 0 && st.status == EVTCHNSTAT_closed, "closed B has status %u", st.status);
    rc = evtchn_close(b);
    test_check(rc == -XEN_EINVAL, "closing B again: %ld, expected -EINVAL", rc);
    rc = evtchn_send(b);
    test_check(rc == -XEN_EINVAL, "a send on closed B: %ld, expected -EINVAL", rc);
    rc = evtchn_send(0);
    test_check(rc == -XEN_EINVAL, "a send on port 0: %ld, expected -EINVAL", rc);
}

void app_main(void)
{
    evtchn_port_t b;

    printf("events: %s kernel, upcall via %s\n", xen_pvh ? "PVH" : "PV",
           xen_pvh ? "the callback vector" : "the event callback");
    if (!xen_shared_info) {
        test_error("no shared_info");
        test_report();
        return;
    }
    test_check(!irqs_disabled(), "app_main runs with events disabled");

    test_boot_bindings();
    b = test_loopback();
    if (b) {
        test_mask(b);
        test_disabled(b);
        test_reraise(b);
    }
    test_ipi();
    if (b)
        test_close(b);
    test_check(event_unhandled_count() == 0, "%lu events arrived on ports without a handler",
               event_unhandled_count());
    test_report();
}
