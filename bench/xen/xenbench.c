/*
 * The Xen-layer benchmark guest (a template application: `make -C
 * templates/minios APP=<this file>`). The command line picks the loop and
 * its length:
 *
 *   evtchn  N console round trips: one byte into the console ring and
 *           EVTCHNOP_send; the console backend consumes it and notifies
 *           back; the guest sleeps (block_domain) until that upcall.
 *   xs      N xenstore WRITE + READ pairs on data/bench.
 *   short   100 iterations instead of 20000 (the runner times both and
 *           divides the difference, so boot and power-off cancel out).
 *
 * It prints "xenbench: done" and returns (the kernel powers off).
 */
#include <minios/app.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/setup.h>
#include <minios/xenbus.h>

void app_main(void)
{
    unsigned long n = cmdline_has("short") ? 100 : 20000;

    if (cmdline_has("evtchn")) {
        for (unsigned long i = 0; i < n; i++) {
            unsigned long flags = local_irq_save();
            unsigned long seen = event_upcall_count();
            console_write(".", 1);
            while (event_upcall_count() == seen)
                block_domain(0);
            local_irq_restore(flags);
        }
    }
    if (cmdline_has("xs")) {
        char buf[16];
        for (unsigned long i = 0; i < n; i++) {
            if (xenbus_write(XBT_NIL, "data/bench", "1") < 0 ||
                xenbus_read(XBT_NIL, "data/bench", buf, sizeof(buf)) < 0) {
                printf("xenbench: xenstore failed at %lu\n", i);
                return;
            }
        }
    }
    printf("\nxenbench: done\n");
}
