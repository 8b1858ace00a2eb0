/*
 * Page tables of a PV kernel: frame-number conversions, the L1 entry of a
 * VA, and remapping a page with update_va_mapping. See
 * include/minios/mm.h for the address spaces.
 *
 * The table walk starts from CR3, which Xen emulates for a ring-1 kernel
 * (the L3 frame in xen_pfn_to_cr3 form), and goes through the M2P to
 * reach each table's VA, so it follows the page tables in use even after
 * MMUEXT_NEW_BASEPTR, as long as every table lies in the 1:1 region.
 */
#include <minios/mm.h>
#include <minios/hypercall.h>
#include <minios/setup.h>
#include <xen/errno.h>

unsigned long virt_to_mfn(const void *va)
{
    unsigned long pfn = (uintptr_t)va >> PAGE_SHIFT;

    if (xen_pvh)
        return pfn;
    return ((const unsigned long *)boot_info.start_info->mfn_list)[pfn];
}

uint64_t virt_to_mach(const void *va)
{
    return ((uint64_t)virt_to_mfn(va) << PAGE_SHIFT) | ((uintptr_t)va & (PAGE_SIZE - 1));
}

unsigned long mfn_to_pfn(unsigned long mfn)
{
    if (xen_pvh)
        return mfn;
    if (mfn >= MACH2PHYS_NR_ENTRIES)
        return ~0UL;
    return READ_ONCE(machine_to_phys_mapping[mfn]);
}

void *mfn_to_virt(unsigned long mfn)
{
    return (void *)(mfn_to_pfn(mfn) << PAGE_SHIFT);
}

/* The table an entry points to, or NULL when the entry is not present. */
static const uint64_t *next_table(uint64_t entry)
{
    if (!(entry & _PAGE_PRESENT))
        return NULL;
    return mfn_to_virt((unsigned long)((entry & PTE_ADDR_MASK) >> PAGE_SHIFT));
}

const uint64_t *pte_ptr(unsigned long va)
{
    const uint64_t *l3, *l2, *l1;

    if (xen_pvh)
        return NULL;
    l3 = mfn_to_virt(xen_cr3_to_pfn(read_cr3()));
    l2 = next_table(l3[va >> 30]);
    if (!l2)
        return NULL;
    l1 = next_table(l2[(va >> 21) & 511]);
    if (!l1)
        return NULL;
    return &l1[(va >> PAGE_SHIFT) & 511];
}

long map_frame(unsigned long va, unsigned long mfn, unsigned long flags)
{
    uint64_t pte = ((uint64_t)mfn << PAGE_SHIFT) | flags | _PAGE_PRESENT;

    if (xen_pvh)
        return -XEN_ENOSYS;
    return hypercall_update_va_mapping(va & ~(PAGE_SIZE - 1UL), pte, UVMF_INVLPG);
}

long unmap_page(unsigned long va)
{
    if (xen_pvh)
        return -XEN_ENOSYS;
    return hypercall_update_va_mapping(va & ~(PAGE_SIZE - 1UL), 0, UVMF_INVLPG);
}

long set_page_flags(unsigned long va, unsigned long set, unsigned long clear)
{
    const uint64_t *p = pte_ptr(va);
    uint64_t pte;

    if (xen_pvh)
        return -XEN_ENOSYS;
    if (!p || !(*p & _PAGE_PRESENT))
        return -XEN_EINVAL;
    pte = (*p | set) & ~(uint64_t)clear;
    return hypercall_update_va_mapping(va & ~(PAGE_SIZE - 1UL), pte, UVMF_INVLPG);
}
