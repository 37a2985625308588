"""The conformance harness: run the vectors against a real stack and judge it with the oracle.

Stack-independent. A stack module (``tcpmodel.conformance.stacks.<name>``) runs one vector in whatever
isolation it needs and hands back a ``Recording``; inside that isolation it calls ``drive`` with
an adapter that makes the user calls on the stack and moves raw IPv4 packets to and from it
(``adapter.endpoint`` and ``adapter.peer`` are the stack's and the tester's "ip:port"):

- ``adapter.call(name, length)`` makes a user call (LISTEN, CONNECT, SEND, CLOSE, ABORT) and
  returns "ok" or "error: ..."; it raises ``Unsupported`` for a call the stack's interface cannot
  make in the state it is in (the vector is then SKIPPED with the reason);
- ``adapter.inject(packet)`` delivers a packet the tester built; ``adapter.receive(seconds)``
  returns the packets the stack sent within that time (as soon as there is one);
- ``adapter.timer_wait(timer)`` says how long to wait for a timer of the spec to fire on this
  stack (None: too long to wait for); ``adapter.poll()`` does the user's housekeeping between
  steps (accept a connection, read what arrived).

For each step ``drive`` performs the stimulus (a call; a timeout, i.e. waiting for that timer; a
segment, i.e. injecting it) and then collects what the stack sends: at least ``settle`` seconds,
and up to ``patience`` seconds while the stack has sent fewer segments than every response the
spec allows at that step has (a delayed ACK takes up to 200 ms on Linux). A timeout step waits up
to what ``timer_wait`` says. Everything is recorded as a trace (user calls, segments "in" and
"out", times in seconds from the start) and as the raw packets for a pcap.

Sequence numbers: the vector's numbers are for the model's ISNs. The tester's own numbers are
used as they are (its ISN is the vector's ``peer_isn``); numbers in the stack's space (the ACK
field of a crafted segment) are moved by the offset of the stack's real ISN, learned from its
first SYN or SYN-ACK: ``real_isn + (value - vector.isn) mod 2**32`` (before the stack has sent a
SYN it has no ISN, and the model's is used). The recorded trace holds the numbers that were on
the wire; the oracle binds the stack's ISN from its first SYN, so it needs no translation. A
crafted segment "out of window" is placed just beyond the window the stack advertised, not the
model's window of RCV.WND octets: its SEQ moves by (stack's window - RCV.WND).

``run_suite`` runs vectors one after another, judges each recorded trace with
``oracle.judge(spec, trace, profile, calls_observed=True, end_is_silence=True)``, and writes the
trace (.jsonl), the packets (.pcap) and, for a FAIL, the ladder diagram (.svg) (``evidence``).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import time
from pathlib import Path

from tcpmodel.base.errors import InputError
from tcpmodel.base.flags import ACK, SYN, parse_flags
from tcpmodel.base.interrupts import reason_of
from tcpmodel.base.seqnum import seq_add, seq_sub
from tcpmodel.conformance.evidence import write_files
from tcpmodel.conformance.findings import explain
from tcpmodel.conformance.outcomes import Outcome, Recording, Settings, StackHung, Unsupported
from tcpmodel.oracle.judge import judge
from tcpmodel.oracle.profiles import PROFILES
from tcpmodel.oracle.verdicts import ERROR, FAIL, PASS, SKIPPED, Verdict
from tcpmodel.traces.packets import TcpPacket, decode_frame, ip_packet
from tcpmodel.traces.trace import (
    CallEvent,
    Header,
    SegmentEvent,
    Trace,
)

RAW_IPV4 = 228  # the pcap link type of a bare IPv4 packet (what a TUN device carries)
TESTER_WINDOW = 65535
TESTER_MSS_OPTION = "020405b4"  # MSS 1460, on the tester's SYN and SYN-ACK, as any peer sends
VERDICTS = tuple(Verdict)
# Timers the harness does not wait for: minutes on a real stack.
SLOW_TIMERS = {
    "USER": "waits for the USER timeout (R2: at least 100 s under RFC 9293 §3.8.3)",
    "TIME-WAIT": "waits for TIME-WAIT to end (2 MSL = 240 s under RFC 9293; 60 s on Linux)",
}


def skip_reason(vector: dict) -> str | None:
    """Why ``vector`` is not run at all (it waits for a timer too slow to wait for), or None."""
    for step in vector["steps"]:
        timer = step["stimulus"].get("timeout")
        if timer in SLOW_TIMERS:
            return SLOW_TIMERS[timer]
    return None


# ---------------------------------------------------------------- one vector, next to the stack


class _Run:
    def __init__(self, vector: dict, adapter, settings: Settings, model_window: int):
        self.vector, self.adapter, self.settings, self.model_window = vector, adapter, settings, model_window
        self.recording = Recording(endpoint=adapter.endpoint, peer=adapter.peer)
        self.start = time.monotonic()
        self.wall = time.time()
        self.last_t = 0.0
        self.windows: list[int] = []  # the windows the stack advertised, in order

    def now(self) -> float:
        self.last_t = max(self.last_t, time.monotonic() - self.start)
        return self.last_t

    def stack_number(self, value: int) -> int:
        base = self.recording.isn if self.recording.isn is not None else self.vector["isn"]
        return seq_add(base, seq_sub(value, self.vector["isn"]))

    def record_packets(self, packets) -> int:
        """Record packets the stack sent; how many were TCP segments to the tester."""
        count = 0
        for raw in packets:
            t = self.now()
            self.recording.packets.append((self.wall + t, raw))
            seg = decode_frame(RAW_IPV4, raw)
            if seg is None or _address(seg.destination) != self.recording.peer.rsplit(":", 1)[0]:
                continue
            if seg.flags & SYN and self.recording.isn is None:
                self.recording.isn = seg.seq
            self.windows.append(seg.win)
            self.recording.events.append(SegmentEvent(t, "out", seg.flags, seg.seq, seg.ack, seg.win, seg.length, seg.options_hex))
            count += 1
        return count

    def collect(self, patience: float, want: int) -> None:
        """Read what the stack sends: ``settle`` seconds at least, and up to ``patience`` while
        fewer than ``want`` segments came."""
        t0, seen = time.monotonic(), 0
        settle = self.settings.settle
        while True:
            elapsed = time.monotonic() - t0
            if elapsed >= settle and (seen >= want or elapsed >= patience):
                return
            limit = settle - elapsed if seen >= want else max(settle, patience) - elapsed
            seen += self.record_packets(self.adapter.receive(max(limit, 0.0)))

    def inject(self, segment: dict, last: bool) -> None:
        flags = parse_flags(segment["flags"])
        seq = segment["seq"]
        if last and self.vector["target"].endswith("/ out of window") and self.windows:
            # just beyond the stack's window (the larger of the first and latest advertised: the
            # oracle binds the first), where the model puts it just beyond RCV.WND
            seq = seq_add(seq, max(self.windows[0], self.windows[-1]) - self.model_window)
        ack = self.stack_number(segment["ack"]) if flags & ACK else 0
        length = segment["len"]
        packet = TcpPacket(0.0, self.recording.peer, self.recording.endpoint, flags, seq, ack, TESTER_WINDOW,
                           b"x" * length, TESTER_MSS_OPTION if flags & SYN else "")
        raw = ip_packet(packet)
        t = self.now()
        self.adapter.inject(raw)
        self.recording.packets.append((self.wall + t, raw))
        self.recording.events.append(SegmentEvent(t, "in", flags, seq, ack, TESTER_WINDOW, length, packet.options))

    def run(self) -> Recording:
        steps = self.vector["steps"]
        for index, step in enumerate(steps):
            self.record_packets(self.adapter.receive(0.0))  # anything sent since the last step
            self.adapter.poll()
            stimulus = step["stimulus"]
            want = min((len(alternative) for alternative in step["allowed"]), default=0)
            patience = self.settings.patience
            if "call" in stimulus:
                name, length = stimulus["call"], stimulus.get("len")
                t = self.now()
                try:
                    result = self.adapter.call(name, length)
                except Unsupported as exc:
                    self.recording.skipped = f"step {index + 1} ({name}): {exc}"
                    break
                self.recording.events.append(CallEvent(t, name, result, length if name == "SEND" else None))
            elif "timeout" in stimulus:
                wait = self.adapter.timer_wait(stimulus["timeout"])
                if wait is None:
                    self.recording.skipped = f"step {index + 1}: {SLOW_TIMERS.get(stimulus['timeout'], 'a timer this stack cannot be waited for')}"
                    break
                patience = wait
            else:
                self.inject(stimulus["segment"], index == len(steps) - 1)
            self.collect(patience, want)
        return self.recording


def drive(vector: dict, adapter, settings: Settings, model_window: int) -> Recording:
    """Run one vector (``Vector.as_dict()``) against the stack behind ``adapter``; what it recorded.
    ``model_window`` is the spec's RCV.WND, where the vector's "out of window" segments sit."""
    return _Run(vector, adapter, settings, model_window).run()


def _address(endpoint: tuple) -> str:
    return str(ipaddress.ip_address(endpoint[0]))


# ---------------------------------------------------------------- the suite, in the caller


def selector_patterns(selector: str) -> list[str]:
    """The substrings and globs of a ``--vectors`` selector; one that names none is an InputError."""
    patterns = [p.strip() for p in selector.split(",") if p.strip()]
    if not patterns:
        raise InputError(f"--vectors {selector!r} names no vector: give names or globs, comma-separated")
    return patterns


def select(vectors: list, selector: str | None) -> list:
    """The vectors whose name matches ``selector``: comma-separated substrings or globs (None:
    every vector). A selector that names nothing (``""``, ``" , "``) is an InputError, not all."""
    if selector is None:
        return list(vectors)
    patterns = selector_patterns(selector)

    def matches(name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) if any(c in p for c in "*?[") else p in name for p in patterns)

    return [v for v in vectors if matches(v.name)]


def run_suite(spec, vectors: list, stack, profile, settings: Settings, out: Path, keep_all: bool = False,
              progress=None, interrupted: list | None = None) -> list[Outcome]:
    """Run every vector on ``stack`` (a module of ``tcpmodel.conformance.stacks``), judge it under ``profile``
    (and, for the record, under every other profile), and write its files into ``out``: the trace
    and pcap of every vector that did not PASS (of all with ``keep_all``), and a FAIL's ladder.

    A vector whose run fails in the harness or the stack's process (not bad input) is an ERROR and
    the run goes on. On Ctrl-C or SIGTERM the outcomes of the vectors finished so far are returned,
    and ``interrupted`` (a list) gets why and the vector that was cut short ("interrupted at NAME")."""

    outcomes: list[Outcome] = []
    window = spec.constants.get("RCV.WND", 0)
    for number, vector in enumerate(vectors, 1):
        try:
            if progress:
                progress(number, len(vectors), vector.name, outcomes)
            outcome = run_vector(spec, vector, stack, profile, settings, window, out, keep_all)
        except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM (base.interrupts): the vectors finished so far
            if interrupted is None:
                raise
            interrupted.append(f"{reason_of(exc)} at {vector.name}")
            return outcomes
        outcomes.append(outcome)
    return outcomes


def run_vector(spec, vector, stack, profile, settings: Settings, window: int, out: Path, keep_all: bool) -> Outcome:
    """One vector on ``stack``, judged, its files written (see ``run_suite``)."""
    data = vector.as_dict()
    started = time.monotonic()
    outcome = Outcome(vector.name, vector.role, vector.target, SKIPPED, 0.0)
    reason = skip_reason(data)
    if reason:
        outcome.reason = reason
        return outcome
    try:
        recording = stack.run(data, settings, window)
    except (InputError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - one vector's failure is its verdict, the run goes on
        first = str(exc).splitlines()[0] if str(exc) else ""
        outcome.verdict, outcome.reason = ERROR, (first if isinstance(exc, StackHung) else f"{type(exc).__name__}: {first}")
    else:
        outcome.isn = recording.isn
        stimuli = sum(1 for step in data["steps"] if "timeout" not in step["stimulus"])
        recorded = sum(1 for e in recording.events if isinstance(e, CallEvent) or e.direction == "in")
        if recording.skipped:
            outcome.reason = recording.skipped
        elif recorded != stimuli:  # a stack module that lost steps: its trace would prove nothing
            outcome.verdict, outcome.reason = ERROR, f"the recording holds {recorded} of the vector's {stimuli} stimuli"
        else:
            trace = to_trace(spec, profile, vector, recording)
            outcome.judged = judge_trace(spec, trace, profile)
            outcome.verdict, outcome.reason = outcome.judged.verdict, outcome.judged.reason
            outcome.others = {name: judge_trace(spec, trace, other).verdict for name, other in PROFILES.items() if name != profile.name}
            if outcome.verdict == FAIL:
                outcome.finding = explain(getattr(stack, "FINDINGS", ()), vector.name, outcome.judged.seen)
                outcome.recorded = (trace, recording)
            if keep_all or outcome.verdict != PASS:
                outcome.files = write_files(out, vector.name, trace, recording, outcome.judged, spec.name)
    outcome.seconds = time.monotonic() - started
    return outcome


def to_trace(spec, profile, vector, recording: Recording):
    header = Header(spec.name, profile.name, endpoint=recording.endpoint, peer=recording.peer, source=f"vector {vector.name}")
    return Trace(header, tuple(recording.events))


def judge_trace(spec, trace, profile):
    return judge(spec, trace, profile, calls_observed=True, end_is_silence=True)
