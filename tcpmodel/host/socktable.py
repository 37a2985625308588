"""The kernel's IPv4 TCP socket table (/proc/net/tcp) of the current network namespace.

``ss`` need not exist; the table is read directly. Each line gives the local and remote address,
the state (the kernel's TCP_* number: 06 is TIME_WAIT), and the pending timer with the time left
on it, in clock ticks (USER_HZ, 100 a second).
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass

STATES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
    7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING", 12: "NEW_SYN_RECV",
}
TIME_WAIT = 6
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Entry:
    local: tuple[str, int]
    remote: tuple[str, int]
    state: int
    timer: int  # 0 none, 1 retransmission, 2 keepalive, 3 TIME-WAIT, 4 zero window probe
    timer_seconds: float  # time left on that timer

    @property
    def state_name(self) -> str:
        return STATES.get(self.state, str(self.state))


def tcp_table(path: str = "/proc/net/tcp") -> list[Entry]:
    """Every IPv4 TCP socket of the current network namespace, TIME-WAIT ones included."""
    with open(path, encoding="ascii") as f:
        lines = f.read().splitlines()[1:]
    return [_entry(line.split()) for line in lines if line.strip()]


def _entry(fields: list[str]) -> Entry:
    timer, left = fields[5].split(":")
    return Entry(
        local=_address(fields[1]),
        remote=_address(fields[2]),
        state=int(fields[3], 16),
        timer=int(timer, 16),
        timer_seconds=int(left, 16) / CLOCK_TICKS,
    )


def _address(text: str) -> tuple[str, int]:
    """``0100007F:1389`` -> ("127.0.0.1", 5001): the address is a native-order 32-bit word."""
    address, port = text.split(":")
    return socket.inet_ntoa(struct.pack("=I", int(address, 16))), int(port, 16)


def find(table: list[Entry], local: tuple[str, int], remote: tuple[str, int]) -> Entry | None:
    """The entry of the connection from ``local`` to ``remote``, or None."""
    for entry in table:
        if entry.local == tuple(local) and entry.remote == tuple(remote):
            return entry
    return None
