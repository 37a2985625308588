"""Network namespaces the project creates for itself, and code run inside them.

``namespace()`` makes a fresh namespace named ``tcpmodel-<pid>-<n>`` with ``lo`` up and deletes it
again however the block ends: normally, by an exception, by Ctrl-C (KeyboardInterrupt) or by
SIGTERM (turned into SystemExit while the block runs, when the process has no handler of its own;
the command line's raises ``base.interrupts.Interrupted``). A namespace whose process was killed
outright (SIGKILL) is deleted by the next process's first ``namespace()`` (``sweep_stale_namespaces``).

Code runs inside the namespace in a child process: a fresh interpreter (``python -c``) that
enters the namespace with setns(2) through ctypes (Python 3.11 has no os.setns) before it does
anything else, then runs a function it receives pickled on its stdin and sends the result back
pickled through a pipe. Why a fresh child rather than a thread or a fork:

- setns(CLONE_NEWNET) moves only the calling thread; /proc/net and the sockets of the other
  threads would stay in the old namespace. A child that enters first and only then starts threads
  has all of its threads, sockets, /proc/net and /proc/sys/net in the namespace;
- the caller's own process never changes namespace, so nothing can leave it in the wrong one;
- forking a process that may have threads (Z3, pytest plugins) can deadlock the child; a fresh
  interpreter starts clean. multiprocessing's "spawn" would too, but it re-runs the caller's
  ``__main__`` in the child, which fails for ``python -`` and for scripts without a main guard.
  The price: the function is pickled by name, so it must be a module-level function of an
  importable module.

Commands (``Namespace.run``) go through ``ip netns exec``, the ordinary tool for that.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import threading
import traceback
from contextlib import contextmanager
from pathlib import Path

from tcpmodel.base.errors import InputError
from tcpmodel.base.interrupts import signals_held
from tcpmodel.base.staging import process_alive

PREFIX = "tcpmodel-"
NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
_numbers = itertools.count(1)
_SYSCTL_NAME = re.compile(r"net(\.[A-Za-z0-9_-]+)+")


class NamespaceUnavailable(InputError):
    """This machine or user cannot create network namespaces (not root, no ``ip``, no netns)."""


def unavailable_reason() -> str | None:
    """Why namespaces cannot be created here, or None when they can."""
    if os.geteuid() != 0:
        return "creating network namespaces needs root (run as root)"
    if shutil.which("ip") is None:
        return "creating network namespaces needs the 'ip' command (iproute2)"
    if not Path("/proc/self/ns/net").exists():
        return "this kernel has no network namespaces (/proc/self/ns/net is missing)"
    return None


def leftover_namespaces(prefix: str = PREFIX) -> list[str]:
    """Named network namespaces whose name starts with ``prefix``, sorted."""
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []


_OWNED = re.compile(re.escape(PREFIX) + r"(\d+)-\d+")
_swept = False


def sweep_stale_namespaces() -> list[str]:
    """Delete the namespaces of tcpmodel processes that are no longer alive (a run killed by SIGKILL
    cannot delete its own): every ``tcpmodel-<pid>-<n>`` whose pid does not exist. Processes still
    inside one (a stack's child left behind) are killed first, so that its TUN device, which
    belongs to their open files, goes with them. The names deleted, sorted."""
    removed = []
    for name in leftover_namespaces():
        owner = _OWNED.fullmatch(name)
        if owner is None or process_alive(int(owner.group(1))):
            continue
        for pid in _pids_in(name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)
        if not (NETNS_DIR / name).exists():
            removed.append(name)
    return removed


def _pids_in(name: str) -> list[int]:
    """The processes whose network namespace is ``name`` (``ip netns pids``)."""
    done = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, check=False)
    return [int(word) for word in done.stdout.split() if word.isdigit()]


def own_prefix() -> str:
    """The name prefix of the namespaces this process creates."""
    return f"{PREFIX}{os.getpid()}-"


class Namespace:
    """A namespace made by ``namespace()``: run callables (``call``) or commands (``run``) in it."""

    def __init__(self, name: str):
        self.name = name
        self.path = NETNS_DIR / name
        self._children: set = set()

    def __repr__(self) -> str:
        return f"Namespace({self.name!r})"

    def run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
        """Run a command inside the namespace; its output is captured as text."""
        done = subprocess.run(["ip", "netns", "exec", self.name, *argv], capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} in {self.name} failed ({done.returncode}): {done.stderr.strip()}")
        return done

    def call(self, function, *args, progress=None, **kwargs):
        """``function(*args, **kwargs)`` in a child process inside the namespace; its result.

        ``function`` must be a module-level function of an importable module (it is pickled by
        name); arguments and result must pickle. An exception in the child is raised here, with the
        child's traceback as a note. With ``progress``, the function is also given ``progress=``: a
        callable whose text arguments reach this ``progress`` in the calling process while the
        child runs.
        """
        if getattr(function, "__module__", None) == "__main__" or "<locals>" in getattr(function, "__qualname__", ""):
            raise TypeError(f"{function!r} must be a module-level function of an importable module (not __main__)")
        request = pickle.dumps((str(self.path), function, args, kwargs, progress is not None))
        read_fd, write_fd = os.pipe()
        try:
            child = subprocess.Popen(
                [sys.executable, "-c", _CHILD_MAIN, str(write_fd)],
                stdin=subprocess.PIPE,
                stdout=2,  # anything the child prints goes to stderr, never into the caller's output
                pass_fds=(write_fd,),
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self._children.add(child)
        answered = False
        try:
            with os.fdopen(read_fd, "rb") as replies:
                try:
                    child.stdin.write(pickle.dumps(sys.path) + request)
                    child.stdin.close()
                except BrokenPipeError:
                    pass  # the child died at once; _await says so
                result = _await(child, replies, progress)
            answered = True
            return result
        finally:
            _stop(child, grace=0.5 if answered else 0)
            self._children.discard(child)

    def stop_children(self) -> None:
        for child in list(self._children):
            _stop(child, grace=0.5)
        self._children.clear()


def _await(child, replies, progress):
    while True:
        try:
            kind, value = pickle.load(replies)
        except EOFError:
            raise RuntimeError(f"the child process in the namespace died (exit code {child.wait()})") from None
        if kind == "progress":
            progress(value)
        elif kind == "result":
            return value
        else:
            raise value


def _stop(child, grace: float = 0) -> None:
    """End a child: it ends by itself right after answering; otherwise SIGTERM, then SIGKILL."""
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        child.terminate()
        try:
            child.wait(5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def enter(path: str) -> None:
    """Move the calling process (which must not have threads yet) into the namespace at ``path``."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            number = ctypes.get_errno()
            raise OSError(number, f"setns({path}): {os.strerror(number)}")
    finally:
        os.close(fd)


# The child reads the caller's sys.path first, so that it imports the same modules.
_CHILD_MAIN = (
    "import pickle, sys; sys.path[:0] = pickle.load(sys.stdin.buffer); "
    "from tcpmodel.host.netns import child_main; child_main(int(sys.argv[1]))"
)


def child_main(fd: int) -> None:
    """The child's side: read the request, enter the namespace, run, send the result or the exception."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the child
    with os.fdopen(fd, "wb") as replies:
        def send(message) -> None:
            pickle.dump(message, replies)
            replies.flush()

        try:
            path, function, args, kwargs, with_progress = pickle.load(sys.stdin.buffer)
            enter(path)
            if with_progress:
                kwargs = {**kwargs, "progress": lambda text: send(("progress", str(text)))}
            message = ("result", function(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            exc.add_note(f"in the namespace's child process:\n{traceback.format_exc().rstrip()}")
            message = ("error", exc)
        try:
            send(message)
        except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
            send(("error", RuntimeError(f"cannot send back the {message[0]} {message[1]!r}: {exc}")))


@contextmanager
def namespace():
    """A fresh network namespace with ``lo`` up; deleted when the block ends, whatever happens."""
    global _swept  # noqa: PLW0603 - once per process, before its first namespace
    reason = unavailable_reason()
    if reason:
        raise NamespaceUnavailable(reason)
    if not _swept:
        _swept = True
        sweep_stale_namespaces()
    with _sigterm_raises():
        ns = None
        try:
            with signals_held():  # a signal now is delivered once ``ns`` is set
                ns = Namespace(_create())
            _ip("-n", ns.name, "link", "set", "lo", "up")
            yield ns
        finally:
            if ns is not None:
                with signals_held():
                    ns.stop_children()
                    _delete(ns.name)


def _create() -> str:
    for _ in range(100):
        name = f"{own_prefix()}{next(_numbers)}"
        if not (NETNS_DIR / name).exists():  # a leftover of a killed process with our pid
            _ip("netns", "add", name, error=NamespaceUnavailable)
            return name
    raise NamespaceUnavailable(f"no free namespace name with the prefix {own_prefix()}")


def _delete(name: str) -> None:
    done = subprocess.run(["ip", "netns", "delete", name], capture_output=True, text=True, check=False)
    if done.returncode != 0 and (NETNS_DIR / name).exists():
        raise RuntimeError(f"could not delete network namespace {name}: {done.stderr.strip()}")


def _ip(*argv: str, error=RuntimeError) -> None:
    done = subprocess.run(["ip", *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = " ".join(done.stderr.split()) or f"exit code {done.returncode}"
        raise error(f"ip {' '.join(argv)}: {detail}")


_sigterm_users = 0
_sigterm_lock = threading.Lock()


def _on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


@contextmanager
def _sigterm_raises():
    """While any namespace exists, SIGTERM raises SystemExit, so that ``finally`` blocks run.

    Only in the main thread and only when SIGTERM has its default action: a program with a
    handler of its own keeps it. The default comes back when the last namespace is gone.
    """
    global _sigterm_users  # noqa: PLW0603 - one count for the process, kept under _sigterm_lock
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _sigterm_lock:
        ours = _sigterm_users > 0 or signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        if ours:
            if _sigterm_users == 0:
                signal.signal(signal.SIGTERM, _on_sigterm)
            _sigterm_users += 1
    try:
        yield
    finally:
        if ours:
            with _sigterm_lock:
                _sigterm_users -= 1
                if _sigterm_users == 0:
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def set_sysctls(ns: Namespace, settings: dict) -> dict:
    """Write per-namespace ``net.*`` sysctls inside ``ns``; the values read back, by name.

    A value may be a number, a string, or a sequence (``ip_local_port_range``: ``(40000, 40003)``).
    """
    for name in settings:
        if not _SYSCTL_NAME.fullmatch(name):
            raise InputError(f"{name!r} is not a per-namespace sysctl (expected net.<...>, e.g. net.ipv4.tcp_fin_timeout)")
    return ns.call(write_sysctls, dict(settings))


def sysctl_path(name: str) -> Path:
    return Path("/proc/sys", *name.split("."))


def write_sysctls(settings: dict) -> dict:
    """In the current namespace: write each sysctl, then read all of them back."""
    for name, value in settings.items():
        text = "\t".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        try:
            sysctl_path(name).write_text(text + "\n")
        except FileNotFoundError:
            raise InputError(f"{name}: no such sysctl in this kernel ({os.uname().release})") from None
        except OSError as exc:
            raise InputError(f"{name}: the kernel refused {' '.join(text.split())!r} ({exc.strerror})") from None
    return {name: read_sysctl(name) for name in settings}


def read_sysctl(name: str) -> str:
    """A sysctl's value in the current namespace, whitespace collapsed to single spaces."""
    return " ".join(sysctl_path(name).read_text().split())
