/*
 * The block benchmark guest (a template application: `make -C
 * templates/minios APP=<this file>`), run by bench/devices.ts. The
 * command line picks the direction and the amount:
 *
 *   read mb=N   N MiB read from disk 0 sequentially, 64 KiB per blk_read
 *               (the image wraps around); each 64 KiB chunk of the image
 *               starts with its chunk number, which is checked.
 *   write mb=N  the same with blk_write (the chunk number written first).
 *
 * It prints "blkbench: done" and returns (the kernel powers off).
 */
#include <minios/app.h>
#include <minios/console.h>
#include <minios/blkfront.h>
#include <minios/lib.h>
#include <minios/setup.h>

#define CHUNK (64 * 1024)
#define CHUNK_SECTORS (CHUNK / BLK_SECTOR_SIZE)

static uint8_t buf[CHUNK] __attribute__((aligned(4096)));

static unsigned long cmdline_number(const char *key, unsigned long dflt)
{
    char text[16];
    unsigned long v = 0;

    if (cmdline_get(key, text, sizeof(text)) <= 0)
        return dflt;
    for (const char *p = text; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (unsigned long)(*p - '0');
    return v;
}

void app_main(void)
{
    struct blk_dev *d;
    bool writing = cmdline_has("write");
    unsigned long chunks = cmdline_number("mb", 1) * (1024 * 1024 / CHUNK), disk_chunks;
    long rc = blk_open(0, &d);

    if (rc) {
        printf("blkbench: blk_open: %ld\n", rc);
        return;
    }
    disk_chunks = (unsigned long)(blk_info(d)->sectors / CHUNK_SECTORS);
    if (disk_chunks == 0) {
        printf("blkbench: the disk is smaller than 64 KiB\n");
        return;
    }
    memset(buf, 0x5a, sizeof(buf));
    for (unsigned long i = 0; i < chunks; i++) {
        uint32_t c = (uint32_t)(i % disk_chunks);
        uint64_t sector = (uint64_t)c * CHUNK_SECTORS;

        if (writing) {
            memcpy(buf, &c, sizeof(c));
            rc = blk_write(d, sector, CHUNK_SECTORS, buf);
        } else {
            rc = blk_read(d, sector, CHUNK_SECTORS, buf);
            if (!rc && memcmp(buf, &c, sizeof(c)) != 0) {
                printf("blkbench: chunk %u does not start with its number\n", c);
                return;
            }
        }
        if (rc) {
            printf("blkbench: %s of chunk %u: %ld\n", writing ? "write" : "read", c, rc);
            return;
        }
    }
    rc = blk_close(d);
    if (rc) {
        printf("blkbench: blk_close: %ld\n", rc);
        return;
    }
    printf("\nblkbench: done %lu chunks\n", chunks);
}
