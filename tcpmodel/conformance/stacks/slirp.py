"""libslirp's TCP (the user-mode network of QEMU and of rootless containers), driven as slirp's
guest, by a small C program (``programs/slirp/harness.c``) run through ``process``.

Slirp is a proxy: it terminates the guest's TCP connections in a BSD-derived TCP of its own
(``tcp_input.c``, ``tcp_output.c``: 4.4BSD-Lite as adapted by Slirp in 1995) and carries their
data over ordinary sockets of the host. That TCP is the stack under test. The tester plays the
*guest*: slirp's default guest address 10.0.2.15, on slirp's default network 10.0.2.0/24;
the stack's address is slirp's host alias 10.0.2.2 (vhost), which slirp maps to 127.0.0.1 on
the host. The program speaks Ethernet to slirp and bare IPv4 to the tester: it wraps each of the
tester's packets in an Ethernet frame for ``slirp_input``, unwraps the IPv4 frames slirp hands to
``send_packet``, and does the guest's part in ARP itself (a gratuitous ARP at start fills
slirp's table; a request for the guest is answered), so ARP never reaches the tester. DHCP, DNS
and IPv6 are off. Slirp's timers run on the program's clock (``clock_get_ns``: CLOCK_MONOTONIC;
its TCP timers tick in ``slirp_pollfds_poll``, every 500 ms, its delayed ACK after 2 ms).

The user of slirp's TCP is the host side: sockets on 127.0.0.1 the program opens. They live in
a network namespace the program makes for itself at start (``unshare(CLONE_NEWNET)``, with only
``lo`` up), so the vectors' fixed ports meet no other process of the machine, no TIME-WAIT of an
earlier vector, and nothing can leave it; the namespace has no name and ends with the process
however the process ends.

The roles (the stack's port is 40000 as the active opener and 5000 as the passive one):

- **passive** (the tester connects): the tester's SYN goes to 10.0.2.2:5000. Slirp has no
  listening TCB of its own: for every SYN it creates a socket in LISTEN and ``connect()``s to
  127.0.0.1:5000 on the host (``tcp_fconnect``), staying silent in SYN-RECEIVED meanwhile. Only
  when that connect completes does it send its SYN-ACK; when the host refuses, it answers the
  SYN with <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK> and deletes the TCB, as a CLOSED TCP does.
  So LISTEN is a host socket listening on 127.0.0.1:5000: before it, slirp's TCP behaves as
  CLOSED; after it, as LISTEN (the host's loopback connect completes at once, so the SYN-ACK
  follows the SYN within the same turn of the program's loop). A guestfwd
  (``slirp_add_guestfwd``) would send the SYN-ACK without asking anyone, but slirp has no call
  that closes or resets such a connection, so CLOSE and ABORT could not be made at all.
  POLL accepts the host connection (and closes the listener: RFC 9293's passive TCB became the
  connection; an open listener would have slirp answer later SYNs) and reads what arrived.
- **active** (the stack connects): CONNECT sets up a hostfwd (``slirp_add_hostfwd``:
  127.0.0.1:5000 -> 10.0.2.15:5000) and connects a host client bound to 127.0.0.1:40000 to
  it; slirp accepts the client and opens the connection to the guest from 10.0.2.2:40000 (it
  keeps the client's port), so the SYN goes to the tester. The host client is connected
  before the guest has answered: that is the proxy's design.

SEND, CLOSE and ABORT act on the host socket: ``send()``, ``shutdown(SHUT_WR)`` (RFC 9293's
CLOSE: no more to send, the connection still receives; slirp reads the end of the stream and
sends its FIN) and SO_LINGER {1, 0} + ``close()`` (the host socket is reset; slirp reads
ECONNRESET and resets its connection to the guest). Slirp reads its host socket only while the
connection is synchronized (``CONN_CANFRCV``: ``SS_ISFCONNECTED``), so a call made in SYN-SENT
or SYN-RECEIVED takes effect only once the handshake has completed. CLOSE or ABORT on a
listener closes the listener. What slirp cannot express is answered ``unsupported`` (the vector
is SKIPPED): SEND in LISTEN (no passive-to-active change: slirp opens connections to its guest
only for a host client of a hostfwd).

Timers: slirp's TCP timers count ticks of 500 ms, taken in ``slirp_pollfds_poll`` at the first
call 499 ms or more after the last; the program's loop wakes at least every 50 ms, so a tick comes
499 to 549 ms after the one before. RTO is answered with 6.59 s, the most the first retransmission
of a segment can take: libslirp's initial RTO is 12 ticks, and an RTT measured on the socketpair
only lowers it; the tcpcb is private to libslirp, so the running value cannot be asked for.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

from tcpmodel.conformance.findings import Finding
from tcpmodel.conformance.outcomes import Recording, Settings
from tcpmodel.conformance.stacks.build import BuildFailed, built_program
from tcpmodel.conformance.stacks.install import missing_debian
from tcpmodel.conformance.stacks.process import Addresses, run_vector

NAME = "slirp"
PROFILE = "slirp"  # the profile its report is judged by (tcpmodel.oracle.profiles)
DEBIAN_PACKAGES = ("libslirp-dev", "libglib2.0-dev", "gcc", "libc6-dev", "pkg-config")
PYPI_PACKAGES = ()
SOURCES = ["slirp/harness.c"]
PACKAGE = "libslirp0"  # the library the program links, whose release the report names
# slirp's host alias and its default guest; ports: role -> (stack's, tester's)
ADDRESSES = Addresses("10.0.2.2", "10.0.2.15", {"active": (40000, 5000), "passive": (5000, 40000)})
NETWORK = "10.0.2.0/24"


def unavailable_reason() -> str | None:
    missing = missing_debian(DEBIAN_PACKAGES)
    if missing:
        return f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed: run tcpmodel stacks --install slirp"
    if not _namespaces_possible():
        return "the slirp program makes a network namespace of its own, which needs root or user namespaces"
    return None


def _namespaces_possible() -> bool:
    import os

    if os.geteuid() == 0:
        return True
    try:
        with open("/proc/sys/user/max_user_namespaces") as limit:
            return int(limit.read()) > 0
    except (OSError, ValueError):
        return False


@functools.cache
def prepare():
    """The harness program, built (once per source and flags) with gcc and pkg-config's flags."""

    if shutil.which("pkg-config") is None:
        raise BuildFailed("building the slirp program needs `pkg-config`, which is not installed "
                          "(tcpmodel stacks --install slirp installs it)")
    done = subprocess.run(["pkg-config", "--cflags", "--libs", "slirp"], check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildFailed("pkg-config knows no slirp: libslirp-dev is not installed (tcpmodel stacks --install slirp)")
    command = ["gcc", "-O2", "-Wall", "-o", "{out}", "slirp/harness.c", *done.stdout.split()]
    return built_program("slirp", SOURCES, command, "slirp-harness")


def describe() -> dict:
    return {
        "version": f"libslirp {_package_version()}",
        "addresses": f"stack {ADDRESSES.stack} (slirp's host alias) and tester {ADDRESSES.tester} (its guest), "
                     f"on slirp's network {NETWORK}; host side on 127.0.0.1 in the program's own network namespace",
        "ports": "stack 40000 (active: a hostfwd's host client bound to it) or 5000 (passive: a host listener); tester the other",
        "user calls": "on the host side's sockets: SEND send(), CLOSE shutdown(SHUT_WR), ABORT SO_LINGER 0 and close()",
    }


def _package_version() -> str:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", PACKAGE], check=False, capture_output=True, text=True) \
        if shutil.which("dpkg-query") else None
    version = done.stdout.strip() if done is not None and done.returncode == 0 else ""
    upstream = version.split("-")[0] if version else "(release unknown)"
    return f"{upstream} (Debian {version})" if version else upstream


def run(vector: dict, settings: Settings, model_window: int) -> Recording:
    """Run one vector against a fresh slirp (the program is killed after ``settings.timeout``)."""
    return run_vector([str(prepare())], vector, settings, model_window, ADDRESSES)


# What the FAILs of a full run mean, from the traces and libslirp 4.7.0's source (tcp_input.c,
# tcp_output.c, tcp.h). Order matters: a FAIL is explained by the first finding that matches it.
FINDINGS = (
    Finding(
        "calls-wait-for-the-handshake", "harness",
        "RFC 9293 §3.10.4 and §3.10.5 (CLOSE and ABORT in SYN-SENT and SYN-RECEIVED)",
        "CLOSE in SYN-RECEIVED sends a FIN at once (SYN-SENT: delete the TCB), ABORT in SYN-RECEIVED sends "
        "<SEQ=SND.NXT><CTL=RST> (SYN-SENT: delete the TCB quietly)",
        "is told of CLOSE and ABORT only through its host socket (end of stream, connection reset), which it "
        "reads only once the connection is synchronized (CONN_CANFRCV in slirp.c); the calls take effect after "
        "the handshake completes (the FIN or RST then follows the peer's ACK), or never when the connection "
        "ends before",
        ("*.FIN-WAIT-1.*", "*.rule.synrcvd_close", "*.rule.rst", "*.rule.fin_retransmit_syn", "*.rule.abort_reset",
         "active.rule.closed_ack", "active.rule.fin_wait_1_out_of_order*", "active.rule.fin_wait_2_out_of_order",
         "active.rule.closing_segment", "passive.rule.closed_rst", "passive.rule.closed_ack"),
    ),
    Finding(
        "reset-answers-a-reset", "procedure",
        "RFC 9293 §4 (glossary, RST) and §3.10.7.3 (SYN-SENT, first)",
        "in no case does receipt of a segment containing RST give rise to a RST in response; in SYN-SENT a RST "
        "with an unacceptable ACK is dropped",
        "answers such a segment with a reset: its dropwithreset path (tcp_input.c) never looks at the RST bit, so "
        "a RST for a connection it no longer has, or a RST,ACK with an unacceptable ACK in SYN-SENT, is "
        "answered with <SEQ=0><ACK=SEG.SEQ><CTL=RST,ACK> or <SEQ=SEG.ACK><CTL=RST>",
        ("*.SYN-SENT.RST*", "*.rule.listen_rst", "*.CLOSED.RST*.any", "*.LISTEN.RST*.any"), r"^<RST",
    ),
    Finding(
        "receive-window-beyond-the-advertised", "procedure",
        "RFC 9293 §3.10.7.4 (first, segment acceptability) and §3.8.6 (managing the window)",
        "a segment beyond RCV.NXT+RCV.WND is not acceptable: it is answered with <SEQ=SND.NXT><ACK=RCV.NXT>"
        "<CTL=ACK> and dropped; the window a segment carries indicates what the receiver is prepared to accept",
        "takes RCV.WND to be its free receive buffer, 128 KiB (TCP_RCVSPACE), while its window field, unscaled "
        "(no RFC 7323 window scale), says 65535: a segment just beyond the advertised window is inside its "
        "RCV.WND and processed as acceptable (an ACK acted on, a SYN answered with resets, text queued), "
        "which the RFC does not forbid and the spec, whose RCV.WND is the advertised window, does not model",
        ("*.out_of_window",), r"^(no segment$|<RST)",
    ),
    Finding(
        "fin-and-text-after-the-peers-fin", "procedure",
        "RFC 9293 §3.10.7.4 (seventh and eighth: CLOSE-WAIT, CLOSING, LAST-ACK)",
        "once the peer's FIN is received, segment text \"should not occur\" and is ignored, and a FIN "
        "leaves the state as it is",
        "accepts text and a second FIN beyond the peer's FIN and acknowledges them (ACK beyond the FIN, or a "
        "duplicate ACK for text queued out of order): 4.4BSD's TCPS_HAVERCVDFIN (tcp.h) holds only in "
        "TIME-WAIT, so CLOSE-WAIT, CLOSING and LAST-ACK still process text and FINs",
        ("*.CLOSE-WAIT.FIN.*", "*.CLOSE-WAIT.data.*", "*.LAST-ACK.FIN.*"), r"^<ACK |ACK=1003>$",
    ),
    Finding(
        "fin-resent-with-every-ack", "procedure",
        "RFC 9293 §3.10.7.4 (first, fifth, seventh, eighth: FIN-WAIT-1, CLOSING, LAST-ACK)",
        "the acknowledgment owed there is <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; nothing forbids retransmitting "
        "an unacknowledged FIN along with it",
        "sends every segment of FIN-WAIT-1, CLOSING and LAST-ACK as a retransmission of its unacknowledged "
        "FIN, <SEQ=SND.NXT-1><ACK=RCV.NXT><CTL=FIN,ACK>: tcp_output (4.4BSD) backs snd_nxt up over a FIN it "
        "sent before whenever the state's flags hold FIN; it acknowledges just as well, but the spec has only "
        "the pure ACK",
        ("*.CLOSING.*", "*.TIME-WAIT.*", "*.LAST-ACK.*", "*.rule.fin_wait_1_fin", "*.rule.fin_wait_1_out_of_order",
         "*.rule.fin_wait_1_segment",
         "*.rule.timewait_fin", "*.rule.closing_fin_acked", "*.rule.closing_segment", "*.rule.abort_quiet",
         "*.rule.unacceptable_rst"),
        r"^<FIN,ACK ",
    ),
    Finding(
        "text-after-close-resets", "MAY",
        "RFC 9293 §3.6.1 (half-closed connections, MAY-1 and SHLD-3)",
        "a host MAY implement a half-duplex close, and then SHOULD answer new data received after CLOSE with a "
        "RST; the spec models the full-duplex close, where LAST-ACK ignores text",
        "closes its host socket once both directions are shut (the user's CLOSE read, the peer's FIN passed on: "
        "SS_NOFDREF) and answers text arriving after that with a reset before looking at its ACK (tcp_input.c)",
        ("*.LAST-ACK.data.*",), r"^<RST ",
    ),
    Finding(
        "syn-received-old-segment-not-acknowledged", "procedure",
        "RFC 9293 §3.10.7.4 (first, SYN-RECEIVED)",
        "a segment that is not acceptable (here one wholly before RCV.NXT) should be answered with "
        "<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and dropped",
        "trims it to nothing (4.4BSD) and, as it has no ACK bit, drops it without sending the acknowledgment "
        "it had marked as owed",
        ("passive.SYN-RECEIVED.*.before_window", "passive.SYN-RECEIVED.*.old_duplicate",
         "active.SYN-RECEIVED.*.before_window", "active.SYN-RECEIVED.*.old_duplicate", "*.rule.unacceptable"),
        r"^no segment$",
    ),
    Finding(
        "old-segment-not-acknowledged", "procedure",
        "RFC 9293 §3.5.2 (3) and §3.10.7.4 (first)",
        "in a synchronized state an unacceptable segment (here one wholly before RCV.NXT) must be answered with "
        "an empty acknowledgment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and dropped",
        "trims it to nothing (4.4BSD's tcp_input) and goes on: without an ACK bit (a SYN) it is dropped before "
        "the acknowledgment it marked as owed is sent, and an ACK in it is acted on (in LAST-ACK it deletes "
        "the connection, silently)",
        ("*.before_window", "*.old_duplicate"), r"^no segment$",
    ),
    Finding(
        "passive-syn-received-syn-resets", "procedure",
        "RFC 9293 §3.10.7.4 (fourth, SYN-RECEIVED)",
        "a SYN on a connection that came from a passive OPEN returns it to LISTEN, silently",
        "resets the connection as RFC 793 did (tcp_drop's <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>, then a "
        "second reset formed from the segment): a slirp connection has no LISTEN to return to",
        ("passive.SYN-RECEIVED.SYN*",), r"^<RST",
    ),
    Finding(
        "syn-answered-with-two-resets", "procedure",
        "RFC 9293 §3.10.7.4 (fourth, synchronized states: RFC 793's behaviour)",
        "a SYN in the window is an error: send a reset (the spec forms it from the segment, as §3.5.2 does: "
        "<SEQ=SEG.ACK><CTL=RST>, or <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> without ACK) and enter CLOSED",
        "sends two resets: tcp_drop's from its TCB, <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>, then one formed "
        "from the segment (dropwithreset); both are acceptable to the peer, whose form the RFC leaves open",
        ("*.SYN.in_window", "*.SYN.last_in_window", "*.SYN-ACK.in_window", "*.SYN-ACK.last_in_window",
         "*.SYN-ACK.unsent_ACK", "*.SYN-ACK.ACK_2^31_away"),
        r"^<RST",
    ),
    Finding(
        "ack-2^31-away-is-old", "MAY",
        "RFC 9293 §3.10.7.4 (fifth) with RFC 1982 §3.2",
        "an ACK of something not yet sent (SEG.ACK > SND.NXT) is answered with an ACK and dropped; RFC 1982 "
        "leaves the comparison of numbers exactly 2^31 apart undefined, and the spec takes such an ACK as "
        "beyond SND.NXT",
        "compares sequence numbers as (int)(a - b) (SEQ_LEQ in tcp.h), so an ACK 2^31 away is an old duplicate "
        "ACK, which it ignores",
        ("*.ACK_2^31_away",), r"^no segment$",
    ),
)
