"""Counterexamples: the shortest path to a violation, as steps a person can read and replay.

A step names the rule and its RFC section, the endpoint's state change and only the variables
that changed. A counterexample is also written as a JSON-lines trace (a header line, then one
line per step) that ``ladder`` draws as an SVG sequence diagram.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tcpmodel.base.version import __version__
from tcpmodel.engine.explore import Exploration
from tcpmodel.language.spec import flag_names
from tcpmodel.system.composed import ABSOLUTE_SEQ, AGE, CAUSE, GEN, Label, System
from tcpmodel.system.scenario import ENDPOINTS


@dataclass
class Step:
    label: Label
    pre: tuple
    post: tuple


@dataclass
class Counterexample:
    property: str
    rfc: str
    text: str
    steps: list[Step]
    cycle_start: int | None  # steps[cycle_start:] repeat forever (a lasso), else None
    system: System

    # ------------------------------------------------------------ views

    def step_records(self) -> list[dict]:
        return [describe_step(self.system, n, s) for n, s in enumerate(self.steps, 1)]

    def header(self) -> dict:
        spec = self.system.spec
        return {
            "type": "header",
            "tool": "tcpmodel",
            "version": __version__,
            "spec": spec.name,
            "spec_file": str(spec.path),
            "profile": "model",
            "scenario": self.system.scenario.describe(),
            "property": self.property,
            "rfc": self.rfc,
            "violation": self.text,
            "cycle_start": self.cycle_start + 1 if self.cycle_start is not None else None,
        }

    def to_jsonl(self) -> str:
        lines = [json.dumps(self.header(), sort_keys=True)]
        lines += [json.dumps(r, sort_keys=True) for r in self.step_records()]
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        out = [f"counterexample for {self.property} ({self.rfc}): {len(self.steps)} steps"]
        for n, record in enumerate(self.step_records(), 1):
            if self.cycle_start is not None and n - 1 == self.cycle_start:
                out.append("  -- from here the run repeats forever --")
            out.append(f"  {n:>3}. {format_step(record)}")
        if self.steps:
            out.append(f"  state reached: {summarize_state(self.system, self.steps[-1].post)}")
        return "\n".join(out)


def build_counterexample(system: System, ex: Exploration, found: tuple, prop) -> Counterexample:
    kind = found[0]
    cycle_start = None
    if kind == "state":
        indices = ex.path_to(found[1])
        steps = _steps(system, ex, indices)
    elif kind == "transition":
        _, k, label, j = found
        steps = _steps(system, ex, ex.path_to(k)) + [Step(label, ex.states[k], ex.states[j])]
    else:  # lasso: a path to the start, a path to a bad end component, and a cycle in it
        _, start, (path, cycle) = found
        prefix = ex.path_to(start)[:-1] + path
        steps = _steps(system, ex, prefix)
        if cycle:
            cycle_start = len(steps)
            steps += _steps(system, ex, cycle)
    return Counterexample(prop.name, prop.rfc, prop.text, steps, cycle_start, system)


def _steps(system: System, ex: Exploration, indices: list[int]) -> list[Step]:
    steps = []
    for a, b in zip(indices, indices[1:]):
        pre, post = ex.states[a], ex.states[b]
        label = next(lab for lab, nxt in system.successors(pre) if nxt == post)
        steps.append(Step(label, pre, post))
    return steps


def segment_record(seg: tuple, sender: int) -> dict:
    record = {
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


def describe_step(system: System, n: int, step: Step) -> dict:
    label = step.label
    spec = system.spec
    record: dict = {"type": "step", "index": n}
    if label.kind in ("call", "segment", "timer"):
        i = label.actor
        pre, post = step.pre[0][i][0], step.post[0][i][0]
        rule = spec.rules[label.rule]
        record.update(
            actor=ENDPOINTS[i],
            event=label.event,
            rule=rule.name,
            rfc=rule.rfc,
            state_before=system.state_name(pre),
            state_after=system.state_name(post),
            changed={k: [v, system.variables(post)[k]] for k, v in system.variables(pre).items() if system.variables(post)[k] != v},
            sent=[segment_record(s, i) for s in label.sent],
        )
        if label.dropped:
            record["dropped"] = record["sent"][len(label.sent) - label.dropped:]
        if label.segment is not None:
            record["received"] = segment_record(label.segment, 1 - i)
    elif label.kind in ("lose", "duplicate"):
        record.update(actor="network", event=label.kind, segment=segment_record(label.segment, label.actor))
    else:
        record.update(actor="network", event="tick")
    record["states"] = {ENDPOINTS[i]: system.state_name(step.post[0][i][0]) for i in (0, 1)}
    return record


def format_segment(seg: dict) -> str:
    parts = [seg["flags"], f"SEQ={seg['seq']}{' (absolute)' if seg.get('absolute_seq') else ''}"]
    if "ACK" in seg["flags"].split(","):
        parts.append(f"ACK={seg['ack']}")
    if seg["len"]:
        parts.append(f"LEN={seg['len']}")
    return f"<{' '.join(parts)}>"


def format_step(r: dict) -> str:
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


def summarize_state(system: System, state: tuple) -> str:
    endpoints, channels, _ = state
    parts = [f"{ENDPOINTS[i]} {system.state_name(endpoints[i][0])}" for i in (0, 1)]
    for c in (0, 1):
        if channels[c]:
            segs = " ".join(format_segment(segment_record(s, c)) for s in channels[c])
            parts.append(f"in flight {ENDPOINTS[c]}->{ENDPOINTS[1 - c]}: {segs}")
    return "; ".join(parts)
