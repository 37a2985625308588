"""lwIP's TCP (Debian's liblwip), driven through a small C program that links it.

The program (``programs/lwip/lwip_stack.c``, built by ``build.built_program`` with gcc) is one
process per vector, run by ``process.run_vector``: its network interface is one end of a
socketpair (IPv4 packets after the 4-byte TUN header), its user the line protocol on stdin and
stdout. So no root, namespace or TUN device is needed, and nothing of one vector (a TIME-WAIT
pcb, a timer) reaches the next: the process, with all of lwIP's state, ends with the vector.

Debian builds liblwip for the Hurd's TCP/IP server: ``NO_SYS 0`` (the unix port's threads and
core lock), dual-stack, and its own ``lwipopts.h`` (``/usr/include/lwip/lwipopts.h``), which the
program compiles against so that its view of lwIP's structures is the library's. The program
starts no tcpip thread: its one thread calls ``lwip_init`` and then runs the stack in a poll()
loop whose timeout is lwIP's next timer (``sys_check_timeouts``), so every call into lwIP comes
from one thread, as the raw API wants.

Inside: the stack's address 10.9.0.1/24 is on a point-to-point interface (no ARP: the output hook
takes IPv4 packets as they are, the tester 10.9.0.2 is one socket away); ports as for Linux.
User calls use lwIP's raw TCP API (``tcp_listen``, ``tcp_connect``, ``tcp_write`` +
``tcp_output``, ``tcp_shutdown(pcb, 0, 1)`` for CLOSE as RFC 9293's half-close, ``tcp_close`` in
SYN-SENT and on a listener where the RFC deletes the TCB, ``tcp_abort`` for ABORT), and the user
reads whatever arrives as soon as it arrives (``tcp_recved``). Nagle's algorithm is off, so each
SEND is a segment. The raw API hands over a passive connection only once its handshake completed
(the accept callback): SEND, CLOSE and ABORT in SYN-RECEIVED of a passive open are
``Unsupported`` (the vector is SKIPPED), as with Linux's sockets; the listener is closed once a
connection is accepted.

Timers: lwIP counts the retransmission timer in ticks of its 500 ms slow timer and retransmits
when a segment has waited the pcb's ``rto`` ticks; the program reports that (or, for a half-open
connection it has no handle on, the ``rto`` a new pcb starts with: 3 s), and the harness waits 1.5
times as long. USER and TIME-WAIT are not waited for.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tcpmodel.harness import Recording, Settings
from tcpmodel.stacks import process
from tcpmodel.stacks.build import BuildFailed, built_program

NAME = "lwip"
DEBIAN_PACKAGES = ("liblwip-dev", "gcc", "libc6-dev")
PYPI_PACKAGES = ()
INCLUDE = Path("/usr/include/lwip")  # liblwip-dev's include directory (its lwip.pc says so)
SOURCES = ["lwip/lwip_stack.c"]
COMMAND = ["gcc", "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{INCLUDE}", "-o", "{out}",
           "lwip/lwip_stack.c", "-llwip"]
# The build options of Debian's liblwip that shape what the vectors see (lwipopts.h).
OPTIONS = ("NO_SYS", "TCP_MSS", "TCP_WND", "LWIP_WND_SCALE", "TCP_RCV_SCALE", "TCP_SND_BUF", "LWIP_TCPIP_CORE_LOCKING")

FINDINGS = ()


def prepare() -> Path:
    """Build the program (once: the build is cached by the hash of its source)."""
    return built_program("lwip", SOURCES, COMMAND, "lwip_stack")


def unavailable_reason() -> str | None:
    if not (INCLUDE / "lwip" / "tcp.h").exists():
        return "liblwip-dev is not installed: run tcpmodel stacks --install lwip"
    if shutil.which("gcc") is None:
        return "gcc is not installed (it builds the lwIP program): run tcpmodel stacks --install lwip"
    try:
        prepare()
    except (BuildFailed, OSError) as exc:
        return str(exc).splitlines()[0]
    return None


def describe() -> dict:
    return {
        "version": f"lwIP {_release()} (Debian {_debian_version()})",
        "addresses": f"stack {process.DEFAULT_ADDRESSES.stack}/24 on a point-to-point interface (a socketpair), "
                     f"tester {process.DEFAULT_ADDRESSES.tester}",
        "ports": "stack 40000 (active) or 5000 (passive); tester the other",
        "build": "Debian's lwipopts.h: " + ", ".join(f"{name} {_option(name) or '?'}" for name in OPTIONS)
                 + "; run without the tcpip thread (one thread calls sys_check_timeouts)",
    }


def run(vector: dict, settings: Settings, model_window: int) -> Recording:
    """Run one vector in a fresh process; it is killed after ``settings.timeout``."""
    return process.run_vector([str(prepare())], vector, settings, model_window)


def _option(name: str, header: Path = INCLUDE / "lwipopts.h") -> str:
    """The value a ``#define`` in one of liblwip-dev's headers gives ``name`` ("" if none)."""
    try:
        text = header.read_text(errors="replace")
    except OSError:
        return ""
    found = re.search(rf"^\s*#\s*define\s+{name}\s+(.+?)\s*(?:/\*.*)?$", text, re.MULTILINE)
    return found.group(1).strip('"') if found else ""


def _release() -> str:
    """lwIP's release as its headers give it: "2.1.3"."""
    parts = [_option(f"LWIP_VERSION_{part}", INCLUDE / "lwip" / "init.h") for part in ("MAJOR", "MINOR", "REVISION")]
    return ".".join(parts) if all(parts) else "?"


def _debian_version() -> str:
    try:
        done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "liblwip-dev"], capture_output=True, text=True)
    except OSError:
        return "version unknown"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "version unknown"
