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
when a segment has waited the pcb's ``rto`` ticks; the program reports that (or, with no pcb to
ask, as for a half-open connection, the ``rto`` a new pcb starts with: 3 s), and the harness waits
1.5 times as long. USER and TIME-WAIT are not waited for. lwIP delays an ACK to the next tick of
its 250 ms fast timer; the program runs one extra tick straight after each arrival, so the ACK
comes within the harness's 50 ms of listening (as it does when the tick happens to fall there)
and a verdict does not depend on the timer's phase.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tcpmodel.conformance.findings import Finding
from tcpmodel.conformance.outcomes import Recording, Settings
from tcpmodel.conformance.stacks import process
from tcpmodel.conformance.stacks.build import BuildFailed, built_program

NAME = "lwip"
PROFILE = "lwip"  # the profile its report is judged by: RFC 9293 with the MAY/SHOULD allowances lwIP takes
DEBIAN_PACKAGES = ("liblwip-dev", "gcc", "libc6-dev")
PYPI_PACKAGES = ()
INCLUDE = Path("/usr/include/lwip")  # liblwip-dev's include directory (its lwip.pc says so)
SOURCES = ["lwip/lwip_stack.c"]
COMMAND = ["gcc", "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{INCLUDE}", "-o", "{out}",
           "lwip/lwip_stack.c", "-llwip"]
# The build options of Debian's liblwip that shape what the vectors see (lwipopts.h).
OPTIONS = ("NO_SYS", "TCP_MSS", "TCP_WND", "LWIP_WND_SCALE", "TCP_RCV_SCALE", "TCP_SND_BUF", "LWIP_TCPIP_CORE_LOCKING")


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
        "build": "Debian's lwipopts.h: " + ", ".join(f"{name} {_option(name) or '?'}" for name in OPTIONS),
        "program": "raw TCP API, Nagle off; no tcpip thread (one thread polls and calls sys_check_timeouts); "
                   "one extra fast-timer tick after each arrival, so delayed ACKs go out at once",
    }


def run(vector: dict, settings: Settings, model_window: int) -> Recording:
    """Run one vector in a fresh process; it is killed after ``settings.timeout``."""
    return process.run_vector([str(prepare())], vector, settings, model_window)


def _option(name: str, header: Path | None = None) -> str:
    """The value a ``#define`` in one of liblwip-dev's headers (lwipopts.h unless ``header``)
    gives ``name`` ("" if none)."""
    try:
        text = (header or INCLUDE / "lwipopts.h").read_text(errors="replace")
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
        done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "liblwip-dev"], check=False, capture_output=True, text=True)
    except OSError:
        return "version unknown"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "version unknown"


# ---------------------------------------------------------------- what its FAILs mean
# Read off the traces and ladders of `tcpmodel conform --stack lwip` with Debian's liblwip 2.1.3,
# and lwIP 2.1.3's source (src/core/tcp_in.c, tcp.c; STABLE-2_1_3_RELEASE), where the functions
# named decide.

def _names(roles, states, kinds, positions) -> tuple[str, ...]:
    """Every vector name role.STATE.KIND.position of the four lists."""
    return tuple(f"{r}.{s}.{k}.{p}" for r in roles for s in states for k in kinds for p in positions)


BOTH = ("active", "passive")
# The active opener's rule vectors whose shortest run goes through a simultaneous open.
SIMULTANEOUS_RULES = ("synsent_syn", "synrcvd_close", "abort_reset", "synrcvd_retransmit", "fin_retransmit_syn",
                      "fin_retransmit", "unacceptable_rst", "unacceptable", "rst", "synrcvd_ack_fin", "synrcvd_ack",
                      "synrcvd_ack_out_of_order", "fin_wait_1_segment", "fin_wait_1_out_of_order_fin_acked",
                      "fin_wait_1_out_of_order", "fin_wait_2_out_of_order", "close_wait_segment", "closing_segment",
                      "last_ack_segment")

FINDINGS = (
    Finding(
        "no-simultaneous-open", "MUST", "RFC 9293 §3.5 (MUST-10), §3.10.7.3 (fourth, the SYN bit)",
        "a TCP implementation MUST support simultaneous open attempts: in SYN-SENT a SYN without ACK moves the "
        "connection to SYN-RECEIVED and is answered with <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>",
        "drops a SYN without ACK in SYN-SENT (tcp_process takes only a SYN,ACK that acknowledges its SYN, and "
        "answers a bare ACK with a reset), so it never reaches SYN-RECEIVED from SYN-SENT: every vector whose run "
        "goes through a simultaneous open (the active opener's SYN-RECEIVED and FIN-WAIT-1) fails at the SYN",
        ("active.SYN-SENT.SYN.*", "active.SYN-RECEIVED.*", "active.FIN-WAIT-1.*",
         *(f"active.rule.{rule}" for rule in SIMULTANEOUS_RULES))),
    Finding(
        "syn-sent-ack-reset", "procedure", "RFC 9293 §3.10.7.3 (first and fifth steps)",
        "in SYN-SENT a segment whose ACK acknowledges the SYN (SND.UNA < SEG.ACK =< SND.NXT) but that carries "
        "neither SYN nor RST is dropped",
        "answers every ACK without SYN in SYN-SENT with a reset <SEQ=SEG.ACK>, as if it were unacceptable "
        "(tcp_process: \"possibly a half-open connection\"), and sends its SYN again at once",
        (*_names(("active",), ("SYN-SENT",), ("ACK", "data", "FIN"),
                 ("in_window", "last_in_window", "out_of_window", "before_window", "old_duplicate")),
         "active.rule.synsent_other"),
        seen=r"^<RST,ACK "),
    Finding(
        "syn-resent-after-bad-ack", "SHOULD", "RFC 6298 §5 (the RECOMMENDED timer management), RFC 9293 §3.8.1",
        "a segment is retransmitted when its retransmission timer expires, an RTO after it was sent",
        "answers an unacceptable ACK in SYN-SENT with the reset §3.10.7.3 asks for, then sends its SYN again at "
        "once (tcp_process calls tcp_rexmit_rto \"to establish connection faster\")",
        _names(("active",), ("SYN-SENT",), ("SYN-ACK", "ACK", "data", "FIN"), ("unsent_ACK", "ACK_2^31_away")),
        seen=r"^<SYN "),
    Finding(
        "abort-resets", "procedure", "RFC 9293 §3.10.5 (ABORT call)",
        "ABORT in SYN-SENT deletes the TCB, and in CLOSING, LAST-ACK and TIME-WAIT responds ok and deletes it, "
        "without sending a segment",
        "sends <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> on tcp_abort in every state but CLOSED, LISTEN "
        "and TIME-WAIT (tcp_abandon)",
        ("active.rule.synsent_abort", "active.rule.abort_quiet", "passive.rule.abort_quiet"),
        seen=r"^<RST,ACK "),
    Finding(
        "syn-received-syn", "procedure", "RFC 9293 §3.10.7.4 (first, the sequence number check)",
        "an unacceptable segment in SYN-RECEIVED is answered with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and dropped",
        "answers a SYN without ACK in SYN-RECEIVED only when it repeats the peer's first SYN (SEG.SEQ = IRS), "
        "with its SYN,ACK again (tcp_rexmit), as if that had been lost, and ignores any other",
        ("passive.rule.unacceptable", "passive.SYN-RECEIVED.SYN.before_window",
         "passive.SYN-RECEIVED.SYN.old_duplicate", "passive.SYN-RECEIVED.SYN.out_of_window")),
    Finding(
        "syn-received-ack-first", "procedure", "RFC 9293 §3.10.7.4 (fourth, the SYN bit)",
        "a SYN in the window of a passive open's SYN-RECEIVED returns the connection to LISTEN without a "
        "segment, before the ACK field is looked at",
        "looks at the ACK first: an acceptable one completes the handshake and the SYN is then taken as one "
        "more octet of data (acknowledged, or at a later SEQ answered with a duplicate ACK); an unacceptable one "
        "gets a reset <SEQ=SEG.ACK> (tcp_process; lwIP 2.2.0 "
        "checks the SYN first: commit adbc5b5f, \"tcp: tighten up checks for received SYN\")",
        _names(("passive",), ("SYN-RECEIVED",), ("SYN-ACK",),
               ("in_window", "last_in_window", "unsent_ACK", "ACK_2^31_away"))),
    Finding(
        "window-right-edge", "procedure", "RFC 9293 §3.10.7.4 (first, the sequence number check), RFC 5961 §3.2",
        "a segment is in the window when RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND (Table 6), so one at "
        "RCV.NXT+RCV.WND is not: a RST there is dropped silently, a SYN there is answered with an ACK",
        "takes RCV.NXT+RCV.WND as in the window (TCP_SEQ_BETWEEN(seqno, rcv_nxt, rcv_nxt + rcv_wnd), the bound "
        "RFC 5961 §3.2 writes when it restates RFC 793), so a RST there gets a challenge ACK (tcp_process) and a "
        "SYN there in TIME-WAIT a reset (tcp_timewait_input)",
        (*_names(BOTH, ("SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING",
                        "LAST-ACK"), ("RST", "RST-ACK"), ("out_of_window",)),
         *_names(BOTH, ("TIME-WAIT",), ("SYN", "SYN-ACK"), ("out_of_window",)))),
    Finding(
        "ack-field-of-unacceptable-segment", "procedure", "RFC 9293 §3.10.7.4 (first, the sequence number check)",
        "an unacceptable segment is answered with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and dropped before its "
        "ACK field is looked at",
        "processes the ACK field of a segment outside the window (tcp_receive): in LAST-ACK one that "
        "acknowledges the FIN deletes the connection, and the ACK it owed is never sent",
        _names(BOTH, ("LAST-ACK",), ("ACK", "data", "FIN"), ("out_of_window", "before_window"))),
    Finding(
        "ack-beyond-snd-nxt", "MUST", "RFC 9293 §3.10.7.4 (fifth, the ACK field), RFC 5961 §5.2",
        "a segment whose ACK acknowledges something not yet sent (SEG.ACK > SND.NXT) is answered with an ACK and "
        "dropped; TCP stacks that implement RFC 5961, as lwIP does (§3, §4), MUST discard every segment whose ACK "
        "lies outside [SND.UNA - MAX.SND.WND, SND.NXT] and send an ACK back",
        "sends that ACK (tcp_send_empty_ack) but goes on to take the segment's data and FIN, which it "
        "acknowledges with a second ACK (tcp_receive); in TIME-WAIT it does not look at the ACK field, and a bare "
        "ACK there gets no answer (tcp_timewait_input)",
        (*_names(BOTH, ("ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2"), ("data", "FIN"), ("unsent_ACK",)),
         *_names(BOTH, ("TIME-WAIT",), ("ACK",), ("unsent_ACK",)))),
    Finding(
        "ack-half-way-round", "MUST", "RFC 9293 §3.10.7.4 (fifth, the ACK field), RFC 5961 §5.2, RFC 1982 §3.2",
        "TCP stacks that implement RFC 5961 MUST accept an ACK only within [SND.UNA - MAX.SND.WND, SND.NXT] and "
        "discard any other segment with an ACK back (the mitigation is MAY-12 for a stack without RFC 5961). An "
        "ACK exactly 2^31 from SND.UNA is neither above nor below it, a comparison RFC 1982 leaves undefined "
        "(\"implementations are free to return either result\"), but it lies outside that range either way; the "
        "spec takes it as too old (and, where SND.NXT is past SND.UNA, as beyond SND.NXT)",
        "implements RFC 5961's §3 and §4 (tcp_process) but not this check, and compares with a signed 32-bit "
        "difference (TCP_SEQ_LEQ), which puts the ACK at or below SND.UNA: it is ignored as a duplicate, nothing "
        "is sent, and the segment's data and FIN are processed (tcp_receive)",
        (*_names(BOTH, ("ESTABLISHED", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK"), ("ACK", "data", "FIN"),
                 ("ACK_2^31_away",)),
         *_names(("passive",), ("FIN-WAIT-1",), ("ACK", "data", "FIN"), ("ACK_2^31_away",)))),
    Finding(
        "time-wait-acks-text", "procedure", "RFC 9293 §3.10.7.4 (TIME-WAIT in the fifth, seventh and eighth steps)",
        "an acceptable segment in TIME-WAIT has its text ignored, a FIN restarts the 2 MSL timer, and only a "
        "retransmission of the peer's FIN is acknowledged",
        "answers every segment in TIME-WAIT that carries data or a FIN with an ACK, wherever it lies "
        "(tcp_timewait_input: tcplen > 0)",
        _names(BOTH, ("TIME-WAIT",), ("data", "FIN"), ("in_window", "last_in_window", "ACK_2^31_away"))),
    Finding(
        "time-wait-unacceptable-unanswered", "procedure", "RFC 9293 §3.10.7.4 (first, the sequence number check)",
        "an unacceptable segment is answered with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (\"should be sent\") and "
        "dropped",
        "answers no segment without data, FIN or SYN in TIME-WAIT: tcp_timewait_input skips the sequence number "
        "check (\"always acceptable since we only send ACKs\")",
        _names(BOTH, ("TIME-WAIT",), ("ACK",), ("out_of_window", "before_window", "old_duplicate"))),
    Finding(
        "time-wait-rfc793", "MUST", "RFC 9293 §3.10.7.4 (second, the RST bit; fourth, the SYN bit), RFC 5961 §3-4",
        "a stack implementing RFC 5961's protection MUST answer a RST in the window but not at RCV.NXT, and a SYN "
        "in any synchronized state, with a challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>",
        "implements RFC 5961 in every synchronized state but TIME-WAIT, where tcp_timewait_input resets an "
        "in-window SYN as RFC 793 did and drops every RST unanswered (after RFC 1337)",
        (*_names(BOTH, ("TIME-WAIT",), ("SYN", "SYN-ACK"), ("in_window", "last_in_window", "unsent_ACK",
                                                           "ACK_2^31_away")),
         *_names(BOTH, ("TIME-WAIT",), ("RST", "RST-ACK"), ("last_in_window",)))),
)
