/*
 * x86 facts and instructions the template uses: page size and PAE page
 * table bits, the PVH kernel's own segment selectors, memory barriers,
 * atomic bit operations, the TSC, CPUID, MSRs and control registers.
 * Constants are usable from assembly.
 */
#ifndef MINIOS_ARCH_H
#define MINIOS_ARCH_H

#define PAGE_SHIFT 12
#define PAGE_SIZE  4096

/* Page-table entry bits (PAE entries are 64 bits; these are the low ones). */
#define _PAGE_PRESENT  0x001
#define _PAGE_RW       0x002
#define _PAGE_USER     0x004
#define _PAGE_PWT      0x008
#define _PAGE_PCD      0x010
#define _PAGE_ACCESSED 0x020
#define _PAGE_DIRTY    0x040
#define _PAGE_PSE      0x080

/*
 * PVH: the GDT arch/x86/head-pvh.S loads (flat 4 GiB, ring 0). PV kernels
 * run on Xen's FLAT_KERNEL_CS / FLAT_KERNEL_DS (ring 1) instead.
 */
#define PVH_KERNEL_CS 0x08
#define PVH_KERNEL_DS 0x10

/* Xen's CPUID leaves: base = 0x40000000 + k * 0x100, signature "XenVMMXenVMM". */
#define XEN_CPUID_FIRST_BASE 0x40000000
#define XEN_CPUID_LAST_BASE  0x4000ff00
#define XEN_CPUID_SIG_EBX    0x566e6558 /* "XenV" */
#define XEN_CPUID_SIG_ECX    0x65584d4d /* "MMXe" */
#define XEN_CPUID_SIG_EDX    0x4d4d566e /* "nVMM" */

#ifndef __ASSEMBLER__

#include <stdint.h>

/* x86 is TSO: only stores may pass later loads, so only mb() needs an
 * instruction; rmb()/wmb() just stop the compiler from reordering. The
 * locked add works on every i686 (mfence needs SSE2). */
#define barrier() __asm__ __volatile__("" ::: "memory")
#define mb()      __asm__ __volatile__("lock; addl $0, 0(%%esp)" ::: "memory")
#define rmb()     barrier()
#define wmb()     barrier()

/** Read a value exactly once (no merging or re-reading by the compiler). */
#define READ_ONCE(x)      (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v)  (*(volatile __typeof__(x) *)&(x) = (v))

/*
 * Atomic bit and word operations on memory that Xen (another physical
 * CPU, on real Xen) changes concurrently: the event-channel bitmaps and
 * selector in shared_info, grant-entry flags. `lock` makes each one
 * indivisible against writers elsewhere; xchg is locked by itself. All
 * are full barriers.
 */

/** Atomically set bit `nr` of the 32-bit word at `addr`. */
static inline void sync_set_bit(unsigned int nr, volatile void *addr)
{
    __asm__ __volatile__("lock; btsl %1, %0" : "+m"(*(volatile uint32_t *)addr) : "Ir"(nr) : "memory");
}

/** Atomically clear bit `nr` of the 32-bit word at `addr`. */
static inline void sync_clear_bit(unsigned int nr, volatile void *addr)
{
    __asm__ __volatile__("lock; btrl %1, %0" : "+m"(*(volatile uint32_t *)addr) : "Ir"(nr) : "memory");
}

/** Atomically clear bit `nr` of the word at `addr`; returns its old value. */
static inline int sync_test_and_clear_bit(unsigned int nr, volatile void *addr)
{
    unsigned char old;

    __asm__ __volatile__("lock; btrl %2, %1; setc %0"
                         : "=q"(old), "+m"(*(volatile uint32_t *)addr) : "Ir"(nr) : "memory", "cc");
    return old;
}

/** Bit `nr` of the word at `addr` (a plain read). */
static inline int test_bit(unsigned int nr, const volatile void *addr)
{
    return (*(const volatile uint32_t *)addr >> nr) & 1;
}

/** Atomically replace the word at `addr` with `v`; returns the old word. */
static inline uint32_t xchg32(volatile void *addr, uint32_t v)
{
    __asm__ __volatile__("xchgl %0, %1" : "+r"(v), "+m"(*(volatile uint32_t *)addr) :: "memory");
    return v;
}

/** If the 16-bit word at `addr` is `old`, make it `new`; returns what it was. */
static inline uint16_t cmpxchg16(volatile void *addr, uint16_t old, uint16_t new)
{
    uint16_t prev;

    __asm__ __volatile__("lock; cmpxchgw %2, %1"
                         : "=a"(prev), "+m"(*(volatile uint16_t *)addr) : "r"(new), "0"(old) : "memory", "cc");
    return prev;
}

/** Index of the lowest set bit of a non-zero word. */
static inline unsigned int first_bit(uint32_t w)
{
    return (unsigned int)__builtin_ctz(w);
}

/** The time-stamp counter. */
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;

    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};

/** Native CPUID (PVH; under PV, Xen only filters it when it runs with forced emulation). */
static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;

    __asm__ __volatile__("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                         : "a"(leaf), "c"(subleaf));
    return r;
}

static inline void wrmsr(uint32_t msr, uint64_t val)
{
    __asm__ __volatile__("wrmsr" :: "c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)));
}

/**
 * CR2, the last page-fault address. PVH: a plain ring-0 read. PV (ring
 * 1): Xen emulates it, at the cost of a #GP round trip; vcpu_info.arch
 * .cr2 holds the same value (see fault_address() in minios/traps.h).
 */
static inline unsigned long read_cr2(void)
{
    unsigned long v;

    __asm__ __volatile__("mov %%cr2, %0" : "=r"(v));
    return v;
}

/** CR3. PV: Xen emulates the read and returns the page-directory frame in xen_pfn_to_cr3() form. */
static inline unsigned long read_cr3(void)
{
    unsigned long v;

    __asm__ __volatile__("mov %%cr3, %0" : "=r"(v));
    return v;
}

/** The current code selector; its low two bits are the CPL. */
static inline uint16_t read_cs(void)
{
    uint16_t v;

    __asm__ __volatile__("mov %%cs, %0" : "=r"(v));
    return v;
}

#endif /* !__ASSEMBLER__ */

#endif /* MINIOS_ARCH_H */
