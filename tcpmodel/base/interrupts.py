"""Stopping a run from outside: Ctrl-C, SIGTERM and time limits, all as one exception.

Ctrl-C raises ``KeyboardInterrupt``. ``Interrupted`` is a ``KeyboardInterrupt`` with a reason:
what the command line raises for SIGTERM (``terminate_raises``) and for a time limit
(``time_limit``), so that every ``except KeyboardInterrupt`` and ``finally`` that cleans up
after Ctrl-C cleans up after them too, and a search that stops on it says why
(``reason_of``). A library function never turns one into a result that looks complete: it
returns a result marked incomplete (the explorers' ``stop_reason``) or lets it through.

``signals_held`` holds SIGINT, SIGTERM and SIGALRM back while a block runs that must run whole (numbering
a batch of states, moving staged files into place, creating and deleting a namespace); a signal
that arrives meanwhile is delivered when the block ends.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

HELD = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGALRM})  # SIGALRM: ``time_limit``
INTERRUPTED = "interrupted"
TERMINATED = "terminated (SIGTERM)"


class Interrupted(KeyboardInterrupt):
    """A stop asked for from outside the program, raised where Ctrl-C raises KeyboardInterrupt."""

    def __init__(self, reason: str = INTERRUPTED):
        super().__init__(reason)
        self.reason = reason


def reason_of(exc: BaseException) -> str:
    """Why a KeyboardInterrupt stopped the run: "interrupted" (Ctrl-C), or ``Interrupted.reason``."""
    return exc.reason if isinstance(exc, Interrupted) else INTERRUPTED


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGALRM back while the block runs; one that arrives meanwhile takes
    effect when it ends (the first, if several). In the main thread only, where Python runs signal
    handlers; elsewhere the block just runs.

    The handlers are swapped for ones that note the signal, rather than the signals blocked: a
    mask holds a signal back from one thread only, and the kernel gives a signal sent to the
    process to any thread that does not block it (numpy's, Z3's), whose arrival still makes
    Python run the handler in the main thread."""
    if not _in_main_thread():
        yield
        return
    caught: list[int] = []
    previous = {signum: signal.signal(signum, lambda signum, frame: caught.append(signum)) for signum in sorted(HELD)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            _deliver(caught[0], previous[signal.Signals(caught[0])])


def _deliver(signum: int, handler: Callable[[int, FrameType | None], object] | int | None) -> None:
    """What ``signum`` would have done under ``handler``: run it, or its default action."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        os.kill(os.getpid(), signum)  # SIGINT's default handler is Python's own, callable: this is SIGTERM's or SIGALRM's


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(TERMINATED)


def raise_on_terminate() -> None:
    """From now on, SIGTERM raises ``Interrupted("terminated (SIGTERM)")`` as Ctrl-C raises
    KeyboardInterrupt (SIGINT keeps Python's handler). A signal the program was started with
    ignored stays ignored (a background job's SIGINT, nohup's)."""
    if _in_main_thread() and signal.getsignal(signal.SIGTERM) != signal.SIG_IGN:
        signal.signal(signal.SIGTERM, _raise_terminated)


@contextmanager
def terminate_raises() -> Iterator[None]:
    """``raise_on_terminate`` while the block runs; the handler before comes back afterwards."""
    if not _in_main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    raise_on_terminate()
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def time_limit(seconds: float | None, reason: str) -> Iterator[None]:
    """Raise ``Interrupted(reason)`` in the main thread once ``seconds`` have passed (a real-time
    interval timer, SIGALRM), unless the block has ended by then. None: no limit."""
    if seconds is None or not _in_main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(reason)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-6))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def ignore_signals() -> None:
    """Ignore SIGINT and SIGTERM from now on: for a program whose result is written, so that a
    late signal cannot cut its exit short and change its exit code."""
    if _in_main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
