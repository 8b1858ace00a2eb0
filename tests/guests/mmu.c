/*
 * mmu (PV): changing the address space through Xen.
 *
 * Two pages, A and B, filled with different patterns.
 *  1. mmu_update(MMU_NORMAL_PT_UPDATE) rewrites A's L1 entry (found by
 *     walking the tables from CR3, its machine address from the p2m) to
 *     name B's frame; after MMUEXT_INVLPG_LOCAL, A shows B's contents and
 *     the L1 entry reads back with the new frame. Another PTE write and
 *     MMUEXT_TLB_FLUSH_LOCAL restore it.
 *  2. One mmu_update batch swaps the two frames the way a balloon driver
 *     exchanges pages: both PTEs plus MMU_MACHPHYS_UPDATE for both M2P
 *     entries; `done` counts 4 and the M2P shows the new owners.
 *  3. A multicall swaps back: two update_va_mapping entries (UVMF_INVLPG),
 *     one that must fail (a VA in the hypervisor hole) without stopping
 *     the batch, and an mmu_update restoring the M2P.
 *  4. A batch whose second request names a frame the domain does not own
 *     fails with `done` = 1: the first request was applied.
 *  5. update_va_mapping refuses a writable mapping of a page-table frame
 *     and accepts a read-only one.
 *  6. MMUEXT_NEW_BASEPTR: a copy of the page tables (L3, the L2 for slot
 *     0 and slot 3, the L1 covering A, with A pointing at B's frame),
 *     made read-only and pinned with MMUEXT_PIN_L3_TABLE, becomes the
 *     address space: CR3 names it, A shows B, the kernel keeps running
 *     and printing; switching back, unpinning and making the pages
 *     writable again all succeed.
 */
#include "guest.h"

#define PTE_FLAGS (_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY)
#define TAG_A 0xaa000000u
#define TAG_B 0xbb000000u

static volatile uint32_t page_a[1024] __aligned(PAGE_SIZE);
static volatile uint32_t page_b[1024] __aligned(PAGE_SIZE);

/* The copied page-table set of step 6. */
static uint64_t new_l3[512] __aligned(PAGE_SIZE);
static uint64_t new_l2[512] __aligned(PAGE_SIZE);
static uint64_t new_l2_slot3[512] __aligned(PAGE_SIZE);
static uint64_t new_l1[512] __aligned(PAGE_SIZE);

static unsigned long va_a, va_b, mfn_a, mfn_b, pfn_a, pfn_b;

static void fill(volatile uint32_t *p, uint32_t tag)
{
    for (unsigned int i = 0; i < 1024; i++)
        p[i] = tag | i;
}

/* Does the page at `p` show the pattern `tag`? (Three words are enough.) */
static bool shows(const volatile uint32_t *p, uint32_t tag)
{
    return p[0] == (tag | 0) && p[1] == (tag | 1) && p[1023] == (tag | 1023);
}

static unsigned long pte_mfn(unsigned long va)
{
    const uint64_t *p = pte_ptr(va);

    return p ? (unsigned long)((*p & PTE_ADDR_MASK) >> PAGE_SHIFT) : ~0UL;
}

static long mmuext1(unsigned int cmd, unsigned long arg1)
{
    struct mmuext_op op = { .cmd = cmd };
    unsigned int done = 0;
    long rc;

    op.arg1.mfn = arg1;
    rc = hypercall_mmuext_op(&op, 1, &done, DOMID_SELF);
    if (rc == 0 && done != 1)
        return -1000;
    return rc;
}

static struct mmu_update pte_update(unsigned long va, unsigned long mfn)
{
    struct mmu_update u = {
        .ptr = virt_to_mach(pte_ptr(va)) | MMU_NORMAL_PT_UPDATE,
        .val = ((uint64_t)mfn << PAGE_SHIFT) | PTE_FLAGS,
    };
    return u;
}

static struct mmu_update m2p_update(unsigned long mfn, unsigned long pfn)
{
    struct mmu_update u = { .ptr = ((uint64_t)mfn << PAGE_SHIFT) | MMU_MACHPHYS_UPDATE, .val = pfn };
    return u;
}

static void test_pte_write(void)
{
    struct mmu_update u;
    unsigned int done = 0;
    long rc;

    (void)page_a[0];   /* have the translation cached */
    u = pte_update(va_a, mfn_b);
    rc = hypercall_mmu_update(&u, 1, &done, DOMID_SELF);
    if (!test_check(rc == 0 && done == 1, "mmu_update(PTE of A -> B's frame): rc %ld, done %u", rc, done))
        return;
    test_check(pte_mfn(va_a) == mfn_b, "A's L1 entry names mfn %#lx, expected %#lx", pte_mfn(va_a), mfn_b);
    rc = mmuext1(MMUEXT_INVLPG_LOCAL, va_a);
    test_check(rc == 0, "MMUEXT_INVLPG_LOCAL: %ld", rc);
    test_check(shows(page_a, TAG_B), "after the PTE write and INVLPG, A shows %#x, not B's pattern", page_a[0]);

    u = pte_update(va_a, mfn_a);
    rc = hypercall_mmu_update(&u, 1, NULL, DOMID_SELF);
    test_check(rc == 0, "mmu_update(PTE of A -> A's frame), done = NULL: %ld", rc);
    rc = mmuext1(MMUEXT_TLB_FLUSH_LOCAL, 0);
    test_check(rc == 0, "MMUEXT_TLB_FLUSH_LOCAL: %ld", rc);
    test_check(shows(page_a, TAG_A), "after restoring the PTE and a TLB flush, A shows %#x", page_a[0]);
}

static void test_exchange(void)
{
    struct mmu_update u[4];
    unsigned int done = 0;
    long rc;

    u[0] = pte_update(va_a, mfn_b);
    u[1] = pte_update(va_b, mfn_a);
    u[2] = m2p_update(mfn_b, pfn_a);
    u[3] = m2p_update(mfn_a, pfn_b);
    rc = hypercall_mmu_update(u, 4, &done, DOMID_SELF);
    if (!test_check(rc == 0 && done == 4, "mmu_update exchange batch: rc %ld, done %u", rc, done))
        return;
    rc = mmuext1(MMUEXT_TLB_FLUSH_LOCAL, 0);
    test_check(rc == 0, "MMUEXT_TLB_FLUSH_LOCAL: %ld", rc);
    test_check(shows(page_a, TAG_B) && shows(page_b, TAG_A), "after the exchange A shows %#x and B %#x", page_a[0],
               page_b[0]);
    test_check(mfn_to_pfn(mfn_b) == pfn_a && mfn_to_pfn(mfn_a) == pfn_b,
               "MMU_MACHPHYS_UPDATE: m2p[%#lx] = %#lx, m2p[%#lx] = %#lx; expected %#lx and %#lx", mfn_b,
               mfn_to_pfn(mfn_b), mfn_a, mfn_to_pfn(mfn_a), pfn_a, pfn_b);
    page_a[5] = 0x5a5a5a5a; /* lands in B's frame */
}

static void test_multicall(void)
{
    static struct mmu_update m2p[2];
    static unsigned int m2p_done;
    multicall_entry_t mc[4];
    long rc;

    m2p[0] = m2p_update(mfn_a, pfn_a);
    m2p[1] = m2p_update(mfn_b, pfn_b);
    memset(mc, 0, sizeof(mc));
    mc[0].op = __HYPERVISOR_update_va_mapping;
    mc[0].args[0] = va_a;
    mc[0].args[1] = (mfn_a << PAGE_SHIFT) | PTE_FLAGS;
    mc[0].args[3] = UVMF_INVLPG;
    mc[1].op = __HYPERVISOR_update_va_mapping; /* must fail: Xen's part of the address space */
    mc[1].args[0] = HYPERVISOR_VIRT_START;
    mc[1].args[1] = (mfn_a << PAGE_SHIFT) | PTE_FLAGS;
    mc[1].args[3] = UVMF_INVLPG;
    mc[2].op = __HYPERVISOR_update_va_mapping;
    mc[2].args[0] = va_b;
    mc[2].args[1] = (mfn_b << PAGE_SHIFT) | PTE_FLAGS;
    mc[2].args[3] = UVMF_INVLPG;
    mc[3].op = __HYPERVISOR_mmu_update;
    mc[3].args[0] = (unsigned long)m2p;
    mc[3].args[1] = 2;
    mc[3].args[2] = (unsigned long)&m2p_done;
    mc[3].args[3] = DOMID_SELF;
    for (unsigned int i = 0; i < 4; i++)
        mc[i].result = 0xdeadbeef;

    rc = hypercall_multicall(mc, 4);
    if (!test_check(rc == 0, "multicall: %ld", rc))
        return;
    test_check(mc[0].result == 0, "multicall[0] update_va_mapping(A): %ld", (long)mc[0].result);
    test_check((long)mc[1].result < 0, "multicall[1] update_va_mapping(%#lx) succeeded (%#lx)", HYPERVISOR_VIRT_START,
               mc[1].result);
    test_check(mc[2].result == 0, "multicall[2] update_va_mapping(B): %ld", (long)mc[2].result);
    test_check(mc[3].result == 0 && m2p_done == 2, "multicall[3] mmu_update(M2P): %ld, done %u", (long)mc[3].result,
               m2p_done);
    test_check(shows(page_a, TAG_A), "after the multicall A shows %#x", page_a[0]);
    test_check(page_b[0] == TAG_B && page_b[5] == 0x5a5a5a5a, "after the multicall B shows %#x, word 5 %#x",
               page_b[0], page_b[5]);
    test_check(mfn_to_pfn(mfn_a) == pfn_a && mfn_to_pfn(mfn_b) == pfn_b, "the M2P was not restored");
    page_b[5] = TAG_B | 5;
}

static void test_partial_batch(void)
{
    struct mmu_update u[2];
    unsigned int done = 99;
    long rc;

    u[0] = pte_update(va_a, mfn_b);
    u[1].ptr = 0xfffff000ULL | MMU_NORMAL_PT_UPDATE; /* not this domain's frame */
    u[1].val = (mfn_a << PAGE_SHIFT) | PTE_FLAGS;
    rc = hypercall_mmu_update(u, 2, &done, DOMID_SELF);
    test_check(rc < 0, "mmu_update with a foreign frame succeeded");
    test_check(done == 1, "mmu_update stopped at request %u, expected 1", done);
    test_check(pte_mfn(va_a) == mfn_b, "the request before the bad one was not applied");
    rc = map_frame(va_a, mfn_a, PTE_FLAGS);
    test_check(rc == 0 && shows(page_a, TAG_A), "restoring A: %ld", rc);
}

static void test_pt_protection(void)
{
    const uint64_t *pte = pte_ptr(va_a);
    unsigned long l1_mfn = virt_to_mfn(pte);
    long rc;

    rc = map_frame(va_b, l1_mfn, _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY);
    if (!test_check(rc < 0, "a writable mapping of an L1 page table was accepted")) {
        map_frame(va_b, mfn_b, PTE_FLAGS);
        return;
    }
    test_check(shows(page_b, TAG_B), "the refused update changed B's mapping");
    rc = map_frame(va_b, l1_mfn, _PAGE_ACCESSED);
    if (test_check(rc == 0, "a read-only mapping of an L1 page table was refused: %ld", rc)) {
        const uint64_t *alias = (const uint64_t *)page_b;

        test_check(alias[((unsigned long)pte & (PAGE_SIZE - 1)) / 8] == *pte,
                   "the read-only alias of the L1 table shows other contents");
    }
    rc = map_frame(va_b, mfn_b, PTE_FLAGS);
    test_check(rc == 0 && shows(page_b, TAG_B), "restoring B: %ld", rc);
}

/* The table an entry points to. */
static const uint64_t *table_of(uint64_t e)
{
    return mfn_to_virt((unsigned long)((e & PTE_ADDR_MASK) >> PAGE_SHIFT));
}

static void test_new_baseptr(void)
{
    void *const pages[] = { new_l3, new_l2, new_l2_slot3, new_l1 };
    unsigned long old_cr3 = read_cr3();
    unsigned long old_l3_mfn = xen_cr3_to_pfn(old_cr3);
    const uint64_t *l3 = mfn_to_virt(old_l3_mfn);
    unsigned int i3 = va_a >> 30, i2 = (va_a >> 21) & 511;
    const uint64_t *l2, *l1;
    long rc;

    if (i3 == 3) {
        test_error("page A lies in L3 slot 3");
        return;
    }
    l2 = table_of(l3[i3]);
    l1 = table_of(l2[i2]);
    memcpy(new_l3, l3, PAGE_SIZE);
    memcpy(new_l2, l2, PAGE_SIZE);
    memcpy(new_l2_slot3, table_of(l3[3]), PAGE_SIZE);
    memcpy(new_l1, l1, PAGE_SIZE);

    new_l1[(va_a >> PAGE_SHIFT) & 511] = ((uint64_t)mfn_b << PAGE_SHIFT) | PTE_FLAGS;
    for (unsigned int i = 0; i < ARRAY_SIZE(pages); i++) {
        unsigned long va = (unsigned long)pages[i];

        /* Page tables must be mapped read-only, in the copy too. */
        if ((va >> 21) == (va_a >> 21))
            new_l1[(va >> PAGE_SHIFT) & 511] &= ~(uint64_t)_PAGE_RW;
    }
    new_l2[i2] = ((uint64_t)virt_to_mfn(new_l1) << PAGE_SHIFT) | (l2[i2] & ~PTE_ADDR_MASK);
    new_l3[i3] = ((uint64_t)virt_to_mfn(new_l2) << PAGE_SHIFT) | (l3[i3] & ~PTE_ADDR_MASK);
    new_l3[3] = ((uint64_t)virt_to_mfn(new_l2_slot3) << PAGE_SHIFT) | (l3[3] & ~PTE_ADDR_MASK);

    for (unsigned int i = 0; i < ARRAY_SIZE(pages); i++) {
        rc = set_page_flags((unsigned long)pages[i], 0, _PAGE_RW);
        if (rc) {
            test_error("making page-table copy %u read-only: %ld", i, rc);
            return;
        }
    }
    rc = mmuext1(MMUEXT_PIN_L3_TABLE, virt_to_mfn(new_l3));
    if (!test_check(rc == 0, "MMUEXT_PIN_L3_TABLE of the copy: %ld", rc))
        return;
    rc = mmuext1(MMUEXT_NEW_BASEPTR, virt_to_mfn(new_l3));
    if (test_check(rc == 0, "MMUEXT_NEW_BASEPTR to the copy: %ld", rc)) {
        unsigned long cr3 = read_cr3();

        printf("  running on the copied page tables (cr3 %#lx)\n", cr3);
        test_check(xen_cr3_to_pfn(cr3) == virt_to_mfn(new_l3), "CR3 reads %#lx, expected the copy's frame %#lx", cr3,
                   virt_to_mfn(new_l3));
        test_check(shows(page_a, TAG_B), "in the new address space A shows %#x, not B's pattern", page_a[0]);
        test_check(shows(page_b, TAG_B), "in the new address space B shows %#x", page_b[0]);
        test_check(pte_mfn(va_a) == mfn_b, "the walk from the new CR3 finds mfn %#lx for A", pte_mfn(va_a));
        rc = mmuext1(MMUEXT_NEW_BASEPTR, old_l3_mfn);
        test_check(rc == 0, "MMUEXT_NEW_BASEPTR back: %ld", rc);
        test_check(read_cr3() == old_cr3, "CR3 reads %#lx after switching back, expected %#lx", read_cr3(), old_cr3);
        test_check(shows(page_a, TAG_A), "back in the old address space A shows %#x", page_a[0]);
    }
    rc = mmuext1(MMUEXT_UNPIN_TABLE, virt_to_mfn(new_l3));
    test_check(rc == 0, "MMUEXT_UNPIN_TABLE: %ld", rc);
    for (unsigned int i = 0; i < ARRAY_SIZE(pages); i++) {
        rc = set_page_flags((unsigned long)pages[i], _PAGE_RW, 0);
        test_check(rc == 0, "making page-table copy %u writable again: %ld", i, rc);
    }
}

void app_main(void)
{
    va_a = (unsigned long)page_a;
    va_b = (unsigned long)page_b;
    mfn_a = virt_to_mfn((const void *)page_a);
    mfn_b = virt_to_mfn((const void *)page_b);
    pfn_a = va_a >> PAGE_SHIFT;
    pfn_b = va_b >> PAGE_SHIFT;
    fill(page_a, TAG_A);
    fill(page_b, TAG_B);
    if (!pte_ptr(va_a) || pte_mfn(va_a) != mfn_a) {
        test_error("the page-table walk does not find A (mfn %#lx, walk %#lx)", mfn_a, pte_mfn(va_a));
        test_report();
        return;
    }

    printf("mmu: PTE write + INVLPG\n");
    test_pte_write();
    printf("mmu: exchange two frames (PTE + MACHPHYS batch)\n");
    test_exchange();
    printf("mmu: multicall\n");
    test_multicall();
    printf("mmu: partial batch\n");
    test_partial_batch();
    printf("mmu: page-table protection\n");
    test_pt_protection();
    printf("mmu: NEW_BASEPTR\n");
    test_new_baseptr();
    test_report();
}
