/*
 * The kernel console: printf and its two channels.
 *
 * Channels (Xen ABI reference §3.4a, §5.2):
 *  - console_io(CONSOLEIO_write): a hypercall, usable from the first
 *    instruction. xenkit prints it; a debug build of Xen writes it to the
 *    hypervisor log (`xl dmesg`); a release build refuses with -EPERM.
 *  - The PV console ring (struct xencons_interface): bytes go into out[]
 *    at out_prod, then out_prod is published and the console event channel
 *    signalled. Works everywhere; it is what `xl console` shows.
 *
 * Strategy — one channel at a time, so that xenkit, which shows both on
 * the same terminal, never prints a line twice:
 *  1. Until console_init(), output goes to console_io. Text it refuses
 *     is kept (up to EARLY_LOG bytes) and replayed into the ring once
 *     there is one, so release Xen still shows it.
 *  2. From console_init() on, output goes to the ring only, with "\n"
 *     sent as "\r\n" (the console is a terminal in raw mode).
 *  3. When the ring is full the kernel yields to let the backend drain it;
 *     if nothing moves for RING_PATIENCE yields, the ring is declared
 *     stalled: what the backend never read is re-sent through console_io,
 *     and all later output goes there, rather than hanging (or silencing)
 *     a kernel whose console backend is missing. console_flush(), called
 *     before shutdown, applies the same rule to the last lines.
 *
 * Output never waits for an event: it must work with events disabled (in
 * handlers, in the fault report, before events_init()), so a full ring is
 * waited out by polling out_cons while yielding. Each console_write runs
 * with events disabled, so that an event handler's printf cannot
 * interleave its bytes with the text being copied into the ring.
 *
 * Input (in[], backend -> guest, console_input_init() on): bytes are taken
 * at in_cons, which is published after the byte was read, and the
 * backend is notified that there is room again. console_getc() waits for
 * a byte in block_domain() — the console event channel's handler only has
 * to exist for the backend's notification to wake it. console_readline()
 * builds a line on top, echoing what is typed, as a terminal in raw mode
 * does not: the backend passes keystrokes through unchanged.
 */
#include <minios/console.h>
#include <minios/arch.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/setup.h>
#include <minios/time.h>
#include <xen/errno.h>

/* How many SCHEDOP_yield calls without progress make the ring "stalled". */
#define RING_PATIENCE 100000
/* Bytes of early output kept for the ring when console_io refuses them. */
#define EARLY_LOG 2048

static struct xencons_interface *ring;
static evtchn_port_t ring_port;
static bool ring_stalled;

static char early_log[EARLY_LOG];
static size_t early_len;

static void ring_notify(void)
{
    if (ring_port)
        evtchn_send(ring_port);
}

/* Publish the bytes written up to `prod` and tell the backend. */
static void ring_publish(XENCONS_RING_IDX prod)
{
    wmb();                              /* the bytes before the index */
    WRITE_ONCE(ring->out_prod, prod);
    ring_notify();
}

/* Yield until at most `target` bytes before `prod` are unread; false if the backend stops reading. */
static bool ring_wait(XENCONS_RING_IDX prod, uint32_t target)
{
    XENCONS_RING_IDX seen = READ_ONCE(ring->out_cons);
    unsigned int idle = 0;

    for (;;) {
        XENCONS_RING_IDX cons = READ_ONCE(ring->out_cons);

        if ((uint32_t)(prod - cons) <= target)
            return true;
        if ((uint32_t)(prod - cons) > sizeof(ring->out))
            return false;               /* indices make no sense: give up on the ring */
        if (cons != seen) {
            seen = cons;
            idle = 0;
        } else if (++idle > RING_PATIENCE) {
            return false;
        }
        sched_yield();
    }
}

/*
 * Copy bytes into out[], '\n' as "\r\n", and publish them. Returns how
 * many bytes of `s` went in: fewer than `n` when the ring stalled.
 */
static size_t ring_write(const char *s, size_t n)
{
    XENCONS_RING_IDX prod = ring->out_prod;   /* only this kernel writes it */
    bool cr_done = false;
    size_t done = 0;

    while (done < n) {
        char c = s[done];

        if ((uint32_t)(prod - READ_ONCE(ring->out_cons)) >= sizeof(ring->out)) {
            ring_publish(prod);
            if (!ring_wait(prod, sizeof(ring->out) - 1))
                return done;
            mb();                       /* see out_cons before reusing its slots */
        }
        if (c == '\n' && !cr_done) {
            ring->out[MASK_XENCONS_IDX(prod++, ring->out)] = '\r';
            cr_done = true;
            continue;
        }
        ring->out[MASK_XENCONS_IDX(prod++, ring->out)] = c;
        cr_done = false;
        done++;
    }
    ring_publish(prod);
    return done;
}

static void early_keep(const char *s, size_t n)
{
    size_t room = sizeof(early_log) - early_len;

    if (n > room)
        n = room;
    memcpy(early_log + early_len, s, n);
    early_len += n;
}

/*
 * The ring stalled: hand what the backend never read (out_cons..out_prod)
 * to console_io, without the '\r's the ring path added, so nothing that
 * was printed is lost when there is no console backend.
 */
static void ring_salvage(void)
{
    static const char note[] = "\n[console ring stalled; using console_io]\n";
    XENCONS_RING_IDX cons = READ_ONCE(ring->out_cons), prod = ring->out_prod;
    char chunk[64];
    size_t n = 0;
    char last = '\n';

    ring_stalled = true;
    if ((uint32_t)(prod - cons) > sizeof(ring->out))
        cons = prod - sizeof(ring->out);
    for (; cons != prod; cons++) {
        char c = ring->out[MASK_XENCONS_IDX(cons, ring->out)];

        if (c != '\r')
            chunk[n++] = last = c;
        if (n == sizeof(chunk) || cons + 1 == prod) {
            console_io_write(chunk, (unsigned int)n);
            n = 0;
        }
    }
    /* The note on a line of its own. */
    console_io_write(note + (last == '\n'), sizeof(note) - 1 - (last == '\n'));
}

void console_write(const char *s, size_t n)
{
    unsigned long flags = local_irq_save();

    if (ring && !ring_stalled) {
        /* What went into the ring is salvaged from there; only the
         * rest of `s` is written below. */
        size_t in_ring = ring_write(s, n);

        if (in_ring == n)
            goto out;
        ring_salvage();
        s += in_ring;
        n -= in_ring;
    }
    if (console_io_write(s, (unsigned int)n) < 0 && !ring)
        early_keep(s, n);
out:
    local_irq_restore(flags);
}

void console_flush(void)
{
    if (ring && !ring_stalled && !ring_wait(ring->out_prod, 0))
        ring_salvage();
}

void console_init(void)
{
    if (!boot_info.console)
        return;
    ring = boot_info.console;
    ring_port = boot_info.console_evtchn;
    if (early_len)
        console_write(early_log, early_len);
    early_len = 0;
}

/* ---- Input ---- */

static bool input_on;
static bool after_cr;           /* the last line ended with '\r': a '\n' next is part of it */

static void console_notified(evtchn_port_t port, struct trap_frame *regs, void *data)
{
    (void)port;
    (void)regs;
    (void)data;
}

void console_input_init(void)
{
    long rc;

    if (!ring || !ring_port)
        return;
    rc = evtchn_bind(ring_port, console_notified, NULL);
    if (rc)
        printf("console: could not unmask the console event channel %u (%ld)\n", ring_port, rc);
    else
        input_on = true;
}

/* The next byte of in[], or -1 when there is none. */
static int ring_getc(void)
{
    XENCONS_RING_IDX cons = ring->in_cons, prod = READ_ONCE(ring->in_prod);
    unsigned char c;

    rmb();                              /* the index before the byte it covers */
    if (cons == prod)
        return -1;
    if ((uint32_t)(prod - cons) > sizeof(ring->in)) {
        WRITE_ONCE(ring->in_cons, prod);  /* indices make no sense: drop what is there */
        return -1;
    }
    c = (unsigned char)ring->in[MASK_XENCONS_IDX(cons, ring->in)];
    mb();                               /* the byte is read before its slot is handed back */
    WRITE_ONCE(ring->in_cons, cons + 1);
    ring_notify();
    return c;
}

int console_getc(uint64_t deadline_ns)
{
    unsigned long flags;
    int c;

    if (!input_on)
        return -XEN_ENODEV;
    flags = local_irq_save();
    for (;;) {
        c = ring_getc();
        if (c >= 0)
            break;
        if (deadline_ns && monotonic_clock() >= deadline_ns) {
            c = -XEN_ETIMEDOUT;
            break;
        }
        block_domain(deadline_ns);
    }
    local_irq_restore(flags);
    return c;
}

long console_readline(char *buf, size_t size, uint64_t deadline_ns, bool echo)
{
    size_t len = 0;

    if (size == 0)
        return -XEN_EINVAL;
    for (;;) {
        int c = console_getc(deadline_ns);
        char ch;

        if (c < 0) {
            buf[len] = 0;
            return c;
        }
        if (c == '\n' && after_cr) {
            after_cr = false;           /* the second half of "\r\n" */
            continue;
        }
        after_cr = c == '\r';
        if (c == '\r' || c == '\n') {
            if (echo)
                console_write("\n", 1);
            buf[len] = 0;
            return (long)len;
        }
        if (c == CONSOLE_EOF_CHAR && len == 0) {
            buf[0] = 0;
            return -XEN_ENODATA;
        }
        if (c == 0x7f || c == '\b') {    /* DEL or backspace: rub out one character */
            if (len > 0) {
                len--;
                if (echo)
                    console_write("\b \b", 3);
            }
            continue;
        }
        if (c < ' ' || len + 1 >= size)
            continue;                   /* other control characters; a full line */
        ch = (char)c;
        buf[len++] = ch;
        if (echo)
            console_write(&ch, 1);
    }
}

const char *console_channel(void)
{
    if (!ring)
        return "console_io";
    return ring_stalled ? "console_io (ring stalled)" : "ring";
}

/* printf's sink: collect output in a small buffer, write it out when full. */
struct printf_buf {
    char data[128];
    size_t len;
};

static void printf_emit(void *ctx, const char *s, size_t n)
{
    struct printf_buf *b = ctx;

    while (n) {
        size_t k = MIN(n, sizeof(b->data) - b->len);

        memcpy(b->data + b->len, s, k);
        b->len += k;
        s += k;
        n -= k;
        if (b->len == sizeof(b->data)) {
            console_write(b->data, b->len);
            b->len = 0;
        }
    }
}

int vprintf(const char *fmt, va_list ap)
{
    struct printf_buf b;
    int n;

    b.len = 0;
    n = vformat(printf_emit, &b, fmt, ap);
    if (b.len)
        console_write(b.data, b.len);
    return n;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}
