/*
 * The network benchmark guest (a template application: `make -C
 * templates/minios APP=<this file>`), run by bench/devices.ts as two
 * domains on one in-process switch:
 *
 *   sink n=K            count K frames of EtherType 0x88b5 on vif 0; every
 *                       ACK_EVERY frames (and at K) tell the sender how
 *                       many arrived: a 60-byte frame of EtherType 0x88b6
 *                       holding the count.
 *   send n=K size=S peer=MAC
 *                       send K frames of S bytes (14..1514) to MAC, never
 *                       more than WINDOW ahead of the sink's last count, so
 *                       no queue on the way overflows; then wait for the
 *                       final count. Before the first data frame it sends
 *                       a hello (EtherType 0x88b7) every 10 ms until the
 *                       sink answers one with an ack: until then the
 *                       sink's vif may not be connected and frames to it
 *                       would be dropped.
 *
 * Both print "netbench: done" and return (the kernel powers off).
 */
#include <minios/app.h>
#include <minios/console.h>
#include <minios/inet.h>
#include <minios/lib.h>
#include <minios/netfront.h>
#include <minios/setup.h>
#include <minios/time.h>
#include <xen/errno.h>

#define ETH_P_BENCH 0x88b5
#define ETH_P_BENCH_ACK 0x88b6
#define ETH_P_BENCH_HELLO 0x88b7
#define ACK_EVERY 16
#define WINDOW 128

static unsigned long count, target;
static uint32_t acked;
static bool heard;
static uint8_t frame[NET_MAX_FRAME];

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

static uint16_t ethertype(const uint8_t *f)
{
    return (uint16_t)(f[12] << 8 | f[13]);
}

static void on_data(struct net_dev *dev, const uint8_t *f, size_t len, void *data)
{
    (void)data;
    if (len < ETH_HLEN || (ethertype(f) != ETH_P_BENCH && ethertype(f) != ETH_P_BENCH_HELLO))
        return;
    if (ethertype(f) == ETH_P_BENCH)
        count++;
    if (ethertype(f) == ETH_P_BENCH_HELLO || count % ACK_EVERY == 0 || count == target) {
        uint8_t ack[ETH_ZLEN];
        uint32_t c = (uint32_t)count;
        long rc;

        memset(ack, 0, sizeof(ack));
        memcpy(ack, f + ETH_ALEN, ETH_ALEN);
        memcpy(ack + ETH_ALEN, net_info(dev)->mac, ETH_ALEN);
        ack[12] = ETH_P_BENCH_ACK >> 8;
        ack[13] = ETH_P_BENCH_ACK & 0xff;
        memcpy(ack + ETH_HLEN, &c, sizeof(c));
        rc = net_send(dev, ack, sizeof(ack));
        if (rc)
            printf("netbench: sending an ack failed (%ld)\n", rc);
    }
}

static void on_ack(struct net_dev *dev, const uint8_t *f, size_t len, void *data)
{
    uint32_t c;

    (void)dev;
    (void)data;
    if (len < ETH_HLEN + 4 || ethertype(f) != ETH_P_BENCH_ACK)
        return;
    memcpy(&c, f + ETH_HLEN, sizeof(c));
    heard = true;
    if (c > acked)
        acked = c;
}

static bool sink(struct net_dev *dev)
{
    net_set_receiver(dev, on_data, NULL);
    while (count < target) {
        if (net_poll(dev) < 0)
            return false;
        if (count < target)
            net_wait(dev, monotonic_clock() + SECONDS(1));
    }
    printf("netbench: received %lu frames\n", count);
    return true;
}

static bool sender(struct net_dev *dev)
{
    char text[24];
    uint8_t peer[ETH_ALEN];
    size_t size = cmdline_number("size", 64);
    unsigned long sent = 0;

    if (cmdline_get("peer", text, sizeof(text)) <= 0 || !net_parse_mac(text, peer)) {
        printf("netbench: no peer=MAC\n");
        return false;
    }
    if (size < ETH_ZLEN || size > 1514) {
        printf("netbench: size=%zu is not 60..1514\n", size);
        return false;
    }
    memset(frame, 0xa5, sizeof(frame));
    memcpy(frame, peer, ETH_ALEN);
    memcpy(frame + ETH_ALEN, net_info(dev)->mac, ETH_ALEN);
    frame[12] = ETH_P_BENCH >> 8;
    frame[13] = ETH_P_BENCH & 0xff;
    net_set_receiver(dev, on_ack, NULL);
    /* Until the sink answers, it is not connected yet: frames would be lost. */
    frame[13] = ETH_P_BENCH_HELLO & 0xff;
    while (!heard) {
        if (net_send(dev, frame, ETH_ZLEN) == 0)
            net_wait(dev, monotonic_clock() + MILLISECS(10));
        if (net_poll(dev) < 0)
            return false;
    }
    frame[13] = ETH_P_BENCH & 0xff;
    while (acked < target) {
        while (sent < target && sent - acked < WINDOW) {
            long rc;

            memcpy(frame + ETH_HLEN, &sent, sizeof(sent));
            rc = net_send(dev, frame, size);
            if (rc == -XEN_EAGAIN)
                break;
            if (rc) {
                printf("netbench: net_send: %ld\n", rc);
                return false;
            }
            sent++;
        }
        if (net_poll(dev) < 0)
            return false;
        if (acked < target && (sent == target || sent - acked >= WINDOW))
            net_wait(dev, monotonic_clock() + SECONDS(1));
    }
    printf("netbench: sent %lu frames of %zu bytes\n", sent, size);
    return true;
}

void app_main(void)
{
    struct net_dev *dev;
    long rc = net_open(0, &dev);
    bool ok;

    if (rc) {
        printf("netbench: net_open: %ld\n", rc);
        return;
    }
    target = cmdline_number("n", 1000);
    ok = cmdline_has("sink") ? sink(dev) : sender(dev);
    if (!ok)
        return;
    rc = net_close(dev);
    if (rc) {
        printf("netbench: net_close: %ld\n", rc);
        return;
    }
    printf("\nnetbench: done\n");
}
