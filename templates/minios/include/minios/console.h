/*
 * The kernel console (kernel/console.c): output through console_io first,
 * then the PV console ring; input from the ring. See the top of
 * kernel/console.c for the strategy.
 */
#ifndef MINIOS_CONSOLE_H
#define MINIOS_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <minios/lib.h>

/** Switch output to the PV console ring found by arch_setup(), if any. */
void console_init(void);

/** Write `n` bytes; '\n' becomes "\r\n" on the ring. */
void console_write(const char *s, size_t n);

/** Wait (bounded) until the backend has consumed everything written to the ring. */
void console_flush(void);

/** Which channel output takes now: "ring", "console_io" or "console_io (ring stalled)". */
const char *console_channel(void);

/**
 * Start taking console input: bind a handler to the console event
 * channel, so that the backend's notifications wake console_getc().
 * Called once by start_kernel, after events_init().
 */
void console_input_init(void);

/** The byte that ends input at the start of a line: Ctrl-D, a terminal's end of file. */
#define CONSOLE_EOF_CHAR 0x04

/**
 * The next input byte (0-255), waiting for one until system time
 * `deadline_ns` (0: no deadline): -XEN_ETIMEDOUT then, -XEN_ENODEV when
 * there is no console ring. Events are handled while it waits.
 */
int console_getc(uint64_t deadline_ns);

/**
 * Read one line into `buf` (NUL-terminated, without the line end; a line
 * longer than `size` - 1 is cut). Enter ("\r", "\n" or "\r\n") ends it;
 * DEL and backspace rub out; other control characters are ignored; with
 * `echo` what is typed is printed back. Returns the line's length,
 * -XEN_ENODATA for Ctrl-D at the start of a line (end of input), or
 * console_getc()'s error (-XEN_ETIMEDOUT once `deadline_ns` passes; the
 * partial line stays in `buf`).
 */
long console_readline(char *buf, size_t size, uint64_t deadline_ns, bool echo);

int vprintf(const char *fmt, va_list ap);
int printf(const char *fmt, ...) __printf(1, 2);

#endif /* MINIOS_CONSOLE_H */
