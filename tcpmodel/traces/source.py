"""Where a trace, run or capture is read from: a regular file, or a stream, never a device.

``source(path)`` looks at what ``path`` is before reading it (``os.stat``, which follows symlinks
such as ``/dev/stdin``):

- a regular file is read as a file (a trace or run at most ``MAX_BYTES``; a capture streams);
- a FIFO, a pipe or a socket (``-`` is standard input; ``/dev/stdin`` is whatever that is) is a
  stream: it is read to its end into memory, at most ``MAX_BYTES``, and each read waits at most
  ``IDLE_SECONDS`` for data, so that a FIFO nobody writes to is an error, not a hang;
- a device (``/dev/zero``, a terminal), a directory or anything else is refused.

Each refusal is an ``InputError`` naming the path.
"""

from __future__ import annotations

import os
import select
import stat
from dataclasses import dataclass

from tcpmodel.base.errors import InputError

STDIN = "-"
MAX_BYTES = 256 << 20  # a trace or run file, or a stream read into memory
IDLE_SECONDS = 10.0  # the longest wait for the next data of a stream


@dataclass(frozen=True)
class Source:
    """A file to read: ``path`` (a regular file, read by the caller), or ``data`` (a stream, read whole)."""

    name: str
    path: str | None = None
    data: bytes | None = None

    def head(self, size: int) -> bytes:
        """The first ``size`` bytes."""
        if self.data is not None:
            return self.data[:size]
        assert self.path is not None  # a Source holds a path or its data
        try:
            with open(self.path, "rb") as f:
                return f.read(size)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", where=self.name) from None

    def read(self, what: str) -> bytes:
        """The whole content, at most ``MAX_BYTES``."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        try:
            with open(self.path, "rb") as f:
                data = f.read(MAX_BYTES + 1)
        except OSError as exc:
            raise InputError(f"cannot read {what}: {exc.strerror or exc}", where=self.name) from None
        if len(data) > MAX_BYTES:
            raise InputError(f"the {what} is larger than {MAX_BYTES >> 20} MiB", where=self.name)
        return data


def source(path: str | os.PathLike[str], what: str = "file") -> Source:
    """What to read for ``path`` (see the module); streams are read here."""
    name = str(path)
    if name == STDIN:
        return Source("<stdin>", data=read_stream(0, "<stdin>", what))
    try:
        kind = os.stat(name).st_mode
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}", where=name) from None
    if stat.S_ISREG(kind):
        return Source(name, path=name)
    if stat.S_ISFIFO(kind) or stat.S_ISSOCK(kind):
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO without a writer opens at once
        except OSError as exc:
            raise InputError(f"cannot read {what}: {exc.strerror or exc}", where=name) from None
        try:
            return Source(name, data=read_stream(fd, name, what))
        finally:
            os.close(fd)
    if stat.S_ISDIR(kind):
        raise InputError(f"cannot read {what}: it is a folder", where=name)
    # never opened: opening a device can do something (a terminal, a watchdog)
    raise InputError(f"cannot read {what}: a device, not a file (give a file, a FIFO, or `-` and a pipe)", where=name)


def read_stream(fd: int, name: str, what: str = "file") -> bytes:
    """Everything ``fd`` (a pipe, FIFO or socket) gives until its end: at most ``MAX_BYTES``,
    waiting at most ``IDLE_SECONDS`` for each next piece. Standard input must not be a terminal."""
    if os.isatty(fd):
        raise InputError(f"cannot read {what} from a terminal: pipe a file into it (cat FILE | tcpmodel ...)", where=name)
    kind = os.fstat(fd).st_mode
    if stat.S_ISREG(kind):  # standard input redirected from a file
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise InputError(f"the {what} is larger than {MAX_BYTES >> 20} MiB", where=name)
        return data
    if not (stat.S_ISFIFO(kind) or stat.S_ISSOCK(kind)):
        raise InputError(f"cannot read {what}: a device, not a file or a pipe", where=name)
    blocking = os.get_blocking(fd)
    os.set_blocking(fd, False)
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if not poller.poll(IDLE_SECONDS * 1000):
                got = f"after {size:,} bytes " if size else ""
                raise InputError(f"nothing more arrived {got}for {IDLE_SECONDS:g} s: a stream must be written to and closed", where=name)
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise InputError(f"cannot read {what}: {exc.strerror or exc}", where=name) from None
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_BYTES:
                raise InputError(f"the {what} is larger than {MAX_BYTES >> 20} MiB (a stream is read into memory)", where=name)
            chunks.append(chunk)
    finally:
        os.set_blocking(fd, blocking)
