/*
 * The network frontend (Xen ABI reference §5.1 ring, §5.4 grants, §5.6
 * netif, §6 xenbus handshake; Xen's io/netif.h; include/minios/netfront.h
 * for the interface).
 *
 * Connecting (net_open), in the order Mini-OS uses:
 *  1. device/vif/<n> names the backend (`backend`, `backend-id`); the
 *     frontend waits until the backend is in InitWait (going back to
 *     Initialising first if an earlier session left it elsewhere).
 *  2. Two ring pages — tx (256 slots of 12 bytes) and rx (256 slots of 8)
 *     — are initialised and granted to the backend; every receive buffer
 *     (a page, granted writable once and for all) is posted on the rx
 *     ring; every transmit buffer is granted read-only once and for all;
 *     a port is allocated unbound for the backend's domain.
 *  3. In one transaction: tx-ring-ref, rx-ring-ref, event-channel (one
 *     channel for both rings), request-rx-copy 1 (the backend copies into
 *     our buffers; page flipping is long gone), feature-rx-notify 1 (we
 *     notify when we post rx buffers), feature-no-csum-offload 1 (the
 *     backend must hand us complete checksums: our stack checks them and
 *     never asks for NETRXF_csum_blank), and state Connected. No
 *     feature-sg: a frame always fits one buffer, so receive never needs
 *     several slots, and transmit sends one slot per frame.
 *  4. A watch on <backend>/state until Connected (Closing or Closed: the
 *     backend refused; its `error` node is printed).
 *  5. The MAC: `mac` in the frontend directory, where the toolstack
 *     writes it (Mini-OS reads it there), else in the backend's; `ip` in
 *     the backend directory, where libxl puts a vif's `ip=` setting.
 * Disconnecting (net_close): Closing, Closed (the backend follows), then
 * the grants are revoked, the port closed and the ring keys removed; the
 * device stays Closed until it is opened again (step 1 then goes back to
 * Initialising). The shared steps are xenbus_frontend_*() in
 * kernel/xenbus.c.
 *
 * Transmit. A frame is copied into a free transmit buffer (the pool is a
 * stack of buffer ids) and posted as one netif_tx_request {gref, offset
 * 0, flags 0, id, size}; the response (by id) frees the buffer. With
 * every buffer out, net_send() takes responses, and sleeps for them up to
 * NET_TX_WAIT_NS. The tx ring has far more slots (256) than buffers, so
 * it never fills.
 *
 * Receive. The backend copies a frame into a posted buffer and answers
 * {id, offset, flags, status = length}. net_poll() takes the responses,
 * hands each frame (buffer id's page + offset) to the receive callback,
 * then posts the same buffer again under the same id and grant. Error
 * statuses, frames that do not fit the page, and multi-slot frames
 * (NETRXF_more_data, which a backend only sends to a frontend with
 * feature-sg) are counted and dropped. New rx requests are published
 * after the batch, with a notification when req_event asks for it.
 *
 * Events. One port for both rings; its handler only counts, and the
 * notification wakes whoever sleeps in block_domain(). Checking for work
 * takes what rsp_prod shows, and before sleeping sets rsp_event =
 * rsp_cons + 1 and looks again (the final check, §5.1), on both rings.
 * A response with an id that is not out, or an rsp_prod beyond what was
 * requested, makes the vif unusable (-XEN_EIO) rather than corrupt memory.
 */
#include <minios/netfront.h>
#include <minios/arch.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/lib.h>
#include <minios/xenbus.h>
#include <xen/errno.h>
#include <xen/io/netif.h>

#define TX_SLOTS XEN_RING_ENTRIES(PAGE_SIZE, sizeof(union netif_tx_sring_entry))
#define RX_SLOTS XEN_RING_ENTRIES(PAGE_SIZE, sizeof(union netif_rx_sring_entry))

_Static_assert(sizeof(struct netif_tx_request) == 12, "netif_tx_request is 12 bytes");
_Static_assert(sizeof(struct netif_rx_response) == 8, "netif_rx_response is 8 bytes");
_Static_assert(TX_SLOTS == 256 && RX_SLOTS == 256, "one-page netif rings have 256 slots");
_Static_assert(NET_TX_BUFFERS <= TX_SLOTS && NET_RX_BUFFERS <= RX_SLOTS, "the rings hold every buffer");

struct net_dev {
    bool in_use;
    bool broken;
    bool polling;
    struct xenbus_device xd;
    struct net_info info;
    struct net_stats stats;
    netif_tx_front_ring_t tx;
    netif_rx_front_ring_t rx;
    grant_ref_t tx_ring_ref, rx_ring_ref;
    evtchn_port_t port;
    unsigned long notifications;
    net_rx_fn rx_fn;
    void *rx_data;
    uint8_t (*tx_buf)[PAGE_SIZE];
    uint8_t (*rx_buf)[PAGE_SIZE];
    grant_ref_t tx_gref[NET_TX_BUFFERS];
    grant_ref_t rx_gref[NET_RX_BUFFERS];
    bool tx_out[NET_TX_BUFFERS];        /* with the backend */
    bool rx_out[NET_RX_BUFFERS];
    uint16_t tx_free[NET_TX_BUFFERS];   /* a stack of free buffer ids */
    unsigned int tx_nr_free;
    bool rx_dropping;                   /* inside a multi-slot frame being dropped */
};

static struct net_dev devices[NET_MAX_DEVICES];

#define PAGE_ALIGNED_BSS __aligned(PAGE_SIZE) __attribute__((section(".bss.page_aligned")))
static uint8_t tx_ring_pages[NET_MAX_DEVICES][PAGE_SIZE] PAGE_ALIGNED_BSS;
static uint8_t rx_ring_pages[NET_MAX_DEVICES][PAGE_SIZE] PAGE_ALIGNED_BSS;
static uint8_t tx_pages[NET_MAX_DEVICES][NET_TX_BUFFERS][PAGE_SIZE] PAGE_ALIGNED_BSS;
static uint8_t rx_pages[NET_MAX_DEVICES][NET_RX_BUFFERS][PAGE_SIZE] PAGE_ALIGNED_BSS;

static const char *const ring_keys[] = {
    "tx-ring-ref", "rx-ring-ref", "event-channel", "request-rx-copy", "feature-rx-notify", "feature-no-csum-offload",
};

static void net_event(evtchn_port_t port, struct trap_frame *regs, void *data)
{
    struct net_dev *dev = data;

    (void)port;
    (void)regs;
    dev->notifications++;
}

static void disable(struct net_dev *dev, const char *why, unsigned int value)
{
    if (!dev->broken)
        printf("netfront: %s: %s (%u): vif disabled\n", dev->info.nodename, why, value);
    dev->broken = true;
}

/* ---- Transmit ---- */

/* Take the tx responses: free their buffers. Events disabled. */
static void take_tx(struct net_dev *dev)
{
    netif_tx_front_ring_t *r = &dev->tx;

    for (;;) {
        RING_IDX prod = netif_tx_front_responses(r);

        if ((RING_IDX)(prod - r->rsp_cons) > (RING_IDX)(r->req_prod_pvt - r->rsp_cons)) {
            disable(dev, "tx rsp_prod is ahead of the requests", prod);
            return;
        }
        while (r->rsp_cons != prod) {
            const struct netif_tx_response *rsp = netif_tx_front_response(r, r->rsp_cons);
            uint16_t id = rsp->id;

            r->rsp_cons++;
            if (rsp->status == NETIF_RSP_NULL)
                continue;               /* the answer to an extra-info slot (we send none) */
            if (id >= NET_TX_BUFFERS || !dev->tx_out[id]) {
                disable(dev, "a tx response names a buffer that is not out", id);
                return;
            }
            if (rsp->status != NETIF_RSP_OKAY)
                dev->stats.tx_errors++;
            dev->tx_out[id] = false;
            dev->tx_free[dev->tx_nr_free++] = id;
        }
        if (!netif_tx_front_final_check(r))
            return;
    }
}

long net_send(struct net_dev *dev, const void *frame, size_t len)
{
    uint64_t deadline = monotonic_clock() + NET_TX_WAIT_NS;
    struct netif_tx_request *req;
    unsigned long flags;
    unsigned int id;
    long rc = 0;

    if (!dev || !dev->in_use)
        return -XEN_EINVAL;
    if (len < 14)
        return -XEN_EINVAL;
    if (len > NET_MAX_FRAME)
        return -XEN_EMSGSIZE;
    flags = local_irq_save();
    for (;;) {
        if (dev->broken) {
            rc = -XEN_EIO;
            break;
        }
        take_tx(dev);
        if (dev->tx_nr_free)
            break;
        if (monotonic_clock() >= deadline) {
            rc = -XEN_EAGAIN;
            break;
        }
        block_domain(deadline);
    }
    if (rc == 0) {
        id = dev->tx_free[--dev->tx_nr_free];
        memcpy(dev->tx_buf[id], frame, len);
        dev->tx_out[id] = true;
        req = netif_tx_front_request(&dev->tx, dev->tx.req_prod_pvt);
        req->gref = dev->tx_gref[id];
        req->offset = 0;
        req->flags = 0;
        req->id = (uint16_t)id;
        req->size = (uint16_t)len;
        dev->tx.req_prod_pvt++;
        if (netif_tx_front_push(&dev->tx))
            evtchn_send(dev->port);
        dev->stats.tx_frames++;
        dev->stats.tx_bytes += len;
    }
    local_irq_restore(flags);
    return rc;
}

/* ---- Receive ---- */

/* Post buffer `id` on the rx ring (published by the caller). */
static void post_rx(struct net_dev *dev, uint16_t id)
{
    struct netif_rx_request *req = netif_rx_front_request(&dev->rx, dev->rx.req_prod_pvt);

    req->id = id;
    req->pad = 0;
    req->gref = dev->rx_gref[id];
    dev->rx_out[id] = true;
    dev->rx.req_prod_pvt++;
}

static void push_rx(struct net_dev *dev)
{
    if (netif_rx_front_push(&dev->rx))
        evtchn_send(dev->port);
}

bool net_pending(struct net_dev *dev)
{
    if (!dev || !dev->in_use || dev->broken)
        return false;
    return netif_rx_front_final_check(&dev->rx) != 0;
}

long net_poll(struct net_dev *dev)
{
    netif_rx_front_ring_t *r;
    unsigned long flags;
    long delivered = 0;

    if (!dev || !dev->in_use)
        return -XEN_EINVAL;
    if (dev->polling)
        return 0;                       /* from the receive callback: the outer call carries on */
    dev->polling = true;
    r = &dev->rx;
    flags = local_irq_save();
    take_tx(dev);
    while (!dev->broken) {
        RING_IDX prod = netif_rx_front_responses(r);

        if ((RING_IDX)(prod - r->rsp_cons) > (RING_IDX)(r->req_prod_pvt - r->rsp_cons)) {
            disable(dev, "rx rsp_prod is ahead of the requests", prod);
            break;
        }
        if (r->rsp_cons == prod) {
            push_rx(dev);
            if (!netif_rx_front_final_check(r))
                break;
            continue;
        }
        {
            const struct netif_rx_response *rsp = netif_rx_front_response(r, r->rsp_cons);
            uint16_t id = rsp->id, offset = rsp->offset, rflags = rsp->flags;
            int16_t status = rsp->status;
            bool chained = (rflags & NETRXF_more_data) != 0;

            r->rsp_cons++;
            if (id >= NET_RX_BUFFERS || !dev->rx_out[id]) {
                disable(dev, "an rx response names a buffer that is not out", id);
                break;
            }
            dev->rx_out[id] = false;
            if (status <= 0 || (uint32_t)offset + (uint32_t)status > PAGE_SIZE || chained || dev->rx_dropping ||
                (rflags & NETRXF_extra_info)) {
                /* An error, or a frame we cannot take whole: drop it (and the rest of its chain). */
                if (!dev->rx_dropping)
                    dev->stats.rx_errors++;
                dev->rx_dropping = chained;
            } else {
                dev->stats.rx_frames++;
                dev->stats.rx_bytes += (unsigned long)status;
                if (dev->rx_fn) {
                    /* The callback runs with events enabled as the caller had them: it may print, send, sleep. */
                    local_irq_restore(flags);
                    dev->rx_fn(dev, dev->rx_buf[id] + offset, (size_t)status, dev->rx_data);
                    flags = local_irq_save();
                }
                delivered++;
            }
            post_rx(dev, id);
        }
    }
    push_rx(dev);
    local_irq_restore(flags);
    dev->polling = false;
    return dev->broken ? -XEN_EIO : delivered;
}

void net_wait(struct net_dev *dev, uint64_t deadline_ns)
{
    unsigned long flags;

    if (!dev || !dev->in_use)
        return;
    flags = local_irq_save();
    if (!net_pending(dev) && (!deadline_ns || monotonic_clock() < deadline_ns))
        block_domain(deadline_ns);
    local_irq_restore(flags);
}

/* ---- The interface ---- */

unsigned int net_count(void)
{
    long n = xenbus_available() ? xenbus_device_count("vif") : 0;

    return n > 0 ? (unsigned int)n : 0;
}

const struct net_info *net_info(const struct net_dev *dev)
{
    return &dev->info;
}

const struct net_stats *net_stats(const struct net_dev *dev)
{
    return &dev->stats;
}

void net_set_receiver(struct net_dev *dev, net_rx_fn fn, void *data)
{
    unsigned long flags = local_irq_save();

    dev->rx_fn = fn;
    dev->rx_data = data;
    local_irq_restore(flags);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool net_parse_mac(const char *text, uint8_t mac[6])
{
    for (unsigned int i = 0; i < 6; i++) {
        int hi = hex_digit(text[0]), lo = hi < 0 ? -1 : hex_digit(text[1]);

        if (lo < 0 || text[2] != (i == 5 ? 0 : ':'))
            return false;
        mac[i] = (uint8_t)(hi << 4 | lo);
        text += 3;
    }
    return true;
}

static long read_mac(struct net_dev *dev)
{
    char path[XENBUS_PATH_MAX], text[24];
    const char *dirs[] = { dev->info.nodename, dev->info.backend };

    for (unsigned int i = 0; i < ARRAY_SIZE(dirs); i++) {
        snprintf(path, sizeof(path), "%s/mac", dirs[i]);
        if (xenbus_read(XBT_NIL, path, text, sizeof(text)) > 0 && net_parse_mac(text, dev->info.mac))
            return 0;
    }
    printf("netfront: %s: no usable mac in %s or %s\n", dev->info.nodename, dev->info.nodename, dev->info.backend);
    return -XEN_EINVAL;
}

/* Publish the rings and go Connected, in one transaction. */
static long publish(struct net_dev *dev)
{
    const struct { const char *key; unsigned int value; } keys[] = {
        { "tx-ring-ref", dev->tx_ring_ref },
        { "rx-ring-ref", dev->rx_ring_ref },
        { "event-channel", dev->port },
        { "request-rx-copy", 1 },
        { "feature-rx-notify", 1 },
        { "feature-no-csum-offload", 1 },
    };
    char path[XENBUS_PATH_MAX];
    xenbus_transaction_t t;
    long rc;

    do {
        rc = xenbus_transaction_start(&t);
        if (rc)
            return rc;
        for (unsigned int i = 0; i < ARRAY_SIZE(keys) && !rc; i++) {
            snprintf(path, sizeof(path), "%s/%s", dev->info.nodename, keys[i].key);
            rc = xenbus_printf(t, path, "%u", keys[i].value);
        }
        if (!rc)
            rc = xenbus_switch_state(t, dev->info.nodename, XenbusStateConnected);
        if (rc) {
            xenbus_transaction_end(t, true);
            return rc;
        }
        rc = xenbus_transaction_end(t, false);
    } while (rc == -XEN_EAGAIN);
    return rc;
}

static void end_grant(struct net_dev *dev, grant_ref_t *ref)
{
    long rc;

    if (!*ref)
        return;
    rc = gnttab_end_access(*ref);
    if (rc)
        printf("netfront: %s: grant %u still in use by the backend (%ld): leaked\n", dev->info.nodename, *ref, rc);
    *ref = 0;
}

/* Close the port and revoke every grant (after the backend let go, or on a failed open). */
static void release(struct net_dev *dev)
{
    if (dev->port) {
        evtchn_close(dev->port);
        dev->port = 0;
    }
    end_grant(dev, &dev->tx_ring_ref);
    end_grant(dev, &dev->rx_ring_ref);
    for (unsigned int i = 0; i < NET_TX_BUFFERS; i++)
        end_grant(dev, &dev->tx_gref[i]);
    for (unsigned int i = 0; i < NET_RX_BUFFERS; i++)
        end_grant(dev, &dev->rx_gref[i]);
    dev->in_use = false;
}

/* Grant the rings and the buffers, post the rx buffers, allocate the port. */
static long setup_rings(struct net_dev *dev, unsigned int slot)
{
    domid_t be = dev->info.backend_id;
    netif_tx_sring_t *txs = (netif_tx_sring_t *)tx_ring_pages[slot];
    netif_rx_sring_t *rxs = (netif_rx_sring_t *)rx_ring_pages[slot];
    long rc;

    memset(txs, 0, PAGE_SIZE);
    memset(rxs, 0, PAGE_SIZE);
    netif_tx_sring_init(txs);
    netif_rx_sring_init(rxs);
    netif_tx_front_init(&dev->tx, txs, PAGE_SIZE);
    netif_rx_front_init(&dev->rx, rxs, PAGE_SIZE);
    dev->tx_buf = tx_pages[slot];
    dev->rx_buf = rx_pages[slot];

    if ((rc = gnttab_grant_page(be, txs, false)) < 0)
        return rc;
    dev->tx_ring_ref = (grant_ref_t)rc;
    if ((rc = gnttab_grant_page(be, rxs, false)) < 0)
        return rc;
    dev->rx_ring_ref = (grant_ref_t)rc;
    for (unsigned int i = 0; i < NET_TX_BUFFERS; i++) {
        if ((rc = gnttab_grant_page(be, dev->tx_buf[i], true)) < 0)
            return rc;
        dev->tx_gref[i] = (grant_ref_t)rc;
        dev->tx_free[dev->tx_nr_free++] = (uint16_t)(NET_TX_BUFFERS - 1 - i);
    }
    for (unsigned int i = 0; i < NET_RX_BUFFERS; i++) {
        if ((rc = gnttab_grant_page(be, dev->rx_buf[i], false)) < 0)
            return rc;
        dev->rx_gref[i] = (grant_ref_t)rc;
        post_rx(dev, (uint16_t)i);
    }
    /* Published now: the backend looks at the rx ring once connected. */
    netif_rx_front_push(&dev->rx);

    rc = evtchn_alloc_unbound(be, net_event, dev);
    if (rc < 0)
        return rc;
    dev->port = (evtchn_port_t)rc;
    return 0;
}

long net_open(unsigned int index, struct net_dev **devp)
{
    struct xenbus_device xd;
    struct net_dev *dev = NULL;
    char path[XENBUS_PATH_MAX];
    unsigned int slot;
    long rc, state;

    if (!xenbus_available())
        return -XEN_ENODEV;
    rc = xenbus_device_find("vif", index, &xd);
    if (rc)
        return rc;
    for (slot = 0; slot < NET_MAX_DEVICES; slot++) {
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
    dev->xd = xd;
    memcpy(dev->info.nodename, xd.nodename, sizeof(dev->info.nodename));
    memcpy(dev->info.backend, xd.backend, sizeof(dev->info.backend));
    dev->info.backend_id = xd.backend_id;
    dev->info.devid = xd.devid;
    rc = read_mac(dev);
    if (rc) {
        dev->in_use = false;
        return rc;
    }
    snprintf(path, sizeof(path), "%s/ip", xd.backend);
    if (xenbus_read(XBT_NIL, path, dev->info.ip, sizeof(dev->info.ip)) < 0)
        dev->info.ip[0] = 0;

    /* 1. The backend in InitWait. */
    state = xenbus_frontend_prepare(&xd, monotonic_clock() + NET_TIMEOUT_NS);
    if (state < 0) {
        printf("netfront: %s: the backend %s is not ready (%ld)\n", xd.nodename, xd.backend, state);
        dev->in_use = false;
        return state;
    }

    /* 2. Rings, buffers, port; 3. publish; 4. wait for the backend. */
    rc = setup_rings(dev, slot);
    if (rc)
        goto fail;
    rc = publish(dev);
    if (rc)
        goto fail;
    state = xenbus_backend_wait(&xd, XENBUS_STATE_BIT(XenbusStateConnected) | XENBUS_STATE_BIT(XenbusStateClosing) |
                                         XENBUS_STATE_BIT(XenbusStateClosed),
                                monotonic_clock() + NET_TIMEOUT_NS);
    if (state != XenbusStateConnected) {
        if (state >= 0) {
            printf("netfront: %s: the backend refused to connect (state %ld)\n", xd.nodename, state);
            xenbus_frontend_print_error(&xd, "netfront");
        } else {
            printf("netfront: %s: no answer from the backend (%ld)\n", xd.nodename, state);
        }
        rc = state >= 0 ? -XEN_EIO : state;
        xenbus_frontend_close(&xd, monotonic_clock() + NET_TIMEOUT_NS);
        goto fail;
    }
    *devp = dev;
    return 0;

fail:
    release(dev);
    xenbus_frontend_remove_keys(&xd, ring_keys, ARRAY_SIZE(ring_keys));
    return rc;
}

long net_close(struct net_dev *dev)
{
    long rc;

    if (!dev || !dev->in_use)
        return -XEN_EINVAL;
    rc = xenbus_frontend_close(&dev->xd, monotonic_clock() + NET_TIMEOUT_NS);
    if (rc)
        printf("netfront: %s: the backend did not close (%ld)\n", dev->info.nodename, rc);
    release(dev);
    xenbus_frontend_remove_keys(&dev->xd, ring_keys, ARRAY_SIZE(ring_keys));
    return rc;
}
