"""benchmarks/audit_vs_tshark.py: its generated capture is what it claims (no timing is asserted).

Every connection it writes without a planted error PASSes the audit, every one with a planted
error FAILs, and some of them wrap their sequence numbers through 0. The full benchmark (a
million segments, and tshark) is run by hand; these tests use a few thousand segments.
"""

from dataclasses import replace

import pytest

from tcpmodel.oracle.audit import audit_file
from tcpmodel.oracle.profiles import profile_named
from tcpmodel.oracle.verdicts import FAIL, PASS
from tcpmodel.traces.capture import read_capture
from tcpmodel.traces.pcap import ethernet_frames, write_pcap
from tests.conftest import benchmark_module


@pytest.fixture(scope="module")
def bench():
    yield from benchmark_module("audit_vs_tshark")


def test_planned_segments_are_the_ones_written(bench, tmp_path):
    plans = bench.plan_connections(3000)
    assert sum(p.segments() for p in plans) >= 3000
    assert len({p.name for p in plans}) == len(plans)  # one incarnation per 4-tuple
    assert all(len(bench.connection_packets(p)) == p.segments() for p in plans)
    packets = list(bench.capture_packets(plans))
    assert [p.t for p in packets] == sorted(p.t for p in packets)
    path = tmp_path / "bench.pcap"
    write_pcap(path, ethernet_frames(packets))
    capture = read_capture(path)
    assert capture.skipped == 0 and capture.error is None
    assert sorted(f"{c.client} -> {c.server} #{c.incarnation}" for c in capture.connections) == sorted(p.name for p in plans)


def test_clean_connections_pass_and_planted_errors_fail(bench, reference, tmp_path):
    plans = bench.plan_connections(2500, seed=7)
    # one connection of every error kind, whatever the random plan chose
    plans = [replace(p, error=None) for p in plans]
    for i, kind in enumerate(bench.ERRORS):
        plans[10 + 20 * i] = replace(plans[10 + 20 * i], error=kind)
    assert any(p.wraps() and not p.error for p in plans)
    assert any(p.server_closes for p in plans) and any(p.three_way_close for p in plans)
    path = tmp_path / "bench.pcap"
    write_pcap(path, ethernet_frames(bench.capture_packets(plans)))
    result = audit_file(str(path), reference, profile_named("rfc9293"))
    verdicts = {c.name: c.verdict for c in result.connections}
    assert verdicts == {p.name: FAIL if p.error else PASS for p in plans}


def test_without_tshark_and_root_it_says_how_to_install(bench, monkeypatch, capsys):
    monkeypatch.setattr(bench.shutil, "which", lambda name: None)
    monkeypatch.setattr(bench.os, "geteuid", lambda: 1000)
    with pytest.raises(SystemExit) as exit:
        bench.ensure_tshark()
    assert exit.value.code == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and "apt-get install -y tshark" in message


def test_expert_warnings_are_read_from_tsharks_table(bench):
    text = """
Warns (13)
=============
   Frequency      Group           Protocol  Summary
          12   Sequence                TCP  ACKed segment that wasn't captured (common at capture start)
           1   Sequence                TCP  Previous segment(s) not captured (common at capture start)

Notes (2)
=============
   Frequency      Group           Protocol  Summary
           2   Sequence                TCP  This frame initiates the connection closing
"""
    assert bench.expert_warnings(text) == [
        "12 ACKed segment that wasn't captured (common at capture start)",
        "1 Previous segment(s) not captured (common at capture start)",
    ]
