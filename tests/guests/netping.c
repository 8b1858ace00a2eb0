/*
 * netping: a guest that pings another host on its link, and answers
 * pings itself. tests/e2e/net-peers.test.ts boots two of these on one
 * switch, each pinging the other.
 *
 * Command line: `ip=A.B.C.D` (this guest), `peer=A.B.C.D` (whom to ping),
 * `count=N` (echo requests to send, default 3), `expect=N` (echo requests
 * from the peer to answer before finishing, default 0).
 *
 *  1. ARP: a broadcast request for the peer, repeated every RETRY until a
 *     reply comes (the peer may still be booting: frames sent before its
 *     vif is connected are lost, as on a real link).
 *  2. ICMP: `count` echo requests of DATA_LEN bytes (id PING_ID, seq
 *     1..count), each resent every RETRY until its reply comes back with
 *     the same id, seq and data.
 *  3. Then it keeps answering (inet_answer: ARP, ICMP echo) until it has
 *     answered `expect` pings, and prints its counters and the verdict.
 *
 * Everything waits at most WAIT in total per step.
 */
#include "guest.h"
#include <minios/events.h>
#include <minios/inet.h>
#include <minios/netfront.h>
#include <minios/time.h>

#define PING_ID 0x5150
#define DATA_LEN 56
#define RETRY MILLISECS(200)
#define WAIT SECONDS(10)

static struct inet_config cfg = { .echo_port = 0 };
static struct inet_stats answered;
static uint32_t peer_ip;
static uint8_t peer_mac[ETH_ALEN];
static bool have_peer_mac;
static unsigned long replies, bad_replies;
static bool got_seq[64];
static uint8_t frame[NET_MAX_FRAME + ETH_ZLEN], reply[NET_MAX_FRAME + ETH_ZLEN];
static uint8_t data[DATA_LEN];

static void on_frame(struct net_dev *dev, const uint8_t *f, size_t len, void *arg)
{
    struct inet_packet p;
    size_t n;

    (void)arg;
    if (inet_parse(f, len, &p) == INET_OK) {
        if (p.ethertype == ETH_P_ARP && p.arp_op == ARP_REPLY && p.arp_sender_ip == peer_ip &&
            p.arp_target_ip == cfg.ip) {
            if (!have_peer_mac)
                printf("netping: ARP: " IPV4_FMT " is at " MAC_FMT "\n", IPV4_ARGS(peer_ip),
                       MAC_ARGS(p.arp_sender_mac));
            memcpy(peer_mac, p.arp_sender_mac, ETH_ALEN);
            have_peer_mac = true;
            return;
        }
        if (p.ethertype == ETH_P_IPV4 && p.proto == IPPROTO_ICMP && p.icmp_type == ICMP_ECHO_REPLY &&
            p.src_ip == peer_ip && p.dst_ip == cfg.ip && p.icmp_id == PING_ID) {
            if (p.icmp_seq == 0 || p.icmp_seq >= ARRAY_SIZE(got_seq) || p.data_len != DATA_LEN ||
                memcmp(p.data, data, DATA_LEN) != 0) {
                bad_replies++;
            } else if (!got_seq[p.icmp_seq]) {
                got_seq[p.icmp_seq] = true;
                replies++;
                printf("netping: reply from " IPV4_FMT ": seq %u, %zu bytes, ttl %u\n", IPV4_ARGS(p.src_ip),
                       p.icmp_seq, p.data_len, p.ttl);
            }
            return;
        }
    }
    n = inet_answer(&cfg, &answered, f, len, reply, sizeof(reply));
    if (n && net_send(dev, reply, n))
        test_failure("sending a reply failed");
}

static unsigned long cmdline_number(const char *key, unsigned long dflt)
{
    char buf[16];
    unsigned long v = 0;

    if (cmdline_get(key, buf, sizeof(buf)) <= 0)
        return dflt;
    for (const char *p = buf; *p; p++)
        v = v * 10 + (unsigned long)(*p - '0');
    return v;
}

static bool cmdline_ip(const char *key, uint32_t *ip)
{
    char text[40];
    unsigned int prefix;

    return cmdline_get(key, text, sizeof(text)) > 0 && inet_parse_ipv4(text, ip, &prefix);
}

/* Poll and sleep until `done()` or `deadline`; `resend()` every RETRY. */
static bool run_until(struct net_dev *dev, bool (*done)(void), void (*resend)(struct net_dev *), uint64_t deadline)
{
    uint64_t next = 0;

    for (;;) {
        uint64_t now;

        if (net_poll(dev) < 0) {
            test_failure("net_poll failed");
            return false;
        }
        if (done())
            return true;
        now = monotonic_clock();
        if (now >= deadline)
            return false;
        if (resend && now >= next) {
            resend(dev);
            next = now + RETRY;
        }
        net_wait(dev, resend && next < deadline ? next : deadline);
    }
}

static unsigned long count, expect;

static bool arp_done(void) { return have_peer_mac; }
static bool pings_done(void) { return replies >= count; }
static bool answers_done(void) { return answered.icmp >= expect; }

static void send_arp(struct net_dev *dev)
{
    size_t n = inet_build_arp(frame, sizeof(frame), ARP_REQUEST, cfg.mac, cfg.ip, NULL, peer_ip);

    if (net_send(dev, frame, n))
        test_failure("sending the ARP request failed");
}

static void send_pings(struct net_dev *dev)
{
    for (unsigned int seq = 1; seq <= count; seq++) {
        size_t n;

        if (got_seq[seq])
            continue;
        n = inet_build_icmp_echo(frame, sizeof(frame), ICMP_ECHO_REQUEST, peer_mac, cfg.mac, cfg.ip, peer_ip,
                                 PING_ID, (uint16_t)seq, data, DATA_LEN);
        if (net_send(dev, frame, n))
            test_failure("sending echo request %u failed", seq);
    }
}

void app_main(void)
{
    const struct net_stats *s;
    struct net_dev *dev;
    long rc;

    count = cmdline_number("count", 3);
    expect = cmdline_number("expect", 0);
    for (unsigned int i = 0; i < DATA_LEN; i++)
        data[i] = (uint8_t)(0xa0 + i);
    if (!cmdline_ip("ip", &cfg.ip) || !cmdline_ip("peer", &peer_ip) || count >= ARRAY_SIZE(got_seq)) {
        test_error("usage: ip=A.B.C.D peer=A.B.C.D [count=N<64] [expect=N]");
        test_report();
        return;
    }
    if (net_count() != 1) {
        test_error("the test wants one vif, found %u", net_count());
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
    printf("netping: " IPV4_FMT " (" MAC_FMT ") pings " IPV4_FMT " %lu times\n", IPV4_ARGS(cfg.ip),
           MAC_ARGS(cfg.mac), IPV4_ARGS(peer_ip), count);

    if (!run_until(dev, arp_done, send_arp, monotonic_clock() + WAIT))
        test_failure("no ARP reply from " IPV4_FMT, IPV4_ARGS(peer_ip));
    else if (!run_until(dev, pings_done, send_pings, monotonic_clock() + WAIT))
        test_failure("%lu of %lu echo replies from " IPV4_FMT, replies, count, IPV4_ARGS(peer_ip));
    if (!run_until(dev, answers_done, NULL, monotonic_clock() + WAIT))
        test_failure("answered %lu of %lu pings from the peer", answered.icmp, expect);
    test_check(bad_replies == 0, "%lu bad echo replies", bad_replies);

    s = net_stats(dev);
    printf("netping: %lu/%lu replies; answered %lu ARP, %lu ping; ignored %lu, bad %lu\n", replies, count,
           answered.arp, answered.icmp, answered.ignored, answered.bad);
    printf("netping: vif: rx %lu frames (%lu errors), tx %lu frames (%lu errors)\n", s->rx_frames, s->rx_errors,
           s->tx_frames, s->tx_errors);
    test_check(s->rx_errors == 0 && s->tx_errors == 0, "vif errors: rx %lu, tx %lu", s->rx_errors, s->tx_errors);
    rc = net_close(dev);
    test_check(rc == 0, "net_close: %ld", rc);
    test_report();
}
