"""Findings explain FAILs; the conformance reports show which explains each, keep an example of
each, and build the matrix; the tracked reports are their JSONs rendered."""

import json
from pathlib import Path

import pytest

from tcpmodel.base.flags import FLAG_BITS
from tcpmodel.conformance.evidence import write_examples
from tcpmodel.conformance.findings import Finding, explain, stale
from tcpmodel.conformance.outcomes import Outcome, Recording
from tcpmodel.conformance.report import (
    conform_json,
    conform_markdown,
    explanations,
    load_results,
    matrix_command,
    matrix_markdown,
)
from tcpmodel.oracle.judge import Judgement
from tcpmodel.oracle.profiles import PROFILES
from tcpmodel.traces.packets import TcpPacket, ip_packet
from tcpmodel.traces.trace import Header, SegmentEvent, Trace, read_trace
from tests.conftest import ROOT
from tests.test_provenance import named_command

CONFORMANCE = ROOT / "reports" / "conformance"
STACKS = ("linux", "pytcp", "lwip", "slirp", "gvisor")

EDGE = Finding("right-edge", "procedure", "RFC 9293 §3.10.7.4", "A", "does B", ("*.ACK.out_of_window",))
RESET = Finding("reset", "MUST", "RFC 9293 §3.5.2", "C", "does D", ("passive.*",), seen=r"^<RST")


def outcome(name, verdict, seen=""):
    judged = Judgement(verdict, "rfc9293", event=3 if verdict == "FAIL" else None, seen=seen, allowed=["no segment"])
    return Outcome(name, name.split(".")[0], "target", verdict, 0.1, judged=judged)


def test_a_finding_matches_by_name_and_by_what_was_seen():
    findings = (EDGE, RESET)
    assert explain(findings, "active.ESTABLISHED.ACK.out_of_window", "no segment") is EDGE
    assert explain(findings, "passive.LISTEN.SYN.any", "<RST,ACK SEQ=0 ACK=1>") is RESET
    assert explain(findings, "passive.LISTEN.SYN.any", "<ACK SEQ=1 ACK=1>") is None
    assert stale(findings, [("active.ESTABLISHED.ACK.out_of_window", "no segment")]) == [RESET]
    with pytest.raises(ValueError):
        Finding("x", "SHALL", "", "", "", ())


def test_reports_name_the_finding_of_each_fail_and_the_unexplained_ones(tmp_path):
    outcomes = [outcome("active.ESTABLISHED.ACK.out_of_window", "FAIL", "no segment"),
                outcome("passive.LISTEN.SYN.any", "FAIL", "<ACK SEQ=1 ACK=1>"), outcome("active.rule.a", "PASS")]
    for o in outcomes:
        o.finding = explain((EDGE, RESET), o.name, o.judged.seen) if o.verdict == "FAIL" else None
    assert explanations(outcomes) == {"MUST": 0, "SHOULD": 0, "MAY": 0, "procedure": 1, "harness": 0, "unexplained": 1}
    info = {"version": "Test 1.0", "kernel": "6.0"}
    data = conform_json("test", info, PROFILES["rfc9293"], outcomes, 1.0, (EDGE, RESET), complete=True)
    assert data["stale_findings"] == ["reset"] and data["findings"][0]["vectors"] == ["active.ESTABLISHED.ACK.out_of_window"]
    assert data["vectors"][0]["finding"]["name"] == "right-edge" and "finding" not in data["vectors"][1]
    text = conform_markdown(dict(data, command="tcpmodel conform --stack test"))
    assert "**right-edge** (procedure, 1 vector): RFC 9293 §3.10.7.4 says A; this stack does B." in text
    assert "UNEXPLAINED (1): `passive.LISTEN.SYN.any`" in text and "stale: **reset**" in text
    other = dict(data, stack="other", vectors=[dict(v, verdict="PASS") for v in data["vectors"]][:2])
    matrix = matrix_markdown("tcpmodel conform --stack STACK", [data, other])
    assert "| `active.ESTABLISHED.ACK.out_of_window` | FAIL: right-edge | PASS |" in matrix
    assert "| `passive.LISTEN.SYN.any` | FAIL: UNEXPLAINED | PASS |" in matrix
    assert "| `active.rule.a` | PASS | not run |" in matrix


def recorded(name: str) -> tuple:
    """A FAIL's trace and recording: the tester's SYN, the stack's RST,ACK."""
    stack, tester = "10.9.0.1:5000", "10.9.0.2:40000"
    syn, reset = TcpPacket(0, tester, stack, "SYN", 7), TcpPacket(0, stack, tester, "RST,ACK", 0, 8)
    events = (SegmentEvent(0.0, "in", FLAG_BITS["SYN"], 7, 0, 65535, 0), SegmentEvent(0.01, "out", FLAG_BITS["RST"] | FLAG_BITS["ACK"], 0, 8, 0, 0))
    recording = Recording(packets=[(1_700_000_000.5, ip_packet(syn)), (1_700_000_000.51, ip_packet(reset))], endpoint=stack, peer=tester)
    return Trace(Header("rfc9293", "rfc9293", endpoint=stack, peer=tester, source=f"vector {name}"), events), recording


def test_each_finding_keeps_its_first_vector_as_its_example_naming_the_command(tmp_path):
    names = ["passive.ESTABLISHED.ACK.out_of_window", "active.ESTABLISHED.ACK.out_of_window", "passive.LISTEN.SYN.any"]
    outcomes = [outcome(name, "FAIL", "<RST,ACK SEQ=0 ACK=8>") for name in names] + [outcome("active.rule.a", "PASS")]
    for o in outcomes[:3]:
        o.judged.event = 1
        o.finding = explain((EDGE, RESET), o.name, o.judged.seen)
        o.recorded = recorded(o.name)
    report = tmp_path / "test.md"
    command = f"tcpmodel conform --stack test --report {report}"
    examples = write_examples(tmp_path / "test", outcomes, command, "rfc9293")
    assert {f: e["vector"] for f, e in examples.items()} == {"right-edge": names[1], "reset": names[2]}  # first by name
    assert sorted(p.name for p in (tmp_path / "test").iterdir()) == sorted(f"{f}.{s}" for f in examples for s in ("jsonl", "pcapng", "svg"))
    for example in examples.values():
        assert [named_command(Path(p)) for p in example["files"]] == [command] * 3
    assert read_trace(tmp_path / "test" / "right-edge.jsonl").header.source == f"vector {names[1]}"
    data = json.loads(json.dumps(conform_json("test", {"version": "Test 1.0", "kernel": "6.0"}, PROFILES["rfc9293"], outcomes, 1.0,
                                              (EDGE, RESET), True, command, str(report), examples)))
    assert data["findings"][0]["example"] == examples["right-edge"]
    text = conform_markdown(data)
    assert f"Example: `{names[1]}` ([trace](test/right-edge.jsonl), [capture](test/right-edge.pcapng), [ladder](test/right-edge.svg))." in text
    assert "- the example of **right-edge**: [trace](test/right-edge.jsonl)" in text
    assert text.startswith(f"<!-- generated by `{command}`; do not edit -->")
    with pytest.raises(ValueError):
        conform_markdown(dict(data, command=None))  # a report names its command
    with pytest.raises(ValueError):
        conform_json("test", {"totals": 1}, PROFILES["rfc9293"], outcomes, 1.0)  # the stack cannot shadow the report's keys


def test_the_tracked_reports_and_the_matrix_are_their_jsons_rendered():
    results = load_results(CONFORMANCE)
    assert sorted(r["stack"] for r in results) == sorted(STACKS)
    for data in results:
        assert data["command"].endswith(f"--report reports/conformance/{data['stack']}.md")
        assert conform_markdown(data) == (CONFORMANCE / f"{data['stack']}.md").read_text(encoding="utf-8"), data["stack"]
        for finding in data["findings"]:  # an example for each finding that explains a FAIL: the first by name
            example = finding["example"]
            assert example is None if not finding["vectors"] else example["vector"] == min(finding["vectors"])
            assert example is None or all((ROOT / path).is_file() for path in example["files"])
    assert matrix_markdown(matrix_command(Path("reports/conformance")), results) == (CONFORMANCE / "README.md").read_text(encoding="utf-8")


def test_the_rendering_check_sees_a_changed_verdict():
    data = next(r for r in load_results(CONFORMANCE) if r["stack"] == "linux")
    changed = dict(data, vectors=[dict(v, verdict="PASS") if v["verdict"] == "SKIPPED" else v for v in data["vectors"]])
    assert conform_markdown(changed) != (CONFORMANCE / "linux.md").read_text(encoding="utf-8")
