"""A user-space TCP stack run as a process of its own, driven over two channels: the common part
of the PyTCP, lwIP, libslirp and gVisor adapters.

The harness program of a stack (a Python module, a small C or Go program) is started once per
vector with::

    PROGRAM... PACKET_FD STACK_ADDRESS STACK_PORT TESTER_ADDRESS TESTER_PORT

- **Packets** travel on ``PACKET_FD``, one end of a ``socketpair(AF_UNIX, SOCK_DGRAM)``: one
  datagram per IPv4 packet, after the 4-byte header a TUN device without ``IFF_NO_PI`` puts in
  front (``00 00 08 00``: no flags, protocol IPv4). The stack's "network interface" is that
  descriptor; the tester (this module's caller) holds the other end. Nothing reaches a real
  network.
- **User calls** travel as lines of text: one command on the program's standard input, exactly
  one reply line on its standard output. Commands::

      LISTEN            listen on STACK_PORT
      CONNECT           open STACK_PORT -> TESTER_ADDRESS:TESTER_PORT
      SEND N            send N octets
      CLOSE             RFC 9293's CLOSE (no more to send; the connection still receives)
      ABORT             RFC 9293's ABORT (a reset where the RFC sends one)
      POLL              the user's housekeeping: accept a passive connection, read what arrived
      RTO               how long, in seconds, a retransmission takes at most from now
      QUIT              end (the program then exits)

  Replies: ``ok`` (``ok SECONDS`` for RTO), ``error TEXT`` (the call failed, as the stack's API
  said), ``unsupported TEXT`` (the stack's API cannot make this call in this state; the vector is
  SKIPPED with TEXT), ``none`` (RTO: no retransmission pending or it cannot be known).
  Before the first command the program prints ``ready VERSION`` (the stack's release).
- Between commands the program keeps the stack running: it reads packets from ``PACKET_FD``,
  runs the stack's timers, and writes what the stack sends. Diagnostics go to standard error,
  which this module keeps and quotes when the program fails.

The program is killed when the vector's time is up (``settings.timeout``), and always when the
vector ends; its temporary files are its own business (it should make none).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

from tcpmodel.conformance.harness import drive
from tcpmodel.conformance.outcomes import Recording, Settings, StackHung, Unsupported

TUN_HEADER = bytes.fromhex("00000800")  # flags 0, protocol 0x0800 (IPv4)
PACKET_BYTES = 65536
STARTUP_SECONDS = 10.0  # to print "ready" (a Go or Python program takes a moment)
REPLY_SECONDS = 5.0  # to answer one command


@dataclass(frozen=True)
class Addresses:
    """Where the stack and the tester sit, and their ports per role."""

    stack: str
    tester: str
    ports: dict  # role -> (stack's port, tester's port)


DEFAULT_ADDRESSES = Addresses("10.9.0.1", "10.9.0.2", {"active": (40000, 5000), "passive": (5000, 40000)})


class HarnessFailed(RuntimeError):
    """The stack's program broke the protocol, exited or said something unreadable."""


class ProcessAdapter:
    """The harness's adapter (see ``tcpmodel.conformance.harness``) for a stack run as a process."""

    def __init__(self, argv: list[str], role: str, addresses: Addresses = DEFAULT_ADDRESSES,
                 env: dict | None = None, cwd: str | None = None, launch=None):
        stack_port, tester_port = addresses.ports[role]
        self.endpoint = f"{addresses.stack}:{stack_port}"
        self.peer = f"{addresses.tester}:{tester_port}"
        self.packets, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.packets.setblocking(False)
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - the program's standard error while it lives; close() closes it
        self.version = ""
        try:
            self.process = (launch or popen)(
                [*argv, str(child.fileno()), addresses.stack, str(stack_port), addresses.tester, str(tester_port)],
                child.fileno(), self.stderr, env, cwd)
        except OSError as exc:
            self.packets.close()
            self.stderr.close()
            raise HarnessFailed(f"cannot start {argv[0]}: {exc.strerror}") from None
        finally:
            child.close()
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None  # started with a pipe to each
        self.stdin, self.stdout = stdin, stdout
        self._buffer = b""
        try:
            word, _, rest = self._line(STARTUP_SECONDS, "ready").partition(" ")
            if word != "ready":
                raise HarnessFailed(self._complaint(f"said {word!r} instead of 'ready'"))
            self.version = rest
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ packets

    def inject(self, packet: bytes) -> None:
        self.packets.send(TUN_HEADER + packet)

    def receive(self, seconds: float) -> list[bytes]:
        """The IPv4 packets the stack sent, waiting up to ``seconds`` for the first."""
        ready, _, _ = select.select([self.packets], [], [], seconds)
        out = []
        while ready:
            try:
                datagram = self.packets.recv(PACKET_BYTES)
            except BlockingIOError:
                break
            if datagram[2:4] == TUN_HEADER[2:4]:
                out.append(datagram[4:])
        return out

    # ------------------------------------------------------------ the user

    def call(self, name: str, length: int | None) -> str:
        reply = self.command(f"{name} {length or 1}" if name == "SEND" else name)
        word, _, text = reply.partition(" ")
        if word == "ok":
            return "ok"
        if word == "error":
            return f"error: {text}"
        if word == "unsupported":
            raise Unsupported(text)
        raise HarnessFailed(self._complaint(f"answered {name} with {reply!r}"))

    def poll(self) -> None:
        reply = self.command("POLL")
        if reply != "ok":
            raise HarnessFailed(self._complaint(f"answered POLL with {reply!r}"))

    def timer_wait(self, timer: str) -> float | None:
        if timer != "RETRANSMISSION":
            return None
        reply = self.command("RTO")
        word, _, seconds = reply.partition(" ")
        if word == "none":
            return None
        try:
            return 1.5 * float(seconds) if word == "ok" else None
        except ValueError:
            raise HarnessFailed(self._complaint(f"answered RTO with {reply!r}")) from None

    def command(self, text: str) -> str:
        try:
            self.stdin.write(text.encode() + b"\n")
            self.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise HarnessFailed(self._complaint(f"was gone when sent {text!r}")) from None
        return self._line(REPLY_SECONDS, text)

    def _line(self, seconds: float, waiting_for: str) -> str:
        deadline = time.monotonic() + seconds
        stdout = self.stdout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([stdout], [], [], max(left, 0.0))
            if not ready:
                raise HarnessFailed(self._complaint(f"did not answer {waiting_for!r} within {seconds:g} s"))
            chunk = os.read(stdout.fileno(), 4096)
            if not chunk:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(1.0)  # so that the complaint can give its exit status
                raise HarnessFailed(self._complaint(f"exited while answering {waiting_for!r}"))
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace").strip()

    def _complaint(self, what: str) -> str:
        code = self.process.poll()
        self.stderr.seek(0)
        last = [line for line in self.stderr.read().decode("utf-8", "replace").splitlines() if line.strip()][-1:]
        return (f"the stack's program {what}" + (f" (exit status {code})" if code is not None else "")
                + (f"; it last said: {last[0][:200]}" if last else ""))

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.stdin.write(b"QUIT\n")
                self.stdin.flush()
                self.process.wait(1.0)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        self.kill()
        for stream in (self.stdin, self.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        self.packets.close()
        self.stderr.close()

    def kill(self) -> None:
        """Kill the program and everything it started (its own session), and reap it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 9)
            self.process.wait()


def popen(argv: list[str], packet_fd: int, stderr, env: dict | None, cwd: str | None) -> subprocess.Popen:
    """Start the program ``argv`` in a session of its own (``kill`` ends the whole session),
    with pipes for its standard input and output and ``packet_fd`` passed on."""
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, pass_fds=(packet_fd,),
                            env=env, cwd=cwd, start_new_session=True)


def run_vector(argv: list[str], vector: dict, settings: Settings, model_window: int,
               addresses: Addresses = DEFAULT_ADDRESSES, env: dict | None = None, launch=None) -> Recording:
    """Run one vector against a fresh instance of the program ``argv``; it is killed after
    ``settings.timeout`` seconds (``StackHung``) and in any case when the vector ends.
    ``launch`` starts it instead of ``popen`` (same arguments; it returns an object with the
    ``Popen`` attributes this module uses: ``pid``, ``stdin``, ``stdout``, ``poll``, ``wait``),
    e.g. to fork it from a process that has already imported what it needs."""
    adapter = ProcessAdapter(argv, vector["role"], addresses, env, launch=launch)
    expired = threading.Event()

    def expire():
        expired.set()
        adapter.kill()

    watchdog = threading.Timer(settings.timeout, expire)
    watchdog.daemon = True
    watchdog.start()
    hung = f"no answer within {settings.timeout:g} s: the stack's process was killed"
    try:
        recording = drive(vector, adapter, settings, model_window)
        if adapter.process.poll() is not None and not expired.is_set():  # it died while the last step waited
            raise HarnessFailed(adapter._complaint("exited before the vector ended"))
    except (HarnessFailed, OSError):
        if expired.is_set():
            raise StackHung(hung) from None
        raise
    finally:
        watchdog.cancel()
        adapter.close()
    if expired.is_set():  # killed while the last step waited: what it recorded after that proves nothing
        raise StackHung(hung)
    return recording
