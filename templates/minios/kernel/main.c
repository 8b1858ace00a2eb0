/*
 * start_kernel: the C entry of both kernels (PV and PVH), called by
 * arch/x86/head-pv.S or head-pvh.S on the kernel's own stack with events
 * masked (PV) or interrupts off (PVH).
 *
 * Boot order: traps (so that mistakes are reported), the boot information
 * (shared_info, console and xenstore rings), the console ring; then a
 * one-line banner; then the subsystems, one file each, with events still
 * disabled: events.c (event channels and the upcall), time.c (the clock,
 * VIRQ_TIMER), gnttab.c (grant tables), xenbus.c (xenstore), console
 * input. Then events are enabled, the application's app_main() runs
 * (app/demo.c unless the Makefile was given another APP), and
 * SCHEDOP_shutdown(SHUTDOWN_poweroff) follows when it returns.
 *
 * New subsystems that need set-up get their init call at the end of that
 * list: they may use everything before them, but must not wait for an
 * event there. The device frontends (blkfront.c, netfront.c) need none:
 * they connect when the application opens a device (blk_open, net_open),
 * so a kernel with no devices never waits for a backend.
 */
#include <minios/app.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/panic.h>
#include <minios/setup.h>
#include <minios/time.h>
#include <minios/traps.h>
#include <minios/xenbus.h>

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

    events_init();
    time_init();
    gnttab_init();
    xenbus_init();
    console_input_init();
    local_irq_enable();

    app_main();

    printf("xenkit-minios: done, powering off\n");
    shutdown(SHUTDOWN_poweroff);
}
