/*
 * Exception entry stubs, shared by the PV and the PVH kernel.
 *
 * Both deliver an exception taken in the kernel's own ring with the same
 * frame, lowest address first: [error code,] EIP, CS, EFLAGS — pushed by
 * the CPU through the IDT (PVH), or by Xen as a "bounce frame" (PV, Xen
 * ABI reference §4), where CS carries the saved event mask in bits 16-23.
 * From an outer ring ESP and SS follow. The stubs push a 0 where the CPU
 * pushes no error code and the vector number, so C sees one layout,
 * struct trap_frame (include/minios/traps.h), after PUSHAL.
 *
 * Return (when do_trap comes back): PV through the iret hypercall — jump,
 * not call, to slot 23, which pushes EAX and enters Xen; Xen pops EAX,
 * EIP, CS, EFLAGS (and ESP, SS for an outer ring) and restores the event
 * mask from EFLAGS.IF. PVH with a native IRET.
 */
#include <xen/xen.h>
#include <minios/asm.h>

/* Vectors for which the CPU (or Xen) pushes an error code. */
.macro trap_stub vec
ENTRY(trap_\vec)
    .if (\vec == 8) || (\vec == 10) || (\vec == 11) || (\vec == 12) || (\vec == 13) || (\vec == 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    .else
    push    $0
    .endif
    push    $\vec
    jmp     trap_common
END(trap_\vec)
.endm

    .text
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    trap_stub \v
    .endr

ENTRY(trap_common)
    pushal
    cld
    push    %esp                    /* struct trap_frame * */
    call    do_trap                 /* kernel/traps.c: returns only if handled */
    add     $4, %esp
    popal
    add     $8, %esp                /* drop vector and error code */
    cmpb    $0, xen_pvh             /* arch/x86/setup.c */
    jne     1f
    jmp     hypercall_page + __HYPERVISOR_iret * 32
1:  iret
END(trap_common)

/* trap_stubs[v]: the entry stub of vector v, for the trap table / IDT. */
    .section .rodata
    .p2align 2
    .globl trap_stubs
trap_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .long trap_\v
    .endr
