"""What one endpoint of a run of the composed system observes, written as a trace.

A run is a list of ``system.Label``s. The endpoint's trace holds its user calls, every segment it
sent (as it left: a later loss does not unsend it) and every segment delivered to it (as it saw
it). Steps nobody at the endpoint sees (the peer's, the network's, the endpoint's own timers)
leave no event of their own; a timer's retransmission shows as the segment it sent. With
``calls=False`` the calls are left out, as in a capture.
"""

from __future__ import annotations

from tcpmodel.traces.trace import CallEvent, Header, SegmentEvent, Trace

TICK = 0.01  # seconds between two steps of the run in the trace's clock


def endpoint_trace(labels, endpoint: int, spec_name: str, profile: str = "rfc9293", data: int = 0, calls: bool = True) -> Trace:
    events = []
    for n, label in enumerate(labels):
        t = round(n * TICK, 6)
        if label.actor != endpoint or label.kind not in ("call", "segment", "timer"):
            continue
        if label.kind == "call" and calls:
            events.append(CallEvent(t, label.event, "ok", data if label.event == "SEND" else None))
        if label.kind == "segment":
            events.append(_segment(t, "in", label.segment))
        events += [_segment(t, "out", s) for s in label.sent]
    return Trace(Header(spec_name, profile, source="tcpmodel system run"), tuple(events))


def _segment(t: float, direction: str, seg: tuple) -> SegmentEvent:
    flags, seq, ack, data, window = seg[:5]
    return SegmentEvent(t, direction, flags, seq, ack, window, data)
