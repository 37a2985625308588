"""Output that is whole or absent: files staged in a hidden folder, then moved into place together.

A command that writes several files (``vectors --out``, ``report``, ``check --out``, ``export
--out``, ``audit --out``, ``conform --report``) writes them through a ``Staging``: into a folder
``OUT/.tcpmodel-staging-<pid>-<random>`` inside the output folder, so that every move is a rename
within one file system. Nothing reaches OUT until ``commit()``, which moves every staged entry
into place with SIGINT, SIGTERM and SIGALRM held back (``interrupts.signals_held``): a file by
``os.replace`` (atomic: the old file or the new one, never half of one), a folder by renaming the
old one aside and the new one in (so that a folder such as ``seed-claims/`` never mixes two runs).
Folders are moved first, then files, each in the order first written: a command writes its index
last (``seed-claims.md`` after ``seed-claims/``, a conformance report after its examples), so
that whoever sees the new index sees the files it names. Only SIGKILL or a power cut during those
renames (microseconds each) could leave part of a set in place.

Leaving the block without ``commit()`` (bad input, a full disk, Ctrl-C, SIGTERM) deletes the
staging folder: OUT is left as it was, and an OUT the staging had to create is removed again if
it is still empty. A write that fails (no space left, a read-only folder) is an ``InputError``
naming the file it was for, not the staging path. A staging folder whose process is no longer
alive (it was SIGKILLed) is deleted by the next ``Staging`` of the same folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from tcpmodel.base.errors import InputError
from tcpmodel.base.files import plain_file_name
from tcpmodel.base.interrupts import signals_held

PREFIX = ".tcpmodel-staging-"
_STAGING_NAME = re.compile(re.escape(PREFIX) + r"(\d+)-")


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (of any user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(folder: Path) -> list[Path]:
    """Delete the staging folders in ``folder`` left by processes no longer alive; those deleted."""
    removed = []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    for name in names:
        match = _STAGING_NAME.match(name)
        if match and int(match.group(1)) != os.getpid() and not process_alive(int(match.group(1))):
            shutil.rmtree(folder / name, ignore_errors=True)
            removed.append(folder / name)
    return removed


class Staging:
    """Files for ``out``, staged (see the module). Use as ``with Staging(out) as stage: ...;
    stage.commit()``; without ``commit()`` nothing reaches ``out``."""

    def __init__(self, out: Path | str, what: str = "output"):
        self.out = Path(out)
        self.what = what
        self.folder = Path()
        self._entries: dict[str, bool] = {}  # top-level name -> is a folder, in order of first write
        self._made_out = False
        self._open = False
        self.committed = False  # every entry is in place (a signal held back during commit() may still come out of it)

    def __enter__(self) -> Staging:
        self._made_out = not os.path.lexists(self.out)
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the folder: {exc.strerror or exc}", where=str(self.out)) from None
        try:
            sweep_stale(self.out)
            self.folder = Path(tempfile.mkdtemp(dir=self.out, prefix=f"{PREFIX}{os.getpid()}-"))
        except OSError as exc:
            if self._made_out:
                self.out.rmdir()
            raise InputError(f"cannot write the {self.what} here: {exc.strerror or exc}", where=str(self.out)) from None
        self._open = True
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.discard()
        if isinstance(exc, InputError) and exc.where.startswith(f"{self.folder}{os.sep}"):
            exc.where = str(self.final(exc.where))  # a write into the staging folder names the file it was for

    def path(self, name: str) -> Path:
        """Where ``name`` (a path relative to ``out``: ``a.svg``, ``seed-claims/a.svg``) is staged;
        its folders are made. The top-level part is moved into place by ``commit()``."""
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:  # a guard: callers derive safe names
            raise InputError(f"{name!r} is not a file name inside the folder", where=str(self.out))
        for part in relative.parts:
            plain_file_name(part)  # each part a plain file name (base.files), or an InputError
        top = relative.parts[0]
        self._entries.setdefault(top, len(relative.parts) > 1)
        if len(relative.parts) > 1:
            self._entries[top] = True
        staged = self.folder / relative
        try:
            staged.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot write the {self.what}: {exc.strerror or exc}", where=str(self.out / relative)) from None
        return staged

    def mkdir(self, name: str) -> Path:
        """Stage a folder ``name`` (a top-level name), empty so far; it replaces ``out/name`` whole."""
        staged = self.path(name)
        self._entries[Path(name).parts[0]] = True
        try:
            staged.mkdir(exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot write the {self.what}: {exc.strerror or exc}", where=str(self.out / name)) from None
        return staged

    def final(self, staged: Path | str) -> Path:
        """The place a staged path goes: ``out/<its path in the staging folder>``."""
        p = Path(staged)
        return self.out / p.relative_to(self.folder) if p.is_relative_to(self.folder) else p

    def write(self, name: str, data: str | bytes, what: str = "") -> Path:
        """Stage ``name`` with ``data`` (text as UTF-8); the path it will have once committed."""
        staged = self.path(name)
        try:
            with open(staged, "wb") as f:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
        except OSError as exc:
            raise InputError(f"cannot write {what or 'the ' + self.what}: {exc.strerror or exc}", where=str(self.out / name)) from None
        return self.out / name

    def commit(self) -> None:
        """Move every staged entry into place (folders, then files), then delete the staging folder."""
        if not self._open:
            raise RuntimeError("commit() of a staging that is not open")
        order = [n for n, is_dir in self._entries.items() if is_dir] + [n for n, is_dir in self._entries.items() if not is_dir]
        with signals_held():
            for name in order:
                staged, target = self.folder / name, self.out / name
                try:
                    if self._entries[name]:
                        if os.path.lexists(target):
                            os.rename(target, self.folder / f".replaced-{name}")
                        os.rename(staged, target)
                    else:
                        os.replace(staged, target)
                except OSError as exc:
                    raise InputError(f"cannot put the {self.what} in place: {exc.strerror or exc}", where=str(target)) from None
            self.committed = True
            self._made_out = False
            self.discard()

    def discard(self) -> None:
        """Delete the staging folder and what it holds (and ``out`` if it was made for it and is empty)."""
        if not self._open:
            return
        with signals_held():
            shutil.rmtree(self.folder, ignore_errors=True)
            self._open = False
            if self._made_out:
                with contextlib.suppress(OSError):  # not empty: something else was put there meanwhile
                    self.out.rmdir()
