/*
 * Ending the domain: SCHEDOP_shutdown with a reason (Xen ABI reference
 * §3.2). The toolstack (or xenkit) sees the reason: poweroff for a
 * normal end, crash for a panic or a fatal exception.
 */
#include <minios/panic.h>
#include <minios/console.h>
#include <minios/hypercall.h>

void shutdown(unsigned int reason)
{
    long rc;

    /* The backend must read the last lines before the domain goes away. */
    console_flush();
    rc = sched_shutdown(reason);
    /* Only reached if Xen refused. Try the strongest reason, then spin. */
    printf("shutdown(%u) failed: %ld\n", reason, rc);
    console_flush();
    if (reason != SHUTDOWN_crash)
        sched_shutdown(SHUTDOWN_crash);
    for (;;)
        sched_yield();
}

void panic(const char *fmt, ...)
{
    va_list ap;

    printf("PANIC: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    shutdown(SHUTDOWN_crash);
}
