"""Ladder diagrams of failing audits: `tcpmodel audit --out DIR` draws each FAILing side as an
SVG with its deviation marked; a PASS writes nothing."""

import json
import xml.etree.ElementTree as ET

from tcpmodel.base.flags import FLAG_BITS
from tcpmodel.cli.main import main
from tcpmodel.oracle.audit import Side
from tcpmodel.oracle.judge import Judgement
from tcpmodel.oracle.verdicts import FAIL
from tcpmodel.rendering.auditladder import file_stems, ladder_records, render_side
from tcpmodel.traces.trace import (
    CallEvent,
    Header,
    SegmentEvent,
    Trace,
    write_trace,
)
from tests.conftest import REFERENCE

SVG = "{http://www.w3.org/2000/svg}"
SPEC = ["--spec", str(REFERENCE)]
SYN, ACK = FLAG_BITS["SYN"], FLAG_BITS["ACK"]
HEADER = Header("rfc9293", "rfc9293", endpoint="10.0.0.1:40000", peer="10.0.0.2:80")


def handshake(last_ack: int) -> Trace:
    """A client's active open; its ACK of the SYN,ACK should be 301."""
    return Trace(HEADER, (
        CallEvent(0.0, "CONNECT"),
        SegmentEvent(0.0, "out", SYN, 100, 0, 1000, 0),
        SegmentEvent(0.01, "in", SYN | ACK, 300, 101, 2000, 0),
        SegmentEvent(0.02, "out", ACK, 101, last_ack, 1000, 0),
    ))


def texts(root, cls):
    return [e.text for e in root.iter(SVG + "text") if e.get("class") == cls]


def test_a_failing_trace_is_drawn_with_its_deviation_marked(tmp_path, capsys):
    trace, out = tmp_path / "wrong_ack.jsonl", tmp_path / "ladders"
    write_trace(trace, handshake(last_ack=302))
    assert main(["audit", str(trace), *SPEC, "--out", str(out)]) == 1
    svg = out / "wrong_ack.0.endpoint.svg"
    assert sorted(out.iterdir()) == [svg]
    lines = capsys.readouterr().out.splitlines()
    by = max(i for i, line in enumerate(lines) if line.startswith("  by:"))
    assert lines[by + 1] == f"  written: {svg}"

    root = ET.fromstring(svg.read_bytes())
    assert "ACK SEQ=101 ACK=302" in texts(root, "label")  # the seen segment
    assert "SYN,ACK SEQ=300 ACK=101" in texts(root, "label")  # an "in" segment, from the peer
    note = texts(root, "mark-note")
    assert note[0] == "deviation at event 3 (row 4, 0.02 s): seen <ACK SEQ=101 ACK=302>"
    assert note[1] == "allowed: <ACK SEQ=101 ACK=301>"
    assert note[2].startswith("by: RFC 9293 §3.10.7.3")
    [band] = [e for e in root.iter(SVG + "rect") if e.get("class") == "mark"]
    assert float(band.get("y")) + float(band.get("height")) / 2 == 72 + 4 * 28  # row 4: event 3
    assert texts(root, "mark-text") == ["deviation"]
    assert texts(root, "endpoint") == ["10.0.0.1:40000", "peer 10.0.0.2:80"]
    assert texts(root, "note") == ["CONNECT"]
    assert texts(root, "time") == ["0 s", "0 s", "0.01 s", "0.02 s"]
    arrows = [e for e in root.iter(SVG + "line") if e.get("class") == "segment"]
    assert len(arrows) == 3 and all(a.get("y1") == a.get("y2") for a in arrows)  # across each event's row
    assert float(arrows[1].get("x1")) > float(arrows[1].get("x2"))  # the SYN,ACK comes from the peer

    first = svg.read_bytes()
    assert main(["audit", str(trace), *SPEC, "--out", str(out), "--json"]) == 1
    assert svg.read_bytes() == first  # the same input gives the same bytes
    [connection] = json.loads(capsys.readouterr().out)["connections"]
    assert connection["files"] == [str(svg)]


def test_a_passing_trace_writes_nothing(tmp_path, capsys):
    trace, out = tmp_path / "good.jsonl", tmp_path / "ladders"
    write_trace(trace, handshake(last_ack=301))
    assert main(["audit", str(trace), *SPEC, "--out", str(out), "--json"]) == 0
    [connection] = json.loads(capsys.readouterr().out)["connections"]
    assert connection["verdict"] == "PASS" and connection["files"] == []
    assert not out.exists()
    assert main(["audit", str(trace), *SPEC, "--out", str(out)]) == 0
    assert "written:" not in capsys.readouterr().out and not out.exists()


def test_a_diagram_that_cannot_be_written_is_an_error_after_the_verdicts(tmp_path, capsys):
    trace, out = tmp_path / "wrong_ack.jsonl", tmp_path / "a-file"
    write_trace(trace, handshake(last_ack=302))
    out.write_text("")
    assert main(["audit", str(trace), *SPEC, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "seen:    <ACK SEQ=101 ACK=302>" in captured.out and "written:" not in captured.out
    [error] = captured.err.splitlines()
    assert error.startswith(f"tcpmodel: error: {out}: cannot create the folder: ")  # no diagram is written


def test_records_calls_and_a_deviation_at_the_end_of_the_trace():
    trace = Trace(HEADER, (
        CallEvent(0.0, "CONNECT"),
        SegmentEvent(0.0, "out", SYN, 100, 0, 1000, 0),
        CallEvent(0.5, "SEND", "error: not connected", 5),
    ))
    verdict = Judgement(FAIL, "rfc9293", 3, "no segment", ["<SYN SEQ=100>"], ["RFC 9293 §3.8.1"], "the endpoint sent nothing more")
    side = Side("10.0.0.1:40000", verdict, trace)
    header, steps = ladder_records(side)
    assert header["names"] == {"A": "10.0.0.1:40000", "B": "peer 10.0.0.2:80"} and "deviation" in header
    assert [s["event"] for s in steps] == ["CONNECT", "SEGMENT", "SEND 5 octets: error: not connected", "end of trace"]
    assert steps[1]["across"] == [{"from": "A", "to": "B", "flags": "SYN", "seq": 100, "ack": 0, "len": 0, "win": 1000}]
    root = ET.fromstring(render_side(side, "somewhere"))
    assert texts(root, "mark-note")[0] == "deviation at the end of the trace (event 3, row 4): seen no segment"
    assert texts(root, "subtitle") == ["somewhere"]
    [band] = [e for e in root.iter(SVG + "rect") if e.get("class") == "mark"]
    assert float(band.get("y")) + float(band.get("height")) / 2 == 72 + 4 * 28


def test_file_stems_are_unique_within_a_run():
    assert file_stems(["a/run.pcap", "b/run.pcap", "run.jsonl", "x/other.pcapng"]) == ["run", "run-2", "run-3", "other"]
