/*
 * usermode (PV): an excursion to ring 3 and back.
 *
 * exec_user() (template, kernel/traps.c + arch/x86/entry.S) enters ring 3
 * through the iret hypercall with FLAT_RING3 selectors and comes back
 * through `int $TRAP_RET2KERN`, a trap-table entry with DPL 3. In ring 3
 * the guest checks:
 *  - `mov %cs` / `%ss` / `%ds` read FLAT_USER_CS / _SS / _DS (CPL 3);
 *  - privileged instructions (cli, hlt, mov %cr0, in) raise #GP(0) that
 *    the kernel's handler sees with a ring-3 frame (CS, ESP, SS);
 *  - a hypercall (`int $0x82`) raises #GP(0x412) and an `int` with no
 *    trap-table entry #GP(n*8+2); int3 (DPL 3 in the template's table)
 *    arrives as #BP;
 *  - a supervisor page is off limits: #PF with the U bit (5 for a read,
 *    7 for a write); a user page is not;
 *  - a user page the kernel unmapped faults with error code 4 and, once
 *    the handler maps it, the read completes back in ring 3.
 * Back in ring 1: the function's result arrived, CS is FLAT_KERNEL_CS,
 * the event mask is what it was before the excursion (ring 3 ran masked;
 * exec_user puts the caller's state back), and a second excursion works
 * too.
 */
#include "guest.h"

/* Ring 3 reads and writes this page (made user-accessible below). */
static volatile uint32_t user_data[PAGE_SIZE / 4] __aligned(PAGE_SIZE);
/* A user page that starts unmapped: the #PF handler maps it. */
static volatile uint32_t user_lazy[PAGE_SIZE / 4] __aligned(PAGE_SIZE);
/* A kernel page: ring 3 must not reach it. */
static volatile uint32_t kernel_only[PAGE_SIZE / 4] __aligned(PAGE_SIZE);

static unsigned long lazy_mfn;
static unsigned int lazy_faults;
static struct probe_fault lazy_fault;

enum { U_CS, U_SS, U_DS, U_ES, U_LAZY, U_DONE, U_MARK };

static bool pf_handler(struct trap_frame *f)
{
    unsigned long cr2 = fault_address();

    if ((cr2 & ~(PAGE_SIZE - 1UL)) == (unsigned long)user_lazy && !(f->error_code & 1)) {
        lazy_faults++;
        lazy_fault.vector = f->vector;
        lazy_fault.error_code = f->error_code;
        lazy_fault.eip = f->eip;
        lazy_fault.cs = f->cs & 0xffff;
        lazy_fault.esp = f->esp;
        lazy_fault.ss = f->ss & 0xffff;
        lazy_fault.cr2 = cr2;
        return map_frame((unsigned long)user_lazy, lazy_mfn,
                         _PAGE_USER | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY) == 0;
    }
    return probe_fixup(f);
}

/*
 * Ring 3. Everything here must stay in .text.user: only inline asm and
 * plain C on user pages, no calls into kernel text.
 */
static __user_text unsigned long user_main(void)
{
    uint32_t a = 0, sel;

    __asm__ __volatile__("mov %%cs, %0" : "=r"(sel));
    user_data[U_CS] = sel;
    __asm__ __volatile__("mov %%ss, %0" : "=r"(sel));
    user_data[U_SS] = sel;
    __asm__ __volatile__("mov %%ds, %0" : "=r"(sel));
    user_data[U_DS] = sel;
    __asm__ __volatile__("mov %%es, %0" : "=r"(sel));
    user_data[U_ES] = sel;

    /* Each probe that does not fault leaves a mark; the kernel checks the log. */
    if (!PROBE("cli", a, 0))
        user_data[U_MARK] |= 1u << 0;
    if (!PROBE("hlt", a, 0))
        user_data[U_MARK] |= 1u << 1;
    if (!PROBE("mov %%cr0, %%eax", a, 0))
        user_data[U_MARK] |= 1u << 2;
    if (!PROBE("inb $0x80, %%al", a, 0))
        user_data[U_MARK] |= 1u << 3;
    a = 0; /* a hypercall slot's number, as the page would load it */
    if (!PROBE("int $0x82", a, 0))
        user_data[U_MARK] |= 1u << 4;
    if (!PROBE("int $0x21", a, 0))
        user_data[U_MARK] |= 1u << 5;
    if (!PROBE("int3", a, 0))
        user_data[U_MARK] |= 1u << 6;
    if (!PROBE("movl (%%ecx), %%eax", a, &kernel_only[3]))
        user_data[U_MARK] |= 1u << 7;
    if (!PROBE("movl %%eax, (%%ecx)", a, &kernel_only[5]))
        user_data[U_MARK] |= 1u << 8;
    /* Allowed: a write to a user page. */
    a = 0x12345678;
    if (PROBE("movl %%eax, (%%ecx)", a, &user_data[U_DONE]))
        user_data[U_MARK] |= 1u << 9;

    /* Demand-mapped by the kernel, then read. */
    user_data[U_LAZY] = user_lazy[7];
    return 0x600d;
}

static __user_text unsigned long user_second(void)
{
    uint32_t sel;

    __asm__ __volatile__("mov %%cs, %0" : "=r"(sel));
    return sel;
}

struct expect {
    const char *what;
    uint32_t vector, error_code;
    unsigned long cr2;
};

void app_main(void)
{
    static const struct expect expected[] = {
        { "cli", 13, 0, 0 },
        { "hlt", 13, 0, 0 },
        { "mov %cr0", 13, 0, 0 },
        { "inb $0x80", 13, 0, 0 },
        { "int $0x82 (hypercall)", 13, 0x82 * 8 + 2, 0 },
        { "int $0x21 (no trap-table entry)", 13, 0x21 * 8 + 2, 0 },
        { "int3", 3, 0, 0 },
        { "read of a kernel page", 14, 5, 0 },
        { "write to a kernel page", 14, 7, 0 },
    };
    extern char __user_text_start[], __user_text_end[];
    uint32_t user_text_lo = (uint32_t)__user_text_start, user_text_hi = (uint32_t)__user_text_end;
    unsigned long r;
    uint8_t mask_before;
    long rc;

    rc = set_page_flags((unsigned long)user_data, _PAGE_USER, 0);
    if (rc == 0) {
        lazy_mfn = virt_to_mfn((const void *)user_lazy);
        user_lazy[7] = 0xfeedface;
        rc = unmap_page((unsigned long)user_lazy);
    }
    if (rc) {
        test_error("setting up the user pages: %ld", rc);
        test_report();
        return;
    }
    probe_install();
    trap_set_handler(14, pf_handler);
    probe_reset();

    mask_before = xen_shared_info->vcpu_info[0].evtchn_upcall_mask;
    r = exec_user(user_main);

    test_check(r == 0x600d, "exec_user returned %#lx, expected 0x600d", r);
    test_check(read_cs() == FLAT_KERNEL_CS, "back from ring 3 with CS %#x", read_cs());
    test_check(user_data[U_CS] == FLAT_USER_CS, "ring 3 read CS %#x, expected %#x", user_data[U_CS], FLAT_USER_CS);
    test_check(user_data[U_SS] == FLAT_USER_SS, "ring 3 read SS %#x, expected %#x", user_data[U_SS], FLAT_USER_SS);
    test_check(user_data[U_DS] == FLAT_USER_DS, "ring 3 read DS %#x, expected %#x", user_data[U_DS], FLAT_USER_DS);
    test_check(user_data[U_ES] == FLAT_USER_DS, "ring 3 read ES %#x, expected %#x", user_data[U_ES], FLAT_USER_DS);
    test_check(user_data[U_MARK] == 0, "probes that did not behave in ring 3: mask %#x", user_data[U_MARK]);
    test_check(user_data[U_DONE] == 0x12345678, "the ring-3 write to a user page did not land");
    test_check(xen_shared_info->vcpu_info[0].evtchn_upcall_mask == mask_before,
               "the event mask is %u after the excursion, %u before",
               xen_shared_info->vcpu_info[0].evtchn_upcall_mask, mask_before);

    test_check(probe_count == ARRAY_SIZE(expected), "%u faults in ring 3, expected %u", probe_count,
               (unsigned int)ARRAY_SIZE(expected));
    for (unsigned int i = 0; i < ARRAY_SIZE(expected) && i < probe_count; i++) {
        const struct probe_fault *p = &probe_log[i];
        const struct expect *e = &expected[i];

        test_check(p->vector == e->vector && p->error_code == e->error_code,
                   "%s: vector %u error code %#x, expected vector %u error code %#x", e->what, p->vector,
                   p->error_code, e->vector, e->error_code);
        test_check(p->cs == FLAT_USER_CS, "%s: frame CS %#x, expected %#x", e->what, p->cs, FLAT_USER_CS);
        test_check(p->ss == FLAT_USER_SS, "%s: frame SS %#x, expected %#x", e->what, p->ss, FLAT_USER_SS);
        test_check(p->eip >= user_text_lo && p->eip < user_text_hi, "%s: frame EIP %#x outside .text.user", e->what,
                   p->eip);
    }
    if (probe_count >= 9) {
        test_check(probe_log[7].cr2 == (unsigned long)&kernel_only[3], "kernel-page read: cr2 %#lx", probe_log[7].cr2);
        test_check(probe_log[8].cr2 == (unsigned long)&kernel_only[5], "kernel-page write: cr2 %#lx",
                   probe_log[8].cr2);
    }

    test_check(lazy_faults == 1, "the lazy user page faulted %u times, expected once", lazy_faults);
    test_check(lazy_fault.error_code == 4 && lazy_fault.cs == FLAT_USER_CS && lazy_fault.ss == FLAT_USER_SS,
               "lazy user page: error code %#x, CS %#x, SS %#x (expected 4, %#x, %#x)", lazy_fault.error_code,
               lazy_fault.cs, lazy_fault.ss, FLAT_USER_CS, FLAT_USER_SS);
    test_check(lazy_fault.cr2 == (unsigned long)&user_lazy[7], "lazy user page: cr2 %#lx", lazy_fault.cr2);
    test_check(user_data[U_LAZY] == 0xfeedface, "ring 3 read %#x from the lazy page, expected 0xfeedface",
               user_data[U_LAZY]);

    r = exec_user(user_second);
    test_check(r == FLAT_USER_CS, "second excursion: CS in ring 3 was %#lx", r);
    test_check(read_cs() == FLAT_KERNEL_CS, "back from the second excursion with CS %#x", read_cs());

    test_report();
}
