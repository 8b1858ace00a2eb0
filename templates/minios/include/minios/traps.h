/*
 * Exceptions: the register frame arch/x86/entry.S hands to C, and the
 * trap layer of kernel/traps.c (PV trap table or PVH IDT).
 */
#ifndef MINIOS_TRAPS_H
#define MINIOS_TRAPS_H

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

/* Number of exception vectors with entry stubs (trap_stubs in entry.S). */
#define NR_TRAP_STUBS 32

/** Install the exception handlers (PV: set_trap_table; PVH: an IDT). */
void traps_init(void);

/** Called by arch/x86/entry.S; returns only for handled traps (#BP). */
void do_trap(struct trap_frame *f);

/** PVH: point IDT vector `vec` at `handler` (for events.c's callback vector later). */
void idt_set_gate(unsigned int vec, void (*handler)(void), unsigned int dpl);

#endif /* MINIOS_TRAPS_H */
