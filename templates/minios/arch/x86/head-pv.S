/*
 * Entry of the 32-bit PAE PV kernel (build/kernel.elf), with the Xen ELF
 * notes the domain builder reads (Xen ABI reference §1.1) and the
 * hypercall page it fills (§1.6).
 *
 * Entry state (§1.3): flat paged protected mode in ring 1, CS = 0xe019,
 * DS = ES = FS = GS = SS = 0xe021, ESI = virtual address of start_info,
 * ESP = the builder's boot stack (one page after the page tables), events
 * masked, EFLAGS.IF = 1. Linked at VA 0x100000 with VIRT_BASE 0 and
 * PADDR_OFFSET 0, so kernel VA = guest PFN * 4096 in the boot region.
 *
 * The entry code moves to the kernel's own stack and calls
 * start_kernel(start_info, 0) in kernel/main.c; it never returns.
 */
#include <xen/xen.h>
#include <xen/elfnote.h>
#include <minios/asm.h>
#include <minios/arch.h>

#define BOOT_STACK_SIZE (4 * PAGE_SIZE)

    .section .note.Xen, "a", @note
    xen_elfnote_str XEN_ELFNOTE_GUEST_OS,       "xenkit-minios"
    xen_elfnote_str XEN_ELFNOTE_GUEST_VERSION,  "0.1"
    xen_elfnote_str XEN_ELFNOTE_XEN_VERSION,    "xen-3.0"
    xen_elfnote_str XEN_ELFNOTE_LOADER,         "generic"
    xen_elfnote_str XEN_ELFNOTE_PAE_MODE,       "yes"
    xen_elfnote_int XEN_ELFNOTE_VIRT_BASE,      0
    xen_elfnote_int XEN_ELFNOTE_PADDR_OFFSET,   0
    xen_elfnote_int XEN_ELFNOTE_ENTRY,          _start
    xen_elfnote_int XEN_ELFNOTE_HYPERCALL_PAGE, hypercall_page
    /* We need no writable page tables (we use update_va_mapping) and can
     * live with a page directory above 4 GiB ("!" marks a required one). */
    xen_elfnote_str XEN_ELFNOTE_FEATURES,       "!writable_page_tables|pae_pgdir_above_4gb"

    .section .text.head, "ax", @progbits
ENTRY(_start)
    cld
    /* Keep ESI (start_info) untouched until it is passed on. */
    mov     $boot_stack_top, %esp
    xor     %ebp, %ebp              /* end of the frame chain for debuggers */
    push    $0                      /* not PVH */
    push    %esi                    /* start_info_t * */
    call    start_kernel
    ud2                             /* start_kernel never returns */
END(_start)

/*
 * The hypercall page. Xen's builder overwrites it with 128 stubs; filled
 * with `ret` here, so start_kernel can tell an unfilled page (byte 0 still
 * 0xc3) from a filled one (0xb8, mov $0,%eax) and stop instead of
 * "calling" hypercalls that do nothing.
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
