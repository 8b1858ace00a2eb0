/*
 * A tiny IPv4 toolkit over Ethernet frames (lib/inet.c): enough for a
 * kernel to be pinged and to talk UDP on one link. Pure functions over
 * byte buffers — no driver, no state, no allocation — so the same code
 * runs in the guest (app/netdemo.c, over include/minios/netfront.h) and
 * in the host unit test (tests/host/inet-test.c).
 *
 * What it knows: Ethernet II (no VLAN tags), ARP for IPv4 over Ethernet
 * (RFC 826), IPv4 without options or fragments (RFC 791), ICMP echo (RFC
 * 792), UDP (RFC 768), and the Internet checksum (RFC 1071).
 *
 * The responder, inet_answer(), is a host on the link: it answers ARP
 * requests for its address, ICMP echo requests to it, and UDP datagrams
 * to its echo port with the same payload. Replies go back to the
 * Ethernet source of the request, so it needs no ARP cache. Frames it
 * builds are padded to ETH_ZLEN (60) bytes, as a NIC would.
 *
 * Addresses are uint32_t in host order (10.0.0.2 is 0x0a000002); print
 * them with IPV4_FMT / IPV4_ARGS(ip). Checksums of received packets are
 * checked (a UDP checksum of 0 means "none"); packets that fail are
 * counted as bad and not answered.
 */
#ifndef MINIOS_INET_H
#define MINIOS_INET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETH_ALEN 6
#define ETH_HLEN 14
/** Shortest frame on the wire (without the FCS): shorter ones are padded. */
#define ETH_ZLEN 60
#define ETH_P_IPV4 0x0800
#define ETH_P_ARP 0x0806

#define IPV4_HLEN 20
#define IPPROTO_ICMP 1
#define IPPROTO_UDP 17
#define UDP_HLEN 8
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8
#define ARP_REQUEST 1
#define ARP_REPLY 2

/** Frame offsets of an IPv4 packet's payload (no options) and of a UDP payload. */
#define INET_IP_PAYLOAD (ETH_HLEN + IPV4_HLEN)
#define INET_UDP_PAYLOAD (INET_IP_PAYLOAD + UDP_HLEN)

#define IPV4_FMT "%u.%u.%u.%u"
#define IPV4_ARGS(ip) (unsigned int)((ip) >> 24), (unsigned int)((ip) >> 16 & 0xff), \
                      (unsigned int)((ip) >> 8 & 0xff), (unsigned int)((ip) & 0xff)
#define MAC_FMT "%02x:%02x:%02x:%02x:%02x:%02x"
#define MAC_ARGS(m) (m)[0], (m)[1], (m)[2], (m)[3], (m)[4], (m)[5]

/** The broadcast MAC. */
extern const uint8_t inet_broadcast_mac[ETH_ALEN];

/** Who the responder is. */
struct inet_config {
    uint8_t mac[ETH_ALEN];
    uint32_t ip;
    /** The UDP port whose datagrams are echoed (7 is "echo"); 0: none. */
    uint16_t echo_port;
};

/** What the responder saw (plain counters). */
struct inet_stats {
    unsigned long arp;          /* ARP requests for our address, answered */
    unsigned long icmp;         /* echo requests answered */
    unsigned long udp;          /* datagrams echoed */
    unsigned long ignored;      /* well-formed, but not for us or not something we answer */
    unsigned long bad;          /* truncated, malformed, or a bad checksum */
};

/** A received frame, taken apart by inet_parse(). */
struct inet_packet {
    const uint8_t *dst_mac, *src_mac;
    uint16_t ethertype;
    /* ARP (ethertype ETH_P_ARP): the operation and both parties. */
    uint16_t arp_op;
    const uint8_t *arp_sender_mac, *arp_target_mac;
    uint32_t arp_sender_ip, arp_target_ip;
    /* IPv4 (ethertype ETH_P_IPV4). */
    uint32_t src_ip, dst_ip;
    uint8_t proto, ttl;
    /* ICMP: type, code, and for echo messages the identifier and sequence number. */
    uint8_t icmp_type, icmp_code;
    uint16_t icmp_id, icmp_seq;
    /* UDP ports. */
    uint16_t src_port, dst_port;
    /* The ICMP echo data or the UDP payload. */
    const uint8_t *data;
    size_t data_len;
};

/** Results of inet_parse(). */
enum inet_parse_result {
    INET_OK,            /* ARP, or IPv4 carrying ICMP or UDP, with every field and checksum right */
    INET_OTHER,         /* well-formed but something else (another EtherType or IP protocol, a fragment, options) */
    INET_BAD,           /* truncated, inconsistent lengths, or a bad checksum */
};

/** The Internet checksum of `len` bytes: the ones' complement of their ones' complement sum, as stored. */
uint16_t inet_checksum(const void *data, size_t len);

/**
 * Add `len` bytes to a running 32-bit sum (big-endian 16-bit words; an
 * odd last byte is padded with zero); inet_fold() turns it into the
 * checksum. For data in pieces, all but the last must have even length.
 */
uint32_t inet_sum(uint32_t sum, const void *data, size_t len);
uint16_t inet_fold(uint32_t sum);

/** Parse "a.b.c.d" or "a.b.c.d/n" (prefix 0-32; 24 when absent). */
bool inet_parse_ipv4(const char *text, uint32_t *ip, unsigned int *prefix);

/** Take a frame apart (see enum inet_parse_result); `p` is filled as far as it got. */
enum inet_parse_result inet_parse(const uint8_t *frame, size_t len, struct inet_packet *p);

/**
 * The responder: the reply to `frame` in `reply` (room for `size`
 * bytes; MAX(len, ETH_ZLEN) is always enough; not overlapping `frame`),
 * its length, or 0 when the frame gets no answer. Counts what it saw in
 * `st`.
 */
size_t inet_answer(const struct inet_config *cfg, struct inet_stats *st, const uint8_t *frame, size_t len,
                   uint8_t *reply, size_t size);

/* Frame builders: each returns the frame's length (padded to ETH_ZLEN), or 0 when `size` is too small. */

/**
 * An ARP packet, sent to `target_mac`; with NULL, to the broadcast MAC
 * with a zero target hardware address (a request).
 */
size_t inet_build_arp(uint8_t *buf, size_t size, uint16_t op, const uint8_t sender_mac[ETH_ALEN], uint32_t sender_ip,
                      const uint8_t *target_mac, uint32_t target_ip);

/** An IPv4/UDP datagram (checksums filled in). */
size_t inet_build_udp(uint8_t *buf, size_t size, const uint8_t dst_mac[ETH_ALEN], const uint8_t src_mac[ETH_ALEN],
                      uint32_t src_ip, uint16_t src_port, uint32_t dst_ip, uint16_t dst_port, const void *data,
                      size_t len);

/** An IPv4/ICMP echo request or reply (`type`), checksums filled in. */
size_t inet_build_icmp_echo(uint8_t *buf, size_t size, uint8_t type, const uint8_t dst_mac[ETH_ALEN],
                            const uint8_t src_mac[ETH_ALEN], uint32_t src_ip, uint32_t dst_ip, uint16_t id,
                            uint16_t seq, const void *data, size_t len);

#endif /* MINIOS_INET_H */
