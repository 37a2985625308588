"""Signals at random moments of whole runs of ``python -m tcpmodel`` (issue 20), and what they leave.

``moments`` runs a command once to its end (the reference: its exit code, output and files), then
again and again with SIGINT or SIGTERM sent at seeded random moments spread over that run, two
runs at a time (two cores). A moment counts from when the program handles SIGTERM (its ``main``
has begun, seen in /proc/PID/status): before that the Python interpreter itself is starting, and a
signal there has the default effect it has on any Python program. Each run gets an environment
variable of its own, so that any process it leaves behind is found afterwards.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARK = "TCPMODEL_TEST_RUN"


@dataclass
class Run:
    signum: int | None  # None: the reference run, to its end
    moment: float  # seconds after the program was ready
    folder: Path  # the run's working folder: everything it writes is under it
    pid: int = 0
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0  # from ready to its end
    leftover_processes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        name = signal.Signals(self.signum).name if self.signum else "no signal"
        return f"{name} at {self.moment:.2f} s: exit {self.returncode}, stderr {self.stderr[-300:]!r}"


def _handles_sigterm(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True  # it has ended
    masks = {line.split(":")[0]: int(line.split()[1], 16) for line in status.splitlines() if line.startswith(("SigCgt", "SigIgn"))}
    bit = 1 << (signal.SIGTERM - 1)
    return bool((masks.get("SigCgt", 0) | masks.get("SigIgn", 0)) & bit)


def processes_marked(mark: str) -> list[str]:
    """Processes whose environment holds ``MARK=mark``: "pid command"."""
    found = []
    needle = f"{MARK}={mark}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(f"{entry} {command}")
    return found


def run(argv: list[str], folder: Path, signum: int | None = None, moment: float = 0.0, env: dict | None = None) -> Run:
    """``python -m tcpmodel ARGV`` in ``folder``; with ``signum``, sent ``moment`` s after it is ready."""
    folder.mkdir(parents=True, exist_ok=True)
    mark = uuid.uuid4().hex
    result = Run(signum, moment, folder)
    with open(folder / ".stdout", "w+b") as out, open(folder / ".stderr", "w+b") as err:
        process = subprocess.Popen([sys.executable, "-m", "tcpmodel", *argv], cwd=folder, stdout=out, stderr=err,
                                   env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT), MARK: mark})
        result.pid = process.pid
        while process.poll() is None and not _handles_sigterm(process.pid):
            time.sleep(0.002)
        ready = time.monotonic()
        if signum is not None:
            time.sleep(moment)
            if process.poll() is None:
                process.send_signal(signum)
        try:
            result.returncode = process.wait(180)
        finally:
            process.kill()
            process.wait()
        result.seconds = time.monotonic() - ready
        out.seek(0)
        err.seek(0)
        result.stdout, result.stderr = out.read().decode(), err.read().decode()
    (folder / ".stdout").unlink()
    (folder / ".stderr").unlink()
    time.sleep(0.05)
    result.leftover_processes = processes_marked(mark)
    return result


def moments(argv: list[str], base: Path, count: int, seed: int, env: dict | None = None) -> tuple[Run, list[Run]]:
    """The reference run of ``argv`` and ``count`` runs signalled at seeded random moments over
    it (SIGINT and SIGTERM alternately, in a shuffled order), two at a time."""
    reference = run(argv, base / "reference", env=env)
    rng = random.Random(seed)
    signals = [(signal.SIGINT, signal.SIGTERM)[n % 2] for n in range(count)]
    rng.shuffle(signals)
    plan = [(n, signum, rng.uniform(0.0, reference.seconds * 1.1)) for n, signum in enumerate(signals)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda item: run(argv, base / f"run-{item[0]}", item[1], item[2], env=env), plan))
    return reference, runs


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> content)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()} if folder.exists() else {}


def leftovers(folder: Path) -> list[str]:
    """Staging folders and temporary files a run left: there must be none."""
    return sorted(str(p) for p in folder.rglob("*") if p.name.startswith(".tcpmodel-staging-") or p.name.endswith((".tmp", ".partial")))


def last_line(text: str) -> str:
    lines = text.splitlines()
    return lines[-1] if lines else ""


def remove(base: Path) -> None:
    shutil.rmtree(base, ignore_errors=True)
