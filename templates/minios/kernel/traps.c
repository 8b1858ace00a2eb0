/*
 * Exceptions: installing the handlers, and reporting what went wrong.
 *
 * PV (Xen ABI reference §4): set_trap_table gives Xen a handler per
 * vector, CS = FLAT_KERNEL_CS. trap_info.flags bits 0-1 are the highest
 * ring allowed to raise the vector with `int n` — 3 for int3, into and
 * bound (vectors 3-5) so that they work from any ring, 0 otherwise
 * (hardware exceptions ignore it); bit 2 masks events on entry. Vector 2
 * is left out: PV NMIs arrive through CALLBACKTYPE_nmi, not the table.
 * For #PF Xen stores the faulting address in vcpu_info[0].arch.cr2.
 *
 * PVH: an ordinary IDT of 32-bit interrupt gates on PVH_KERNEL_CS.
 *
 * Both enter through arch/x86/entry.S with the same struct trap_frame.
 * A handler installed with trap_set_handler() gets the first word; by
 * default a breakpoint (#BP) is reported and execution continues after
 * the int3, and everything else prints a report and shuts the domain
 * down with SHUTDOWN_crash.
 *
 * exec_user() (PV) enters ring 3 through arch_exec_user in entry.S; the
 * way back is vector TRAP_RET2KERN, registered here with DPL 3.
 */
#include <minios/traps.h>
#include <minios/arch.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/mm.h>
#include <minios/panic.h>
#include <minios/setup.h>

/* trap_info.flags (Xen's TI_* bits). */
#define TRAP_DPL(n)       ((n) & 3)
#define TRAP_MASK_EVENTS  4

/* The exception vectors a PV kernel registers (0-19). */
#define NR_PV_TRAPS 20

/* arch/x86/entry.S: the entry stub of each vector, and ring 3. */
extern void (*const trap_stubs[NR_TRAP_STUBS])(void);
extern void exec_user_return(void);
unsigned long arch_exec_user(unsigned long (*fn)(void), void *stack_top);
/* arch/x86/head-*.S */
extern char boot_stack_top[];
/* arch/x86/link.ld: the .text.user section, page aligned. */
extern char __user_text_start[], __user_text_end[];

static trap_handler_t handlers[NR_TRAP_STUBS];

static const char *const trap_names[NR_TRAP_STUBS] = {
    [0] = "divide error (#DE)",
    [1] = "debug (#DB)",
    [2] = "NMI",
    [3] = "breakpoint (#BP)",
    [4] = "overflow (#OF)",
    [5] = "bound range exceeded (#BR)",
    [6] = "invalid opcode (#UD)",
    [7] = "device not available (#NM)",
    [8] = "double fault (#DF)",
    [9] = "coprocessor segment overrun",
    [10] = "invalid TSS (#TS)",
    [11] = "segment not present (#NP)",
    [12] = "stack fault (#SS)",
    [13] = "general protection (#GP)",
    [14] = "page fault (#PF)",
    [15] = "reserved vector 15",
    [16] = "x87 floating point (#MF)",
    [17] = "alignment check (#AC)",
    [18] = "machine check (#MC)",
    [19] = "SIMD floating point (#XM)",
    [20] = "virtualization (#VE)",
    [21] = "control protection (#CP)",
};

/* Vectors 0-19 but 2, TRAP_RET2KERN, and the terminating zero entry. */
static struct trap_info pv_trap_table[(NR_PV_TRAPS - 1) + 1 + 1];

static void pv_traps_init(void)
{
    unsigned int n = 0;
    long rc;

    for (unsigned int v = 0; v < NR_PV_TRAPS; v++) {
        if (v == 2)
            continue;
        pv_trap_table[n].vector = (uint8_t)v;
        pv_trap_table[n].flags = TRAP_MASK_EVENTS | TRAP_DPL(v >= 3 && v <= 5 ? 3 : 0);
        pv_trap_table[n].cs = FLAT_KERNEL_CS;
        pv_trap_table[n].address = (unsigned long)trap_stubs[v];
        n++;
    }
    pv_trap_table[n].vector = TRAP_RET2KERN;
    pv_trap_table[n].flags = TRAP_MASK_EVENTS | TRAP_DPL(3);
    pv_trap_table[n].cs = FLAT_KERNEL_CS;
    pv_trap_table[n].address = (unsigned long)exec_user_return;
    n++;
    /* pv_trap_table[n] stays zero: address 0 ends the table. */
    rc = hypercall_set_trap_table(pv_trap_table);
    if (rc)
        printf("traps: set_trap_table failed (%ld); exceptions will crash the domain silently\n", rc);

    /* Traps from ring 3 switch to this stack (the builder's stack until
     * now); exec_user() moves it below its own frame before entering ring 3. */
    rc = hypercall_stack_switch(FLAT_KERNEL_SS, (unsigned long)boot_stack_top);
    if (rc)
        printf("traps: stack_switch failed (%ld)\n", rc);
}

/* A 32-bit IDT gate descriptor. */
struct idt_gate {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t zero;
    uint8_t type;           /* P | DPL << 5 | 0xE (32-bit interrupt gate) */
    uint16_t offset_hi;
};

static struct idt_gate idt[256] __aligned(8);

void idt_set_gate(unsigned int vec, void (*handler)(void), unsigned int dpl)
{
    uint32_t a = (uint32_t)handler;

    idt[vec].offset_lo = (uint16_t)a;
    idt[vec].selector = PVH_KERNEL_CS;
    idt[vec].zero = 0;
    idt[vec].type = (uint8_t)(0x8e | (dpl & 3) << 5);
    idt[vec].offset_hi = (uint16_t)(a >> 16);
}

static void pvh_traps_init(void)
{
    struct {
        uint16_t limit;
        uint32_t base;
    } __attribute__((packed)) desc = { sizeof(idt) - 1, (uint32_t)idt };

    for (unsigned int v = 0; v < NR_TRAP_STUBS; v++)
        idt_set_gate(v, trap_stubs[v], v >= 3 && v <= 5 ? 3 : 0);
    __asm__ __volatile__("lidt %0" :: "m"(desc));
}

void traps_init(void)
{
    if (xen_pvh)
        pvh_traps_init();
    else
        pv_traps_init();
}

trap_handler_t trap_set_handler(unsigned int vec, trap_handler_t h)
{
    trap_handler_t old;

    if (vec >= NR_TRAP_STUBS)
        panic("trap_set_handler: vector %u has no entry stub", vec);
    old = handlers[vec];
    handlers[vec] = h;
    return old;
}

unsigned long fault_address(void)
{
    if (!xen_pvh && xen_shared_info)
        return xen_shared_info->vcpu_info[0].arch.cr2;
    return read_cr2();
}

static char user_stack[PAGE_SIZE] __aligned(PAGE_SIZE) __attribute__((section(".bss.page_aligned")));

/* Let ring 3 reach `len` bytes from `start` (whole pages). */
static void make_user(const void *start, size_t len)
{
    for (uintptr_t va = (uintptr_t)start & ~(PAGE_SIZE - 1); va < (uintptr_t)start + len; va += PAGE_SIZE) {
        long rc = set_page_flags(va, _PAGE_USER, 0);

        if (rc)
            panic("exec_user: cannot make %#lx user-accessible (%ld)", (unsigned long)va, rc);
    }
}

unsigned long exec_user(unsigned long (*fn)(void))
{
    static bool mapped;
    unsigned long flags, r;

    if (xen_pvh)
        panic("exec_user: ring 3 is implemented for PV kernels only");
    if (!mapped) {
        make_user(__user_text_start, (size_t)(__user_text_end - __user_text_start));
        make_user(user_stack, sizeof(user_stack));
        mapped = true;
    }
    /* Ring 3 runs with events masked, and the way back (a trap-table
     * entry that masks events) leaves them masked: restore the caller's state. */
    flags = local_irq_save();
    r = arch_exec_user(fn, user_stack + sizeof(user_stack));
    local_irq_restore(flags);
    return r;
}

static bool has_selector_error(uint32_t v)
{
    return v == 10 || v == 11 || v == 12 || v == 13;
}

static void report(const struct trap_frame *f)
{
    const char *name = f->vector < NR_TRAP_STUBS && trap_names[f->vector] ? trap_names[f->vector] : "exception";
    unsigned int ring = f->cs & 3, own_ring = xen_pvh ? 0 : 1;
    bool outer = ring != own_ring;
    uint32_t esp = outer ? f->esp : (uint32_t)(uintptr_t)&f->esp;
    uint32_t e = f->error_code;

    printf("\n*** Fatal exception: vector %u, %s\n", f->vector, name);
    if (f->vector == 14) {
        printf("    error 0x%04x: %s, %s, %s mode%s%s\n", e, e & 1 ? "protection violation" : "page not present",
               e & 2 ? "write" : "read", e & 4 ? "user" : "supervisor", e & 8 ? ", reserved bit set" : "",
               e & 16 ? ", instruction fetch" : "");
        printf("    cr2   0x%08lx\n", fault_address());
    } else if (has_selector_error(f->vector) && e) {
        const char *ext = e & 1 ? " (external event)" : "";

        if (e & 2)
            printf("    error 0x%04x: IDT vector %u%s\n", e, e >> 3, ext);
        else
            printf("    error 0x%04x: %s selector 0x%04x%s\n", e, e & 4 ? "LDT" : "GDT", e & 0xfffc, ext);
    } else if (f->vector == 8 || f->vector == 17 || f->vector == 21 || f->vector == 29 || f->vector == 30) {
        printf("    error 0x%08x\n", e);
    }
    printf("    eip   0x%08x  cs 0x%04x (ring %u)  eflags 0x%08x", f->eip, f->cs & 0xffff, ring, f->eflags);
    if (!xen_pvh)
        printf("  events %s", (f->cs >> 16) & 0xff ? "masked" : "unmasked");
    printf("\n");
    printf("    eax 0x%08x  ebx 0x%08x  ecx 0x%08x  edx 0x%08x\n", f->eax, f->ebx, f->ecx, f->edx);
    printf("    esi 0x%08x  edi 0x%08x  ebp 0x%08x  esp 0x%08x", f->esi, f->edi, f->ebp, esp);
    if (outer)
        printf("  ss 0x%04x", f->ss & 0xffff);
    printf("\n");
    if (!outer) {
        /* The interrupted stack is ours and mapped: show its top. */
        const uint32_t *sp = (const uint32_t *)(uintptr_t)esp;

        printf("    stack:");
        for (int i = 0; i < 8; i++)
            printf(" %08x", sp[i]);
        printf("\n");
    }
}

void do_trap(struct trap_frame *f)
{
    static int depth;

    if (depth > 0) {
        /* A fault while reporting a fault (say, reading a bad stack):
         * print nothing more; let the backend read what is there, unless
         * that faults too, and stop. */
        if (++depth == 2)
            console_flush();
        sched_shutdown(SHUTDOWN_crash);
        for (;;)
            ;
    }
    if (f->vector < NR_TRAP_STUBS && handlers[f->vector] && handlers[f->vector](f))
        return;
    if (f->vector == 3) {
        printf("traps: breakpoint (#BP) at 0x%08x, continuing\n", f->eip);
        return;
    }
    depth++;
    report(f);
    shutdown(SHUTDOWN_crash);
}
