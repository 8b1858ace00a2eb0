/*
 * net: the template's network frontend (kernel/netfront.c) and IPv4
 * toolkit (lib/inet.c) against the VMM's netback. tests/e2e/net.test.ts
 * gives the domain one vif on an in-memory switch, where a peer at
 * PEER_IP answers ARP and echoes UDP on port 7 and, once it has seen the
 * guest, sends it an ARP request and PEER_PINGS pings.
 *
 *  1. Discovery and the handshake: one vif; opening it publishes
 *     tx-ring-ref, rx-ring-ref, event-channel, request-rx-copy 1,
 *     feature-rx-notify 1 and state Connected, and finds the backend
 *     Connected; the MAC is the one in xenstore; opening it twice is
 *     -EBUSY, a second vif does not exist (-ENODEV).
 *  2. Frames of the wrong size are refused (-EINVAL, -EMSGSIZE).
 *  3. ARP: a request for the peer's address gets the peer's reply.
 *  4. UDP: datagrams of 0, 1, 100 and 1472 bytes (the largest frame, 1514
 *     bytes) come back from the peer's echo port intact.
 *  5. A burst of BURST datagrams — more than the frontend has transmit
 *     buffers (net_send waits for the backend to give some back) and than
 *     it has receive buffers (the echoes wait in the backend's queue until
 *     buffers are posted again) — all echoed, each with its own payload.
 *  6. The other direction: the peer's ARP request and pings are answered
 *     (the test checks the answers on its side).
 *  7. Teardown: net_close walks Closing/Closed (the device stays
 *     Closed); the vif opens again and still carries frames.
 */
#include "guest.h"
#include <minios/events.h>
#include <minios/inet.h>
#include <minios/netfront.h>
#include <minios/time.h>
#include <minios/xenbus.h>
#include <xen/errno.h>

#define GUEST_IP 0x0a000002u    /* 10.0.0.2 */
#define PEER_IP 0x0a000001u     /* 10.0.0.1 */
#define ECHO_PORT 7
#define PEER_PINGS 3
#define BURST 40
#define BASE_PORT 40000
#define WAIT SECONDS(5)

static struct inet_config cfg = { .ip = GUEST_IP, .echo_port = 0 };
static struct inet_stats answered;
static uint8_t peer_mac[ETH_ALEN];
static bool have_peer_mac;
static unsigned long echoes;            /* UDP datagrams from the peer's echo port that matched */
static unsigned long bad_echoes;
static uint8_t frame[NET_MAX_FRAME + ETH_ZLEN], reply[NET_MAX_FRAME + ETH_ZLEN];
static uint8_t payload[1500];

/* The payload of datagram number `n` (its source port is BASE_PORT + n). */
static size_t make_payload(unsigned int n, size_t len)
{
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)(n * 7 + i);
    return len;
}

static size_t expected_len[BURST + 8];

static void on_frame(struct net_dev *dev, const uint8_t *f, size_t len, void *data)
{
    struct inet_packet p;
    size_t n;

    (void)data;
    if (inet_parse(f, len, &p) == INET_OK) {
        if (p.ethertype == ETH_P_ARP && p.arp_op == ARP_REPLY && p.arp_sender_ip == PEER_IP &&
            p.arp_target_ip == GUEST_IP) {
            memcpy(peer_mac, p.arp_sender_mac, ETH_ALEN);
            have_peer_mac = true;
            return;
        }
        if (p.ethertype == ETH_P_IPV4 && p.proto == IPPROTO_UDP && p.src_ip == PEER_IP && p.src_port == ECHO_PORT &&
            p.dst_port >= BASE_PORT && p.dst_port < BASE_PORT + ARRAY_SIZE(expected_len)) {
            unsigned int k = p.dst_port - BASE_PORT;

            make_payload(k, p.data_len);
            if (p.data_len == expected_len[k] && memcmp(p.data, payload, p.data_len) == 0)
                echoes++;
            else
                bad_echoes++;
            return;
        }
    }
    /* Everything else: the responder (the peer's ARP requests and pings). */
    n = inet_answer(&cfg, &answered, f, len, reply, sizeof(reply));
    if (n && net_send(dev, reply, n))
        test_failure("sending a reply failed");
}

/* Poll and sleep until `*counter` reaches `want` or WAIT passes; false on timeout. */
static bool wait_for(struct net_dev *dev, const volatile unsigned long *counter, unsigned long want, const char *what)
{
    uint64_t deadline = monotonic_clock() + WAIT;

    for (;;) {
        if (net_poll(dev) < 0) {
            test_failure("%s: net_poll failed", what);
            return false;
        }
        if (*counter >= want)
            return true;
        if (monotonic_clock() >= deadline) {
            test_failure("%s: %lu of %lu after %llu s", what, *counter, want,
                         (unsigned long long)(WAIT / NSEC_PER_SEC));
            return false;
        }
        net_wait(dev, deadline);
    }
}

static bool send_udp(struct net_dev *dev, unsigned int n, size_t len)
{
    size_t flen;
    long rc;

    expected_len[n] = len;
    make_payload(n, len);
    flen = inet_build_udp(frame, sizeof(frame), peer_mac, cfg.mac, GUEST_IP, (uint16_t)(BASE_PORT + n), PEER_IP,
                          ECHO_PORT, payload, len);
    rc = net_send(dev, frame, flen);
    if (rc)
        test_failure("net_send of datagram %u (%zu bytes): %ld", n, flen, rc);
    return rc == 0;
}

static void expect_key(const char *dir, const char *key, const char *want)
{
    char path[XENBUS_PATH_MAX], value[64];
    long n;

    snprintf(path, sizeof(path), "%s/%s", dir, key);
    n = xenbus_read(XBT_NIL, path, value, sizeof(value));
    if (n < 0)
        test_failure("%s: %ld, expected \"%s\"", path, n, want ? want : "(anything)");
    else if (want && strcmp(value, want) != 0)
        test_failure("%s is \"%s\", expected \"%s\"", path, value, want);
}

static void test_handshake(struct net_dev *dev)
{
    const struct net_info *i = net_info(dev);
    struct net_dev *again;
    char path[XENBUS_PATH_MAX], text[24];
    uint8_t mac[ETH_ALEN];

    printf("net: %s: devid %u, backend %s (domain %u), mac " MAC_FMT "\n", i->nodename, i->devid, i->backend,
           i->backend_id, MAC_ARGS(i->mac));
    snprintf(path, sizeof(path), "%s/mac", i->nodename);
    if (xenbus_read(XBT_NIL, path, text, sizeof(text)) < 0 || !net_parse_mac(text, mac))
        test_failure("no readable %s", path);
    else
        test_check(memcmp(mac, i->mac, ETH_ALEN) == 0, "the MAC is not %s's \"%s\"", path, text);
    expect_key(i->nodename, "state", "4");
    expect_key(i->nodename, "request-rx-copy", "1");
    expect_key(i->nodename, "feature-rx-notify", "1");
    expect_key(i->nodename, "tx-ring-ref", NULL);
    expect_key(i->nodename, "rx-ring-ref", NULL);
    expect_key(i->nodename, "event-channel", NULL);
    expect_key(i->backend, "state", "4");
    test_check(net_open(0, &again) == -XEN_EBUSY, "opening vif 0 twice is not -EBUSY");
    test_check(net_open(1, &again) == -XEN_ENODEV, "vif 1 exists");
}

static void test_sizes(struct net_dev *dev)
{
    long rc = net_send(dev, frame, 13);

    test_check(rc == -XEN_EINVAL, "a 13-byte frame: %ld", rc);
    rc = net_send(dev, frame, NET_MAX_FRAME + 1);
    test_check(rc == -XEN_EMSGSIZE, "a %u-byte frame: %ld", NET_MAX_FRAME + 1, rc);
}

static void test_arp(struct net_dev *dev)
{
    size_t n = inet_build_arp(frame, sizeof(frame), ARP_REQUEST, cfg.mac, GUEST_IP, NULL, PEER_IP);
    uint64_t deadline = monotonic_clock() + WAIT;
    long rc = net_send(dev, frame, n);

    test_check(rc == 0, "sending the ARP request: %ld", rc);
    while (!have_peer_mac && monotonic_clock() < deadline) {
        net_poll(dev);
        if (!have_peer_mac)
            net_wait(dev, deadline);
    }
    if (test_check(have_peer_mac, "no ARP reply from " IPV4_FMT, IPV4_ARGS(PEER_IP)))
        printf("net: ARP: " IPV4_FMT " is at " MAC_FMT "\n", IPV4_ARGS(PEER_IP), MAC_ARGS(peer_mac));
}

static void test_udp(struct net_dev *dev)
{
    static const size_t sizes[] = { 0, 1, 100, 1472 };
    unsigned long before = echoes;

    for (unsigned int k = 0; k < ARRAY_SIZE(sizes); k++)
        send_udp(dev, BURST + k, sizes[k]);
    if (wait_for(dev, &echoes, before + ARRAY_SIZE(sizes), "UDP echoes"))
        printf("net: UDP: %zu datagrams of 0-1472 bytes echoed\n", ARRAY_SIZE(sizes));
}

static void test_burst(struct net_dev *dev)
{
    unsigned long before = echoes;
    unsigned int sent = 0;

    /* No net_poll while sending: the echoes pile up in the backend, the tx buffers run out. */
    for (unsigned int k = 0; k < BURST; k++)
        sent += send_udp(dev, k, 200 + k * 13);
    if (wait_for(dev, &echoes, before + sent, "burst echoes"))
        printf("net: a burst of %u datagrams, all echoed\n", sent);
}

static void test_answers(struct net_dev *dev)
{
    if (wait_for(dev, &answered.icmp, PEER_PINGS, "answering the peer's pings") &&
        wait_for(dev, &answered.arp, 1, "answering the peer's ARP request"))
        printf("net: answered %lu ARP request(s) and %lu pings from the peer\n", answered.arp, answered.icmp);
}

static void test_reopen(struct net_dev *dev)
{
    char node[48];
    unsigned long before;
    long rc;

    memcpy(node, net_info(dev)->nodename, sizeof(node));
    rc = net_close(dev);
    test_check(rc == 0, "net_close: %ld", rc);
    expect_key(node, "state", "6");
    rc = net_open(0, &dev);
    if (rc) {
        test_failure("reopening vif 0: %ld", rc);
        return;
    }
    net_set_receiver(dev, on_frame, NULL);
    before = echoes;
    send_udp(dev, BURST + 4, 64);
    if (wait_for(dev, &echoes, before + 1, "an echo after reopening"))
        printf("net: closed, reopened, and a datagram still comes back\n");
    rc = net_close(dev);
    test_check(rc == 0, "second net_close: %ld", rc);
}

void app_main(void)
{
    const struct net_stats *s;
    struct net_dev *dev;
    unsigned int n = net_count();
    long rc;

    printf("net: %u vif%s\n", n, n == 1 ? "" : "s");
    if (n != 1) {
        test_error("the test wants one vif, found %u", n);
        test_report();
        return;
    }
    rc = net_open(0, &dev);
    if (rc) {
        test_failure("net_open: %ld", rc);
        test_report();
        return;
    }
    memcpy(cfg.mac, net_info(dev)->mac, ETH_ALEN);
    net_set_receiver(dev, on_frame, NULL);
    test_handshake(dev);
    test_sizes(dev);
    test_arp(dev);
    if (have_peer_mac) {
        test_udp(dev);
        test_burst(dev);
    }
    test_answers(dev);
    test_check(bad_echoes == 0, "%lu echoes came back wrong", bad_echoes);
    s = net_stats(dev);
    printf("net: rx %lu frames, %lu errors; tx %lu frames, %lu errors\n", s->rx_frames, s->rx_errors, s->tx_frames,
           s->tx_errors);
    test_check(s->rx_errors == 0 && s->tx_errors == 0, "rx errors %lu, tx errors %lu", s->rx_errors, s->tx_errors);
    test_reopen(dev);
    test_report();
}
