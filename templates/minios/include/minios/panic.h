/*
 * Ending the domain (kernel/panic.c).
 */
#ifndef MINIOS_PANIC_H
#define MINIOS_PANIC_H

#include <minios/lib.h>

/** Flush the console and stop the domain with SHUTDOWN_* `reason`. */
void shutdown(unsigned int reason) __noreturn;

/** Print "PANIC: <message>" and shut down with SHUTDOWN_crash. */
void panic(const char *fmt, ...) __printf(1, 2) __noreturn;

#endif /* MINIOS_PANIC_H */
