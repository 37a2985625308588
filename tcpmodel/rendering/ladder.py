"""Ladder diagrams: a trace or counterexample drawn as an SVG message sequence chart.

Endpoint A's timeline is on the left and B's on the right; time runs downward, one row per
step. A segment is an arrow from the row where it was sent to the row where it was received.
A lost segment stops halfway at an X on the row of the loss; a segment still in the network
when the trace ends is a dashed arrow to the bottom. State names stand beside a timeline
whenever that endpoint's state changes; user calls and timer events are small notes.

The input is the header and the step records of ``tcpmodel.checking.counterexample`` (its JSON-lines
trace). The output depends only on the input, so the same trace gives the same bytes.

Observed runs (``auditladder``, an audited trace) use three optional fields as well: a step's
``t`` (seconds, written beside its number), a step's ``across`` (segments drawn straight across
its row: an observation shows when a segment passed, not how long it travelled), the header's
``names`` (what the timelines are called instead of A and B) and its ``subtitle`` (in place of
its ``rfc``, which a counterexample's subtitle is), and a step's ``number`` (the number written
beside its row, when the rows drawn are a window of a longer run). ``mark_note`` is text written
under the diagram for the marked row, such as what was seen there and what was allowed.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from xml.sax.saxutils import escape

ROW = 28  # height of one step
TOP = 72  # y of row 0, where the initial states stand
GUTTER = 40  # step numbers, left of A's column
COLUMN = 170  # room beside a timeline for states and notes
A_X = GUTTER + COLUMN
B_X = A_X + 400
CYCLE_X = B_X + COLUMN + 10
WIDTH = CYCLE_X + 90
STYLE = (
    ".title{font-size:12px;font-weight:bold}.subtitle{fill:#555}"
    ".endpoint{font-size:12px;font-weight:bold}.timeline{stroke:#333;stroke-width:2}"
    ".segment{stroke:#1f4e79;stroke-width:1.2}.lost{stroke:#a33}.in-flight{stroke:#777}"
    ".label{fill:#1f4e79}.loss{stroke:#c00;stroke-width:2;fill:none}"
    ".tick{stroke:#999}.network{fill:#777}.state{fill:#063;font-weight:bold}"
    ".note{fill:#555;font-style:italic}.step{fill:#999}"
    ".mark{fill:#e33;fill-opacity:0.15}.mark-text{fill:#c00;font-weight:bold}"
    ".cycle{fill:none;stroke:#555}.cycle-text{fill:#555}"
    ".time{fill:#999}.mark-note{fill:#c00}"
)
NOTE_LINE = 15  # height of one line of the mark's note
NOTE_CHARS = 128  # a longer line of the note is wrapped (11 px monospace: about 6.6 px a character)


@dataclass
class Send:
    """One sent segment and how many copies of it are still in the network."""

    segment: dict
    row: int  # 0: sent before the trace began
    remaining: int = 1


@dataclass
class Arrow:
    segment: dict
    start: int  # the row it was sent in (0: before the trace)
    end: int | None  # the row it was received or lost in; None: still in flight
    kind: str  # "received", "lost" or "in-flight"


def render_ladder(header: dict, steps: list[dict], title: str | None = None, mark_step: int | None = None,
                  mark_note: str | None = None) -> str:
    """The SVG document of the ladder diagram of ``steps``, marking row ``mark_step`` if given;
    ``mark_note`` (lines of text) is written under the diagram when a row is marked."""
    bottom = row_y(len(steps)) + ROW
    marked = mark_step is not None and 1 <= mark_step <= len(steps)
    note = [part for line in (mark_note or "").splitlines() for part in textwrap.wrap(line, NOTE_CHARS, subsequent_indent="    ")]
    note = note if marked else []
    height = bottom + 24 + NOTE_LINE * len(note)
    if title is None:
        title = f"{header.get('property', 'trace')} — {header.get('spec', '')}"
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="monospace" font-size="11">',
        f"<style>{STYLE}</style>",
        '<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#1f4e79"/></marker></defs>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#fff"/>',
    ]
    if marked and mark_step is not None:
        parts += draw_mark(mark_step, "deviation" if "deviation" in header else "violation")
    cycle_start = header.get("cycle_start")
    if isinstance(cycle_start, int) and 1 <= cycle_start <= len(steps):
        parts += draw_cycle(cycle_start, bottom)
    parts += draw_heading(title, header.get("subtitle", header.get("rfc")), bottom, header.get("names") or {})
    states = initial_states(steps)
    parts += [beside(name, TOP + 11, state, "state") for name, state in states.items() if state]
    for row, step in enumerate(steps, 1):
        after = states_after(states, step)
        parts += draw_step(row, step, states, after)
        states = after
    for arrow in match_segments(steps):
        parts += draw_arrow(arrow, bottom)
    parts += [
        f'<text class="mark-note" x="8" y="{bottom + 24 + NOTE_LINE * i}">{escape(line)}</text>'
        for i, line in enumerate(note)
    ]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def row_y(row: int) -> int:
    return TOP + row * ROW


def timeline_x(endpoint: str | None) -> int:
    return A_X if endpoint == "A" else B_X


def number(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def seconds(t: float) -> str:
    """A time as a trace gives it, to the nanosecond, without trailing zeros: 0.1, 61.452311, 0."""
    return f"{t:.9f}".rstrip("0").rstrip(".")


def segment_label(segment: dict) -> str:
    """``SYN,ACK SEQ=1000 ACK=4294967295``: ACK= only when the ACK flag is set, LEN= only with data."""
    flags = segment.get("flags", "")
    text = f"{flags} SEQ={segment.get('seq')}"
    if "ACK" in flags.split(","):
        text += f" ACK={segment.get('ack')}"
    if segment.get("len"):
        text += f" LEN={segment['len']}"
    return text


def segment_key(segment: dict) -> tuple:
    return tuple(segment.get(k) for k in ("from", "to", "flags", "seq", "ack", "len", "incarnation"))


def initial_states(steps: list[dict]) -> dict:
    """Each endpoint's state before the first step (None when the trace does not tell)."""
    states = dict(steps[0].get("states") or {}) if steps else {}
    for step in reversed(steps):  # the earliest step of an endpoint has the last word
        if step.get("actor") in ("A", "B") and "state_before" in step:
            states[step["actor"]] = step["state_before"]
    return {name: states.get(name) for name in ("A", "B")}


def states_after(states: dict, step: dict) -> dict:
    """The endpoints' states after a step: its ``states``, else its actor's ``state_after``."""
    after = dict(states)
    if step.get("actor") in ("A", "B") and "state_after" in step:
        after[step["actor"]] = step["state_after"]
    after.update(step.get("states") or {})
    return after


def find_send(sends: list[Send], segment: dict) -> Send | None:
    """The earliest equal send still in the network, else the latest equal one (a duplicate)."""
    equal = [s for s in sends if segment_key(s.segment) == segment_key(segment)]
    pending = [s for s in equal if s.remaining > 0]
    return pending[0] if pending else (equal[-1] if equal else None)


def consume(send: Send | None, segment: dict, row: int, kind: str) -> Arrow:
    if send is None:
        return Arrow(segment, 0, row, kind)
    send.remaining = max(send.remaining - 1, 0)
    return Arrow(send.segment, send.row, row, kind)


def match_segments(steps: list[dict]) -> list[Arrow]:
    """An arrow per reception and loss, in trace order, then one per send still in flight."""
    sends: list[Send] = []
    arrows = []
    for row, step in enumerate(steps, 1):
        event = step.get("event")
        if step.get("actor") == "network" and event in ("lose", "duplicate") and "segment" in step:
            segment = step["segment"]
            send = find_send(sends, segment)
            if event == "lose":
                arrows.append(consume(send, segment, row, "lost"))
            elif send is None:
                sends.append(Send(segment, 0, 2))  # the original and its copy
            else:
                send.remaining += 1
        elif "received" in step:
            segment = step["received"]
            arrows.append(consume(find_send(sends, segment), segment, row, "received"))
        sent = step.get("sent") or []
        dropped = len(step.get("dropped") or [])
        sends += [Send(segment, row) for segment in sent[: len(sent) - dropped]]
        arrows += [Arrow(segment, row, row, "lost") for segment in sent[len(sent) - dropped:]]  # a full queue
        arrows += [Arrow(segment, row, row, "received") for segment in step.get("across") or []]
    return arrows + [Arrow(s.segment, s.row, None, "in-flight") for s in sends if s.remaining > 0]


def beside(endpoint: str, y: float, text: str, kind: str) -> str:
    """Text next to an endpoint's timeline, outside the space between the two."""
    x, anchor = (A_X - 8, "end") if endpoint == "A" else (B_X + 8, "start")
    return f'<text class="{kind}" x="{x}" y="{number(y)}" text-anchor="{anchor}">{escape(str(text))}</text>'


def draw_heading(title: str, rfc: str | None, bottom: int, names: dict) -> list[str]:
    parts = [f'<text class="title" x="8" y="20">{escape(title)}</text>']
    if rfc:
        parts.append(f'<text class="subtitle" x="8" y="36">{escape(str(rfc))}</text>')
    for name in ("A", "B"):
        x = timeline_x(name)
        label = escape(str(names.get(name, name)))
        parts.append(f'<text class="endpoint" x="{x}" y="{TOP - 14}" text-anchor="middle">{label}</text>')
        parts.append(f'<line class="timeline" x1="{x}" y1="{TOP - 8}" x2="{x}" y2="{bottom + 8}"/>')
    return parts


def draw_step(row: int, step: dict, before: dict, after: dict) -> list[str]:
    """The step number and time, the note of a call or timer, a network event and any state changes."""
    y = row_y(row)
    parts = [f'<text class="step" x="{GUTTER - 8}" y="{y + 4}" text-anchor="end">{step.get("number", row)}</text>']
    if isinstance(step.get("t"), (int, float)):
        parts.append(f'<text class="time" x="{GUTTER}" y="{y + 4}">{seconds(step["t"])} s</text>')
    actor, event = step.get("actor"), step.get("event")
    segment = step.get("segment") or {}
    if actor == "network" and event == "tick":
        parts.append(f'<line class="tick" x1="{A_X}" y1="{y}" x2="{B_X}" y2="{y}" stroke-dasharray="1 3"/>')
        parts.append(f'<text class="network" x="{A_X + 12}" y="{y - 3}">tick</text>')
    elif actor == "network" and event == "duplicate":
        parts.append(beside(segment.get("from", "A"), y - 4, f"duplicate {segment.get('flags', '')}", "network"))
    elif actor in ("A", "B") and event and event != "SEGMENT":
        parts.append(beside(actor, y - 4, event, "note"))
    for name in ("A", "B"):
        if after.get(name) and after.get(name) != before.get(name):
            parts.append(beside(name, y + 11, after[name], "state"))
    return parts


def draw_arrow(arrow: Arrow, bottom: int) -> list[str]:
    """A segment's line, with an arrowhead, or an X where it was lost, and its label."""
    segment = arrow.segment
    x1, y1 = timeline_x(segment.get("from")), row_y(arrow.start)
    x2: float = timeline_x(segment.get("to"))
    text = segment_label(segment) + (" (earlier)" if arrow.start == 0 else "")
    head = ' marker-end="url(#head)"'
    if arrow.kind == "lost":
        assert arrow.end is not None  # a lost segment ends where it was lost
        x2, y2 = (x1 + x2) / 2, row_y(arrow.end)
        line = f'<line class="segment lost" x1="{x1}" y1="{y1}" x2="{number(x2)}" y2="{y2}"/>'
        cross = f"M{number(x2 - 5)},{y2 - 5} L{number(x2 + 5)},{y2 + 5} M{number(x2 - 5)},{y2 + 5} L{number(x2 + 5)},{y2 - 5}"
        return [line, f'<path class="loss" d="{cross}"/>', draw_label(text + " (lost)", x1, y1, x2, y2, (x2, y2))]
    if arrow.kind == "in-flight":
        y2 = bottom
        line = f'<line class="segment in-flight" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke-dasharray="6 4"{head}/>'
        text += " (in flight)"
    else:
        assert arrow.end is not None  # a received segment ends where it was received
        y2 = row_y(arrow.end)
        line = f'<line class="segment" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}"{head}/>'
    return [line, draw_label(text, x1, y1, x2, y2, ((x1 + x2) / 2, (y1 + y2) / 2))]


def draw_label(text: str, x1: float, y1: float, x2: float, y2: float, centre: tuple) -> str:
    """Text along the line from (x1, y1) to (x2, y2), centred on ``centre``, just above it."""
    (left_x, left_y), (right_x, right_y) = sorted([(x1, y1), (x2, y2)])
    angle = math.degrees(math.atan2(right_y - left_y, right_x - left_x))
    cx, cy = number(centre[0]), number(centre[1])
    return (
        f'<text class="label" x="{cx}" y="{number(centre[1] - 5)}" text-anchor="middle" '
        f'transform="rotate({number(angle)} {cx} {cy})">{escape(text)}</text>'
    )


def draw_mark(row: int, word: str) -> list[str]:
    """A red band across the row where the property is violated."""
    y = row_y(row)
    return [
        f'<rect class="mark" x="0" y="{y - ROW // 2}" width="{WIDTH}" height="{ROW}"/>',
        f'<text class="mark-text" x="{WIDTH - 6}" y="{y + 4}" text-anchor="end">{word}</text>',
    ]


def draw_cycle(row: int, bottom: int) -> list[str]:
    """A bracket from the first row of a lasso's cycle to the bottom: it repeats forever."""
    top = row_y(row) - ROW // 2
    middle = (top + bottom) // 2
    return [
        f'<path class="cycle" d="M{CYCLE_X - 6},{top} H{CYCLE_X} V{bottom} H{CYCLE_X - 6}"/>',
        f'<text class="cycle-text" x="{CYCLE_X + 14}" y="{middle}" text-anchor="middle" '
        f'transform="rotate(-90 {CYCLE_X + 14} {middle})">repeats forever</text>',
    ]
