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
 * 60; 0: until told to stop). Typing `quit` (or Ctrl-D) on the console
 * stops it too.
 *
 * It announces itself with a gratuitous ARP (RFC 5227's announcement, so
 * switches and neighbours learn its MAC), then answers what arrives,
 * printing the first answers of each kind, and at the end prints the
 * counters of the vif and of the responder. The waiting loop sleeps until
 * a frame, console input or the deadline wakes it: every event handler
 * that runs bumps event_upcall_count(), so checking that count with
 * events disabled before block_domain() loses nothing.
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

static struct inet_config cfg;
static struct inet_stats stats;
static unsigned long logged;
static uint8_t reply[NET_MAX_FRAME + ETH_ZLEN];

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

/* The receive callback: answer what deserves an answer. */
static void on_frame(struct net_dev *dev, const uint8_t *frame, size_t len, void *data)
{
    struct inet_stats before = stats;
    size_t n = inet_answer(&cfg, &stats, frame, len, reply, sizeof(reply));
    long rc;

    (void)data;
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

static void serve(struct net_dev *dev, unsigned long seconds)
{
    uint64_t end = seconds ? monotonic_clock() + SECONDS(seconds) : 0;

    for (;;) {
        unsigned long seen = event_upcall_count();
        unsigned long flags;

        if (net_poll(dev) < 0) {
            printf("netdemo: the vif stopped working\n");
            return;
        }
        if (console_says_quit()) {
            printf("netdemo: quit\n");
            return;
        }
        if (end && monotonic_clock() >= end) {
            printf("netdemo: %lu s are up\n", seconds);
            return;
        }
        /* Sleep unless something happened since `seen`: a frame, a key, the deadline's timer. */
        flags = local_irq_save();
        if (event_upcall_count() == seen && !net_pending(dev))
            block_domain(end);
        local_irq_restore(flags);
    }
}

void app_main(void)
{
    const struct net_info *info;
    const struct net_stats *ns;
    struct net_dev *dev;
    unsigned int prefix, n = net_count();
    unsigned long seconds = cmdline_number("seconds", DEFAULT_SECONDS);
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
    serve(dev, seconds);

    ns = net_stats(dev);
    printf("netdemo: vif: rx %lu frames (%lu bytes, %lu errors), tx %lu frames (%lu bytes, %lu errors)\n",
           ns->rx_frames, ns->rx_bytes, ns->rx_errors, ns->tx_frames, ns->tx_bytes, ns->tx_errors);
    printf("netdemo: answered %lu ARP, %lu ping, %lu UDP; ignored %lu, bad %lu\n", stats.arp, stats.icmp, stats.udp,
           stats.ignored, stats.bad);
    rc = net_close(dev);
    if (rc)
        printf("netdemo: net_close: %ld\n", rc);
}
