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
 *
 * The event upcall and the PV failsafe callback follow the exception
 * stubs below.
 *
 * Ring 3 (PV, exec_user() in kernel/traps.c), the XTF scheme: the kernel
 * builds an iret frame to exec_user_stub in ring 3 and jumps to the iret
 * hypercall; the stub calls the function and executes
 * `int $TRAP_RET2KERN`, whose trap-table entry (DPL 3) is
 * exec_user_return: it restores the kernel stack pointer kept in EBP
 * (callee-saved, so the function preserved it) and returns from
 * arch_exec_user with the function's result in EAX.
 */
#include <xen/xen.h>
#include <minios/asm.h>
#include <minios/traps.h>
#include <minios/events.h>

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

/*
 * The event upcall (kernel/events.c). PV: Xen bounces here (the event
 * callback of callback_op) with the upcall mask set and an exception-
 * like frame without error code: EIP, CS | saved mask << 16, EFLAGS
 * (IF = the inverse of the saved mask) [, ESP, SS from ring 3]. PVH: the
 * CPU enters through the IDT gate of EVTCHN_UPCALL_VECTOR (an interrupt
 * gate: IF = 0) with EIP, CS, EFLAGS. The stub builds a struct trap_frame
 * (vector EVTCHN_UPCALL_VECTOR, error code 0) for do_hypervisor_callback.
 *
 * The way out is what keeps events from being lost between the C
 * dispatcher's last look at evtchn_upcall_pending and the return (see the
 * top of kernel/events.c): PV returns through the iret hypercall, which
 * restores the upcall mask from the frame's EFLAGS.IF inside Xen — Xen
 * then delivers anything pending before the guest runs again — and PVH
 * with iret, after which Xen re-injects the vector while
 * evtchn_upcall_pending is set. No critical-region fix-up is needed.
 */
ENTRY(hypervisor_callback)
    push    $0                      /* error code */
    push    $EVTCHN_UPCALL_VECTOR
    pushal
    cld
    push    %esp                    /* struct trap_frame * */
    call    do_hypervisor_callback
    add     $4, %esp
    popal
    add     $8, %esp
    cmpb    $0, xen_pvh
    jne     1f
    jmp     hypercall_page + __HYPERVISOR_iret * 32
1:  iret
END(hypervisor_callback)

/*
 * PV failsafe callback: Xen could not load the guest's segment registers
 * while returning to it, and bounced here instead, with events masked
 * (CALLBACKF_mask_events) and the frame DS, ES, FS, GS, EIP, CS, EFLAGS
 * [, ESP, SS]. The selectors that failed are null now: reload the flat
 * kernel data selectors before touching memory through DS or ES, then let
 * do_failsafe report and crash the domain.
 */
ENTRY(failsafe_callback)
    push    %eax
    mov     $FLAT_KERNEL_DS, %eax
    mov     %eax, %ds
    mov     %eax, %es
    pop     %eax
    pushal
    cld
    push    %esp                    /* struct failsafe_frame * */
    call    do_failsafe             /* does not return */
    ud2
END(failsafe_callback)

/* trap_stubs[v]: the entry stub of vector v, for the trap table / IDT. */
    .section .rodata
    .p2align 2
    .globl trap_stubs
trap_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .long trap_\v
    .endr

/*
 * unsigned long arch_exec_user(unsigned long (*fn)(void), void *stack_top)
 * PV only: call fn in ring 3 on stack_top; return its result.
 */
    .text
ENTRY(arch_exec_user)
    push    %ebp
    push    %ebx
    push    %esi
    push    %edi
    push    $1f                     /* exec_user_return "returns" there */
    mov     %esp, %ebp              /* 24(%ebp) = fn, 28(%ebp) = stack_top */

    /* Traps from ring 3 build their frames below this point. */
    mov     $FLAT_KERNEL_SS, %ebx
    mov     %esp, %ecx
    call    hypercall_page + __HYPERVISOR_stack_switch * 32

    /* Ring-1 data selectors would be nulled by the return to ring 3. */
    mov     $FLAT_USER_DS, %eax
    mov     %eax, %ds
    mov     %eax, %es
    mov     %eax, %fs
    mov     %eax, %gs

    /* The iret frame: EIP, CS, EFLAGS, ESP, SS (the stub pushes EAX). */
    push    $FLAT_USER_SS
    push    28(%ebp)
    pushf
    andl    $~0x200, (%esp)         /* IF = 0: events stay masked in ring 3 */
    push    $FLAT_USER_CS
    push    $exec_user_stub
    mov     24(%ebp), %eax          /* fn: the iret hypercall restores EAX */
    jmp     hypercall_page + __HYPERVISOR_iret * 32

1:  mov     $FLAT_KERNEL_DS, %ecx   /* back in the kernel's ring; EAX = result */
    mov     %ecx, %ds
    mov     %ecx, %es
    mov     %ecx, %fs
    mov     %ecx, %gs
    pop     %edi
    pop     %esi
    pop     %ebx
    pop     %ebp
    ret
END(arch_exec_user)

/* Trap-table entry of TRAP_RET2KERN (kernel ring, frame from ring 3 on the stack). */
ENTRY(exec_user_return)
    mov     %ebp, %esp
    ret
END(exec_user_return)

/* Ring 3, EAX = the function to call. */
    .section .text.user, "ax", @progbits
ENTRY(exec_user_stub)
    call    *%eax
    int     $TRAP_RET2KERN
    ud2                             /* not reached */
END(exec_user_stub)
