"""PyTCP, a TCP/IP stack in pure Python (PyPI ``pmd-pytcp``), run as a process of its own.

Each vector starts a fresh PyTCP in a process of its own (``programs/pytcp/program.py``), driven
by the common process adapter (``process``): PyTCP's TUN interface is one end of a
``socketpair(AF_UNIX, SOCK_DGRAM)``, user calls are lines on its standard input. A fresh process
per vector means no state of one vector (a TIME-WAIT session, a timer, the Fast Open cache)
reaches the next, and killing it (its own session) leaves nothing behind. Nothing needs root, and
no packet reaches a real network. The process is forked from a fork server that has imported
PyTCP once (``forkserver``, ``programs/pytcp/zygote.py``): a fresh interpreter spends about a
third of a second importing PyTCP, which over 881 vectors is longer than all of them run.

PyTCP on PyPI is ``pmd-pytcp``; the ``pytcp`` name needs Python 3.12 or later. The adapter is
written against 0.3.8 (``PYPI_PACKAGES``): the program uses its ``stack.init(fd=..., layer=L3)``,
its socket API (``socket``, ``bind``, ``listen``, ``accept``, ``connect``, ``send``, ``recv``,
``shutdown``, ``abort``, ``getsockopt(TCP_INFO)``), its socket table (for a passive connection in
SYN-RECEIVED, which ``accept()`` does not hand out yet) and its Fast Open negative cache. How each
user call maps onto that API is in the program's docstring; in short, CLOSE is
``shutdown(SHUT_WR)`` (PyTCP's CLOSE: the connection still receives), ABORT is ``abort()``.

The stack sits at 10.9.0.1/24, the tester at 10.9.0.2; the stack's port is 40000 as the active
opener and 5000 as the passive one, the tester's the other. PyTCP runs with its defaults: its SYN
offers MSS, SACK-permitted, window scale 7, timestamps and (Accurate) ECN, all turned down by the
tester's MSS-only SYN-ACK; Fast Open is kept off the tester's SYNs (its option is not one the
oracle models). The retransmission timer is waited for 1.5 times the RTO PyTCP reports
(``tcpi_rto``; 1 s at first: ``tcp.rto.initial_ms`` and ``tcp.rto.min_ms``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from tcpmodel.conformance.outcomes import Recording, Settings
from tcpmodel.conformance.stacks import process
from tcpmodel.conformance.stacks.forkserver import ForkServer
from tcpmodel.conformance.stacks.pytcp_findings import FINDINGS  # noqa: F401 - this stack's FINDINGS

NAME = "pytcp"
PROFILE = "pytcp"  # the profile its report is judged by (tcpmodel.oracle.profiles)
DEBIAN_PACKAGES: tuple[str, ...] = ()
PYTCP_VERSION = "0.3.8"
PYPI_PACKAGES = (f"pmd-pytcp=={PYTCP_VERSION}",)
PROGRAM = Path(__file__).with_name("programs") / "pytcp" / "program.py"
# The one fork server of this process (started on first use): importing PyTCP takes longer than
# most vectors run, so each vector's program is forked from a process that has imported it.
FORK_SERVER = ForkServer(PROGRAM.with_name("zygote.py"))


def installed_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pmd-pytcp")
    except PackageNotFoundError:
        return None


def unavailable_reason() -> str | None:
    found = installed_version()
    if found is None:
        return "pmd-pytcp (PyTCP) is not installed: run tcpmodel stacks --install pytcp"
    if found != PYTCP_VERSION:
        return f"pmd-pytcp {found} is installed, the adapter is written for {PYTCP_VERSION}: run tcpmodel stacks --install pytcp"
    if not PROGRAM.is_file():
        return f"the PyTCP program {PROGRAM} is missing from this tcpmodel installation"
    return None


def prepare() -> None:
    """Nothing to build (the program is Python); check that PyTCP imports in this interpreter."""
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    import pmd_pytcp.socket  # noqa: F401 - an import error says what is broken


def describe() -> dict:
    return {
        "version": f"PyTCP {installed_version() or 'not installed'} (PyPI pmd-pytcp) on Python {sys.version.split()[0]}",
        "addresses": "stack 10.9.0.1/24 on PyTCP's TUN interface (one end of a socketpair), tester 10.9.0.2",
        "ports": "stack 40000 (active) or 5000 (passive); tester the other",
        "settings": "PyTCP's defaults (RTO 1 s at first and at least, delayed ACK 100 ms, TIME-WAIT 30 s); "
                    "Fast Open off towards the tester (its negative cache); IPv6 off",
    }


def run(vector: dict, settings: Settings, model_window: int) -> Recording:
    """Run one vector against a fresh PyTCP process; it is killed after ``settings.timeout``."""

    return process.run_vector([sys.executable, str(PROGRAM)], vector, settings, model_window, launch=FORK_SERVER.launch)
