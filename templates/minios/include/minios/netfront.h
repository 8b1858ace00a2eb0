/*
 * The paravirtual network frontend (kernel/netfront.c): the vifs the
 * toolstack gave the domain (xenstore device/vif/<n>), driven over Xen's
 * netif protocol, one queue, receive in copy mode (include/xen/io/netif.h).
 *
 * Frames are whole Ethernet frames without the FCS: 14 to NET_MAX_FRAME
 * bytes, checksums complete (the frontend asks the backend for complete
 * checksums on receive, and never asks it to fill one in on transmit).
 *
 * Receiving is polled, never done in the event handler: net_poll() hands
 * each waiting frame to the receive callback (net_set_receiver), in the
 * caller's context, so the callback may print and call net_send(); the
 * frame is valid only during the call. net_wait() sleeps until a frame
 * waits. A loop that also waits for other things (console input) can
 * check net_pending() with events disabled before block_domain():
 *
 *     net_set_receiver(dev, got_frame, NULL);
 *     while (!done) {
 *         net_poll(dev);              // calls got_frame for each frame
 *         net_wait(dev, monotonic_clock() + SECONDS(1));
 *     }
 *
 * Errors are negative Xen errno values: -XEN_ENODEV (no such vif, or no
 * xenstore), -XEN_EBUSY (already open), -XEN_EINVAL (a frame shorter than
 * an Ethernet header), -XEN_EMSGSIZE (longer than NET_MAX_FRAME),
 * -XEN_EAGAIN (every transmit buffer is still with the backend after
 * NET_TX_WAIT_NS), -XEN_EIO (the backend refused the connection: its
 * reason is printed; or the rings make no sense), -XEN_ETIMEDOUT (the
 * backend did not connect within NET_TIMEOUT_NS).
 */
#ifndef MINIOS_NETFRONT_H
#define MINIOS_NETFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <minios/time.h>
#include <xen/xen.h>

/** vifs that can be open at once. */
#define NET_MAX_DEVICES 2
/** Receive buffers (one page each) kept posted to the backend. */
#define NET_RX_BUFFERS 32
/** Transmit buffers (one page each): frames the backend may not have sent yet. */
#define NET_TX_BUFFERS 16
/** The longest frame: 1514 bytes, plus 4 for an 802.1Q tag. */
#define NET_MAX_FRAME 1518
/** How long the handshake may take. */
#define NET_TIMEOUT_NS SECONDS(30)
/** How long net_send() waits for a transmit buffer to come back. */
#define NET_TX_WAIT_NS SECONDS(1)

struct net_dev;

/** What the frontend knows about a vif. */
struct net_info {
    /** The frontend's xenstore directory: "device/vif/<n>". */
    char nodename[48];
    /** The backend's directory (absolute) and domain. */
    char backend[96];
    domid_t backend_id;
    unsigned int devid;
    /** The vif's MAC ("mac" in the frontend directory, else in the backend's). */
    uint8_t mac[6];
    /**
     * The `ip` node of the backend directory, where Xen's toolstack puts
     * a vif's `ip=` setting ("" when there is none): the address the
     * domain is meant to use. The frontend only reports it.
     */
    char ip[40];
};

/** Counters (plain numbers, read them any time). */
struct net_stats {
    unsigned long rx_frames, rx_bytes;
    /** Responses with an error status or a frame the frontend cannot take (chained, too long). */
    unsigned long rx_errors;
    unsigned long tx_frames, tx_bytes;
    /** Transmit responses with an error status. */
    unsigned long tx_errors;
};

/** The receive callback: one frame, valid during the call. */
typedef void (*net_rx_fn)(struct net_dev *dev, const uint8_t *frame, size_t len, void *data);

/** How many vifs the domain has (entries under device/vif); 0 without xenstore. */
unsigned int net_count(void);

/**
 * Connect to vif `index` (0 = lowest device id): grant the tx and rx ring
 * pages and NET_RX_BUFFERS receive buffers (posted at once), allocate an
 * event channel for the backend, publish tx-ring-ref, rx-ring-ref,
 * event-channel, request-rx-copy 1, feature-rx-notify 1,
 * feature-no-csum-offload 1 and state Connected in one transaction, and
 * wait (a watch on the backend's state) until the backend is Connected.
 * 0 with *dev set, or -XEN_Exxx.
 */
long net_open(unsigned int index, struct net_dev **dev);

/** The vif's description (its MAC). */
const struct net_info *net_info(const struct net_dev *dev);

/** Its counters. */
const struct net_stats *net_stats(const struct net_dev *dev);

/** Set the function net_poll() hands frames to (NULL: frames are dropped). */
void net_set_receiver(struct net_dev *dev, net_rx_fn fn, void *data);

/**
 * Copy `frame` into a transmit buffer and post it; 0 or -XEN_Exxx. The
 * frame goes out as it is: its checksums must be complete.
 */
long net_send(struct net_dev *dev, const void *frame, size_t len);

/**
 * Hand every received frame to the receive callback and post its buffer
 * again; take back transmit buffers the backend is done with. Returns
 * how many frames were delivered (or -XEN_EIO when the rings make no
 * sense). Does not sleep; not to be called from the receive callback.
 */
long net_poll(struct net_dev *dev);

/** Is a received frame waiting for net_poll()? (Asks to be notified of the next one when not.) */
bool net_pending(struct net_dev *dev);

/**
 * Sleep until a received frame waits or system time reaches `deadline_ns`
 * (0: no deadline). Other events may end the sleep early: callers loop.
 */
void net_wait(struct net_dev *dev, uint64_t deadline_ns);

/**
 * Disconnect: state Closing, wait for the backend to close, state Closed;
 * revoke the grants, close the event channel, remove the ring keys. The
 * handle is invalid afterwards; net_open() may connect the vif again. 0,
 * or -XEN_Exxx when the backend did not follow.
 */
long net_close(struct net_dev *dev);

/** "xx:xx:xx:xx:xx:xx" into `mac`; false when `text` is not a MAC. */
bool net_parse_mac(const char *text, uint8_t mac[6]);

#endif /* MINIOS_NETFRONT_H */
