/*
 * console: console input on the PV console ring (kernel/console.c)
 * against the VMM's console backend. tests/e2e/console.test.ts queues
 * INPUT (below) before boot and, once the guest says it waits, "late\n".
 *
 *  1. console_readline() splits the input into lines at "\n", "\r" and
 *     "\r\n" (one line end, not two), rubs out with DEL, drops other
 *     control characters, and cuts a line longer than the buffer.
 *  2. A line longer than in[] (1024 bytes) arrives whole: the backend
 *     refills the ring as the guest consumes it.
 *  3. Ctrl-D at the start of a line is the end of input (-ENODATA); input
 *     after it is still read.
 *  4. With nothing left, console_getc() times out at its deadline.
 *  5. Without a deadline the guest sleeps until input arrives: the
 *     backend's notification wakes it.
 */
#include "guest.h"
#include <minios/time.h>
#include <xen/errno.h>

#define LONG_LINE 1500
#define CUT_LINE 200

static char line[2048];

static void expect_line(const char *want, size_t size)
{
    long n = console_readline(line, size, monotonic_clock() + SECONDS(1), false);

    if (n < 0)
        test_failure("reading the line \"%.20s\": %ld", want, n);
    else
        test_check(strcmp(line, want) == 0, "read \"%.40s\" (%ld bytes), expected \"%.40s\"", line, n, want);
}

static void expect_repeated(char c, size_t count, size_t size)
{
    long n = console_readline(line, size, monotonic_clock() + SECONDS(1), false);
    size_t want = MIN(count, size - 1), same = 0;

    while (same < (size_t)(n > 0 ? n : 0) && line[same] == c)
        same++;
    test_check(n == (long)want && same == want, "a line of %zu '%c' read into %zu bytes: %ld bytes, %zu of them '%c'",
               count, c, size, n, same, c);
}

void app_main(void)
{
    long n;
    int c;

    printf("console: %s kernel\n", xen_pvh ? "PVH" : "PV");

    expect_line("hello", sizeof(line));
    expect_line("a", sizeof(line));             /* "\r\n" is one line end */
    expect_line("b", sizeof(line));
    expect_line("ac", sizeof(line));            /* "ab", DEL, "c" */
    expect_line("tab", sizeof(line));           /* control characters dropped */
    expect_repeated('x', LONG_LINE, sizeof(line));
    expect_repeated('y', CUT_LINE, 64);

    n = console_readline(line, sizeof(line), monotonic_clock() + SECONDS(1), false);
    test_check(n == -XEN_ENODATA, "Ctrl-D at the start of a line: %ld, expected -ENODATA", n);
    expect_line("after", sizeof(line));

    c = console_getc(monotonic_clock() + MILLISECS(10));
    test_check(c == -XEN_ETIMEDOUT, "console_getc with no input left: %d, expected -ETIMEDOUT", c);

    printf("console: waiting for input, no deadline\n");
    n = console_readline(line, sizeof(line), 0, true);
    test_check(n == 4 && strcmp(line, "late") == 0, "the late line: %ld \"%s\"", n, n >= 0 ? line : "");
    test_report();
}
