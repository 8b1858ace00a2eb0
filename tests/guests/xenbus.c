/*
 * xenbus: the template's xenstore client (kernel/xenbus.c) against the
 * VMM's xenstored and the tree its toolstack writes.
 *
 *  1. Reading the domain's own keys: "domid" (relative to the home
 *     /local/domain/<domid>) agrees with the absolute path and with
 *     GET_DOMAIN_PATH; "name" is set.
 *  2. Writing under data/: write, read back, overwrite, xenbus_printf and
 *     xenbus_read_ulong, mkdir, directory listings, rm (then -ENOENT).
 *  3. Errors come back as errno values: -ENOENT for a missing node,
 *     -EACCES for a write to a node the toolstack owns, -E2BIG for a
 *     buffer that is too small (and the next request still works); rm of
 *     a missing node is fine while its parent exists (xenstored's rule),
 *     -ENOENT otherwise.
 *  4. Messages bigger than the 1 KiB rings: a 2000-byte value (xenstored's
 *     node-size quota is 2048) is written (the request passes the ring in
 *     pieces) and read back (the reply wraps around the ring and arrives
 *     in pieces).
 *  5. Watches: the event xenstored sends when the watch is set; one per
 *     change below the watched path, in order, also when several changes
 *     happen before the events are read (they arrive between replies and
 *     are queued); none after unwatch.
 *  6. The helpers of device drivers: xenbus_read_watch_token takes one
 *     watch's events and leaves another's queued, in order;
 *     xenbus_wait_state returns a state that holds, times out on one that
 *     never comes (and leaves no events behind); xenbus_switch_state and
 *     xenbus_read_state; no devices under device/.
 *  7. Transactions: a write inside one is invisible outside until the
 *     commit; an aborted one leaves nothing; a transaction whose read was
 *     overwritten from outside fails with -EAGAIN, and the usual retry
 *     loop then succeeds.
 */
#include "guest.h"
#include <minios/time.h>
#include <minios/xenbus.h>
#include <xen/errno.h>
#include <xen/io/xs_wire.h>

static char buf[4096];
static char big[2001];

static void expect_value(const char *path, const char *want)
{
    long n = xenbus_read(XBT_NIL, path, buf, sizeof(buf));

    if (n < 0)
        test_failure("reading %s: %ld, expected \"%s\"", path, n, want);
    else if (strcmp(buf, want) != 0 || (size_t)n != strlen(want))
        test_failure("%s is \"%s\" (%ld bytes), expected \"%s\"", path, buf, n, want);
}

static void expect_missing(const char *path)
{
    long n = xenbus_read(XBT_NIL, path, buf, sizeof(buf));

    test_check(n == -XEN_ENOENT, "reading %s: %ld, expected -ENOENT", path, n);
}

/* Is `name` among the `n` NUL-separated names in `list`? */
static bool listed(const char *list, long n, const char *name)
{
    for (const char *p = list; n-- > 0; p += strlen(p) + 1)
        if (strcmp(p, name) == 0)
            return true;
    return false;
}

static unsigned long test_identity(void)
{
    const char *parts[1];
    char path[64], domid_str[16];
    unsigned long domid = 0;
    long rc;

    rc = xenbus_read_ulong(XBT_NIL, "domid", &domid);
    if (rc || domid == 0) {
        test_failure("reading domid: %ld (%lu)", rc, domid);
        return 0;
    }
    printf("xenbus: domid %lu\n", domid);
    snprintf(path, sizeof(path), "/local/domain/%lu/domid", domid);
    snprintf(domid_str, sizeof(domid_str), "%lu", domid);
    expect_value(path, domid_str);

    parts[0] = domid_str;
    rc = xenbus_request(XS_GET_DOMAIN_PATH, XBT_NIL, parts, 1, false, buf, sizeof(buf));
    snprintf(path, sizeof(path), "/local/domain/%lu", domid);
    test_check(rc >= 0 && strcmp(buf, path) == 0, "GET_DOMAIN_PATH %lu: %ld \"%s\", expected \"%s\"", domid, rc,
               rc >= 0 ? buf : "", path);

    rc = xenbus_read(XBT_NIL, "name", buf, sizeof(buf));
    test_check(rc > 0, "reading name: %ld", rc);
    if (rc > 0)
        printf("xenbus: name \"%s\"\n", buf);
    return domid;
}

static void test_read_write(void)
{
    unsigned long v = 0;
    long rc;

    rc = xenbus_write(XBT_NIL, "data/greeting", "hello");
    test_check(rc == 0, "writing data/greeting: %ld", rc);
    expect_value("data/greeting", "hello");
    rc = xenbus_write(XBT_NIL, "data/greeting", "hello again");
    test_check(rc == 0, "overwriting data/greeting: %ld", rc);
    expect_value("data/greeting", "hello again");
    rc = xenbus_write(XBT_NIL, "data/empty", "");
    test_check(rc == 0, "writing an empty value: %ld", rc);
    expect_value("data/empty", "");

    rc = xenbus_printf(XBT_NIL, "data/number", "%u", 4096u + 7);
    test_check(rc == 0, "xenbus_printf: %ld", rc);
    rc = xenbus_read_ulong(XBT_NIL, "data/number", &v);
    test_check(rc == 0 && v == 4103, "xenbus_read_ulong: %ld, %lu", rc, v);
    rc = xenbus_read_ulong(XBT_NIL, "data/greeting", &v);
    test_check(rc == -XEN_EINVAL, "xenbus_read_ulong of \"hello again\": %ld, expected -EINVAL", rc);

    /* A write creates missing parents. */
    rc = xenbus_write(XBT_NIL, "data/deep/er/node", "x");
    test_check(rc == 0, "writing data/deep/er/node: %ld", rc);
    expect_value("data/deep/er", "");

    rc = xenbus_mkdir(XBT_NIL, "data/dir");
    test_check(rc == 0, "mkdir data/dir: %ld", rc);
    rc = xenbus_directory(XBT_NIL, "data/dir", buf, sizeof(buf));
    test_check(rc == 0, "data/dir has %ld children, expected 0", rc);
    rc = xenbus_directory(XBT_NIL, "data", buf, sizeof(buf));
    test_check(rc == 5, "data has %ld children, expected 5", rc);
    if (rc > 0) {
        static const char *const names[] = { "greeting", "empty", "number", "deep", "dir" };

        for (unsigned int i = 0; i < ARRAY_SIZE(names); i++)
            test_check(listed(buf, rc, names[i]), "\"%s\" is not listed in data/", names[i]);
    }

    rc = xenbus_rm(XBT_NIL, "data/deep");
    test_check(rc == 0, "rm data/deep: %ld", rc);
    expect_missing("data/deep/er/node");
    expect_missing("data/deep");
}

static void test_errors(void)
{
    char small[4];
    long rc;

    expect_missing("data/no-such-node");
    rc = xenbus_write(XBT_NIL, "name", "renamed");
    test_check(rc == -XEN_EACCES, "writing the toolstack's name node: %ld, expected -EACCES", rc);
    rc = xenbus_read(XBT_NIL, "data/greeting", small, sizeof(small));
    test_check(rc == -XEN_E2BIG, "reading into a 4-byte buffer: %ld, expected -E2BIG", rc);
    expect_value("data/greeting", "hello again");
    rc = xenbus_rm(XBT_NIL, "data/no-such-node");
    test_check(rc == 0, "rm of a missing node in an existing directory: %ld, expected 0", rc);
    rc = xenbus_rm(XBT_NIL, "data/no-such-dir/node");
    test_check(rc == -XEN_ENOENT, "rm of a node whose parent is missing: %ld, expected -ENOENT", rc);
}

static void test_big(void)
{
    long rc;

    for (unsigned int i = 0; i < sizeof(big) - 1; i++)
        big[i] = (char)('a' + i % 26);
    big[sizeof(big) - 1] = 0;
    rc = xenbus_write(XBT_NIL, "data/big", big);
    test_check(rc == 0, "writing a 2000-byte value: %ld", rc);
    memset(buf, 0, sizeof(buf));
    rc = xenbus_read(XBT_NIL, "data/big", buf, sizeof(buf));
    test_check(rc == (long)sizeof(big) - 1, "reading the 2000-byte value: %ld", rc);
    test_check(memcmp(buf, big, sizeof(big)) == 0, "the 2000-byte value came back different");
    /* Again, so that both rings wrap at another offset. */
    big[0] = 'Z';
    rc = xenbus_write(XBT_NIL, "data/big", big);
    rc = rc ? rc : xenbus_read(XBT_NIL, "data/big", buf, sizeof(buf));
    test_check(rc == (long)sizeof(big) - 1 && memcmp(buf, big, sizeof(big)) == 0,
               "the second 2000-byte round trip: %ld", rc);
    xenbus_rm(XBT_NIL, "data/big");
}

/* Take the next watch event and check it. */
static void expect_event(const char *want_path, const char *want_token)
{
    char path[128], token[32];
    long rc = xenbus_read_watch(path, sizeof(path), token, sizeof(token), monotonic_clock() + SECONDS(1));

    if (rc) {
        test_failure("waiting for the watch event %s: %ld", want_path, rc);
        return;
    }
    test_check(strcmp(path, want_path) == 0 && strcmp(token, want_token) == 0,
               "watch event (%s, %s), expected (%s, %s)", path, token, want_path, want_token);
}

static void test_watch(unsigned long domid)
{
    char path[128], token[32], abs_path[64];
    long rc;

    rc = xenbus_watch("data/w", "tok1");
    if (!test_check(rc == 0, "setting a watch: %ld", rc))
        return;
    expect_event("data/w", "tok1");                 /* the one xenstored sends at once */

    xenbus_write(XBT_NIL, "data/w/x", "1");
    expect_event("data/w/x", "tok1");

    /* Three writes first, then the events: they arrived between the replies. */
    xenbus_write(XBT_NIL, "data/w/a", "1");
    xenbus_write(XBT_NIL, "data/w/b", "2");
    xenbus_rm(XBT_NIL, "data/w/a");
    expect_event("data/w/a", "tok1");
    expect_event("data/w/b", "tok1");
    expect_event("data/w/a", "tok1");

    /* A second watch, by absolute path: its events carry absolute paths. */
    snprintf(abs_path, sizeof(abs_path), "/local/domain/%lu/data/w2", domid);
    rc = xenbus_watch(abs_path, "tok2");
    test_check(rc == 0, "setting a watch on %s: %ld", abs_path, rc);
    expect_event(abs_path, "tok2");

    rc = xenbus_unwatch("data/w", "tok1");
    test_check(rc == 0, "unwatch: %ld", rc);
    rc = xenbus_unwatch("data/w", "tok1");
    test_check(rc == -XEN_ENOENT, "unwatch again: %ld, expected -ENOENT", rc);
    xenbus_write(XBT_NIL, "data/w/y", "3");
    rc = xenbus_read_watch(path, sizeof(path), token, sizeof(token), monotonic_clock() + MILLISECS(50));
    test_check(rc == -XEN_ETIMEDOUT, "an event (%s, %s) after unwatch (%ld)", rc ? "" : path, rc ? "" : token, rc);
    xenbus_unwatch(abs_path, "tok2");
    test_check(xenbus_watch_events_lost() == 0, "%lu watch events were lost", xenbus_watch_events_lost());
}

/*
 * The helpers device drivers use: one watch's events taken while another
 * watch's stay queued, in order; waiting for a XenbusState; the devices
 * under device/ (none: this domain has no disks or vifs).
 */
static void test_driver_helpers(void)
{
    struct xenbus_device dev;
    char path[128];
    long rc;

    xenbus_watch("data/m", "mine");
    xenbus_watch("data/o", "other");
    xenbus_write(XBT_NIL, "data/o/1", "x");
    xenbus_write(XBT_NIL, "data/m/1", "x");
    xenbus_write(XBT_NIL, "data/o/2", "x");
    /* Queued now: data/m, data/o (the initial events), data/o/1, data/m/1, data/o/2. */
    rc = xenbus_read_watch_token("mine", path, sizeof(path), monotonic_clock() + SECONDS(1));
    test_check(rc == 0 && strcmp(path, "data/m") == 0, "first event of \"mine\": %ld %s", rc, rc ? "" : path);
    rc = xenbus_read_watch_token("mine", path, sizeof(path), monotonic_clock() + SECONDS(1));
    test_check(rc == 0 && strcmp(path, "data/m/1") == 0, "second event of \"mine\": %ld %s", rc, rc ? "" : path);
    rc = xenbus_read_watch_token("mine", path, sizeof(path), monotonic_clock() + MILLISECS(50));
    test_check(rc == -XEN_ETIMEDOUT, "a third event of \"mine\": %ld", rc);
    xenbus_unwatch("data/m", "mine");
    /* The other watch's events are all there, in order. */
    expect_event("data/o", "other");
    expect_event("data/o/1", "other");
    expect_event("data/o/2", "other");
    xenbus_unwatch("data/o", "other");

    /* States: reached at once, reached later (the watch), never (the deadline); not a state. */
    xenbus_write(XBT_NIL, "data/dev/state", "2");
    rc = xenbus_wait_state("data/dev/state", XENBUS_STATE_BIT(XenbusStateInitWait), monotonic_clock() + SECONDS(1));
    test_check(rc == XenbusStateInitWait, "waiting for a state that holds: %ld", rc);
    rc = xenbus_switch_state(XBT_NIL, "data/dev", XenbusStateConnected);
    test_check(rc == 0 && xenbus_read_state(XBT_NIL, "data/dev/state") == XenbusStateConnected,
               "xenbus_switch_state: %ld", rc);
    rc = xenbus_wait_state("data/dev/state", XENBUS_STATE_BIT(XenbusStateClosed), monotonic_clock() + MILLISECS(50));
    test_check(rc == -XEN_ETIMEDOUT, "waiting for a state that never comes: %ld", rc);
    xenbus_write(XBT_NIL, "data/dev/state", "nine");
    test_check(xenbus_read_state(XBT_NIL, "data/dev/state") == -XEN_EINVAL, "\"nine\" read as a state");
    xenbus_rm(XBT_NIL, "data/dev");
    test_check(xenbus_read_watch(path, sizeof(path), buf, 32, monotonic_clock() + MILLISECS(20)) == -XEN_ETIMEDOUT,
               "events of the helpers' own watches were left queued");

    test_check(xenbus_device_count("vbd") == 0, "device/vbd has entries");
    rc = xenbus_device_find("vif", 0, &dev);
    test_check(rc == -XEN_ENODEV, "xenbus_device_find of a missing vif: %ld", rc);
}

static void test_transactions(void)
{
    xenbus_transaction_t t, t2;
    unsigned long v = 0;
    unsigned int attempts = 0;
    long rc;

    rc = xenbus_transaction_start(&t);
    if (!test_check(rc == 0 && t != XBT_NIL, "transaction_start: %ld (id %u)", rc, t))
        return;
    rc = xenbus_write(t, "data/tx/a", "in-tx");
    test_check(rc == 0, "a write in a transaction: %ld", rc);
    rc = xenbus_read(t, "data/tx/a", buf, sizeof(buf));
    test_check(rc == 5 && strcmp(buf, "in-tx") == 0, "a read in the transaction: %ld", rc);
    expect_missing("data/tx/a");
    rc = xenbus_transaction_end(t, false);
    test_check(rc == 0, "commit: %ld", rc);
    expect_value("data/tx/a", "in-tx");

    rc = xenbus_transaction_start(&t);
    rc = rc ? rc : xenbus_write(t, "data/tx/b", "gone");
    rc = rc ? rc : xenbus_transaction_end(t, true);
    test_check(rc == 0, "an aborted transaction: %ld", rc);
    expect_missing("data/tx/b");

    /* A conflict: the counter changes behind the transaction's back, once. */
    xenbus_write(XBT_NIL, "data/counter", "10");
    do {
        attempts++;
        rc = xenbus_transaction_start(&t2);
        if (rc)
            break;
        rc = xenbus_read_ulong(t2, "data/counter", &v);
        if (attempts == 1)
            xenbus_write(XBT_NIL, "data/counter", "20");
        if (rc == 0)
            rc = xenbus_printf(t2, "data/counter", "%lu", v + 1);
        if (rc) {
            xenbus_transaction_end(t2, true);
            break;
        }
        rc = xenbus_transaction_end(t2, false);
        if (attempts == 1)
            test_check(rc == -XEN_EAGAIN, "a conflicting transaction ended with %ld, expected -EAGAIN", rc);
    } while (rc == -XEN_EAGAIN && attempts < 5);
    test_check(rc == 0 && attempts == 2, "the retry loop ended with %ld after %u attempts", rc, attempts);
    expect_value("data/counter", "21");
}

void app_main(void)
{
    unsigned long domid;

    printf("xenbus: %s kernel\n", xen_pvh ? "PVH" : "PV");
    if (!xenbus_available()) {
        test_failure("the kernel has no xenstore connection");
        test_report();
        return;
    }
    domid = test_identity();
    test_read_write();
    test_errors();
    test_big();
    test_watch(domid);
    test_driver_helpers();
    test_transactions();
    xenbus_rm(XBT_NIL, "data/greeting");
    test_report();
}
