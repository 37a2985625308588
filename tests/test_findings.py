"""Findings explain FAILs; the conformance reports show which explains each and build the matrix."""

import pytest

from tcpmodel.conformance.findings import Finding, explain, stale
from tcpmodel.conformance.harness import Outcome
from tcpmodel.conformance.report import (
    conform_json,
    conform_markdown,
    explanations,
    matrix_markdown,
)
from tcpmodel.oracle.judge import Judgement
from tcpmodel.oracle.profiles import PROFILES

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
    text = conform_markdown("tcpmodel conform --stack test", "test", info, PROFILES["rfc9293"], outcomes, 1.0, (EDGE, RESET), True)
    assert "**right-edge** (procedure, 1 vector): RFC 9293 §3.10.7.4 says A; this stack does B." in text
    assert "UNEXPLAINED (1): `passive.LISTEN.SYN.any`" in text and "stale: **reset**" in text
    other = dict(data, stack="other", vectors=[dict(v, verdict="PASS") for v in data["vectors"]][:2])
    matrix = matrix_markdown("tcpmodel conform --stack STACK", [data, other])
    assert "| `active.ESTABLISHED.ACK.out_of_window` | FAIL: right-edge | PASS |" in matrix
    assert "| `passive.LISTEN.SYN.any` | FAIL: UNEXPLAINED | PASS |" in matrix
    assert "| `active.rule.a` | PASS | not run |" in matrix
