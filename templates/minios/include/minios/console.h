/*
 * The kernel console (kernel/console.c): console_io first, then the PV
 * console ring. See the top of kernel/console.c for the strategy.
 */
#ifndef MINIOS_CONSOLE_H
#define MINIOS_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>
#include <minios/lib.h>

/** Switch output to the PV console ring found by arch_setup(), if any. */
void console_init(void);

/** Write `n` bytes; '\n' becomes "\r\n" on the ring. */
void console_write(const char *s, size_t n);

/** Wait (bounded) until the backend has consumed everything written to the ring. */
void console_flush(void);

/** Which channel output takes now: "ring", "console_io" or "console_io (ring stalled)". */
const char *console_channel(void);

int vprintf(const char *fmt, va_list ap);
int printf(const char *fmt, ...) __printf(1, 2);

#endif /* MINIOS_CONSOLE_H */
