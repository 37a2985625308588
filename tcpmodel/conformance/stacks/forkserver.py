"""The harness's side of a fork server: a program forked, per vector, from a process that has
already imported what it needs (``programs/pytcp/zygote.py`` is the server, for PyTCP).

``ForkServer.launch`` has the signature of ``process.popen`` and is given to
``process.run_vector`` as its ``launch``: the program runs as a process of its own, in a session
of its own (``process`` kills it with ``killpg`` as it kills any program), with the standard
input, output and error and the packet socket ``process`` made for it; only its birth differs
(a fork of the server instead of a fresh interpreter). What the server does and why is in its
docstring; the protocol between the two is one SOCK_SEQPACKET message each way per program: the
program's arguments (JSON) with five descriptors (SCM_RIGHTS), and the child's pid. The child's
exit code arrives on a status pipe when it has exited (the server reaps it).

The server is started on first use and lives until this process exits or ``close`` is called;
one that died is started afresh on the next launch.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO

STARTUP_SECONDS = 10.0  # to import what the programs need and say "ready"
REPLY_SECONDS = 5.0  # to fork one program
MESSAGE_BYTES = 64


class ForkServerFailed(OSError):
    """The fork server could not be started or did not answer (an OSError, so that ``process``
    reports it as a program that could not be started)."""

    def __init__(self, text: str):
        super().__init__(0, text)


class ForkedProgram:
    """A program the server forked: the ``subprocess.Popen`` attributes ``process`` uses."""

    def __init__(self, pid: int, stdin, stdout, status: int):
        self.pid, self.stdin, self.stdout, self._status = pid, stdin, stdout, status
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._status], [], [], 0)[0]:
            self._read_status()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not select.select([self._status], [], [], timeout)[0]:
                assert timeout is not None  # without one, select waits until the status comes
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
            self._read_status()
        assert self.returncode is not None  # _read_status sets it
        return self.returncode

    def _read_status(self) -> None:
        said = os.read(self._status, MESSAGE_BYTES)
        os.close(self._status)
        if said:
            self.returncode = int(said)
        else:  # the server died before the child: make sure the child is gone too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, 9)
            self.returncode = -9


class ForkServer:
    """One server process running ``server`` (a Python script) with this interpreter."""

    def __init__(self, server: Path):
        self.server = server
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._stderr: IO[bytes] | None = None
        atexit.register(self.close)

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs."""
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def launch(self, argv: list[str], packet_fd: int, stderr, env: dict | None = None, cwd: str | None = None) -> ForkedProgram:
        """Fork the program for ``argv`` (its last five words are the program's arguments;
        ``env`` and ``cwd`` are the server's own)."""
        with self._lock:
            control = self._running()
            stdin_read, stdin_write = os.pipe()
            stdout_read, stdout_write = os.pipe()
            status_read, status_write = os.pipe()
            try:
                socket.send_fds(control, [json.dumps(argv[-5:]).encode()],
                                [stdin_read, stdout_write, stderr.fileno(), packet_fd, status_write])
                if not select.select([control], [], [], REPLY_SECONDS)[0]:
                    raise ForkServerFailed(self._complaint(f"did not fork a program within {REPLY_SECONDS:g} s"))
                reply = control.recv(MESSAGE_BYTES)
                if not reply:
                    raise ForkServerFailed(self._complaint("exited instead of forking a program"))
            except BaseException:
                for descriptor in (stdin_write, stdout_read, status_read):
                    os.close(descriptor)
                self._stop()
                raise
            finally:
                for descriptor in (stdin_read, stdout_write, status_write):
                    os.close(descriptor)
            return ForkedProgram(int(reply), os.fdopen(stdin_write, "wb"), os.fdopen(stdout_read, "rb"), status_read)

    def _running(self) -> socket.socket:
        if self._process is not None and self._process.poll() is None:
            assert self._control is not None  # set whenever the server runs
            return self._control
        self._stop()
        control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - the server's standard error while it runs; _stop() closes it
        try:
            self._process = subprocess.Popen(
                [sys.executable, str(self.server), str(theirs.fileno())], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=self._stderr, pass_fds=(theirs.fileno(),), start_new_session=True)
        except OSError as exc:
            control.close()
            raise ForkServerFailed(f"cannot start the fork server {self.server.name}: {exc.strerror}") from None
        finally:
            theirs.close()
        self._control = control
        if not select.select([control], [], [], STARTUP_SECONDS)[0] or control.recv(MESSAGE_BYTES) != b"ready":
            complaint = self._complaint(f"did not say 'ready' within {STARTUP_SECONDS:g} s")
            self._stop()
            raise ForkServerFailed(complaint)
        return control

    def _complaint(self, what: str) -> str:
        last: list[str] = []
        if self._stderr is not None:
            self._stderr.seek(0)
            last = [line for line in self._stderr.read().decode("utf-8", "replace").splitlines() if line.strip()][-1:]
        return f"the fork server {self.server.name} {what}" + (f"; it last said: {last[0][:200]}" if last else "")

    def _stop(self) -> None:
        if self._control is not None:
            self._control.close()  # the server kills its children still running and exits
            self._control = None
        if self._process is not None:
            try:
                self._process.wait(2.0)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def close(self) -> None:
        """Stop the server (it kills the programs it forked that still run)."""
        with self._lock:
            self._stop()
