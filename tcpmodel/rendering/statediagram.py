"""The state diagram of a spec, drawn from its rules as SVG (RFC 9293 §3.3.2, Figure 5).

Every rule that changes state is an edge from each of its ``from`` states to its ``to`` state,
labelled as RFC 9293's figure labels them: the event ("CONNECT", "rcv SYN", "TIME-WAIT
timeout") and the segments sent ("snd SYN,ACK"). The received flags are the ones the rule's
guard requires; a segment rule that requires none handles what is left after the RST and SYN
rules, an ACK, since every segment but a SYN and a reset carries one (RFC 9293 §3.1).

Edges by which an endpoint gives up or is reset (ABORT, the user timeout, a RST, a SYN in a
synchronized state) are thin grey lines without labels, so that the handshake and the close
stand out; their rules are named in each line's tooltip and in ``edge_table``. As in the RFC's
figure, CLOSED is drawn twice: at the top for the states before ESTABLISHED and at the bottom
for the closing states. State positions are a fixed table for the 11 states of RFC 9293; a
state not in the table (a spec with states of its own) is placed in a row underneath.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from tcpmodel.base.flags import RFC_ORDER, SPEC_FLAG_BITS, flag_names
from tcpmodel.checking.properties import give_up_events
from tcpmodel.language.expressions import Node
from tcpmodel.language.spec import SEGMENT, Rule, Spec

WIDTH, HEIGHT = 1000, 840
CHAR_W = 6.1  # about the width of one character of the 11 px labels
BOX_W, BOX_H = 132, 34
POSITIONS = {
    "CLOSED": (500, 60),
    "LISTEN": (500, 170),
    "SYN-RECEIVED": (200, 280),
    "SYN-SENT": (800, 280),
    "ESTABLISHED": (500, 390),
    "FIN-WAIT-1": (200, 500),
    "CLOSE-WAIT": (800, 500),
    "CLOSING": (500, 560),
    "FIN-WAIT-2": (200, 640),
    "LAST-ACK": (800, 640),
    "TIME-WAIT": (500, 700),
}
BOTTOM_CLOSED = (800, 750)
CLOSING_STATES = ("FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT")
STYLE = (
    ".title{font-size:14px;font-weight:bold}.subtitle{fill:#555}"
    ".state{fill:#eef4ea;stroke:#063;stroke-width:1.5}.no-tcb{fill:#fff;stroke-dasharray:5 3}"
    ".state-name{font-weight:bold;fill:#063}.edge{fill:none;stroke:#1f4e79;stroke-width:1.3}"
    ".reset{fill:none;stroke:#bbb;stroke-width:1;stroke-dasharray:4 3}"
    ".label{fill:#1f4e79}.label-back{fill:#fff;fill-opacity:0.85}"
    ".legend{fill:#555}"
)


@dataclass
class Edge:
    source: str
    target: str
    rules: list[Rule] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    reset: bool = True  # every rule of the edge gives up or resets

    @property
    def names(self) -> str:
        return ", ".join(r.name for r in self.rules)


def required_flags(node: Node) -> list[str]:
    """The flags a guard requires: the flag names among the top-level conjuncts."""
    if node.kind == "and":
        return [f for arg in node.args for f in required_flags(arg)]
    if node.kind == "name" and node.value in SPEC_FLAG_BITS:
        return [node.value]
    return []


def event_label(rule: Rule) -> str:
    if rule.event == SEGMENT:
        flags = set(required_flags(rule.when)) or {"ACK"}
        return "rcv " + ",".join(f for f in RFC_ORDER if f in flags)
    if rule.event.endswith(" TIMEOUT"):
        return rule.event.removesuffix(" TIMEOUT") + " timeout"
    return rule.event


def rule_label(rule: Rule) -> str:
    """"rcv SYN / snd SYN,ACK"; a segment sent only when its condition holds is in brackets."""
    sends = []
    for send in rule.sends:
        flags = flag_names(send.flags)
        sends.append(f"[{flags}]" if send.when is not None else flags)
    text = event_label(rule)
    return text + (" / snd " + " or ".join(sends) if sends else "")


def gives_up(rule: Rule, spec: Spec) -> bool:
    """A rule by which the endpoint gives up or is reset, rather than a step of open or close."""
    flags = required_flags(rule.when)
    return rule.event in give_up_events(spec) or "RST" in flags or (
        "SYN" in flags and rule.to in spec.no_tcb and not set(rule.states) & set(spec.no_tcb))


def diagram_edges(spec: Spec, options: frozenset = frozenset()) -> list[Edge]:
    """One edge per (from, to) pair of states that some active rule connects, in rule order."""
    edges: dict[tuple[str, str], Edge] = {}
    for rule in spec.rules:
        if not rule.active(options) or rule.to is None:
            continue
        for state in rule.states:
            if state == rule.to:
                continue
            edge = edges.setdefault((state, rule.to), Edge(state, rule.to))
            edge.rules.append(rule)
            edge.reset = edge.reset and gives_up(rule, spec)
            label = rule_label(rule)
            if not gives_up(rule, spec) and label not in edge.labels:
                edge.labels.append(label)
    return list(edges.values())


def positions(spec: Spec) -> dict[str, tuple[float, float]]:
    places: dict[str, tuple[float, float]] = {s: POSITIONS[s] for s in spec.states if s in POSITIONS}
    others = [s for s in spec.states if s not in POSITIONS]
    for n, state in enumerate(others):
        places[state] = (120 + 190 * (n % 5), HEIGHT - 20 - 60 * (len(others) // 5 - n // 5))
    return places


def render_state_diagram(spec: Spec, options: frozenset = frozenset(), title: str | None = None) -> str:
    places = positions(spec)
    edges = diagram_edges(spec, options)
    bottom = "CLOSED" in places and any(e.target == "CLOSED" and e.source in CLOSING_STATES for e in edges)
    height = HEIGHT + (60 * ((len(places) - len(POSITIONS)) // 5 + 1) if len(places) > len(POSITIONS) else 0)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        'font-family="sans-serif" font-size="11">',
        f"<style>{STYLE}</style>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#1f4e79"/></marker>'
        '<marker id="grey" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#bbb"/></marker></defs>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#fff"/>',
        f'<text class="title" x="12" y="22">{escape(title or f"{spec.title}: states and the rules between them")}</text>',
        f'<text class="subtitle" x="12" y="40">drawn from {escape(spec.name)}: {len(spec.states)} states, '
        f'{sum(len(e.rules) for e in edges)} rule edges; RFC 9293 §3.3.2 (Figure 5), §3.10</text>',
    ]
    pairs = {(e.source, e.target) for e in edges}
    for edge in sorted(edges, key=lambda e: not e.reset):  # grey lines underneath
        start = places[edge.source]
        end = BOTTOM_CLOSED if edge.target == "CLOSED" and bottom and edge.source in CLOSING_STATES else places[edge.target]
        bend = 28 if (edge.target, edge.source) in pairs else 0
        if crosses_a_box(start, end, [p for name, p in places.items() if name not in (edge.source, edge.target)]):
            bend = 90
        parts += draw_edge(edge, start, end, bend)
    for state, (x, y) in places.items():
        parts += draw_state(state, x, y, state in spec.no_tcb)
    if bottom:
        parts += draw_state("CLOSED", *BOTTOM_CLOSED, True)
    parts += [
        f'<text class="legend" x="12" y="{height - 30}">blue: a step of opening or closing, labelled event / segments sent; '
        'grey, dashed: giving up or being reset (ABORT, USER timeout, RST, SYN in a synchronized state)</text>',
        f'<text class="legend" x="12" y="{height - 14}">[ACK]: sent only when the rule says so (e.g. when the segment '
        'carried data). Dashed boxes: no TCB. CLOSED is drawn twice, as in RFC 9293\'s figure. Tooltips name the rules.</text>',
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def crosses_a_box(start, end, centres) -> bool:
    """Whether the straight line from ``start`` to ``end`` passes through a box at one of ``centres``."""
    (x1, y1), (x2, y2) = start, end
    for cx, cy in centres:
        for k in range(1, 40):
            x, y = x1 + (x2 - x1) * k / 40, y1 + (y2 - y1) * k / 40
            if abs(x - cx) < BOX_W / 2 and abs(y - cy) < BOX_H / 2:
                return True
    return False


def draw_state(name: str, x: float, y: float, no_tcb: bool) -> list[str]:
    kind = "state no-tcb" if no_tcb else "state"
    return [
        f'<rect class="{kind}" x="{x - BOX_W / 2:g}" y="{y - BOX_H / 2:g}" width="{BOX_W}" height="{BOX_H}" rx="8"/>',
        f'<text class="state-name" x="{x:g}" y="{y + 4:g}" text-anchor="middle">{escape(name)}</text>',
    ]


def draw_edge(edge: Edge, start, end, bend: float) -> list[str]:
    (x1, y1), (x2, y2) = start, end
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    nx, ny = (y2 - y1) / length, -(x2 - x1) / length  # left of the direction of travel
    cx, cy = (x1 + x2) / 2 + nx * bend, (y1 + y2) / 2 + ny * bend
    ax, ay = border(x1, y1, cx, cy)
    bx, by = border(x2, y2, cx, cy)
    path = f"M{ax:.1f},{ay:.1f} Q{cx:.1f},{cy:.1f} {bx:.1f},{by:.1f}"
    tooltip = f"<title>{escape(edge.source)} -> {escape(edge.target)}: {escape(edge.names)}</title>"
    if edge.reset:
        return [f'<path class="reset" d="{path}" marker-end="url(#grey)">{tooltip}</path>']
    parts = [f'<path class="edge" d="{path}" marker-end="url(#arrow)">{tooltip}</path>']
    mx, my = 0.25 * ax + 0.5 * cx + 0.25 * bx, 0.25 * ay + 0.5 * cy + 0.25 * by
    lines = edge.labels[:3] + ([f"+{len(edge.labels) - 3} more"] if len(edge.labels) > 3 else [])
    widest = max(len(line) for line in lines) * CHAR_W
    if abs(x2 - x1) < abs(y2 - y1) / 2:  # a steep edge: the label beside it, on the outer side
        side = -1 if (bend and nx < 0) or (not bend and x1 <= WIDTH / 2) else 1
        left = mx + side * 8 - (widest if side < 0 else 0)
    else:  # above it
        left = mx - widest / 2
        my -= 8 + 6 * (len(lines) - 1)
    top = my - 6 * (len(lines) - 1)
    parts.append(f'<rect class="label-back" x="{left - 2:.1f}" y="{top - 10:.1f}" width="{widest + 4:.1f}" '
                 f'height="{12 * len(lines) + 2}"/>')
    for n, line in enumerate(lines):
        parts.append(f'<text class="label" x="{left:.1f}" y="{top + 12 * n:.1f}">{escape(line)}</text>')
    return parts


def border(x: float, y: float, towards_x: float, towards_y: float) -> tuple[float, float]:
    """Where the line from a box's centre (x, y) towards a point leaves the box."""
    dx, dy = towards_x - x, towards_y - y
    if dx == 0 and dy == 0:
        return x, y
    scale = min(BOX_W / 2 / abs(dx) if dx else math.inf, BOX_H / 2 / abs(dy) if dy else math.inf)
    return x + dx * scale, y + dy * scale


def edge_table(spec: Spec, options: frozenset = frozenset()) -> list[tuple[str, str, str, list[Rule]]]:
    """(from, to, kind, rules) for every edge: kind "open/close" or "give up / reset"."""
    return [(e.source, e.target, "give up / reset" if e.reset else "open/close", e.rules) for e in diagram_edges(spec, options)]
