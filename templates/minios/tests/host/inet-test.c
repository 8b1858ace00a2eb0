/*
 * Host unit test of lib/inet.c, built natively: the Internet checksum
 * against a plain reference (64-bit accumulator, folded at the end) and
 * RFC 1071's worked example; address parsing; and the responder on
 * frames built here byte by byte (not with the builders under test): an
 * ARP request gets the exact reply RFC 826 prescribes, an ICMP echo
 * request and a UDP datagram to the echo port come back with swapped
 * addresses and valid checksums (also when the request has IP options or
 * no UDP checksum), and everything that is not for us — or is malformed —
 * gets no answer and is counted. Prints one line per failure and a
 * summary; exits non-zero on any failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <minios/inet.h>

static unsigned long cases, failures;

#define CHECK(cond, ...)                                  \
    do {                                                  \
        cases++;                                          \
        if (!(cond) && ++failures <= 60) {                \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);   \
            printf(__VA_ARGS__);                          \
            printf("\n");                                 \
        }                                                 \
    } while (0)

static const uint8_t GUEST_MAC[6] = { 0x02, 0x16, 0x3e, 0x00, 0x00, 0x02 };
static const uint8_t PEER_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
#define GUEST_IP 0x0a000002u /* 10.0.0.2 */
#define PEER_IP 0x0a000001u  /* 10.0.0.1 */

static const struct inet_config cfg = {
    .mac = { 0x02, 0x16, 0x3e, 0x00, 0x00, 0x02 },
    .ip = GUEST_IP,
    .echo_port = 7,
};

/* ---- A reference checksum and hand-made frames ---- */

static uint16_t ref_checksum(const uint8_t *p, size_t len)
{
    uint64_t s = 0;

    for (size_t i = 0; i < len; i += 2)
        s += (uint64_t)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void w16(uint8_t *p, unsigned int v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void w32(uint8_t *p, uint32_t v)
{
    w16(p, v >> 16);
    w16(p + 2, v & 0xffff);
}

static unsigned int r16(const uint8_t *p)
{
    return (unsigned int)p[0] << 8 | p[1];
}

static uint32_t r32(const uint8_t *p)
{
    return (uint32_t)r16(p) << 16 | r16(p + 2);
}

/* Ethernet + IPv4 header with `optwords` words of options; returns the header length (eth + ip). */
static size_t make_ip(uint8_t *f, const uint8_t *dst_mac, uint32_t src, uint32_t dst, uint8_t proto, size_t payload,
                      unsigned int optwords, unsigned int frag)
{
    size_t ihl = 20 + optwords * 4;

    memcpy(f, dst_mac, 6);
    memcpy(f + 6, PEER_MAC, 6);
    w16(f + 12, 0x0800);
    f[14] = (uint8_t)(0x40 | ihl / 4);
    f[15] = 0;
    w16(f + 16, (unsigned int)(ihl + payload));
    w16(f + 18, 0x1234);
    w16(f + 20, frag);
    f[22] = 63;
    f[23] = proto;
    w16(f + 24, 0);
    w32(f + 26, src);
    w32(f + 30, dst);
    for (unsigned int i = 0; i < optwords * 4; i++)
        f[34 + i] = 1;                  /* NOP options */
    w16(f + 24, ref_checksum(f + 14, ihl));
    return 14 + ihl;
}

static size_t make_echo_request(uint8_t *f, uint32_t dst, unsigned int optwords, size_t datalen)
{
    size_t h = make_ip(f, GUEST_MAC, PEER_IP, dst, 1, 8 + datalen, optwords, 0);
    uint8_t *icmp = f + h;

    icmp[0] = 8;
    icmp[1] = 0;
    w16(icmp + 2, 0);
    w16(icmp + 4, 0xbeef);
    w16(icmp + 6, 3);
    for (size_t i = 0; i < datalen; i++)
        icmp[8 + i] = (uint8_t)(i * 3 + 1);
    w16(icmp + 2, ref_checksum(icmp, 8 + datalen));
    return h + 8 + datalen;
}

static uint16_t ref_udp_checksum(uint32_t src, uint32_t dst, const uint8_t *udp, size_t len)
{
    uint8_t buf[2048];

    w32(buf, src);
    w32(buf + 4, dst);
    buf[8] = 0;
    buf[9] = 17;
    w16(buf + 10, (unsigned int)len);
    memcpy(buf + 12, udp, len);
    return ref_checksum(buf, 12 + len);
}

static size_t make_udp(uint8_t *f, uint32_t dst, unsigned int dport, const char *data, int with_csum)
{
    size_t len = strlen(data), h = make_ip(f, GUEST_MAC, PEER_IP, dst, 17, 8 + len, 0, 0);
    uint8_t *udp = f + h;
    uint16_t c;

    w16(udp, 40000);
    w16(udp + 2, dport);
    w16(udp + 4, (unsigned int)(8 + len));
    w16(udp + 6, 0);
    memcpy(udp + 8, data, len);
    c = ref_udp_checksum(PEER_IP, dst, udp, 8 + len);
    if (with_csum)
        w16(udp + 6, c ? c : 0xffff);
    return h + 8 + len;
}

static size_t make_arp(uint8_t *f, unsigned int op, uint32_t target_ip)
{
    memset(f, 0xff, 6);
    memcpy(f + 6, PEER_MAC, 6);
    w16(f + 12, 0x0806);
    w16(f + 14, 1);
    w16(f + 16, 0x0800);
    f[18] = 6;
    f[19] = 4;
    w16(f + 20, op);
    memcpy(f + 22, PEER_MAC, 6);
    w32(f + 28, PEER_IP);
    memset(f + 32, 0, 6);
    w32(f + 38, target_ip);
    memset(f + 42, 0, 18);              /* Ethernet padding */
    return 60;
}

/* ---- The cases ---- */

static void test_checksum(void)
{
    static const uint8_t rfc1071[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
    uint8_t buf[3000];
    uint32_t x = 12345;

    /* RFC 1071 §3: the sum is 0xddf2, so the checksum is ~0xddf2. */
    CHECK(inet_checksum(rfc1071, sizeof(rfc1071)) == (uint16_t)~0xddf2, "RFC 1071 example: %#x",
          inet_checksum(rfc1071, sizeof(rfc1071)));
    for (size_t len = 0; len < sizeof(buf); len += len < 64 ? 1 : 97) {
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (uint8_t)(len % 5 == 0 ? 0xff : x >> 16);
        }
        CHECK(inet_checksum(buf, len) == ref_checksum(buf, len), "checksum of %zu bytes: %#x, want %#x", len,
              inet_checksum(buf, len), ref_checksum(buf, len));
        /* In two pieces, the first of even length. */
        CHECK(inet_fold(inet_sum(inet_sum(0, buf, len / 2 & ~1u), buf + (len / 2 & ~1u), len - (len / 2 & ~1u))) ==
                  ref_checksum(buf, len),
              "checksum of %zu bytes in two pieces", len);
    }
}

static void test_parse_ipv4(void)
{
    static const struct {
        const char *text;
        int ok;
        uint32_t ip;
        unsigned int prefix;
    } t[] = {
        { "10.0.0.2", 1, 0x0a000002, 24 },
        { "10.0.0.2/24", 1, 0x0a000002, 24 },
        { "192.168.1.254/16", 1, 0xc0a801fe, 16 },
        { "0.0.0.0/0", 1, 0, 0 },
        { "255.255.255.255/32", 1, 0xffffffff, 32 },
        { "10.0.0", 0, 0, 0 },
        { "10.0.0.256", 0, 0, 0 },
        { "10.0.0.2/33", 0, 0, 0 },
        { "10.0.0.2/", 0, 0, 0 },
        { "10.0.0.2 ", 0, 0, 0 },
        { "1000.0.0.2", 0, 0, 0 },
        { "a.b.c.d", 0, 0, 0 },
        { "", 0, 0, 0 },
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        uint32_t ip = 0;
        unsigned int prefix = 99;
        int ok = inet_parse_ipv4(t[i].text, &ip, &prefix);

        CHECK(ok == t[i].ok, "parse \"%s\": %d", t[i].text, ok);
        if (ok && t[i].ok)
            CHECK(ip == t[i].ip && prefix == t[i].prefix, "parse \"%s\": %#x/%u", t[i].text, ip, prefix);
    }
}

static void test_arp(void)
{
    uint8_t f[64], r[128];
    struct inet_stats st = { 0 };
    size_t n;

    make_arp(f, 1, GUEST_IP);
    n = inet_answer(&cfg, &st, f, 60, r, sizeof(r));
    CHECK(n == 60, "ARP reply length %zu", n);
    CHECK(memcmp(r, PEER_MAC, 6) == 0, "ARP reply goes to the requester");
    CHECK(memcmp(r + 6, GUEST_MAC, 6) == 0, "ARP reply comes from our MAC");
    CHECK(r16(r + 12) == 0x0806 && r16(r + 14) == 1 && r16(r + 16) == 0x0800 && r[18] == 6 && r[19] == 4,
          "ARP reply header");
    CHECK(r16(r + 20) == 2, "ARP reply op %u", r16(r + 20));
    CHECK(memcmp(r + 22, GUEST_MAC, 6) == 0 && r32(r + 28) == GUEST_IP, "ARP reply sender is us");
    CHECK(memcmp(r + 32, PEER_MAC, 6) == 0 && r32(r + 38) == PEER_IP, "ARP reply target is the requester");
    for (size_t i = 42; i < 60; i++)
        CHECK(r[i] == 0, "ARP reply padding byte %zu is %#x", i, r[i]);
    CHECK(st.arp == 1 && st.ignored == 0 && st.bad == 0, "ARP stats %lu/%lu/%lu", st.arp, st.ignored, st.bad);

    /* For someone else; a reply; truncated; another hardware type. */
    make_arp(f, 1, GUEST_IP + 1);
    CHECK(inet_answer(&cfg, &st, f, 60, r, sizeof(r)) == 0, "ARP for another address answered");
    make_arp(f, 2, GUEST_IP);
    CHECK(inet_answer(&cfg, &st, f, 60, r, sizeof(r)) == 0, "ARP reply answered");
    CHECK(st.ignored == 2, "ARP ignored %lu", st.ignored);
    make_arp(f, 1, GUEST_IP);
    CHECK(inet_answer(&cfg, &st, f, 41, r, sizeof(r)) == 0 && st.bad == 1, "truncated ARP");
    w16(f + 14, 6);
    CHECK(inet_answer(&cfg, &st, f, 60, r, sizeof(r)) == 0 && st.ignored == 3, "ARP for another hardware type");
    make_arp(f, 1, GUEST_IP);
    CHECK(inet_answer(&cfg, &st, f, 60, r, 59) == 0, "ARP reply into a buffer too small");
}

static void check_ip_reply(const uint8_t *r, size_t n, uint8_t proto, size_t payload)
{
    CHECK(n == (14 + 20 + payload < 60 ? 60 : 14 + 20 + payload), "reply length %zu for %zu payload bytes", n,
          payload);
    CHECK(memcmp(r, PEER_MAC, 6) == 0 && memcmp(r + 6, GUEST_MAC, 6) == 0, "reply MACs");
    CHECK(r16(r + 12) == 0x0800 && r[14] == 0x45, "reply is IPv4 without options");
    CHECK(r16(r + 16) == 20 + payload, "reply total length %u", r16(r + 16));
    CHECK(r16(r + 20) == 0x4000 && r[22] == 64 && r[23] == proto, "reply flags/ttl/proto");
    CHECK(r32(r + 26) == GUEST_IP && r32(r + 30) == PEER_IP, "reply addresses");
    CHECK(ref_checksum(r + 14, 20) == 0, "reply header checksum");
}

static void test_icmp(void)
{
    uint8_t f[1600], r[1600];
    struct inet_stats st = { 0 };
    struct inet_packet p;

    for (unsigned int opt = 0; opt <= 2; opt += 2) {
        for (size_t datalen = 0; datalen <= 1400; datalen += 56 * 25) {
            size_t len = make_echo_request(f, GUEST_IP, opt, datalen), h = 14 + 20 + opt * 4;
            size_t n = inet_answer(&cfg, &st, f, len, r, sizeof(r));

            check_ip_reply(r, n, 1, 8 + datalen);
            CHECK(r[34] == 0 && r[35] == 0, "echo reply type/code");
            CHECK(r16(r + 38) == 0xbeef && r16(r + 40) == 3, "echo reply id/seq");
            CHECK(memcmp(r + 42, f + h + 8, datalen) == 0, "echo reply data (%zu bytes)", datalen);
            CHECK(ref_checksum(r + 34, 8 + datalen) == 0, "echo reply checksum");
            CHECK(inet_parse(r, n, &p) == INET_OK && p.icmp_type == ICMP_ECHO_REPLY && p.data_len == datalen,
                  "echo reply parses");
        }
    }
    CHECK(st.icmp == 4 && st.bad == 0 && st.ignored == 0, "ICMP stats %lu/%lu/%lu", st.icmp, st.bad, st.ignored);

    /* Padding after the packet is not data. */
    {
        size_t len = make_echo_request(f, GUEST_IP, 0, 4);

        memset(f + len, 0xaa, 60 - len);
        CHECK(inet_answer(&cfg, &st, f, 60, r, sizeof(r)) == 60 && r16(r + 16) == 20 + 12, "padded echo request");
    }
    /* A bad ICMP checksum, a bad header checksum, another address, another MAC, a fragment, an echo reply. */
    make_echo_request(f, GUEST_IP, 0, 16);
    f[42] ^= 1;
    CHECK(inet_answer(&cfg, &st, f, 58, r, sizeof(r)) == 0 && st.bad == 1, "bad ICMP checksum answered");
    make_echo_request(f, GUEST_IP, 0, 16);
    f[22] ^= 1;
    CHECK(inet_answer(&cfg, &st, f, 58, r, sizeof(r)) == 0 && st.bad == 2, "bad header checksum answered");
    make_echo_request(f, GUEST_IP + 1, 0, 16);
    CHECK(inet_answer(&cfg, &st, f, 58, r, sizeof(r)) == 0, "echo for another address answered");
    make_echo_request(f, GUEST_IP, 0, 16);
    f[0] ^= 0x10;
    CHECK(inet_answer(&cfg, &st, f, 58, r, sizeof(r)) == 0, "echo to another MAC answered");
    make_ip(f, GUEST_MAC, PEER_IP, GUEST_IP, 1, 16, 0, 0x2000);
    CHECK(inet_answer(&cfg, &st, f, 50, r, sizeof(r)) == 0, "a fragment answered");
    make_echo_request(f, GUEST_IP, 0, 16);
    f[34] = 0;
    w16(f + 36, 0);
    w16(f + 36, ref_checksum(f + 34, 24));
    CHECK(inet_answer(&cfg, &st, f, 58, r, sizeof(r)) == 0, "an echo reply answered");
    CHECK(st.ignored == 4 && st.bad == 2, "ICMP ignored %lu bad %lu", st.ignored, st.bad);
    /* Truncated: total length beyond the frame. */
    CHECK(inet_answer(&cfg, &st, f, 40, r, sizeof(r)) == 0 && st.bad == 3, "truncated IPv4");
}

static void test_udp(void)
{
    uint8_t f[1600], r[1600];
    struct inet_stats st = { 0 };
    const char *msg = "hello, echo";
    size_t len, n, ml = strlen(msg);

    for (int csum = 0; csum <= 1; csum++) {
        len = make_udp(f, GUEST_IP, 7, msg, csum);
        n = inet_answer(&cfg, &st, f, len, r, sizeof(r));
        check_ip_reply(r, n, 17, 8 + ml);
        CHECK(r16(r + 34) == 7 && r16(r + 36) == 40000, "UDP reply ports %u -> %u", r16(r + 34), r16(r + 36));
        CHECK(r16(r + 38) == 8 + ml, "UDP reply length");
        CHECK(memcmp(r + 42, msg, ml) == 0, "UDP reply payload");
        CHECK(r16(r + 40) != 0 && ref_udp_checksum(GUEST_IP, PEER_IP, r + 34, 8 + ml) == 0, "UDP reply checksum");
    }
    CHECK(st.udp == 2, "UDP echoes %lu", st.udp);
    len = make_udp(f, GUEST_IP, 9, msg, 1);
    CHECK(inet_answer(&cfg, &st, f, len, r, sizeof(r)) == 0 && st.ignored == 1, "UDP to another port answered");
    len = make_udp(f, GUEST_IP, 7, msg, 1);
    f[45] ^= 0x20;
    CHECK(inet_answer(&cfg, &st, f, len, r, sizeof(r)) == 0 && st.bad == 1, "UDP with a bad checksum answered");
    len = make_udp(f, GUEST_IP, 7, msg, 1);
    w16(f + 38, 100);
    CHECK(inet_answer(&cfg, &st, f, len, r, sizeof(r)) == 0 && st.bad == 2, "UDP longer than its packet");
    {
        struct inet_config none = cfg;

        none.echo_port = 0;
        len = make_udp(f, GUEST_IP, 0, msg, 1);
        CHECK(inet_answer(&none, &st, f, len, r, sizeof(r)) == 0, "UDP to port 0 with no echo port answered");
    }
    /* Non-IP frames. */
    memset(f, 0, 60);
    w16(f + 12, 0x86dd);
    CHECK(inet_answer(&cfg, &st, f, 60, r, sizeof(r)) == 0, "IPv6 answered");
    CHECK(inet_answer(&cfg, &st, f, 10, r, sizeof(r)) == 0 && st.bad == 3, "a runt frame");
}

static void test_builders(void)
{
    uint8_t f[1600];
    struct inet_packet p;
    size_t n;

    n = inet_build_udp(f, sizeof(f), PEER_MAC, GUEST_MAC, GUEST_IP, 1234, PEER_IP, 7, "abc", 3);
    CHECK(n == 60, "UDP frame length %zu", n);
    CHECK(inet_parse(f, n, &p) == INET_OK && p.proto == 17 && p.src_port == 1234 && p.dst_port == 7 &&
              p.data_len == 3 && memcmp(p.data, "abc", 3) == 0 && p.src_ip == GUEST_IP && p.dst_ip == PEER_IP,
          "UDP frame parses back");
    CHECK(ref_udp_checksum(GUEST_IP, PEER_IP, f + 34, 11) == 0, "UDP frame checksum");
    n = inet_build_arp(f, sizeof(f), ARP_REQUEST, GUEST_MAC, GUEST_IP, NULL, PEER_IP);
    CHECK(n == 60 && memcmp(f, inet_broadcast_mac, 6) == 0, "ARP request to broadcast");
    CHECK(inet_parse(f, n, &p) == INET_OK && p.arp_op == 1 && p.arp_sender_ip == GUEST_IP &&
              p.arp_target_ip == PEER_IP && memcmp(p.arp_sender_mac, GUEST_MAC, 6) == 0,
          "ARP request parses back");
    n = inet_build_icmp_echo(f, sizeof(f), ICMP_ECHO_REQUEST, PEER_MAC, GUEST_MAC, GUEST_IP, PEER_IP, 9, 10, "ping",
                             4);
    CHECK(inet_parse(f, n, &p) == INET_OK && p.icmp_type == 8 && p.icmp_id == 9 && p.icmp_seq == 10 &&
              p.data_len == 4,
          "echo request parses back");
    CHECK(inet_build_udp(f, 50, PEER_MAC, GUEST_MAC, GUEST_IP, 1, PEER_IP, 2, "x", 1) == 0,
          "UDP frame into a buffer too small");
}

int main(void)
{
    test_checksum();
    test_parse_ipv4();
    test_arp();
    test_icmp();
    test_udp();
    test_builders();
    printf("inet: %lu cases, %lu failures\n", cases, failures);
    return failures != 0;
}
