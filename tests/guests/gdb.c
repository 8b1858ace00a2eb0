/*
 * gdb: the guest the gdb tests (tests/gdb/) debug with the real gdb.
 *
 * Three nested functions (outer → middle → leaf) to break in, backtrace
 * through, step and finish; globals to print, set and watch; and, with
 * `spin` on the command line, a busy loop at the end to interrupt with
 * Ctrl-C (and to keep the guest running while watch mode rebuilds it);
 * with `sleep`, a 2 ms msleep() first (SCHEDOP_block with a timer: a
 * vCPU to single-step while it sleeps).
 *
 * noipa keeps each function a real, separately named function at -O2
 * (no inlining, cloning or interprocedural shortcuts), so gdb sees the
 * frames the source shows. GDB_GUEST_VERSION is what the watch-mode test
 * edits to prove that the rebuilt kernel runs.
 */
#include "guest.h"
#include <minios/time.h>

#define GDB_GUEST_VERSION 1

int version = GDB_GUEST_VERSION;
int magic = 42;
volatile unsigned int counter;
volatile unsigned int watched;
volatile unsigned int spins;

__attribute__((noipa)) int leaf(int x)
{
    counter++;
    return x * 2 + magic;
}

__attribute__((noipa)) int middle(int x)
{
    int r = leaf(x + 1);

    return r + 1;
}

__attribute__((noipa)) int outer(int x)
{
    int r = middle(x * 3);

    watched = (unsigned int)r;
    return r + 2;
}

__attribute__((noipa)) void spin(void)
{
    for (;;)
        spins++;
}

void app_main(void)
{
    int sum = 0;

    for (int i = 0; i < 3; i++)
        sum += outer(i);
    printf("gdb guest v%d: sum=%d magic=%d counter=%u watched=%u\n", version, sum, magic, counter, watched);
    if (cmdline_has("sleep")) {
        msleep(2);
        printf("slept\n");
    }
    if (cmdline_has("spin")) {
        printf("spinning\n");
        spin();
    }
}
