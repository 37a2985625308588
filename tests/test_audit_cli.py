"""`tcpmodel audit` end to end: a real Linux loopback capture passes, a deliberate error fails at
its event, and bad files give one line and exit 2 after judging what was readable."""

import dataclasses
import json

import pytest

from tcpmodel.cli.main import main
from tcpmodel.traces.capture import read_capture, to_trace
from tcpmodel.traces.trace import Trace, write_trace
from tests.conftest import REFERENCE
from tests.netns_support import netns_capable, no_leftovers  # noqa: F401 - fixtures

SPEC = ["--spec", str(REFERENCE)]


@pytest.fixture(scope="module")
def loopback_pcap(tmp_path_factory):
    from tcpmodel.host.loopback import capture_loopback_connection

    path = tmp_path_factory.mktemp("capture") / "loopback.pcap"
    capture_loopback_connection(str(path), data=b"hello")
    return path


def test_a_real_linux_loopback_connection_passes(netns_capable, loopback_pcap, capsys):  # noqa: F811
    assert main(["audit", str(loopback_pcap), *SPEC]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("PASS")]
    assert len(rows) == 1 and "-> 127.0.0.1:5000 #0" in rows[0]
    assert out.rstrip().endswith("result: 1 connection: 1 PASS, 0 FAIL, 0 INCONCLUSIVE")
    segments = read_capture(str(loopback_pcap)).connections[0].segments
    assert [s.length for s in segments if s.length] == [5, 5]  # the data each way was judged too


def _trace_with_wrong_ack(pcap, tmp_path):
    trace = to_trace(read_capture(str(pcap)).connections[0], 0, source=str(pcap))
    events = list(trace.events)
    last = max(i for i, e in enumerate(events) if e.direction == "out")
    events[last] = dataclasses.replace(events[last], ack=(events[last].ack + 1) % 2**32)
    path = tmp_path / "wrong_ack.jsonl"
    write_trace(path, Trace(trace.header, tuple(events)))
    return path, last, trace.events[last]


def test_a_deliberate_error_fails_at_its_event(netns_capable, loopback_pcap, tmp_path, capsys):  # noqa: F811
    path, index, original = _trace_with_wrong_ack(loopback_pcap, tmp_path)
    ladders = ["--out", str(tmp_path / "audits")]  # its ladder diagram, not in the working directory
    assert main(["audit", str(path), *SPEC, *ladders]) == 1
    out = capsys.readouterr().out
    assert f"event {index}:" in out
    assert f"seen:    <ACK SEQ={original.seq} ACK={(original.ack + 1) % 2**32}>" in out
    assert f"<ACK SEQ={original.seq} ACK={original.ack}>" in out.split("allowed:")[1].splitlines()[0]
    assert "by:      RFC 9293 §3.10.7.4" in out
    assert main(["audit", str(path), *SPEC, *ladders, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    connection = data["connections"][0]
    assert connection["verdict"] == "FAIL" and connection["event"] == index
    assert f"<ACK SEQ={original.seq} ACK={original.ack}>" in connection["allowed"]


def test_a_truncated_capture_is_judged_as_far_as_it_goes(netns_capable, loopback_pcap, tmp_path, capsys):  # noqa: F811
    data = loopback_pcap.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 30])
    assert main(["audit", str(cut), *SPEC, "--out", str(tmp_path / "audits")]) == 2
    captured = capsys.readouterr()
    assert "connection" in captured.out and "#0" in captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tcpmodel: error: {cut}: offset ")
    assert "Traceback" not in captured.err


def test_a_file_that_is_not_a_capture(tmp_path, capsys):
    path = tmp_path / "notes.pcap"
    path.write_text("hello\n")
    assert main(["audit", str(path), *SPEC]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == f"tcpmodel: error: {path}: offset 0: not a pcap or pcapng file (it starts with 68656c6c)"


def test_a_trace_with_a_bad_line(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"tcpmodel_trace": 1, "spec": "rfc9293", "profile": "rfc9293", "tool": "x"}\n'
                    '{"t": 0, "seg": "out", "flags": "SYNN", "seq": 1, "ack": 0, "win": 10, "len": 0}\n')
    assert main(["audit", str(path), *SPEC]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"tcpmodel: error: {path}:2: ") and 'did you mean "SYN"' in err[0]


def test_an_unknown_profile(tmp_path, capsys):
    path = tmp_path / "t.jsonl"
    path.write_text('{"tcpmodel_trace": 1, "spec": "rfc9293", "profile": "rfc9293", "tool": "x"}\n')
    assert main(["audit", str(path), *SPEC, "--profile", "linx"]) == 2
    assert 'unknown profile "linx" (did you mean "linux"?)' in capsys.readouterr().err
