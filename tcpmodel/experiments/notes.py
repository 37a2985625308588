"""Experiments on the Linux kernel's TCP for claims of the source notes, each a run of seconds.

Each runs over 127.0.0.1 in a network namespace of its own (``netns.namespace``; needs root) and
returns a dict of what was measured, with the kernel release and the sysctls it set:

- ``message_boundaries``: two ``send()`` calls of 5 octets leave as two segments and are read by
  one ``recv()``; one ``send()`` of 10 octets is read by ``recv(4)`` in three pieces. TCP keeps no
  message boundaries (RFC 9293 §2.2: a byte stream).
- ``syn_data``: with TCP Fast Open (RFC 7413) switched on without cookies
  (``net.ipv4.tcp_fastopen`` = 0x207), a ``sendto(MSG_FASTOPEN)`` puts its data on the SYN, the
  server's SYN,ACK acknowledges it and the server reads it: the first segment of a handshake may
  carry data.
- ``time_wait_cost``: connections that the server closes first leave their TIME-WAITs on the
  server: ``/proc/net/sockstat`` counts them, ``/proc/self/fd`` shows that the server holds no
  descriptor for them, ``/proc/slabinfo`` gives the size of the kernel object each one takes. A
  client whose ports all sit in TIME-WAIT towards one server still connects to another: the limit
  is per destination (the 4-tuple), not per port.

Segments are captured on ``lo`` (``loopback.LoopbackCapture``) and recorded with sequence numbers
relative to each side's ISN, as Wireshark shows them.
"""

from __future__ import annotations

import errno
import os
import socket
import time

from tcpmodel.base.flags import ACK, FLAG_BITS, SYN
from tcpmodel.base.seqnum import seq_sub
from tcpmodel.host.loopback import LoopbackCapture
from tcpmodel.host.netns import namespace, read_sysctl, set_sysctls
from tcpmodel.host.socktable import TIME_WAIT, tcp_table
from tcpmodel.traces.packets import decode_frame

NAMES = ("message-boundaries", "syn-data", "time-wait-cost")
HOST = "127.0.0.1"
TFO_NO_COOKIES = 0x207  # client and server on (0x1, 0x2), data without a cookie (0x4, 0x200)
SERVER_TIME_WAITS = 1000
WRITTEN_FLAGS = ("SYN", "FIN", "RST", "PSH", "ACK")  # the flags a record shows, in the order it writes them


def run(name: str, progress=None) -> dict:
    """Run the experiment called ``name`` (one of ``NAMES``) in a fresh namespace."""
    function = {"message-boundaries": message_boundaries, "syn-data": syn_data, "time-wait-cost": time_wait_cost}[name]
    return {"experiment": name, "quick": True, "kernel": os.uname().release, **function(progress)}


def message_boundaries(progress=None) -> dict:
    with namespace() as ns:
        measured = ns.call(measure_boundaries)
    return {"sysctls": {}, **measured}


def syn_data(progress=None) -> dict:
    with namespace() as ns:
        sysctls = set_sysctls(ns, {"net.ipv4.tcp_fastopen": TFO_NO_COOKIES})
        measured = ns.call(measure_syn_data)
    return {"sysctls": sysctls, **measured}


def time_wait_cost(progress=None) -> dict:
    with namespace() as ns:
        sysctls = set_sysctls(ns, {"net.ipv4.tcp_tw_reuse": 0})
        server = ns.call(measure_server_time_waits, SERVER_TIME_WAITS)
    with namespace() as ns:
        client_sysctls = set_sysctls(ns, {"net.ipv4.ip_local_port_range": (40000, 40001), "net.ipv4.tcp_tw_reuse": 0})
        client = ns.call(measure_ports_per_destination)
    return {"sysctls": sysctls, "server": server, "client": {"sysctls": client_sysctls, **client}}


# ---------------------------------------------------------------- in the namespace


def measure_boundaries() -> dict:
    with LoopbackCapture() as capture:
        with socket.create_server((HOST, 5002)) as listener:
            client = socket.create_connection((HOST, 5002), timeout=5)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each send() leaves at once
            server, _ = listener.accept()
            writes = [b"hello", b"world"]
            for data in writes:
                client.send(data)
                time.sleep(0.05)
            time.sleep(0.2)  # both segments have arrived before the server reads
            first_read = server.recv(1024)
            client.send(b"0123456789")
            time.sleep(0.2)
            small_reads = [server.recv(4) for _ in range(3)]
            client.close()
            server.close()
        capture.wait_quiet(0.2)
    return {"writes": [w.decode() for w in writes], "one_read": first_read.decode(), "write_of_ten": "0123456789",
            "reads_of_four": [r.decode() for r in small_reads], "segments": relative_segments(capture.frames)}


def measure_syn_data() -> dict:
    with LoopbackCapture() as capture:
        with socket.create_server((HOST, 5003)) as listener:
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
            client = socket.socket()
            client.settimeout(5)
            sent = client.sendto(b"hello", socket.MSG_FASTOPEN, (HOST, 5003))
            server, _ = listener.accept()
            server.settimeout(5)
            read = server.recv(100)
            client.close()
            server.close()
        capture.wait_quiet(0.2)
    return {"sent_with_syn": sent, "server_read": read.decode(), "segments": relative_segments(capture.frames)}


def measure_server_time_waits(count: int) -> dict:
    """``count`` connections, each closed first by the server; then what the server holds."""
    port = 5004
    with socket.create_server((HOST, port), backlog=128) as listener:
        before = {"sockstat": sockstat(), "fds": open_descriptors(), "slab": slab("tw_sock_TCP")}
        for _ in range(count):
            client = socket.create_connection((HOST, port), timeout=5)
            server, _ = listener.accept()
            server.close()  # the active close: the server's side goes to TIME-WAIT
            if client.recv(1) != b"":
                raise RuntimeError("the client read data instead of the end of the stream")
            client.close()
        time.sleep(0.2)
        tw_slab = slab("tw_sock_TCP")
        after = {"sockstat": sockstat(), "fds": open_descriptors(), "slab": tw_slab}
        waiting = [e for e in tcp_table() if e.state == TIME_WAIT]
    full = slab("TCP")
    return {
        "connections": count,
        "before": before,
        "after": after,
        "time_wait_on_server_port": sum(1 for e in waiting if e.local[1] == port),
        "time_wait_elsewhere": sum(1 for e in waiting if e.local[1] != port),
        "tw_sock_bytes": tw_slab["object_bytes"] if tw_slab else None,
        "full_socket_bytes": full["object_bytes"] if full else None,
        "tcp_max_tw_buckets": int(read_sysctl("net.ipv4.tcp_max_tw_buckets")),
        "default_port_range": read_sysctl("net.ipv4.ip_local_port_range"),  # a fresh namespace's, not set here
    }


def measure_ports_per_destination() -> dict:
    """With two client ports, both in TIME-WAIT towards one server: a third connect to it fails,
    one to a second server succeeds on a port that is in TIME-WAIT towards the first."""
    first, second = (HOST, 5001), (HOST, 5002)
    with socket.create_server(first) as one, socket.create_server(second) as two:
        used = []
        for _ in range(2):
            client = socket.create_connection(first, timeout=5)
            used.append(client.getsockname()[1])
            server, _ = one.accept()
            client.close()  # the client closes first and keeps the TIME-WAIT
            server.recv(1)
            server.close()
        waiting = sorted(e.local[1] for e in tcp_table() if e.state == TIME_WAIT and e.remote == first)
        refused = None
        try:
            socket.create_connection(first, timeout=5).close()
        except OSError as exc:
            refused = errno.errorcode.get(exc.errno, str(exc.errno)) if exc.errno is not None else str(exc.errno)
        other = socket.create_connection(second, timeout=5)
        other_port = other.getsockname()[1]
        two.accept()[0].close()
        other.close()
    return {"ports_used": sorted(used), "time_wait_ports_to_first": waiting, "third_connect_to_first": refused or "succeeded",
            "connect_to_second_port": other_port}


# ---------------------------------------------------------------- reading the kernel


def sockstat() -> dict:
    """The TCP line of /proc/net/sockstat (this namespace): inuse, orphan, tw, alloc, mem (pages)."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                fields = line.split()[1:]
                return {k: int(v) for k, v in zip(fields[::2], fields[1::2], strict=False)}  # name value pairs; an odd field left out
    return {}


def slab(name: str) -> dict | None:
    """A cache of /proc/slabinfo (whole machine): active objects and the size of one, or None."""
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                fields = line.split()
                if fields and fields[0] == name:
                    return {"active_objects": int(fields[1]), "object_bytes": int(fields[3])}
    except OSError:
        return None
    return None


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def relative_segments(frames) -> list[dict]:
    """The captured TCP segments, sequence numbers relative to the ISN of the side that sent the SYN."""

    segments = [s for s in (decode_frame(1, frame) for _, _, frame in frames) if s is not None]
    isn: dict[int, int] = {}  # port -> the ISN of the side that sent a SYN from it
    for s in segments:
        if s.flags & SYN:
            isn.setdefault(s.source[1], s.seq)
    client = segments[0].source[1] if segments else None
    out = []
    for s in segments:
        mine, theirs = isn.get(s.source[1], 0), isn.get(s.destination[1], 0)
        out.append({
            "from": "client" if s.source[1] == client else "server",
            "flags": ",".join(name for name in WRITTEN_FLAGS if s.flags & FLAG_BITS[name]),
            "seq": seq_sub(s.seq, mine),
            "ack": seq_sub(s.ack, theirs) if s.flags & ACK else 0,
            "len": s.length,
        })
    return out


# ---------------------------------------------------------------- text


def to_text(result: dict) -> str:
    lines = [f"experiment: {result['experiment']}, kernel {result['kernel']}"]
    if result["sysctls"]:
        lines.append("sysctls:    " + ", ".join(f"{k}={v}" for k, v in result["sysctls"].items()))
    name = result["experiment"]
    if name == "message-boundaries":
        lines.append(f"measured:   send({', '.join(map(repr, result['writes']))}) -> one recv() read {result['one_read']!r}; "
                     f"send({result['write_of_ten']!r}) -> recv(4) read {', '.join(map(repr, result['reads_of_four']))}")
    elif name == "syn-data":
        syn = result["segments"][0] if result["segments"] else {}
        lines.append(f"measured:   the SYN carried {syn.get('len', 0)} octets; the server read {result['server_read']!r}")
    else:
        s, c = result["server"], result["client"]
        grew = s["after"]["sockstat"].get("tw", 0) - s["before"]["sockstat"].get("tw", 0)
        lines.append(f"server:     {s['connections']} closes first -> {grew} TIME-WAITs (sockstat tw), descriptors "
                     f"{s['before']['fds']} -> {s['after']['fds']}, {s['tw_sock_bytes']} bytes each (tw_sock_TCP; "
                     f"a full socket: {s['full_socket_bytes']})")
        lines.append(f"client:     ports {c['ports_used']} in TIME-WAIT towards server 1; a third connect to it: "
                     f"{c['third_connect_to_first']}; a connect to server 2 used port {c['connect_to_second_port']}")
    for seg in result.get("segments", []):
        lines.append(f"  {seg['from']:>6}: {seg['flags']:<9} seq={seg['seq']} ack={seg['ack']} len={seg['len']}")
    return "\n".join(lines) + "\n"
