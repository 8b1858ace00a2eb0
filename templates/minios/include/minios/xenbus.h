/*
 * A xenstore client (kernel/xenbus.c): the store ring set up by the
 * toolstack, requests and replies, watches and transactions.
 *
 * Paths are absolute ("/local/domain/1/name") or relative to the domain's
 * home, /local/domain/<domid> ("name", "data/x"). Every call that talks
 * to xenstored sleeps until the reply arrives (block_domain on the store
 * event channel, not a busy loop), so call them from the application or
 * kernel code, never from an event handler; they give up after
 * XENBUS_TIMEOUT_NS with -XEN_ETIMEDOUT. Errors are negative Xen errno
 * values, translated from xenstored's error names ("ENOENT" ->
 * -XEN_ENOENT); -XEN_E2BIG means the caller's buffer was too small (the
 * reply is consumed anyway).
 *
 * Transactions: every operation takes a transaction (XBT_NIL for none).
 * xenbus_transaction_end() returns -XEN_EAGAIN when another writer
 * changed something the transaction read: start over —
 *
 *     do {
 *         xenbus_transaction_start(&t);
 *         ... xenbus_read(t, ...), xenbus_write(t, ...) ...
 *         rc = xenbus_transaction_end(t, false);
 *     } while (rc == -XEN_EAGAIN);
 *
 * Watches: xenbus_watch(path, token) asks for an event whenever `path` or
 * anything below it changes, and xenstored sends one at once. Events
 * arrive mixed with replies; the client queues them (WATCH_QUEUE_BYTES;
 * beyond that the oldest are dropped and counted) until
 * xenbus_read_watch() takes them — or, for one watch's events only,
 * xenbus_read_watch_token(), which the device helpers below use so that
 * the application's own watches lose nothing while a driver waits.
 */
#ifndef MINIOS_XENBUS_H
#define MINIOS_XENBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <minios/lib.h>
#include <minios/time.h>
#include <xen/xen.h>
#include <xen/io/xenbus.h>

typedef uint32_t xenbus_transaction_t;

/** No transaction. */
#define XBT_NIL ((xenbus_transaction_t)0)

/** How long a request waits for its reply. */
#define XENBUS_TIMEOUT_NS SECONDS(10)

/** Room for a path (xenstore allows 3072 bytes; the kernel's own paths are short). */
#define XENBUS_PATH_MAX 256

/** Bytes of watch events kept until xenbus_read_watch() takes them. */
#define WATCH_QUEUE_BYTES 4096

/** Take over the store ring and its event channel. Called once by start_kernel. */
void xenbus_init(void);

/** Is there a store ring to talk to? */
bool xenbus_available(void);

/** Read `path` into `buf` (NUL-terminated); returns the value's length or -XEN_Exxx. */
long xenbus_read(xenbus_transaction_t t, const char *path, char *buf, size_t size);

/** Read `path` as an unsigned decimal number; -XEN_EINVAL if it is not one. */
long xenbus_read_ulong(xenbus_transaction_t t, const char *path, unsigned long *value);

/** Write `value` to `path` (missing parents are created); 0 or -XEN_Exxx. */
long xenbus_write(xenbus_transaction_t t, const char *path, const char *value);

/** Write a formatted value (at most 255 bytes). */
long xenbus_printf(xenbus_transaction_t t, const char *path, const char *fmt, ...) __printf(3, 4);

/** Create `path` with an empty value (no error if it exists). */
long xenbus_mkdir(xenbus_transaction_t t, const char *path);

/** Remove `path` and everything below it. */
long xenbus_rm(xenbus_transaction_t t, const char *path);

/**
 * List the children of `path` into `buf` as NUL-terminated names, one
 * after the other; returns how many there are, or -XEN_Exxx.
 */
long xenbus_directory(xenbus_transaction_t t, const char *path, char *buf, size_t size);

/** Watch `path` (and its subtree) with `token`; an event for it follows at once. */
long xenbus_watch(const char *path, const char *token);

/** Stop the watch set with the same path and token. */
long xenbus_unwatch(const char *path, const char *token);

/**
 * Take the oldest queued watch event, waiting for one until system time
 * `deadline_ns` (0: no deadline): the path that changed and the watch's
 * token. 0, -XEN_ETIMEDOUT, or -XEN_E2BIG (event dropped: a buffer was
 * too small).
 */
long xenbus_read_watch(char *path, size_t path_size, char *token, size_t token_size, uint64_t deadline_ns);

/**
 * xenbus_read_watch() for the events of one watch: take the oldest event
 * whose token is `token`, waiting for one until `deadline_ns` (0: no
 * deadline), and copy its path. Events of other watches stay queued, in
 * order, for whoever reads them. 0, -XEN_ETIMEDOUT or -XEN_E2BIG.
 */
long xenbus_read_watch_token(const char *token, char *path, size_t path_size, uint64_t deadline_ns);

/** Drop every queued event whose token is `token` (after xenbus_unwatch). */
void xenbus_drop_watch_events(const char *token);

/** Watch events dropped because the queue was full. */
unsigned long xenbus_watch_events_lost(void);

/*
 * Split-driver device states (xen/io/xenbus.h, Xen ABI reference §6): a
 * frontend and its backend each keep theirs in a `state` node of their
 * directory as a decimal XenbusState.
 */

/** Read the XenbusState at `path`: 0-8, or -XEN_Exxx (-XEN_EINVAL for something else). */
long xenbus_read_state(xenbus_transaction_t t, const char *path);

/** Write `state` to `<dir>/state`; 0 or -XEN_Exxx. */
long xenbus_switch_state(xenbus_transaction_t t, const char *dir, XenbusState state);

/** A set of states for xenbus_wait_state(). */
#define XENBUS_STATE_BIT(s) (1u << (s))

/**
 * Wait until the XenbusState at `path` is one of `states` (a mask of
 * XENBUS_STATE_BIT()s), with a watch on it meanwhile (its own token, so
 * other watches' events stay queued), or until `deadline_ns` (0: no
 * deadline). Returns the state reached, -XEN_ETIMEDOUT, or another
 * -XEN_Exxx. A missing node counts as "not yet".
 */
long xenbus_wait_state(const char *path, uint32_t states, uint64_t deadline_ns);

/** Device ids xenbus_device_find() considers per type. */
#define XENBUS_MAX_DEVICES 16

/** A frontend device as the toolstack set it up (device/<type>/<devid>). */
struct xenbus_device {
    /** "device/<type>/<devid>", relative to the domain's home. */
    char nodename[48];
    /** The backend's directory ("backend"), an absolute path. */
    char backend[96];
    /** The backend's domain ("backend-id"). */
    domid_t backend_id;
    unsigned int devid;
};

/** How many devices of `type` ("vbd", "vif") the domain has: entries under device/<type>. */
long xenbus_device_count(const char *type);

/**
 * Device `index` of `type`, counting in ascending device id: its
 * directory, backend and backend domain. 0, -XEN_ENODEV when there is no
 * such device, or -XEN_Exxx.
 */
long xenbus_device_find(const char *type, unsigned int index, struct xenbus_device *dev);

/*
 * The frontend's side of the handshake (Xen ABI reference §6), shared by
 * kernel/blkfront.c and kernel/netfront.c:
 *
 *     xenbus_device_find("vbd", 0, &d);
 *     xenbus_frontend_prepare(&d, deadline);     // backend in InitWait
 *     ... grant the ring, evtchn_alloc_unbound(d.backend_id, ...) ...
 *     ... one transaction: ring keys + xenbus_switch_state(t, d.nodename, XenbusStateConnected) ...
 *     xenbus_backend_wait(&d, XENBUS_STATE_BIT(XenbusStateConnected) | ..., deadline);
 *     ... read the backend's properties, use the device ...
 *     xenbus_frontend_close(&d, deadline);       // Closing, Closed
 *     ... revoke grants, close the port ...
 *     xenbus_frontend_remove_keys(&d, keys, n);  // ring-ref & co. gone; the state stays Closed
 *
 * A device left Closed is opened again by the same steps: prepare sends
 * it back to Initialising, and the backend starts a fresh handshake.
 */

/** xenbus_wait_state() on `<backend>/state`. */
long xenbus_backend_wait(const struct xenbus_device *dev, uint32_t states, uint64_t deadline_ns);

/**
 * Get ready to connect: a frontend left in another state than
 * Initialising by an earlier session goes back to Initialising; then wait
 * until the backend is in InitWait (for a fresh frontend, Initialised or
 * Connected do too). Returns the backend's state or -XEN_Exxx.
 */
long xenbus_frontend_prepare(const struct xenbus_device *dev, uint64_t deadline_ns);

/** Print the backend's `error` node, if it wrote one, as "<who>: <nodename>: the backend says: ...". */
void xenbus_frontend_print_error(const struct xenbus_device *dev, const char *who);

/**
 * Disconnect: state Closing, wait until the backend is Closing or Closed,
 * state Closed, wait until the backend is Closed. 0 or the first
 * -XEN_Exxx (every step is tried anyway).
 */
long xenbus_frontend_close(const struct xenbus_device *dev, uint64_t deadline_ns);

/** Remove the frontend's `keys` (ring-ref, event-channel, ...): nothing stale for the next connection. */
void xenbus_frontend_remove_keys(const struct xenbus_device *dev, const char *const keys[], unsigned int nr_keys);

/** Start a transaction. */
long xenbus_transaction_start(xenbus_transaction_t *t);

/** Commit (`abort` false) or abandon a transaction; -XEN_EAGAIN: it conflicted, start again. */
long xenbus_transaction_end(xenbus_transaction_t t, bool abort);

/**
 * Any request: `type` (XS_*) with the payload `parts` — each
 * NUL-terminated string is sent with its NUL except the last when
 * `last_raw` (a WRITE's value) — and the reply's payload copied to
 * `reply` (NUL-terminated, so `reply_size` needs one spare byte). Returns
 * the reply's length or -XEN_Exxx (an XS_ERROR reply becomes its errno).
 */
long xenbus_request(uint32_t type, xenbus_transaction_t t, const char *const parts[], unsigned int nr_parts,
                    bool last_raw, char *reply, size_t reply_size);

#endif /* MINIOS_XENBUS_H */
