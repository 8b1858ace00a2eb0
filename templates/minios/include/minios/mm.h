/*
 * Page tables of a PV kernel (kernel/mm.c), through the hypercalls Xen
 * offers instead of writable page tables (Xen ABI reference §1.2, §3.3).
 *
 * Address spaces: a kernel virtual address (VA); the guest frame behind
 * it (PFN, the guest's idea of "physical"); the machine frame (MFN, what
 * page-table entries and hypercalls name). The builder maps the boot
 * region 1:1, VA = PFN << PAGE_SHIFT (VIRT_BASE is 0), and hands over the
 * p2m (start_info.mfn_list, PFN -> MFN); Xen keeps the read-only M2P at
 * 0xF5800000 (MFN -> PFN). Page-table pages are mapped read-only: entries
 * are read directly and changed with update_va_mapping or mmu_update.
 *
 * PVH kernels run with paging off (VA = guest-physical address): the
 * frame helpers return VA >> PAGE_SHIFT and the mapping helpers -XEN_ENOSYS.
 */
#ifndef MINIOS_MM_H
#define MINIOS_MM_H

#include <stdint.h>
#include <minios/arch.h>

/** Bits 12-51 of a PAE entry: the machine address of the frame it names. */
#define PTE_ADDR_MASK 0x000ffffffffff000ULL

/** The machine frame behind `va`, a VA of the 1:1 boot region (p2m lookup). */
unsigned long virt_to_mfn(const void *va);

/** The machine address of `va` (frame and offset), as mmu_update's `ptr` wants it. */
uint64_t virt_to_mach(const void *va);

/** The guest frame of machine frame `mfn`, from Xen's M2P; ~0UL when Xen has none. */
unsigned long mfn_to_pfn(unsigned long mfn);

/** The VA of machine frame `mfn` in the 1:1 boot region. */
void *mfn_to_virt(unsigned long mfn);

/**
 * The level-1 entry mapping `va` in the current page tables (from CR3), or
 * NULL when no L1 table covers it. The entry is readable, not writable.
 */
const uint64_t *pte_ptr(unsigned long va);

/**
 * Map `va` to machine frame `mfn` with `flags` (_PAGE_*; present is
 * implied) and flush that TLB entry: update_va_mapping(UVMF_INVLPG). An
 * L1 table must already cover `va`. Returns 0 or -XEN_Exxx.
 */
long map_frame(unsigned long va, unsigned long mfn, unsigned long flags);

/** Remove the mapping of `va` (update_va_mapping with an empty entry). */
long unmap_page(unsigned long va);

/** Set, then clear, flag bits of the mapping of `va`, keeping its frame; -XEN_EINVAL if unmapped. */
long set_page_flags(unsigned long va, unsigned long set, unsigned long clear);

#endif /* MINIOS_MM_H */
