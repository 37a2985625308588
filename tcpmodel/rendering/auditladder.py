"""Ladder diagrams of audits: one judged side of a connection as step records ``ladder`` draws.

The endpoint under test is timeline A and its peer timeline B. Each event of the trace is one
row, at the time the trace gives: a segment is drawn straight across its row, from A for one the
endpoint sent ("out") and from B for one that arrived ("in": for drawing purposes the peer sent
it at that moment; a trace shows when a segment passed the endpoint, not how long it travelled);
a user call is a note beside A. The trace does not show the endpoint's states (the oracle follows
a set of possibilities), so none are drawn. A FAIL's event is marked, with what was seen there,
what the spec allowed and the RFC sections of the rules that allowed it written under the
diagram; a deviation at the end of the trace (nothing more sent) gets a last row of its own.
"""

from __future__ import annotations

from pathlib import Path

from tcpmodel.base.flags import flag_text
from tcpmodel.oracle.audit import ConnectionVerdict, Side
from tcpmodel.oracle.verdicts import FAIL
from tcpmodel.rendering.ladder import render_ladder, seconds
from tcpmodel.traces.trace import CallEvent, SegmentEvent

END = "end of trace"


MAX_ROWS = 300  # events drawn at most: a longer trace is drawn around its deviation
ROWS_BEFORE = 240  # of them, before the deviation


def window(side: Side) -> tuple[int, int]:
    """The events drawn, ``trace.events[first:last]``: all of them, or ``MAX_ROWS`` around the
    deviation (mostly before it: what led there), so that the diagram of a capture of millions
    of events stays a few hundred kilobytes."""
    n, event = len(side.trace.events), side.judgement.event
    if n <= MAX_ROWS:
        return 0, n
    at = min(event, n) if side.judgement.verdict == FAIL and event is not None else 0
    first = max(0, at - ROWS_BEFORE)
    last = min(n, first + MAX_ROWS)
    return max(0, last - MAX_ROWS), last


def ladder_records(side: Side) -> tuple[dict, list[dict]]:
    """The header and step records of ``side`` for ``ladder.render_ladder``: a step per event of
    its trace (step n is event n - 1) in its ``window``, and a last step for a verdict about the
    end of the trace."""
    trace, verdict = side.trace, side.judgement
    header = {
        "type": "header",
        "tool": "tcpmodel",
        "profile": verdict.profile,
        "verdict": str(verdict.verdict),
        "names": {"A": side.endpoint, "B": f"peer {trace.header.peer}" if trace.header.peer else "peer"},
    }
    if verdict.verdict == FAIL:
        header["deviation"] = verdict.reason
    first, last = window(side)
    steps = [event_record(n, event) for n, event in enumerate(trace.events[first:last], first + 1)]
    if first or last < len(trace.events):
        for step in steps:
            step["number"] = step["index"]
    if last == len(trace.events) and verdict.event is not None and verdict.event >= len(trace.events):
        steps.append({"type": "step", "index": last + 1, "actor": "A", "event": END, **({"number": last + 1} if first else {})})
    return header, steps


def event_record(index: int, event: SegmentEvent | CallEvent) -> dict:
    record = {"type": "step", "index": index, "actor": "A", "t": event.t}
    if isinstance(event, CallEvent):
        note = event.call + (f" {event.length} octets" if event.length is not None else "")
        record["event"] = note if event.result == "ok" else f"{note}: {event.result}"
        return record
    sender, receiver = ("A", "B") if event.direction == "out" else ("B", "A")
    segment = {"from": sender, "to": receiver, "flags": flag_text(event.flags), "seq": event.seq,
               "ack": event.ack, "len": event.length, "win": event.win}
    record.update(event="SEGMENT", across=[segment])
    return record


def mark(side: Side) -> tuple[int | None, str | None]:
    """The row of a FAIL's event and the note under the diagram: what was seen, what was allowed
    (and which events are drawn, when not all of them are)."""
    verdict, events = side.judgement, side.trace.events
    if verdict.verdict != FAIL or verdict.event is None:
        return None, None
    first, last = window(side)
    row = verdict.event + 1 - first
    if verdict.event < len(events):
        where = f"event {verdict.event} (row {row}, {seconds(events[verdict.event].t)} s)"
    else:
        where = f"the end of the trace (event {verdict.event}, row {row})"
    lines = [f"deviation at {where}: seen {verdict.seen}", f"allowed: {'; '.join(verdict.allowed)}"]
    lines += [f"by: {rfc}" for rfc in verdict.rfc]
    if first or last < len(events):
        lines.append(f"drawn: events {first} to {last - 1} of the {len(events):,} in the trace; "
                     f"{first:,} before and {len(events) - last:,} after are left out")
    return row, "\n".join(lines)


def render_side(side: Side, subtitle: str | None = None) -> str:
    """The SVG ladder diagram of one judged side, its deviation marked if it FAILs."""
    header, steps = ladder_records(side)
    if subtitle:
        header["subtitle"] = subtitle
    title = f"{side.judgement.verdict}: endpoint {side.endpoint} (profile {side.judgement.profile})"
    row, note = mark(side)
    return render_ladder(header, steps, title=title, mark_step=row, mark_note=note)


def ladder_subtitle(connection: ConnectionVerdict, index: int, spec: str) -> str:
    """Where the side comes from: ``run.pcap, connection 0: 10.0.0.2:40000 -> 10.0.0.1:80 #0; spec rfc9293``."""
    return f"{connection.file}, connection {index}: {connection.name}; spec {spec}"


def side_name(connection: ConnectionVerdict, side: int) -> str:
    """``client`` or ``server`` for a capture's connection (judged from both ends, client first),
    ``endpoint`` for a trace's (one end)."""
    return ("client", "server")[side] if len(connection.sides) == 2 else "endpoint"


def file_stems(paths: list[str]) -> list[str]:
    """What each audited file's diagrams are named after: its stem, with -2, -3, ... added when an
    earlier file of the same run has taken it (a/run.pcap and b/run.pcap)."""
    taken: set[str] = set()
    stems = []
    for path in paths:
        stem = Path(path).stem.strip("<>") or "audit"  # <stdin>: stdin
        name, n = stem, 1
        while name in taken:
            n += 1
            name = f"{stem}-{n}"
        taken.add(name)
        stems.append(name)
    return stems


def ladder_file(out: Path, stem: str, connection: ConnectionVerdict, index: int, side: int) -> Path:
    """``OUT/<stem>.<connection index>.<side>.svg``."""
    return out / f"{stem}.{index}.{side_name(connection, side)}.svg"
