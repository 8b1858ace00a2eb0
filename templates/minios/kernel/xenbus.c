/*
 * A xenstore client over the store ring (Xen ABI reference §5.3, §6,
 * Xen's docs/misc/xenstore.txt and xenstore-ring.txt;
 * include/minios/xenbus.h for the interface).
 *
 * The ring. The store page (struct xenstore_domain_interface) holds two
 * 1024-byte byte streams: req[] (ours -> xenstored; we own req_prod) and
 * rsp[] (xenstored -> us; we own rsp_cons). Indices run freely; byte i of
 * a stream is at i & 1023, so a message may wrap around the end of its
 * array, and one bigger than the ring (up to 16 + 4096 bytes) passes in
 * pieces. Producer: bytes, write barrier, index, then notify the store
 * event channel. Consumer: index, read barrier, bytes, then the new
 * index — the slots are free only after we have read them — and notify,
 * as xenstored may be waiting for room.
 *
 * Messages are a struct xsd_sockmsg header (type, req_id, tx_id, len)
 * and len bytes of NUL-separated strings. One request is in flight at a
 * time (this kernel has one thread): it gets the next req_id, and the
 * reply with that req_id ends the wait. On the way, the receiver meets
 * WATCH_EVENT messages — xenstored sends them whenever a watch fires,
 * between replies — and queues them for xenbus_read_watch(); a reply with
 * another req_id (to a request that timed out) is dropped. The receiver
 * keeps its state between calls, so a message may arrive over any number
 * of wake-ups.
 *
 * Waiting. All of it runs with events disabled and sleeps in
 * block_domain() (include/minios/events.h): check the ring, sleep, and
 * let xenstored's notification on the store port — whose handler only
 * has to exist — wake us; events are enabled only while asleep, so a
 * notification that lands between the check and the sleep still wakes
 * it. Every wait has a deadline (XENBUS_TIMEOUT_NS).
 *
 * One watch's events. xenbus_read_watch_token() takes the oldest queued
 * event with a given token and closes the gap it leaves in the queue, so
 * a driver waiting on its own watch (xenbus_wait_state, with a fresh
 * token per wait) never eats the application's events.
 *
 * Devices (Xen ABI reference §6). xenbus_device_find() lists
 * device/<type>, sorts the ids, and reads the chosen device's `backend`
 * and `backend-id`; xenbus_frontend_prepare / _close / _remove_keys are
 * the frontend's side of the state handshake that blkfront.c and
 * netfront.c share (include/minios/xenbus.h shows the order).
 *
 * Errors. An XS_ERROR reply names an errno ("ENOENT"); xsd_errors in
 * xen/io/xs_wire.h turns it into -XEN_ENOENT (an unknown name: -XEN_EIO).
 * Ring indices that make no sense or a header longer than the protocol
 * allows leave the ring unusable: every call then fails with -XEN_EIO.
 */
#include <minios/xenbus.h>
#include <minios/arch.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/panic.h>
#include <minios/setup.h>
#include <xen/errno.h>
#include <xen/io/xenbus.h>
#include <xen/io/xs_wire.h>

#define MAX_PARTS 4

static struct xenstore_domain_interface *xs;
static evtchn_port_t xs_port;
static bool xs_broken;
static uint32_t next_req_id = 1;
static unsigned long notifications;

/* The message being received: header, then payload. */
static struct xsd_sockmsg rx_hdr;
static uint32_t rx_have;
static char rx_body[XENSTORE_PAYLOAD_MAX + 1];

/* The request waiting for its reply (0: none), and the reply once complete. */
static uint32_t awaited_id;
static uint32_t reply_type, reply_len;

/* Watch events: records of a 2-byte length and the payload, in a byte ring. */
static char watch_queue[WATCH_QUEUE_BYTES];
static uint32_t wq_head, wq_tail;       /* free-running: read, write */
static unsigned long wq_lost;
static char watch_event[WATCH_QUEUE_BYTES];

static void xs_notified(evtchn_port_t port, struct trap_frame *regs, void *data)
{
    (void)port;
    (void)regs;
    (void)data;
    notifications++;
}

static long xs_fail(const char *why)
{
    if (!xs_broken)
        printf("xenbus: %s; the store ring is unusable\n", why);
    xs_broken = true;
    return -XEN_EIO;
}

/* ---- The watch queue ---- */

static uint32_t wq_used(void)
{
    return wq_tail - wq_head;
}

static uint8_t wq_byte(uint32_t at)
{
    return (uint8_t)watch_queue[at % WATCH_QUEUE_BYTES];
}

static uint32_t wq_record_len(void)
{
    return wq_byte(wq_head) | (uint32_t)wq_byte(wq_head + 1) << 8;
}

static void wq_put(const char *payload, uint32_t len)
{
    uint32_t need = 2 + len;

    if (need > WATCH_QUEUE_BYTES) {
        wq_lost++;
        return;
    }
    while (WATCH_QUEUE_BYTES - wq_used() < need) {
        /* Full: the oldest event goes. */
        wq_head += 2 + wq_record_len();
        wq_lost++;
    }
    watch_queue[wq_tail++ % WATCH_QUEUE_BYTES] = (char)(len & 0xff);
    watch_queue[wq_tail++ % WATCH_QUEUE_BYTES] = (char)(len >> 8);
    for (uint32_t i = 0; i < len; i++)
        watch_queue[wq_tail++ % WATCH_QUEUE_BYTES] = payload[i];
}

/* Move the oldest event into watch_event (NUL-terminated); returns its length. */
static uint32_t wq_take(void)
{
    uint32_t len = wq_record_len();

    wq_head += 2;
    for (uint32_t i = 0; i < len; i++)
        watch_event[i] = (char)wq_byte(wq_head++);
    watch_event[len] = 0;
    return len;
}

unsigned long xenbus_watch_events_lost(void)
{
    return wq_lost;
}

/*
 * The token of the record at `at` (a queue position), compared with
 * `token`: the payload is "path\0token\0".
 */
static bool wq_token_is(uint32_t at, const char *token)
{
    uint32_t len = wq_byte(at) | (uint32_t)wq_byte(at + 1) << 8;
    uint32_t i = 0, t = 0;

    at += 2;
    while (i < len && wq_byte(at + i) != 0)
        i++;
    for (i++; i < len; i++, t++) {
        char c = (char)wq_byte(at + i);

        if (c != token[t])
            return false;
        if (c == 0)
            return true;
    }
    return token[t] == 0;
}

/*
 * Move the oldest event whose token is `token` into watch_event and
 * remove it from the queue, keeping the others in order. Returns its
 * length, or -1 when there is none.
 */
static long wq_take_token(const char *token)
{
    uint32_t at = wq_head, len;

    while (at != wq_tail && !wq_token_is(at, token))
        at += 2 + (wq_byte(at) | (uint32_t)wq_byte(at + 1) << 8);
    if (at == wq_tail)
        return -1;
    len = wq_byte(at) | (uint32_t)wq_byte(at + 1) << 8;
    for (uint32_t i = 0; i < len; i++)
        watch_event[i] = (char)wq_byte(at + 2 + i);
    watch_event[len] = 0;
    /* Close the gap: shift the records before it forwards by its size. */
    for (uint32_t from = at, to = at + 2 + len; from != wq_head;) {
        from--;
        to--;
        watch_queue[to % WATCH_QUEUE_BYTES] = watch_queue[from % WATCH_QUEUE_BYTES];
    }
    wq_head += 2 + len;
    return len;
}

/* ---- The ring ---- */

/* Copy up to `want` bytes of rsp[] to `dst`; returns how many, or -1 for corrupt indices. */
static long rsp_take(void *dst, uint32_t want)
{
    XENSTORE_RING_IDX cons = xs->rsp_cons, prod = READ_ONCE(xs->rsp_prod);
    uint32_t avail, n;
    char *d = dst;

    rmb();                              /* the index before the bytes it covers */
    avail = prod - cons;
    if (avail > XENSTORE_RING_SIZE)
        return -1;
    n = MIN(avail, want);
    for (uint32_t i = 0; i < n; i++)
        d[i] = xs->rsp[MASK_XENSTORE_IDX(cons + i)];
    mb();                               /* the bytes are read before their slots are handed back */
    WRITE_ONCE(xs->rsp_cons, cons + n);
    return n;
}

/*
 * Receive what the ring holds. Returns 1 when the awaited reply is
 * complete (in rx_body, reply_type, reply_len; nothing after it is read),
 * 0 when the ring is empty, -XEN_EIO when it is broken.
 */
static int xs_pump(void)
{
    bool consumed = false;
    int done = 0;
    long n;

    while (!done) {
        uint32_t body;

        if (rx_have < sizeof(rx_hdr)) {
            n = rsp_take((char *)&rx_hdr + rx_have, sizeof(rx_hdr) - rx_have);
            if (n < 0)
                return xs_fail("response ring indices are corrupt");
            rx_have += n;
            consumed |= n > 0;
            if (rx_have < sizeof(rx_hdr))
                break;
            if (rx_hdr.len > XENSTORE_PAYLOAD_MAX)
                return xs_fail("a reply is longer than XENSTORE_PAYLOAD_MAX");
        }
        body = rx_have - sizeof(rx_hdr);
        if (body < rx_hdr.len) {
            n = rsp_take(rx_body + body, rx_hdr.len - body);
            if (n < 0)
                return xs_fail("response ring indices are corrupt");
            rx_have += n;
            consumed |= n > 0;
            if (body + n < rx_hdr.len)
                break;
        }
        /* A whole message. */
        rx_have = 0;
        rx_body[rx_hdr.len] = 0;
        if (rx_hdr.type == XS_WATCH_EVENT) {
            wq_put(rx_body, rx_hdr.len);
        } else if (awaited_id && rx_hdr.req_id == awaited_id) {
            reply_type = rx_hdr.type;
            reply_len = rx_hdr.len;
            done = 1;
        }
    }
    if (consumed)
        evtchn_send(xs_port);           /* room in rsp[] */
    return done;
}

/* Append `len` bytes to req[], sleeping while it is full. */
static long req_put(const void *data, uint32_t len, uint64_t deadline)
{
    const char *s = data;

    while (len) {
        XENSTORE_RING_IDX prod = xs->req_prod, cons = READ_ONCE(xs->req_cons);
        uint32_t used = prod - cons, n;

        mb();                           /* req_cons read before we reuse its slots */
        if (used > XENSTORE_RING_SIZE)
            return xs_fail("request ring indices are corrupt");
        if (used == XENSTORE_RING_SIZE) {
            evtchn_send(xs_port);
            if (monotonic_clock() >= deadline)
                return -XEN_ETIMEDOUT;
            block_domain(deadline);
            continue;
        }
        n = MIN(len, XENSTORE_RING_SIZE - used);
        for (uint32_t i = 0; i < n; i++)
            xs->req[MASK_XENSTORE_IDX(prod + i)] = s[i];
        wmb();                          /* the bytes before the index */
        WRITE_ONCE(xs->req_prod, prod + n);
        s += n;
        len -= n;
    }
    return 0;
}

static long error_from_name(const char *name)
{
    for (unsigned int i = 0; i < ARRAY_SIZE(xsd_errors); i++)
        if (strcmp(name, xsd_errors[i].errstring) == 0)
            return -xsd_errors[i].errnum;
    return -XEN_EIO;
}

static void check_context(const char *what)
{
    if (in_event_handler())
        panic("xenbus: %s called from an event handler (it sleeps)", what);
}

long xenbus_request(uint32_t type, xenbus_transaction_t t, const char *const parts[], unsigned int nr_parts,
                    bool last_raw, char *reply, size_t reply_size)
{
    uint32_t lens[MAX_PARTS], total = 0;
    struct xsd_sockmsg hdr;
    unsigned long flags;
    uint64_t deadline;
    long rc;

    if (!xs)
        return -XEN_ENODEV;
    if (xs_broken)
        return -XEN_EIO;
    if (nr_parts > MAX_PARTS)
        return -XEN_EINVAL;
    check_context("a request");
    for (unsigned int i = 0; i < nr_parts; i++) {
        lens[i] = strlen(parts[i]) + !(last_raw && i == nr_parts - 1);
        total += lens[i];
    }
    if (total > XENSTORE_PAYLOAD_MAX)
        return -XEN_E2BIG;

    flags = local_irq_save();
    deadline = monotonic_clock() + XENBUS_TIMEOUT_NS;
    if (next_req_id == 0)
        next_req_id = 1;                /* 0 is the req_id of watch events */
    hdr.type = type;
    hdr.req_id = next_req_id++;
    hdr.tx_id = t;
    hdr.len = total;
    awaited_id = hdr.req_id;

    rc = req_put(&hdr, sizeof(hdr), deadline);
    for (unsigned int i = 0; i < nr_parts && rc == 0; i++)
        rc = req_put(parts[i], lens[i], deadline);
    if (rc == -XEN_ETIMEDOUT)
        xs_fail("xenstored stopped reading requests");  /* half a request is in the ring */
    evtchn_send(xs_port);

    while (rc == 0) {
        int r = xs_pump();

        if (r < 0)
            rc = r;
        else if (r > 0)
            break;
        else if (monotonic_clock() >= deadline)
            rc = -XEN_ETIMEDOUT;
        else
            block_domain(deadline);
    }
    awaited_id = 0;

    if (rc == 0) {
        if (reply_type == XS_ERROR)
            rc = error_from_name(rx_body);
        else if (reply_len + 1 > reply_size)
            rc = -XEN_E2BIG;
        else {
            memcpy(reply, rx_body, reply_len + 1);
            rc = reply_len;
        }
    }
    local_irq_restore(flags);
    return rc;
}

/* ---- The operations ---- */

/* A request whose reply is just "OK". */
static long simple_request(uint32_t type, xenbus_transaction_t t, const char *const parts[], unsigned int n,
                           bool last_raw)
{
    char ok[8];
    long rc = xenbus_request(type, t, parts, n, last_raw, ok, sizeof(ok));

    return rc < 0 ? rc : 0;
}

long xenbus_read(xenbus_transaction_t t, const char *path, char *buf, size_t size)
{
    const char *parts[] = { path };

    return xenbus_request(XS_READ, t, parts, 1, false, buf, size);
}

long xenbus_read_ulong(xenbus_transaction_t t, const char *path, unsigned long *value)
{
    char buf[24];
    unsigned long v = 0;
    long rc = xenbus_read(t, path, buf, sizeof(buf));

    if (rc < 0)
        return rc;
    if (rc == 0)
        return -XEN_EINVAL;
    for (const char *p = buf; *p; p++) {
        if (*p < '0' || *p > '9')
            return -XEN_EINVAL;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    *value = v;
    return 0;
}

long xenbus_write(xenbus_transaction_t t, const char *path, const char *value)
{
    const char *parts[] = { path, value };

    return simple_request(XS_WRITE, t, parts, 2, true);
}

long xenbus_printf(xenbus_transaction_t t, const char *path, const char *fmt, ...)
{
    char value[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(value))
        return -XEN_E2BIG;
    return xenbus_write(t, path, value);
}

long xenbus_mkdir(xenbus_transaction_t t, const char *path)
{
    const char *parts[] = { path };

    return simple_request(XS_MKDIR, t, parts, 1, false);
}

long xenbus_rm(xenbus_transaction_t t, const char *path)
{
    const char *parts[] = { path };

    return simple_request(XS_RM, t, parts, 1, false);
}

long xenbus_directory(xenbus_transaction_t t, const char *path, char *buf, size_t size)
{
    const char *parts[] = { path };
    long rc = xenbus_request(XS_DIRECTORY, t, parts, 1, false, buf, size);
    long count = 0;

    if (rc < 0)
        return rc;
    /* "a\0b\0c\0": one NUL per name. */
    for (long i = 0; i < rc; i++)
        count += buf[i] == 0;
    return count;
}

long xenbus_watch(const char *path, const char *token)
{
    const char *parts[] = { path, token };

    return simple_request(XS_WATCH, XBT_NIL, parts, 2, false);
}

long xenbus_unwatch(const char *path, const char *token)
{
    const char *parts[] = { path, token };

    return simple_request(XS_UNWATCH, XBT_NIL, parts, 2, false);
}

long xenbus_read_watch(char *path, size_t path_size, char *token, size_t token_size, uint64_t deadline_ns)
{
    unsigned long flags;
    long rc = 0;

    if (!xs)
        return -XEN_ENODEV;
    check_context("xenbus_read_watch");
    flags = local_irq_save();
    for (;;) {
        int r;

        if (wq_used()) {
            uint32_t len = wq_take();
            size_t plen = strnlen(watch_event, len);
            const char *tok = plen < len ? watch_event + plen + 1 : "";
            size_t tlen = strnlen(tok, len - MIN(len, plen + 1));

            if (plen + 1 > path_size || tlen + 1 > token_size) {
                rc = -XEN_E2BIG;
            } else {
                memcpy(path, watch_event, plen);
                path[plen] = 0;
                memcpy(token, tok, tlen);
                token[tlen] = 0;
            }
            break;
        }
        r = xs_broken ? -XEN_EIO : xs_pump();
        if (r < 0) {
            rc = r;
            break;
        }
        if (wq_used())
            continue;
        if (deadline_ns && monotonic_clock() >= deadline_ns) {
            rc = -XEN_ETIMEDOUT;
            break;
        }
        block_domain(deadline_ns);
    }
    local_irq_restore(flags);
    return rc;
}

long xenbus_read_watch_token(const char *token, char *path, size_t path_size, uint64_t deadline_ns)
{
    unsigned long flags;
    long rc = 0;

    if (!xs)
        return -XEN_ENODEV;
    check_context("xenbus_read_watch_token");
    flags = local_irq_save();
    for (;;) {
        long len = wq_take_token(token);
        uint32_t tail = wq_tail;
        int r;

        if (len >= 0) {
            size_t plen = strnlen(watch_event, len);

            if (plen + 1 > path_size) {
                rc = -XEN_E2BIG;
            } else {
                memcpy(path, watch_event, plen);
                path[plen] = 0;
            }
            break;
        }
        r = xs_broken ? -XEN_EIO : xs_pump();
        if (r < 0) {
            rc = r;
            break;
        }
        if (wq_tail != tail)
            continue;                   /* new events: look for ours among them */
        if (deadline_ns && monotonic_clock() >= deadline_ns) {
            rc = -XEN_ETIMEDOUT;
            break;
        }
        /* The ring is empty: what xenstored sends next notifies the store port. */
        block_domain(deadline_ns);
    }
    local_irq_restore(flags);
    return rc;
}

void xenbus_drop_watch_events(const char *token)
{
    unsigned long flags = local_irq_save();

    while (wq_take_token(token) >= 0)
        ;
    local_irq_restore(flags);
}

/* ---- Device states ---- */

long xenbus_read_state(xenbus_transaction_t t, const char *path)
{
    unsigned long v;
    long rc = xenbus_read_ulong(t, path, &v);

    if (rc < 0)
        return rc;
    return v > XenbusStateReconfigured ? -XEN_EINVAL : (long)v;
}

long xenbus_switch_state(xenbus_transaction_t t, const char *dir, XenbusState state)
{
    char path[XENBUS_PATH_MAX];

    if ((size_t)snprintf(path, sizeof(path), "%s/state", dir) >= sizeof(path))
        return -XEN_E2BIG;
    return xenbus_printf(t, path, "%u", (unsigned int)state);
}

long xenbus_wait_state(const char *path, uint32_t states, uint64_t deadline_ns)
{
    static unsigned int waits;
    char token[24], event[XENBUS_PATH_MAX];
    long state, rc;

    /* A fresh token per wait: events of an earlier wait can never be taken for ours. */
    snprintf(token, sizeof(token), "xenbus-wait-%u", ++waits);
    rc = xenbus_watch(path, token);
    if (rc < 0)
        return rc;
    for (;;) {
        /* Every event is only a hint: the node's current value decides. */
        state = xenbus_read_state(XBT_NIL, path);
        if (state >= 0 && (states & (1u << state)))
            break;
        rc = xenbus_read_watch_token(token, event, sizeof(event), deadline_ns);
        if (rc < 0 && rc != -XEN_E2BIG) {
            state = rc;
            break;
        }
    }
    xenbus_unwatch(path, token);
    xenbus_drop_watch_events(token);
    return state;
}

/* ---- Devices ---- */

static char dev_names[1024];

/* Parse a decimal device id; false for anything else. */
static bool parse_devid(const char *s, unsigned long *v)
{
    unsigned long n = 0;

    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || n > 0x7fffffffUL / 10)
            return false;
        n = n * 10 + (unsigned long)(*s - '0');
    }
    *v = n;
    return true;
}

/*
 * The device ids under device/<type>, ascending, into `ids` (at most
 * `max`); returns how many there are (more than `max` possible), or
 * -XEN_Exxx. Entries that are not numbers are skipped.
 */
static long device_ids(const char *type, unsigned long *ids, unsigned int max)
{
    char path[XENBUS_PATH_MAX];
    long n, count = 0;
    const char *c;

    if ((size_t)snprintf(path, sizeof(path), "device/%s", type) >= sizeof(path))
        return -XEN_E2BIG;
    n = xenbus_directory(XBT_NIL, path, dev_names, sizeof(dev_names));
    if (n < 0)
        return n;
    for (c = dev_names; n-- > 0; c += strlen(c) + 1) {
        unsigned long id;
        long i;

        if (!parse_devid(c, &id))
            continue;
        /* Insertion sort: a domain has a handful of devices. */
        for (i = MIN(count, (long)max); i > 0 && ids[i - 1] > id; i--)
            if (i < (long)max)
                ids[i] = ids[i - 1];
        if (i < (long)max)
            ids[i] = id;
        count++;
    }
    return count;
}

long xenbus_device_count(const char *type)
{
    unsigned long ids[1];
    long n = device_ids(type, ids, 0);

    return n == -XEN_ENOENT ? 0 : n;
}

long xenbus_device_find(const char *type, unsigned int index, struct xenbus_device *dev)
{
    unsigned long ids[XENBUS_MAX_DEVICES];
    char path[XENBUS_PATH_MAX];
    unsigned long backend_id;
    long n, rc;

    n = device_ids(type, ids, ARRAY_SIZE(ids));
    if (n == -XEN_ENOENT)
        n = 0;
    if (n < 0)
        return n;
    if (index >= MIN((unsigned long)n, ARRAY_SIZE(ids)))
        return -XEN_ENODEV;
    dev->devid = ids[index];
    if ((size_t)snprintf(dev->nodename, sizeof(dev->nodename), "device/%s/%lu", type, ids[index]) >=
        sizeof(dev->nodename))
        return -XEN_E2BIG;
    snprintf(path, sizeof(path), "%s/backend", dev->nodename);
    rc = xenbus_read(XBT_NIL, path, dev->backend, sizeof(dev->backend));
    if (rc < 0)
        return rc;
    snprintf(path, sizeof(path), "%s/backend-id", dev->nodename);
    rc = xenbus_read_ulong(XBT_NIL, path, &backend_id);
    if (rc < 0)
        return rc;
    if (backend_id >= DOMID_FIRST_RESERVED)
        return -XEN_EINVAL;
    dev->backend_id = (domid_t)backend_id;
    return 0;
}

long xenbus_backend_wait(const struct xenbus_device *dev, uint32_t states, uint64_t deadline_ns)
{
    char path[XENBUS_PATH_MAX];

    if ((size_t)snprintf(path, sizeof(path), "%s/state", dev->backend) >= sizeof(path))
        return -XEN_E2BIG;
    return xenbus_wait_state(path, states, deadline_ns);
}

long xenbus_frontend_prepare(const struct xenbus_device *dev, uint64_t deadline_ns)
{
    char path[XENBUS_PATH_MAX];
    uint32_t ready = XENBUS_STATE_BIT(XenbusStateInitWait);
    long state;

    snprintf(path, sizeof(path), "%s/state", dev->nodename);
    state = xenbus_read_state(XBT_NIL, path);
    if (state == XenbusStateInitialising) {
        /* A fresh device: a backend that skipped InitWait will do too. */
        ready |= XENBUS_STATE_BIT(XenbusStateInitialised) | XENBUS_STATE_BIT(XenbusStateConnected);
    } else {
        /* Left over by an earlier session: start over (until it sees this, the backend may say Connected). */
        long rc = xenbus_switch_state(XBT_NIL, dev->nodename, XenbusStateInitialising);

        if (rc)
            return rc;
    }
    return xenbus_backend_wait(dev, ready, deadline_ns);
}

void xenbus_frontend_print_error(const struct xenbus_device *dev, const char *who)
{
    char path[XENBUS_PATH_MAX], why[128];

    snprintf(path, sizeof(path), "%s/error", dev->backend);
    if (xenbus_read(XBT_NIL, path, why, sizeof(why)) > 0)
        printf("%s: %s: the backend says: %s\n", who, dev->nodename, why);
}

long xenbus_frontend_close(const struct xenbus_device *dev, uint64_t deadline_ns)
{
    long rc, state;

    rc = xenbus_switch_state(XBT_NIL, dev->nodename, XenbusStateClosing);
    state = xenbus_backend_wait(dev, XENBUS_STATE_BIT(XenbusStateClosing) | XENBUS_STATE_BIT(XenbusStateClosed),
                                deadline_ns);
    if (state < 0 && !rc)
        rc = state;
    state = xenbus_switch_state(XBT_NIL, dev->nodename, XenbusStateClosed);
    if (state < 0 && !rc)
        rc = state;
    state = xenbus_backend_wait(dev, XENBUS_STATE_BIT(XenbusStateClosed), deadline_ns);
    if (state < 0 && !rc)
        rc = state;
    return rc;
}

void xenbus_frontend_remove_keys(const struct xenbus_device *dev, const char *const keys[], unsigned int nr_keys)
{
    char path[XENBUS_PATH_MAX];

    for (unsigned int k = 0; k < nr_keys; k++) {
        snprintf(path, sizeof(path), "%s/%s", dev->nodename, keys[k]);
        xenbus_rm(XBT_NIL, path);
    }
}

long xenbus_transaction_start(xenbus_transaction_t *t)
{
    const char *parts[] = { "" };
    char id[16];
    unsigned long v = 0;
    long rc = xenbus_request(XS_TRANSACTION_START, XBT_NIL, parts, 1, false, id, sizeof(id));

    if (rc < 0)
        return rc;
    for (const char *p = id; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (unsigned long)(*p - '0');
    if (v == 0)
        return -XEN_EIO;
    *t = (xenbus_transaction_t)v;
    return 0;
}

long xenbus_transaction_end(xenbus_transaction_t t, bool abort)
{
    const char *parts[] = { abort ? "F" : "T" };

    return simple_request(XS_TRANSACTION_END, t, parts, 1, false);
}

bool xenbus_available(void)
{
    return xs && !xs_broken;
}

void xenbus_init(void)
{
    long rc;

    if (!boot_info.xenstore || !boot_info.xenstore_evtchn) {
        printf("xenbus: no xenstore ring\n");
        return;
    }
    xs = boot_info.xenstore;
    xs_port = boot_info.xenstore_evtchn;
    rc = evtchn_bind(xs_port, xs_notified, NULL);
    if (rc)
        printf("xenbus: could not unmask the store event channel %u (%ld)\n", xs_port, rc);
}
