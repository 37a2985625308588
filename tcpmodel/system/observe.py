"""What one endpoint of a run of the composed system observes, written as a trace.

A run is a list of steps, each with ``actor``, ``kind``, ``event``, ``received`` and ``sent``:
the ``steps.EndpointStep``s of a run of the system (``decode_step``), or the steps of a run file
(``traces.run.RunStep``). Network steps and ticks may be among them; nobody observes them. The
endpoint's trace holds its user calls, every segment it sent (as it left: a later loss does not
unsend it) and every segment delivered to it (as it saw it). Steps nobody at the endpoint sees
(the peer's, the network's, the endpoint's own timers) leave no event of their own; a timer's
retransmission shows as the segment it sent. With ``calls=False`` the calls are left out, as in
a capture.

The oracle judges one incarnation a trace (the endpoint opens once); ``incarnation_traces``
splits an endpoint's trace at each open after the first (its LISTEN or CONNECT).
"""

from __future__ import annotations

from tcpmodel.system.steps import ENDPOINT_KINDS
from tcpmodel.traces.trace import CallEvent, Header, SegmentEvent, Trace

TICK = 0.01  # seconds between two steps of the run in the trace's clock
OPENS = ("LISTEN", "CONNECT")


def endpoint_trace(steps, endpoint: int, spec_name: str, profile: str = "rfc9293", data: int = 0, calls: bool = True,
                   source: str = "tcpmodel system run") -> Trace:
    events: list[SegmentEvent | CallEvent] = []
    for n, step in enumerate(steps):
        t = round(n * TICK, 6)
        if step.actor != endpoint or step.kind not in ENDPOINT_KINDS:
            continue
        if step.kind == "call" and calls:
            events.append(CallEvent(t, step.event, "ok", data if step.event == "SEND" else None))
        if step.kind == "segment":
            events.append(_segment(t, "in", step.received))
        events += [_segment(t, "out", s) for s in step.sent]
    return Trace(Header(spec_name, profile, source=source), tuple(events))


def _segment(t: float, direction: str, seg: tuple) -> SegmentEvent:
    flags, seq, ack, data, window = seg[:5]
    return SegmentEvent(t, direction, flags, seq, ack, window, data)


def incarnation_traces(steps, endpoint: int, spec_name: str, profile: str = "rfc9293", data: int = 0,
                       source: str = "tcpmodel system run") -> list[Trace]:
    """The endpoint's trace, one per incarnation: a new one begins with each open after the first
    (what the endpoint observed before its first open belongs to the first)."""
    whole = endpoint_trace(steps, endpoint, spec_name, profile, data, True, source)
    parts: list[list[SegmentEvent | CallEvent]] = [[]]
    opened = False
    for event in whole.events:
        if isinstance(event, CallEvent) and event.call in OPENS:
            if opened:
                parts.append([])
            opened = True
        parts[-1].append(event)
    return [Trace(whole.header, tuple(events)) for events in parts]
