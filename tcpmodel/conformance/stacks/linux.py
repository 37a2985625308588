"""The Linux kernel's TCP, driven through a TUN device in a network namespace of its own.

Each vector runs in a fresh namespace (``netns.namespace()``), in a child process inside it
(``Namespace.call``), so no state of one vector (a TIME-WAIT entry, a timer) reaches the next and
nothing is left behind: the TUN device belongs to the child's open file and goes with it, the
namespace is deleted afterwards, also when a vector fails or the stack hangs (the child is
killed after ``settings.timeout``).

Inside: the stack's address 10.9.0.1/24 is on the TUN device ``tcpm0``; the tester is 10.9.0.2,
which is nothing but this module's Python code reading and writing raw IPv4 packets on the TUN's
file descriptor (``IFF_TUN | IFF_NO_PI``: one bare IPv4 packet per read or write). The tester's
packets are built by ``packets.ip_packet`` with correct IPv4 and TCP checksums (a TUN device
without a virtio-net header gives the kernel packets whose checksums it verifies). No packet
leaves the namespace.

A TUN device opened without ``TUNSETOFFLOAD`` offers the kernel no segmentation or checksum
offload, so TSO/GSO are done in software before a packet reaches the device and each read is
one segment as it would be on the wire; GRO applies only to ``IFF_NAPI`` devices. No ethtool
setting is needed (and ethtool need not be installed). The vectors send one octet at a time.

User calls, on sockets opened inside the namespace: the stack uses port 40000 as the active
opener (bound before connect, so the tester knows it) and 5000 as the passive one; the tester
the other. CONNECT is a non-blocking connect(); LISTEN bind() and listen(); SEND a non-blocking
send(); CLOSE is shutdown(SHUT_WR) (RFC 9293's CLOSE: no more to send, the connection still
receives; after close() Linux answers data that arrives with a reset), except in SYN-SENT and on
a listener, where close() is the same, and in SYN-RECEIVED (a simultaneous open), where Linux's
shutdown() holds the FIN back until the handshake completes and only close() sends it at once
as RFC 9293 §3.10.4 says (so data arriving after that CLOSE is answered with a reset); ABORT is
SO_LINGER {1, 0} and close().
The user reads whatever arrives after every step (RFC 9293 has the user RECEIVE it; unread data
would also make a later close() send a reset). The passive opener's connection is accepted as
soon as accept() returns it, and the listener is then closed: RFC 9293's passive TCB becomes
the connection, where a listener that stayed open would answer later SYNs itself. Before the
handshake has completed the socket API has no handle on the passive connection (SYN-RECEIVED
is a request socket of the listener): a SEND, CLOSE or ABORT there raises ``Unsupported``, and
the vector is SKIPPED. (Closing the listener instead would drop the half-open connection
without the FIN or RST RFC 9293 sends.)

Timers: the retransmission timer is waited for 1.5 times the connection's RTO as the kernel
reports it (TCP_INFO's tcpi_rto), or 1.5 s where there is no socket to ask (the SYN-ACK of a
request socket: TCP_TIMEOUT_INIT = 1 s). USER and TIME-WAIT are not waited for.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import socket
import struct
import subprocess
import threading

from tcpmodel.conformance.findings import Finding
from tcpmodel.conformance.harness import drive
from tcpmodel.conformance.outcomes import Recording, Settings, StackHung, Unsupported
from tcpmodel.host.netns import NamespaceUnavailable, namespace, write_sysctls
from tcpmodel.host.netns import unavailable_reason as netns_reason
from tcpmodel.host.socktable import tcp_table

NAME = "linux"
PROFILE = "linux"  # the profile its report is judged by: RFC 9293 with the MAY/SHOULD allowances Linux takes
DEVICE = "tcpm0"
STACK_ADDRESS, TESTER_ADDRESS, PREFIX_LENGTH = "10.9.0.1", "10.9.0.2", 24
PORTS = {"active": (40000, 5000), "passive": (5000, 40000)}  # role -> (stack's port, tester's port)
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000
TCP_INFO_RTO = struct.Struct("=8xI")  # struct tcp_info: 8 octets of u8 fields, then tcpi_rto (us)
TCP_SYN_SENT, TCP_LISTEN, TCP_SYN_RECV = 2, 10, 3
TIMEOUT_INIT = 1.0  # include/net/tcp.h TCP_TIMEOUT_INIT: the SYN and SYN-ACK timer
PACKET_BYTES = 65536

# Pinned in every vector's namespace, so that segments look like the model's (no options beyond
# MSS, no ECN flags) and every answer the spec requires is sent. Defaults stay where they do not
# change what the vectors see.
SYSCTLS = {
    "net.ipv4.tcp_timestamps": 0,  # no timestamp option (and no PAWS)
    "net.ipv4.tcp_sack": 0,  # no SACK-permitted / SACK options
    "net.ipv4.tcp_window_scaling": 0,  # no window scale: the advertised window is the window
    "net.ipv4.tcp_ecn": 0,  # no ECE/CWR on the SYN
    "net.ipv4.tcp_fastopen": 0,  # no Fast Open cookies or data on SYNs
    # Linux answers at most one out-of-window segment per 500 ms with an ACK (a defence against
    # ACK loops); the vectors send several invalid segments within milliseconds, each owed an ACK.
    "net.ipv4.tcp_invalid_ratelimit": 0,
    "net.ipv4.tcp_syn_retries": 6,  # the default: the SYN is retransmitted 6 times (vectors wait for one)
    "net.ipv4.tcp_synack_retries": 5,  # the default
    # Only orphaned sockets (closed by the user) time out in FIN-WAIT-2; CLOSE here is a
    # shutdown, so FIN-WAIT-2 lasts as long as RFC 9293 says (until the FIN comes).
    "net.ipv4.tcp_fin_timeout": 60,
    "net.ipv4.tcp_rfc1337": 0,  # the default: a RST ends TIME-WAIT, as RFC 9293 §3.10.7.4 says
    "net.ipv6.conf.all.disable_ipv6": 1,  # no IPv6 router solicitations or MLD reports on the TUN
    "net.ipv6.conf.default.disable_ipv6": 1,
}


def unavailable_reason() -> str | None:
    reason = netns_reason()
    if reason:
        return reason
    if not os.path.exists("/dev/net/tun"):
        return "the Linux stack is driven through a TUN device, and /dev/net/tun is missing"
    return None


def describe() -> dict:
    return {
        "version": f"Linux {os.uname().release}",
        "kernel": os.uname().release,
        "addresses": f"stack {STACK_ADDRESS}/{PREFIX_LENGTH} on TUN device {DEVICE}, tester {TESTER_ADDRESS}",
        "ports": "stack 40000 (active) or 5000 (passive); tester the other",
        "sysctls": dict(SYSCTLS),
    }


def run(vector: dict, settings: Settings, model_window: int) -> Recording:
    """Run one vector in a fresh namespace; the stack's process is killed after ``settings.timeout``."""

    reason = unavailable_reason()
    if reason:
        raise NamespaceUnavailable(reason)
    with namespace() as ns:
        box: dict = {}

        def work():
            try:
                box["result"] = ns.call(run_in_namespace, vector, settings, model_window)
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread below
                box["error"] = exc

        worker = threading.Thread(target=work, name="linux-vector", daemon=True)
        worker.start()
        worker.join(settings.timeout)
        if worker.is_alive():
            ns.stop_children()
            worker.join(10)
            raise StackHung(f"no answer within {settings.timeout:g} s: the stack's process was killed")
        if "error" in box:
            raise box["error"]
        return box["result"]


def run_in_namespace(vector: dict, settings: Settings, model_window: int) -> Recording:
    """Inside the namespace (a child process): pin the sysctls, open the TUN, run the vector."""

    read_back = write_sysctls(SYSCTLS)
    for name, value in SYSCTLS.items():
        if read_back[name] != str(value):
            raise RuntimeError(f"{name} reads back {read_back[name]!r} after {value!r} was written")
    tun = open_tun(DEVICE)
    try:
        for argv in (["ip", "addr", "add", f"{STACK_ADDRESS}/{PREFIX_LENGTH}", "dev", DEVICE],
                     ["ip", "link", "set", DEVICE, "up"]):
            subprocess.run(argv, check=True, capture_output=True)
        adapter = LinuxAdapter(tun, vector["role"])
        try:
            recording = drive(vector, adapter, settings, model_window)
        finally:
            adapter.close()
    finally:
        os.close(tun)
    return recording


def open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    except BaseException:
        os.close(fd)
        raise
    return fd


class LinuxAdapter:
    """The harness's adapter: sockets for the user calls, the TUN for the tester's packets."""

    def __init__(self, tun: int, role: str):
        self.tun, self.role = tun, role
        stack_port, tester_port = PORTS[role]
        self.port = stack_port
        self.endpoint = f"{STACK_ADDRESS}:{stack_port}"
        self.peer = f"{TESTER_ADDRESS}:{tester_port}"
        self.listener: socket.socket | None = None
        self.connection: socket.socket | None = None

    # ------------------------------------------------------------ packets

    def inject(self, packet: bytes) -> None:
        os.write(self.tun, packet)

    def receive(self, seconds: float) -> list[bytes]:
        """The packets the stack sent, waiting up to ``seconds`` for the first."""
        ready, _, _ = select.select([self.tun], [], [], seconds)
        packets = []
        while ready:
            try:
                packets.append(os.read(self.tun, PACKET_BYTES))
            except BlockingIOError:
                break
        return packets

    # ------------------------------------------------------------ the user

    def poll(self) -> None:
        """Accept the passive connection once there is one (then close the listener), and read
        whatever arrived."""
        if self.listener is not None and self.connection is None:
            try:
                connection, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                connection = None
            if connection is not None:
                connection.setblocking(False)
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.connection = connection
                self.listener.close()
                self.listener = None
        if self.connection is not None:
            while True:
                try:
                    if not self.connection.recv(PACKET_BYTES):
                        break
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # reset, or not connected (yet): nothing to read
                    break

    def call(self, name: str, length: int | None) -> str:
        self.poll()
        try:
            if name == "CONNECT":
                return self._connect()
            if name == "LISTEN":
                return self._listen()
            sock = self._socket(name)
            if sock is None:
                return "error: no open socket"
            if name == "SEND":
                sent = sock.send(b"a" * (length or 1))
                return "ok" if sent == (length or 1) else f"error: only {sent} of {length} octets sent"
            if name == "CLOSE":
                if sock is self.listener or _state(sock) in (TCP_SYN_SENT, TCP_SYN_RECV, TCP_LISTEN):
                    self._forget(sock)
                    sock.close()
                else:
                    sock.shutdown(socket.SHUT_WR)
                return "ok"
            if name == "ABORT":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self._forget(sock)
                sock.close()
                return "ok"
        except OSError as exc:
            code = exc.errno
            return f"error: {errno.errorcode.get(code, code) if code is not None else code}"
        raise ValueError(f"unknown user call {name!r}")

    def _connect(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((STACK_ADDRESS, self.port))
        sock.setblocking(False)
        self.connection = sock
        code = sock.connect_ex((TESTER_ADDRESS, PORTS[self.role][1]))
        return "ok" if code in (0, errno.EINPROGRESS) else f"error: {errno.errorcode.get(code, code)}"

    def _listen(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((STACK_ADDRESS, self.port))
        sock.listen(8)
        sock.setblocking(False)
        self.listener = sock
        return "ok"

    def _socket(self, call: str) -> socket.socket | None:
        if self.connection is not None:
            return self.connection
        if self.listener is not None and self._half_open():
            raise Unsupported(
                f"{call} in SYN-RECEIVED of a passive open: the socket API has no handle on a connection "
                "before accept() returns it (closing the listener would drop it without a FIN or RST)")
        if self.listener is not None and call == "SEND":
            raise Unsupported("SEND on a listening socket: the socket API has no passive-to-active change")
        return self.listener

    def _half_open(self) -> bool:
        return any(e.local[1] == self.port and e.state == TCP_SYN_RECV for e in tcp_table())

    def _forget(self, sock: socket.socket) -> None:
        if sock is self.connection:
            self.connection = None
        if sock is self.listener:
            self.listener = None

    def timer_wait(self, timer: str) -> float | None:
        if timer != "RETRANSMISSION":
            return None
        rto = TIMEOUT_INIT
        if self.connection is not None:
            try:
                info = self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
                rto = TCP_INFO_RTO.unpack_from(info)[0] / 1e6 or TIMEOUT_INIT
            except OSError:
                pass
        return 1.5 * rto

    def close(self) -> None:
        for sock in (self.connection, self.listener):
            if sock is not None:
                sock.close()
        self.connection = self.listener = None


def _state(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)[0]


# ---------------------------------------------------------------- what its FAILs mean
# Read off the traces and ladders of `tcpmodel conform --stack linux` on Linux 6.18, with the
# kernel functions that decide (net/ipv4/tcp_input.c, tcp_minisocks.c).

FINDINGS = (
    Finding(
        "syn-resent-after-bad-ack", "SHOULD", "RFC 6298 §5 (the RECOMMENDED timer management), RFC 9293 §3.8.1",
        "a segment is retransmitted when its retransmission timer expires, an RTO after it was sent",
        "answers an unacceptable ACK in SYN-SENT with the reset §3.10.7.3 asks for, then re-arms the SYN's timer "
        "with TCP_TIMEOUT_MIN (tcp_rcv_synsent_state_process, in case the peer ignored an earlier reset), so the "
        "SYN is sent again within about 10 ms",
        ("active.SYN-SENT.*.unsent_ACK", "active.SYN-SENT.*.ACK_2^31_away"), seen=r"^<SYN "),
    Finding(
        "window-right-edge", "procedure", "RFC 9293 §3.10.7.4 (first, the sequence number check)",
        "a segment is acceptable when RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND, so an empty segment at "
        "RCV.NXT+RCV.WND is not: an ACK there is answered with an ACK, a RST there is dropped",
        "accepts SEQ = RCV.NXT+RCV.WND (tcp_sequence tests !after(seq, rcv_nxt + window)), so such an ACK gets "
        "no answer and such a RST a challenge ACK; one number further on it answers as the RFC does",
        ("*.ACK.out_of_window", "*.RST.out_of_window", "*.RST-ACK.out_of_window")),
    Finding(
        "half-duplex-close", "MAY", "RFC 9293 §3.6 (MAY-1, SHLD-3)",
        "a host MAY implement a half-duplex close, and then SHOULD answer data that arrives after the CLOSE "
        "with a reset; the spec models the full CLOSE, after which the connection still receives",
        "holds the FIN of shutdown(SHUT_WR) back in a simultaneous open's SYN-RECEIVED until the handshake "
        "completes, so the harness makes that CLOSE a close(), which §3.10.4 matches (the FIN goes at once); "
        "the closed socket then resets on arriving data (SHLD-3) and, once its FIN is acknowledged, moves to "
        "FIN-WAIT-2 without answering the segment (tcp_rcv_state_process, an orphaned socket)",
        ("active.FIN-WAIT-1.data.*", "active.FIN-WAIT-1.FIN.last_in_window", "active.FIN-WAIT-1.FIN.out_of_window",
         "active.rule.fin_wait_2_out_of_order")),
    Finding(
        "window-left-edge", "procedure", "RFC 9293 §3.10.7.4 (first, the sequence number check)",
        "a segment whose octets all lie before RCV.NXT is not acceptable: it is answered with an ACK and dropped "
        "before its ACK field is looked at",
        "accepts a segment that ends at RCV.NXT (tcp_sequence compares its end with rcv_wup), so its ACK of the "
        "FIN completes the close (CLOSING to TIME-WAIT, LAST-ACK to CLOSED) and the segment is consumed unanswered",
        ("*.CLOSING.*.before_window", "*.LAST-ACK.*.before_window")),
    Finding(
        "time-wait-acks-everything", "procedure", "RFC 9293 §3.10.7.4 (TIME-WAIT in the fifth, seventh and eighth steps)",
        "an acceptable segment in TIME-WAIT has its text ignored, a FIN restarts the 2 MSL timer, and only a "
        "retransmission of the peer's FIN is acknowledged",
        "answers every segment in TIME-WAIT except a bare ACK or a RST at exactly RCV.NXT with an ACK "
        "(tcp_timewait_state_process returns TCP_TW_ACK)",
        ("*.TIME-WAIT.ACK.last_in_window", "*.TIME-WAIT.data.*", "*.TIME-WAIT.FIN.*")),
    Finding(
        "time-wait-ignores-ack-field", "procedure", "RFC 9293 §3.10.7.4 (fifth, the ACK field)",
        "a segment acknowledging something not yet sent is answered with an ACK and dropped",
        "takes a bare ACK at RCV.NXT in TIME-WAIT as in order whatever it acknowledges, and answers nothing",
        ("*.TIME-WAIT.ACK.unsent_ACK",)),
    Finding(
        "time-wait-rst-silent", "MUST", "RFC 9293 §3.10.7.4 (second, the RST bit), RFC 5961 §3.2",
        "a stack implementing RFC 5961's protection MUST answer a RST in the window but not at RCV.NXT with a "
        "challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>",
        "implements RFC 5961 for full sockets, but in TIME-WAIT drops such a RST without an answer and stays "
        "(tcp_timewait_state_process accepts a RST only at exactly RCV.NXT)",
        ("*.TIME-WAIT.RST.last_in_window", "*.TIME-WAIT.RST-ACK.last_in_window")),
    Finding(
        "request-socket-reset", "procedure", "RFC 9293 §3.10.7.4 (fourth, the SYN bit)",
        "a SYN in the window of a passive open's SYN-RECEIVED returns the connection to LISTEN without a segment",
        "answers it as RFC 793 did, with a reset, and drops the half-open connection (tcp_check_req, "
        "embryonic_reset)",
        ("passive.SYN-RECEIVED.SYN.in_window", "passive.SYN-RECEIVED.SYN.last_in_window", "passive.SYN-RECEIVED.SYN-ACK.*")),
    Finding(
        "request-socket-synack-again", "procedure", "RFC 9293 §3.10.7.4 (first, the sequence number check)",
        "an unacceptable segment in SYN-RECEIVED is answered with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>",
        "answers a retransmission of the peer's first SYN with its SYN-ACK again (tcp_check_req), as if its "
        "own SYN-ACK had been lost",
        ("passive.rule.unacceptable", "passive.SYN-RECEIVED.SYN.before_window", "passive.SYN-RECEIVED.SYN.old_duplicate"),
        seen=r"^<SYN,ACK "),
)
