/*
 * A tiny IPv4 toolkit: parsing, the Internet checksum, frame builders and
 * a responder for ARP, ICMP echo and UDP echo (include/minios/inet.h;
 * RFC 826, 791, 792, 768, 1071). Pure and freestanding: tests/host/
 * inet-test.c runs it on the host against hand-made frames.
 *
 * Layouts (network byte order, offsets within the frame):
 *   Ethernet  0 dst[6]  6 src[6]  12 type
 *   ARP      14 htype 1, ptype 0x0800, hlen 6, plen 4, op; 22 sender MAC,
 *            28 sender IP, 32 target MAC, 38 target IP (42 bytes in all)
 *   IPv4     14 ver/ihl 0x45, tos, total length, id, flags/fragment,
 *            ttl, proto, header checksum, 26 src, 30 dst (20 bytes)
 *   ICMP     34 type, code, checksum (over the ICMP message), id, seq, data
 *   UDP      34 src port, dst port, length, checksum (over a pseudo-header
 *            of src, dst, 0, proto, UDP length, then the datagram; 0 means
 *            none, and a computed 0 is sent as 0xffff)
 *
 * Received IPv4 packets may carry options (the header is IHL words) and
 * padding after the total length; fragments are not reassembled, only
 * counted as "other". Replies have a 20-byte header, TTL 64, DF set and
 * identification 0 (RFC 6864: an atomic datagram).
 */
#include <minios/inet.h>
#include <minios/lib.h>

#define REPLY_TTL 64
#define IP_DF 0x4000
#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff

const uint8_t inet_broadcast_mac[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* ---- Checksums ---- */

uint32_t inet_sum(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;

    for (; len > 1; p += 2, len -= 2) {
        sum += get16(p);
        sum = (sum & 0xffff) + (sum >> 16);     /* keep the carries folded: no overflow for any length */
    }
    if (len)
        sum += (uint32_t)p[0] << 8;
    return sum;
}

uint16_t inet_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

uint16_t inet_checksum(const void *data, size_t len)
{
    return inet_fold(inet_sum(0, data, len));
}

/* The UDP checksum of `udp` (`len` bytes, checksum field included as it is). */
static uint16_t udp_checksum(uint32_t src, uint32_t dst, const uint8_t *udp, size_t len)
{
    uint8_t pseudo[12];

    put32(pseudo, src);
    put32(pseudo + 4, dst);
    pseudo[8] = 0;
    pseudo[9] = IPPROTO_UDP;
    put16(pseudo + 10, (uint16_t)len);
    return inet_fold(inet_sum(inet_sum(0, pseudo, sizeof(pseudo)), udp, len));
}

/* ---- Addresses ---- */

bool inet_parse_ipv4(const char *text, uint32_t *ip, unsigned int *prefix)
{
    uint32_t v = 0;
    unsigned int n;

    for (unsigned int part = 0; part < 4; part++) {
        unsigned int digits = 0;

        n = 0;
        while (*text >= '0' && *text <= '9' && digits < 4) {
            n = n * 10 + (unsigned int)(*text++ - '0');
            digits++;
        }
        if (digits == 0 || digits > 3 || n > 255)
            return false;
        v = v << 8 | n;
        if (part < 3 && *text++ != '.')
            return false;
    }
    n = 24;
    if (*text == '/') {
        unsigned int digits = 0;

        text++;
        n = 0;
        while (*text >= '0' && *text <= '9' && digits < 3) {
            n = n * 10 + (unsigned int)(*text++ - '0');
            digits++;
        }
        if (digits == 0 || n > 32)
            return false;
    }
    if (*text)
        return false;
    *ip = v;
    if (prefix)
        *prefix = n;
    return true;
}

/* ---- Parsing ---- */

static enum inet_parse_result parse_arp(const uint8_t *f, size_t len, struct inet_packet *p)
{
    if (len < ETH_HLEN + 28)
        return INET_BAD;
    if (get16(f + 14) != 1 || get16(f + 16) != ETH_P_IPV4 || f[18] != ETH_ALEN || f[19] != 4)
        return INET_OTHER;              /* ARP for another protocol or link type */
    p->arp_op = get16(f + 20);
    p->arp_sender_mac = f + 22;
    p->arp_sender_ip = get32(f + 28);
    p->arp_target_mac = f + 32;
    p->arp_target_ip = get32(f + 38);
    return INET_OK;
}

static enum inet_parse_result parse_ipv4(const uint8_t *f, size_t len, struct inet_packet *p)
{
    const uint8_t *ip = f + ETH_HLEN, *l4;
    size_t ihl, total, l4len;

    if (len < ETH_HLEN + IPV4_HLEN || ip[0] >> 4 != 4)
        return INET_BAD;
    ihl = (size_t)(ip[0] & 0xf) * 4;
    total = get16(ip + 2);
    if (ihl < IPV4_HLEN || total < ihl || ETH_HLEN + total > len)
        return INET_BAD;
    if (inet_checksum(ip, ihl) != 0)
        return INET_BAD;
    p->ttl = ip[8];
    p->proto = ip[9];
    p->src_ip = get32(ip + 12);
    p->dst_ip = get32(ip + 16);
    if (get16(ip + 6) & (IP_MF | IP_OFFMASK))
        return INET_OTHER;              /* a fragment: not reassembled */
    l4 = ip + ihl;
    l4len = total - ihl;

    switch (p->proto) {
    case IPPROTO_ICMP:
        if (l4len < 8)
            return INET_BAD;
        if (inet_checksum(l4, l4len) != 0)
            return INET_BAD;
        p->icmp_type = l4[0];
        p->icmp_code = l4[1];
        p->icmp_id = get16(l4 + 4);
        p->icmp_seq = get16(l4 + 6);
        p->data = l4 + 8;
        p->data_len = l4len - 8;
        return INET_OK;
    case IPPROTO_UDP: {
        size_t ulen;

        if (l4len < UDP_HLEN)
            return INET_BAD;
        ulen = get16(l4 + 4);
        if (ulen < UDP_HLEN || ulen > l4len)
            return INET_BAD;
        if (get16(l4 + 6) != 0 && udp_checksum(p->src_ip, p->dst_ip, l4, ulen) != 0)
            return INET_BAD;
        p->src_port = get16(l4);
        p->dst_port = get16(l4 + 2);
        p->data = l4 + UDP_HLEN;
        p->data_len = ulen - UDP_HLEN;
        return INET_OK;
    }
    default:
        return INET_OTHER;
    }
}

enum inet_parse_result inet_parse(const uint8_t *frame, size_t len, struct inet_packet *p)
{
    memset(p, 0, sizeof(*p));
    if (len < ETH_HLEN)
        return INET_BAD;
    p->dst_mac = frame;
    p->src_mac = frame + 6;
    p->ethertype = get16(frame + 12);
    switch (p->ethertype) {
    case ETH_P_ARP:
        return parse_arp(frame, len, p);
    case ETH_P_IPV4:
        return parse_ipv4(frame, len, p);
    default:
        return INET_OTHER;
    }
}

/* ---- Building ---- */

/* Zero the padding up to ETH_ZLEN; returns the frame's length (0 when it does not fit). */
static size_t finish(uint8_t *buf, size_t size, size_t len)
{
    size_t out = MAX(len, (size_t)ETH_ZLEN);

    if (out > size)
        return 0;
    memset(buf + len, 0, out - len);
    return out;
}

static void eth_header(uint8_t *buf, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
    memcpy(buf, dst, ETH_ALEN);
    memcpy(buf + 6, src, ETH_ALEN);
    put16(buf + 12, type);
}

/* Ethernet and IPv4 headers for `payload` bytes of protocol `proto`. */
static void ip_header(uint8_t *buf, const uint8_t *dst_mac, const uint8_t *src_mac, uint32_t src, uint32_t dst,
                      uint8_t proto, size_t payload)
{
    uint8_t *ip = buf + ETH_HLEN;

    eth_header(buf, dst_mac, src_mac, ETH_P_IPV4);
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, (uint16_t)(IPV4_HLEN + payload));
    put16(ip + 4, 0);
    put16(ip + 6, IP_DF);
    ip[8] = REPLY_TTL;
    ip[9] = proto;
    put16(ip + 10, 0);
    put32(ip + 12, src);
    put32(ip + 16, dst);
    put16(ip + 10, inet_checksum(ip, IPV4_HLEN));
}

size_t inet_build_arp(uint8_t *buf, size_t size, uint16_t op, const uint8_t sender_mac[ETH_ALEN], uint32_t sender_ip,
                      const uint8_t *target_mac, uint32_t target_ip)
{
    static const uint8_t zero[ETH_ALEN];

    if (size < ETH_ZLEN)
        return 0;
    eth_header(buf, target_mac ? target_mac : inet_broadcast_mac, sender_mac, ETH_P_ARP);
    put16(buf + 14, 1);
    put16(buf + 16, ETH_P_IPV4);
    buf[18] = ETH_ALEN;
    buf[19] = 4;
    put16(buf + 20, op);
    memcpy(buf + 22, sender_mac, ETH_ALEN);
    put32(buf + 28, sender_ip);
    memcpy(buf + 32, target_mac ? target_mac : zero, ETH_ALEN);
    put32(buf + 38, target_ip);
    return finish(buf, size, ETH_HLEN + 28);
}

size_t inet_build_udp(uint8_t *buf, size_t size, const uint8_t dst_mac[ETH_ALEN], const uint8_t src_mac[ETH_ALEN],
                      uint32_t src_ip, uint16_t src_port, uint32_t dst_ip, uint16_t dst_port, const void *data,
                      size_t len)
{
    uint8_t *udp = buf + INET_IP_PAYLOAD;
    size_t ulen = UDP_HLEN + len;
    uint16_t c;

    if (INET_IP_PAYLOAD + ulen > size || IPV4_HLEN + ulen > 0xffff)
        return 0;
    memmove(buf + INET_UDP_PAYLOAD, data, len);     /* data may already sit there (an echo in place) */
    ip_header(buf, dst_mac, src_mac, src_ip, dst_ip, IPPROTO_UDP, ulen);
    put16(udp, src_port);
    put16(udp + 2, dst_port);
    put16(udp + 4, (uint16_t)ulen);
    put16(udp + 6, 0);
    c = udp_checksum(src_ip, dst_ip, udp, ulen);
    put16(udp + 6, c ? c : 0xffff);
    return finish(buf, size, INET_IP_PAYLOAD + ulen);
}

size_t inet_build_icmp_echo(uint8_t *buf, size_t size, uint8_t type, const uint8_t dst_mac[ETH_ALEN],
                            const uint8_t src_mac[ETH_ALEN], uint32_t src_ip, uint32_t dst_ip, uint16_t id,
                            uint16_t seq, const void *data, size_t len)
{
    uint8_t *icmp = buf + INET_IP_PAYLOAD;
    size_t ilen = 8 + len;

    if (INET_IP_PAYLOAD + ilen > size || IPV4_HLEN + ilen > 0xffff)
        return 0;
    memmove(icmp + 8, data, len);
    ip_header(buf, dst_mac, src_mac, src_ip, dst_ip, IPPROTO_ICMP, ilen);
    icmp[0] = type;
    icmp[1] = 0;
    put16(icmp + 2, 0);
    put16(icmp + 4, id);
    put16(icmp + 6, seq);
    put16(icmp + 2, inet_checksum(icmp, ilen));
    return finish(buf, size, INET_IP_PAYLOAD + ilen);
}

/* ---- The responder ---- */

size_t inet_answer(const struct inet_config *cfg, struct inet_stats *st, const uint8_t *frame, size_t len,
                   uint8_t *reply, size_t size)
{
    struct inet_packet p;
    size_t out = 0;

    switch (inet_parse(frame, len, &p)) {
    case INET_BAD:
        st->bad++;
        return 0;
    case INET_OTHER:
        st->ignored++;
        return 0;
    case INET_OK:
        break;
    }

    if (p.ethertype == ETH_P_ARP) {
        if (p.arp_op == ARP_REQUEST && p.arp_target_ip == cfg->ip && cfg->ip != 0) {
            /* To the requester's hardware address (the builder sends to the target MAC). */
            out = inet_build_arp(reply, size, ARP_REPLY, cfg->mac, cfg->ip, p.arp_sender_mac, p.arp_sender_ip);
            st->arp += out != 0;
        }
    } else if (p.dst_ip == cfg->ip && cfg->ip != 0 && memcmp(p.dst_mac, cfg->mac, ETH_ALEN) == 0) {
        if (p.proto == IPPROTO_ICMP && p.icmp_type == ICMP_ECHO_REQUEST && p.icmp_code == 0) {
            out = inet_build_icmp_echo(reply, size, ICMP_ECHO_REPLY, p.src_mac, cfg->mac, cfg->ip, p.src_ip,
                                       p.icmp_id, p.icmp_seq, p.data, p.data_len);
            st->icmp += out != 0;
        } else if (p.proto == IPPROTO_UDP && cfg->echo_port && p.dst_port == cfg->echo_port) {
            out = inet_build_udp(reply, size, p.src_mac, cfg->mac, cfg->ip, p.dst_port, p.src_ip, p.src_port,
                                 p.data, p.data_len);
            st->udp += out != 0;
        }
    }
    if (!out)
        st->ignored++;
    return out;
}
