/*
 * tcpmodel's harness program for libslirp (driven by tcpmodel/stacks/slirp.py through
 * tcpmodel/stacks/process.py; the module's docstring says why it works this way).
 *
 *     harness PACKET_FD STACK_ADDRESS STACK_PORT TESTER_ADDRESS TESTER_PORT
 *
 * The tester is slirp's guest (TESTER_ADDRESS, e.g. 10.0.2.15); STACK_ADDRESS is slirp's host
 * alias (e.g. 10.0.2.2), which slirp maps to 127.0.0.1. Slirp speaks Ethernet to its guest: this
 * program wraps the tester's IPv4 packets (PACKET_FD, after the TUN header 00 00 08 00) in
 * Ethernet frames for slirp_input, unwraps the IPv4 frames slirp sends, and plays the guest's
 * part in ARP itself (a gratuitous ARP at start, replies to slirp's requests), so only IPv4
 * reaches the tester. The user of slirp's TCP is the host side: sockets on 127.0.0.1 that this
 * program opens, in a network namespace of its own (unshare), which goes when the process does.
 *
 * User calls come on stdin, one a line; each gets one reply line on stdout (process.py).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libslirp.h>

#define ETH_HEADER 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ARP_LENGTH 28 /* Ethernet/IPv4 ARP body */
#define PACKET_BYTES 65536
#define MAX_POLL 64
#define MAX_TIMERS 8
#define MAX_PENDING 8
/*
 * Slirp's TCP timers tick in slirp_pollfds_poll, at the first call at least 499 ms after the last
 * tick (TIMEOUT_SLOW); the loop wakes at least every TICK_MS, so a tick is at most 499 + TICK_MS
 * ms after the one before.
 */
#define TICK_MS 50
/*
 * The first retransmission comes at most this long after a segment is sent: libslirp's initial
 * RTO is t_rxtcur = ((TCPTV_SRTTBASE >> 2) + (TCPTV_SRTTDFLT << 2)) >> 1 = 12 ticks (tcp_subr.c,
 * tcp_newtcpcb), and an RTT measured on this socketpair only lowers it (to 2 or 3 ticks). The
 * tcpcb is private to libslirp, so no call reports the running value.
 */
#define FIRST_RETRANSMISSION_SECONDS (12 * (499 + TICK_MS) / 1000.0)

static const uint8_t TUN_HEADER[4] = {0, 0, 0x08, 0x00};
static const uint8_t GUEST_MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56}; /* QEMU's default */

struct timer {
    bool used, armed;
    SlirpTimerId id;
    void *cb_opaque;
    int64_t expire_ms;
};

struct harness {
    Slirp *slirp;
    int packets;                 /* the socketpair end: the guest's "wire" */
    struct in_addr stack, tester; /* slirp's host alias, the guest */
    int stack_port, tester_port;
    uint8_t stack_mac[6];
    struct pollfd fds[MAX_POLL];
    int nfds;
    struct timer timers[MAX_TIMERS];
    uint8_t pending[MAX_PENDING][ETH_HEADER + ARP_LENGTH]; /* ARP replies to hand to slirp */
    int npending;
    bool forwarded; /* the hostfwd of the active role is set up */
    int listener;   /* host side: the passive user's listening socket, or -1 */
    int connection; /* host side: the user's connection, or -1 */
    char line[512];
    size_t line_length;
};

static void say(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vprintf(format, args);
    va_end(args);
    putchar('\n');
    fflush(stdout);
}

static void die(const char *what)
{
    fprintf(stderr, "slirp harness: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------------ the guest's wire */

static void put_arp(uint8_t *frame, const uint8_t *eth_dest, const uint8_t *eth_source, uint16_t op,
                    const uint8_t *sender_mac, struct in_addr sender, const uint8_t *target_mac,
                    struct in_addr target)
{
    uint8_t *arp = frame + ETH_HEADER;
    memcpy(frame, eth_dest, 6);
    memcpy(frame + 6, eth_source, 6);
    frame[12] = ETHERTYPE_ARP >> 8;
    frame[13] = ETHERTYPE_ARP & 0xff;
    arp[0] = 0, arp[1] = 1;       /* hardware: Ethernet */
    arp[2] = 0x08, arp[3] = 0x00; /* protocol: IPv4 */
    arp[4] = 6, arp[5] = 4;
    arp[6] = op >> 8, arp[7] = op & 0xff;
    memcpy(arp + 8, sender_mac, 6);
    memcpy(arp + 14, &sender, 4);
    memcpy(arp + 18, target_mac, 6);
    memcpy(arp + 24, &target, 4);
}

/* Slirp sends a frame to its guest: IPv4 goes to the tester, ARP requests for the guest are
 * answered here (after slirp returns: slirp_input is not re-entrant), the rest is dropped. */
static ssize_t send_packet(const void *buffer, size_t length, void *opaque)
{
    struct harness *h = opaque;
    const uint8_t *frame = buffer;
    if (length < ETH_HEADER)
        return length;
    uint16_t type = frame[12] << 8 | frame[13];
    if (type == ETHERTYPE_IPV4) {
        uint8_t datagram[PACKET_BYTES];
        size_t size = length - ETH_HEADER;
        if (size > sizeof(datagram) - sizeof(TUN_HEADER))
            return length;
        memcpy(datagram, TUN_HEADER, sizeof(TUN_HEADER));
        memcpy(datagram + sizeof(TUN_HEADER), frame + ETH_HEADER, size);
        /* a tester that is not reading loses the frame, as a busy guest would (libslirp.h) */
        if (send(h->packets, datagram, size + sizeof(TUN_HEADER), MSG_DONTWAIT) < 0 && errno != EAGAIN)
            fprintf(stderr, "slirp harness: send to the tester: %s\n", strerror(errno));
    } else if (type == ETHERTYPE_ARP && length >= ETH_HEADER + ARP_LENGTH) {
        const uint8_t *arp = frame + ETH_HEADER;
        struct in_addr sender, target;
        memcpy(&sender, arp + 14, 4);
        memcpy(&target, arp + 24, 4);
        if (arp[7] == 1 && target.s_addr == h->tester.s_addr && h->npending < MAX_PENDING)
            put_arp(h->pending[h->npending++], arp + 8, GUEST_MAC, 2, GUEST_MAC, h->tester, arp + 8, sender);
    }
    return length;
}

/* A packet from the tester: an IPv4 packet after the TUN header, into an Ethernet frame. */
static void from_tester(struct harness *h)
{
    uint8_t datagram[PACKET_BYTES], frame[PACKET_BYTES + ETH_HEADER];
    for (;;) {
        ssize_t got = recv(h->packets, datagram, sizeof(datagram), MSG_DONTWAIT);
        if (got < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            die("reading the packet descriptor");
        }
        if (got == 0) /* the tester's end is closed */
            exit(0);
        if (got <= (ssize_t)sizeof(TUN_HEADER) || memcmp(datagram + 2, TUN_HEADER + 2, 2) != 0)
            continue;
        size_t size = got - sizeof(TUN_HEADER);
        memcpy(frame, h->stack_mac, 6);
        memcpy(frame + 6, GUEST_MAC, 6);
        frame[12] = ETHERTYPE_IPV4 >> 8;
        frame[13] = ETHERTYPE_IPV4 & 0xff;
        memcpy(frame + ETH_HEADER, datagram + sizeof(TUN_HEADER), size);
        slirp_input(h->slirp, frame, size + ETH_HEADER);
    }
}

/* ------------------------------------------------------------------ SlirpCb */

static void guest_error(const char *message, void *opaque)
{
    (void)opaque;
    fprintf(stderr, "slirp harness: libslirp says the guest erred: %s\n", message);
}

static int64_t clock_get_ns(void *opaque)
{
    (void)opaque;
    return now_ns();
}

static void *timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    struct harness *h = opaque;
    for (int i = 0; i < MAX_TIMERS; i++) {
        if (!h->timers[i].used) {
            h->timers[i] = (struct timer){.used = true, .id = id, .cb_opaque = cb_opaque};
            return &h->timers[i];
        }
    }
    fprintf(stderr, "slirp harness: more than %d timers\n", MAX_TIMERS);
    exit(1);
}

static void timer_free(void *timer, void *opaque)
{
    (void)opaque;
    ((struct timer *)timer)->used = false;
}

static void timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    (void)opaque;
    struct timer *t = timer;
    t->armed = true;
    t->expire_ms = expire_ms;
}

static void poll_fd_ignored(int fd, void *opaque)
{
    (void)fd, (void)opaque; /* every loop asks slirp_pollfds_fill afresh */
}

static void notify(void *opaque)
{
    (void)opaque;
}

static const SlirpCb CALLBACKS = {
    .send_packet = send_packet,
    .guest_error = guest_error,
    .clock_get_ns = clock_get_ns,
    .timer_free = timer_free,
    .timer_mod = timer_mod,
    .register_poll_fd = poll_fd_ignored,
    .unregister_poll_fd = poll_fd_ignored,
    .notify = notify,
    .timer_new_opaque = timer_new_opaque,
};

static int add_poll(int fd, int events, void *opaque)
{
    struct harness *h = opaque;
    if (h->nfds >= MAX_POLL) {
        fprintf(stderr, "slirp harness: more than %d descriptors to poll\n", MAX_POLL);
        exit(1);
    }
    short wanted = 0;
    wanted |= events & SLIRP_POLL_IN ? POLLIN : 0;
    wanted |= events & SLIRP_POLL_OUT ? POLLOUT : 0;
    wanted |= events & SLIRP_POLL_PRI ? POLLPRI : 0;
    h->fds[h->nfds] = (struct pollfd){.fd = fd, .events = wanted};
    return h->nfds++;
}

static int get_revents(int index, void *opaque)
{
    struct harness *h = opaque;
    short got = h->fds[index].revents;
    return (got & POLLIN ? SLIRP_POLL_IN : 0) | (got & POLLOUT ? SLIRP_POLL_OUT : 0) |
           (got & POLLPRI ? SLIRP_POLL_PRI : 0) | (got & POLLERR ? SLIRP_POLL_ERR : 0) |
           (got & POLLHUP ? SLIRP_POLL_HUP : 0);
}

/* ------------------------------------------------------------------ the user (host side) */

static int loopback_socket(int port, struct sockaddr_in *address)
{
    *address = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (s >= 0)
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    return s;
}

static void fail(const char *call)
{
    say("error %s: %s", call, strerror(errno));
}

/* The passive user's housekeeping: take the connection slirp made to the listener (then close
 * the listener: RFC 9293's passive TCB became this connection), and read what arrived. */
static void user_poll(struct harness *h)
{
    if (h->connection < 0 && h->listener >= 0) {
        int s = accept4(h->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (s >= 0) {
            int one = 1;
            setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            h->connection = s;
            close(h->listener);
            h->listener = -1;
        }
    }
    if (h->connection >= 0) {
        char buffer[PACKET_BYTES];
        while (recv(h->connection, buffer, sizeof(buffer), 0) > 0)
            ;
    }
}

static void user_listen(struct harness *h)
{
    struct sockaddr_in address;
    if (h->listener >= 0 || h->connection >= 0) {
        say("error connection already exists");
        return;
    }
    int s = loopback_socket(h->stack_port, &address);
    if (s < 0 || bind(s, (struct sockaddr *)&address, sizeof(address)) < 0 || listen(s, 1) < 0) {
        fail("LISTEN");
        if (s >= 0)
            close(s);
        return;
    }
    h->listener = s;
    say("ok");
}

/* Slirp opens a connection to its guest when a host client connects to a hostfwd port: the
 * client is bound to STACK_PORT, which slirp keeps as the source port (from 10.0.2.2). */
static void user_connect(struct harness *h)
{
    struct sockaddr_in local, remote;
    struct in_addr loopback = {.s_addr = htonl(INADDR_LOOPBACK)};
    if (h->listener >= 0 || h->connection >= 0) {
        say("error connection already exists");
        return;
    }
    if (!h->forwarded) {
        if (slirp_add_hostfwd(h->slirp, 0, loopback, h->tester_port, h->tester, h->tester_port) < 0) {
            fail("CONNECT (slirp_add_hostfwd)");
            return;
        }
        h->forwarded = true;
    }
    int s = loopback_socket(h->stack_port, &local);
    remote = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(h->tester_port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    if (s < 0 || setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
        bind(s, (struct sockaddr *)&local, sizeof(local)) < 0 ||
        (connect(s, (struct sockaddr *)&remote, sizeof(remote)) < 0 && errno != EINPROGRESS)) {
        fail("CONNECT");
        if (s >= 0)
            close(s);
        return;
    }
    h->connection = s;
    say("ok");
}

static void user_send(struct harness *h, long length)
{
    static const char data[PACKET_BYTES] = {0};
    if (length <= 0 || length > (long)sizeof(data)) {
        say("error SEND of %ld octets", length);
        return;
    }
    if (h->connection < 0) {
        if (h->listener >= 0)
            say("unsupported SEND on a listening endpoint: slirp has no passive-to-active change "
                "(it opens connections to its guest only for a host client of a hostfwd)");
        else
            say("error connection does not exist");
        return;
    }
    ssize_t sent = send(h->connection, data, length, MSG_NOSIGNAL);
    if (sent < 0)
        fail("SEND");
    else if (sent != length)
        say("error only %zd of %ld octets sent", sent, length);
    else
        say("ok");
}

static void user_close(struct harness *h)
{
    if (h->connection >= 0) {
        if (shutdown(h->connection, SHUT_WR) < 0)
            fail("CLOSE");
        else
            say("ok");
    } else if (h->listener >= 0) {
        close(h->listener);
        h->listener = -1;
        say("ok");
    } else {
        say("error connection does not exist");
    }
}

static void user_abort(struct harness *h)
{
    if (h->connection >= 0) {
        struct linger linger = {.l_onoff = 1, .l_linger = 0};
        setsockopt(h->connection, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
        close(h->connection);
        h->connection = -1;
        say("ok");
    } else if (h->listener >= 0) {
        close(h->listener);
        h->listener = -1;
        say("ok");
    } else {
        say("error connection does not exist");
    }
}

static void command(struct harness *h, char *line)
{
    char *end;
    if (strcmp(line, "LISTEN") == 0) {
        user_listen(h);
    } else if (strcmp(line, "CONNECT") == 0) {
        user_connect(h);
    } else if (strncmp(line, "SEND ", 5) == 0) {
        long length = strtol(line + 5, &end, 10);
        user_poll(h);
        user_send(h, *end ? -1 : length);
    } else if (strcmp(line, "CLOSE") == 0) {
        user_poll(h);
        user_close(h);
    } else if (strcmp(line, "ABORT") == 0) {
        user_poll(h);
        user_abort(h);
    } else if (strcmp(line, "POLL") == 0) {
        user_poll(h);
        say("ok");
    } else if (strcmp(line, "RTO") == 0) {
        say("ok %.2f", FIRST_RETRANSMISSION_SECONDS);
    } else if (strcmp(line, "QUIT") == 0) {
        exit(0);
    } else {
        say("error unknown command %s", line);
    }
}

static void from_user(struct harness *h)
{
    ssize_t got = read(STDIN_FILENO, h->line + h->line_length, sizeof(h->line) - 1 - h->line_length);
    if (got < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return;
        die("reading standard input");
    }
    if (got == 0)
        exit(0);
    h->line_length += got;
    char *newline;
    while ((newline = memchr(h->line, '\n', h->line_length)) != NULL) {
        *newline = '\0';
        command(h, h->line);
        h->line_length -= newline + 1 - h->line;
        memmove(h->line, newline + 1, h->line_length);
    }
    if (h->line_length == sizeof(h->line) - 1) {
        fprintf(stderr, "slirp harness: a command line longer than %zu octets\n", sizeof(h->line) - 1);
        exit(1);
    }
}

/* ------------------------------------------------------------------ set-up and the loop */

/* A network namespace of this process's own, with only "lo" up: the host sockets (the fixed
 * ports of the vectors, slirp's connect() to 127.0.0.1) meet nothing else on the machine, and
 * the namespace ends with the process, however it ends. */
static void private_network(void)
{
    if (unshare(CLONE_NEWNET) < 0 && unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
        die("cannot make a network namespace of its own (unshare; root or user namespaces needed)");
    struct ifreq request = {0};
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &request) < 0)
        die("reading the flags of lo");
    request.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &request) < 0)
        die("bringing lo up");
    close(s);
}

static int port_argument(const char *text)
{
    char *end;
    long port = strtol(text, &end, 10);
    if (*end || port <= 0 || port > 65535) {
        fprintf(stderr, "slirp harness: bad port %s\n", text);
        exit(2);
    }
    return port;
}

static void start(struct harness *h, char **argv)
{
    char *end;
    h->packets = strtol(argv[1], &end, 10);
    if (*end || fcntl(h->packets, F_GETFD) < 0) {
        fprintf(stderr, "slirp harness: %s is not an open descriptor\n", argv[1]);
        exit(2);
    }
    if (inet_pton(AF_INET, argv[2], &h->stack) != 1 || inet_pton(AF_INET, argv[4], &h->tester) != 1) {
        fprintf(stderr, "slirp harness: bad IPv4 address %s or %s\n", argv[2], argv[4]);
        exit(2);
    }
    h->stack_port = port_argument(argv[3]);
    h->tester_port = port_argument(argv[5]);
    h->listener = h->connection = -1;
    uint32_t mask = htonl(0xffffff00);
    if ((h->stack.s_addr & mask) != (h->tester.s_addr & mask) || h->stack.s_addr == h->tester.s_addr) {
        fprintf(stderr, "slirp harness: %s and %s are not two addresses of one /24\n", argv[2], argv[4]);
        exit(2);
    }

    /* slirp's own MAC for an address: 52:55 and the address (slirp.c, special_ethaddr) */
    h->stack_mac[0] = 0x52, h->stack_mac[1] = 0x55;
    memcpy(h->stack_mac + 2, &h->stack, 4);

    SlirpConfig config = {
        .version = 4,
        .in_enabled = true,
        .vnetwork = {.s_addr = h->stack.s_addr & mask},
        .vnetmask = {.s_addr = mask},
        .vhost = h->stack,
        .vdhcp_start = h->tester,
        .vnameserver = {.s_addr = (h->stack.s_addr & mask) | htonl(3)},
        .in6_enabled = false,
        .disable_dns = true,
        .disable_dhcp = true,
    };
    h->slirp = slirp_new(&config, &CALLBACKS, h);
    if (h->slirp == NULL) {
        fprintf(stderr, "slirp harness: slirp_new refused the configuration\n");
        exit(1);
    }
    /* the guest announces itself (a gratuitous ARP), so slirp knows its MAC from the start */
    uint8_t frame[ETH_HEADER + ARP_LENGTH];
    static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, none[6] = {0};
    put_arp(frame, broadcast, GUEST_MAC, 1, GUEST_MAC, h->tester, none, h->tester);
    slirp_input(h->slirp, frame, sizeof(frame));
}

/* Milliseconds until the first armed timer, at most ``limit``; fire those that are due. */
static uint32_t run_timers(struct harness *h, uint32_t limit)
{
    int64_t now = now_ns() / 1000000;
    for (int i = 0; i < MAX_TIMERS; i++) {
        struct timer *t = &h->timers[i];
        if (t->used && t->armed && t->expire_ms <= now) {
            t->armed = false;
            slirp_handle_timer(h->slirp, t->id, t->cb_opaque);
        }
    }
    for (int i = 0; i < MAX_TIMERS; i++) {
        struct timer *t = &h->timers[i];
        if (t->used && t->armed && t->expire_ms - now < (int64_t)limit)
            limit = t->expire_ms > now ? (uint32_t)(t->expire_ms - now) : 0;
    }
    return limit;
}

int main(int argc, char **argv)
{
    static struct harness h;
    if (argc != 6) {
        fprintf(stderr, "usage: %s PACKET_FD STACK_ADDRESS STACK_PORT TESTER_ADDRESS TESTER_PORT\n", argv[0]);
        return 2;
    }
    private_network();
    start(&h, argv);
    say("ready libslirp %s", slirp_version_string());
    for (;;) {
        while (h.npending > 0) {
            h.npending--;
            slirp_input(h.slirp, h.pending[h.npending], sizeof(h.pending[0]));
        }
        h.nfds = 0;
        add_poll(STDIN_FILENO, SLIRP_POLL_IN, &h);
        add_poll(h.packets, SLIRP_POLL_IN, &h);
        uint32_t timeout = TICK_MS;
        slirp_pollfds_fill(h.slirp, &timeout, add_poll, &h);
        timeout = run_timers(&h, timeout);
        int ready = poll(h.fds, h.nfds, (int)timeout);
        if (ready < 0 && errno != EINTR)
            die("poll");
        slirp_pollfds_poll(h.slirp, ready < 0, get_revents, &h);
        if (ready > 0 && h.fds[1].revents)
            from_tester(&h);
        if (ready > 0 && h.fds[0].revents)
            from_user(&h);
    }
}
