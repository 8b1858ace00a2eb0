/*
 * blkdemo: the block frontend (include/minios/blkfront.h) on every disk
 * the domain has. Build it with `make APP=app/blkdemo.c O=build/blkdemo`
 * and give the domain a disk:
 *
 *     truncate -s 16M scratch.img
 *     xenkit run build/blkdemo/kernel.elf --disk scratch.img
 *
 * For each disk it connects, prints what the backend says the disk is,
 * and shows the start of sector 0. On a writable disk it then takes
 * DEMO_SECTORS sectors in the middle of the disk, saves them, writes a
 * pattern there (each 512-byte sector starts with its own number, so a
 * hex dump of the image shows where the data went), flushes, reads the
 * sectors back and compares, and finally writes the saved contents back
 * and flushes again — the disk ends as it was, unless the run is killed
 * in between: use a scratch image. On a read-only disk (`--disk
 * IMAGE,ro`) it checks that writing is refused (-XEN_EROFS).
 *
 * The verdict is the XTF-style line of include/minios/test.h: "Test
 * result: SUCCESS" when every disk verified, SKIP when there is no disk,
 * FAILURE with the reason otherwise.
 */
#include <minios/app.h>
#include <minios/blkfront.h>
#include <minios/console.h>
#include <minios/lib.h>
#include <minios/test.h>
#include <minios/time.h>
#include <xen/errno.h>
#include <xen/io/blkif.h>

/* 64 sectors = 32 KiB: three requests of up to 11 pages, all in flight at once. */
#define DEMO_SECTORS 64
#define DEMO_BYTES (DEMO_SECTORS * BLK_SECTOR_SIZE)

static uint8_t saved[DEMO_BYTES] __aligned(4096);
static uint8_t pattern[DEMO_BYTES] __aligned(4096);
static uint8_t readback[DEMO_BYTES] __aligned(4096);

static void hexdump(const char *prefix, const uint8_t *p, size_t n)
{
    for (size_t off = 0; off < n; off += 16) {
        printf("%s%04zx ", prefix, off);
        for (size_t i = 0; i < 16; i++)
            printf(" %02x", p[off + i]);
        printf("  |");
        for (size_t i = 0; i < 16; i++)
            printf("%c", p[off + i] >= 0x20 && p[off + i] < 0x7f ? p[off + i] : '.');
        printf("|\n");
    }
}

/* Every sector: "blkdemo sector <n>\n", then bytes that depend on the sector and the offset. */
static void make_pattern(uint8_t *buf, uint64_t first, unsigned int count, uint32_t seed)
{
    for (unsigned int s = 0; s < count; s++) {
        uint8_t *p = buf + (size_t)s * BLK_SECTOR_SIZE;
        int n = snprintf((char *)p, BLK_SECTOR_SIZE, "blkdemo sector %llu\n", (unsigned long long)(first + s));

        for (unsigned int i = (unsigned int)n; i < BLK_SECTOR_SIZE; i++)
            p[i] = (uint8_t)((first + s) * 31 + i * 7 + seed);
    }
}

static const char *yes(bool b)
{
    return b ? "yes" : "no";
}

static void demo_readonly(struct blk_dev *d, const struct blk_info *info)
{
    long rc = blk_write(d, 0, 1, readback);

    if (rc == -XEN_EROFS)
        printf("blkdemo: %s: read-only: writing is refused (-EROFS), as it should be\n", info->nodename);
    else
        test_failure("%s: writing a read-only disk gave %ld, not -EROFS (%d)", info->nodename, rc, -XEN_EROFS);
}

static void demo_readwrite(struct blk_dev *d, const struct blk_info *info)
{
    unsigned int count = (unsigned int)MIN((uint64_t)DEMO_SECTORS, info->sectors);
    uint64_t start = (info->sectors - count) / 2 & ~7ULL;      /* page-aligned on the disk */
    uint64_t t0;
    long rc;

    printf("blkdemo: %s: exercising sectors %llu-%llu (saved first, restored at the end)\n", info->nodename,
           (unsigned long long)start, (unsigned long long)(start + count - 1));
    rc = blk_read(d, start, count, saved);
    if (rc) {
        test_failure("%s: reading sectors %llu+%u: %ld", info->nodename, (unsigned long long)start, count, rc);
        return;
    }
    make_pattern(pattern, start, count, (uint32_t)info->devid);

    t0 = monotonic_clock();
    rc = blk_write(d, start, count, pattern);
    if (rc) {
        test_failure("%s: writing the pattern: %ld", info->nodename, rc);
        return;
    }
    rc = blk_flush(d);
    if (rc == -XEN_EOPNOTSUPP)
        printf("blkdemo: %s: the backend has no flush; the data may still be in a host cache\n", info->nodename);
    else if (rc)
        test_failure("%s: flush: %ld", info->nodename, rc);
    memset(readback, 0, sizeof(readback));
    rc = blk_read(d, start, count, readback);
    if (rc) {
        test_failure("%s: reading the pattern back: %ld", info->nodename, rc);
    } else if (memcmp(readback, pattern, (size_t)count * BLK_SECTOR_SIZE) != 0) {
        size_t i = 0;

        while (readback[i] == pattern[i])
            i++;
        test_failure("%s: read back differs at byte %zu (sector %llu): %#x, wrote %#x", info->nodename, i,
                     (unsigned long long)(start + i / BLK_SECTOR_SIZE), readback[i], pattern[i]);
    } else {
        printf("blkdemo: %s: wrote, flushed and read back %u sectors (%u KiB) in %llu us: verified\n",
               info->nodename, count, count / 2, (unsigned long long)((monotonic_clock() - t0) / 1000));
        hexdump("blkdemo:   ", readback, 32);
    }

    rc = blk_write(d, start, count, saved);
    if (!rc)
        rc = blk_flush(d);
    if (rc && rc != -XEN_EOPNOTSUPP)
        test_failure("%s: restoring the saved sectors: %ld", info->nodename, rc);
    else
        printf("blkdemo: %s: the saved sectors are back\n", info->nodename);
}

static void demo_disk(unsigned int index)
{
    const struct blk_info *info;
    struct blk_dev *d;
    long rc = blk_open(index, &d);

    if (rc) {
        test_failure("disk %u: blk_open: %ld", index, rc);
        return;
    }
    info = blk_info(d);
    printf("blkdemo: %s (backend %s, domain %u): %llu sectors (%llu MiB), %u-byte sectors, %s\n", info->nodename,
           info->backend, info->backend_id, (unsigned long long)info->sectors,
           (unsigned long long)(info->sectors >> 11), info->sector_size, info->readonly ? "read-only" : "read-write");
    printf("blkdemo: %s: info %#x, flush %s, barrier %s, discard %s\n", info->nodename, info->info, yes(info->flush),
           yes(info->barrier), yes(info->discard));

    if (info->sectors > 0) {
        rc = blk_read(d, 0, 1, readback);
        if (rc) {
            test_failure("%s: reading sector 0: %ld", info->nodename, rc);
        } else {
            printf("blkdemo: %s: sector 0 starts with\n", info->nodename);
            hexdump("blkdemo:   ", readback, 32);
        }
    }
    if (info->readonly)
        demo_readonly(d, info);
    else if (info->sectors > 0)
        demo_readwrite(d, info);

    rc = blk_close(d);
    if (rc)
        test_failure("%s: blk_close: %ld", info->nodename, rc);
    else
        printf("blkdemo: %s: closed\n", info->nodename);
}

void app_main(void)
{
    unsigned int n = blk_count();

    printf("blkdemo: %u disk%s\n", n, n == 1 ? "" : "s");
    if (n == 0)
        test_skip("no disk: give the domain one, e.g. xenkit run kernel.elf --disk scratch.img");
    for (unsigned int i = 0; i < n && i < BLK_MAX_DEVICES; i++)
        demo_disk(i);
    test_report();
}
