/*
 * The template's freestanding C library: the string and memory functions
 * (lib/string.c), formatted output (lib/printf.c), clock arithmetic
 * (lib/clock.c) and the few helpers every kernel wants (ARRAY_SIZE,
 * alignment; barriers live in arch.h).
 *
 * There is no libc and no libgcc: lib/div64.c provides the 64-bit
 * division helpers the compiler calls on i386.
 */
#ifndef MINIOS_LIB_H
#define MINIOS_LIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((a) - 1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define __noreturn __attribute__((noreturn))
#define __printf(f, a) __attribute__((format(printf, f, a)))
#define __aligned(n) __attribute__((aligned(n)))
#define __used __attribute__((used))

/* lib/string.c. The compiler may emit calls to memcpy, memset, memmove and
 * memcmp on its own (struct copies, zeroing), even with -ffreestanding. */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);

/*
 * lib/printf.c. Conversions: d i u o x X p s c %; flags - 0 + space #;
 * width and precision (digits or *); length hh h l ll z t j. C99
 * semantics: the return value is the length the full output has, even
 * when vsnprintf truncates; a non-zero `size` always gets a NUL.
 */

/** Where vformat sends its output: `n` bytes at `s` (not NUL-terminated). */
typedef void (*fmt_emit_t)(void *ctx, const char *s, size_t n);

/** Format into a sink; returns the number of bytes emitted. */
int vformat(fmt_emit_t emit, void *ctx, const char *fmt, va_list ap);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);

/* lib/clock.c */

/**
 * A TSC delta in nanoseconds as vcpu_time_info describes it:
 * ((delta << shift) * mul_frac) >> 32, a negative shift shifting right,
 * with the full 64 x 32-bit product (no overflow for any delta).
 */
uint64_t scale_delta(uint64_t delta, uint32_t mul_frac, int shift);

/** A UTC calendar time (proleptic Gregorian; month and day count from 1). */
struct utc_time {
    uint32_t year, month, day, hour, min, sec;
};

/** Split seconds since 1970-01-01T00:00:00Z into a UTC date and time. */
void unix_to_utc(uint64_t secs, struct utc_time *t);

#endif /* MINIOS_LIB_H */
