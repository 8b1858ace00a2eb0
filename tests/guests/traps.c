/*
 * traps (PV and PVH): the template's trap_set_handler() on both guest
 * types — PV through Xen's trap table and bounce frames, returning with
 * the iret hypercall; PVH through the IDT, returning with iret.
 *
 * Each exception is raised by a PROBE in the kernel's own ring and must
 * reach the handler with the right vector, error code and frame, then
 * resume after the instruction:
 *   divide by zero       #DE, error code 0, EIP at the div
 *   ud2                  #UD, EIP at the ud2
 *   int3                 #BP (a trap: EIP after the int3)
 *   mov 0x1234 to %ds    #GP(0x1234): no such descriptor
 * Then the handler for #BP is removed, and int3 takes the template's
 * default again: reported, and execution continues.
 */
#include "guest.h"

static void check_frame(const char *what, uint32_t vector, uint32_t error_code)
{
    const struct probe_fault *p = probe_last();
    uint32_t cs = xen_pvh ? PVH_KERNEL_CS : FLAT_KERNEL_CS;

    if (!p) {
        test_failure("%s: the handler saw nothing", what);
        return;
    }
    test_check(p->vector == vector && p->error_code == error_code,
               "%s: vector %u error code %#x, expected vector %u error code %#x", what, p->vector, p->error_code,
               vector, error_code);
    test_check(p->cs == cs, "%s: frame CS %#x, expected %#x", what, p->cs, cs);
}

void app_main(void)
{
    uint32_t a, at;
    bool faulted;

    probe_install();

    probe_reset();
    a = 1;
    faulted = PROBE("xor %%edx, %%edx\n\tdivl %%ecx", a, 0);
    test_check(faulted, "divide by zero did not fault");
    check_frame("divide by zero", 0, 0);

    probe_reset();
    a = 0;
    faulted = PROBE("movl $2f, %%eax\n2:\tud2", a, 0);
    test_check(faulted, "ud2 did not fault");
    check_frame("ud2", 6, 0);
    if (probe_last())
        test_check(probe_last()->eip == a, "ud2: frame EIP %#x, expected the ud2 at %#x", probe_last()->eip, a);

    probe_reset();
    faulted = PROBE("int3", a, 0);
    test_check(faulted, "int3 did not reach the handler");
    check_frame("int3", 3, 0);

    probe_reset();
    a = 0x1234;
    faulted = PROBE("mov %%eax, %%ds", a, 0);
    test_check(faulted, "loading selector 0x1234 into DS did not fault");
    check_frame("mov 0x1234 to %ds", 13, 0x1234);

    /* The default #BP action again: report and continue. */
    trap_set_handler(3, NULL);
    at = 0;
    __asm__ __volatile__("int3\n\tmovl $1, %0" : "=r"(at));
    test_check(at == 1, "execution did not continue after the default #BP report");

    printf("traps: %s kernel, handlers on %s\n", xen_pvh ? "PVH" : "PV", xen_pvh ? "the IDT" : "Xen's trap table");
    test_report();
}
