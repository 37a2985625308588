"""Tests of the SVG ladder diagram, on hand-written trace records."""

import xml.etree.ElementTree as ET

from tcpmodel.rendering.ladder import render_ladder

SVG = "{http://www.w3.org/2000/svg}"
HEADER = {"type": "header", "tool": "tcpmodel", "spec": "rfc9293", "property": "graceful_close", "rfc": "RFC 9293 §3.6", "cycle_start": None}


def seg(sender, flags, seq, ack, length=0, incarnation=1):
    return {"from": sender, "to": "B" if sender == "A" else "A", "flags": flags, "seq": seq, "ack": ack, "len": length, "win": 4, "incarnation": incarnation}


def step(index, actor, event, before, after, states, sent=(), received=None):
    record = {"type": "step", "index": index, "actor": actor, "event": event, "rule": "r", "rfc": "RFC 9293",
              "state_before": before, "state_after": after, "changed": {}, "sent": list(sent), "states": states}
    if received is not None:
        record["received"] = received
    return record


def network(index, event, states, segment=None):
    record = {"type": "step", "index": index, "actor": "network", "event": event, "states": states}
    if segment is not None:
        record["segment"] = segment
    return record


SYN = seg("A", "SYN", 0, 0)
SYN_ACK = seg("B", "SYN,ACK", 1000, 1)
ACK = seg("A", "ACK", 1, 1001)


def handshake():
    return [
        step(1, "A", "CONNECT", "CLOSED", "SYN-SENT", {"A": "SYN-SENT", "B": "LISTEN"}, sent=[SYN]),
        step(2, "B", "SEGMENT", "LISTEN", "SYN-RECEIVED", {"A": "SYN-SENT", "B": "SYN-RECEIVED"}, sent=[SYN_ACK], received=SYN),
        step(3, "A", "SEGMENT", "SYN-SENT", "ESTABLISHED", {"A": "ESTABLISHED", "B": "SYN-RECEIVED"}, sent=[ACK], received=SYN_ACK),
        step(4, "B", "SEGMENT", "SYN-RECEIVED", "ESTABLISHED", {"A": "ESTABLISHED", "B": "ESTABLISHED"}, received=ACK),
    ]


def parse(svg):
    return ET.fromstring(svg)


def with_class(root, tag, cls):
    return [e for e in root.iter(SVG + tag) if e.get("class") == cls]


def texts(root):
    return [e.text or "" for e in root.iter(SVG + "text")]


def test_svg_is_well_formed_with_size_and_view_box():
    root = parse(render_ladder(HEADER, handshake()))
    assert root.tag == SVG + "svg"
    width, height = int(root.get("width")), int(root.get("height"))
    assert root.get("viewBox") == f"0 0 {width} {height}"
    assert root.get("font-family") == "monospace"


def test_handshake_draws_one_arrow_per_reception_from_send_row_to_receive_row():
    root = parse(render_ladder(HEADER, handshake()))
    arrows = with_class(root, "line", "segment")
    assert len(arrows) == 3
    ys = [(float(a.get("y1")), float(a.get("y2"))) for a in arrows]
    assert all(y2 - y1 == 28 for y1, y2 in ys)  # each is received one row after it was sent
    assert ys == sorted(ys)
    assert float(arrows[0].get("x1")) < float(arrows[0].get("x2"))  # A -> B goes right
    assert float(arrows[1].get("x1")) > float(arrows[1].get("x2"))  # B -> A goes left
    assert not with_class(root, "line", "segment in-flight")
    assert not with_class(root, "path", "loss")


def test_handshake_labels_states_and_notes():
    root = parse(render_ladder(HEADER, handshake()))
    labels = texts(root)
    assert "SYN,ACK SEQ=1000 ACK=1" in labels
    assert "SYN SEQ=0" in labels and not any(t.startswith("SYN SEQ=0 ACK") for t in labels)  # no ACK field without the flag
    assert not any("LEN=" in t for t in labels)
    states = [e.text for e in with_class(root, "text", "state")]
    assert states[:2] == ["CLOSED", "LISTEN"]  # initial states at the top
    assert "SYN-SENT" in states and "SYN-RECEIVED" in states
    assert states.count("ESTABLISHED") == 2
    assert [e.text for e in with_class(root, "text", "note")] == ["CONNECT"]


def test_data_segment_label_has_length():
    data = seg("A", "ACK", 1, 1001, length=1)
    steps = handshake() + [
        step(5, "A", "SEND", "ESTABLISHED", "ESTABLISHED", {"A": "ESTABLISHED", "B": "ESTABLISHED"}, sent=[data]),
        step(6, "B", "SEGMENT", "ESTABLISHED", "ESTABLISHED", {"A": "ESTABLISHED", "B": "ESTABLISHED"}, received=data),
    ]
    root = parse(render_ladder(HEADER, steps))
    assert "ACK SEQ=1 ACK=1001 LEN=1" in texts(root)
    assert len(with_class(root, "line", "segment")) == 4
    assert "SEND" in [e.text for e in with_class(root, "text", "note")]


def test_lost_segment_ends_halfway_with_an_x():
    steps = [
        step(1, "A", "CONNECT", "CLOSED", "SYN-SENT", {"A": "SYN-SENT", "B": "LISTEN"}, sent=[SYN]),
        network(2, "lose", {"A": "SYN-SENT", "B": "LISTEN"}, SYN),
        step(3, "A", "RETRANSMISSION TIMEOUT", "SYN-SENT", "SYN-SENT", {"A": "SYN-SENT", "B": "LISTEN"}, sent=[SYN]),
        step(4, "B", "SEGMENT", "LISTEN", "SYN-RECEIVED", {"A": "SYN-SENT", "B": "SYN-RECEIVED"}, received=SYN),
    ]
    root = parse(render_ladder(HEADER, steps))
    assert len(with_class(root, "path", "loss")) == 1
    [lost] = with_class(root, "line", "segment lost")
    timelines = with_class(root, "line", "timeline")
    a_x, b_x = (float(t.get("x1")) for t in timelines)
    assert float(lost.get("x2")) == (a_x + b_x) / 2
    assert float(lost.get("y2")) - float(lost.get("y1")) == 28
    [received] = with_class(root, "line", "segment")
    assert float(received.get("y1")) - float(lost.get("y1")) == 2 * 28  # from the retransmission
    assert "RETRANSMISSION TIMEOUT" in texts(root)
    assert not with_class(root, "line", "segment in-flight")


def test_unreceived_segment_is_a_dashed_arrow_to_the_bottom():
    steps = handshake()[:1]
    root = parse(render_ladder(HEADER, steps))
    [flying] = with_class(root, "line", "segment in-flight")
    assert flying.get("stroke-dasharray")
    assert flying.get("marker-end") == "url(#head)"
    timeline = with_class(root, "line", "timeline")[0]
    assert float(flying.get("y2")) > float(flying.get("y1"))
    assert float(flying.get("y2")) <= float(timeline.get("y2"))
    assert not with_class(root, "line", "segment")


def test_duplicate_is_received_twice_from_the_original_send_row():
    states = {"A": "SYN-SENT", "B": "LISTEN"}
    steps = [
        step(1, "A", "CONNECT", "CLOSED", "SYN-SENT", states, sent=[SYN]),
        network(2, "duplicate", states, SYN),
        step(3, "B", "SEGMENT", "LISTEN", "SYN-RECEIVED", {"A": "SYN-SENT", "B": "SYN-RECEIVED"}, sent=[SYN_ACK], received=SYN),
        step(4, "B", "SEGMENT", "SYN-RECEIVED", "SYN-RECEIVED", {"A": "SYN-SENT", "B": "SYN-RECEIVED"}, received=SYN),
    ]
    root = parse(render_ladder(HEADER, steps))
    received = with_class(root, "line", "segment")
    assert len(received) == 2
    assert received[0].get("y1") == received[1].get("y1")
    assert received[0].get("y2") != received[1].get("y2")
    [flying] = with_class(root, "line", "segment in-flight")  # only the SYN,ACK
    assert float(flying.get("x1")) > float(flying.get("x2"))


def test_received_duplicate_without_a_pending_copy_uses_latest_send():
    states = {"A": "SYN-SENT", "B": "LISTEN"}
    steps = [
        step(1, "A", "CONNECT", "CLOSED", "SYN-SENT", states, sent=[SYN]),
        step(2, "A", "RETRANSMISSION TIMEOUT", "SYN-SENT", "SYN-SENT", states, sent=[SYN]),
        step(3, "B", "SEGMENT", "LISTEN", "LISTEN", states, received=SYN),
        step(4, "B", "SEGMENT", "LISTEN", "LISTEN", states, received=SYN),
        step(5, "B", "SEGMENT", "LISTEN", "LISTEN", states, received=SYN),
    ]
    root = parse(render_ladder(HEADER, steps))
    starts = [float(a.get("y1")) for a in with_class(root, "line", "segment")]
    assert starts == [72 + 28, 72 + 56, 72 + 56]


def test_reception_without_a_send_starts_at_the_top():
    steps = [step(1, "B", "SEGMENT", "LISTEN", "LISTEN", {"A": "CLOSED", "B": "LISTEN"}, received=SYN)]
    root = parse(render_ladder(HEADER, steps))
    [arrow] = with_class(root, "line", "segment")
    assert float(arrow.get("y1")) == 72
    assert any(t.endswith("(earlier)") for t in texts(root))


def test_tick_is_a_dotted_line():
    states = {"A": "CLOSED", "B": "LISTEN"}
    root = parse(render_ladder(HEADER, [network(1, "tick", states)]))
    [tick] = with_class(root, "line", "tick")
    assert tick.get("y1") == tick.get("y2")
    assert "tick" in texts(root)


def test_mark_step_highlights_its_row():
    root = parse(render_ladder(HEADER, handshake(), mark_step=3))
    [band] = with_class(root, "rect", "mark")
    centre = float(band.get("y")) + float(band.get("height")) / 2
    assert centre == 72 + 3 * 28
    assert "violation" in texts(root)
    assert not with_class(parse(render_ladder(HEADER, handshake())), "rect", "mark")
    assert not with_class(parse(render_ladder(HEADER, handshake(), mark_step=99)), "rect", "mark")


def test_cycle_start_draws_repeats_forever():
    root = parse(render_ladder(dict(HEADER, cycle_start=2), handshake()))
    assert len(with_class(root, "path", "cycle")) == 1
    assert "repeats forever" in texts(root)
    assert "repeats forever" not in render_ladder(HEADER, handshake())


def test_output_is_deterministic():
    steps = handshake()
    first = render_ladder(HEADER, steps, mark_step=2)
    assert first == render_ladder(dict(HEADER), handshake(), mark_step=2)
    assert first == render_ladder(HEADER, steps, mark_step=2)


def test_title_default_and_escaping():
    root = parse(render_ladder(HEADER, handshake()))
    assert with_class(root, "text", "title")[0].text == "graceful_close — rfc9293"
    svg = render_ladder(HEADER, handshake(), title='a < b & "c" > d')
    assert "a &lt; b &amp; " in svg
    assert with_class(parse(svg), "text", "title")[0].text == 'a < b & "c" > d'


def test_scales_to_a_hundred_steps():
    states = {"A": "ESTABLISHED", "B": "ESTABLISHED"}
    steps = []
    for n in range(50):
        data = seg("A", "ACK", n, 1, length=1)
        steps.append(step(2 * n + 1, "A", "SEND", "ESTABLISHED", "ESTABLISHED", states, sent=[data]))
        steps.append(step(2 * n + 2, "B", "SEGMENT", "ESTABLISHED", "ESTABLISHED", states, received=data))
    root = parse(render_ladder(HEADER, steps))
    assert len(with_class(root, "line", "segment")) == 50
    assert int(root.get("height")) >= 100 * 28
    assert int(root.get("height")) < 101 * 28 + 200


def test_empty_trace():
    root = parse(render_ladder({}, []))
    assert with_class(root, "text", "title")[0].text == "trace — "
    assert len(with_class(root, "line", "timeline")) == 2


def test_observed_rows_times_names_and_mark_note():
    across = [seg("A", "SYN", 0, 0), seg("B", "SYN,ACK", 1000, 1)]
    steps = [{"type": "step", "index": n, "actor": "A", "event": "SEGMENT", "t": t, "across": [s]}
             for n, (t, s) in enumerate(zip((0.0, 0.25), across, strict=True), 1)]
    header = {"names": {"A": "10.0.0.1:1", "B": "peer"}, "subtitle": "run.pcap", "rfc": "not shown", "deviation": "x"}
    note = "seen <X>\n" + "allowed: " + "y" * 200
    root = parse(render_ladder(header, steps, title="t", mark_step=2, mark_note=note))
    arrows = with_class(root, "line", "segment")
    assert [(a.get("y1"), a.get("y2")) for a in arrows] == [("100", "100"), ("128", "128")]  # across their rows
    assert float(arrows[1].get("x1")) > float(arrows[1].get("x2"))
    assert [e.text for e in with_class(root, "text", "endpoint")] == ["10.0.0.1:1", "peer"]
    assert [e.text for e in with_class(root, "text", "subtitle")] == ["run.pcap"]
    assert [e.text for e in with_class(root, "text", "time")] == ["0 s", "0.25 s"]
    lines = [e.text for e in with_class(root, "text", "mark-note")]
    assert lines[0] == "seen <X>" and len(lines) == 3 and all(len(line) <= 128 for line in lines)  # long lines wrap
    assert "deviation" in texts(root)
    plain = parse(render_ladder(header, steps, title="t", mark_note=note))  # no marked row: no note
    assert not with_class(plain, "text", "mark-note")
    assert int(plain.get("height")) == int(root.get("height")) - 3 * 15
