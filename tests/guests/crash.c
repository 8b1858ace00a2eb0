/*
 * crash (PV): ways for a guest to end badly, one per command-line word.
 * Each announces "crash: <word>" first, so the test knows the guest got
 * that far, and must not come back. The announcement goes straight to
 * console_io: a domain Xen crashes never flushes its console ring, so
 * text still in the ring is only seen if a backend read it in time.
 *
 *  int3      set_trap_table(NULL) clears every handler, then int3: Xen
 *            has nowhere to bounce the breakpoint and crashes the domain.
 *  ud2       the same with #UD.
 *  pf        the same with a page fault (a read where no L1 table is).
 *  badstack  handlers installed, but ESP points at the unmapped page 0
 *            when ud2 executes: writing the bounce frame faults, and Xen
 *            crashes the domain.
 *  panic     the template's panic(): "PANIC: ..." and SHUTDOWN_crash.
 *  failsafe  an iret hypercall to a code selector that does not exist
 *            (GDT entry 1, ring 1, with no guest GDT): Xen cannot load it
 *            and enters the failsafe callback, where the template
 *            (kernel/events.c) reports the frame and shuts down with
 *            SHUTDOWN_crash.
 *
 * Without any of these words the guest says so and reports an ERROR.
 */
#include "guest.h"
#include <minios/panic.h>

static void announce(const char *word)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "crash: %s\n", word);

    console_io_write(line, (unsigned int)n);
}

static void no_handlers(void)
{
    long rc = hypercall_set_trap_table(NULL);

    if (rc)
        printf("crash: set_trap_table(NULL) failed: %ld\n", rc);
}

void app_main(void)
{
    if (cmdline_has("int3")) {
        no_handlers();
        announce("int3");
        __asm__ __volatile__("int3");
    } else if (cmdline_has("ud2")) {
        no_handlers();
        announce("ud2");
        __asm__ __volatile__("ud2");
    } else if (cmdline_has("pf")) {
        no_handlers();
        announce("pf");
        (void)*(volatile uint32_t *)0x40000000;
    } else if (cmdline_has("badstack")) {
        announce("badstack");
        __asm__ __volatile__("mov $0x800, %%esp\n\tud2" ::: "memory");
    } else if (cmdline_has("panic")) {
        announce("panic");
        panic("the crash guest panics on purpose");
    } else if (cmdline_has("failsafe")) {
        announce("failsafe");
        __asm__ __volatile__("pushl $0x202\n\t"          /* EFLAGS: events enabled */
                             "pushl $0x0009\n\t"         /* CS: GDT entry 1, RPL 1 */
                             "pushl $0x12345678\n\t"     /* EIP */
                             "xor %%eax, %%eax\n\t"
                             "jmp hypercall_page + " HYPERCALL_STR(__HYPERVISOR_iret) " * 32"
                             ::: "memory");
    } else {
        test_error("no crash kind on the command line (\"%s\")", boot_info.cmdline);
        test_report();
        return;
    }
    test_failure("the guest survived: execution came back after the crash");
    test_report();
}
