/*
 * The block frontend (Xen ABI reference §5.1 ring, §5.4 grants, §5.5
 * blkif, §6 xenbus handshake; Xen's io/blkif.h; include/minios/blkfront.h
 * for the interface).
 *
 * Connecting (blk_open), in the order Mini-OS uses:
 *  1. device/vbd/<devid> names the backend's directory and domain
 *     (`backend`, `backend-id`). If an earlier session left the frontend
 *     Closing or Closed, it goes back to Initialising first; then the
 *     frontend waits until the backend is in InitWait (or already past it).
 *  2. One page of ring (include/xen/io/blkif.h: 32 slots of 108 bytes on
 *     x86_32) is initialised and granted to the backend, and a port is
 *     allocated unbound for the backend's domain.
 *  3. In one transaction: ring-ref, event-channel, protocol "x86_32-abi"
 *     and state Connected (4) — simple frontends skip Initialised (3);
 *     backends take either as "the ring is published". A conflicting
 *     transaction (-XEN_EAGAIN) is simply retried.
 *  4. A watch on <backend>/state until it says Connected; Closing or
 *     Closed instead means the backend refused (its `error` node is
 *     printed).
 *  5. The disk's properties, which backends publish by the time they are
 *     Connected: sectors (always 512-byte units), sector-size, info,
 *     mode, feature-flush-cache, feature-barrier, feature-discard.
 * Disconnecting (blk_close): state Closing, wait for the backend to leave
 * Connected, state Closed, wait for it to be Closed; revoke the ring
 * grant, close the port and remove the ring keys. The device stays
 * Closed; opening it again starts at step 1, whose return to
 * Initialising gives a fresh handshake (Mini-OS returns to Initialising
 * at once, after its teardown: the same thing, earlier).
 * The shared steps are xenbus_frontend_*() in kernel/xenbus.c.
 *
 * Requests. A READ or WRITE names up to 11 segments, each a granted page
 * and an inclusive range of 512-byte sectors in it (first_sect..last_sect,
 * 0-7), covering consecutive disk sectors from sector_number. The caller's
 * buffer is cut at page boundaries, one segment per piece; a buffer that
 * is not 512-byte aligned cannot be described that way and goes through
 * the disk's bounce pages. Data pages are granted per request — read-only
 * for a WRITE, writable for a READ — and revoked when its response
 * arrives. A request's id is its slot number in `slots`, which keeps its
 * grants; the ring has as many slots, so a free ring slot always has a
 * free id. FLUSH_DISKCACHE and WRITE_BARRIER go with no segments; DISCARD
 * uses the 28-byte blkif_request_discard layout in its slot.
 *
 * Waiting. Every call fills as many slots as it can, publishes them
 * (notifying the backend only when req_event asks for it, §5.1), and
 * consumes responses as they come: with events disabled it takes what
 * rsp_prod shows, then sets rsp_event = rsp_cons + 1 and looks again
 * (the final check), and only then sleeps in block_domain(). The event
 * handler just counts: the backend's notification is what wakes the
 * sleeper. Responses are matched by id; one with an id that is not in
 * flight, or a ring whose rsp_prod runs ahead of what was requested,
 * makes the disk unusable (-XEN_EIO) rather than corrupt memory.
 */
#include <minios/blkfront.h>
#include <minios/arch.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/lib.h>
#include <minios/panic.h>
#include <minios/xenbus.h>
#include <xen/errno.h>
#include <xen/io/blkif.h>

/* Slots of a one-page blkif ring (32 on x86_32). */
#define RING_SLOTS XEN_RING_ENTRIES(PAGE_SIZE, sizeof(union blkif_sring_entry))
#define SECTORS_PER_PAGE (PAGE_SIZE / BLK_SECTOR_SIZE)

_Static_assert(sizeof(struct blkif_request) == 108, "blkif_request is 108 bytes on x86_32");
_Static_assert(sizeof(struct blkif_response) == 12, "blkif_response is 12 bytes on x86_32");
_Static_assert(sizeof(struct blkif_request_discard) <= sizeof(struct blkif_request), "a discard fits a slot");
_Static_assert(RING_SLOTS == 32, "a one-page blkif ring has 32 slots");

/* A request in flight: its grants, and its status once answered. */
struct blk_slot {
    bool busy;
    bool done;
    int16_t status;
    uint8_t nr_grefs;
    grant_ref_t grefs[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

struct blk_dev {
    bool in_use;
    bool broken;                        /* the backend misbehaved or timed out */
    unsigned int index;
    struct xenbus_device xd;
    struct blk_info info;
    blkif_front_ring_t ring;
    blkif_sring_t *sring;
    grant_ref_t ring_ref;
    evtchn_port_t port;
    unsigned int inflight;
    unsigned long notifications;
    struct blk_slot slots[RING_SLOTS];
    uint8_t *bounce;
};

static struct blk_dev devices[BLK_MAX_DEVICES];
static uint8_t ring_pages[BLK_MAX_DEVICES][PAGE_SIZE] __aligned(PAGE_SIZE)
    __attribute__((section(".bss.page_aligned")));
static uint8_t bounce_pages[BLK_MAX_DEVICES][BLK_BOUNCE_PAGES * PAGE_SIZE] __aligned(PAGE_SIZE)
    __attribute__((section(".bss.page_aligned")));

static void blk_event(evtchn_port_t port, struct trap_frame *regs, void *data)
{
    struct blk_dev *dev = data;

    (void)port;
    (void)regs;
    dev->notifications++;
}

/* ---- Small xenstore helpers ---- */

static long read_key(const char *dir, const char *key, char *buf, size_t size)
{
    char path[XENBUS_PATH_MAX];

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, key) >= sizeof(path))
        return -XEN_E2BIG;
    return xenbus_read(XBT_NIL, path, buf, size);
}

/* A backend node as an unsigned number; `dflt` when it is absent or not a number. */
static uint64_t backend_u64(const struct blk_dev *dev, const char *key, uint64_t dflt)
{
    char buf[24];
    uint64_t v = 0;
    long n = read_key(dev->info.backend, key, buf, sizeof(buf));

    if (n <= 0)
        return dflt;
    for (const char *p = buf; *p; p++) {
        if (*p < '0' || *p > '9' || v > (~0ULL - 9) / 10)
            return dflt;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return v;
}

static long wait_backend(const struct blk_dev *dev, uint32_t states)
{
    return xenbus_backend_wait(&dev->xd, states, monotonic_clock() + BLK_TIMEOUT_NS);
}

/* ---- The ring ---- */

static void end_grants(struct blk_slot *s)
{
    for (unsigned int i = 0; i < s->nr_grefs; i++) {
        long rc = gnttab_end_access(s->grefs[i]);

        /* A copying backend never holds a grant past its response; a mapping one unmaps first. */
        if (rc)
            printf("blkfront: grant %u still in use by the backend (%ld): leaked\n", s->grefs[i], rc);
    }
    s->nr_grefs = 0;
}

static int blk_status(int16_t status)
{
    switch (status) {
    case BLKIF_RSP_OKAY: return 0;
    case BLKIF_RSP_EOPNOTSUPP: return -XEN_EOPNOTSUPP;
    default: return -XEN_EIO;
    }
}

/*
 * Consume the responses the backend published; returns how many, or
 * -XEN_EIO when the ring makes no sense (the disk is then broken).
 * Called with events disabled.
 */
static long take_responses(struct blk_dev *dev)
{
    blkif_front_ring_t *r = &dev->ring;
    RING_IDX prod = blkif_front_responses(r);
    long got = 0;

    if ((RING_IDX)(prod - r->rsp_cons) > (RING_IDX)(r->req_prod_pvt - r->rsp_cons)) {
        printf("blkfront: %s: rsp_prod %u is ahead of the requests (%u): disk disabled\n", dev->info.nodename,
               prod, r->req_prod_pvt);
        dev->broken = true;
        return -XEN_EIO;
    }
    while (r->rsp_cons != prod) {
        const struct blkif_response *rsp = blkif_front_response(r, r->rsp_cons);
        uint64_t id = rsp->id;
        struct blk_slot *s = id < RING_SLOTS ? &dev->slots[id] : NULL;

        if (!s || !s->busy || s->done) {
            printf("blkfront: %s: response for id %llu, which is not in flight: disk disabled\n",
                   dev->info.nodename, (unsigned long long)id);
            dev->broken = true;
            return -XEN_EIO;
        }
        s->status = rsp->status;
        s->done = true;
        end_grants(s);
        r->rsp_cons++;
        got++;
    }
    return got;
}

/*
 * Sleep until at least one response arrived (and take it); 0, or
 * -XEN_ETIMEDOUT / -XEN_EIO (the disk is broken then). Events disabled.
 */
static long wait_responses(struct blk_dev *dev, uint64_t deadline)
{
    for (;;) {
        long got = take_responses(dev);

        if (got)
            return got < 0 ? got : 0;
        if (blkif_front_final_check(&dev->ring))
            continue;
        if (monotonic_clock() >= deadline) {
            printf("blkfront: %s: no response from the backend for %llu s: disk disabled\n", dev->info.nodename,
                   (unsigned long long)(BLK_TIMEOUT_NS / NSEC_PER_SEC));
            dev->broken = true;
            return -XEN_ETIMEDOUT;
        }
        block_domain(deadline);
    }
}

/* Collect the status of slot `id` and free it: 0 or -XEN_Exxx. */
static int put_slot(struct blk_dev *dev, unsigned int id)
{
    struct blk_slot *s = &dev->slots[id];
    int rc = blk_status(s->status);

    s->busy = false;
    dev->inflight--;
    return rc;
}

/* Free the slots whose response arrived; keeps the first error in *err. */
static void reap(struct blk_dev *dev, long *err)
{
    for (unsigned int i = 0; i < RING_SLOTS; i++) {
        if (dev->slots[i].busy && dev->slots[i].done) {
            int st = put_slot(dev, i);

            if (st && !*err)
                *err = st;
        }
    }
}

/* A free request slot (called when the ring has room and a slot is free). */
static unsigned int get_slot(struct blk_dev *dev)
{
    for (unsigned int i = 0; i < RING_SLOTS; i++) {
        if (!dev->slots[i].busy) {
            dev->slots[i] = (struct blk_slot){ .busy = true };
            dev->inflight++;
            return i;
        }
    }
    panic("blkfront: ring has room but every slot is busy");
}

static void push(struct blk_dev *dev)
{
    if (blkif_front_push(&dev->ring))
        evtchn_send(dev->port);
}

/* Wait for every request in flight, freeing their slots; the first error, or 0. Events disabled. */
static long drain(struct blk_dev *dev, uint64_t deadline)
{
    long err = 0;

    while (dev->inflight) {
        long rc;

        reap(dev, &err);
        if (!dev->inflight)
            break;
        if (dev->broken)
            return err ? err : -XEN_EIO;
        rc = wait_responses(dev, deadline);
        if (rc)
            return rc;
    }
    return err;
}

/*
 * Direct I/O: `buf` is 512-byte aligned. Fills ring slots with requests
 * of up to 11 page pieces each, keeps the ring full, and waits for all.
 */
static long rw_direct(struct blk_dev *dev, uint8_t op, uint64_t sector, uint32_t count, uint8_t *buf)
{
    uint64_t deadline = monotonic_clock() + BLK_TIMEOUT_NS;
    unsigned long flags = local_irq_save();
    long err = 0;

    while (count && !err) {
        struct blkif_request *req;
        unsigned int id, nseg = 0;
        uint64_t start = sector;

        /* Room for one more request: a ring slot, an id, and grants for 11 pages. */
        while (blkif_front_free(&dev->ring) == 0 || dev->inflight == RING_SLOTS ||
               gnttab_free_count() < BLKIF_MAX_SEGMENTS_PER_REQUEST) {
            long rc;

            push(dev);
            rc = dev->inflight ? wait_responses(dev, deadline) : -XEN_ENOSPC;
            if (rc) {
                err = rc;
                break;
            }
            reap(dev, &err);
            if (err)
                break;
        }
        if (err)
            break;

        id = get_slot(dev);
        req = blkif_front_request(&dev->ring, dev->ring.req_prod_pvt);
        while (count && nseg < BLKIF_MAX_SEGMENTS_PER_REQUEST) {
            uintptr_t va = (uintptr_t)buf;
            unsigned int first = (va & (PAGE_SIZE - 1)) / BLK_SECTOR_SIZE;
            unsigned int n = MIN(count, SECTORS_PER_PAGE - first);
            long ref = gnttab_grant_page(dev->info.backend_id, buf, op == BLKIF_OP_WRITE);

            if (ref < 0) {
                err = ref;              /* cannot happen: room was checked */
                break;
            }
            dev->slots[id].grefs[dev->slots[id].nr_grefs++] = (grant_ref_t)ref;
            req->seg[nseg].gref = (grant_ref_t)ref;
            req->seg[nseg].first_sect = (uint8_t)first;
            req->seg[nseg].last_sect = (uint8_t)(first + n - 1);
            nseg++;
            buf += n * BLK_SECTOR_SIZE;
            sector += n;
            count -= n;
        }
        if (nseg == 0) {
            end_grants(&dev->slots[id]);
            put_slot(dev, id);
            break;
        }
        req->operation = op;
        req->nr_segments = (uint8_t)nseg;
        req->handle = (blkif_vdev_t)dev->info.devid;
        req->id = id;
        req->sector_number = start;
        dev->ring.req_prod_pvt++;
    }
    push(dev);
    {
        long rc = drain(dev, deadline);

        if (!err)
            err = rc;
    }
    local_irq_restore(flags);
    return err;
}

/* One request without data (flush, barrier) or a discard; waits for its answer. */
static long simple_request(struct blk_dev *dev, uint8_t op, uint64_t sector, uint64_t nr_sectors)
{
    uint64_t deadline = monotonic_clock() + BLK_TIMEOUT_NS;
    unsigned long flags = local_irq_save();
    long rc = 0;
    unsigned int id;

    while ((blkif_front_free(&dev->ring) == 0 || dev->inflight == RING_SLOTS) && rc == 0) {
        rc = wait_responses(dev, deadline);
        if (rc == 0)
            reap(dev, &rc);
    }
    if (rc == 0) {
        id = get_slot(dev);
        if (op == BLKIF_OP_DISCARD) {
            struct blkif_request_discard *d =
                (struct blkif_request_discard *)blkif_front_request(&dev->ring, dev->ring.req_prod_pvt);

            d->operation = op;
            d->flag = 0;
            d->handle = (blkif_vdev_t)dev->info.devid;
            d->id = id;
            d->sector_number = sector;
            d->nr_sectors = nr_sectors;
        } else {
            struct blkif_request *req = blkif_front_request(&dev->ring, dev->ring.req_prod_pvt);

            req->operation = op;
            req->nr_segments = 0;
            req->handle = (blkif_vdev_t)dev->info.devid;
            req->id = id;
            req->sector_number = sector;
        }
        dev->ring.req_prod_pvt++;
        push(dev);
        rc = drain(dev, deadline);
    }
    local_irq_restore(flags);
    return rc;
}

/* ---- The interface ---- */

unsigned int blk_count(void)
{
    long n = xenbus_available() ? xenbus_device_count("vbd") : 0;

    return n > 0 ? (unsigned int)n : 0;
}

const struct blk_info *blk_info(const struct blk_dev *dev)
{
    return &dev->info;
}

static bool usable(const struct blk_dev *dev)
{
    return dev >= devices && dev < devices + BLK_MAX_DEVICES && dev->in_use;
}

static long check_range(const struct blk_dev *dev, uint64_t sector, uint64_t count)
{
    uint64_t per = dev->info.sector_size / BLK_SECTOR_SIZE;

    if (sector > dev->info.sectors || count > dev->info.sectors - sector)
        return -XEN_EINVAL;
    if (per > 1 && (sector % per || count % per))
        return -XEN_EINVAL;
    return 0;
}

static long blk_rw(struct blk_dev *dev, uint8_t op, uint64_t sector, uint32_t count, uint8_t *buf)
{
    long rc;

    if (!usable(dev))
        return -XEN_EINVAL;
    if (dev->broken)
        return -XEN_EIO;
    if (op == BLKIF_OP_WRITE && dev->info.readonly)
        return -XEN_EROFS;
    rc = check_range(dev, sector, count);
    if (rc || count == 0)
        return rc;
    if (((uintptr_t)buf & (BLK_SECTOR_SIZE - 1)) == 0)
        return rw_direct(dev, op, sector, count, buf);

    /* Not sector-aligned: through the bounce pages, one request's worth at a time. */
    while (count) {
        uint32_t n = MIN(count, (uint32_t)BLK_BOUNCE_PAGES * SECTORS_PER_PAGE);
        size_t bytes = (size_t)n * BLK_SECTOR_SIZE;

        if (op == BLKIF_OP_WRITE)
            memcpy(dev->bounce, buf, bytes);
        rc = rw_direct(dev, op, sector, n, dev->bounce);
        if (rc)
            return rc;
        if (op == BLKIF_OP_READ)
            memcpy(buf, dev->bounce, bytes);
        buf += bytes;
        sector += n;
        count -= n;
    }
    return 0;
}

long blk_read(struct blk_dev *dev, uint64_t sector, uint32_t count, void *buf)
{
    return blk_rw(dev, BLKIF_OP_READ, sector, count, buf);
}

long blk_write(struct blk_dev *dev, uint64_t sector, uint32_t count, const void *buf)
{
    /* The data is only read (the grants are read-only): the cast does not let anyone write it. */
    return blk_rw(dev, BLKIF_OP_WRITE, sector, count, (uint8_t *)(uintptr_t)buf);
}

long blk_flush(struct blk_dev *dev)
{
    if (!usable(dev))
        return -XEN_EINVAL;
    if (dev->broken)
        return -XEN_EIO;
    if (dev->info.flush)
        return simple_request(dev, BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
    if (dev->info.barrier)
        return simple_request(dev, BLKIF_OP_WRITE_BARRIER, 0, 0);
    return -XEN_EOPNOTSUPP;
}

long blk_discard(struct blk_dev *dev, uint64_t sector, uint64_t count)
{
    long rc;

    if (!usable(dev))
        return -XEN_EINVAL;
    if (dev->broken)
        return -XEN_EIO;
    if (dev->info.readonly)
        return -XEN_EROFS;
    if (!dev->info.discard)
        return -XEN_EOPNOTSUPP;
    rc = check_range(dev, sector, count);
    if (rc || count == 0)
        return rc;
    return simple_request(dev, BLKIF_OP_DISCARD, sector, count);
}

/* Publish the ring and go Connected, in one transaction. */
static long publish(struct blk_dev *dev)
{
    const char *node = dev->info.nodename;
    char path[XENBUS_PATH_MAX];
    xenbus_transaction_t t;
    long rc;

    do {
        rc = xenbus_transaction_start(&t);
        if (rc)
            return rc;
        snprintf(path, sizeof(path), "%s/ring-ref", node);
        rc = xenbus_printf(t, path, "%u", dev->ring_ref);
        if (!rc) {
            snprintf(path, sizeof(path), "%s/event-channel", node);
            rc = xenbus_printf(t, path, "%u", dev->port);
        }
        if (!rc) {
            snprintf(path, sizeof(path), "%s/protocol", node);
            rc = xenbus_write(t, path, XEN_IO_PROTO_ABI_X86_32);
        }
        if (!rc)
            rc = xenbus_switch_state(t, node, XenbusStateConnected);
        if (rc) {
            xenbus_transaction_end(t, true);
            return rc;
        }
        rc = xenbus_transaction_end(t, false);
    } while (rc == -XEN_EAGAIN);
    return rc;
}

/* Read what the backend published about the disk. */
static void read_properties(struct blk_dev *dev)
{
    struct blk_info *i = &dev->info;
    char mode[8];

    i->sectors = backend_u64(dev, "sectors", 0);
    i->sector_size = (unsigned int)backend_u64(dev, "sector-size", BLK_SECTOR_SIZE);
    if (i->sector_size < BLK_SECTOR_SIZE || i->sector_size > PAGE_SIZE || (i->sector_size & (i->sector_size - 1)))
        i->sector_size = BLK_SECTOR_SIZE;
    i->info = (unsigned int)backend_u64(dev, "info", 0);
    i->readonly = (i->info & VDISK_READONLY) != 0;
    if (read_key(i->backend, "mode", mode, sizeof(mode)) >= 0 && strcmp(mode, "r") == 0)
        i->readonly = true;
    i->flush = backend_u64(dev, "feature-flush-cache", 0) != 0;
    i->barrier = backend_u64(dev, "feature-barrier", 0) != 0;
    i->discard = backend_u64(dev, "feature-discard", 0) != 0;
}

/* Forget the ring and the port (after the backend let go of them, or on a failed open). */
static void release(struct blk_dev *dev)
{
    /* Requests of a call that timed out: their pages are the caller's again, so revoke what we can. */
    for (unsigned int i = 0; i < RING_SLOTS; i++)
        if (dev->slots[i].busy)
            end_grants(&dev->slots[i]);
    if (dev->port) {
        evtchn_close(dev->port);
        dev->port = 0;
    }
    if (dev->ring_ref) {
        long rc = gnttab_end_access(dev->ring_ref);

        if (rc)
            printf("blkfront: %s: the backend still maps the ring (%ld): its grant and page stay\n",
                   dev->info.nodename, rc);
        dev->ring_ref = 0;
    }
    dev->in_use = false;
}

static const char *const ring_keys[] = { "ring-ref", "event-channel", "protocol" };

long blk_open(unsigned int index, struct blk_dev **devp)
{
    struct xenbus_device xd;
    struct blk_dev *dev = NULL;
    unsigned int slot;
    long rc, state;

    if (!xenbus_available())
        return -XEN_ENODEV;
    rc = xenbus_device_find("vbd", index, &xd);
    if (rc)
        return rc;
    for (slot = 0; slot < BLK_MAX_DEVICES; slot++) {
        if (devices[slot].in_use && devices[slot].info.devid == xd.devid)
            return -XEN_EBUSY;
        if (!devices[slot].in_use && !dev)
            dev = &devices[slot];
    }
    if (!dev)
        return -XEN_ENOSPC;
    slot = (unsigned int)(dev - devices);
    memset(dev, 0, sizeof(*dev));
    dev->in_use = true;
    dev->index = index;
    dev->bounce = bounce_pages[slot];
    dev->xd = xd;
    memcpy(dev->info.nodename, xd.nodename, sizeof(dev->info.nodename));
    memcpy(dev->info.backend, xd.backend, sizeof(dev->info.backend));
    dev->info.backend_id = xd.backend_id;
    dev->info.devid = xd.devid;

    /* 1. The backend in InitWait. */
    state = xenbus_frontend_prepare(&xd, monotonic_clock() + BLK_TIMEOUT_NS);
    if (state < 0) {
        printf("blkfront: %s: the backend %s is not ready (%ld)\n", xd.nodename, xd.backend, state);
        dev->in_use = false;
        return state;
    }

    /* 2. The ring and the port. */
    dev->sring = (blkif_sring_t *)ring_pages[slot];
    memset(dev->sring, 0, PAGE_SIZE);
    blkif_sring_init(dev->sring);
    blkif_front_init(&dev->ring, dev->sring, PAGE_SIZE);
    rc = gnttab_grant_page(xd.backend_id, dev->sring, false);
    if (rc < 0)
        goto fail;
    dev->ring_ref = (grant_ref_t)rc;
    rc = evtchn_alloc_unbound(xd.backend_id, blk_event, dev);
    if (rc < 0)
        goto fail;
    dev->port = (evtchn_port_t)rc;

    /* 3. Publish, 4. wait for the backend. */
    rc = publish(dev);
    if (rc)
        goto fail;
    state = wait_backend(dev, XENBUS_STATE_BIT(XenbusStateConnected) | XENBUS_STATE_BIT(XenbusStateClosing) |
                                  XENBUS_STATE_BIT(XenbusStateClosed));
    if (state != XenbusStateConnected) {
        if (state >= 0) {
            printf("blkfront: %s: the backend refused to connect (state %ld)\n", xd.nodename, state);
            xenbus_frontend_print_error(&xd, "blkfront");
        } else {
            printf("blkfront: %s: no answer from the backend (%ld)\n", xd.nodename, state);
        }
        rc = state >= 0 ? -XEN_EIO : state;
        xenbus_frontend_close(&xd, monotonic_clock() + BLK_TIMEOUT_NS);
        goto fail;
    }

    /* 5. What the disk is. */
    read_properties(dev);
    *devp = dev;
    return 0;

fail:
    release(dev);
    xenbus_frontend_remove_keys(&xd, ring_keys, ARRAY_SIZE(ring_keys));
    return rc;
}

long blk_close(struct blk_dev *dev)
{
    unsigned long flags;
    long rc;

    if (!usable(dev))
        return -XEN_EINVAL;
    /* Nothing is in flight between calls (every call drains), unless a call timed out. */
    flags = local_irq_save();
    if (dev->inflight && !dev->broken)
        drain(dev, monotonic_clock() + BLK_TIMEOUT_NS);
    local_irq_restore(flags);

    rc = xenbus_frontend_close(&dev->xd, monotonic_clock() + BLK_TIMEOUT_NS);
    if (rc)
        printf("blkfront: %s: the backend did not close (%ld)\n", dev->info.nodename, rc);
    release(dev);
    xenbus_frontend_remove_keys(&dev->xd, ring_keys, ARRAY_SIZE(ring_keys));
    return rc;
}
