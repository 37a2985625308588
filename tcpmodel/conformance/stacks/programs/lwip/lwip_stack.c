/* lwIP's TCP for tcpmodel's conformance harness: one connection, driven over the line protocol
 * of tcpmodel/stacks/process.py (user calls on stdin, replies on stdout) with its packets on a
 * socketpair (one IPv4 packet per datagram, after the 4-byte TUN header 00 00 08 00).
 *
 *     lwip_stack PACKET_FD STACK_ADDRESS STACK_PORT TESTER_ADDRESS TESTER_PORT
 *
 * Debian's liblwip is built with NO_SYS=0 (the unix port's threads and core lock), but nothing
 * here starts lwIP's tcpip thread: lwip_init() alone sets the stack up, and this program's one
 * thread runs it: a poll() over stdin and the packet socket whose timeout is lwIP's next timer
 * (sys_timeouts_sleeptime), then sys_check_timeouts(). With no tcpip thread marked, the port's
 * core-lock check has nothing to check, and no two threads ever touch the stack.
 *
 * The interface is point-to-point: its output hook takes IPv4 packets as they are (no ARP), and
 * what arrives goes straight to ip_input. User calls use the raw TCP API: LISTEN is tcp_listen,
 * CONNECT tcp_connect, SEND tcp_write + tcp_output, CLOSE tcp_shutdown(pcb, 0, 1) (RFC 9293's
 * CLOSE: no more to send, still receiving; tcp_close would also shut the receive side, and lwIP
 * answers data after that with a reset), except in SYN-SENT and on a listener, where tcp_close is
 * the RFC's CLOSE (the pcb is deleted); ABORT is tcp_abort (tcp_close on a listener, which
 * tcp_abort refuses). Whatever arrives is read at once (tcp_recved), as a user who always reads.
 *
 * The raw API hands over a passive connection only when its handshake has completed (the accept
 * callback); in SYN-RECEIVED it is the listener's, and closing the listener would make lwIP reset
 * it later rather than do the RFC's CLOSE. So SEND, CLOSE and ABORT there answer "unsupported".
 * The listener is closed once a connection is accepted: RFC 9293's passive TCB becomes the
 * connection, where a listener left open would answer later SYNs itself.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/priv/tcp_priv.h" /* tcp_active_pcbs (to see a half-open connection), TCP_SLOW_INTERVAL */

#define HEADER_BYTES 4
#define PACKET_BYTES 1500 /* the interface's MTU */
#define QUEUE_PACKETS 64  /* packets held while the tester's side of the socketpair is full */
#define LINE_BYTES 256

static const unsigned char tun_header[HEADER_BYTES] = {0, 0, 8, 0};

static int packet_fd = -1;
static ip_addr_t stack_address, tester_address; /* IPv4 (lwIP is built dual-stack) */
static u16_t stack_port, tester_port;
static struct netif interface;
static struct tcp_pcb *connection; /* the user's connection, NULL when it does not exist */
static struct tcp_pcb *listener;   /* the listening pcb, until a connection is accepted */

/* Packets waiting for room on the socketpair: a datagram socket holds only a few queued ones. */
static unsigned char queue[QUEUE_PACKETS][HEADER_BYTES + PACKET_BYTES];
static size_t queue_lengths[QUEUE_PACKETS];
static int queue_head, queue_count;

static void reply(const char *format, ...) __attribute__((format(printf, 1, 2)));

static void reply(const char *format, ...)
{
    char line[LINE_BYTES];
    va_list args;
    va_start(args, format);
    int length = vsnprintf(line, sizeof line - 1, format, args);
    va_end(args);
    if (length < 0)
        length = 0;
    if ((size_t)length > sizeof line - 2)
        length = sizeof line - 2;
    line[length++] = '\n';
    for (int done = 0; done < length;) {
        ssize_t wrote = write(STDOUT_FILENO, line + done, (size_t)(length - done));
        if (wrote < 0 && errno == EINTR)
            continue;
        if (wrote <= 0)
            exit(1); /* the harness is gone */
        done += (int)wrote;
    }
}

static const char *error_name(err_t err)
{
    static const char *const names[] = {"ERR_OK", "ERR_MEM", "ERR_BUF", "ERR_TIMEOUT", "ERR_RTE",
                                        "ERR_INPROGRESS", "ERR_VAL", "ERR_WOULDBLOCK", "ERR_USE",
                                        "ERR_ALREADY", "ERR_ISCONN", "ERR_CONN", "ERR_IF", "ERR_ABRT",
                                        "ERR_RST", "ERR_CLSD", "ERR_ARG"};
    return err <= 0 && -err < (int)(sizeof names / sizeof names[0]) ? names[-err] : "ERR_?";
}

static void reply_result(err_t err)
{
    if (err == ERR_OK)
        reply("ok");
    else
        reply("error %s", error_name(err));
}

/* ------------------------------------------------------------------ packets */

static void flush_queue(void)
{
    while (queue_count > 0) {
        if (send(packet_fd, queue[queue_head], queue_lengths[queue_head], MSG_DONTWAIT) < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                return;
            if (errno == EINTR)
                continue;
            fprintf(stderr, "lwip_stack: writing a packet: %s\n", strerror(errno));
            exit(1);
        }
        queue_head = (queue_head + 1) % QUEUE_PACKETS;
        queue_count--;
    }
}

static err_t interface_output(struct netif *netif, struct pbuf *p, const ip4_addr_t *next_hop)
{
    (void)netif;
    (void)next_hop;
    if (p->tot_len > PACKET_BYTES)
        return ERR_BUF;
    if (queue_count == QUEUE_PACKETS) {
        fprintf(stderr, "lwip_stack: %d packets wait for the tester to read; one is dropped\n", QUEUE_PACKETS);
        return ERR_BUF;
    }
    int slot = (queue_head + queue_count) % QUEUE_PACKETS;
    memcpy(queue[slot], tun_header, HEADER_BYTES);
    queue_lengths[slot] = HEADER_BYTES + pbuf_copy_partial(p, queue[slot] + HEADER_BYTES, p->tot_len, 0);
    queue_count++;
    flush_queue();
    return ERR_OK;
}

static err_t interface_setup(struct netif *netif)
{
    netif->name[0] = 't';
    netif->name[1] = 'm';
    netif->output = interface_output;
    netif->mtu = PACKET_BYTES;
    netif->flags = 0; /* point-to-point: no ARP, no broadcast, no IGMP */
    return ERR_OK;
}

/* Every datagram waiting on the socketpair into lwIP; anything but an IPv4 packet is dropped. */
static void read_packets(void)
{
    unsigned char datagram[HEADER_BYTES + 65536];
    for (;;) {
        ssize_t length = recv(packet_fd, datagram, sizeof datagram, MSG_DONTWAIT);
        if (length < 0 && errno == EINTR)
            continue;
        if (length < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (length <= 0) {
            fprintf(stderr, "lwip_stack: the packet socket %s\n", length == 0 ? "was closed" : strerror(errno));
            exit(1);
        }
        if (length <= HEADER_BYTES || memcmp(datagram + 2, tun_header + 2, 2) != 0 || length - HEADER_BYTES > 0xFFFF)
            continue;
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)(length - HEADER_BYTES), PBUF_RAM);
        if (p == NULL) {
            fprintf(stderr, "lwip_stack: no memory for an arriving packet\n");
            continue;
        }
        pbuf_take(p, datagram + HEADER_BYTES, (u16_t)(length - HEADER_BYTES));
        if (interface.input(p, &interface) != ERR_OK)
            pbuf_free(p);
    }
}

/* ------------------------------------------------------------------ lwIP's callbacks */

static err_t on_receive(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (p != NULL) { /* the user reads it at once */
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
    }
    return ERR_OK; /* p == NULL: the peer's FIN; the connection stays the user's until it ends */
}

static void on_error(void *arg, err_t err)
{
    (void)arg;
    (void)err;
    connection = NULL; /* reset, aborted or closed: lwIP has already freed the pcb */
}

static void adopt(struct tcp_pcb *pcb)
{
    connection = pcb;
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, on_receive);
    tcp_err(pcb, on_error);
    tcp_nagle_disable(pcb); /* each SEND is a segment of its own, as with Linux's TCP_NODELAY */
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || pcb == NULL)
        return ERR_VAL;
    if (connection != NULL) { /* one connection per run */
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    adopt(pcb);
    return ERR_OK;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    (void)pcb;
    (void)err;
    return ERR_OK;
}

/* ------------------------------------------------------------------ user calls */

/* The listener's connection in SYN-RECEIVED, which the raw API gives the user no handle on. */
static int half_open(void)
{
    for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb != NULL; pcb = pcb->next)
        if (pcb->state == SYN_RCVD && pcb->local_port == stack_port)
            return 1;
    return 0;
}

enum target { NOTHING, CONNECTION, LISTENER };

/* What a call acts on: the connection, else the listener; NOTHING once the reply is given. */
static enum target target_of(const char *call)
{
    if (connection != NULL)
        return CONNECTION;
    if (listener == NULL) {
        reply("error connection does not exist");
        return NOTHING;
    }
    if (half_open()) {
        reply("unsupported %s in SYN-RECEIVED of a passive open: lwIP's raw API has no handle on a "
              "connection before its accept callback (closing the listener would make lwIP reset it)", call);
        return NOTHING;
    }
    return LISTENER;
}

static void call_listen(void)
{
    err_t err = ERR_OK;
    if (connection != NULL || listener != NULL) {
        reply("error connection already exists");
        return;
    }
    struct tcp_pcb *pcb = tcp_new();
    if (pcb == NULL) {
        reply("error ERR_MEM");
        return;
    }
    err = tcp_bind(pcb, &stack_address, stack_port);
    struct tcp_pcb *listening = err == ERR_OK ? tcp_listen_with_backlog_and_err(pcb, 1, &err) : NULL;
    if (listening == NULL) {
        tcp_close(pcb); /* still CLOSED: freed */
        reply("error %s", error_name(err));
        return;
    }
    listener = listening;
    tcp_arg(listener, NULL);
    tcp_accept(listener, on_accept);
    reply("ok");
}

static void call_connect(void)
{
    if (connection != NULL || listener != NULL) {
        reply("error connection already exists");
        return;
    }
    struct tcp_pcb *pcb = tcp_new();
    if (pcb == NULL) {
        reply("error ERR_MEM");
        return;
    }
    adopt(pcb);
    err_t err = tcp_bind(pcb, &stack_address, stack_port);
    if (err == ERR_OK)
        err = tcp_connect(pcb, &tester_address, tester_port, on_connected);
    if (err != ERR_OK) {
        tcp_close(pcb); /* still CLOSED: freed */
        connection = NULL;
        reply("error %s", error_name(err));
        return;
    }
    reply("ok");
}

static void call_send(const char *argument)
{
    static const char octets[TCP_SND_BUF] = {0};
    char *end = NULL;
    errno = 0;
    long length = argument != NULL ? strtol(argument, &end, 10) : 0;
    if (argument == NULL || end == argument || *end != '\0' || errno != 0 || length < 1 || length > (long)sizeof octets) {
        reply("error SEND wants a length from 1 to %d", (int)sizeof octets);
        return;
    }
    enum target target = target_of("SEND");
    if (target == LISTENER)
        reply("unsupported SEND on a listening pcb: lwIP's raw API has no passive-to-active change");
    if (target != CONNECTION)
        return;
    err_t err = tcp_write(connection, octets, (u16_t)length, TCP_WRITE_FLAG_COPY);
    if (err == ERR_OK)
        err = tcp_output(connection);
    reply_result(err);
}

static void call_close(void)
{
    enum target target = target_of("CLOSE");
    if (target == LISTENER) {
        tcp_close(listener); /* LISTEN: the RFC deletes the TCB */
        listener = NULL;
        reply("ok");
    } else if (target == CONNECTION && (connection->state == SYN_SENT || connection->state == CLOSED)) {
        err_t err = tcp_close(connection); /* SYN-SENT: the RFC deletes the TCB */
        if (err == ERR_OK)
            connection = NULL;
        reply_result(err);
    } else if (target == CONNECTION) {
        reply_result(tcp_shutdown(connection, 0, 1));
    }
}

static void call_abort(void)
{
    enum target target = target_of("ABORT");
    if (target == LISTENER) {
        tcp_close(listener); /* tcp_abort refuses a listening pcb; the RFC deletes the TCB */
        listener = NULL;
        reply("ok");
    } else if (target == CONNECTION) {
        tcp_abort(connection); /* frees the pcb (the error callback forgets it too) */
        connection = NULL;
        reply("ok");
    }
}

/* How long a retransmission takes at most: lwIP retransmits when the pcb's rtime, counted in
 * slow-timer ticks from the segment's sending, reaches rto ticks. Without a pcb to ask (a half-open
 * connection is the listener's; a deleted one is gone) the answer is the rto every new pcb starts
 * with, read from one made for the purpose, as linux.py answers with TCP_TIMEOUT_INIT: the harness
 * then waits, and records whether anything comes. */
static void call_rto(void)
{
    s16_t ticks;
    if (connection != NULL) {
        ticks = connection->rto;
    } else {
        struct tcp_pcb *fresh = tcp_new();
        if (fresh == NULL) {
            reply("none");
            return;
        }
        ticks = fresh->rto;
        tcp_close(fresh); /* never opened: freed */
    }
    reply("ok %.3f", ticks * TCP_SLOW_INTERVAL / 1000.0);
}

static void command(char *line)
{
    char *name = strtok(line, " \t\r");
    char *argument = name != NULL ? strtok(NULL, " \t\r") : NULL;
    if (name == NULL) {
        reply("error empty command");
    } else if (argument != NULL && strcmp(name, "SEND") != 0) {
        reply("error %s takes no argument", name);
    } else if (strcmp(name, "SEND") == 0 && strtok(NULL, " \t\r") != NULL) {
        reply("error SEND takes one argument");
    } else if (strcmp(name, "LISTEN") == 0) {
        call_listen();
    } else if (strcmp(name, "CONNECT") == 0) {
        call_connect();
    } else if (strcmp(name, "SEND") == 0) {
        call_send(argument);
    } else if (strcmp(name, "CLOSE") == 0) {
        call_close();
    } else if (strcmp(name, "ABORT") == 0) {
        call_abort();
    } else if (strcmp(name, "POLL") == 0) {
        reply("ok"); /* accepting and reading happen as lwIP calls back */
    } else if (strcmp(name, "RTO") == 0) {
        call_rto();
    } else if (strcmp(name, "QUIT") == 0) {
        reply("ok");
        exit(0);
    } else {
        reply("error unknown command %.40s", name);
    }
    if (connection != NULL && listener != NULL) { /* accepted: the passive TCB became the connection */
        tcp_close(listener);
        listener = NULL;
    }
}

/* Complete lines from stdin to command(); a line longer than LINE_BYTES is answered with an error. */
static void read_commands(void)
{
    static char buffer[LINE_BYTES];
    static size_t used;
    static int overlong;
    char chunk[LINE_BYTES];
    ssize_t length = read(STDIN_FILENO, chunk, sizeof chunk);
    if (length < 0 && errno == EINTR)
        return;
    if (length <= 0)
        exit(0); /* the harness closed our stdin */
    for (ssize_t i = 0; i < length; i++) {
        if (chunk[i] == '\n') {
            buffer[used] = '\0';
            if (overlong)
                reply("error the command is longer than %d characters", LINE_BYTES - 1);
            else
                command(buffer);
            used = 0;
            overlong = 0;
        } else if (used < sizeof buffer - 1) {
            buffer[used++] = chunk[i];
        } else {
            overlong = 1;
        }
    }
}

/* ------------------------------------------------------------------ main */

/* lwIP delays an ACK to the next tick of its fast timer (every TCP_TMR_INTERVAL = 250 ms, at a
 * phase of its own). The harness listens 50 ms after a step where the spec wants nothing, so
 * whether it would see such an ACK would depend on that phase, and verdicts would change from run
 * to run. The program therefore runs one extra fast-timer tick (tcp_fasttmr) right after each
 * batch of arriving packets: lwIP sends then what its next tick would send, as it does whenever
 * the tick happens to follow the segment. */

static int parse_port(const char *text, u16_t *port)
{
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < 1 || value > 65535)
        return 0;
    *port = (u16_t)value;
    return 1;
}

int main(int argc, char **argv)
{
    char *end = NULL;
    if (argc == 6)
        packet_fd = (int)strtol(argv[1], &end, 10);
    if (argc != 6 || end == argv[1] || *end != '\0' || packet_fd < 0 || fcntl(packet_fd, F_GETFD) < 0
        || !ipaddr_aton(argv[2], &stack_address) || !IP_IS_V4(&stack_address) || !parse_port(argv[3], &stack_port)
        || !ipaddr_aton(argv[4], &tester_address) || !IP_IS_V4(&tester_address) || !parse_port(argv[5], &tester_port)) {
        fprintf(stderr, "usage: %s PACKET_FD STACK_ADDRESS STACK_PORT TESTER_ADDRESS TESTER_PORT\n", argv[0]);
        return 2;
    }
    lwip_init();
    ip4_addr_t netmask;
    IP4_ADDR(&netmask, 255, 255, 255, 0);
    if (netif_add(&interface, ip_2_ip4(&stack_address), &netmask, ip_2_ip4(&tester_address), NULL, interface_setup, ip_input) == NULL) {
        fprintf(stderr, "lwip_stack: netif_add failed\n");
        return 1;
    }
    netif_set_default(&interface);
    netif_set_link_up(&interface);
    netif_set_up(&interface);
    reply("ready lwIP %s", LWIP_VERSION_STRING);

    for (;;) {
        sys_check_timeouts();
        u32_t sleep = sys_timeouts_sleeptime();
        struct pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {packet_fd, POLLIN | (queue_count ? POLLOUT : 0), 0}};
        int timeout = sleep == SYS_TIMEOUTS_SLEEPTIME_INFINITE ? -1 : sleep > INT_MAX ? INT_MAX : (int)sleep;
        if (poll(fds, 2, timeout) < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "lwip_stack: poll: %s\n", strerror(errno));
            return 1;
        }
        if (fds[1].revents & POLLOUT)
            flush_queue();
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            read_packets();
            tcp_fasttmr(); /* the ACKs lwIP delays go out now: see the note above main */
        }
        if (connection != NULL && listener != NULL) {
            tcp_close(listener);
            listener = NULL;
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR))
            read_commands();
    }
}
