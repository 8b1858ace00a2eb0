/*
 * Host unit test of lib/div64.c: the guest's 64-bit division helpers
 * (__udivdi3, __umoddi3, __divdi3, __moddi3, __udivmoddi4, __divmoddi4),
 * built natively, against the host's native 64-bit division, on edge
 * values (0, 1, powers of two and their neighbours, 32-bit boundaries,
 * extremes) and on pseudo-random pairs of every magnitude. Prints one line
 * per failure and a summary; exits non-zero on any failure.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

uint64_t __udivmoddi4(uint64_t n, uint64_t d, uint64_t *rem);
int64_t __divmoddi4(int64_t n, int64_t d, int64_t *rem);
uint64_t __udivdi3(uint64_t n, uint64_t d);
uint64_t __umoddi3(uint64_t n, uint64_t d);
int64_t __divdi3(int64_t n, int64_t d);
int64_t __moddi3(int64_t n, int64_t d);

static unsigned long cases, failures;

static void fail(const char *what, uint64_t n, uint64_t d, uint64_t want, uint64_t got)
{
    failures++;
    if (failures <= 40)
        printf("FAIL: %s(%#" PRIx64 ", %#" PRIx64 "): want %#" PRIx64 ", got %#" PRIx64 "\n", what, n, d, want, got);
}

static void check_unsigned(uint64_t n, uint64_t d)
{
    /* volatile: keep the compiler from folding the reference division. */
    volatile uint64_t vn = n, vd = d;
    uint64_t q = vn / vd, r = vn % vd, rem = ~r;

    cases++;
    if (__udivdi3(n, d) != q)
        fail("__udivdi3", n, d, q, __udivdi3(n, d));
    if (__umoddi3(n, d) != r)
        fail("__umoddi3", n, d, r, __umoddi3(n, d));
    if (__udivmoddi4(n, d, &rem) != q || rem != r)
        fail("__udivmoddi4", n, d, r, rem);
    if (__udivmoddi4(n, d, NULL) != q)
        fail("__udivmoddi4(NULL)", n, d, q, __udivmoddi4(n, d, NULL));
}

static void check_signed(int64_t n, int64_t d)
{
    volatile int64_t vn = n, vd = d;
    int64_t q, r, rem;

    if (n == INT64_MIN && d == -1)
        return;         /* overflows: undefined in C, #DE on x86 */
    q = vn / vd;
    r = vn % vd;
    rem = ~r;
    cases++;
    if (__divdi3(n, d) != q)
        fail("__divdi3", (uint64_t)n, (uint64_t)d, (uint64_t)q, (uint64_t)__divdi3(n, d));
    if (__moddi3(n, d) != r)
        fail("__moddi3", (uint64_t)n, (uint64_t)d, (uint64_t)r, (uint64_t)__moddi3(n, d));
    if (__divmoddi4(n, d, &rem) != q || rem != r)
        fail("__divmoddi4", (uint64_t)n, (uint64_t)d, (uint64_t)r, (uint64_t)rem);
}

/* xorshift64*: deterministic pseudo-random numbers. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

/* A random value of random bit length (so small and large magnitudes both occur). */
static uint64_t rnd_bits(void)
{
    unsigned int bits = (unsigned int)(rnd() % 64) + 1;

    return bits == 64 ? rnd() : rnd() & ((1ULL << bits) - 1);
}

int main(void)
{
    uint64_t edges[200];
    unsigned int ne = 0;

    edges[ne++] = 0;
    for (unsigned int b = 0; b < 64; b++) {
        uint64_t p = 1ULL << b;

        edges[ne++] = p;
        edges[ne++] = p - 1 ? p - 1 : 3;
        edges[ne++] = p + 1;
    }
    edges[ne++] = UINT64_MAX;
    edges[ne++] = UINT64_MAX - 1;
    edges[ne++] = 0xffffffffULL * 0xffffffffULL;
    edges[ne++] = 0x123456789abcdef0ULL;
    edges[ne++] = 10;
    edges[ne++] = 1000000000ULL;
    edges[ne++] = (uint64_t)INT64_MIN;
    edges[ne++] = (uint64_t)INT64_MAX;

    for (unsigned int i = 0; i < ne; i++)
        for (unsigned int j = 0; j < ne; j++) {
            if (edges[j] != 0)
                check_unsigned(edges[i], edges[j]);
            if (edges[j] != 0)
                check_signed((int64_t)edges[i], (int64_t)edges[j]);
            if (edges[j] != 0)
                check_signed(-(int64_t)edges[i], (int64_t)edges[j]);
        }
    for (unsigned int i = 0; i < 1000000; i++) {
        uint64_t n = rnd_bits(), d = rnd_bits();

        if (d == 0)
            continue;
        check_unsigned(n, d);
        check_signed((int64_t)n, (int64_t)d);
        check_signed(-(int64_t)n, (int64_t)d);
        check_signed((int64_t)n, -(int64_t)d);
    }
    printf("div64: %lu cases, %lu failures\n", cases, failures);
    return failures ? 1 : 0;
}
