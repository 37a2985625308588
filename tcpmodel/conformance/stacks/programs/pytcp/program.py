"""The PyTCP harness program: one PyTCP stack, driven by ``tcpmodel.conformance.stacks.process``.

One program per vector: ``python program.py PACKET_FD STACK_ADDRESS STACK_PORT TESTER_ADDRESS
TESTER_PORT`` (see ``tcpmodel/stacks/process.py`` for the protocol), or, as tcpmodel runs it, the
same ``main`` in a process forked by ``zygote.py``, which has imported PyTCP already. It imports
nothing of tcpmodel: only PyTCP (``pmd_pytcp``, PyPI ``pmd-pytcp``) and the standard library.

The stack: ``stack.init(fd=PACKET_FD, layer=L3)`` makes the socketpair end PyTCP's TUN interface.
PyTCP's L3 interface reads and writes one packet per datagram behind the 4-byte TUN header
(``00 00 08 00``: its rx path demultiplexes on octets 2-3 and strips four, its tx path prepends
them), which is what ``process`` speaks. The address is static (``ip4_host``), so there is no
DHCP; an L3 interface has no ARP; IPv6 is off (``ip6_support=False``: no router solicitations or
MLD). PyTCP is pure asyncio: everything (packets, its timers, the user calls) runs on one event
loop in this one thread, and the commands on standard input are read by the same loop.

PyTCP offers RFC 7413 Fast Open on every active SYN (option kind 34, a cookie request). The
tester's address is put in PyTCP's own Fast Open negative cache
(``stack.tcp_stack.mark_fastopen_negative``, RFC 7413 §4.1.3.1), so its SYNs carry only the
options the oracle knows: MSS, SACK-permitted, window scale and timestamps. (The tester answers
with MSS alone, so window scaling, SACK and timestamps are off after the handshake.)

User calls, on PyTCP's Berkeley-style sockets (``pmd_pytcp.socket``):

- LISTEN: ``socket()``, ``bind()``, ``listen()``; CONNECT: ``bind()`` to STACK_PORT and
  ``connect()`` as a task (it returns when the handshake ends; its outcome is only logged).
- SEND N: ``send()`` of N octets. PyTCP refuses it outside ESTABLISHED and CLOSE-WAIT
  (BrokenPipeError), which is answered ``error``.
- CLOSE: ``shutdown(SHUT_WR)``, which is PyTCP's session CLOSE (``TcpSession.close`` and
  ``shutdown`` both issue its CLOSE syscall; ``close()`` would also orphan the socket). On a
  listener with no connection, ``close()``.
- ABORT: ``abort()``, PyTCP's RFC 9293 ABORT (a RST in the synchronized states).
- POLL: ``accept()`` (non-blocking) on the listener; once it returns the connection, the
  listener is closed (RFC 9293's passive TCB becomes the connection, where a listener left open
  would answer the tester's later SYNs itself); then ``recv()`` until nothing is left. Every
  call tries ``accept()`` first too.

PyTCP forks a passive connection off the listener when the SYN arrives (the child has a socket
of its own, registered in PyTCP's socket table ``stack.sockets``), but ``accept()`` hands it out
only once ESTABLISHED. A SEND, CLOSE or ABORT in SYN-RECEIVED of a passive open is made on that
child socket, found in the table by its parent; after a CLOSE or ABORT there the listener is
closed too (the connection left the passive open, as in RFC 9293's single TCB).

RTO: the connection's current retransmission timeout as PyTCP reports it, ``tcpi_rto`` of
``getsockopt(IPPROTO_TCP, TCP_INFO)`` (microseconds, from its RFC 6298 estimator); ``none``
while there is no connection.

On QUIT, or when standard input closes, the program exits at once (``os._exit``): nothing PyTCP
would send while tearing down (the RST of a connection it aborts on stop) reaches the tester
after the vector ended. Replies go to the original standard output; file descriptor 1 is pointed
at standard error, so nothing PyTCP might print can break the protocol.
"""

from __future__ import annotations

import asyncio
import errno
import os
import struct
import sys

TCP_INFO_RTO = struct.Struct("<8xI")  # struct tcp_info: 8 u8 fields, then tcpi_rto (us)
PREFIX_LENGTH = 24
RECEIVE_BYTES = 65536


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return f"PyTCP {package_version('pmd-pytcp')}"
    except PackageNotFoundError:
        return "PyTCP (version unknown)"


class Program:
    def __init__(self, packet_fd: int, stack_address: str, stack_port: int, tester_address: str, tester_port: int,
                 reply_fd: int):
        self.packet_fd, self.reply_fd = packet_fd, reply_fd
        self.stack_address, self.stack_port = stack_address, stack_port
        self.tester_address, self.tester_port = tester_address, tester_port
        self.listener = None  # the listening socket, until the passive connection is taken
        self.connection = None  # the connection's socket
        self.lines: asyncio.Queue = asyncio.Queue()
        self._pending = b""

    # ------------------------------------------------------------ the stack

    async def start(self) -> None:
        from pmd_net_addr import Ip4Address, Ip4IfAddr
        from pmd_pytcp import stack
        from pmd_pytcp.lib.interface_layer import InterfaceLayer

        stack.init(fd=self.packet_fd, layer=InterfaceLayer.L3,
                   ip4_host=Ip4IfAddr(f"{self.stack_address}/{PREFIX_LENGTH}"), ip6_support=False)
        await stack.start()
        # The address is assigned by a task of the interface, a loop turn or two after start().
        address = Ip4Address(self.stack_address)
        for _ in range(5000):
            if address in stack.local_ip4_unicast():
                break
            await asyncio.sleep(0.001)
        else:
            raise RuntimeError(f"PyTCP did not assign {self.stack_address} within 5 s")
        stack.tcp_stack.mark_fastopen_negative(Ip4Address(self.tester_address))

    async def run(self) -> None:
        await self.start()
        loop = asyncio.get_running_loop()
        os.set_blocking(0, False)
        loop.add_reader(0, self._read_stdin)
        self.reply(f"ready {version()}")
        while True:
            line = await self.lines.get()
            if line is None or line == "QUIT":
                sys.stderr.flush()
                os._exit(0)
            try:
                answer = await self.command(line)
            except OSError as exc:
                answer = f"error {_error_text(exc)}"
            self.reply(answer)

    def _read_stdin(self) -> None:
        try:
            chunk = os.read(0, 4096)
        except BlockingIOError:
            return
        if not chunk:
            self.lines.put_nowait(None)
            return
        self._pending += chunk
        while b"\n" in self._pending:
            line, _, self._pending = self._pending.partition(b"\n")
            self.lines.put_nowait(line.decode("utf-8", "replace").strip())

    def reply(self, text: str) -> None:
        os.write(self.reply_fd, text.encode() + b"\n")

    # ------------------------------------------------------------ the user

    async def command(self, line: str) -> str:
        name, _, argument = line.partition(" ")
        if name == "LISTEN":
            return self.listen()
        if name == "CONNECT":
            return await self.connect()
        if name == "SEND":
            return await self.send(int(argument or 1))
        if name == "CLOSE":
            return await self.close()
        if name == "ABORT":
            return await self.abort()
        if name == "POLL":
            await self.poll()
            return "ok"
        if name == "RTO":
            return await self.rto()
        return f"error unknown command {name!r}"

    def new_socket(self):
        from pmd_pytcp import socket as pytcp_socket

        sock = pytcp_socket.socket(pytcp_socket.AF_INET4, pytcp_socket.SOCK_STREAM)
        sock.setsockopt(pytcp_socket.IPPROTO_TCP, pytcp_socket.TCP_NODELAY, 1)
        sock.setblocking(False)  # accept() and recv() answer at once (BlockingIOError when empty)
        sock.bind((self.stack_address, self.stack_port))
        return sock

    def listen(self) -> str:
        if self.listener is not None or self.connection is not None:
            return "error connection already exists"
        sock = self.new_socket()
        sock.listen()
        self.listener = sock
        return "ok"

    async def connect(self) -> str:
        if self.listener is not None or self.connection is not None:
            return "error connection already exists"
        sock = self.new_socket()
        self.connection = sock
        task = asyncio.get_running_loop().create_task(sock.connect((self.tester_address, self.tester_port)))
        task.add_done_callback(_report_connect)
        await asyncio.sleep(0)  # the task issues PyTCP's CONNECT (and queues the SYN) at its first step
        return "ok"

    async def send(self, length: int) -> str:
        sock = await self.target()
        if sock is None:
            return "error connection does not exist"
        sent = await sock.send(b"a" * length)
        return "ok" if sent == length else f"error only {sent} of {length} octets queued"

    async def close(self) -> str:
        from pmd_pytcp import socket as pytcp_socket

        sock = await self.target()
        if sock is None:
            if self.listener is None:
                return "error connection does not exist"
            self.listener.close()
            self.listener = None
            return "ok"
        sock.shutdown(pytcp_socket.SHUT_WR)
        self.take(sock)
        return "ok"

    async def abort(self) -> str:
        sock = await self.target()
        if sock is None:
            if self.listener is None:
                return "error connection does not exist"
            sock = self.listener
        sock.abort()
        self.take(sock)
        if sock is self.listener:
            self.listener = None
        return "ok"

    async def target(self):
        """The connection's socket: the one this program has, or the passive connection PyTCP
        forked off the listener at the SYN and does not hand out before it is ESTABLISHED."""
        if self.connection is None:
            await self.accept()
        if self.connection is not None:
            return self.connection
        if self.listener is None:
            return None
        from pmd_pytcp import stack

        children = [s for s in stack.sockets.values() if getattr(s, "parent_socket", None) is self.listener]  # half-open
        return children[0] if children else None

    def take(self, sock) -> None:
        """``sock`` is the connection from now on; a listener left open would answer the
        tester's later SYNs as a second connection, so it is closed."""
        if sock is self.listener:
            return
        self.connection = sock
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    async def accept(self) -> None:
        """Take the passive connection once ``accept()`` hands it out (ESTABLISHED)."""
        if self.listener is None or self.connection is not None:
            return
        try:
            sock, _ = await self.listener.accept()
        except (BlockingIOError, ConnectionAbortedError):
            return
        sock.setblocking(False)
        self.take(sock)

    async def poll(self) -> None:
        await self.accept()
        if self.connection is None:
            return
        while True:
            try:
                if not await self.connection.recv(RECEIVE_BYTES):
                    return
            except (BlockingIOError, OSError):  # nothing to read, or reset / not connected
                return

    async def rto(self) -> str:
        from pmd_pytcp import socket as pytcp_socket

        sock = await self.target()
        if sock is None or sock.tcp_session is None:
            return "none"
        info = sock.getsockopt(pytcp_socket.IPPROTO_TCP, pytcp_socket.TCP_INFO)
        microseconds = TCP_INFO_RTO.unpack_from(info)[0]
        return f"ok {microseconds / 1e6:g}" if microseconds else "none"


def _report_connect(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        print(f"connect: {_error_text(task.exception())}", file=sys.stderr)


def _error_text(exc: BaseException) -> str:
    number = getattr(exc, "errno", None)
    name = errno.errorcode.get(number, "") if isinstance(number, int) else ""
    return f"{name} {exc.strerror or exc}".strip() if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"


def main(argv: list[str]) -> int:
    if len(argv) != 5:
        print("usage: program.py PACKET_FD STACK_ADDRESS STACK_PORT TESTER_ADDRESS TESTER_PORT", file=sys.stderr)
        return 2
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # anything printed goes to standard error; replies to reply_fd
    sys.stdout = sys.stderr
    program = Program(int(argv[0]), argv[1], int(argv[2]), argv[3], int(argv[4]), reply_fd)
    try:
        asyncio.run(program.run())  # returns only by exiting
    except Exception as exc:  # noqa: BLE001 - reported in one line; process.py quotes standard error
        print(f"pytcp program failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    sys.stderr.flush()
    os._exit(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
