/*
 * xen/xen.h - corresponds to Xen's public header xen.h, together with the
 * x86 parts it pulls in (arch-x86/xen.h, arch-x86/xen-x86_32.h).
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300,
 * x86_32 only). Names follow Xen's so guest code reads as it would against
 * the upstream headers; the text and layout choices are xenkit's own.
 * tests/xen/abi-layout.test.ts checks every size, offset and value here
 * against src/vmm/xen/abi/.
 *
 * Conventions used by every header in this directory:
 *  - x86_32 only. uint64_t members are 4-byte aligned inside structs, as
 *    the i386 psABI says; nothing here adds padding or packing to change
 *    that (a guest built with -malign-double would break the ABI, so that
 *    is rejected below).
 *  - Guest handles (pointer arguments Xen copies through) are plain
 *    pointers: on x86_32 Xen's one-member handle struct has the same size
 *    and alignment as the pointer it wraps.
 *  - Constants are usable from assembly (__ASSEMBLER__); C declarations are
 *    hidden there.
 */
#ifndef XENKIT_XEN_XEN_H
#define XENKIT_XEN_XEN_H

#if !defined(__i386__)
#error "xenkit's Xen headers describe the x86_32 guest ABI only: build with -m32"
#endif

/* The interface version these headers describe. */
#define __XEN_LATEST_INTERFACE_VERSION__ 0x00041300

/* Unsigned literal helpers that also work in assembly. */
#ifdef __ASSEMBLER__
#define XENKIT_U(x)   x
#define XENKIT_UL(x)  x
#define XENKIT_ULL(x) x
#else
#define XENKIT_U(x)   (x##U)
#define XENKIT_UL(x)  (x##UL)
#define XENKIT_ULL(x) (x##ULL)
#endif

/* ---- Hypercall numbers (EAX), one 32-byte hypercall-page slot each ---- */
#define __HYPERVISOR_set_trap_table                 0
#define __HYPERVISOR_mmu_update                     1
#define __HYPERVISOR_set_gdt                        2
#define __HYPERVISOR_stack_switch                   3
#define __HYPERVISOR_set_callbacks                  4
#define __HYPERVISOR_fpu_taskswitch                 5
#define __HYPERVISOR_sched_op_compat                6
#define __HYPERVISOR_platform_op                    7
#define __HYPERVISOR_set_debugreg                   8
#define __HYPERVISOR_get_debugreg                   9
#define __HYPERVISOR_update_descriptor             10
#define __HYPERVISOR_memory_op                     12
#define __HYPERVISOR_multicall                     13
#define __HYPERVISOR_update_va_mapping             14
#define __HYPERVISOR_set_timer_op                  15
#define __HYPERVISOR_event_channel_op_compat       16
#define __HYPERVISOR_xen_version                   17
#define __HYPERVISOR_console_io                    18
#define __HYPERVISOR_physdev_op_compat             19
#define __HYPERVISOR_grant_table_op                20
#define __HYPERVISOR_vm_assist                     21
#define __HYPERVISOR_update_va_mapping_otherdomain 22
#define __HYPERVISOR_iret                          23  /* jmp to this slot */
#define __HYPERVISOR_vcpu_op                       24
#define __HYPERVISOR_set_segment_base              25  /* 64-bit guests only */
#define __HYPERVISOR_mmuext_op                     26
#define __HYPERVISOR_xsm_op                        27
#define __HYPERVISOR_nmi_op                        28
#define __HYPERVISOR_sched_op                      29
#define __HYPERVISOR_callback_op                   30
#define __HYPERVISOR_xenoprof_op                   31
#define __HYPERVISOR_event_channel_op              32
#define __HYPERVISOR_physdev_op                    33
#define __HYPERVISOR_hvm_op                        34
#define __HYPERVISOR_sysctl                        35
#define __HYPERVISOR_domctl                        36
#define __HYPERVISOR_kexec_op                      37
#define __HYPERVISOR_tmem_op                       38
#define __HYPERVISOR_argo_op                       39
#define __HYPERVISOR_xenpmu_op                     40
#define __HYPERVISOR_dm_op                         41
#define __HYPERVISOR_hypfs_op                      42
#define __HYPERVISOR_arch_0                        48
#define __HYPERVISOR_arch_1                        49
#define __HYPERVISOR_arch_2                        50
#define __HYPERVISOR_arch_3                        51
#define __HYPERVISOR_arch_4                        52
#define __HYPERVISOR_arch_5                        53
#define __HYPERVISOR_arch_6                        54
#define __HYPERVISOR_arch_7                        55

/* ---- Virtual interrupts, bound with EVTCHNOP_bind_virq ---- */
#define VIRQ_TIMER       0   /* per-vCPU: timer expired / periodic tick */
#define VIRQ_DEBUG       1
#define VIRQ_CONSOLE     2
#define VIRQ_DOM_EXC     3
#define VIRQ_TBUF        4
#define VIRQ_DEBUGGER    6
#define VIRQ_XENOPROF    7
#define VIRQ_CON_RING    8
#define VIRQ_PCPU_STATE  9
#define VIRQ_MEM_EVENT  10
#define VIRQ_ARGO       11
#define VIRQ_ENOMEM     12
#define VIRQ_XENPMU     13
#define VIRQ_ARCH_0     16
#define VIRQ_ARCH_1     17
#define VIRQ_ARCH_2     18
#define VIRQ_ARCH_3     19
#define VIRQ_ARCH_4     20
#define VIRQ_ARCH_5     21
#define VIRQ_ARCH_6     22
#define VIRQ_ARCH_7     23
#define NR_VIRQS        24

/* ---- mmu_update: command in the low 2 bits of mmu_update.ptr ---- */
#define MMU_NORMAL_PT_UPDATE        0
#define MMU_MACHPHYS_UPDATE         1
#define MMU_PT_UPDATE_PRESERVE_AD   2
#define MMU_PT_UPDATE_NO_TRANSLATE  3

/* ---- mmuext_op commands ---- */
#define MMUEXT_PIN_L1_TABLE          0
#define MMUEXT_PIN_L2_TABLE          1
#define MMUEXT_PIN_L3_TABLE          2
#define MMUEXT_PIN_L4_TABLE          3
#define MMUEXT_UNPIN_TABLE           4
#define MMUEXT_NEW_BASEPTR           5
#define MMUEXT_TLB_FLUSH_LOCAL       6
#define MMUEXT_INVLPG_LOCAL          7
#define MMUEXT_TLB_FLUSH_MULTI       8
#define MMUEXT_INVLPG_MULTI          9
#define MMUEXT_TLB_FLUSH_ALL        10
#define MMUEXT_INVLPG_ALL           11
#define MMUEXT_FLUSH_CACHE          12
#define MMUEXT_SET_LDT              13
#define MMUEXT_NEW_USER_BASEPTR     15
#define MMUEXT_CLEAR_PAGE           16
#define MMUEXT_COPY_PAGE            17
#define MMUEXT_FLUSH_CACHE_GLOBAL   18
#define MMUEXT_MARK_SUPER           19
#define MMUEXT_UNMARK_SUPER         20

/*
 * ---- update_va_mapping flags ----
 * Bits 0-1 pick the flush (none, whole TLB, one entry); bit 2 picks the
 * scope. With scope MULTI the remaining bits are a pointer to a vCPU
 * bitmap; MULTI with a NULL pointer is LOCAL.
 */
#define UVMF_NONE            XENKIT_UL(0)
#define UVMF_TLB_FLUSH       XENKIT_UL(1)
#define UVMF_INVLPG          XENKIT_UL(2)
#define UVMF_FLUSHTYPE_MASK  XENKIT_UL(3)
#define UVMF_MULTI           XENKIT_UL(0)
#define UVMF_LOCAL           XENKIT_UL(0)
#define UVMF_ALL             XENKIT_UL(4)

/* ---- console_io commands ---- */
#define CONSOLEIO_write  0
#define CONSOLEIO_read   1

/* ---- vm_assist(cmd, type) ---- */
#define VMASST_CMD_enable                 0
#define VMASST_CMD_disable                1
#define VMASST_TYPE_4gb_segments          0
#define VMASST_TYPE_4gb_segments_notify   1
#define VMASST_TYPE_writable_pagetables   2
#define VMASST_TYPE_pae_extended_cr3      3
#define VMASST_TYPE_architectural_iopl    4
#define VMASST_TYPE_runstate_update_flag  5
#define VMASST_TYPE_m2p_strict           32

/* ---- Reserved domain ids (ordinary domains are below 0x7ff0) ---- */
#define DOMID_FIRST_RESERVED  XENKIT_U(0x7FF0)
#define DOMID_SELF            XENKIT_U(0x7FF0)
#define DOMID_IO              XENKIT_U(0x7FF1)
#define DOMID_XEN             XENKIT_U(0x7FF2)
#define DOMID_COW             XENKIT_U(0x7FF3)
#define DOMID_INVALID         XENKIT_U(0x7FF4)
#define DOMID_ANY             XENKIT_U(0x7FF5)
#define DOMID_IDLE            XENKIT_U(0x7FFF)
#define DOMID_MASK            XENKIT_U(0x7FFF)

/* ---- start_info.flags (also hvm_start_info.flags) ---- */
#define SIF_PRIVILEGED       (1 << 0)
#define SIF_INITDOMAIN       (1 << 1)
#define SIF_MULTIBOOT_MOD    (1 << 2)
#define SIF_MOD_START_PFN    (1 << 3)
#define SIF_VIRT_P2M_4TOOLS  (1 << 4)
#define SIF_PM_MASK          (0xFF << 8)

#define MAX_GUEST_CMDLINE     1024
#define XEN_LEGACY_MAX_VCPUS  32

/* vcpu_time_info.flags */
#define XEN_PVCLOCK_TSC_STABLE_BIT  (1 << 0)
#define XEN_PVCLOCK_GUEST_STOPPED   (1 << 1)

/*
 * ---- x86_32 PV segments and address space ----
 * Xen owns GDT page 14 onwards (entries 7168+) and provides flat ring-1
 * (kernel) and ring-3 (user) selectors there.
 */
#define FIRST_RESERVED_GDT_PAGE   14
#define FIRST_RESERVED_GDT_BYTE   57344   /* page 14 * 4096 */
#define FIRST_RESERVED_GDT_ENTRY  7168    /* byte / 8 */

#define FLAT_RING1_CS   0xe019
#define FLAT_RING1_DS   0xe021
#define FLAT_RING1_SS   0xe021
#define FLAT_RING3_CS   0xe02b
#define FLAT_RING3_DS   0xe033
#define FLAT_RING3_SS   0xe033
#define FLAT_KERNEL_CS  FLAT_RING1_CS
#define FLAT_KERNEL_DS  FLAT_RING1_DS
#define FLAT_KERNEL_SS  FLAT_RING1_SS
#define FLAT_USER_CS    FLAT_RING3_CS
#define FLAT_USER_DS    FLAT_RING3_DS
#define FLAT_USER_SS    FLAT_RING3_SS

/* The hypervisor hole of a PAE guest; the read-only M2P table opens it. */
#define HYPERVISOR_VIRT_START   XENKIT_UL(0xF5800000)
#define MACH2PHYS_VIRT_START    XENKIT_UL(0xF5800000)
#define MACH2PHYS_VIRT_END      XENKIT_UL(0xF6800000)
#define MACH2PHYS_NR_ENTRIES    ((MACH2PHYS_VIRT_END - MACH2PHYS_VIRT_START) >> 2)

/* HVM/PVH: Xen's debug console port (byte writes appear in Xen's log). */
#define XEN_HVM_DEBUGCONS_IOPORT  0xe9

/*
 * Forced-emulation prefix: "ud2; .ascii \"xen\"" in front of an instruction
 * asks Xen to emulate it (PV guests use it for CPUID).
 */
#ifdef __ASSEMBLER__
#define XEN_EMULATE_PREFIX  .byte 0x0f, 0x0b, 0x78, 0x65, 0x6e ;
#define XEN_CPUID           XEN_EMULATE_PREFIX cpuid
#else
#define XEN_EMULATE_PREFIX  ".byte 0x0f, 0x0b, 0x78, 0x65, 0x6e ; "
#define XEN_CPUID           XEN_EMULATE_PREFIX "cpuid"
#endif

#ifndef __ASSEMBLER__

#include <stddef.h>
#include <stdint.h>

/* Guard the i386 rule every layout below depends on. */
struct xenkit_u64_alignment_check { uint32_t a; uint64_t b; };
_Static_assert(sizeof(struct xenkit_u64_alignment_check) == 12,
               "Xen x86_32 ABI: uint64_t must be 4-byte aligned in structs (do not use -malign-double)");

typedef unsigned long xen_pfn_t;    /* a frame number: MFN for PV, GFN for HVM */
typedef unsigned long xen_ulong_t;
typedef uint16_t domid_t;

/* Guest handles are plain pointers (see the top of this file). */
#define XEN_GUEST_HANDLE(type)          type *
#define XEN_GUEST_HANDLE_PARAM(type)    type *
#define set_xen_guest_handle(hnd, val)  ((hnd) = (val))

/* CR3 encoding of a page-directory frame ("extended CR3" for PAE). */
static inline unsigned long xen_pfn_to_cr3(unsigned long pfn)
{
    return (unsigned long)((uint32_t)pfn << 12 | (uint32_t)pfn >> 20);
}
static inline unsigned long xen_cr3_to_pfn(unsigned long cr3)
{
    return (unsigned long)((uint32_t)cr3 >> 12 | (uint32_t)cr3 << 20);
}

/* The M2P table Xen maps read-only into every PV guest: m2p[mfn] = pfn. */
#define machine_to_phys_mapping ((unsigned long *)MACH2PHYS_VIRT_START)

/*
 * set_trap_table entry (8 bytes). flags bits 0-1: highest ring allowed to
 * raise the vector with `int n`; bit 2: mask events on entry. A table is
 * terminated by an entry whose address is 0.
 */
struct trap_info {
    uint8_t       vector;
    uint8_t       flags;
    uint16_t      cs;
    unsigned long address;
};
typedef struct trap_info trap_info_t;

/* A far code pointer as the x86_32 callback interfaces take it. */
struct xen_callback {
    unsigned long cs;
    unsigned long eip;
};
typedef struct xen_callback xen_callback_t;

/* mmu_update request (16 bytes): ptr = machine address | MMU_* command. */
struct mmu_update {
    uint64_t ptr;
    uint64_t val;
};
typedef struct mmu_update mmu_update_t;

/* mmuext_op request (12 bytes). */
struct mmuext_op {
    unsigned int cmd;
    union {
        xen_pfn_t     mfn;          /* pin/unpin, new baseptr, clear/copy page, (un)mark super */
        unsigned long linear_addr;  /* invlpg, set_ldt */
    } arg1;
    union {
        unsigned int  nr_ents;      /* set_ldt */
        const void   *vcpumask;     /* tlb_flush_multi, invlpg_multi */
        xen_pfn_t     src_mfn;      /* copy_page */
    } arg2;
};
typedef struct mmuext_op mmuext_op_t;

/* One multicall batch entry (32 bytes); result is written back. */
struct multicall_entry {
    xen_ulong_t op;
    xen_ulong_t result;
    xen_ulong_t args[6];
};
typedef struct multicall_entry multicall_entry_t;

/*
 * Per-vCPU time record (32 bytes). Read it like a seqlock: an odd version
 * means an update is in progress; retry if version changed meanwhile.
 *   now = system_time + ((tsc - tsc_timestamp) << tsc_shift) * mul >> 32
 * (a negative tsc_shift shifts right).
 */
struct vcpu_time_info {
    uint32_t version;
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time;
    uint32_t tsc_to_system_mul;
    int8_t   tsc_shift;
    uint8_t  flags;             /* XEN_PVCLOCK_* */
    uint8_t  pad1[2];
};
typedef struct vcpu_time_info vcpu_time_info_t;

/* x86_32 part of vcpu_info (24 bytes). cr2 receives a PV #PF address. */
struct arch_vcpu_info {
    unsigned long cr2;
    unsigned long pad[5];
};
typedef struct arch_vcpu_info arch_vcpu_info_t;

/*
 * Per-vCPU event state (64 bytes). Xen sets evtchn_upcall_pending; for PV,
 * evtchn_upcall_mask is the virtual interrupt flag (1 = events masked).
 */
struct vcpu_info {
    uint8_t               evtchn_upcall_pending;
    uint8_t               evtchn_upcall_mask;
    xen_ulong_t           evtchn_pending_sel;
    struct arch_vcpu_info arch;
    struct vcpu_time_info time;
};
typedef struct vcpu_info vcpu_info_t;

/* x86_32 part of shared_info (28 bytes). */
struct arch_shared_info {
    unsigned long max_pfn;
    xen_pfn_t     pfn_to_mfn_frame_list_list;
    unsigned long nmi_reason;
    unsigned long p2m_cr3;
    unsigned long p2m_vaddr;
    unsigned long p2m_generation;
    uint32_t      wc_sec_hi;    /* high word of wc_sec; i386 keeps it here */
};
typedef struct arch_shared_info arch_shared_info_t;

/*
 * The shared-info page (2344 bytes used). evtchn_pending/evtchn_mask are
 * the 2-level event channel bitmaps: 32 words of 32 bits, 1024 ports.
 */
struct shared_info {
    struct vcpu_info        vcpu_info[XEN_LEGACY_MAX_VCPUS];
    xen_ulong_t             evtchn_pending[32];
    xen_ulong_t             evtchn_mask[32];
    uint32_t                wc_version;
    uint32_t                wc_sec;
    uint32_t                wc_nsec;
    struct arch_shared_info arch;
};
typedef struct shared_info shared_info_t;
#define xen_wc_sec_hi arch.wc_sec_hi

/*
 * PV start-of-day information (1112 bytes on x86_32); its virtual address
 * arrives in ESI. Frame numbers are machine frames; pt_base, mfn_list and
 * mod_start (unless SIF_MOD_START_PFN) are virtual addresses.
 */
struct start_info {
    char          magic[32];            /* "xen-3.0-x86_32p" */
    unsigned long nr_pages;
    unsigned long shared_info;          /* machine address of shared_info */
    uint32_t      flags;                /* SIF_* */
    xen_pfn_t     store_mfn;
    uint32_t      store_evtchn;
    union {
        struct {
            xen_pfn_t mfn;
            uint32_t  evtchn;
        } domU;
        struct {
            uint32_t info_off;
            uint32_t info_size;
        } dom0;
    } console;
    unsigned long pt_base;
    unsigned long nr_pt_frames;
    unsigned long mfn_list;
    unsigned long mod_start;
    unsigned long mod_len;
    int8_t        cmd_line[MAX_GUEST_CMDLINE];
    unsigned long first_p2m_pfn;
    unsigned long nr_p2m_frames;
};
typedef struct start_info start_info_t;

/*
 * Register frame inside vcpu_guest_context (68 bytes), for bringing up
 * secondary PV vCPUs with VCPUOP_initialise.
 */
struct cpu_user_regs {
    uint32_t ebx;
    uint32_t ecx;
    uint32_t edx;
    uint32_t esi;
    uint32_t edi;
    uint32_t ebp;
    uint32_t eax;
    uint16_t error_code;
    uint16_t entry_vector;
    uint32_t eip;
    uint16_t cs;
    uint8_t  saved_upcall_mask;
    uint8_t  _pad0;
    uint32_t eflags;
    uint32_t esp;
    uint16_t ss, _pad1;
    uint16_t es, _pad2;
    uint16_t ds, _pad3;
    uint16_t fs, _pad4;
    uint16_t gs, _pad5;
};
typedef struct cpu_user_regs cpu_user_regs_t;

/* vcpu_guest_context.flags */
#define VGCF_i387_valid                (1 << 0)
#define VGCF_in_kernel                 (1 << 2)
#define VGCF_failsafe_disables_events  (1 << 3)
#define VGCF_syscall_disables_events   (1 << 4)
#define VGCF_online                    (1 << 5)

/* Full PV vCPU state (2800 bytes on x86_32). */
struct vcpu_guest_context {
    struct { char x[512]; } fpu_ctxt;   /* FXSAVE image */
    unsigned long        flags;         /* VGCF_* */
    struct cpu_user_regs user_regs;
    struct trap_info     trap_ctxt[256];
    unsigned long        ldt_base, ldt_ents;
    unsigned long        gdt_frames[16], gdt_ents;
    unsigned long        kernel_ss, kernel_sp;
    unsigned long        ctrlreg[8];
    unsigned long        debugreg[8];
    unsigned long        event_callback_cs;
    unsigned long        event_callback_eip;
    unsigned long        failsafe_callback_cs;
    unsigned long        failsafe_callback_eip;
    unsigned long        vm_assist;     /* bitmap of VMASST_TYPE_* */
};
typedef struct vcpu_guest_context vcpu_guest_context_t;

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_XEN_H */
