"""gVisor's netstack (the TCP/IP stack of gVisor's user-space kernel), as Debian packages it,
driven by a small Go program of ours (``programs/gvisor/main.go``) through ``process``.

Debian's ``golang-gvisor-gvisor-dev`` is a source package: Go library sources under
/usr/share/gocode/src, from a December 2022 snapshot of gVisor, with its dependencies as Debian
packages of their own. The program is built offline in GOPATH mode against exactly those
sources (``GOPATH=/usr/share/gocode GO111MODULE=off``; no module proxy, no download), with Go's
build cache under tcpmodel's cache directory, and the Debian version of the sources baked into
the binary and into the build command, so an upgraded package is rebuilt (``build``).

The program builds one ``stack.Stack`` with IPv4 and TCP per vector (one process per vector, so
no state of one vector reaches the next). Its only NIC is a ``channel.Endpoint`` whose packets
travel on the socketpair of ``process``: address 10.9.0.1/24, default route to the tester
10.9.0.2. User calls go through netstack's ``tcpip.Endpoint`` API, the one gVisor's own socket
layer calls: LISTEN is Bind and Listen; CONNECT is Bind to port 40000 and a non-blocking Connect;
SEND a Write (with the delay option off, i.e. TCP_NODELAY); CLOSE is Shutdown(ShutdownWrite) (RFC
9293's CLOSE: no more to send, the connection still receives), and Close on a listener; in
SYN-SENT and SYN-RECEIVED netstack's Shutdown abandons the handshake, as its Close does. ABORT is
SO_LINGER {on, 0} and Close, which netstack turns into a reset in the synchronized states, except
in SYN-RECEIVED, where that path dereferences a sender the handshake does not have and the
process panics, so ABORT there is a plain Close (a finding says what follows). POLL accepts the
passive connection as soon as Accept returns it and closes the listener (RFC 9293's passive TCB
becomes the connection), then reads what arrived. Before the handshake has completed the API has
no handle on a passive connection, so a SEND, CLOSE or ABORT there raises ``Unsupported`` and the
vector is SKIPPED, as on Linux.

Segments: netstack sends no SACK-permitted option (pinned off), and answers every out-of-window
segment (its 500 ms rate limit on such ACKs is set to 0, as Linux's ``tcp_invalid_ratelimit`` is
for the Linux runs). Its own SYN always offers timestamps and a window scale (hard-wired in the
handshake code); the tester's SYN-ACK offers neither, so neither is used afterwards, and a
passive netstack offers only the MSS.

Timers: the retransmission timer is waited for 1.5 times the RTO of the connection's TCPInfo, or
1.5 x tcp.InitialRTO (1 s) during a handshake, when netstack has no sender to ask. The minimum
RTO is pinned to RFC 6298's 1 s instead of netstack's 200 ms: a vector's steps are 50 ms apart
and it lasts a few hundred milliseconds, so at 200 ms a retransmission would fall inside some
vectors or not depending on the machine's load, and the verdicts would not repeat. (The gvisor
profile keeps netstack's own 200 ms, which a capture of an unconfigured netstack needs.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tcpmodel.base.errors import InputError
from tcpmodel.conformance.findings import Finding
from tcpmodel.conformance.outcomes import Recording, Settings
from tcpmodel.conformance.stacks import build, process

NAME = "gvisor"
PROFILE = "gvisor"  # the profile its report is judged by (tcpmodel.oracle.profiles): netstack's timers
SOURCES_PACKAGE = "golang-gvisor-gvisor-dev"
# The Go toolchain, the netstack sources, and what netstack's packages import (go list -deps).
DEBIAN_PACKAGES = ("golang-go", SOURCES_PACKAGE, "golang-golang-x-sys-dev", "golang-golang-x-time-dev",
                   "golang-github-google-btree-dev")
PYPI_PACKAGES = ()
GOPATH = "/usr/share/gocode"
NETSTACK = f"{GOPATH}/src/gvisor.dev/gvisor/pkg/tcpip/stack"
PROGRAM_SOURCES = ["gvisor/main.go"]
SETTINGS = {
    "SACK": "off (tcpip.TCPSACKEnabled false)",
    "out-of-window ACK rate limit": "0 (stack.TCPInvalidRateLimitOption; netstack's default is 500 ms)",
    "minimum RTO": "1 s (tcpip.TCPMinRTOOption, RFC 6298 §2.4; netstack's default is 200 ms, which would make whether "
                   "a retransmission falls inside a vector depend on the machine's load)",
    "Nagle": "off (the delay option: TCP_NODELAY)",
    "own SYN's options": "MSS, timestamps, window scale (always offered by netstack; the tester accepts neither)",
}


def debian_version(package: str) -> str | None:
    if shutil.which("dpkg-query") is None:
        return None
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status}\t${Version}", package], check=False, capture_output=True, text=True)
    status, _, version = done.stdout.partition("\t")
    return version if done.returncode == 0 and "install ok installed" in status else None


def unavailable_reason() -> str | None:
    if shutil.which("go") is None:
        return "the Go toolchain (golang-go) is not installed: run tcpmodel stacks --install gvisor"
    if not os.path.isdir(NETSTACK):
        return f"netstack's sources ({SOURCES_PACKAGE}) are not installed: run tcpmodel stacks --install gvisor"
    return None


def go_environment() -> dict:
    """Build offline against Debian's sources, with a build cache of tcpmodel's own."""
    return {"GOPATH": GOPATH, "GO111MODULE": "off", "GOFLAGS": "", "GOENV": "off", "CGO_ENABLED": "0",
            "GOCACHE": str(build.cache_root() / "go-build")}


def program() -> Path:
    """The harness program's path, built now if the cache does not hold it."""
    version = debian_version(SOURCES_PACKAGE) or "unknown"
    command = ["go", "build", "-trimpath", "-ldflags", f"-X main.version={version}", "-o", "{out}", "./gvisor"]
    return build.built_program("gvisor", PROGRAM_SOURCES, command, "gvisor-harness", go_environment())


def prepare() -> None:
    program()


def describe() -> dict:
    go = subprocess.run(["go", "env", "GOVERSION"], check=False, capture_output=True, text=True) if shutil.which("go") else None
    return {
        "version": f"gVisor netstack {debian_version(SOURCES_PACKAGE) or '(version unknown)'} "
                   f"(Debian {SOURCES_PACKAGE}, built with {go.stdout.strip() if go and go.returncode == 0 else 'go'})",
        "addresses": f"stack {process.DEFAULT_ADDRESSES.stack}/24 on a channel.Endpoint over a socketpair, "
                     f"tester {process.DEFAULT_ADDRESSES.tester}",
        "ports": "stack 40000 (active) or 5000 (passive); tester the other",
        "settings": "; ".join(f"{name}: {value}" for name, value in SETTINGS.items()),
    }


def run(vector: dict, settings: Settings, model_window: int) -> Recording:
    """Run one vector against a fresh netstack process; it is killed after ``settings.timeout``."""

    try:
        path = program()
    except build.BuildFailed as exc:
        raise InputError(str(exc)) from None
    return process.run_vector([str(path)], vector, settings, model_window)


SYNCHRONIZED = ("ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK")
IN_WINDOW_ACKS = ("in_window", "last_in_window", "unsent_ACK", "ACK_2^31_away")


def _each(states, kinds, positions, roles=("active", "passive")) -> tuple[str, ...]:
    return tuple(f"{r}.{s}.{k}.{p}" for r in roles for s in states for k in kinds for p in positions)


# What each kind of FAIL under the gvisor profile means, found by reading the failing traces and
# netstack's sources (Debian's, under /usr/share/gocode/src/gvisor.dev/gvisor/pkg/tcpip).
# Every active vector in FIN-WAIT-1 gets there by a simultaneous open and a CLOSE in SYN-RECEIVED
# (the vectors' shortest way), so the first finding covers all of them.
FINDINGS = (
    Finding(
        "close-in-syn-received-abandons", "procedure", "RFC 9293 §3.10.4 (CLOSE call, SYN-RECEIVED)",
        "a CLOSE in SYN-RECEIVED with nothing queued sends a FIN and enters FIN-WAIT-1",
        "abandons the handshake of a simultaneous open without sending anything: its Shutdown (and Close) "
        "of a connecting endpoint calls handshakeFailed (endpoint.go Shutdown, connect.go handshakeFailed), so "
        "no FIN ever comes and what arrives next is answered as for no connection (a reset)",
        ("active.rule.synrcvd_close", "active.rule.fin_retransmit", "active.rule.fin_retransmit_syn",
         "active.rule.fin_wait_1_*", "active.rule.fin_wait_2_out_of_order", "active.rule.closing_segment",
         "active.FIN-WAIT-1.*")),
    Finding(
        "abort-in-syn-received-silent", "procedure", "RFC 9293 §3.10.5 (ABORT call, SYN-RECEIVED)",
        "an ABORT in SYN-RECEIVED sends a reset <SEQ=SND.NXT><CTL=RST> and deletes the TCB",
        "has no reset for a connection still in its handshake: the socket layer's abort (SO_LINGER 0 and Close) "
        "dereferences the sender a handshake does not have yet and the process panics (connect.go "
        "resetConnectionLocked), and a plain Close, which the harness makes instead, abandons the handshake "
        "silently",
        ("active.rule.abort_reset",)),
    Finding(
        "syn-challenge-ack-without-rst-challenge", "MAY", "RFC 9293 §3.10.7.4 (fourth, SYN bit)",
        "a SYN in a synchronized state is answered with a reset (RFC 793's rule) or, by the RFC 5961 §4 "
        "mitigation it describes as an alternative, with a challenge ACK",
        "sends the challenge ACK (connect.go handleSegmentLocked) but resets on any RST in the window (RFC "
        "793's rule, not RFC 5961 §3's) and does not check ACKs against RFC 5961 §5's range; the spec's "
        "rfc5961 option takes all three mitigations together, so no profile can allow the one alone",
        _each(SYNCHRONIZED, ("SYN", "SYN-ACK"), IN_WINDOW_ACKS), seen=r"^<ACK "),
    Finding(
        "right-edge-accepted", "procedure", "RFC 9293 §3.10.7.4 (first, acceptability test; Appendix A.2)",
        "a segment at SEQ = RCV.NXT + RCV.WND is not acceptable, and an acknowledgment should be sent in reply",
        "takes a segment starting exactly at the right edge of its window as acceptable (header.Acceptable: "
        "'rcvWnd is incremented by 1 because that is Linux's behavior despite the RFC'), so it sends no "
        "acknowledgment (and, after the peer's FIN, drops it unanswered)",
        _each(SYNCHRONIZED, ("ACK", "data", "FIN"), ("out_of_window",))),
    Finding(
        "ack-of-unsent-data-not-answered", "procedure", "RFC 9293 §3.10.7.4 (fifth, ACK field)",
        "a segment whose ACK acknowledges something not yet sent (SEG.ACK > SND.NXT) is answered with an ACK "
        "and dropped, in ESTABLISHED and in TIME-WAIT alike",
        "sends no ACK for it in ESTABLISHED, as Linux does, and still takes the segment's text and FIN "
        "(rcv.go handleRcvdSegmentClosing applies the check only from FIN-WAIT-1 on); in TIME-WAIT it never "
        "looks at the ACK field (rcv.go handleTimeWaitSegment)",
        _each(("ESTABLISHED", "TIME-WAIT"), ("ACK", "data", "FIN"), ("unsent_ACK",))),
    Finding(
        "ack-2^31-away-taken-as-unsent", "MAY", "RFC 9293 §3.4 (sequence number comparisons; RFC 1982 §3.2)",
        "sequence numbers compare modulo 2^32, and RFC 1982 leaves two numbers exactly 2^31 apart "
        "incomparable (the spec takes SEG.ACK = SND.UNA + 2^31 as neither old nor unsent)",
        "compares by the sign of the 32-bit difference (seqnum.Value.LessThan), so such an ACK is 'not yet "
        "sent': from FIN-WAIT-1 on it answers with an ACK and drops the segment",
        _each(("FIN-WAIT-2", "CLOSE-WAIT"), ("ACK", "data", "FIN"), ("ACK_2^31_away",))),
    Finding(
        "second-fin-acknowledged", "MAY", "RFC 9293 §3.10.7.4 (seventh and eighth)",
        "text after the peer's FIN 'should not occur' and is ignored, but the eighth step, read literally, "
        "advances RCV.NXT over any FIN and acknowledges it in every synchronized state (CLOSE-WAIT, CLOSING, "
        "LAST-ACK: remain); the spec ignores a second FIN at RCV.NXT",
        "does what the eighth step says: it takes the second FIN and acknowledges it (ACK = RCV.NXT + 1)",
        _each(("CLOSE-WAIT", "CLOSING", "LAST-ACK"), ("FIN",), ("in_window",))),
    Finding(
        "text-after-fin-resets", "procedure", "RFC 9293 §3.10.7.4 (seventh, CLOSING and LAST-ACK)",
        "text that arrives after the peer's FIN is ignored and the connection goes on",
        "resets the connection (RST,ACK) when text arrives after the peer's FIN once it has sent its own "
        "(rcv.go handleRcvdSegmentClosing: 'any data past the RcvNxt should trigger a RST')",
        _each(("CLOSING", "LAST-ACK"), ("data",), ("in_window",))),
    Finding(
        "time-wait-syn-unanswered", "procedure", "RFC 9293 §3.10.7.4 (fourth, TIME-WAIT; §3.6.1 MAY-2)",
        "a SYN in the window in TIME-WAIT is answered with a reset (RFC 793's rule) or a challenge ACK (RFC "
        "5961), unless the TCP reopens the connection from TIME-WAIT (MAY-2)",
        "answers none: a SYN above RCV.NXT is taken as a reopening and handed to a listener, and with none "
        "dropped; any other is handled as a plain TIME-WAIT segment, dropped for want of an ACK bit or, "
        "at RCV.NXT with one, ignored (rcv.go handleTimeWaitSegment)",
        _each(("TIME-WAIT",), ("SYN", "SYN-ACK"), IN_WINDOW_ACKS)),
    Finding(
        "time-wait-unacceptable-syn-unanswered", "procedure", "RFC 9293 §3.10.7.4 (first, TIME-WAIT)",
        "a segment outside the window is not acceptable, and an acknowledgment should be sent in reply",
        "sends none for a SYN outside the window in TIME-WAIT: above it, the SYN is taken as a reopening "
        "and dropped with no listener to take it; below it, a SYN without an ACK bit is dropped",
        _each(("TIME-WAIT",), ("SYN", "SYN-ACK"), ("out_of_window", "before_window", "old_duplicate"))),
    Finding(
        "time-wait-acknowledges-segments", "procedure", "RFC 9293 §3.10.7.4 (seventh, TIME-WAIT; MAY-13)",
        "text in TIME-WAIT is ignored and only a retransmitted FIN is acknowledged; MAY-13 lets a TCP "
        "acknowledge RCV.NXT when a valid segment arrives in the window off its left edge",
        "acknowledges every TIME-WAIT segment but a bare ACK or the retransmitted FIN at RCV.NXT (rcv.go "
        "handleTimeWaitSegment: 'In TIME_WAIT the only acceptable sequence number is RcvNxt'), text at the "
        "left edge included",
        _each(("TIME-WAIT",), ("ACK", "data", "FIN"), ("in_window", "last_in_window", "ACK_2^31_away"))),
    Finding(
        "passive-syn-received-resets-on-syn", "procedure", "RFC 9293 §3.10.7.4 (fourth, SYN-RECEIVED)",
        "a SYN in SYN-RECEIVED of a passive OPEN returns the connection to LISTEN, sending nothing",
        "answers it with a reset: RST,ACK for a SYN with a new SEQ (connect.go synRcvdState), and "
        "<SEQ=SEG.ACK><CTL=RST> when its ACK is not acceptable, which it checks before the SYN bit",
        _each(("SYN-RECEIVED",), ("SYN", "SYN-ACK"), IN_WINDOW_ACKS, roles=("passive",))),
    Finding(
        "simultaneous-open-restarts-on-syn", "procedure", "RFC 9293 §3.10.7.4 (fourth, SYN-RECEIVED of an active OPEN)",
        "a SYN in the window in SYN-RECEIVED of an active OPEN is handled as in the synchronized states: a "
        "reset and CLOSED (or RFC 5961's challenge ACK)",
        "sends the reset and then starts the handshake again from SYN-SENT, sending a SYN with a new ISN "
        "(connect.go synRcvdState: h.resetState)",
        _each(("SYN-RECEIVED",), ("SYN", "SYN-ACK"), IN_WINDOW_ACKS, roles=("active",))),
)
