/*
 * Entry of the PVH32 kernel (build/kernel-pvh.elf): the XEN_ELFNOTE_PHYS32
 * _ENTRY note and the 32-bit entry (Xen ABI reference §2.1,
 * docs/misc/pvh.pandoc in Xen).
 *
 * Entry state: flat 32-bit protected mode, paging off, CPL 0, IF = 0,
 * EBX = physical address of struct hvm_start_info; the selector values
 * and the GDT they came from are unspecified, so the kernel loads its own
 * GDT first. Physical = linked address (0x100000 up).
 *
 * Then: a stack; Xen's CPUID leaves (the signature "XenVMMXenVMM" at
 * 0x40000000 + k*0x100, with at least leaves base..base+2); the hypercall
 * page, which Xen fills when its physical address is written to the MSR
 * that leaf base+2 names in EBX (§2.3); then start_kernel(info, 1).
 * Without Xen leaves there is nobody to talk to: the kernel says so on
 * Xen's debug port 0xe9 and halts.
 */
#include <xen/xen.h>
#include <xen/elfnote.h>
#include <minios/asm.h>
#include <minios/arch.h>

#define BOOT_STACK_SIZE (4 * PAGE_SIZE)

    .section .note.Xen, "a", @note
    xen_elfnote_str XEN_ELFNOTE_GUEST_OS,       "xenkit-minios"
    xen_elfnote_str XEN_ELFNOTE_GUEST_VERSION,  "0.1"
    xen_elfnote_int XEN_ELFNOTE_PHYS32_ENTRY,   _pvh_start

    .section .text.head, "ax", @progbits
    .code32
ENTRY(_pvh_start)
    cld
    lgdt    gdt_desc
    ljmp    $PVH_KERNEL_CS, $1f
1:  mov     $PVH_KERNEL_DS, %eax
    mov     %eax, %ds
    mov     %eax, %es
    mov     %eax, %ss
    mov     %eax, %fs
    mov     %eax, %gs
    mov     $boot_stack_top, %esp
    xor     %ebp, %ebp
    mov     %ebx, %edi              /* hvm_start_info PA; CPUID clobbers EBX */

    /* Find the Xen leaves. ESI walks the candidate bases. */
    mov     $XEN_CPUID_FIRST_BASE, %esi
2:  mov     %esi, %eax
    xor     %ecx, %ecx
    cpuid
    cmp     $XEN_CPUID_SIG_EBX, %ebx
    jne     3f
    cmp     $XEN_CPUID_SIG_ECX, %ecx
    jne     3f
    cmp     $XEN_CPUID_SIG_EDX, %edx
    jne     3f
    sub     %esi, %eax              /* EAX = highest leaf - base, need >= 2 */
    cmp     $2, %eax
    jae     found_xen
3:  add     $0x100, %esi
    cmp     $XEN_CPUID_LAST_BASE, %esi
    jbe     2b

    /* No Xen: report on port 0xe9 and stop. */
    mov     $no_xen_msg, %esi
    mov     $no_xen_msg_end - no_xen_msg, %ecx
    mov     $0xe9, %dx
    rep outsb
4:  hlt
    jmp     4b

found_xen:
    mov     %esi, xen_cpuid_base    /* arch/x86/setup.c */
    lea     2(%esi), %eax           /* leaf base+2: EBX = hypercall-page MSR */
    xor     %ecx, %ecx
    cpuid
    mov     %ebx, %ecx
    mov     $hypercall_page, %eax   /* guest-physical address, page aligned */
    xor     %edx, %edx
    wrmsr

    push    $1                      /* PVH */
    push    %edi                    /* struct hvm_start_info * (PA = VA) */
    call    start_kernel
    ud2
END(_pvh_start)

    .section .rodata
no_xen_msg:
    .ascii "xenkit-minios: no Xen CPUID leaves, halting\n"
no_xen_msg_end:

    /* Flat 4 GiB segments: null, ring-0 code (0x08), ring-0 data (0x10). */
    .p2align 3
gdt:
    .quad 0
    .quad 0x00cf9b000000ffff        /* base 0, limit 4 GiB, 32-bit, code r/x, accessed */
    .quad 0x00cf93000000ffff        /* base 0, limit 4 GiB, 32-bit, data r/w, accessed */
gdt_end:
    .word 0                         /* align the base of the descriptor */
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt

/*
 * The hypercall page: Xen fills it after the wrmsr above. Prefilled with
 * `ret` for the same check as in head-pv.S.
 */
    .section .text.page_aligned, "ax", @progbits
    .p2align PAGE_SHIFT
    .globl hypercall_page
    .type hypercall_page, @object
hypercall_page:
    .fill PAGE_SIZE, 1, 0xc3
    .size hypercall_page, PAGE_SIZE

    .section .bss.page_aligned, "aw", @nobits
    .p2align PAGE_SHIFT
    .globl boot_stack
boot_stack:
    .skip BOOT_STACK_SIZE
    .globl boot_stack_top
boot_stack_top:
