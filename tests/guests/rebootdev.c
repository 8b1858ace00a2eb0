/*
 * rebootdev: a guest that leaves a mark on its devices, for the tests of
 * devices across reboots (tests/cli/devices-debug.test.ts): watch mode and
 * `monitor reset` boot new machines on the same disk image and network
 * port, and each boot must find what the previous one left.
 *
 *  1. Disk 0: read sector MARK_SECTOR and print what it holds ("previous
 *     mark: ..." — the previous boot's mark, or "(none)"), then write
 *     "mark vREBOOTDEV_VERSION" there and flush.
 *  2. Vif 0: send one gratuitous ARP request (so a capture on the vif
 *     records one frame per boot).
 *  3. devices_done() (a place for a breakpoint), the verdict, poweroff —
 *     or, with `hold` on the command line, "rebootdev: holding" and sleep
 *     forever (tests/e2e/blk-kill.test.ts kills the VMM then).
 *
 * The test edits REBOOTDEV_VERSION to make a different kernel.
 */
#include "guest.h"
#include <minios/blkfront.h>
#include <minios/inet.h>
#include <minios/netfront.h>
#include <minios/time.h>
#include <xen/errno.h>

#define REBOOTDEV_VERSION 1
#define MARK_SECTOR 8
#define GUEST_IP 0x0a00002au /* 10.0.0.42 */

static uint8_t sector[BLK_SECTOR_SIZE] __aligned(PAGE_SIZE);
static uint8_t frame[NET_MAX_FRAME + ETH_ZLEN];

/* Called once both devices were used; the tests break here. */
__attribute__((noinline)) void devices_done(void)
{
    __asm__ volatile("" ::: "memory");
}

static void use_disk(void)
{
    struct blk_dev *dev;
    long rc = blk_open(0, &dev);

    if (rc < 0) {
        test_failure("blk_open: %ld", rc);
        return;
    }
    rc = blk_read(dev, MARK_SECTOR, 1, sector);
    if (rc < 0) {
        test_failure("blk_read: %ld", rc);
        return;
    }
    sector[64] = '\0';
    printf("rebootdev v%d: previous mark: %s\n", REBOOTDEV_VERSION, sector[0] != '\0' ? (const char *)sector : "(none)");
    memset(sector, 0, sizeof(sector));
    snprintf((char *)sector, 64, "mark v%d", REBOOTDEV_VERSION);
    rc = blk_write(dev, MARK_SECTOR, 1, sector);
    if (rc == 0)
        rc = blk_flush(dev);
    if (rc < 0) {
        test_failure("writing the mark: %ld", rc);
        return;
    }
    printf("rebootdev v%d: wrote mark v%d\n", REBOOTDEV_VERSION, REBOOTDEV_VERSION);
}

static void use_vif(void)
{
    struct net_dev *dev;
    long rc = net_open(0, &dev);
    size_t len;

    if (rc < 0) {
        test_failure("net_open: %ld", rc);
        return;
    }
    len = inet_build_arp(frame, sizeof(frame), 1, net_info(dev)->mac, GUEST_IP, NULL, GUEST_IP);
    rc = net_send(dev, frame, len);
    if (rc < 0) {
        test_failure("net_send: %ld", rc);
        return;
    }
    printf("rebootdev v%d: announced 10.0.0.42\n", REBOOTDEV_VERSION);
}

void app_main(void)
{
    use_disk();
    use_vif();
    devices_done();
    if (cmdline_has("hold")) {
        printf("rebootdev: holding\n");
        for (;;)
            msleep(1000);
    }
    test_report();
}
