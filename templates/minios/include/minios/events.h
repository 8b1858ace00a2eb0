/*
 * Event channels (kernel/events.c): the 2-level ABI, the upcall that
 * delivers them, and the kernel's virtual interrupt flag.
 *
 * A port is bound with one of the evtchn_bind_* calls, which installs a
 * handler for it and unmasks it. Handlers run in the upcall, with events
 * disabled, on the interrupted kernel stack: keep them short (set a flag,
 * count, copy a few bytes) and leave the waiting to the code that sleeps
 * in block_domain(). Every handler must cope with a spurious call: Xen
 * marks a freshly bound interdomain port pending, and a port whose
 * handler is slow may be raised again while it runs.
 *
 * "Events disabled" is the virtual interrupt flag: the PV upcall mask in
 * vcpu_info (Xen delivers nothing while it is 1), or EFLAGS.IF for PVH
 * (the callback vector is an ordinary interrupt). start_kernel enables
 * events before app_main(); exception handlers and event handlers run
 * with them disabled.
 */
#ifndef MINIOS_EVENTS_H
#define MINIOS_EVENTS_H

/*
 * PVH: the IDT vector Xen injects for event channels
 * (HVM_PARAM_CALLBACK_IRQ, type "vector"). Any vector above the 32
 * exception vectors works; PV kernels push it as the frame's vector too.
 */
#define EVTCHN_UPCALL_VECTOR 0xf3

#ifndef __ASSEMBLER__

#include <stdbool.h>
#include <stdint.h>
#include <xen/event_channel.h>
#include <minios/traps.h>

/** Ports of the 2-level ABI on x86_32 (port 0 is never valid). */
#define NR_EVTCHN_PORTS EVTCHN_2L_NR_CHANNELS

/** A port's handler: runs in the upcall with events disabled. */
typedef void (*evtchn_handler_t)(evtchn_port_t port, struct trap_frame *regs, void *data);

/**
 * Mask every port, register the upcall (PV: callback_op event and
 * failsafe callbacks; PVH: an IDT gate and HVM_PARAM_CALLBACK_IRQ). Events
 * stay disabled. Called once by start_kernel.
 */
void events_init(void);

/** Bind VIRQ `virq` on vCPU 0 to a new port with handler `h`; returns the port or -XEN_Exxx. */
long evtchn_bind_virq(uint32_t virq, evtchn_handler_t h, void *data);

/**
 * Allocate a port that domain `remote_dom` (DOMID_SELF: this domain) may
 * connect to with bind_interdomain; returns it, unmasked with handler `h`,
 * or -XEN_Exxx.
 */
long evtchn_alloc_unbound(domid_t remote_dom, evtchn_handler_t h, void *data);

/**
 * Connect to port `remote_port` of `remote_dom`, which that domain
 * allocated unbound for us; returns the new local port (which Xen marks
 * pending once: `h` will see an early call) or -XEN_Exxx.
 */
long evtchn_bind_interdomain(domid_t remote_dom, evtchn_port_t remote_port, evtchn_handler_t h, void *data);

/**
 * Attach handler `h` to a port that is already bound (the console and
 * xenstore ports the toolstack set up) and unmask it; 0 or -XEN_Exxx.
 */
long evtchn_bind(evtchn_port_t port, evtchn_handler_t h, void *data);

/** Mask `port` and forget its handler; the port itself stays bound. */
void evtchn_unbind(evtchn_port_t port);

/** Mask `port`, forget its handler and close it (EVTCHNOP_close); 0 or -XEN_Exxx. */
long evtchn_close(evtchn_port_t port);

/** Set the port's mask bit: Xen still marks it pending, but raises no upcall for it. */
void evtchn_mask(evtchn_port_t port);

/**
 * Clear the port's mask bit with EVTCHNOP_unmask: if the port is pending,
 * Xen raises the upcall, which runs as soon as events are enabled.
 */
long evtchn_unmask(evtchn_port_t port);

/** Clear the port's pending bit. */
void evtchn_clear(evtchn_port_t port);

/** The port's pending bit. */
bool evtchn_is_pending(evtchn_port_t port);

/** The port's mask bit. */
bool evtchn_is_masked(evtchn_port_t port);

/** Disable events; returns the previous state for local_irq_restore(). */
unsigned long local_irq_save(void);

/** Put back the state local_irq_save() returned (delivering what waits if that enables events). */
void local_irq_restore(unsigned long flags);

void local_irq_disable(void);

/** Enable events; pending ones are delivered at once. */
void local_irq_enable(void);

/** Are events disabled? */
bool irqs_disabled(void);

/**
 * Sleep until an event arrives or system time reaches `deadline_ns` (0: no
 * deadline). The race-free way to wait: disable events, check the
 * condition, call block_domain(), check again —
 *
 *     unsigned long flags = local_irq_save();
 *     while (!done && monotonic_clock() < deadline)
 *         block_domain(deadline);
 *     local_irq_restore(flags);
 *
 * Events are enabled only while the vCPU sleeps, atomically with going to
 * sleep, so an event that arrives after the check still wakes it (PV:
 * SCHEDOP_block unmasks and sleeps in one hypercall; PVH: `sti; hlt`,
 * as STI enables interrupts only after the next instruction); its
 * handler has run when block_domain() returns. A deadline arms Xen's
 * single-shot timer (set_timer_op), whose VIRQ_TIMER kernel/time.c binds;
 * it stays armed when another event wakes the vCPU first. May return
 * early: callers loop.
 */
void block_domain(uint64_t deadline_ns);

/** True while an event handler runs (code that sleeps must not be called there). */
bool in_event_handler(void);

/** How many upcalls the kernel has taken. */
unsigned long event_upcall_count(void);

/** How many events arrived on ports with no handler (they are dropped). */
unsigned long event_unhandled_count(void);

#endif /* !__ASSEMBLER__ */

#endif /* MINIOS_EVENTS_H */
