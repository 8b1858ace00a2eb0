/*
 * blk: the template's block frontend (kernel/blkfront.c) against the
 * VMM's blkback. tests/e2e/blk.test.ts gives the domain two disks:
 * device 0 writable (filled with zeros), device 1 read-only and filled
 * with the pattern pattern_word(offset, RO_SEED), which the test writes
 * into the image.
 *
 *  1. Discovery and the handshake: two disks; opening one publishes
 *     ring-ref, event-channel, protocol "x86_32-abi" and state Connected,
 *     and finds the backend Connected; the disk's properties (sectors,
 *     512-byte sectors, writable, flush, barrier and discard offered);
 *     opening it twice is -EBUSY; a third disk does not exist (-ENODEV).
 *  2. The whole writable disk written with pattern_word(offset, RW_SEED)
 *     in calls of every shape — one sector, a page, exactly one request
 *     (11 pages), more requests than the ring has slots, a buffer that
 *     starts inside a page, a buffer that is not 512-byte aligned (the
 *     bounce path) — then flushed and read back, in one call for the
 *     whole disk and in odd pieces, and compared. The test then finds the
 *     same pattern in the image file.
 *  3. Errors: I/O beyond the end is -EINVAL and touches nothing; a count
 *     of 0 is a no-op.
 *  4. Discard: a discarded range reads back as zeros (xenkit's backend
 *     promises it), and its neighbours are intact.
 *  5. Teardown: blk_close walks Closing/Closed (the device stays
 *     Closed); the disk opens again (a fresh handshake) and still holds
 *     the data.
 *  6. The read-only disk: mode "r"/VDISK_READONLY, its contents read
 *     back, and writes and discards refused (-EROFS).
 *  7. (Separate boots, see test_failed_open) a backend that refuses the
 *     connection, and one that never answers.
 */
#include "guest.h"
#include <minios/blkfront.h>
#include <minios/time.h>
#include <minios/xenbus.h>
#include <xen/errno.h>
#include <xen/io/blkif.h>

#define RW_SEED 0x5eed0001u
#define RO_SEED 0x0b5e55edu
/* The largest single call: 1024 sectors (512 KiB), 94 requests for a 32-slot ring. */
#define BIG_SECTORS 1024
#define DISCARD_AT 300
#define DISCARD_COUNT 50

static uint8_t wbuf[BIG_SECTORS * BLK_SECTOR_SIZE + PAGE_SIZE] __aligned(PAGE_SIZE);
static uint8_t rbuf[BIG_SECTORS * BLK_SECTOR_SIZE + PAGE_SIZE] __aligned(PAGE_SIZE);

/* The 32-bit word at byte `offset` (a multiple of 4) of a disk filled with `seed`; tests/e2e/blk.test.ts has the same. */
static uint32_t pattern_word(uint64_t offset, uint32_t seed)
{
    return (uint32_t)(offset >> 2) * 0x9e3779b1u ^ seed;
}

static void fill(uint8_t *buf, uint64_t sector, uint32_t count, uint32_t seed)
{
    for (size_t i = 0; i < (size_t)count * BLK_SECTOR_SIZE; i += 4) {
        uint32_t w = pattern_word(sector * BLK_SECTOR_SIZE + i, seed);

        memcpy(buf + i, &w, 4);
    }
}

/* The first byte of `buf` that is not the pattern, or -1. */
static long mismatch(const uint8_t *buf, uint64_t sector, uint32_t count, uint32_t seed)
{
    for (size_t i = 0; i < (size_t)count * BLK_SECTOR_SIZE; i += 4) {
        uint32_t w = pattern_word(sector * BLK_SECTOR_SIZE + i, seed), got;

        memcpy(&got, buf + i, 4);
        if (got != w)
            return (long)i;
    }
    return -1;
}

static void expect_key(const char *dir, const char *key, const char *want)
{
    char path[XENBUS_PATH_MAX], value[64];
    long n;

    snprintf(path, sizeof(path), "%s/%s", dir, key);
    n = xenbus_read(XBT_NIL, path, value, sizeof(value));
    if (n < 0)
        test_failure("%s: %ld, expected \"%s\"", path, n, want);
    else if (want && strcmp(value, want) != 0)
        test_failure("%s is \"%s\", expected \"%s\"", path, value, want);
}

static void check_read(struct blk_dev *d, uint64_t sector, uint32_t count, uint8_t *buf, uint32_t seed,
                       const char *what)
{
    long rc, at;

    memset(buf, 0xee, (size_t)count * BLK_SECTOR_SIZE);
    rc = blk_read(d, sector, count, buf);
    if (rc) {
        test_failure("%s: blk_read(%llu, %u): %ld", what, (unsigned long long)sector, count, rc);
        return;
    }
    at = mismatch(buf, sector, count, seed);
    if (at >= 0)
        test_failure("%s: blk_read(%llu, %u) differs at byte %ld (sector %llu)", what, (unsigned long long)sector,
                     count, at, (unsigned long long)(sector + (uint64_t)at / BLK_SECTOR_SIZE));
}

static void write_range(struct blk_dev *d, uint64_t sector, uint32_t count, uint8_t *buf, const char *what)
{
    long rc;

    fill(buf, sector, count, RW_SEED);
    rc = blk_write(d, sector, count, buf);
    if (rc)
        test_failure("%s: blk_write(%llu, %u): %ld", what, (unsigned long long)sector, count, rc);
}

static void test_handshake(struct blk_dev *d)
{
    const struct blk_info *i = blk_info(d);
    struct blk_dev *again;
    char path[XENBUS_PATH_MAX];

    printf("blk: %s: devid %u, backend %s (domain %u), %llu sectors of %u, info %#x, %s, flush %d barrier %d "
           "discard %d\n",
           i->nodename, i->devid, i->backend, i->backend_id, (unsigned long long)i->sectors, i->sector_size, i->info,
           i->readonly ? "ro" : "rw", i->flush, i->barrier, i->discard);
    expect_key(i->nodename, "state", "4");
    expect_key(i->nodename, "protocol", XEN_IO_PROTO_ABI_X86_32);
    expect_key(i->nodename, "ring-ref", NULL);
    expect_key(i->nodename, "event-channel", NULL);
    expect_key(i->backend, "state", "4");
    snprintf(path, sizeof(path), "%s/state", i->backend);
    test_check(xenbus_read_state(XBT_NIL, path) == XenbusStateConnected, "xenbus_read_state(%s)", path);
    test_check(i->sector_size == 512 && !i->readonly && i->flush && i->barrier && i->discard,
               "disk 0 properties: sector size %u, readonly %d, flush %d, barrier %d, discard %d", i->sector_size,
               i->readonly, i->flush, i->barrier, i->discard);
    test_check(i->sectors >= 2 * BIG_SECTORS, "disk 0 has %llu sectors, the test wants %u",
               (unsigned long long)i->sectors, 2 * BIG_SECTORS);
    test_check(blk_open(0, &again) == -XEN_EBUSY, "opening disk 0 twice is not -EBUSY");
    test_check(blk_open(2, &again) == -XEN_ENODEV, "disk 2 exists");
}

static void test_write_everything(struct blk_dev *d)
{
    const struct blk_info *i = blk_info(d);
    uint64_t total = i->sectors, s = 0;
    /* Call sizes in sectors, used in turn until the disk is full. */
    static const uint32_t sizes[] = { 1, 7, 8, 88, 89, 1, 3, BIG_SECTORS, 200, 16 };
    unsigned int k = 0;
    long rc;

    while (s < total) {
        uint64_t want = sizes[k++ % ARRAY_SIZE(sizes)];
        uint32_t n = (uint32_t)MIN(want, total - s);

        if (k % 3 == 2 && n < BIG_SECTORS) {
            /* Starting three sectors into a page: segments with first_sect 3. */
            write_range(d, s, n, wbuf + 3 * BLK_SECTOR_SIZE, "page-offset buffer");
        } else if (k % 3 == 0 && n <= 100) {
            /* Not even 512-byte aligned: the bounce path. */
            write_range(d, s, n, wbuf + 1, "unaligned buffer");
        } else {
            write_range(d, s, n, wbuf, "aligned buffer");
        }
        s += n;
    }
    rc = blk_flush(d);
    test_check(rc == 0, "blk_flush: %ld", rc);

    /* Read back: the first half in one call, the rest in odd pieces and alignments. */
    check_read(d, 0, BIG_SECTORS, rbuf, RW_SEED, "one big read");
    for (s = BIG_SECTORS, k = 0; s < total; k++) {
        uint64_t want = k * 37 % 150 + 1;
        uint32_t n = (uint32_t)MIN(want, total - s);
        uint8_t *buf = k % 2 ? rbuf + 5 : rbuf + (k % 8) * BLK_SECTOR_SIZE;

        check_read(d, s, n, buf, RW_SEED, k % 2 ? "unaligned read" : "read");
        s += n;
    }
    printf("blk: wrote, flushed and verified %llu sectors\n", (unsigned long long)total);
}

static void test_errors(struct blk_dev *d)
{
    uint64_t total = blk_info(d)->sectors;
    long rc;

    rc = blk_read(d, total - 1, 2, rbuf);
    test_check(rc == -XEN_EINVAL, "reading past the end: %ld", rc);
    rc = blk_write(d, total, 1, wbuf);
    test_check(rc == -XEN_EINVAL, "writing past the end: %ld", rc);
    rc = blk_read(d, ~0ULL, 1, rbuf);
    test_check(rc == -XEN_EINVAL, "reading sector 2^64-1: %ld", rc);
    rc = blk_discard(d, total - 1, 2);
    test_check(rc == -XEN_EINVAL, "discarding past the end: %ld", rc);
    rc = blk_read(d, 0, 0, rbuf);
    test_check(rc == 0, "reading 0 sectors: %ld", rc);
    /* The last sector is still there. */
    check_read(d, total - 1, 1, rbuf, RW_SEED, "the last sector");
}

static void test_discard(struct blk_dev *d)
{
    long rc = blk_discard(d, DISCARD_AT, DISCARD_COUNT);
    size_t bytes = DISCARD_COUNT * BLK_SECTOR_SIZE;

    test_check(rc == 0, "blk_discard: %ld", rc);
    memset(rbuf, 0xee, bytes);
    rc = blk_read(d, DISCARD_AT, DISCARD_COUNT, rbuf);
    test_check(rc == 0, "reading the discarded range: %ld", rc);
    for (size_t b = 0; b < bytes; b++) {
        if (rbuf[b]) {
            test_failure("discarded byte %zu reads %#x", b, rbuf[b]);
            break;
        }
    }
    check_read(d, DISCARD_AT - 1, 1, rbuf, RW_SEED, "before the discarded range");
    check_read(d, DISCARD_AT + DISCARD_COUNT, 1, rbuf, RW_SEED, "after the discarded range");
}

static void test_reopen(struct blk_dev *d)
{
    char node[48];
    long rc;

    memcpy(node, blk_info(d)->nodename, sizeof(node));
    rc = blk_close(d);
    test_check(rc == 0, "blk_close: %ld", rc);
    expect_key(node, "state", "6");
    rc = blk_open(0, &d);
    if (rc) {
        test_failure("reopening disk 0: %ld", rc);
        return;
    }
    check_read(d, 0, 16, rbuf, RW_SEED, "after reopening");
    /* A write after the reconnection reaches the disk too (the test checks the image). */
    write_range(d, DISCARD_AT, 1, wbuf, "after reopening");
    rc = blk_flush(d);
    test_check(rc == 0, "blk_flush after reopening: %ld", rc);
    rc = blk_close(d);
    test_check(rc == 0, "second blk_close: %ld", rc);
    printf("blk: closed, reopened and closed again\n");
}

static void test_readonly(void)
{
    const struct blk_info *i;
    struct blk_dev *d;
    uint64_t total;
    long rc = blk_open(1, &d);

    if (rc) {
        test_failure("opening disk 1: %ld", rc);
        return;
    }
    i = blk_info(d);
    total = i->sectors;
    printf("blk: %s: devid %u, %llu sectors, info %#x, %s, discard %d\n", i->nodename, i->devid,
           (unsigned long long)total, i->info, i->readonly ? "ro" : "rw", i->discard);
    expect_key(i->backend, "mode", "r");
    test_check(i->readonly && (i->info & VDISK_READONLY), "disk 1 is not read-only (info %#x)", i->info);
    check_read(d, 0, (uint32_t)MIN(total, (uint64_t)BIG_SECTORS), rbuf, RO_SEED, "read-only disk");
    rc = blk_write(d, 0, 1, wbuf);
    test_check(rc == -XEN_EROFS, "writing the read-only disk: %ld", rc);
    rc = blk_discard(d, 0, 1);
    test_check(rc == -XEN_EROFS, "discarding on the read-only disk: %ld", rc);
    check_read(d, 0, 1, rbuf, RO_SEED, "read-only disk after the refused write");
    rc = blk_close(d);
    test_check(rc == 0, "closing disk 1: %ld", rc);
}

/*
 * With "refused" on the command line the backend will refuse the
 * connection (the test planted a ring-page-order it does not support);
 * with "silent" there is no backend at all. Either way blk_open fails
 * cleanly, and says why.
 */
static bool test_failed_open(void)
{
    struct blk_dev *d;
    long rc;

    if (cmdline_has("refused")) {
        rc = blk_open(0, &d);
        test_check(rc == -XEN_EIO, "blk_open with a backend that refuses: %ld, expected -EIO", rc);
        return true;
    }
    if (cmdline_has("silent")) {
        uint64_t t0 = monotonic_clock();

        rc = blk_open(0, &d);
        test_check(rc == -XEN_ETIMEDOUT, "blk_open with no backend: %ld, expected -ETIMEDOUT", rc);
        test_check(monotonic_clock() - t0 >= BLK_TIMEOUT_NS, "blk_open gave up before BLK_TIMEOUT_NS");
        return true;
    }
    return false;
}

void app_main(void)
{
    struct blk_dev *d;
    unsigned int n = blk_count();
    long rc;

    printf("blk: %u disks\n", n);
    if (test_failed_open()) {
        test_report();
        return;
    }
    if (n != 2) {
        test_error("the test wants two disks (rw, ro), found %u", n);
        test_report();
        return;
    }
    rc = blk_open(0, &d);
    if (rc) {
        test_failure("opening disk 0: %ld", rc);
    } else {
        test_handshake(d);
        test_write_everything(d);
        test_errors(d);
        test_discard(d);
        test_reopen(d);
    }
    test_readonly();
    test_report();
}
