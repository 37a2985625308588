"""What every command shares for its output: exit codes, whole-file writes, progress lines."""

from __future__ import annotations

from pathlib import Path

from tcpmodel.base.interrupts import INTERRUPTED, TERMINATED
from tcpmodel.traces.trace import write_atomic as write_bytes

EXIT_OK, EXIT_VIOLATION, EXIT_INPUT, EXIT_INCOMPLETE = 0, 1, 2, 3


def write_atomic(path: Path, text: str, what: str = "file") -> None:
    """Write a text file whole or not at all (``trace.write_atomic``); a failure is an InputError."""
    write_bytes(Path(path), text.encode("utf-8"), what)


def stopped(reason: str) -> str:
    """What the last line says of a run that stopped early: "interrupted ..." (Ctrl-C), "terminated
    (SIGTERM) ...", or "stopped: <the bound reached>"."""
    return reason if reason.startswith((INTERRUPTED, TERMINATED)) else f"stopped: {reason}"


def progress_printer(stream):
    def report(exploration, frontier):
        rate = exploration.count / exploration.seconds if exploration.seconds else 0
        stream.write(
            f"\r  {exploration.count:>12,} states {exploration.transitions:>14,} transitions "
            f"frontier {frontier:>10,}  {rate:>9,.0f} states/s  {exploration.seconds:6.0f} s"
        )
        stream.flush()

    return report
