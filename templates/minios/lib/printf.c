/*
 * Formatted output for the guest: vformat (format into any sink),
 * vsnprintf and snprintf. printf itself lives in kernel/console.c, which
 * gives vformat a console sink.
 *
 * Follows C99 7.19.6.1 for the integer, character and string conversions,
 * and glibc where C leaves a choice ("(null)" for a NULL %s, "(nil)" and
 * "0x..." for %p), so that tests/host/printf-test.c can compare every
 * output byte for byte with the host's snprintf. No floating point.
 *
 * Pure: no global state, no hypercalls; it builds and runs on the host.
 */
#include <minios/lib.h>

#define F_LEFT  0x01 /* '-' */
#define F_ZERO  0x02 /* '0' */
#define F_PLUS  0x04 /* '+' */
#define F_SPACE 0x08 /* ' ' */
#define F_ALT   0x10 /* '#' */

enum length { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE, LEN_PTRDIFF, LEN_INTMAX };

struct out {
    fmt_emit_t emit;
    void *ctx;
    int count;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (n) {
        o->emit(o->ctx, s, n);
        o->count += (int)n;
    }
}

static void pad(struct out *o, char c, int n)
{
    char chunk[16];
    int i;

    for (i = 0; i < (int)sizeof(chunk); i++)
        chunk[i] = c;
    while (n > 0) {
        int k = n < (int)sizeof(chunk) ? n : (int)sizeof(chunk);

        put(o, chunk, (size_t)k);
        n -= k;
    }
}

/*
 * Digits of `v` in `base`, written backwards ending at `end`; returns the
 * first digit. Values that fit 32 bits are converted with 32-bit
 * arithmetic, which on i386 avoids the 64-bit division helpers.
 */
static char *digits(char *end, unsigned long long v, unsigned int base, bool upper)
{
    const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char *p = end;

    while (v > 0xffffffffULL) {
        *--p = set[v % base];
        v /= base;
    }
    for (uint32_t w = (uint32_t)v; w; w /= base)
        *--p = set[w % base];
    return p;
}

/* printf.c depends on nothing else, so the host tests can build it alone. */
static size_t strnlen_local(const char *s, size_t max)
{
    size_t n = 0;

    while (n < max && s[n])
        n++;
    return n;
}

/* A string field: width padding around at most `len` bytes of `s`. */
static void field(struct out *o, const char *s, size_t len, int width, unsigned int flags)
{
    int fill = width > (int)len ? width - (int)len : 0;

    if (!(flags & F_LEFT))
        pad(o, ' ', fill);
    put(o, s, len);
    if (flags & F_LEFT)
        pad(o, ' ', fill);
}

/*
 * An integer field. `prefix` is the sign or "0x"; precision (>= 0) is the
 * minimum digit count, and an explicit precision disables the '0' flag.
 */
static void number(struct out *o, unsigned long long v, bool negative, unsigned int base, bool upper,
                   bool is_signed, bool is_pointer, int width, int prec, unsigned int flags)
{
    char buf[24];                 /* 64 bits in octal: 22 digits */
    char *end = buf + sizeof(buf);
    char *first = digits(end, v, base, upper);
    int ndigits = (int)(end - first);
    char prefix[3];
    int nprefix = 0;
    int zeros, total;

    if (prec < 0)
        prec = 1;                 /* the default: at least one digit */
    else
        flags &= ~F_ZERO;
    zeros = prec > ndigits ? prec - ndigits : 0;

    if (is_signed || is_pointer) {
        if (negative)
            prefix[nprefix++] = '-';
        else if (flags & F_PLUS)
            prefix[nprefix++] = '+';
        else if (flags & F_SPACE)
            prefix[nprefix++] = ' ';
    }
    if (flags & F_ALT) {
        if (base == 8 && zeros == 0 && (ndigits == 0 || *first != '0'))
            zeros = 1;            /* '#o': the first digit is a 0 */
        if (base == 16 && (v != 0 || is_pointer)) {
            prefix[nprefix++] = '0';
            prefix[nprefix++] = upper ? 'X' : 'x';
        }
    }

    total = nprefix + zeros + ndigits;
    if (width > total) {
        if (flags & F_LEFT) {
            /* padded on the right below */
        } else if (flags & F_ZERO) {
            zeros += width - total;
        } else {
            pad(o, ' ', width - total);
        }
    }
    put(o, prefix, (size_t)nprefix);
    pad(o, '0', zeros);
    put(o, first, (size_t)ndigits);
    if ((flags & F_LEFT) && width > total)
        pad(o, ' ', width - total);
}

static unsigned long long arg_unsigned(va_list *ap, enum length len)
{
    switch (len) {
    case LEN_CHAR: return (unsigned char)va_arg(*ap, unsigned int);
    case LEN_SHORT: return (unsigned short)va_arg(*ap, unsigned int);
    case LEN_LONG: return va_arg(*ap, unsigned long);
    case LEN_LLONG: return va_arg(*ap, unsigned long long);
    case LEN_SIZE: return va_arg(*ap, size_t);
    case LEN_PTRDIFF: return (size_t)va_arg(*ap, ptrdiff_t);     /* %tu: same width as ptrdiff_t */
    case LEN_INTMAX: return va_arg(*ap, uintmax_t);
    case LEN_INT: break;
    }
    return va_arg(*ap, unsigned int);
}

static long long arg_signed(va_list *ap, enum length len)
{
    switch (len) {
    case LEN_CHAR: return (signed char)va_arg(*ap, int);
    case LEN_SHORT: return (short)va_arg(*ap, int);
    case LEN_LONG: return va_arg(*ap, long);
    case LEN_LLONG: return va_arg(*ap, long long);
    case LEN_SIZE: return (ptrdiff_t)va_arg(*ap, size_t);        /* %zd: signed, size_t's width */
    case LEN_PTRDIFF: return va_arg(*ap, ptrdiff_t);
    case LEN_INTMAX: return va_arg(*ap, intmax_t);
    case LEN_INT: break;
    }
    return va_arg(*ap, int);
}

int vformat(fmt_emit_t emit, void *ctx, const char *fmt, va_list ap_in)
{
    struct out o = { emit, ctx, 0 };
    va_list ap;

    /* A copy, so that helpers can take a pointer to it (va_list may be an
     * array type, which does not decay consistently when passed around). */
    va_copy(ap, ap_in);
    while (*fmt) {
        const char *spec = fmt;
        unsigned int flags = 0;
        int width = 0, prec = -1;
        enum length len = LEN_INT;
        unsigned int base = 10;
        bool upper = false;
        char c;

        if (*fmt != '%') {
            const char *run = fmt;

            while (*fmt && *fmt != '%')
                fmt++;
            put(&o, run, (size_t)(fmt - run));
            continue;
        }
        fmt++;

        for (;; fmt++) {
            if (*fmt == '-') flags |= F_LEFT;
            else if (*fmt == '0') flags |= F_ZERO;
            else if (*fmt == '+') flags |= F_PLUS;
            else if (*fmt == ' ') flags |= F_SPACE;
            else if (*fmt == '#') flags |= F_ALT;
            else break;
        }
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) {      /* a negative * width means '-' */
                flags |= F_LEFT;
                width = -width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            fmt++;
            prec = 0;
            if (*fmt == '*') {
                prec = va_arg(ap, int);
                if (prec < 0)
                    prec = -1;    /* a negative * precision is "none" */
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    prec = prec * 10 + (*fmt++ - '0');
            }
        }
        switch (*fmt) {
        case 'h':
            fmt++;
            len = LEN_SHORT;
            if (*fmt == 'h') {
                fmt++;
                len = LEN_CHAR;
            }
            break;
        case 'l':
            fmt++;
            len = LEN_LONG;
            if (*fmt == 'l') {
                fmt++;
                len = LEN_LLONG;
            }
            break;
        case 'z': fmt++; len = LEN_SIZE; break;
        case 't': fmt++; len = LEN_PTRDIFF; break;
        case 'j': fmt++; len = LEN_INTMAX; break;
        default: break;
        }
        if (flags & F_LEFT)
            flags &= ~F_ZERO;     /* '-' overrides '0' */
        if (flags & F_PLUS)
            flags &= ~F_SPACE;    /* '+' overrides ' ' */

        c = *fmt;
        if (c == 0) {             /* the format ends inside a conversion */
            put(&o, spec, (size_t)(fmt - spec));
            break;
        }
        fmt++;
        switch (c) {
        case 'd':
        case 'i': {
            long long v = arg_signed(&ap, len);
            unsigned long long mag = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

            number(&o, mag, v < 0, 10, false, true, false, width, prec, flags);
            break;
        }
        case 'X':
            upper = true;
            /* fall through */
        case 'x':
            base = 16;
            goto unsigned_conv;
        case 'o':
            base = 8;
            goto unsigned_conv;
        case 'u':
        unsigned_conv:
            number(&o, arg_unsigned(&ap, len), false, base, upper, false, false, width, prec, flags);
            break;
        case 'p': {
            void *p = va_arg(ap, void *);

            if (p == NULL)
                field(&o, "(nil)", 5, width, flags);
            else
                number(&o, (uintptr_t)p, false, 16, false, false, true, width, prec, flags | F_ALT);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);

            if (s == NULL)
                s = "(null)";
            field(&o, s, strnlen_local(s, prec >= 0 ? (size_t)prec : (size_t)-1), width, flags);
            break;
        }
        case 'c': {
            char ch = (char)va_arg(ap, int);

            field(&o, &ch, 1, width, flags);
            break;
        }
        case '%':
            put(&o, "%", 1);
            break;
        default:
            /* Unknown conversion: print the specification as written. */
            put(&o, spec, (size_t)(fmt - spec));
            break;
        }
    }
    va_end(ap);
    return o.count;
}

struct bounded {
    char *buf;
    size_t size;                  /* capacity including the NUL */
    size_t used;
};

static void emit_bounded(void *ctx, const char *s, size_t n)
{
    struct bounded *b = ctx;

    while (n--) {
        if (b->used + 1 < b->size)
            b->buf[b->used] = *s;
        b->used++;
        s++;
    }
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct bounded b = { buf, size, 0 };
    int n = vformat(emit_bounded, &b, fmt, ap);

    if (size)
        buf[b.used < size ? b.used : size - 1] = 0;
    return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
