/*
 * The application: the code a kernel built from this template exists to
 * run. start_kernel (kernel/main.c) calls app_main() once boot is done —
 * exception handlers installed, shared_info mapped, printf on the PV
 * console ring, boot_info filled in (include/minios/setup.h), event
 * channels, the timer, the grant table and the xenstore client ready,
 * events enabled — and powers the domain off when it returns. The demo in app/demo.c is the default;
 * `make APP=path/to/yours.c` builds another one.
 *
 * A test kernel in XTF's style is an app_main() that checks something and
 * reports with include/minios/test.h:
 *
 *     #include <minios/app.h>
 *     #include <minios/test.h>
 *
 *     void app_main(void)
 *     {
 *         if (1 + 1 != 2)
 *             test_failure("arithmetic is broken");
 *         test_report();          // "Test result: SUCCESS"
 *     }
 */
#ifndef MINIOS_APP_H
#define MINIOS_APP_H

/** The application's entry, in ring 1 (PV) or ring 0 (PVH), events enabled. */
void app_main(void);

#endif /* MINIOS_APP_H */
