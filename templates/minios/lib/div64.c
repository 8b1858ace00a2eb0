/*
 * 64-bit division for i386 without libgcc.
 *
 * GCC compiles `uint64_t / uint64_t` on i386 into calls with libgcc's
 * names and semantics: __udivdi3 (quotient), __umoddi3 (remainder),
 * __divdi3 / __moddi3 (signed: the quotient truncates toward zero, the
 * remainder has the sign of the dividend), and, when both results of one
 * division are used, __udivmoddi4 / __divmoddi4 (quotient returned,
 * remainder stored through the pointer when it is not NULL). Division by
 * zero is undefined in C; here it raises #DE like a native divide.
 *
 * Method: a divisor below 2^32 takes two hardware 64/32 `divl` steps
 * (schoolbook division with 32-bit digits); a larger divisor gives a
 * quotient below 2^32, found by shift-and-subtract over at most 32 bits.
 * Only shifts, compares and subtractions are used on 64-bit values, which
 * GCC emits inline. Builds unchanged on x86-64 hosts for the unit tests
 * (tests/host/div64-test.c).
 */
#include <stdint.h>

#if !defined(__i386__) && !defined(__x86_64__)
#error "lib/div64.c uses the x86 divl instruction"
#endif

uint64_t __udivmoddi4(uint64_t n, uint64_t d, uint64_t *rem);
int64_t __divmoddi4(int64_t n, int64_t d, int64_t *rem);
uint64_t __udivdi3(uint64_t n, uint64_t d);
uint64_t __umoddi3(uint64_t n, uint64_t d);
int64_t __divdi3(int64_t n, int64_t d);
int64_t __moddi3(int64_t n, int64_t d);

/* (hi:lo) / d with hi < d, so the quotient fits 32 bits and divl cannot fault. */
static inline uint32_t divl(uint32_t hi, uint32_t lo, uint32_t d, uint32_t *r)
{
    uint32_t q, rr;

    __asm__("divl %4" : "=a"(q), "=d"(rr) : "a"(lo), "d"(hi), "rm"(d));
    *r = rr;
    return q;
}

uint64_t __udivmoddi4(uint64_t n, uint64_t d, uint64_t *rem)
{
    uint32_t n_hi = (uint32_t)(n >> 32), n_lo = (uint32_t)n;
    uint32_t d_hi = (uint32_t)(d >> 32), d_lo = (uint32_t)d;
    uint64_t q;

    if (d_hi == 0) {
        uint32_t q_hi, q_lo, r;

        if (d_lo == 0) {
            /* Divide by zero: fault like the hardware would. */
            volatile uint32_t zero = 0;

            if (rem)
                *rem = n;
            return (uint64_t)(n_lo / zero);
        }
        q_hi = divl(0, n_hi, d_lo, &r);        /* 0:n_hi / d, never overflows */
        q_lo = divl(r, n_lo, d_lo, &r);        /* r < d_lo, so neither does this */
        q = ((uint64_t)q_hi << 32) | q_lo;
        if (rem)
            *rem = r;
        return q;
    }

    if (n < d) {
        if (rem)
            *rem = n;
        return 0;
    }

    /* d >= 2^32: the quotient has at most 32 bits. Align d's top bit with
     * n's, then subtract it back down one bit position at a time. */
    {
        int shift = __builtin_clz(d_hi) - __builtin_clz(n_hi);   /* n_hi >= d_hi > 0 */
        uint64_t dd = d << shift;
        uint32_t qq = 0;

        for (; shift >= 0; shift--, dd >>= 1) {
            qq <<= 1;
            if (n >= dd) {
                n -= dd;
                qq |= 1;
            }
        }
        if (rem)
            *rem = n;
        return qq;
    }
}

uint64_t __udivdi3(uint64_t n, uint64_t d)
{
    return __udivmoddi4(n, d, 0);
}

uint64_t __umoddi3(uint64_t n, uint64_t d)
{
    uint64_t r;

    __udivmoddi4(n, d, &r);
    return r;
}

int64_t __divmoddi4(int64_t n, int64_t d, int64_t *rem)
{
    /* Work on magnitudes; 0 - (uint64_t)x is |x| even for INT64_MIN. */
    uint64_t un = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
    uint64_t ud = d < 0 ? 0 - (uint64_t)d : (uint64_t)d;
    uint64_t ur;
    uint64_t uq = __udivmoddi4(un, ud, &ur);

    if (rem)
        *rem = (int64_t)(n < 0 ? 0 - ur : ur);
    return (int64_t)((n < 0) != (d < 0) ? 0 - uq : uq);
}

int64_t __divdi3(int64_t n, int64_t d)
{
    return __divmoddi4(n, d, 0);
}

int64_t __moddi3(int64_t n, int64_t d)
{
    int64_t r;

    __divmoddi4(n, d, &r);
    return r;
}
