"""Runs of the whole system in the trace format: what ``tcpmodel check`` writes as a counterexample.

A run file is a trace file (``trace``) whose header says ``"kind": "run"``. Instead of one
endpoint's events it holds the steps of both endpoints and of the network, one JSON object a
line, as ``checking.counterexample.describe_step`` writes them. The header records what rebuilds
the run: the spec file and the scenario (``Scenario.describe``), and for a counterexample the
property it violates and where its cycle starts (the step from which the run repeats forever)::

    {"tcpmodel_trace": 1, "kind": "run", "spec": "no_time_wait", "profile": "model",
     "tool": "tcpmodel 0.1.0", "spec_file": "specs/variants/no_time_wait.toml", "scenario": {...},
     "property": "graceful_close", "rfc": "RFC 9293 §3.6, ...", "violation": "...", "cycle_start": null}
    {"type": "step", "index": 1, "actor": "A", "event": "CONNECT", "rule": "closed_connect", "rfc": "...",
     "state_before": "CLOSED", "state_after": "SYN-SENT", "changed": {...},
     "sent": [{"from": "A", "to": "B", "flags": "SYN", "seq": 4294967294, ...}], "states": {"A": "SYN-SENT", "B": "CLOSED"}}
    {"type": "step", "index": 2, "actor": "network", "event": "lose", "segment": {...}, "states": {...}}

This module checks the form of a run (a header it knows, steps numbered in order, segments well
formed) and reads what each step shows: who stepped, the segment received, those sent. Whether
the steps are steps of the system is for ``checking.replay`` to say.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tcpmodel.base.errors import InputError, did_you_mean
from tcpmodel.base.seqnum import MODULUS
from tcpmodel.traces.source import source
from tcpmodel.traces.trace import (
    CALLS,
    FORMAT,
    TOOL,
    _Bad,
    _flags,
    _integer,
    _json_object,
    _known_keys,
    _present,
    _string,
    _type_name,
    header_kind,
    write_atomic,
)

ENDPOINT_NAMES = ("A", "B")
NETWORK = "network"
NETWORK_EVENTS = ("lose", "duplicate", "tick")
RUN_HEADER_KEYS = ("tcpmodel_trace", "kind", "spec", "profile", "tool", "spec_file", "scenario", "property", "rfc", "violation",
                   "cycle_start", "command")  # "command": the command that wrote a run kept as evidence (tcpmodel report)
STEP_KEYS = ("type", "index", "actor", "event", "rule", "rfc", "state_before", "state_after", "changed", "sent", "dropped",
             "received", "segment", "states")
SEGMENT_KEYS = ("from", "to", "flags", "seq", "ack", "len", "win", "incarnation", "age", "absolute_seq")

Record = dict[str, Any]  # a JSON object: a line of a run file, or a segment in one


@dataclass(frozen=True)
class RunHeader:
    spec: str
    profile: str
    tool: str
    spec_file: str  # the spec the run is a run of, as it was named
    scenario: Record  # Scenario.describe()
    property: str | None = None  # the property a counterexample violates
    rfc: str = ""
    violation: str = ""  # the property's text
    cycle_start: int | None = None  # steps from this one (1-based) on repeat forever
    record: Record | None = None  # the header line as read (what the ladder diagram reads)


@dataclass(frozen=True)
class RunStep:
    """One step of a run: its line in the file, its record as read, and what it shows."""

    line: int
    record: Record
    actor: int  # 0 (A) or 1 (B); for a network step the sender of its segment, -1 for a tick
    kind: str  # call, segment, timer (an endpoint's steps: ``system.steps.ENDPOINT_KINDS``), lose, duplicate, tick
    event: str
    received: tuple | None  # (flags, seq, ack, len, win) of the segment delivered, else None
    sent: tuple  # (flags, seq, ack, len, win) of each segment sent


@dataclass(frozen=True)
class Run:
    name: str  # the file, for messages
    header: RunHeader
    steps: tuple[RunStep, ...]
    header_line: int = 1

    def where(self, step: RunStep | None = None) -> str:
        """"FILE:LINE" of a step (of the header without one)."""
        return f"{self.name}:{step.line if step is not None else self.header_line}"


# ------------------------------------------------------------ reading


def is_run_file(path) -> bool:
    """Whether ``path`` begins with the header of a run (and not of one endpoint's trace)."""
    return is_run_header(source(path).head(1 << 20))


def is_run_header(head: bytes) -> bool:
    """Whether ``head`` (the start of a file) begins with the header of a run."""
    first = head.split(b"\n", 1)[0]
    try:
        return header_kind(_json_object(first.decode("utf-8"))) == "run"
    except (ValueError, TypeError, AttributeError, RecursionError, _Bad):
        return False  # not a header line: the trace reader says what is wrong with it


def read_run(path) -> Run:
    """Read and check a run file (or a stream: ``source``); bad input raises InputError at "FILE:LINE"."""
    src = source(path, "run")
    return parse_run_lines(src.read("run").split(b"\n"), src.name)


def parse_run_lines(lines, name: str = "<run>") -> Run:
    """Check a run given as lines (str or bytes); errors name ``name`` and the line."""
    header = None
    header_line = 1
    steps: list[RunStep] = []
    for number, line in enumerate(lines, 1):
        where = f"{name}:{number}"
        try:
            text = line.decode("utf-8") if isinstance(line, bytes) else line
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text", where=where) from None
        if not text.strip():
            continue
        try:
            record = _json_object(text)
            if header is None:
                header, header_line = _run_header(record), number
            else:
                steps.append(_step(record, number, len(steps) + 1))
        except _Bad as exc:
            raise InputError(str(exc), where=where) from None
    if header is None:
        raise InputError("empty run: no header line", where=f"{name}:1")
    if header.cycle_start is not None and not 1 <= header.cycle_start <= len(steps):
        raise InputError(f'"cycle_start" is {header.cycle_start}: the run has {len(steps)} steps', where=f"{name}:{header_line}")
    return Run(name, header, tuple(steps), header_line)


def _run_header(record: dict) -> RunHeader:
    if header_kind(record) != "run":
        raise _Bad('not a run: the header needs "kind": "run" (one endpoint\'s trace is judged by `tcpmodel audit`)')
    _known_keys(record, RUN_HEADER_KEYS, "run header")
    scenario = _present(record, "scenario")
    if not isinstance(scenario, dict):
        raise _Bad(f'"scenario" must be an object, not {_type_name(scenario)}')
    optional = {key: _string(record, key) for key in ("property", "rfc", "violation") if record.get(key) is not None}
    if "command" in record:
        _string(record, "command")
    cycle_start = record.get("cycle_start")
    if cycle_start is not None:
        cycle_start = _integer(record, "cycle_start")
    return RunHeader(**{key: _string(record, key) for key in ("spec", "profile", "tool", "spec_file")}, scenario=scenario,
                     cycle_start=cycle_start, record=record, **optional)


def _step(record: dict, line: int, index: int) -> RunStep:
    _known_keys(record, STEP_KEYS, "step")
    if _string(record, "type") != "step":
        raise _Bad(f'"type" is "{record["type"]}": every line after the header is a step ("type": "step")')
    if _integer(record, "index") != index:
        raise _Bad(f'"index" is {record["index"]}: this is step {index}')
    actor = _string(record, "actor")
    event = _string(record, "event")
    _states(record)
    if actor == NETWORK:
        if event not in NETWORK_EVENTS:
            raise _Bad(f'a network step is "lose", "duplicate" or "tick", not "{event}"{did_you_mean(event, NETWORK_EVENTS)}')
        if event == "tick":
            return RunStep(line, record, -1, event, event, None, ())
        _, sender = _segment(_present(record, "segment"), "segment")
        return RunStep(line, record, sender, event, event, None, ())
    if actor not in ENDPOINT_NAMES:
        raise _Bad(f'"actor" is "{actor}": it must be "A", "B" or "network"{did_you_mean(actor, (*ENDPOINT_NAMES, NETWORK))}')
    i = ENDPOINT_NAMES.index(actor)
    for key in ("rule", "rfc", "state_before", "state_after"):
        _string(record, key)
    changed = _present(record, "changed")
    if not isinstance(changed, dict) or any(not isinstance(v, list) or len(v) != 2 for v in changed.values()):
        raise _Bad('"changed" must map each variable that changed to [before, after]')
    sent = tuple(_sent_by(segment, i, "sent") for segment in _list(record, "sent"))
    for segment in _list(record, "dropped") if "dropped" in record else ():
        _sent_by(segment, i, "dropped")
    received = None
    if event == "SEGMENT":
        received, sender = _segment(_present(record, "received"), "received")
        if sender == i:
            raise _Bad(f'"received" is a segment from {actor} itself')
        kind = "segment"
    elif "received" in record:
        raise _Bad(f'only a SEGMENT step receives a segment, not {event}')
    elif event in CALLS:
        kind = "call"
    elif event.endswith(" TIMEOUT"):
        kind = "timer"
    else:
        raise _Bad(f'"event" is "{event}": an endpoint\'s step is a user call ({", ".join(CALLS)}), SEGMENT or a timer\'s TIMEOUT')
    return RunStep(line, record, i, kind, event, received, sent)


def _states(record: dict) -> None:
    states = _present(record, "states")
    if not isinstance(states, dict) or sorted(states) != list(ENDPOINT_NAMES) or not all(isinstance(v, str) for v in states.values()):
        raise _Bad('"states" must give the state of A and of B after the step')


def _list(record: dict, key: str) -> list:
    value = _present(record, key)
    if not isinstance(value, list):
        raise _Bad(f'"{key}" must be a list of segments, not {_type_name(value)}')
    return value


def _sent_by(segment, sender: int, key: str) -> tuple:
    values, frm = _segment(segment, key)
    if frm != sender:
        raise _Bad(f'"{key}" holds a segment from {ENDPOINT_NAMES[frm]}, not from the step\'s actor {ENDPOINT_NAMES[sender]}')
    return values


def _segment(segment, key: str) -> tuple[tuple, int]:
    """A segment record: (flags, seq, ack, len, win) and the index of its sender."""
    if not isinstance(segment, dict):
        raise _Bad(f'"{key}" must hold segments as objects, not {_type_name(segment)}')
    try:
        _known_keys(segment, SEGMENT_KEYS, f'segment of "{key}"')
        frm, to = _string(segment, "from"), _string(segment, "to")
        if frm not in ENDPOINT_NAMES or to not in ENDPOINT_NAMES or frm == to:
            raise _Bad('"from" and "to" must be "A" and "B", one each')
        values = (_flags(_string(segment, "flags")), _integer(segment, "seq", MODULUS - 1), _integer(segment, "ack", MODULUS - 1),
                  _integer(segment, "len"), _integer(segment, "win"))
        for extra in ("incarnation", "age"):
            if extra in segment:
                _integer(segment, extra)
        if "absolute_seq" in segment and segment["absolute_seq"] is not True:
            raise _Bad('"absolute_seq" is true or left out')
    except _Bad as exc:
        raise _Bad(f'a segment of "{key}": {exc}') from None
    return values, ENDPOINT_NAMES.index(frm)


# ------------------------------------------------------------ writing


def run_header(spec: str, spec_file: str, scenario: Mapping[str, object], prop: str | None = None, rfc: str = "", violation: str = "",
               cycle_start: int | None = None) -> Record:
    """The header line of a run, as a record (keys in the order they are written)."""
    header: Record = {"tcpmodel_trace": FORMAT, "kind": "run", "spec": spec, "profile": "model", "tool": TOOL, "spec_file": spec_file,
              "scenario": scenario}
    if prop is not None:
        header.update(property=prop, rfc=rfc, violation=violation, cycle_start=cycle_start)
    return header


def run_text(header: Record, records: list[Record]) -> str:
    """A run as the text of its file: the header, then each step with its keys sorted. A run that
    would not read back raises ValueError."""
    lines = [json.dumps({key: header[key] for key in RUN_HEADER_KEYS if key in header})]
    lines += [json.dumps(record, sort_keys=True) for record in records]
    try:
        parse_run_lines(lines, "<written run>")
    except InputError as exc:
        raise ValueError(f"not a valid run: {exc}") from None
    return "\n".join(lines) + "\n"


def write_run(path: str | Path, header: Record, records: list[Record]) -> None:
    """Write a run file whole or not at all (``trace.write_atomic``)."""
    write_atomic(Path(path), run_text(header, records).encode("utf-8"), "run")
