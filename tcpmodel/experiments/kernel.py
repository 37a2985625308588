"""Experiments on the Linux kernel's TCP, each in a network namespace of its own.

``time_wait_duration`` measures how long an actively closed connection stays in TIME-WAIT (the
source notes say 2·MSL with MSL = 30 s; RFC 9293 says MSL = 2 minutes; Linux uses its
compile-time TCP_TIMEWAIT_LEN of 60 s). ``port_exhaustion`` narrows the client's port range to a
few ports and shows that connects to one server fail with EADDRNOTAVAIL once every port sits in
TIME-WAIT, and that the sustained rate is ports ÷ TIME-WAIT duration.

Both return a dict of what was measured, with the kernel release and the sysctls in force, and
take ``quick=True`` for a run of seconds (what the tests use). ``progress``, when given, is called
with a line of text now and then.
"""

from __future__ import annotations

import errno
import itertools
import math
import os
import socket
import time
from pathlib import Path

from tcpmodel.base.errors import InputError
from tcpmodel.host.netns import namespace, read_sysctl, set_sysctls
from tcpmodel.host.socktable import TIME_WAIT, find, tcp_table

SERVER = ("127.0.0.1", 5001)
LINUX_TCP_TIMEWAIT_LEN = 60.0  # include/net/tcp.h: "how long to wait to destroy TIME-WAIT state"
NOTES_TIME_WAIT = 60.0  # the notes: 2·MSL with MSL = 30 s
RFC9293_TIME_WAIT = 240.0  # RFC 9293 §3.4.3: MSL = 2 minutes, TIME-WAIT = 2·MSL
QUICK_HOLD = 1.0  # quick mode: how long the TIME-WAIT entry is watched
LONGEST_WAIT = 600.0  # give up if an entry outlives this
FIRST_PORT = 40000  # the narrowed port range starts here (even, so it spans both parities)
TIME_WAIT_SYSCTLS = {
    "net.ipv4.tcp_tw_reuse": 0,
    "net.ipv4.tcp_fin_timeout": 60,
    "net.ipv4.ip_local_port_range": (32768, 60999),
}


def time_wait_duration(quick: bool = False, poll: float = 0.05, progress=None) -> dict:
    """How long Linux keeps an actively closed connection in TIME-WAIT, measured (about 60 s).

    A client closes first, the server then closes, and /proc/net/tcp is read every ``poll``
    seconds until the client's TIME-WAIT entry is gone. ``seconds`` is the middle of the interval
    the polling allows, ``resolution_seconds`` its half-width. With ``quick``, the entry is only
    watched for a second: its state, the kernel's timer on it, and the passive closer's state.
    """
    if not 0 < poll <= 1:
        raise InputError(f"the polling interval must be above 0 and at most 1 s, not {poll}")
    with namespace() as ns:
        sysctls = set_sysctls(ns, TIME_WAIT_SYSCTLS)
        measured = ns.call(measure_time_wait, quick, poll, progress=progress)
    return {
        "experiment": "time-wait",
        "quick": quick,
        "kernel": os.uname().release,
        "sysctls": sysctls,
        **measured,
        "linux_tcp_timewait_len_seconds": LINUX_TCP_TIMEWAIT_LEN,
        "notes_claim_seconds": NOTES_TIME_WAIT,
        "rfc9293_two_msl_seconds": RFC9293_TIME_WAIT,
    }


def port_exhaustion(ports: int = 4, quick: bool = False, window: float | None = None, progress=None) -> dict:
    """Connects to one server with only ``ports`` client ports, each closed actively at once.

    The first ``ports`` connects succeed; the next fails with EADDRNOTAVAIL while every port is in
    TIME-WAIT (tcp_tw_reuse = 0). With ``quick`` the run stops there. Otherwise it keeps trying
    (every 10 ms) for ``window`` seconds (default: two TIME-WAIT periods and 10 s) and compares
    the sustained rate, (connects − ports) / (last connect − first connect), with
    ports ÷ TCP_TIMEWAIT_LEN.

    Linux's connect() rounds the size of the port range down to an even number (when it is above
    1), so with an odd ``ports`` one port is never used; the prediction counts the ports used.
    """
    if not 1 <= ports <= 1000:
        raise InputError(f"the number of ports must be from 1 to 1000, not {ports}")
    window = 2 * LINUX_TCP_TIMEWAIT_LEN + 10 if window is None else window
    if not (isinstance(window, (int, float)) and math.isfinite(window) and 0 < window <= 24 * 3600):
        raise InputError(f"the window must be a number of seconds above 0 and at most a day, not {window!r}")
    if not quick and window < LINUX_TCP_TIMEWAIT_LEN:
        raise InputError(f"the window must last at least one TIME-WAIT period ({LINUX_TCP_TIMEWAIT_LEN:g} s), not {window} s")
    settings = {
        "net.ipv4.ip_local_port_range": (FIRST_PORT, FIRST_PORT + ports - 1),
        "net.ipv4.tcp_tw_reuse": 0,
        "net.ipv4.tcp_fin_timeout": 60,
    }
    with namespace() as ns:
        sysctls = set_sysctls(ns, settings)
        measured = ns.call(exhaust_ports, ports, quick, window, progress=progress)
    return {
        "experiment": "port-exhaustion",
        "quick": quick,
        "kernel": os.uname().release,
        "sysctls": sysctls,
        "ports": ports,
        **measured,
        **({} if quick else _rates(measured)),
    }


def _silent(text: str) -> None:
    pass


def time_wait_sysctls() -> dict:
    """The TIME-WAIT sysctls this kernel has in the current namespace (tcp_tw_timeout may not exist)."""
    folder = Path("/proc/sys/net/ipv4")
    names = sorted(p.name for p in folder.iterdir() if p.name.startswith("tcp_tw_") or p.name == "tcp_max_tw_buckets")
    return {f"net.ipv4.{name}": read_sysctl(f"net.ipv4.{name}") for name in names}


def measure_time_wait(quick: bool, poll: float, progress=_silent) -> dict:
    """In a namespace: close a connection actively and watch its TIME-WAIT entry until it goes."""
    with socket.create_server(SERVER) as listener:
        client = socket.create_connection(SERVER, timeout=5)
        server, _ = listener.accept()
        active, passive = client.getsockname(), client.getpeername()
        client.close()  # the active close: FIN from the client
        if server.recv(1) != b"":
            raise RuntimeError("the server read data instead of the end of the stream")
        closed_at = time.monotonic()
        server.close()  # the passive close: on lo the client's last ACK follows at once
    first: tuple[float, float] | None = None  # (read started, read ended) of the first and last read showing TIME-WAIT
    last: tuple[float, float] | None = None
    found: dict = {}
    shown = closed_at
    while True:
        started = time.monotonic()
        table = tcp_table()
        ended = time.monotonic()
        entry = find(table, active, passive)
        if entry is not None and entry.state == TIME_WAIT:
            if first is None:
                first = (started, ended)
                passive_entry = find(table, passive, active)
                found = {
                    "kernel_timer_at_entry_seconds": entry.timer_seconds,
                    "passive_closer_state": passive_entry.state_name if passive_entry else "gone (CLOSED)",
                }
            last = (started, ended)
            if quick and ended - first[1] >= QUICK_HOLD:
                return {**found, "seconds": None, "held_at_least_seconds": round(started - first[1], 3),
                        "kernel_timer_after_seconds": entry.timer_seconds, "poll_seconds": poll,
                        "time_wait_sysctls": time_wait_sysctls()}
        elif first is not None:
            assert last is not None  # set with first
            low, high = last[0] - first[1], ended - closed_at
            return {**found, "seconds": round((low + high) / 2, 3), "resolution_seconds": round((high - low) / 2, 3),
                    "seconds_min": round(low, 3), "seconds_max": round(high, 3), "poll_seconds": poll,
                    "time_wait_sysctls": time_wait_sysctls()}
        elif ended - closed_at > 5:
            state = entry.state_name if entry else "gone"
            raise RuntimeError(f"the active closer did not reach TIME-WAIT within 5 s (state: {state})")
        if ended - closed_at > LONGEST_WAIT:
            raise RuntimeError(f"the TIME-WAIT entry outlived {LONGEST_WAIT:g} s")
        if ended - shown >= 1:
            shown = ended
            progress(f"time-wait: {ended - closed_at:5.1f} s in TIME-WAIT (Linux: {LINUX_TCP_TIMEWAIT_LEN:g} s)")
        time.sleep(poll)


def exhaust_ports(ports: int, quick: bool, window: float, progress=_silent, retry: float = 0.01) -> dict:
    """In a namespace: connect to one server and close actively, over and over; see module doc."""
    connects: list[tuple[float, int]] = []  # (seconds since start, client port)
    refused, first_refusal = 0, None
    with socket.create_server(SERVER, backlog=128) as listener:
        start = shown = time.monotonic()
        while quick or time.monotonic() - start < window:
            if quick and len(connects) > 2 * ports + 10:
                break  # ports are not running out: report that, the caller judges
            client = socket.socket()
            try:
                client.connect(SERVER)
            except OSError as exc:
                client.close()
                if exc.errno != errno.EADDRNOTAVAIL:
                    raise
                refused += 1
                if first_refusal is None:
                    first_refusal = _refusal(time.monotonic() - start, connects)
                    if quick:
                        break
                time.sleep(retry)
            else:
                connects.append((time.monotonic() - start, client.getsockname()[1]))
                _close_actively(client, listener)
            if time.monotonic() - shown >= 1:
                shown = time.monotonic()
                progress(f"port-exhaustion: {shown - start:5.1f} of {window:g} s: {len(connects)} connects, "
                         f"{refused} refused (EADDRNOTAVAIL)")
    return {"server": list(SERVER), "connects": len(connects), "refused": refused, "first_refusal": first_refusal,
            "client_ports": sorted({port for _, port in connects}),
            "connect_times": [[round(t, 4), port] for t, port in connects],
            **({} if quick else {"window_seconds": window})}


def _close_actively(client, listener) -> None:
    server, _ = listener.accept()
    client.close()  # the client closes first and so keeps TIME-WAIT
    if server.recv(1) != b"":
        raise RuntimeError("the server read data instead of the end of the stream")
    server.close()


def _refusal(after: float, connects) -> dict:
    """What the socket table shows at the first EADDRNOTAVAIL."""
    waiting = sorted(e.local[1] for e in tcp_table() if e.state == TIME_WAIT and e.remote == SERVER)
    return {"after_seconds": round(after, 4), "connects_before": len(connects), "time_wait_ports": waiting}


def _rates(measured: dict) -> dict:
    """The sustained connect rate against ports ÷ TIME-WAIT, and how soon each port came back."""
    times = measured["connect_times"]
    usable = len(measured["client_ports"])  # connect() uses an even number of ports (see port_exhaustion)
    by_port: dict[int, list[float]] = {}
    for t, port in times:
        by_port.setdefault(port, []).append(t)
    reuse = [b - a for stamps in by_port.values() for a, b in itertools.pairwise(stamps)]
    span = times[-1][0] - times[0][0] if times else 0.0
    sustained = (len(times) - usable) / span if len(times) > usable and span > 0 else None
    predicted = usable / LINUX_TCP_TIMEWAIT_LEN
    return {
        "ports_used": usable,
        "sustained_rate_per_second": sustained,
        "predicted_rate_per_second": predicted,
        "rate_ratio": sustained / predicted if sustained else None,
        "window_rate_per_second": len(times) / measured["window_seconds"],
        "port_reuse_seconds": {"min": min(reuse), "max": max(reuse), "mean": sum(reuse) / len(reuse)} if reuse else None,
    }


def to_text(result: dict) -> str:
    """A few lines for people: what was measured and what it is compared with."""
    settings = ", ".join(f"{k}={v}" for k, v in result["sysctls"].items())
    lines = [f"experiment: {result['experiment']}{' (quick)' if result['quick'] else ''}, kernel {result['kernel']}",
             f"sysctls:    {settings}"]
    if result["experiment"] == "time-wait":
        lines += _time_wait_lines(result)
    else:
        lines += _port_lines(result)
    return "\n".join(lines) + "\n"


def _time_wait_lines(r: dict) -> list[str]:
    if r["seconds"] is None:
        measured = f"in TIME-WAIT for at least {r['held_at_least_seconds']:.1f} s (quick run; the entry was not waited out)"
    else:
        measured = (f"TIME-WAIT lasted {r['seconds']:.2f} s ± {r['resolution_seconds']:.2f} s "
                    f"(between {r['seconds_min']:.2f} and {r['seconds_max']:.2f} s; polled every {r['poll_seconds']:g} s)")
    others = r["time_wait_sysctls"]
    present = ", ".join(f"{k}={v}" for k, v in others.items())
    absent = "" if "net.ipv4.tcp_tw_timeout" in others else "; no net.ipv4.tcp_tw_timeout in this kernel"
    return [
        f"measured:   {measured}",
        (f"            the kernel's timer showed {r['kernel_timer_at_entry_seconds']:.2f} s left on entry; "
         f"the passive closer: {r['passive_closer_state']}"),
        (f"compare:    notes {r['notes_claim_seconds']:g} s (2·MSL, MSL = 30 s); RFC 9293 {r['rfc9293_two_msl_seconds']:g} s "
         f"(2·MSL, MSL = 2 min); Linux TCP_TIMEWAIT_LEN {r['linux_tcp_timewait_len_seconds']:g} s (compile-time)"),
        f"tw sysctls: {present}{absent}",
    ]


def _port_lines(r: dict) -> list[str]:
    refusal = r["first_refusal"]
    if refusal is None:
        first = "connect never failed with EADDRNOTAVAIL"
    else:
        first = (f"connect {refusal['connects_before'] + 1} failed with EADDRNOTAVAIL after {refusal['after_seconds']:.4f} s, "
                 f"ports in TIME-WAIT: {', '.join(map(str, refusal['time_wait_ports']))}")
    lines = [f"measured:   {r['connects']} connects, {r['refused']} refused; {first}"]
    if not r["quick"]:
        reuse = r["port_reuse_seconds"]
        sustained = r["sustained_rate_per_second"]
        if sustained:
            lines.append(f"rate:       sustained {sustained:.4f}/s over {r['window_seconds']:g} s; predicted ports / TIME-WAIT = "
                         f"{r['ports_used']} / {LINUX_TCP_TIMEWAIT_LEN:g} s = {r['predicted_rate_per_second']:.4f}/s "
                         f"(ratio {r['rate_ratio']:.3f})")
        else:
            lines.append("rate:       no port came back within the window")
        if reuse:
            lines.append(f"reuse:      a port came back after {reuse['min']:.2f} to {reuse['max']:.2f} s (mean {reuse['mean']:.2f} s)")
    return lines
