/*
 * The paravirtual block frontend (kernel/blkfront.c): the virtual disks
 * the toolstack gave the domain (xenstore device/vbd/<devid>), driven over
 * Xen's blkif protocol, x86_32 ABI (include/xen/io/blkif.h).
 *
 * Disks are numbered 0, 1, ... in ascending device id (51712 = xvda comes
 * before 51728 = xvdb); blk_count() says how many there are, without
 * waiting for anything. blk_open() does the xenbus handshake with the
 * backend and returns a handle whose blk_info() describes the disk; the
 * I/O calls are synchronous: they sleep in block_domain() until the
 * backend answered every request they made. Sector numbers and counts are
 * in 512-byte units, as in the protocol, whatever the disk's logical
 * sector size (I/O must then be aligned to it).
 *
 * Buffers may be anywhere in the kernel's memory and any length of whole
 * sectors. A buffer aligned to 512 bytes is granted to the backend page
 * by page, so the data moves with no copy; any other goes through a
 * bounce buffer of BLK_BOUNCE_PAGES pages per disk.
 *
 * Errors are negative Xen errno values: -XEN_ENODEV (no such disk, or
 * no xenstore), -XEN_EBUSY (already open), -XEN_EINVAL (range outside
 * the disk, misaligned I/O), -XEN_EROFS (writing a read-only disk),
 * -XEN_EOPNOTSUPP (the backend has no flush or discard), -XEN_EIO (the
 * backend answered BLKIF_RSP_ERROR, or refused the connection: its
 * reason is printed), -XEN_ETIMEDOUT (the backend did not answer within
 * BLK_TIMEOUT_NS; the disk is then unusable until blk_close()).
 *
 *     struct blk_dev *d;
 *     static uint8_t buf[4096] __aligned(512);
 *
 *     if (blk_open(0, &d) == 0) {
 *         printf("%llu sectors\n", (unsigned long long)blk_info(d)->sectors);
 *         blk_read(d, 0, 8, buf);      // the first 4 KiB
 *         blk_close(d);
 *     }
 */
#ifndef MINIOS_BLKFRONT_H
#define MINIOS_BLKFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <minios/time.h>
#include <xen/xen.h>

/** Disks that can be open at once. */
#define BLK_MAX_DEVICES 4
/** Pages of bounce buffer per disk, for buffers not aligned to 512 bytes (one request's worth). */
#define BLK_BOUNCE_PAGES 11
/** How long a handshake step or a request may take before the frontend gives up. */
#define BLK_TIMEOUT_NS SECONDS(30)

/** The protocol's sector: sector numbers and counts are in these units. */
#define BLK_SECTOR_SIZE 512

/** What the frontend learnt about a disk (read after the backend went Connected). */
struct blk_info {
    /** The frontend's xenstore directory: "device/vbd/<devid>". */
    char nodename[48];
    /** The backend's directory (absolute) and domain. */
    char backend[96];
    domid_t backend_id;
    /** The device id (51712 for xvda). */
    unsigned int devid;
    /** Size in 512-byte sectors ("sectors"). */
    uint64_t sectors;
    /** The logical sector size in bytes ("sector-size", 512 when absent). */
    unsigned int sector_size;
    /** "info": VDISK_CDROM, VDISK_REMOVABLE, VDISK_READONLY. */
    unsigned int info;
    /** "mode" is "r" or info has VDISK_READONLY: writes and discards are refused. */
    bool readonly;
    /** The backend's features: flush ("feature-flush-cache"), barrier, discard. */
    bool flush, barrier, discard;
};

struct blk_dev;

/** How many disks the domain has (entries under device/vbd); 0 without xenstore. */
unsigned int blk_count(void);

/**
 * Connect to disk `index` (0 = lowest device id): grant a ring page,
 * allocate an event channel for the backend, publish ring-ref,
 * event-channel, protocol "x86_32-abi" and state Connected in one
 * transaction, and wait (a watch on the backend's state) until the
 * backend is Connected. 0 with *dev set, or -XEN_Exxx.
 */
long blk_open(unsigned int index, struct blk_dev **dev);

/** The disk's description. */
const struct blk_info *blk_info(const struct blk_dev *dev);

/** Read `count` sectors from `sector` on into `buf` (count * 512 bytes). 0 or -XEN_Exxx. */
long blk_read(struct blk_dev *dev, uint64_t sector, uint32_t count, void *buf);

/**
 * Write `count` sectors from `buf` at `sector`. 0 or -XEN_Exxx. The data
 * may sit in a cache on the host until blk_flush().
 */
long blk_write(struct blk_dev *dev, uint64_t sector, uint32_t count, const void *buf);

/**
 * Make every write completed before it durable: BLKIF_OP_FLUSH_DISKCACHE
 * (or a WRITE_BARRIER with no data when the backend only has barriers).
 * 0, -XEN_EOPNOTSUPP when the backend has neither, or another -XEN_Exxx.
 */
long blk_flush(struct blk_dev *dev);

/**
 * Tell the backend that `count` sectors from `sector` on are unused
 * (BLKIF_OP_DISCARD); xenkit's backend then reads them as zeros, others
 * may not. 0, -XEN_EOPNOTSUPP without feature-discard, or -XEN_Exxx.
 */
long blk_discard(struct blk_dev *dev, uint64_t sector, uint64_t count);

/**
 * Disconnect: state Closing, wait for the backend to close, state Closed,
 * revoke the ring grant, close the event channel, remove the ring keys.
 * The handle is invalid afterwards; blk_open() may connect the disk
 * again. 0, or -XEN_Exxx when the backend did not follow (the resources
 * are released anyway, except a ring grant the backend still maps).
 */
long blk_close(struct blk_dev *dev);

#endif /* MINIOS_BLKFRONT_H */
