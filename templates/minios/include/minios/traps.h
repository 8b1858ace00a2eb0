/*
 * Exceptions: the register frame arch/x86/entry.S hands to C, and the
 * trap layer of kernel/traps.c (PV trap table or PVH IDT).
 */
#ifndef MINIOS_TRAPS_H
#define MINIOS_TRAPS_H

/* Number of exception vectors with entry stubs (trap_stubs in entry.S). */
#define NR_TRAP_STUBS 32

/* The vector of exec_user()'s way back from ring 3 (see below). */
#define TRAP_RET2KERN 0x20

#ifndef __ASSEMBLER__

#include <stdbool.h>
#include <stdint.h>

/*
 * The stack at do_trap(), lowest address first: PUSHAL's registers, the
 * stub's vector and error code (0 when the CPU pushes none), then the
 * frame the CPU or Xen pushed. `esp` and `ss` exist only when the trap
 * came from an outer ring; otherwise the interrupted ESP is &frame->esp.
 */
struct trap_frame {
    uint32_t edi, esi, ebp, esp_pushal, ebx, edx, ecx, eax; /* PUSHAL */
    uint32_t vector;
    uint32_t error_code;
    uint32_t eip;
    uint32_t cs;        /* PV: bits 16-23 = the event mask saved by Xen */
    uint32_t eflags;
    uint32_t esp, ss;   /* outer ring only */
};

/** Install the exception handlers (PV: set_trap_table; PVH: an IDT). */
void traps_init(void);

/** Called by arch/x86/entry.S; returns only for handled traps. */
void do_trap(struct trap_frame *f);

/**
 * A C handler for one exception vector, which do_trap() runs before its
 * default action. Return true when the trap is dealt with: execution
 * resumes with the frame as the handler left it — fix the cause and the
 * faulting instruction runs again, or move f->eip past it. Return false
 * for the default: #BP is reported and continues, anything else prints
 * the fault report and shuts the domain down with SHUTDOWN_crash.
 */
typedef bool (*trap_handler_t)(struct trap_frame *f);

/** Install `h` for vector `vec` (below NR_TRAP_STUBS); NULL restores the default. Returns the previous one. */
trap_handler_t trap_set_handler(unsigned int vec, trap_handler_t h);

/**
 * The address of the last page fault: PV vcpu_info.arch.cr2 (Xen writes
 * it before delivering #PF), PVH CR2. Read it early in a #PF handler, as a
 * nested fault overwrites it.
 */
unsigned long fault_address(void);

/*
 * Ring 3 (PV kernels only for now). exec_user(fn) calls fn in ring 3 —
 * CS = FLAT_USER_CS, DS = ES = FS = GS = SS = FLAT_USER_DS, on a
 * one-page user stack, events masked — and returns fn's result in the
 * kernel's ring, with events enabled or disabled as they were at the
 * call. The way in is the iret hypercall; the way back is
 * `int $TRAP_RET2KERN` (0x20), whose trap-table entry has DPL 3 (the XTF
 * scheme). Exceptions in ring 3 go to the handlers above with an
 * outer-ring frame (f->cs & 3 == 3, f->esp and f->ss valid), on the
 * kernel stack below exec_user's frame.
 *
 * Ring 3 can only reach user pages: fn and all it calls must be marked
 * __user_text (exec_user maps that section and its stack _PAGE_USER on
 * first use), and data it touches must be made user-accessible with
 * set_page_flags() (include/minios/mm.h). Hypercalls from ring 3 raise
 * #GP, as on Xen.
 */

/** Put a function in the user-accessible text (.text.user) that exec_user() runs. */
#define __user_text __attribute__((section(".text.user"), noinline))

/** Call fn in ring 3 and return its result (PV; panics in a PVH kernel). */
unsigned long exec_user(unsigned long (*fn)(void));

/** PVH: point IDT vector `vec` at `handler` (kernel/events.c uses it for the callback vector). */
void idt_set_gate(unsigned int vec, void (*handler)(void), unsigned int dpl);

#endif /* !__ASSEMBLER__ */

#endif /* MINIOS_TRAPS_H */
