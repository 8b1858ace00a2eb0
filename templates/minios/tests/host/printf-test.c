/*
 * Host unit test of lib/printf.c: the guest's snprintf/vsnprintf, built
 * natively with its symbols renamed guest_* (see the Makefile), against
 * the host C library's snprintf, byte for byte and return value for
 * return value.
 *
 * Cases: every integer conversion (d i u o x X) crossed with flag sets,
 * widths, precisions, length modifiers and edge values; strings, chars,
 * pointers, %%, * width/precision, mixed formats; truncation by small
 * buffers. Only combinations C defines are compared (no '#' with d/u, no
 * '+'/' ' with unsigned conversions). Prints one line per failure and a
 * summary; exits non-zero on any failure.
 */
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

int guest_snprintf(char *buf, size_t size, const char *fmt, ...);
int guest_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

static unsigned long cases, failures;

static void check(const char *fmt, const char *want, int want_n, const char *got, int got_n)
{
    cases++;
    if (want_n == got_n && strcmp(want, got) == 0)
        return;
    failures++;
    if (failures <= 40)
        printf("FAIL: format \"%s\": want \"%s\" (%d), got \"%s\" (%d)\n", fmt, want, want_n, got, got_n);
}

/* Format with both implementations (same arguments) into 256-byte buffers and compare. */
#define BOTH(fmt, ...)                                                        \
    do {                                                                      \
        char want_[256], got_[256];                                           \
        int wn_ = snprintf(want_, sizeof(want_), fmt, __VA_ARGS__);           \
        int gn_ = guest_snprintf(got_, sizeof(got_), fmt, __VA_ARGS__);       \
        check(fmt, want_, wn_, got_, gn_);                                    \
    } while (0)

/* Format with the guest's snprintf only and compare with a fixed string. */
#define EXPECT(want, fmt, ...)                                                \
    do {                                                                      \
        char got_[256];                                                       \
        int gn_ = guest_snprintf(got_, sizeof(got_), fmt, __VA_ARGS__);       \
        check(fmt, want, (int)strlen(want), got_, gn_);                       \
    } while (0)

static const char *const int_flags[] = { "", "-", "0", "+", " ", "#", "-0", "+0", "- ", "#0", "-#", "+ ", "0 " };
static const char *const widths[] = { "", "1", "3", "8", "21" };
static const char *const precisions[] = { "", ".", ".0", ".1", ".3", ".12", ".25" };

static const long long values[] = {
    0, 1, -1, 7, 9, 10, 42, -42, 99, 100, 127, 128, 255, 256, -128, -129, 1000, 4095, 4096,
    32767, -32768, 65535, 65536, 1000000, 123456789, INT_MAX, INT_MIN, (long long)UINT_MAX,
    (long long)UINT_MAX + 1, 9999999999LL, -9999999999LL, 0x123456789abcdefLL,
    1000000000000000000LL, LLONG_MAX, LLONG_MIN, LLONG_MIN + 1,
};

static int flag_ok(char conv, const char *flags)
{
    int is_signed = conv == 'd' || conv == 'i';

    if (!is_signed && (strchr(flags, '+') || strchr(flags, ' ')))
        return 0;           /* undefined for unsigned conversions */
    if (strchr(flags, '#') && !(conv == 'o' || conv == 'x' || conv == 'X'))
        return 0;           /* undefined for d, i, u */
    return 1;
}

static void integer_cases(void)
{
    static const char convs[] = "diuoxX";
    static const char *const lengths[] = { "hh", "h", "", "l", "ll", "z", "j", "t" };

    for (const char *c = convs; *c; c++)
        for (size_t f = 0; f < sizeof(int_flags) / sizeof(int_flags[0]); f++) {
            if (!flag_ok(*c, int_flags[f]))
                continue;
            for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++)
                for (size_t p = 0; p < sizeof(precisions) / sizeof(precisions[0]); p++)
                    for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); l++)
                        for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
                            char fmt[32];
                            long long x = values[v];
                            const char *len = lengths[l];

                            snprintf(fmt, sizeof(fmt), "[%%%s%s%s%s%c]", int_flags[f], widths[w], precisions[p],
                                     len, *c);
                            /* Pass exactly the type the length modifier names. */
                            if (!strcmp(len, "ll"))
                                BOTH(fmt, x);
                            else if (!strcmp(len, "l"))
                                BOTH(fmt, (long)x);
                            else if (!strcmp(len, "z"))
                                BOTH(fmt, (size_t)x);
                            else if (!strcmp(len, "j"))
                                BOTH(fmt, (intmax_t)x);
                            else if (!strcmp(len, "t"))
                                BOTH(fmt, (ptrdiff_t)x);
                            else
                                BOTH(fmt, (int)x);   /* hh, h and int all take an int */
                        }
        }
}

static void string_cases(void)
{
    static const char *const strs[] = { "", "a", "hello", "hello, world", "0123456789abcdef" };
    static const char *const sflags[] = { "", "-" };
    static const char *const swidths[] = { "", "0", "1", "5", "20" };
    static const char *const sprecs[] = { "", ".", ".0", ".1", ".4", ".30" };

    for (size_t s = 0; s < sizeof(strs) / sizeof(strs[0]); s++)
        for (size_t f = 0; f < 2; f++)
            for (size_t w = 0; w < sizeof(swidths) / sizeof(swidths[0]); w++)
                for (size_t p = 0; p < sizeof(sprecs) / sizeof(sprecs[0]); p++) {
                    char fmt[32];

                    snprintf(fmt, sizeof(fmt), "<%%%s%s%ss>", sflags[f], swidths[w], sprecs[p]);
                    BOTH(fmt, strs[s]);
                }
    for (size_t f = 0; f < 2; f++)
        for (size_t w = 0; w < sizeof(swidths) / sizeof(swidths[0]); w++) {
            char fmt[32];

            snprintf(fmt, sizeof(fmt), "<%%%s%sc>", sflags[f], swidths[w]);
            BOTH(fmt, 'x');
            BOTH(fmt, '%');
            snprintf(fmt, sizeof(fmt), "<%%%s%sp>", sflags[f], swidths[w]);
            BOTH(fmt, (void *)0x1234);
            BOTH(fmt, (void *)(uintptr_t)0xdeadbeef);
            BOTH(fmt, (void *)0);
        }
    /* NULL strings print as "(null)", like glibc (compared with a fixed
     * expectation: passing NULL to the host's %s is undefined). */
    EXPECT("(null)", "%s", (char *)NULL);
    EXPECT("    (null)|(null)  |(nu|", "%10s|%-8s|%.3s|", (char *)NULL, (char *)NULL, (char *)NULL);
}

static void mixed_cases(void)
{
    BOTH("%s", "plain text, no conversions");
    BOTH("100%% sure%c", '!');
    BOTH("a=%d b=%s c=%08x d=%-5u| e=%#o f=%lld", -12, "str", 0xbeef, 7u, 8, -5000000000LL);
    BOTH("%*d|%-*d|%*d", 6, 42, 6, 42, -6, 42);
    BOTH("%.*d|%.*s|%.*d", 5, 42, 3, "abcdef", -1, 42);
    BOTH("%*.*s|", 10, 2, "xyz");
    BOTH("eip %08x cs %04x eflags %08x", 0x1000u, 0xe019u, 0x202u);
    BOTH("%llu %lld %llx %llX %llo", ULLONG_MAX, LLONG_MIN, ULLONG_MAX, 0xABCDEF0123ULL, ULLONG_MAX);
    BOTH("%hhd %hhu %hd %hu", 300, 300, 70000, 70000);
    BOTH("%zu %zd %zx", (size_t)12345, (ssize_t)-3, (size_t)0xfff);
    BOTH("%c%c%c", 'a', 0x100 + 'b', 'c');
    BOTH("%-+8d|%+-8d|%0+8d|% 08d", 5, 5, 5, 5);
    BOTH("%#x %#X %#o %#.3o %#.0o %#.0x", 0u, 0x1fu, 0u, 8u, 0u, 0u);
}

/* vsnprintf through a va_list, for the truncation cases. */
static int guest_fmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = guest_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

static void truncation_cases(void)
{
    static const size_t sizes[] = { 0, 1, 2, 5, 11, 12, 13, 40 };

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char want[64], got[64];
        size_t size = sizes[i];
        int wn, gn;

        memset(want, '#', sizeof(want));
        memset(got, '#', sizeof(got));
        wn = snprintf(want, size, "hello %s %05d", "world", 42);
        gn = guest_fmt(got, size, "hello %s %05d", "world", 42);
        cases++;
        /* Same return value, same bytes written — and nothing beyond `size`. */
        if (wn != gn || memcmp(want, got, sizeof(want)) != 0) {
            failures++;
            printf("FAIL: truncation to %zu bytes: want %d \"%.*s\", got %d \"%.*s\"\n", size, wn, (int)size, want,
                   gn, (int)size, got);
        }
    }
}

int main(void)
{
    integer_cases();
    string_cases();
    mixed_cases();
    truncation_cases();
    printf("printf: %lu cases, %lu failures\n", cases, failures);
    return failures ? 1 : 0;
}
