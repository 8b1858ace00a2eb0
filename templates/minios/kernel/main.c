/*
 * start_kernel: the C entry of both kernels (PV and PVH), called by
 * arch/x86/head-pv.S or head-pvh.S on the kernel's own stack with events
 * masked (PV) or interrupts off (PVH).
 *
 * Boot order: traps (so that mistakes are reported), the boot information
 * (shared_info, console and xenstore rings), the console ring; then a
 * one-line banner, the application's app_main() (app/demo.c unless the
 * Makefile was given another APP), and SCHEDOP_shutdown(SHUTDOWN_poweroff)
 * when it returns.
 *
 * Subsystems of later layers plug in after console_init(), one file each:
 * events.c (event channels and the upcall), time.c (vcpu_time_info,
 * timers), gnttab.c (grant tables), xenbus.c (xenstore), console input on
 * the ring, then the frontends blkfront.c and netfront.c.
 */
#include <minios/app.h>
#include <minios/console.h>
#include <minios/hypercall.h>
#include <minios/panic.h>
#include <minios/setup.h>
#include <minios/traps.h>

#define MINIOS_VERSION "0.1"

void start_kernel(void *info, int pvh)
{
    xen_pvh = pvh != 0;

    /*
     * The builder (PV) or the wrmsr in head-pvh.S (PVH) must have filled
     * the hypercall page: byte 0 is then 0xb8 (mov $0,%eax), not our 0xc3
     * (ret). Without hypercalls nothing can be printed; ud2 with no trap
     * handler makes Xen crash the domain, which the toolstack reports.
     */
    if ((unsigned char)hypercall_page[0] == 0xc3)
        __builtin_trap();

    traps_init();
    arch_setup(info);
    console_init();

    printf("\nxenkit-minios %s: %s kernel, console on %s\n", MINIOS_VERSION,
           xen_pvh ? "PVH32" : "PV32 (PAE)", console_channel());

    app_main();

    printf("xenkit-minios: done, powering off\n");
    shutdown(SHUTDOWN_poweroff);
}
