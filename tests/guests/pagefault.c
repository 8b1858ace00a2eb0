/*
 * pagefault (PV): page faults the guest handles itself.
 *
 *  1. A read of a page the guest unmapped (update_va_mapping with an empty
 *     entry) faults with error code 0 (not present, read, supervisor — the
 *     kernel runs in ring 1); the #PF handler sees the address both in
 *     vcpu_info.arch.cr2 and through `mov %cr2` (emulated by Xen), at the
 *     faulting instruction, maps the page back and returns; the read then
 *     completes with the page's old contents.
 *  2. The same for a write (error code 2).
 *  3. A write to a page made read-only faults with error code 3 (present,
 *     write); the handler makes it writable again and the write lands.
 *     Reads of the read-only page do not fault.
 *  4. The M2P at 0xF5800000 is readable and agrees with the p2m
 *     (m2p[p2m[pfn]] == pfn); a write to it faults with error code 3 and
 *     CR2 0xF5800000, and leaves it unchanged; above the M2P the hole is
 *     not present.
 *  5. Faults where no L1 table exists (0x40000000) and on page 0 (which
 *     the template unmaps so that NULL faults) report not-present.
 */
#include "guest.h"

static char victim[PAGE_SIZE] __aligned(PAGE_SIZE);

/* What the #PF handler saw on its last non-probe fault. */
static struct {
    unsigned int count;
    unsigned long cr2_vcpu, cr2_reg;
    uint32_t error_code, eip, cs;
} seen;

static unsigned long victim_mfn;

static bool pf_handler(struct trap_frame *f)
{
    /* Both views of CR2, before anything else can fault. */
    unsigned long cr2_vcpu = xen_shared_info->vcpu_info[0].arch.cr2;
    unsigned long cr2_reg = read_cr2();
    unsigned long page = (unsigned long)victim;
    long rc;

    if (probe_fixup(f))
        return true;
    seen.count++;
    seen.cr2_vcpu = cr2_vcpu;
    seen.cr2_reg = cr2_reg;
    seen.error_code = f->error_code;
    seen.eip = f->eip;
    seen.cs = f->cs & 0xffff;
    if ((cr2_vcpu & ~(PAGE_SIZE - 1UL)) != page)
        return false;   /* not ours: the fatal report */
    if (f->error_code & 1)
        rc = set_page_flags(page, _PAGE_RW, 0);     /* present: a write to the read-only page */
    else
        rc = map_frame(page, victim_mfn, _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY);
    if (rc) {
        printf("pf_handler: cannot fix the mapping (%ld)\n", rc);
        return false;
    }
    return true;
}

/* Check the handler's record of the last fault. */
static void expect_seen(const char *what, unsigned int count, unsigned long addr, uint32_t ec, uint32_t eip)
{
    if (seen.count != count) {
        test_failure("%s: the #PF handler ran %u times, expected %u", what, seen.count, count);
        return;
    }
    test_check(seen.cr2_vcpu == addr, "%s: vcpu_info.arch.cr2 %#lx, expected %#lx", what, seen.cr2_vcpu, addr);
    test_check(seen.cr2_reg == addr, "%s: mov %%cr2 gave %#lx, expected %#lx", what, seen.cr2_reg, addr);
    test_check(seen.error_code == ec, "%s: error code %#x, expected %#x", what, seen.error_code, ec);
    test_check(seen.eip == eip, "%s: fault at eip %#x, expected %#x", what, seen.eip, eip);
    test_check(seen.cs == FLAT_KERNEL_CS, "%s: fault frame CS %#x, expected %#x", what, seen.cs, FLAT_KERNEL_CS);
}

static void test_not_present(void)
{
    volatile uint32_t *w = (volatile uint32_t *)victim;
    uint32_t v, at;
    long rc;

    w[4] = 0x11223344;
    w[1023] = 0x55667788;
    rc = unmap_page((unsigned long)victim);
    if (rc) {
        test_error("unmap_page(victim): %ld", rc);
        return;
    }
    if (pte_ptr((unsigned long)victim) && (*pte_ptr((unsigned long)victim) & _PAGE_PRESENT))
        test_failure("the victim's L1 entry is still present after update_va_mapping(0)");

    /* A read. `at` gets the address of the faulting load. */
    __asm__ __volatile__("movl $1f, %0\n1:\tmovl (%2), %1" : "=&r"(at), "=r"(v) : "r"(&w[4]) : "memory");
    expect_seen("read of an unmapped page", 1, (unsigned long)&w[4], 0, at);
    test_check(v == 0x11223344, "read after the fix-up: %#x, expected 0x11223344", v);
    test_check(w[1023] == 0x55667788, "the page lost its contents across unmap/map");

    /* A write. */
    rc = unmap_page((unsigned long)victim);
    if (rc) {
        test_error("unmap_page(victim) again: %ld", rc);
        return;
    }
    v = 0xdeadbeef;
    __asm__ __volatile__("movl $1f, %0\n1:\tmovl %1, (%2)" : "=&r"(at) : "r"(v), "r"(&w[8]) : "memory");
    expect_seen("write to an unmapped page", 2, (unsigned long)&w[8], 2, at);
    test_check(w[8] == 0xdeadbeef, "write after the fix-up did not land: %#x", w[8]);
    test_check(w[4] == 0x11223344, "the page lost its contents on the write fault");
}

static void test_read_only(void)
{
    volatile uint32_t *w = (volatile uint32_t *)victim;
    unsigned int before = seen.count;
    uint32_t v, at;
    long rc;

    rc = set_page_flags((unsigned long)victim, 0, _PAGE_RW);
    if (rc) {
        test_error("set_page_flags(victim, clear RW): %ld", rc);
        return;
    }
    v = w[4];
    test_check(seen.count == before, "a read of a read-only page faulted");
    test_check(v == 0x11223344, "read of the read-only page: %#x", v);
    v = 0xc0ffee;
    __asm__ __volatile__("movl $1f, %0\n1:\tmovl %1, (%2)" : "=&r"(at) : "r"(v), "r"(&w[12]) : "memory");
    expect_seen("write to a read-only page", before + 1, (unsigned long)&w[12], 3, at);
    test_check(w[12] == 0xc0ffee, "write after the fix-up did not land: %#x", w[12]);
    test_check(pte_ptr((unsigned long)victim) && (*pte_ptr((unsigned long)victim) & _PAGE_RW),
               "the victim's L1 entry is not writable after the fix-up");
}

static void test_m2p(void)
{
    const start_info_t *si = boot_info.start_info;
    const unsigned long *p2m = (const unsigned long *)si->mfn_list;
    unsigned long pfns[] = { (unsigned long)victim >> PAGE_SHIFT, 0x100, ((unsigned long)si) >> PAGE_SHIFT,
                             si->nr_pages - 1 };
    uint32_t v, before;
    const struct probe_fault *p;

    for (unsigned int i = 0; i < ARRAY_SIZE(pfns); i++) {
        unsigned long mfn = p2m[pfns[i]];
        unsigned long back = machine_to_phys_mapping[mfn];

        test_check(back == pfns[i], "m2p[p2m[%#lx] = %#lx] = %#lx, expected %#lx", pfns[i], mfn, back, pfns[i]);
    }
    test_check(mfn_to_pfn(virt_to_mfn(victim)) == (unsigned long)victim >> PAGE_SHIFT,
               "mfn_to_pfn(virt_to_mfn(victim)) does not round-trip");

    probe_reset();
    before = machine_to_phys_mapping[0];
    v = 0xfbadc0de;
    p = expect_fault("write to the M2P", PROBE("movl %%eax, (%%ecx)", v, MACH2PHYS_VIRT_START), 14, 3);
    if (p)
        test_check(p->cr2 == MACH2PHYS_VIRT_START, "M2P write fault: cr2 %#lx, expected %#lx", p->cr2,
                   MACH2PHYS_VIRT_START);
    test_check(machine_to_phys_mapping[0] == before, "the M2P changed under a faulting write");

    p = expect_fault("read above the M2P", PROBE("movl (%%ecx), %%eax", v, MACH2PHYS_VIRT_END + 0x1000), 14, 0);
    if (p)
        test_check(p->cr2 == MACH2PHYS_VIRT_END + 0x1000, "read above the M2P: cr2 %#lx", p->cr2);
}

static void test_no_l1(void)
{
    uint32_t v = 0;
    const struct probe_fault *p;

    probe_reset();
    p = expect_fault("read with no L1 table", PROBE("movl (%%ecx), %%eax", v, 0x40000000), 14, 0);
    if (p)
        test_check(p->cr2 == 0x40000000, "read with no L1 table: cr2 %#lx", p->cr2);
    test_check(pte_ptr(0x40000000) == NULL, "pte_ptr(0x40000000) found an L1 table");

    p = expect_fault("NULL read", PROBE("movl (%%ecx), %%eax", v, 0), 14, 0);
    if (p)
        test_check(p->cr2 == 0 && p->cs == FLAT_KERNEL_CS, "NULL read: cr2 %#lx cs %#x", p->cr2, p->cs);
}

void app_main(void)
{
    if (!xen_shared_info) {
        test_error("shared_info is not mapped");
        test_report();
        return;
    }
    victim_mfn = virt_to_mfn(victim);
    probe_install();
    trap_set_handler(14, pf_handler);

    test_not_present();
    test_read_only();
    test_m2p();
    test_no_l1();
    test_report();
}
