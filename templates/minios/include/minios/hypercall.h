/*
 * Hypercalls through the hypercall page (Xen ABI reference §1.6).
 *
 * The page holds 128 slots of 32 bytes; slot n, at hypercall_page + n*32,
 * puts n in EAX and enters Xen (`int $0x82` for PV, `vmcall`/`vmmcall`
 * for PVH) and returns with `ret`. Arguments go in EBX, ECX, EDX, ESI and
 * EDI; the result comes back in EAX: >= 0 on success, -XEN_Exxx on
 * failure. Xen may clobber every argument register (debug builds of Xen
 * deliberately do), so each call below declares all five as clobbered,
 * whatever its argument count. 64-bit values travel as two registers,
 * low half first.
 *
 * PV: Xen's domain builder fills the page before boot (the HYPERCALL_PAGE
 * ELF note names it). PVH: arch/x86/head-pvh.S asks Xen to fill it by
 * writing its physical address to the MSR from CPUID leaf base+2.
 *
 * The slot is named in the asm text itself ("call hypercall_page + 18 *
 * 32", built by the preprocessor), so no "i" constraint is involved and
 * the wrappers work at any optimisation level. Slot 23 (iret) is never
 * called from C: arch/x86/entry.S jumps to it.
 */
#ifndef MINIOS_HYPERCALL_H
#define MINIOS_HYPERCALL_H

#include <stdint.h>
#include <xen/xen.h>
#include <xen/sched.h>
#include <xen/event_channel.h>

/** The page Xen fills with hypercall stubs (arch/x86/head-*.S). */
extern char hypercall_page[4096];

#define HYPERCALL_STR_(x) #x
#define HYPERCALL_STR(x) HYPERCALL_STR_(x)

/*
 * _hypercall(nr, a1..a5): call slot `nr` (an __HYPERVISOR_* macro that
 * expands to a plain number) with five argument words; unused ones are 0.
 * "memory": Xen reads and writes guest memory through the pointers.
 */
#define _hypercall(nr, a1, a2, a3, a4, a5) ({                                   \
    unsigned long b_ = (unsigned long)(a1), c_ = (unsigned long)(a2);           \
    unsigned long d_ = (unsigned long)(a3), s_ = (unsigned long)(a4);           \
    unsigned long di_ = (unsigned long)(a5);                                    \
    long r_;                                                                    \
    __asm__ __volatile__("call hypercall_page + " HYPERCALL_STR(nr) " * 32"     \
                         : "=a"(r_), "+b"(b_), "+c"(c_), "+d"(d_), "+S"(s_),    \
                           "+D"(di_)                                            \
                         :                                                      \
                         : "memory");                                           \
    r_;                                                                         \
})

#define _hypercall0(nr)                     _hypercall(nr, 0, 0, 0, 0, 0)
#define _hypercall1(nr, a1)                 _hypercall(nr, a1, 0, 0, 0, 0)
#define _hypercall2(nr, a1, a2)             _hypercall(nr, a1, a2, 0, 0, 0)
#define _hypercall3(nr, a1, a2, a3)         _hypercall(nr, a1, a2, a3, 0, 0)
#define _hypercall4(nr, a1, a2, a3, a4)     _hypercall(nr, a1, a2, a3, a4, 0)

/* ---- PV-only: MMU, descriptor tables, traps, stacks (reference §3.1) ---- */

/** Install the PV trap table: entries end with address 0; NULL clears it. */
static inline long hypercall_set_trap_table(const struct trap_info *table)
{
    return _hypercall1(__HYPERVISOR_set_trap_table, table);
}

/** Apply `count` page-table / M2P updates; `done` (may be NULL) receives how many succeeded. */
static inline long hypercall_mmu_update(struct mmu_update *req, unsigned int count, unsigned int *done,
                                        domid_t dom)
{
    return _hypercall4(__HYPERVISOR_mmu_update, req, count, done, dom);
}

/** Load a GDT made of `entries` descriptors in the read-only machine frames `frames`. */
static inline long hypercall_set_gdt(unsigned long *frames, unsigned int entries)
{
    return _hypercall2(__HYPERVISOR_set_gdt, frames, entries);
}

/** Tell Xen the kernel stack (ring-1 SS:ESP) to use for traps from ring 3. */
static inline long hypercall_stack_switch(unsigned long ss, unsigned long esp)
{
    return _hypercall2(__HYPERVISOR_stack_switch, ss, esp);
}

/** Register the event upcall and the failsafe callback (cs:eip pairs). */
static inline long hypercall_set_callbacks(unsigned long event_cs, unsigned long event_eip,
                                           unsigned long failsafe_cs, unsigned long failsafe_eip)
{
    return _hypercall4(__HYPERVISOR_set_callbacks, event_cs, event_eip, failsafe_cs, failsafe_eip);
}

/** Map `pte` (64-bit PAE entry: machine address | flags) at `va`; flags UVMF_*. */
static inline long hypercall_update_va_mapping(unsigned long va, uint64_t pte, unsigned long flags)
{
    return _hypercall4(__HYPERVISOR_update_va_mapping, va, (uint32_t)pte, (uint32_t)(pte >> 32), flags);
}

/** Extended MMU operations (pin tables, new CR3, TLB flushes); `done` may be NULL. */
static inline long hypercall_mmuext_op(struct mmuext_op *ops, unsigned int count, unsigned int *done,
                                       domid_t dom)
{
    return _hypercall4(__HYPERVISOR_mmuext_op, ops, count, done, dom);
}

/** Enable or disable a VM assist (VMASST_CMD_*, VMASST_TYPE_*). */
static inline long hypercall_vm_assist(unsigned int cmd, unsigned int type)
{
    return _hypercall2(__HYPERVISOR_vm_assist, cmd, type);
}

/** callback_op(CALLBACKOP_register/unregister, struct callback_{un,}register *). */
static inline long hypercall_callback_op(int cmd, const void *arg)
{
    return _hypercall2(__HYPERVISOR_callback_op, cmd, arg);
}

/* ---- Common to PV and PVH ---- */

/** Run `nr` hypercalls in one batch; each entry's result is written back. */
static inline long hypercall_multicall(struct multicall_entry *calls, unsigned int nr)
{
    return _hypercall2(__HYPERVISOR_multicall, calls, nr);
}

/** Arm the single-shot timer at absolute system time `timeout_ns` (0 cancels). */
static inline long hypercall_set_timer_op(uint64_t timeout_ns)
{
    return _hypercall2(__HYPERVISOR_set_timer_op, (uint32_t)timeout_ns, (uint32_t)(timeout_ns >> 32));
}

/** xen_version(XENVER_*, arg). XENVER_version returns major << 16 | minor. */
static inline long hypercall_xen_version(int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_xen_version, cmd, arg);
}

/** console_io(CONSOLEIO_write/read, count, buf). Release builds of Xen refuse domU writes (-EPERM). */
static inline long hypercall_console_io(int cmd, unsigned int count, char *buf)
{
    return _hypercall3(__HYPERVISOR_console_io, cmd, count, buf);
}

/** grant_table_op(GNTTABOP_*, array of `count` op structs). */
static inline long hypercall_grant_table_op(unsigned int cmd, void *uop, unsigned int count)
{
    return _hypercall3(__HYPERVISOR_grant_table_op, cmd, uop, count);
}

/** memory_op(XENMEM_*, arg). */
static inline long hypercall_memory_op(unsigned int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_memory_op, cmd, arg);
}

/** vcpu_op(VCPUOP_*, vcpu id, arg). */
static inline long hypercall_vcpu_op(int cmd, unsigned int vcpu, void *arg)
{
    return _hypercall3(__HYPERVISOR_vcpu_op, cmd, vcpu, arg);
}

/** sched_op(SCHEDOP_*, arg). */
static inline long hypercall_sched_op(int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_sched_op, cmd, arg);
}

/** event_channel_op(EVTCHNOP_*, arg). */
static inline long hypercall_event_channel_op(int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_event_channel_op, cmd, arg);
}

/** hvm_op(HVMOP_*, arg): HVM/PVH parameters and friends. */
static inline long hypercall_hvm_op(int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_hvm_op, cmd, arg);
}

/* ---- Typed helpers for the common sub-operations ---- */

/** Give up the CPU; Xen (and xenkit's backends) run meanwhile. */
static inline long sched_yield(void)
{
    return hypercall_sched_op(SCHEDOP_yield, NULL);
}

/** Sleep until an event is pending. PV: also clears the upcall mask. */
static inline long sched_block(void)
{
    return hypercall_sched_op(SCHEDOP_block, NULL);
}

/** Stop the domain for `reason` (SHUTDOWN_*); returns only on failure. */
static inline long sched_shutdown(unsigned int reason)
{
    struct sched_shutdown arg = { .reason = reason };

    return hypercall_sched_op(SCHEDOP_shutdown, &arg);
}

/** Wait until one of `ports` is pending or absolute time `timeout_ns` passes (0: no timeout). */
static inline long sched_poll(evtchn_port_t *ports, unsigned int nr_ports, uint64_t timeout_ns)
{
    struct sched_poll arg = { .ports = ports, .nr_ports = nr_ports, .timeout = timeout_ns };

    return hypercall_sched_op(SCHEDOP_poll, &arg);
}

/** Signal the other end of event channel `port`. */
static inline long evtchn_send(evtchn_port_t port)
{
    struct evtchn_send arg = { .port = port };

    return hypercall_event_channel_op(EVTCHNOP_send, &arg);
}

/** Write to Xen's own console (works on xenkit and debug builds of Xen). */
static inline long console_io_write(const char *buf, unsigned int len)
{
    return hypercall_console_io(CONSOLEIO_write, len, (char *)buf);
}

#endif /* MINIOS_HYPERCALL_H */
