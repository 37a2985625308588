"""A packet capture of the loopback interface, written by the project itself (no tcpdump).

Inside a namespace, an AF_PACKET raw socket bound to ``lo`` receives every frame; a background
thread of the process that runs in the namespace reads them. On ``lo`` each frame is seen twice:
once leaving (pkttype PACKET_OUTGOING) and once arriving (PACKET_HOST); only the outgoing copy
is kept. Loopback frames carry an all-zero Ethernet header, so the pcap's link type is Ethernet.
Timestamps are the kernel's (SO_TIMESTAMP), in microseconds.

Segments larger than the MTU are seen as one frame when the kernel segments late (GSO on
``lo``); small connections such as ``capture_loopback_connection``'s are not affected.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from fractions import Fraction
from typing import Self

from tcpmodel.base.errors import InputError
from tcpmodel.host.netns import namespace
from tcpmodel.traces.pcap import write_pcap

ETH_P_ALL = 0x0003
SO_TIMESTAMP = 29  # asm-generic value (x86, arm, riscv, powerpc); alpha, mips, parisc and sparc differ
TIMEVAL = struct.Struct("@ll")
FRAME_BYTES = 1 << 18  # above lo's 64 KiB MTU and a GSO frame
SNAPLEN = FRAME_BYTES


class LoopbackCapture:
    """Frames leaving ``lo`` in the current namespace, read by a background thread.

    The socket is bound when the object is made, so nothing sent afterwards is missed.
    """

    def __init__(self):
        self.frames: list[tuple[int, int, bytes]] = []  # (seconds, microseconds, frame)
        self.last_frame = time.monotonic()
        self._socket = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            self._socket.bind(("lo", ETH_P_ALL))
            self._socket.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
            self._socket.settimeout(0.02)
        except BaseException:
            self._socket.close()
            raise
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="loopback-capture", daemon=True)
        self._error: BaseException | None = None

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _read(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    frame, ancillary, _flags, address = self._socket.recvmsg(FRAME_BYTES, socket.CMSG_SPACE(TIMEVAL.size))
                except TimeoutError:
                    continue
                if address[2] != socket.PACKET_OUTGOING:
                    continue
                self.last_frame = time.monotonic()
                self.frames.append((*_timestamp(ancillary), frame))
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self._error = exc

    def wait_quiet(self, settle: float, limit: float = 5.0) -> None:
        """Return once no frame has left ``lo`` for ``settle`` seconds (or after ``limit``)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and time.monotonic() - self.last_frame < settle:
            time.sleep(settle / 4)

    def stop(self) -> list[tuple[int, int, bytes]]:
        """Stop reading; the frames, in the order they left."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._socket.close()
        if self._error is not None:
            raise self._error
        return self.frames


def _timestamp(ancillary) -> tuple[int, int]:
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP and len(value) >= TIMEVAL.size:
            return TIMEVAL.unpack_from(value)
    now = time.time_ns() // 1000
    return now // 1_000_000, now % 1_000_000


def capture_loopback_connection(pcap_path, data: bytes = b"hello", port: int = 5000, settle: float = 0.2) -> dict:
    """Capture one whole TCP connection over 127.0.0.1 in a fresh namespace into ``pcap_path``.

    The client connects to a server on ``port``, sends ``data``, reads the server's echo and
    closes first; the server closes when it reads the end of the stream. Capturing stops once
    both sockets are closed and ``lo`` has been quiet for ``settle`` seconds.
    Returns the frame count and both ports.
    """

    if not data:
        raise InputError("the data to send must not be empty")
    if not 0 < port < 65536:
        raise InputError(f"port must be from 1 to 65535, not {port}")
    with namespace() as ns:
        frames, client_port = ns.call(record_echo_connection, bytes(data), port, settle)
    write_pcap(pcap_path, [(Fraction(seconds * 10**6 + microseconds, 10**6), frame) for seconds, microseconds, frame in frames])
    return {"path": str(pcap_path), "frames": len(frames), "client_port": client_port, "server_port": port}


def record_echo_connection(data: bytes, port: int, settle: float):
    """In the current namespace: capture an echo connection; its frames and the client's port."""
    with LoopbackCapture() as capture:
        with socket.create_server(("127.0.0.1", port)) as listener:
            server = _EchoServer(listener, len(data))
            server.start()
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                client_port = client.getsockname()[1]
                client.sendall(data)
                echo = _read_exactly(client, len(data))
            server.join(5)
        if server.error is not None:
            raise server.error
        if server.is_alive() or echo != data:
            raise RuntimeError(f"the echo server did not finish (echo {echo!r} for {data!r})")
        capture.wait_quiet(settle)
    return capture.frames, client_port


class _EchoServer(threading.Thread):
    """Accept one connection, send back ``size`` octets, close when the client has closed."""

    def __init__(self, listener, size: int):
        super().__init__(name="echo-server", daemon=True)
        self.listener, self.size = listener, size
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.listener.settimeout(5)
            connection, _ = self.listener.accept()
            with connection:
                connection.settimeout(5)
                connection.sendall(_read_exactly(connection, self.size))
                if connection.recv(1) != b"":
                    raise RuntimeError("the client sent more than expected")
        except BaseException as exc:  # noqa: BLE001 - raised by the caller
            self.error = exc


def _read_exactly(sock, size: int) -> bytes:
    chunks, have = [], 0
    while have < size:
        chunk = sock.recv(size - have)
        if not chunk:
            break
        chunks.append(chunk)
        have += len(chunk)
    return b"".join(chunks)
