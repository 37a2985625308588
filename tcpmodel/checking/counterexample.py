"""Counterexamples: the shortest path to a violation, as steps a person can read and replay.

A step names the rule and its RFC section, the endpoint's state change and only the variables
that changed. A counterexample is also written as a run in the trace format (``traces.run``: a
header line with the spec, the scenario and the property, then one line per step), which
``tcpmodel replay`` re-executes, ``tcpmodel audit`` judges and ``ladder`` draws as an SVG
sequence diagram.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from tcpmodel.base.flags import flag_names
from tcpmodel.checking.properties import Property
from tcpmodel.checking.violation import STATE, TRANSITION, Violation
from tcpmodel.engine.explore import Exploration
from tcpmodel.system.composed import ABSOLUTE_SEQ, AGE, CAUSE, GEN, System
from tcpmodel.system.scenario import ENDPOINTS
from tcpmodel.system.steps import Label, SystemState, decode_step
from tcpmodel.traces.run import Record, run_header, run_text


@dataclass
class Step:
    label: Label
    pre: SystemState
    post: SystemState


@dataclass
class Counterexample:
    property: str
    rfc: str
    text: str
    steps: list[Step]
    cycle_start: int | None  # steps[cycle_start:] repeat forever (a lasso), else None
    system: System

    # ------------------------------------------------------------ views

    def step_records(self) -> list[Record]:
        return [describe_step(self.system, n, s) for n, s in enumerate(self.steps, 1)]

    def header(self) -> Record:
        """The header of the run file: the spec, the scenario, the property and the cycle."""
        spec = self.system.spec
        cycle_start = self.cycle_start + 1 if self.cycle_start is not None else None
        return run_header(spec.name, str(spec.path), self.system.scenario.describe(), self.property, self.rfc, self.text, cycle_start)

    def to_jsonl(self) -> str:
        """The run file (``traces.run``)."""
        return run_text(self.header(), self.step_records())

    def to_text(self) -> str:
        out = [f"counterexample for {self.property} ({self.rfc}): {len(self.steps)} steps"]
        for n, record in enumerate(self.step_records(), 1):
            if self.cycle_start is not None and n - 1 == self.cycle_start:
                out.append("  -- from here the run repeats forever --")
            out.append(f"  {n:>3}. {format_step(record)}")
        if self.steps:
            out.append(f"  state reached: {summarize_state(self.system, self.steps[-1].post)}")
        return "\n".join(out)


def build_counterexample(system: System, ex: Exploration[SystemState], found: Violation, prop: Property) -> Counterexample:
    cycle_start = None
    if found.kind == STATE:
        steps = _steps(system, ex, ex.path_to(found.state))
    elif found.kind == TRANSITION:
        k, j = found.state, found.next_state
        assert found.label is not None and j is not None  # check resolves every transition it reports
        steps = _steps(system, ex, ex.path_to(k)) + [Step(found.label, ex.states[k], ex.states[j])]
    else:  # a lasso: a path to the start, a path to a bad end component, and a cycle in it
        prefix = ex.path_to(found.state)[:-1] + list(found.path)
        steps = _steps(system, ex, prefix)
        if found.cycle:
            cycle_start = len(steps)
            steps += _steps(system, ex, list(found.cycle))
    return Counterexample(prop.name, prop.rfc, prop.text, steps, cycle_start, system)


def _steps(system: System, ex: Exploration[SystemState], indices: list[int]) -> list[Step]:
    steps = []
    for a, b in pairwise(indices):
        pre, post = ex.states[a], ex.states[b]
        label = next(lab for lab, nxt in system.successors(pre) if nxt == post)
        steps.append(Step(label, pre, post))
    return steps


def segment_record(seg: tuple[int, ...], sender: int) -> Record:
    record: Record = {
        "from": ENDPOINTS[sender],
        "to": ENDPOINTS[1 - sender],
        "flags": flag_names(seg[0]),
        "seq": seg[1],
        "ack": seg[2],
        "len": seg[3],
        "win": seg[4],
    }
    if len(seg) > GEN:
        record["incarnation"] = seg[GEN]
        if seg[AGE]:
            record["age"] = seg[AGE]
        if seg[CAUSE] & ABSOLUTE_SEQ:
            record["absolute_seq"] = True  # the receiver may see it anywhere (System._seen_as)
    return record


def describe_step(system: System, n: int, step: Step) -> Record:
    """The record of the n-th step of a run (a line of its run file)."""
    label = step.label
    record: Record = {"type": "step", "index": n}
    moved = decode_step(label, step.pre, step.post)
    if moved is not None:
        i = moved.actor
        pre, post = moved.pre_tcb, moved.post_tcb
        rule = system.spec.rules[moved.rule]
        before, after = system.variables(pre), system.variables(post)
        record.update(
            actor=ENDPOINTS[i],
            event=moved.event,
            rule=rule.name,
            rfc=rule.rfc,
            state_before=system.state_name(pre),
            state_after=system.state_name(post),
            changed={k: [v, after[k]] for k, v in before.items() if after[k] != v},
            sent=[segment_record(s, i) for s in moved.sent],
        )
        if moved.dropped:
            record["dropped"] = record["sent"][len(moved.sent) - moved.dropped:]
        if moved.received is not None:
            record["received"] = segment_record(moved.received, 1 - i)
    elif label.kind in ("lose", "duplicate"):
        assert label.segment is not None  # the segment lost or duplicated
        record.update(actor="network", event=label.kind, segment=segment_record(label.segment, label.actor))
    else:
        record.update(actor="network", event="tick")
    record["states"] = {ENDPOINTS[i]: system.state_name(step.post[0][i][0]) for i in (0, 1)}
    return record


def format_segment(seg: Record) -> str:
    parts = [seg["flags"], f"SEQ={seg['seq']}{' (absolute)' if seg.get('absolute_seq') else ''}"]
    if "ACK" in seg["flags"].split(","):
        parts.append(f"ACK={seg['ack']}")
    if seg["len"]:
        parts.append(f"LEN={seg['len']}")
    return f"<{' '.join(parts)}>"


def format_step(r: Record) -> str:
    if r["actor"] == "network":
        if r["event"] == "tick":
            return "network: one tick passes (segments age, timers count down)"
        seg = r["segment"]
        verb = "loses" if r["event"] == "lose" else "duplicates"
        return f"network {verb} {seg['from']}->{seg['to']} {format_segment(seg)}"
    what = r["event"]
    if "received" in r:
        what = f"receives {format_segment(r['received'])}"
    text = f"{r['actor']}: {what}  [{r['rule']}, {r['rfc']}]"
    if r["state_before"] != r["state_after"]:
        text += f"  {r['state_before']} -> {r['state_after']}"
    else:
        text += f"  stays {r['state_after']}"
    if r["changed"]:
        text += "  " + ", ".join(f"{k}={v[1]}" for k, v in r["changed"].items())
    if r["sent"]:
        text += "  sends " + " ".join(format_segment(s) for s in r["sent"])
    if r.get("dropped"):
        text += f"  (a full queue drops {' '.join(format_segment(s) for s in r['dropped'])})"
    return text


def summarize_state(system: System, state: SystemState) -> str:
    endpoints, channels, _ = state
    parts = [f"{ENDPOINTS[i]} {system.state_name(endpoints[i][0])}" for i in (0, 1)]
    for c in (0, 1):
        if channels[c]:
            segs = " ".join(format_segment(segment_record(s, c)) for s in channels[c])
            parts.append(f"in flight {ENDPOINTS[c]}->{ENDPOINTS[1 - c]}: {segs}")
    return "; ".join(parts)
