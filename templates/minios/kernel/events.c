/*
 * Event channels, 2-level ABI (Xen ABI reference §1.5, §3.2, §3.3, §4
 * "Upcall delivery", "Two-level event channel rules", §2.3 "Event
 * callback"; include/minios/events.h for the interface).
 *
 * The bits live in shared_info: evtchn_pending[32] and evtchn_mask[32]
 * (one bit per port, 1024 ports), and in vcpu_info[0] the selector
 * evtchn_pending_sel (one bit per word of evtchn_pending) and
 * evtchn_upcall_pending. Xen raises port p like this:
 *
 *     set pending[p]; if it was clear and mask[p] is clear and selector
 *     bit p/32 was clear: set it, set upcall_pending, kick the vCPU.
 *
 * and delivers the upcall while upcall_pending is set and events are
 * enabled: PV bounces to the event callback registered with callback_op
 * (a frame like an exception's, with the upcall mask set); PVH injects
 * EVTCHN_UPCALL_VECTOR while EFLAGS.IF = 1. Both enter
 * `hypervisor_callback` in arch/x86/entry.S, which saves the registers
 * and calls do_hypervisor_callback() below.
 *
 * The dispatcher, and why no event is lost:
 *  1. It clears upcall_pending first, then takes the selector with xchg
 *     (which is also a full barrier). A port Xen raises after that sees
 *     its selector bit clear, so it sets the bit and upcall_pending again.
 *  2. For each word named by the selector it handles pending & ~mask,
 *     clearing each pending bit (locked, Xen sets bits concurrently)
 *     *before* calling the port's handler: a port raised again while its
 *     handler runs is pending again, not swallowed.
 *  3. It repeats while upcall_pending is set, so everything raised during
 *     the handlers is handled in the same upcall.
 *  4. What arrives after the last check of upcall_pending is not lost
 *     either: the way out re-enables events atomically with the return.
 *     PV returns through the iret hypercall, which restores the upcall
 *     mask from the saved EFLAGS.IF inside Xen — and Xen checks for
 *     pending events on every return to the guest, so it bounces straight
 *     back into the callback. (Mini-OS and Linux return with a native
 *     iret after unmasking by hand, and need a "critical region" fix-up
 *     for the window in between; the iret hypercall has no such window.)
 *     PVH returns with iret, which sets IF and lets Xen inject the vector
 *     again while upcall_pending is set.
 *
 * The failsafe callback (PV) is where Xen goes when it cannot load the
 * guest's segment registers on a return; this kernel only uses flat
 * selectors, so it reports the selectors and crashes the domain.
 *
 * The virtual interrupt flag (local_irq_*): PV writes the upcall mask;
 * when that enables events and one is already waiting, Xen must be
 * entered once to deliver it (a cheap hypercall: Xen checks for events on
 * every return to the guest). PVH uses cli/sti.
 */
#include <minios/events.h>
#include <minios/arch.h>
#include <minios/console.h>
#include <minios/hypercall.h>
#include <minios/panic.h>
#include <minios/setup.h>
#include <minios/traps.h>
#include <xen/callback.h>
#include <xen/errno.h>
#include <xen/hvm/params.h>
#include <xen/version.h>

/* arch/x86/entry.S */
extern void hypervisor_callback(void);
extern void failsafe_callback(void);

#define EFLAGS_IF 0x200

struct port_handler {
    evtchn_handler_t fn;
    void *data;
};

static struct port_handler handlers[NR_EVTCHN_PORTS];

/*
 * vcpu_info[0], or a stand-in until events_init() (and if shared_info
 * could not be mapped), so that local_irq_*() work at any time.
 */
static vcpu_info_t boot_vcpu_info = { .evtchn_upcall_mask = 1 };
static vcpu_info_t *vcpu = &boot_vcpu_info;

static unsigned int handler_depth;
static unsigned long upcalls, unhandled;

/* ---- The virtual interrupt flag ---- */

/* PV: let Xen deliver what is pending now that events are enabled. */
static void force_evtchn_callback(void)
{
    (void)hypercall_xen_version(XENVER_version, NULL);
}

static unsigned long read_eflags(void)
{
    unsigned long f;

    __asm__ __volatile__("pushf; pop %0" : "=r"(f) :: "memory");
    return f;
}

void local_irq_disable(void)
{
    if (xen_pvh) {
        __asm__ __volatile__("cli" ::: "memory");
        return;
    }
    WRITE_ONCE(vcpu->evtchn_upcall_mask, 1);
    barrier();
}

void local_irq_enable(void)
{
    if (xen_pvh) {
        __asm__ __volatile__("sti" ::: "memory");
        return;
    }
    barrier();
    WRITE_ONCE(vcpu->evtchn_upcall_mask, 0);
    barrier();  /* the unmask before the check (both on this CPU) */
    if (READ_ONCE(vcpu->evtchn_upcall_pending))
        force_evtchn_callback();
}

unsigned long local_irq_save(void)
{
    unsigned long flags;

    if (xen_pvh) {
        flags = read_eflags();
        __asm__ __volatile__("cli" ::: "memory");
        return flags;
    }
    flags = READ_ONCE(vcpu->evtchn_upcall_mask);
    local_irq_disable();
    return flags;
}

void local_irq_restore(unsigned long flags)
{
    if (xen_pvh ? (flags & EFLAGS_IF) != 0 : flags == 0)
        local_irq_enable();
}

bool irqs_disabled(void)
{
    if (xen_pvh)
        return !(read_eflags() & EFLAGS_IF);
    return READ_ONCE(vcpu->evtchn_upcall_mask) != 0;
}

void block_domain(uint64_t deadline_ns)
{
    unsigned long flags = local_irq_save();

    if (deadline_ns)
        hypercall_set_timer_op(deadline_ns);
    if (xen_pvh) {
        /* STI takes effect after HLT has started: a waiting interrupt wakes it. */
        __asm__ __volatile__("sti; hlt; cli" ::: "memory");
    } else {
        /* Unmasks and sleeps; the upcall runs on the way out. */
        sched_block();
        local_irq_disable();
    }
    local_irq_restore(flags);
}

/* ---- Port bits ---- */

static bool port_ok(evtchn_port_t port)
{
    return port > 0 && port < NR_EVTCHN_PORTS;
}

void evtchn_mask(evtchn_port_t port)
{
    if (port_ok(port) && xen_shared_info)
        sync_set_bit(port % 32, &xen_shared_info->evtchn_mask[port / 32]);
}

long evtchn_unmask(evtchn_port_t port)
{
    struct evtchn_unmask op = { .port = port };

    return hypercall_event_channel_op(EVTCHNOP_unmask, &op);
}

void evtchn_clear(evtchn_port_t port)
{
    if (port_ok(port) && xen_shared_info)
        sync_clear_bit(port % 32, &xen_shared_info->evtchn_pending[port / 32]);
}

bool evtchn_is_pending(evtchn_port_t port)
{
    return port_ok(port) && xen_shared_info && test_bit(port % 32, &xen_shared_info->evtchn_pending[port / 32]);
}

bool evtchn_is_masked(evtchn_port_t port)
{
    return port_ok(port) && xen_shared_info && test_bit(port % 32, &xen_shared_info->evtchn_mask[port / 32]);
}

/* ---- Binding ---- */

long evtchn_bind(evtchn_port_t port, evtchn_handler_t h, void *data)
{
    unsigned long flags;

    if (!port_ok(port))
        return -XEN_EINVAL;
    /* The port is masked (events_init masked them all): install, then unmask. */
    flags = local_irq_save();
    handlers[port].fn = h;
    handlers[port].data = data;
    local_irq_restore(flags);
    return evtchn_unmask(port);
}

void evtchn_unbind(evtchn_port_t port)
{
    unsigned long flags;

    if (!port_ok(port))
        return;
    evtchn_mask(port);
    flags = local_irq_save();
    handlers[port].fn = NULL;
    handlers[port].data = NULL;
    local_irq_restore(flags);
}

/* A port Xen just gave us: attach the handler, or close it again if that fails. */
static long bind_new(evtchn_port_t port, evtchn_handler_t h, void *data)
{
    struct evtchn_close close = { .port = port };
    long rc = evtchn_bind(port, h, data);

    if (rc) {
        evtchn_unbind(port);
        hypercall_event_channel_op(EVTCHNOP_close, &close);
        return rc;
    }
    return port;
}

long evtchn_bind_virq(uint32_t virq, evtchn_handler_t h, void *data)
{
    struct evtchn_bind_virq op = { .virq = virq, .vcpu = 0 };
    long rc = hypercall_event_channel_op(EVTCHNOP_bind_virq, &op);

    return rc ? rc : bind_new(op.port, h, data);
}

long evtchn_alloc_unbound(domid_t remote_dom, evtchn_handler_t h, void *data)
{
    struct evtchn_alloc_unbound op = { .dom = DOMID_SELF, .remote_dom = remote_dom };
    long rc = hypercall_event_channel_op(EVTCHNOP_alloc_unbound, &op);

    return rc ? rc : bind_new(op.port, h, data);
}

long evtchn_bind_interdomain(domid_t remote_dom, evtchn_port_t remote_port, evtchn_handler_t h, void *data)
{
    struct evtchn_bind_interdomain op = { .remote_dom = remote_dom, .remote_port = remote_port };
    long rc = hypercall_event_channel_op(EVTCHNOP_bind_interdomain, &op);

    return rc ? rc : bind_new(op.local_port, h, data);
}

long evtchn_close(evtchn_port_t port)
{
    struct evtchn_close op = { .port = port };

    evtchn_unbind(port);
    return hypercall_event_channel_op(EVTCHNOP_close, &op);
}

/* ---- The upcall ---- */

static void dispatch(evtchn_port_t port, struct trap_frame *regs)
{
    const struct port_handler *h = &handlers[port];

    if (h->fn)
        h->fn(port, regs, h->data);
    else
        unhandled++;
}

/* Called by hypervisor_callback (arch/x86/entry.S) with events disabled. */
void do_hypervisor_callback(struct trap_frame *regs)
{
    shared_info_t *s = xen_shared_info;

    upcalls++;
    handler_depth++;
    /* The loop and its ordering: see the top of this file. */
    while (READ_ONCE(vcpu->evtchn_upcall_pending)) {
        uint32_t sel;

        WRITE_ONCE(vcpu->evtchn_upcall_pending, 0);
        sel = xchg32(&vcpu->evtchn_pending_sel, 0);
        while (sel) {
            unsigned int w = first_bit(sel);
            uint32_t ready = READ_ONCE(s->evtchn_pending[w]) & ~READ_ONCE(s->evtchn_mask[w]);

            sel &= sel - 1;
            while (ready) {
                unsigned int b = first_bit(ready);

                ready &= ready - 1;
                sync_clear_bit(b, &s->evtchn_pending[w]);
                dispatch(w * 32 + b, regs);
            }
        }
    }
    handler_depth--;
}

bool in_event_handler(void)
{
    return handler_depth != 0;
}

unsigned long event_upcall_count(void)
{
    return upcalls;
}

unsigned long event_unhandled_count(void)
{
    return unhandled;
}

/* The failsafe frame, lowest address first, after entry.S's PUSHAL. */
struct failsafe_frame {
    uint32_t edi, esi, ebp, esp_pushal, ebx, edx, ecx, eax;
    uint32_t ds, es, fs, gs;
    uint32_t eip, cs, eflags;
};

/* Called by failsafe_callback (arch/x86/entry.S); never returns. */
void do_failsafe(const struct failsafe_frame *f)
{
    printf("\n*** Failsafe callback: Xen could not load a segment register on return\n");
    printf("    to eip 0x%08x cs 0x%04x: ds 0x%04x es 0x%04x fs 0x%04x gs 0x%04x\n", f->eip, f->cs & 0xffff,
           f->ds & 0xffff, f->es & 0xffff, f->fs & 0xffff, f->gs & 0xffff);
    shutdown(SHUTDOWN_crash);
}

/* ---- Set-up ---- */

static long register_callback(uint16_t type, uint16_t flags, void (*fn)(void))
{
    struct callback_register cb = {
        .type = type,
        .flags = flags,
        .address = { .cs = FLAT_KERNEL_CS, .eip = (unsigned long)fn },
    };

    return hypercall_callback_op(CALLBACKOP_register, &cb);
}

static void pv_events_init(void)
{
    long rc = register_callback(CALLBACKTYPE_event, 0, hypervisor_callback);

    if (rc == 0)
        rc = register_callback(CALLBACKTYPE_failsafe, CALLBACKF_mask_events, failsafe_callback);
    if (rc == -XEN_ENOSYS)
        rc = hypercall_set_callbacks(FLAT_KERNEL_CS, (unsigned long)hypervisor_callback, FLAT_KERNEL_CS,
                                     (unsigned long)failsafe_callback);
    if (rc)
        printf("events: could not register the event callback (%ld): no events will arrive\n", rc);
}

static void pvh_events_init(void)
{
    long rc;

    idt_set_gate(EVTCHN_UPCALL_VECTOR, hypervisor_callback, 0);
    rc = hvm_set_param(HVM_PARAM_CALLBACK_IRQ,
                       (uint64_t)HVM_PARAM_CALLBACK_TYPE_VECTOR << 56 | EVTCHN_UPCALL_VECTOR);
    if (rc)
        printf("events: could not set the callback vector (%ld): no events will arrive\n", rc);
}

void events_init(void)
{
    shared_info_t *s = xen_shared_info;

    if (!s) {
        printf("events: no shared_info: event channels are unavailable\n");
        return;
    }
    /* Events stay disabled through set-up; every port starts masked. */
    vcpu = &s->vcpu_info[0];
    local_irq_disable();
    for (unsigned int w = 0; w < ARRAY_SIZE(s->evtchn_mask); w++)
        WRITE_ONCE(s->evtchn_mask[w], ~0UL);

    if (xen_pvh)
        pvh_events_init();
    else
        pv_events_init();
}
