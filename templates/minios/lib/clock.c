/*
 * Clock arithmetic with no hardware behind it, so the host can test it
 * (tests/host/clock-test.c): scaling a TSC delta to nanoseconds the way
 * vcpu_time_info describes (Xen ABI reference §4 "Time"), and splitting
 * seconds since the Unix epoch into a UTC calendar date.
 */
#include <minios/lib.h>

uint64_t scale_delta(uint64_t delta, uint32_t mul_frac, int shift)
{
    uint64_t lo, hi;

    if (shift < 0)
        delta >>= -shift;
    else
        delta <<= shift;
    /*
     * (delta * mul_frac) >> 32 needs a 96-bit product: multiply each
     * 32-bit half of delta by mul_frac (32 x 32 -> 64 bits, one `mul`
     * instruction on i386) and add the high half's product to the upper
     * 32 bits of the low half's.
     */
    lo = (uint64_t)(uint32_t)delta * mul_frac;
    hi = (uint64_t)(uint32_t)(delta >> 32) * mul_frac;
    return hi + (lo >> 32);
}

static bool leap_year(uint32_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

void unix_to_utc(uint64_t secs, struct utc_time *t)
{
    static const uint8_t month_days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    uint64_t days = secs / 86400;
    uint32_t rest = (uint32_t)(secs % 86400);
    uint32_t year = 1970, month = 0;

    t->hour = rest / 3600;
    t->min = rest / 60 % 60;
    t->sec = rest % 60;
    /* Whole years, then whole months: a few dozen steps for any date this century. */
    while (days >= (leap_year(year) ? 366u : 365u)) {
        days -= leap_year(year) ? 366 : 365;
        year++;
    }
    for (;;) {
        uint32_t n = month_days[month] + (month == 1 && leap_year(year));

        if (days < n)
            break;
        days -= n;
        month++;
    }
    t->year = year;
    t->month = month + 1;
    t->day = (uint32_t)days + 1;
}
