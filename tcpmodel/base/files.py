"""Files named by a user: read only regular files of bounded size; write only plain names inside a folder.

``read_regular(path, limit)`` checks what the path is before reading it: a FIFO, a device
(``/dev/zero``, a terminal), a socket or a folder is refused at once, without blocking on open or
reading without end, and a file larger than ``limit`` bytes is refused before it is read. The
check is made on the opened descriptor (opened non-blocking, so that a FIFO does not wait for a
writer), so a path swapped between the check and the read cannot slip through.

``inside(folder, name)`` is the one way a name that came from input (a spec's name, a rule's, a
state's) becomes a file: ``name`` must be a plain file name (no folder part, not ``.`` or
``..``, no control characters, not hidden, at most 255 bytes), and the result is a child of
``folder``. Anything else is an ``InputError`` naming what was refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tcpmodel.base.errors import InputError

MAX_NAME_BYTES = 255  # the longest file name Linux file systems take


def read_regular(path: str | Path, limit: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them, or an InputError."""
    where = str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputError(f"no such {what}", where=where) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot open the {what}: {_reason(exc)}", where=where) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"the {what} is {_kind(info.st_mode)}, not a regular file", where=where)
        if info.st_size > limit:
            raise InputError(f"the {what} has {info.st_size:,} bytes; at most {limit:,} are read", where=where)
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # it grew after the check
                raise InputError(f"the {what} has more than {limit:,} bytes; at most {limit:,} are read", where=where)
        return b"".join(chunks)
    except OSError as exc:
        raise InputError(f"cannot read the {what}: {_reason(exc)}", where=where) from None
    finally:
        os.close(fd)


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def plain_file_name(name: str) -> str:
    """``name`` if it names a file in a folder and nothing else, or an InputError saying why not."""
    why = _not_plain(name)
    if why:
        raise InputError(f"{name!r} cannot be a file name: {why}")
    return name


def _not_plain(name: object) -> str:
    if not isinstance(name, str) or not name:
        return "it is empty"
    if "/" in name or "\\" in name:
        return "it has a folder separator"
    if name in (".", ".."):
        return "it names a folder"
    if name.startswith("."):
        return "it would be hidden"
    if name.startswith("-"):
        return "it would read as a command-line option"
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name) or not name.isprintable():
        return "it has control or unprintable characters"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid Unicode"
    if len(encoded) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_BYTES} bytes"
    return ""


def inside(folder: str | Path, name: str) -> Path:
    """The file ``name`` in ``folder``: ``name`` must be a plain file name (``plain_file_name``)."""
    folder = Path(folder)
    path = folder / plain_file_name(name)
    if path.parent != folder:  # cannot happen for a plain name; kept so that no later change makes it
        raise InputError(f"{name!r} cannot be a file name: it leaves the folder", where=str(folder))
    return path
