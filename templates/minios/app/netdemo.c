/*
 * netdemo: the network frontend (include/minios/netfront.h) and the
 * IPv4 toolkit (include/minios/inet.h) make the domain a host that
 * answers ARP, ping and UDP echo. Build it with
 * `make APP=app/netdemo.c O=build/netdemo` and give the domain a vif —
 * for instance one end of a VXLAN link to a Linux host (xenkit's
 * docs/devices.md has the recipe):
 *
 *     xenkit run build/netdemo/kernel.elf --net vxlan:192.0.2.10,vni=42 --cmdline ip=10.42.0.2/24
 *     ping 10.42.0.2                        # on the Linux side
 *     echo hello | nc -u -w1 10.42.0.2 7     # UDP echo
 *
 * The address comes from `ip=A.B.C.D[/N]` on the command line, else the
 * vif's `ip` node in xenstore (where Xen's toolstack puts a vif's ip=
 * setting), else 10.0.0.2/24. Other words: `port=N`, the UDP echo port
 * (default 7; 0 turns it off); `seconds=N`, how long to answer (default
 * 60; 0: until told to stop); `ping=A.B.C.D` and `count=N`, ping that
 * host N times (default 4); `answer=N`, stop once N echo requests have
 * been answered. Typing `quit` (or Ctrl-D) on the console stops it too.
 *
 * It announces itself with a gratuitous ARP (RFC 5227's announcement, so
 * switches and neighbours learn its MAC), then answers what arrives,
 * printing the first answers of each kind, and at the end prints the
 * counters of the vif and of the responder. The waiting loop sleeps until
 * a frame, console input or a deadline wakes it: every event handler
 * that runs bumps event_upcall_count(), so checking that count with
 * events disabled before block_domain() loses nothing.
 *
 * Pinging (`ping=`), while it keeps answering: ARP requests for the peer
 * every ARP_RETRY until one is answered (the peer may still be booting:
 * frames sent before its vif is connected are lost, as on a real link;
 * it gives up after ARP_GIVE_UP), then `count` ICMP echo requests of
 * PING_DATA_LEN bytes, seq 1..count: the next one goes out as soon as the
 * reply to the last came, or PING_INTERVAL after it without one. Each
 * reply is printed like ping(8) does, its time measured on
 * monotonic_clock(); PING_INTERVAL after the last request (or at its
 * reply) the summary follows: "4 packets transmitted, 4 received".
 *
 * When it stops: at the first of `quit`, the end of `seconds=`, and its
 * goals met — `answer=N` echo requests answered, and with `ping=` (unless
 * `seconds=` was given: then it answers on until the time is up) the
 * pings done. Two of these on one switch end by themselves when one says
 * `answer=N` and the other `ping=` its address with `count=N`:
 *
 *     xenkit run build/netdemo/kernel.elf --net switch:lan --cmdline 'ip=10.0.0.2/24 answer=4' \
 *         --and build/netdemo/kernel.elf --net switch:lan --cmdline 'ip=10.0.0.3/24 ping=10.0.0.2'
 */
#include <minios/app.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/inet.h>
#include <minios/lib.h>
#include <minios/netfront.h>
#include <minios/setup.h>
#include <minios/time.h>
#include <xen/errno.h>

#define DEFAULT_IP 0x0a000002u          /* 10.0.0.2 */
#define DEFAULT_PREFIX 24
#define DEFAULT_PORT 7
#define DEFAULT_SECONDS 60
/* Answers printed one by one; later ones are only counted. */
#define LOG_ANSWERS 10

/* Pinging (see the header). */
#define DEFAULT_COUNT 4
#define PING_ID 0x6e64                  /* "nd": our echo requests' identifier */
#define PING_DATA_LEN 56                /* ping(8)'s default: 64 bytes of ICMP */
#define PING_SLOTS 64                   /* requests remembered for their replies */
#define ARP_RETRY MILLISECS(200)
#define ARP_GIVE_UP SECONDS(30)
#define PING_INTERVAL SECONDS(1)

static struct inet_config cfg;
static struct inet_stats stats;
static unsigned long logged;
static uint8_t reply[NET_MAX_FRAME + ETH_ZLEN];

enum ping_state { PING_OFF, PING_ARP, PING_ECHO, PING_DONE };

/* An echo request sent, remembered to match its reply and time it. */
struct ping_slot {
    unsigned long seq;
    uint64_t sent_at;
    bool answered;
};

static struct {
    enum ping_state state;
    uint32_t ip;
    uint8_t mac[ETH_ALEN];
    unsigned long count, sent, received;
    /* When to act next: another ARP request, the next echo request, or the end of waiting. */
    uint64_t next;
    uint64_t give_up;
    /* The requests sent, by seq % PING_SLOTS. */
    struct ping_slot slot[PING_SLOTS];
    uint8_t data[PING_DATA_LEN];
} ping;

/* A decimal command-line value, or `dflt`. */
static unsigned long cmdline_number(const char *key, unsigned long dflt)
{
    char buf[16];
    unsigned long v = 0;

    if (cmdline_get(key, buf, sizeof(buf)) <= 0)
        return dflt;
    for (const char *p = buf; *p; p++) {
        if (*p < '0' || *p > '9') {
            printf("netdemo: %s=%s is not a number: using %lu\n", key, buf, dflt);
            return dflt;
        }
        v = v * 10 + (unsigned long)(*p - '0');
    }
    return v;
}

/* The address: ip= on the command line, the vif's xenstore `ip`, or the default. */
static void choose_address(const struct net_info *info, unsigned int *prefix)
{
    char text[40];
    const char *from = "the default";

    cfg.ip = DEFAULT_IP;
    *prefix = DEFAULT_PREFIX;
    if (cmdline_get("ip", text, sizeof(text)) > 0) {
        if (inet_parse_ipv4(text, &cfg.ip, prefix))
            from = "the command line";
        else
            printf("netdemo: ip=%s is not an IPv4 address: using the default\n", text);
    } else if (info->ip[0]) {
        /* libxl may write several addresses separated by spaces: take the first. */
        size_t n = 0;

        while (info->ip[n] && info->ip[n] != ' ' && n + 1 < sizeof(text)) {
            text[n] = info->ip[n];
            n++;
        }
        text[n] = 0;
        if (inet_parse_ipv4(text, &cfg.ip, prefix))
            from = "xenstore";
    }
    printf("netdemo: address " IPV4_FMT "/%u (from %s)\n", IPV4_ARGS(cfg.ip), *prefix, from);
}

static void log_answer(const uint8_t *frame, size_t len, const struct inet_stats *before)
{
    struct inet_packet p;

    if (++logged > LOG_ANSWERS) {
        if (logged == LOG_ANSWERS + 1)
            printf("netdemo: (further answers are only counted)\n");
        return;
    }
    inet_parse(frame, len, &p);
    if (stats.arp != before->arp)
        printf("netdemo: ARP: " IPV4_FMT " (" MAC_FMT ") asks who has " IPV4_FMT ": told it\n",
               IPV4_ARGS(p.arp_sender_ip), MAC_ARGS(p.arp_sender_mac), IPV4_ARGS(p.arp_target_ip));
    else if (stats.icmp != before->icmp)
        printf("netdemo: ping from " IPV4_FMT ": id %u seq %u, %zu bytes: answered\n", IPV4_ARGS(p.src_ip),
               p.icmp_id, p.icmp_seq, p.data_len);
    else
        printf("netdemo: UDP from " IPV4_FMT ":%u, %zu bytes: echoed\n", IPV4_ARGS(p.src_ip), p.src_port,
               p.data_len);
}

/* An ARP reply from the host we ping, or an echo reply to one of our requests: take it (true). */
static bool ping_take(const uint8_t *frame, size_t len)
{
    struct inet_packet p;
    uint64_t now, us;

    if (ping.state == PING_OFF || inet_parse(frame, len, &p) != INET_OK)
        return false;
    if (p.ethertype == ETH_P_ARP) {
        if (p.arp_op != ARP_REPLY || p.arp_sender_ip != ping.ip || p.arp_target_ip != cfg.ip)
            return false;
        if (ping.state == PING_ARP) {
            memcpy(ping.mac, p.arp_sender_mac, ETH_ALEN);
            printf("netdemo: ARP: " IPV4_FMT " is at " MAC_FMT "\n", IPV4_ARGS(ping.ip), MAC_ARGS(ping.mac));
            ping.state = PING_ECHO;
            ping.next = 0;                      /* the first request at once */
        }
        return true;
    }
    if (p.ethertype != ETH_P_IPV4 || p.proto != IPPROTO_ICMP || p.icmp_type != ICMP_ECHO_REPLY ||
        p.dst_ip != cfg.ip || p.icmp_id != PING_ID)
        return false;
    /* Ours: a reply to a request we remember, with our data, counts once. */
    if (p.src_ip == ping.ip && p.icmp_seq != 0 && p.data_len == PING_DATA_LEN &&
        memcmp(p.data, ping.data, PING_DATA_LEN) == 0) {
        struct ping_slot *s = &ping.slot[p.icmp_seq % PING_SLOTS];

        if (s->seq == p.icmp_seq && !s->answered) {
            s->answered = true;
            ping.received++;
            now = monotonic_clock();
            us = (now - s->sent_at) / 1000;
            printf("netdemo: %zu bytes from " IPV4_FMT ": icmp_seq=%u time=%lu.%03lu ms\n", p.data_len + 8,
                   IPV4_ARGS(p.src_ip), p.icmp_seq, (unsigned long)(us / 1000), (unsigned long)(us % 1000));
            if (p.icmp_seq == ping.sent)
                ping.next = 0;                  /* the last request was answered: the next one at once */
        }
    }
    return true;
}

/* The receive callback: our ping's replies, else answer what deserves an answer. */
static void on_frame(struct net_dev *dev, const uint8_t *frame, size_t len, void *data)
{
    struct inet_stats before = stats;
    size_t n;
    long rc;

    (void)data;
    if (ping_take(frame, len))
        return;
    n = inet_answer(&cfg, &stats, frame, len, reply, sizeof(reply));
    if (!n)
        return;
    rc = net_send(dev, reply, n);
    if (rc)
        printf("netdemo: sending a reply failed (%ld)\n", rc);
    log_answer(frame, len, &before);
}

/* Console input without waiting; true once "quit" or Ctrl-D was typed. */
static bool console_says_quit(void)
{
    static char line[64];
    static size_t len;
    int c;

    while ((c = console_getc(1)) >= 0) {         /* deadline 1 ns: already passed, so never waits */
        if (c == CONSOLE_EOF_CHAR && len == 0) {
            printf("\nnetdemo: end of input\n");
            return true;
        }
        if (c == '\r' || c == '\n') {
            if (len == 0)
                continue;
            line[len] = 0;
            len = 0;
            printf("\n");
            if (strcmp(line, "quit") == 0)
                return true;
            printf("netdemo: type \"quit\" to stop\n");
        } else if ((c == 0x7f || c == 0x08) && len > 0) {
            len--;
            printf("\b \b");
        } else if (c >= 0x20 && c < 0x7f && len + 1 < sizeof(line)) {
            line[len++] = (char)c;
            printf("%c", c);
        }
    }
    return false;
}

static void ping_summary(void)
{
    printf("netdemo: %lu packets transmitted, %lu received\n", ping.sent, ping.received);
    ping.state = PING_DONE;
}

/*
 * The pinger's next move at `now` (ARP request, echo request, or the
 * summary), from the main loop, never from the receive callback. Returns
 * when it wants to run again (0: it does not).
 */
static uint64_t ping_work(struct net_dev *dev, uint64_t now)
{
    size_t len;

    switch (ping.state) {
    case PING_OFF:
    case PING_DONE:
        return 0;
    case PING_ARP:
        if (now >= ping.give_up) {
            printf("netdemo: no ARP reply from " IPV4_FMT " in %llu s: not pinging\n", IPV4_ARGS(ping.ip),
                   (unsigned long long)(ARP_GIVE_UP / NSEC_PER_SEC));
            ping_summary();
            return 0;
        }
        if (now >= ping.next) {
            len = inet_build_arp(reply, sizeof(reply), ARP_REQUEST, cfg.mac, cfg.ip, NULL, ping.ip);
            if (net_send(dev, reply, len))
                printf("netdemo: sending an ARP request failed\n");
            ping.next = now + ARP_RETRY;
        }
        return MIN(ping.next, ping.give_up);
    case PING_ECHO:
        if (ping.received == ping.count || (ping.sent == ping.count && now >= ping.next)) {
            ping_summary();
            return 0;
        }
        if (ping.sent < ping.count && now >= ping.next) {
            unsigned long seq = ++ping.sent;
            struct ping_slot *s = &ping.slot[seq % PING_SLOTS];

            s->seq = seq;
            s->answered = false;
            s->sent_at = monotonic_clock();
            len = inet_build_icmp_echo(reply, sizeof(reply), ICMP_ECHO_REQUEST, ping.mac, cfg.mac, cfg.ip, ping.ip,
                                       PING_ID, (uint16_t)seq, ping.data, PING_DATA_LEN);
            if (net_send(dev, reply, len))
                printf("netdemo: sending echo request %lu failed\n", seq);
            ping.next = now + PING_INTERVAL;
        }
        return ping.next;
    }
    return 0;
}

/*
 * Answer (and ping) until `quit`, the `seconds` deadline (0: none), or,
 * when it has goals, until they are met: `answer` echo requests answered
 * (0: no such goal) and, with `ping_goal`, the pings done.
 */
static void serve(struct net_dev *dev, unsigned long seconds, unsigned long answer, bool ping_goal)
{
    uint64_t end = seconds ? monotonic_clock() + SECONDS(seconds) : 0;
    bool goals = answer || ping_goal;

    for (;;) {
        unsigned long seen = event_upcall_count();
        unsigned long flags;
        uint64_t now, wake;

        if (net_poll(dev) < 0) {
            printf("netdemo: the vif stopped working\n");
            return;
        }
        if (console_says_quit()) {
            printf("netdemo: quit\n");
            return;
        }
        now = monotonic_clock();
        if (end && now >= end) {
            printf("netdemo: %lu s are up\n", seconds);
            return;
        }
        wake = ping_work(dev, now);
        if (goals && (!ping_goal || ping.state == PING_DONE) && stats.icmp >= answer) {
            if (answer)
                printf("netdemo: answered %lu echo request%s (answer=%lu): stopping\n", stats.icmp,
                       stats.icmp == 1 ? "" : "s", answer);
            return;
        }
        if (!wake || (end && end < wake))
            wake = end;
        /* Sleep unless something happened since `seen`: a frame, a key, a deadline's timer. */
        flags = local_irq_save();
        if (event_upcall_count() == seen && !net_pending(dev))
            block_domain(wake);
        local_irq_restore(flags);
    }
}

/* `ping=A.B.C.D [count=N]`: set the pinger up; false without ping=. */
static bool ping_setup(void)
{
    char text[40];
    unsigned int prefix;

    if (cmdline_get("ping", text, sizeof(text)) <= 0)
        return false;
    if (!inet_parse_ipv4(text, &ping.ip, &prefix)) {
        printf("netdemo: ping=%s is not an IPv4 address: not pinging\n", text);
        return false;
    }
    ping.count = MIN(cmdline_number("count", DEFAULT_COUNT), 0xffffUL);     /* seq is 16 bits */
    for (unsigned int i = 0; i < PING_DATA_LEN; i++)
        ping.data[i] = (uint8_t)(0x10 + i);
    ping.state = PING_ARP;
    ping.next = 0;
    ping.give_up = monotonic_clock() + ARP_GIVE_UP;
    printf("netdemo: pinging " IPV4_FMT " %lu time%s\n", IPV4_ARGS(ping.ip), ping.count, ping.count == 1 ? "" : "s");
    return true;
}

void app_main(void)
{
    const struct net_info *info;
    const struct net_stats *ns;
    struct net_dev *dev;
    unsigned int prefix, n = net_count();
    unsigned long seconds = cmdline_number("seconds", DEFAULT_SECONDS);
    unsigned long answer = cmdline_number("answer", 0);
    char word[2];
    bool explicit_seconds = cmdline_get("seconds", word, sizeof(word)) >= 0;
    bool pinging;
    size_t len;
    long rc;

    printf("netdemo: %u vif%s\n", n, n == 1 ? "" : "s");
    if (n == 0) {
        printf("netdemo: nothing to do: give the domain a vif, e.g. xenkit run kernel.elf --net switch:lan\n");
        return;
    }
    rc = net_open(0, &dev);
    if (rc) {
        printf("netdemo: net_open: %ld\n", rc);
        return;
    }
    info = net_info(dev);
    memcpy(cfg.mac, info->mac, ETH_ALEN);
    cfg.echo_port = (uint16_t)cmdline_number("port", DEFAULT_PORT);
    printf("netdemo: %s (backend %s): mac " MAC_FMT "\n", info->nodename, info->backend, MAC_ARGS(info->mac));
    choose_address(info, &prefix);
    net_set_receiver(dev, on_frame, NULL);

    /* A gratuitous ARP: sender and target are our own address. */
    len = inet_build_arp(reply, sizeof(reply), ARP_REQUEST, cfg.mac, cfg.ip, NULL, cfg.ip);
    rc = net_send(dev, reply, len);
    if (rc)
        printf("netdemo: announcing the address failed (%ld)\n", rc);

    if (cfg.echo_port)
        printf("netdemo: answering ARP, ping and UDP echo on port %u", cfg.echo_port);
    else
        printf("netdemo: answering ARP and ping");
    if (seconds)
        printf(" for %lu s; type \"quit\" to stop sooner\n", seconds);
    else
        printf("; type \"quit\" to stop\n");
    if (answer)
        printf("netdemo: stopping once %lu echo request%s answered\n", answer, answer == 1 ? " is" : "s are");
    pinging = ping_setup();
    serve(dev, seconds, answer, pinging && !explicit_seconds);
    if (ping.state == PING_ARP || ping.state == PING_ECHO)
        ping_summary();

    ns = net_stats(dev);
    printf("netdemo: vif: rx %lu frames (%lu bytes, %lu errors), tx %lu frames (%lu bytes, %lu errors)\n",
           ns->rx_frames, ns->rx_bytes, ns->rx_errors, ns->tx_frames, ns->tx_bytes, ns->tx_errors);
    printf("netdemo: answered %lu ARP, %lu ping, %lu UDP; ignored %lu, bad %lu\n", stats.arp, stats.icmp, stats.udp,
           stats.ignored, stats.bad);
    rc = net_close(dev);
    if (rc)
        printf("netdemo: net_close: %ld\n", rc);
}
