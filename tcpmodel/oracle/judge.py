"""The oracle: judge what one endpoint under test did against the compiled spec.

The oracle runs the model checker's compiled rules (``codegen``); there is no second TCP model.
It keeps the set of configurations the endpoint may be in: its TCB, and the segments the spec
says it still owes (sent by a rule, not yet seen on the wire). Each observed event advances the
set:

- a user call that succeeded applies the rule for that call; one that failed changes nothing;
- an arriving segment ("in") applies the segment rules; seen by a capture in the middle of the
  path it may also have been lost before it reached the endpoint (``may_lose_in``);
- a sent segment ("out") must be the next segment owed; with the profile's ``delayed_ack`` (RFC
  9293 §3.8.6.3 recommends delaying ACKs) a pure ACK owed before it may be left out when this
  segment acknowledges as much. The 0.5 s bound on the delay (MUST-40) is not checked.

Between events the endpoint may take steps nobody observes: a timer fires (a running timer, once
it has run at least the profile's shortest duration for it: timers are intervals with only a
lower bound, counted from when the timer started running or a rule restarted it), and, when the trace has
no user calls (a capture), the user may LISTEN, CONNECT, CLOSE, ABORT or SEND (with as many octets
as the segment that shows it). Free values are bound on first sight: the endpoint's ISN is the SEQ
of its first SYN, its receive window the window of its first segment.

The verdict is PASS, FAIL with the first deviation (the event, what was seen, what the spec
allowed there and the RFC sections of the rules that allowed it), or INCONCLUSIVE with the reason
(the trace does not show the endpoint's SYN, a segment the spec has no rule for, an option the
spec does not model, or too many possibilities to follow).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, NamedTuple

from tcpmodel.base.flags import ACK, RST, SPEC_FLAGS, SYN, flag_names
from tcpmodel.base.seqnum import seq_ge
from tcpmodel.language.codegen import CompiledSpec, Fired
from tcpmodel.language.spec import SEGMENT, Spec
from tcpmodel.oracle.profiles import Profile
from tcpmodel.oracle.verdicts import FAIL, INCONCLUSIVE, PASS, Verdict
from tcpmodel.traces.trace import CallEvent, SegmentEvent, Trace

MAX_OWED = 4  # segments owed at once: bounds the retransmissions an unobserved timer can add
MAX_CONFIGS = 20_000
# Option kinds that do not touch connection management: EOL, NOP, MSS, window scale,
# SACK-permitted, SACK, timestamps (RFC 9293 §3.2, RFC 7323, RFC 2018).
KNOWN_OPTIONS = frozenset({0, 1, 2, 3, 4, 5, 8})
NO_SEGMENT = "no segment"
OPEN_CALLS = ("LISTEN", "CONNECT")

# A segment as the rules read it: (flags, SEQ, ACK, data octets, window); one the spec's rules
# send, and the endpoint owes, is a segment of this shape too (``codegen``).
Segment = tuple[int, ...]
Owed = tuple[tuple[Segment, int], ...]  # the segments owed, each with the rule that sent it


class Config(NamedTuple):
    """One possibility: the endpoint's TCB, the segments it owes (``(segment, rule)`` pairs), the
    rule that fired last (-1 for none), and whether the user has opened (a trace is one
    incarnation: the endpoint opens once)."""

    tcb: tuple[int, ...]
    owed: Owed = ()
    last: int = -1
    opened: bool = False
    started: tuple[float, ...] = ()  # per timer: when it last started running or was restarted


@dataclass
class Judgement:
    """The oracle's verdict on one trace: where it deviated, what was seen there and what the
    spec allowed, with the RFC sections; or why it could not be judged."""

    verdict: Verdict
    profile: str
    event: int | None = None  # index into the trace's events (len(events) for "at the end")
    seen: str = ""
    allowed: list[str] = field(default_factory=list)
    rfc: list[str] = field(default_factory=list)
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"verdict": str(self.verdict), "profile": self.profile, "event": self.event, "seen": self.seen,
                "allowed": self.allowed, "rfc": self.rfc, "reason": self.reason}


def format_segment(flags: int, seq: int, ack: int, length: int) -> str:
    parts = [flag_names(flags) or "no flags", f"SEQ={seq}"]
    if flags & ACK:
        parts.append(f"ACK={ack}")
    if length:
        parts.append(f"LEN={length}")
    return f"<{' '.join(parts)}>"


def judge(spec: Spec, trace: Trace, profile: Profile, *, may_lose_in: bool = False, end_is_silence: bool = False,
          calls_observed: bool | None = None) -> Judgement:
    """Judge ``trace`` (one connection, from its endpoint under test) against ``spec``.
    ``calls_observed``: whether the trace records every user call (default: when it records any)."""
    events = trace.events
    syn = next((e for e in events if isinstance(e, SegmentEvent) and e.direction == "out" and e.flags & SYN), None)
    if calls_observed is None:
        calls_observed = any(isinstance(e, CallEvent) for e in events)
    unknown = sorted({kind for e in events if isinstance(e, SegmentEvent) for kind in option_kinds(e.options)} - KNOWN_OPTIONS)
    if unknown:
        return Judgement(INCONCLUSIVE, profile.name, reason=f"TCP option kind {', '.join(map(str, unknown))} is not modelled")
    window = next((e.win for e in events if isinstance(e, SegmentEvent) and e.direction == "out"), 0)
    isn = syn.seq if syn else 0
    verdict = Oracle(spec, profile, isn, window, calls_observed, may_lose_in).judge(events, end_is_silence)
    # A PASS never used the ISN: any open would have sent a SYN. With every user call observed (a
    # conformance run) a FAIL does not hang on it either: the ISN enters only through the
    # endpoint's own SYN, and the trace shows it sent none (a RST answered in CLOSED, say). In a
    # capture the open and its SYN may simply lie before the first packet.
    if syn is None and verdict.verdict == FAIL and not calls_observed:
        return Judgement(INCONCLUSIVE, profile.name, reason="the trace does not show the endpoint's SYN: its ISN and the start of the connection are unknown")
    return verdict


def option_kinds(options_hex: str) -> list[int]:
    """The kinds of the TCP options in ``options_hex`` (the trace's verbatim octets)."""
    data, i = bytes.fromhex(options_hex), 0
    kinds: list[int] = []
    while i < len(data):
        kind = data[i]
        kinds.append(kind)
        if kind == 0:
            break
        i += 1 if kind == 1 else max(2, data[i + 1] if i + 1 < len(data) else 2)
    return kinds


class Oracle:
    """The configurations of one endpoint, advanced one observed event at a time (see ``judge``)."""

    def __init__(self, spec: Spec, profile: Profile, isn: int, window: int, calls_observed: bool, may_lose_in: bool):
        self.spec, self.compiled = _compiled(spec, profile.options, window)
        self.profile = profile
        self.isn = isn
        self.calls_observed = calls_observed
        self.may_lose_in = may_lose_in
        self.timer_names = tuple(t.name for t in spec.timers)
        self.timer_events = tuple(f"{t.name} TIMEOUT" for t in spec.timers)
        self.timer_fired = dict(zip(self.timer_events, self.timer_names, strict=True))
        self._memo: dict[tuple[tuple[int, ...], str, Segment | None, int], Fired | Literal[False]] = {}  # False: no rule fires
        shortest = dict(profile.min_seconds)
        self.min_seconds = tuple(shortest.get(name, 0.0) for name in self.timer_names)
        self.hidden_calls = () if calls_observed else ("LISTEN", "CONNECT", "CLOSE", "ABORT")

    # ------------------------------------------------------------ one rule

    def step(self, config: Config, event: str, segment: Segment | None = None, data: int = 0, now: float = 0.0) -> Config | None:
        key = (config.tcb, event, segment, data)
        hit = self._memo.get(key)
        if hit is None:
            fn = self.compiled.dispatch.get((config.tcb[0], event))
            hit = self._memo[key] = (fn(config.tcb, segment, (self.isn, data)) if fn else None) or False
        if not hit:
            return None
        rule, tcb, sends, restarts = hit
        owed = config.owed + tuple((s, rule) for s in sends)
        if len(owed) > MAX_OWED:
            return None
        fired = self.timer_fired.get(event)
        started = tuple(
            now if name in restarts or name == fired or (run(tcb) and not run(config.tcb)) else at
            for name, run, at in zip(self.timer_names, self.compiled.timer_running, config.started, strict=True)
        )
        return Config(tcb, owed, rule, config.opened or event in OPEN_CALLS, started)

    def hidden(self, config: Config, now: float) -> Iterator[Config | None]:
        """The steps nobody observes: timers, and user calls when the trace has none."""
        for k, event in enumerate(self.timer_events):
            if self.compiled.timer_running[k](config.tcb) and now - config.started[k] >= self.min_seconds[k]:
                yield self.step(config, event, now=now)
        for call in self.hidden_calls:
            if not (config.opened and call in OPEN_CALLS):
                yield self.step(config, call, now=now)

    def closure(self, configs: set[Config], now: float) -> set[Config] | None:
        seen, frontier = set(configs), list(configs)
        while frontier:
            config = frontier.pop()
            for nxt in self.hidden(config, now):
                if nxt is not None and nxt not in seen:
                    if len(seen) >= MAX_CONFIGS:
                        return None
                    seen.add(nxt)
                    frontier.append(nxt)
        return seen

    # ------------------------------------------------------------ the trace

    def initial(self) -> set[Config]:
        return {Config(self.compiled.initial_tcb(), started=tuple(0.0 for _ in self.timer_names))}

    def judge(self, events: Sequence[SegmentEvent | CallEvent], end_is_silence: bool) -> Judgement:
        configs = self.initial()
        for index, event in enumerate(events):
            reachable = self.closure(configs, event.t)
            if reachable is None:
                return self.verdict(INCONCLUSIVE, index, reason=f"more than {MAX_CONFIGS:,} possibilities to follow")
            if isinstance(event, CallEvent):
                configs = self.call(reachable, event)
                if not configs:
                    return self.verdict(INCONCLUSIVE, index, event.call, reason=f"the user's {event.call} succeeded where the spec has no rule for it")
                continue
            segment = (event.flags & SPEC_FLAGS, event.seq, event.ack, event.length, event.win)
            seen = format_segment(segment[0], event.seq, event.ack, event.length)
            if event.direction == "in":
                configs = self.arrive(reachable, segment, event.t)
                if not configs:
                    return self.verdict(INCONCLUSIVE, index, seen, reason=f"the spec has no rule for the segment {seen} here")
                continue
            configs = self.send(reachable, segment, event.t)
            if not configs:
                allowed, rfc = self.allowed(reachable)
                return self.verdict(FAIL, index, seen, allowed, rfc, f"the endpoint sent {seen}; the spec allowed {' or '.join(allowed)}")
        if end_is_silence:
            quiet = {c for c in configs if not c.owed}
            if not quiet:
                allowed, rfc = self.allowed(configs)
                return self.verdict(FAIL, len(events), NO_SEGMENT, allowed, rfc, f"the endpoint sent nothing more; the spec required {' or '.join(allowed)}")
        return self.verdict(PASS)

    def verdict(self, verdict: Verdict, event: int | None = None, seen: str = "", allowed: Iterable[str] = (), rfc: Iterable[str] = (),
                reason: str = "") -> Judgement:
        return Judgement(verdict, self.profile.name, event, seen, list(allowed), list(rfc), reason)

    def call(self, configs: set[Config], event: CallEvent) -> set[Config]:
        """A call that succeeded applies its rule (configurations without one drop out); a call
        that failed changed nothing."""
        out: set[Config] = set()
        for config in configs:
            if not event.result.startswith("ok"):
                out.add(config)
            elif not (config.opened and event.call in OPEN_CALLS):  # a trace is one incarnation
                nxt = self.step(config, event.call, data=event.length or 0, now=event.t)
                if nxt is not None:
                    out.add(nxt)
        return out

    def arrive(self, configs: set[Config], segment: Segment, now: float) -> set[Config]:
        out: set[Config] = set()
        for config in configs:
            nxt = self.step(config, SEGMENT, segment, now=now)
            if nxt is not None:
                out.add(nxt)
            if self.may_lose_in:
                out.add(config)
        return out

    def send(self, configs: set[Config], segment: Segment, now: float) -> set[Config]:
        candidates = set(configs)
        if not self.calls_observed and segment[3]:
            candidates |= {c for c in (self.step(c, "SEND", data=segment[3], now=now) for c in configs) if c is not None}
        out: set[Config] = set()
        for config in candidates:
            owed = self.match(config.owed, segment)
            if owed is not None:
                out.add(config._replace(owed=owed))
        return out

    def match(self, owed: Owed, segment: Segment) -> Owed | None:
        """``owed`` after ``segment`` was sent, or None if the spec does not allow it next."""
        for i, (expected, _) in enumerate(owed):
            if _same(expected, segment):
                return owed[i + 1:]
            if not (self.profile.delayed_ack and expected[0] == ACK and not expected[3]
                    and segment[0] & ACK and seq_ge(segment[2], expected[2])):
                return None
        return None

    def allowed(self, configs: set[Config]) -> tuple[list[str], list[str]]:
        """What the endpoint could have sent next, and the RFC sections of the rules behind it."""
        allowed: set[str] = set()
        rfc: set[str] = set()
        for config in configs:
            if config.owed:
                (flags, seq, ack, data, _), rule = config.owed[0]
                allowed.add(format_segment(flags, seq, ack, data))
                rfc.add(self.spec.rules[rule].rfc)
            else:
                allowed.add(NO_SEGMENT)
                if config.last >= 0:
                    rfc.add(self.spec.rules[config.last].rfc)
        return sorted(allowed), sorted(rfc)


# (id of the spec, options, window) -> (the spec, windowed, compiled)
_COMPILED: dict[tuple[int, frozenset[str], int], tuple[Spec, Spec, CompiledSpec]] = {}


def _compiled(spec: Spec, options: frozenset[str], window: int) -> tuple[Spec, CompiledSpec]:
    """The spec with RCV.WND = ``window``, compiled once per (spec, options, window): a capture
    holds many connections, mostly with the same window."""
    key = (id(spec), options, window)
    hit = _COMPILED.get(key)
    if hit is None or hit[0] is not spec:
        if len(_COMPILED) >= 64:
            _COMPILED.clear()
        windowed = replace(spec, constants={**spec.constants, "RCV.WND": window})
        hit = _COMPILED[key] = (spec, windowed, CompiledSpec(windowed, options, window))
    return hit[1], hit[2]


def _same(expected: Segment, seen: Segment) -> bool:
    """``seen`` is the owed segment ``expected``. A reset may carry an ACK the spec's <CTL=RST>
    does not: RFC 9293 §3.1 sends the acknowledgment field on every segment once a connection is
    established (Linux's ABORT sends <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>)."""
    flags = expected[0]
    if flags == RST and seen[0] == RST | ACK:
        return expected[1] == seen[1] and expected[3] == seen[3]
    return flags == seen[0] and expected[1] == seen[1] and expected[3] == seen[3] and (not flags & ACK or expected[2] == seen[2])
