"""Conformance vectors for one endpoint under test, generated from the compiled spec.

Endpoint A of the composed system is the endpoint under test; B is the tester. For each role
(A opens actively, or passively) a small scenario is explored, and then:

- for every rule A fires in the exploration, the shortest run to that step is a vector;
- for every state A reaches, the shortest run to it is followed by one crafted segment from the
  tester (the tester may send anything) for each segment kind (SYN, SYN-ACK, ACK, data, FIN,
  RST, RST-ACK) and each position relative to A's numbers: at RCV.NXT, at the window's last
  number, just beyond the window, just before it, as an old duplicate (a copy of the tester's
  first segments), and for segments with ACK an ACK of data A never sent and an ACK 2**31 away.
  The boundary positions are the offsets of Z3's boundary witnesses (``prove --witnesses``).
  CLOSED and LISTEN have no numbers of their own: there each kind comes once, in position "any".

A vector is A's view of the run: stimuli (user calls on A, timeouts of A's timers, segments
delivered to A) and, after each, the responses the spec allows: every alternative the oracle
finds on the same compiled spec, "no segment" included.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TypedDict

from tcpmodel.base.errors import SpecError
from tcpmodel.base.flags import ACK, FIN, RST, SPEC_FLAG_BITS, SYN, flag_names
from tcpmodel.base.seqnum import seq_sub, wrap
from tcpmodel.base.version import __version__
from tcpmodel.engine.exploration import Progress
from tcpmodel.engine.explore import Exploration, Model, explore
from tcpmodel.language.roles import PROPERTY_ROLES
from tcpmodel.language.roles import ROLES as SPEC_ROLES
from tcpmodel.language.spec import Spec
from tcpmodel.oracle.judge import Config, Oracle
from tcpmodel.oracle.profiles import PROFILES
from tcpmodel.proofs.symbolic import boundary_witnesses
from tcpmodel.system.composed import System
from tcpmodel.system.scenario import make_scenario
from tcpmodel.system.steps import Label, SystemState
from tcpmodel.traces.trace import CallEvent, Header, SegmentEvent, Trace

KINDS = {"SYN": SYN, "SYN-ACK": SYN | ACK, "ACK": ACK, "data": ACK, "FIN": FIN | ACK, "RST": RST, "RST-ACK": RST | ACK}
POSITIONS = ("in window", "last in window", "out of window", "before window", "old duplicate", "unsent ACK", "ACK 2^31 away", "any")
ACK_POSITIONS = ("unsent ACK", "ACK 2^31 away")
# Where Z3's boundary witnesses (``symbolic.boundary_witnesses``) put the crafted segment:
# position -> (witness name, the field it moves, the field it is measured from).
WITNESSED = {
    "last in window": ("acceptable.last_in_window", "SEG.SEQ", "RCV.NXT"),
    "out of window": ("acceptable.first_beyond_window", "SEG.SEQ", "RCV.NXT"),
    "before window": ("acceptable.empty_before_window", "SEG.SEQ", "RCV.NXT"),
    "unsent ACK": ("ack.first_too_new", "SEG.ACK", "SND.NXT"),
    "ACK 2^31 away": ("ack.half_distance", "SEG.ACK", "SND.UNA"),
}
# A state without numbers of its own (CLOSED, LISTEN) meets each kind in one position: "any".
NUMBERED_POSITIONS = POSITIONS[:-1]
ROLES = {"active": ("active", "either"), "passive": ("passive", "active")}
# The TCB variables a crafted segment is placed by: role (language.roles) and RFC spelling.
NUMBERS = (("iss", "ISS"), ("irs", "IRS"), ("snd_una", "SND.UNA"), ("snd_nxt", "SND.NXT"), ("rcv_nxt", "RCV.NXT"))
VECTOR_ROLES = PROPERTY_ROLES + ("snd_una",)
# The explored scenario: one incarnation, a lossy FIFO network, users that may abort. Crafted
# segments stand in for what duplication and reordering would bring.
SCENARIO = {"incarnations": 1, "duplication": False, "reordering": False}
# Vectors are judged step by step, so timers fire only where a vector says so.
PROFILE = dataclasses.replace(PROFILES["rfc9293"], delayed_ack=False, min_seconds=())


class SegmentDict(TypedDict):
    """A segment of a vector, as its JSON holds it."""

    flags: str  # e.g. "SYN,ACK"
    seq: int
    ack: int
    len: int


class Stimulus(TypedDict, total=False):
    """{"call": NAME[, "len": N]} | {"timeout": TIMER} | {"segment": {...}}"""

    call: str
    len: int
    timeout: str
    segment: SegmentDict


@dataclass
class Step:
    stimulus: Stimulus
    allowed: list[list[SegmentDict]]  # each alternative: the segments A sends, in order ([] = no segment)
    rules: list[str]  # the rules of A that may fire on the stimulus
    states: list[str]  # A's state after it, in each possibility

    def as_dict(self) -> dict[str, object]:
        return {"stimulus": self.stimulus, "allowed": self.allowed, "rules": self.rules, "states": self.states}


@dataclass
class Vector:
    name: str
    role: str
    target: str  # "rule NAME" or "STATE / KIND / POSITION"
    isn: int  # A's ISN, and the tester's
    peer_isn: int
    steps: list[Step] = field(default_factory=list)
    # the RFC 9293 spelling of each of the spec's states and timers that has a role (language.roles),
    # for writers that speak the RFC's terms (packetdrill); not part of the vector's JSON
    rfc: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def rfc_name(self, name: str) -> str:
        return self.rfc.get(name, name)

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "role": self.role, "target": self.target, "isn": self.isn,
                "peer_isn": self.peer_isn, "steps": [s.as_dict() for s in self.steps]}


@dataclass
class Suite:
    spec: Spec
    vectors: list[Vector]
    rules: dict[str, int]  # active rule -> number of vectors firing it
    cells: dict[tuple[str, str, str], str]  # (state, kind, position) -> vector name, or "" (impossible)
    impossible: dict[tuple[str, str, str], str]  # why a cell has no vector


def segment_dict(seg: tuple[int, ...]) -> SegmentDict:
    flags, seq, ack, data = seg[:4]
    return {"flags": flag_names(flags), "seq": seq, "ack": ack if flags & ACK else 0, "len": data}


def generate(spec: Spec, progress: Progress | None = None) -> Suite:
    spec.roles.require(VECTOR_ROLES, "conformance vectors")  # a SpecError, before anything is explored
    vectors: list[Vector] = []
    reached: set[str] = set()
    for role in ROLES:
        vectors += _role_vectors(spec, role, reached, progress)
    active = [r.name for r in spec.rules if r.active(frozenset())]
    rules = dict.fromkeys(active, 0)
    for v in vectors:
        for name in {r for step in v.steps for r in step.rules}:
            rules[name] = rules.get(name, 0) + 1
    cells: dict[tuple[str, str, str], str] = {}
    impossible: dict[tuple[str, str, str], str] = {}
    for state in spec.states:
        for kind in KINDS:
            for position in positions_for(spec, state):
                key = (state, kind, position)
                found = next((v.name for v in vectors if v.target == " / ".join(key)), "")
                cells[key] = found
                if not found:
                    impossible[key] = _why_impossible(spec, state, kind, position, reached)
    return Suite(spec, vectors, rules, cells, impossible)


def positions_for(spec: Spec, state: str) -> tuple[str, ...]:
    return ("any",) if _unnumbered(spec, state) else NUMBERED_POSITIONS


def _unnumbered(spec: Spec, state: str) -> bool:
    """CLOSED and LISTEN: no window, nothing sent to acknowledge, no earlier segment."""
    return state in spec.no_tcb or state == spec.roles.get("listen")


def _why_impossible(spec: Spec, state: str, kind: str, position: str, reached: set[str]) -> str:
    if state not in reached:
        return f"the endpoint never reaches {state} in either role"
    if position in ACK_POSITIONS and not KINDS[kind] & ACK:
        return f"a {kind} segment carries no ACK"
    return "no vector"


# ---------------------------------------------------------------- one role


def _role_vectors(spec: Spec, role: str, reached: set[str], progress: Progress | None) -> list[Vector]:
    system = System(spec, make_scenario(spec, {**SCENARIO, "roles": list(ROLES[role])}))
    # Prefixes a socket API can drive first; the RFC's other prefixes only where none exists.
    first_rule: dict[int, tuple[Exploration[SystemState], int, Label]] = {}  # rule -> (exploration, k, label)
    first_state: dict[str, tuple[Exploration[SystemState], int]] = {}  # state name -> (exploration, k)
    models: list[Model[SystemState, Label]] = [_SocketDrivable(system)] if role == "passive" else []
    for model in [*models, system]:
        found_rule: dict[int, tuple[int, Label]] = {}
        found_state: dict[str, int] = {}

        def on_state(k: int, state: SystemState, found_state: dict[str, int] = found_state) -> None:
            found_state.setdefault(spec.states[state[0][0][0][0]], k)

        def on_transition(k: int, label: Label, j: int, state: SystemState, nxt: SystemState,
                          found_rule: dict[int, tuple[int, Label]] = found_rule) -> None:
            if label.actor == 0 and label.kind in ("call", "segment", "timer") and label.rule not in found_rule:
                found_rule[label.rule] = (k, label)

        ex = explore(model, on_state=on_state, on_transition=on_transition, progress=progress).whole()  # no vectors from part of it
        for rule, (k, label) in found_rule.items():
            first_rule.setdefault(rule, (ex, k, label))
        for state, k in found_state.items():
            first_state.setdefault(state, (ex, k))
    reached |= set(first_state)
    builder = _Builder(spec, system, role)
    vectors = []
    for rule, (ex, k, label) in sorted(first_rule.items(), key=lambda item: item[0]):
        vectors.append(builder.vector(f"{role}.rule.{spec.rules[rule].name}", f"rule {spec.rules[rule].name}", _labels(system, ex, k) + [label]))
    for state, (ex, k) in sorted(first_state.items(), key=lambda item: spec.states.index(item[0])):
        labels = _labels(system, ex, k)
        for kind in KINDS:
            for position in positions_for(spec, state):
                if position in ACK_POSITIONS and not KINDS[kind] & ACK:
                    continue
                name = f"{role}.{state}.{kind}.{position.replace(' ', '_')}"
                vectors.append(builder.vector(name, f"{state} / {kind} / {position}", labels, (kind, position)))
    return vectors


class _SocketDrivable:
    """The system without the user calls of a passive endpoint A in SYN-RECEIVED.

    RFC 9293's user may CLOSE, ABORT or SEND on a passive open before the handshake completes,
    but a socket API has no handle on that connection until accept() returns it (Linux, lwIP's
    raw API, gVisor's and PyTCP's sockets alike), so a vector whose prefix makes such a call can
    only be SKIPPED on a real stack. The passive role's vectors reach each state and rule by the
    shortest run without such calls where one exists."""

    def __init__(self, system: System):
        self.system = system
        self.syn_received = system.spec.states.index(system.spec.roles["syn_received"])

    def initial_states(self) -> list[SystemState]:
        return self.system.initial_states()

    def successors(self, state: SystemState) -> Iterator[tuple[Label, SystemState]]:
        blocked = state[0][0][0][0] == self.syn_received
        for label, nxt in self.system.successors(state):
            if not (blocked and label.actor == 0 and label.kind == "call"):
                yield label, nxt


def witnessed_offsets(spec: Spec) -> dict[str, int]:
    """Each boundary position as an offset from the number it is measured from, read off the
    witness Z3 finds for it."""
    witnesses = {w["name"]: w for w in boundary_witnesses(spec, 10.0)}
    offsets: dict[str, int] = {}
    for position, (name, moved, base) in WITNESSED.items():
        if name not in witnesses:
            raise SpecError(f"Z3 found no witness {name} for the vector position {position!r}", where=spec.where or str(spec.path))
        offsets[position] = seq_sub(witnesses[name][moved], witnesses[name][base])
    return offsets


def _labels(system: System, ex: Exploration[SystemState], k: int) -> list[Label]:
    path = ex.path_to(k)
    labels = []
    for a, b in pairwise(path):
        pre, post = ex.states[a], ex.states[b]
        labels.append(next(lab for lab, nxt in system.successors(pre) if nxt == post))
    return labels


class _Builder:
    def __init__(self, spec: Spec, system: System, role: str):
        self.spec, self.system, self.role = spec, system, role
        window = system.compiled.window
        self.oracle = Oracle(spec, PROFILE, system.isn(0, 1), window, calls_observed=True, may_lose_in=False)
        names = [v.name for v in spec.variables]
        self.slots = {rfc: 1 + names.index(spec.roles[role]) for role, rfc in NUMBERS}  # RFC spelling -> TCB slot
        self.offsets = witnessed_offsets(spec)
        self.rfc = {name: r.default for r in SPEC_ROLES if (name := spec.roles.get(r.key)) is not None and r.kind != "variable"}

    def vector(self, name: str, target: str, labels: list[Label], crafted: tuple[str, str] | None = None) -> Vector:
        vector = Vector(name, self.role, target, self.system.isn(0, 1), self.system.isn(1, 1), rfc=self.rfc)
        configs = self.oracle.initial()
        for t, label in enumerate(labels):
            if label.actor != 0 or label.kind not in ("call", "segment", "timer"):
                continue
            configs = self._apply(vector, configs, label, float(t))
            for seg in label.sent:
                configs = self.oracle.send(configs, seg[:5], float(t))
        if crafted is not None:
            tcb = next(iter(sorted(configs))).tcb
            seg = self.crafted(tcb, *crafted)
            after = self.oracle.arrive(configs, seg, float(len(labels)))
            vector.steps.append(self._step({"segment": segment_dict(seg)}, after))
        return vector

    def _apply(self, vector: Vector, configs: set[Config], label: Label, now: float) -> set[Config]:
        stimulus: Stimulus
        if label.kind == "call":
            stimulus = {"call": label.event}
            if label.event == "SEND":
                stimulus["len"] = self.system.scenario.data
            after = {c for c in (self.oracle.step(c, label.event, data=self.system.scenario.data, now=now) for c in configs) if c}
        elif label.kind == "timer":
            stimulus = {"timeout": label.event.removesuffix(" TIMEOUT")}
            after = {c for c in (self.oracle.step(c, label.event, now=now) for c in configs) if c}
        else:
            assert label.segment is not None  # a delivery, with the segment delivered
            stimulus = {"segment": segment_dict(label.segment)}
            after = self.oracle.arrive(configs, label.segment[:5], now)
        vector.steps.append(self._step(stimulus, after))
        return after

    def _step(self, stimulus: Stimulus, configs: set[Config]) -> Step:
        allowed = sorted({tuple((s[0], s[1], s[2], s[3]) for s, _ in c.owed) for c in configs})
        rules = sorted({self.spec.rules[c.last].name for c in configs if c.last >= 0})
        states = sorted({self.spec.states[c.tcb[0]] for c in configs})
        return Step(stimulus, [[segment_dict(s) for s in alt] for alt in allowed], rules, states)

    def crafted(self, tcb: tuple[int, ...], kind: str, position: str) -> tuple[int, int, int, int, int]:
        """The tester's segment of ``kind`` at ``position`` relative to A's TCB."""
        var = {n: tcb[slot] for n, slot in self.slots.items()}
        window = self.system.compiled.window
        flags = KINDS[kind]
        data = 1 if kind == "data" else 0
        if position == "any":  # CLOSED or LISTEN: the tester's own numbers, and an ACK of A's ISN
            seq, ack = self.system.isn(1, 1), self.system.isn(0, 1) + 1
        else:
            seq, ack = var["RCV.NXT"], var["SND.NXT"]
            if position == "old duplicate":
                seq, ack = var["IRS"] + (0 if flags & SYN else 1), var["ISS"] + 1
            elif position in WITNESSED:
                _, moved, base = WITNESSED[position]
                if moved == "SEG.SEQ":
                    seq = var[base] + self.offsets[position]
                else:
                    ack = var[base] + self.offsets[position]
        return (flags, wrap(seq), wrap(ack) if flags & ACK else 0, data, window)


# ---------------------------------------------------------------- output


def vector_trace(vector: Vector, choose: Callable[[Step], int] = lambda step: 0) -> Trace:
    """The trace of a stack that answers every stimulus of ``vector`` with the allowed
    alternative ``choose(step)`` picks (by index): what a harness records when it runs it."""
    events: list[SegmentEvent | CallEvent] = []
    t = 0.0
    for step in vector.steps:
        t += 0.01 if "timeout" not in step.stimulus else 2.0
        stimulus = step.stimulus
        if "call" in stimulus:
            events.append(CallEvent(t, stimulus["call"], "ok", stimulus.get("len")))
        elif "segment" in stimulus:
            events.append(_trace_segment(t, "in", stimulus["segment"]))
        events += [_trace_segment(t, "out", seg) for seg in step.allowed[choose(step)]]
    return Trace(Header(PROFILE.name, PROFILE.name, source=vector.name), tuple(events))


def _trace_segment(t: float, direction: str, seg: SegmentDict) -> SegmentEvent:
    flags = sum(SPEC_FLAG_BITS[f] for f in seg["flags"].split(",") if f in SPEC_FLAG_BITS)
    return SegmentEvent(t, direction, flags, seg["seq"], seg["ack"], 4, seg["len"])


def vectors_jsonl(suite: Suite) -> str:
    """A header line, then one vector per line."""
    header = {"tcpmodel_vectors": 1, "spec": suite.spec.name, "tool": f"tcpmodel {__version__}", "vectors": len(suite.vectors)}
    return "\n".join(json.dumps(x) for x in [header] + [v.as_dict() for v in suite.vectors]) + "\n"


# ---------------------------------------------------------------- reports


def coverage_text(suite: Suite) -> str:
    fired = sum(1 for n in suite.rules.values() if n)
    filled = sum(1 for v in suite.cells.values() if v)
    lines = [f"vectors:   {len(suite.vectors)} ({', '.join(f'{sum(v.role == r for v in suite.vectors)} {r}' for r in ROLES)})",
             f"rules:     {fired}/{len(suite.rules)} of the endpoint's rules fired ({100.0 * fired / len(suite.rules):.0f} %)"]
    missing = [n for n, c in suite.rules.items() if not c]
    if missing:
        lines.append("  never fired: " + ", ".join(missing))
    lines.append(f"matrix:    {filled} of {len(suite.cells)} state x segment-kind x position cells have a vector; "
                 f"{len(suite.impossible)} cannot, each with why:")
    reasons: dict[tuple[str, str], list[str]] = {}
    for (state, kind, position), why in suite.impossible.items():
        reasons.setdefault((why, position), []).append(f"{state}/{kind}")
    for (why, position), cells in reasons.items():
        lines.append(f"  {position}: {', '.join(cells)}: {why}")
    return "\n".join(lines) + "\n"


def coverage_json(suite: Suite) -> dict[str, object]:
    return {
        "vectors": len(suite.vectors),
        "rules": {"fired": sum(1 for n in suite.rules.values() if n), "total": len(suite.rules), "per_rule": suite.rules},
        "matrix": {"cells": len(suite.cells), "filled": sum(1 for v in suite.cells.values() if v),
                   "impossible": [{"state": s, "kind": k, "position": p, "why": why} for (s, k, p), why in suite.impossible.items()]},
    }


