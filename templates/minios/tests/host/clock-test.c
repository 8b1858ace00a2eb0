/*
 * Host unit test of lib/clock.c, built natively: scale_delta() against a
 * 128-bit reference ((delta << shift) * mul) >> 32, truncated to 64 bits
 * as the guest's is) for edge and pseudo-random deltas, multipliers and
 * shifts; unix_to_utc() against the host's gmtime_r() on edge dates (the
 * epoch, leap days, century years, 2038) and pseudo-random times up to
 * the year 2514. Prints one line per failure and a summary; exits
 * non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <minios/lib.h>

static unsigned long cases, failures;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void check_scale(uint64_t delta, uint32_t mul, int shift)
{
    uint64_t d = shift < 0 ? delta >> -shift : delta << shift;
    uint64_t want = (uint64_t)(((unsigned __int128)d * mul) >> 32);
    uint64_t got = scale_delta(delta, mul, shift);

    cases++;
    if (got != want && ++failures <= 40)
        printf("FAIL: scale_delta(%#" PRIx64 ", %#" PRIx32 ", %d): want %#" PRIx64 ", got %#" PRIx64 "\n", delta, mul,
               shift, want, got);
}

static void check_utc(uint64_t secs)
{
    time_t t = (time_t)secs;
    struct tm tm;
    struct utc_time u;

    cases++;
    gmtime_r(&t, &tm);
    unix_to_utc(secs, &u);
    if ((u.year != (uint32_t)tm.tm_year + 1900 || u.month != (uint32_t)tm.tm_mon + 1 || u.day != (uint32_t)tm.tm_mday ||
         u.hour != (uint32_t)tm.tm_hour || u.min != (uint32_t)tm.tm_min || u.sec != (uint32_t)tm.tm_sec) &&
        ++failures <= 40)
        printf("FAIL: unix_to_utc(%" PRIu64 "): %04u-%02u-%02u %02u:%02u:%02u, want %04d-%02d-%02d %02d:%02d:%02d\n",
               secs, u.year, u.month, u.day, u.hour, u.min, u.sec, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
               tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int main(void)
{
    static const uint64_t deltas[] = { 0, 1, 2, 0xffffffffULL, 0x100000000ULL, 0x123456789abcdefULL,
                                       0x7fffffffffffffffULL, 0xffffffffffffffffULL };
    static const uint32_t muls[] = { 0, 1, 0x80000000U, 0xffffffffU, 0x12345678U, 0xcccccccdU };
    static const uint64_t dates[] = {
        0, 59, 86399, 86400, 951782400 /* 2000-02-29 */, 951868800 /* 2000-03-01 */,
        4107542400ULL /* 2100-03-01 */, 4107456000ULL /* 2100-02-28 */, 2147483647 /* 2038-01-19 */,
        1704067200 /* 2024-01-01 */, 1709164800 /* 2024-02-29 */, 1735689599 /* 2024-12-31 23:59:59 */,
    };

    for (unsigned int i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++)
        for (unsigned int j = 0; j < sizeof(muls) / sizeof(muls[0]); j++)
            for (int shift = -4; shift <= 4; shift++)
                check_scale(deltas[i], muls[j], shift);
    for (int i = 0; i < 200000; i++)
        check_scale(next() >> (next() % 64), (uint32_t)next(), (int)(next() % 9) - 4);

    for (unsigned int i = 0; i < sizeof(dates) / sizeof(dates[0]); i++)
        check_utc(dates[i]);
    for (int i = 0; i < 200000; i++)
        check_utc(next() % 17179869184ULL);     /* up to 2^34 s: the year 2514 */

    printf("clock: %lu cases, %lu failures\n", cases, failures);
    return failures != 0;
}
