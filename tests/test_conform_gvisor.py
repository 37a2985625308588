"""The conformance harness against gVisor's netstack (Debian's golang-gvisor-gvisor-dev), run as
a Go program of its own per vector: a few representative vectors with outcomes asserted on what
netstack really sent, one of its findings, and a program that hangs or dies leaving nothing."""

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tcpmodel.cli.main import main
from tcpmodel.conformance.harness import run_suite
from tcpmodel.conformance.outcomes import Settings
from tcpmodel.conformance.stacks import gvisor, process
from tcpmodel.language.spec import load_spec
from tcpmodel.oracle.profiles import PROFILES
from tcpmodel.oracle.verdicts import ERROR, SKIPPED
from tcpmodel.vectors.generation import generate
from tests.conftest import REFERENCE, require_stack
from tests.netns_support import child_processes

SPEC = load_spec(REFERENCE)


@pytest.fixture(autouse=True)
def netstack_here():
    """Skipped where netstack cannot be built, except where TCPMODEL_REQUIRE_STACKS demands it (CI)."""
    require_stack("gvisor")


@pytest.fixture(scope="module")
def vectors():
    return {v.name: v for v in generate(SPEC).vectors}


def run(vectors, names, tmp_path, stack=gvisor, profile="gvisor", keep_all=False, **settings):
    chosen = [vectors[n] for n in names]
    outcomes = run_suite(SPEC, chosen, stack, PROFILES[profile], Settings(**settings), tmp_path, keep_all=keep_all)
    return {o.name: o for o in outcomes}


def segments(outcome):
    """(direction, flags, seq, ack, len, options) of each segment in the outcome's written trace."""
    path = next(p for p in outcome.files if p.endswith(".jsonl"))
    lines = [json.loads(line) for line in Path(path).read_text().splitlines()[1:]]
    return [(e["seg"], e["flags"], e["seq"], e["ack"], e["len"], e["options"]) for e in lines if "seg" in e]


def test_handshakes_data_close_and_reset_pass_with_what_netstack_sent(vectors, tmp_path):
    names = ["active.rule.synsent_synack", "passive.ESTABLISHED.data.in_window",
             "active.rule.last_ack_fin_acked", "active.ESTABLISHED.RST.in_window"]
    outcomes = run(vectors, names, tmp_path, keep_all=True)
    assert {n: o.verdict for n, o in outcomes.items()} == dict.fromkeys(names, "PASS")
    assert all(set(o.others.values()) == {"PASS"} for o in outcomes.values())

    isn = outcomes["active.rule.synsent_synack"].isn
    syn, synack, ack = segments(outcomes["active.rule.synsent_synack"])
    # netstack's own SYN: MSS 1460, then timestamps and a window scale it always offers
    assert syn[:5] == ("out", "SYN", isn, 0, 0) and syn[5].startswith("020405b4") and "080a" in syn[5]
    assert synack[:5] == ("in", "SYN,ACK", 1000, (isn + 1) % 2**32, 0)
    assert ack == ("out", "ACK", (isn + 1) % 2**32, 1001, 0, "")  # neither was accepted: no options

    passive = outcomes["passive.ESTABLISHED.data.in_window"]
    seen, isn = segments(passive), passive.isn
    assert seen[1] == ("out", "SYN,ACK", isn, 1001, 0, "020405b4")  # a passive netstack offers only the MSS
    assert seen[3] == ("in", "ACK", 1001, (isn + 1) % 2**32, 1, "")
    assert seen[4][:5] == ("out", "ACK", (isn + 1) % 2**32, 1002, 0)

    flags = [s[1] for s in segments(outcomes["active.rule.last_ack_fin_acked"]) if s[0] == "out"]
    assert flags == ["SYN", "ACK", "ACK", "FIN,ACK"]  # the peer's FIN acknowledged, then its own; nothing after
    assert [s[1] for s in segments(outcomes["active.ESTABLISHED.RST.in_window"]) if s[0] == "out"] == ["SYN", "ACK"]


def test_a_syn_in_the_window_gets_a_challenge_ack_explained_by_a_finding(vectors, tmp_path):
    """RFC 9293 as written answers it with a reset; netstack sends RFC 5961's challenge ACK (but
    not RFC 5961's RST challenge, so no profile allows it) and the finding says so."""
    outcome = run(vectors, ["active.ESTABLISHED.SYN.in_window"], tmp_path)["active.ESTABLISHED.SYN.in_window"]
    assert outcome.verdict == "FAIL" and outcome.others["linux"] == "PASS"
    assert outcome.judged.seen.startswith("<ACK ") and outcome.judged.allowed[0].startswith("<RST,ACK SEQ=0")
    assert outcome.finding.name == "syn-challenge-ack-without-rst-challenge" and outcome.finding.kind == "MAY"


def test_a_retransmission_is_waited_for_by_the_rto_netstack_reports(vectors, tmp_path):
    """The octet is sent again after the connection's RTO: RFC 6298's 1 s, to which the program
    pins netstack's minimum (its own is 200 ms), so RFC 9293's profile accepts it too."""
    outcome = run(vectors, ["active.rule.data_retransmit"], tmp_path, keep_all=True)["active.rule.data_retransmit"]
    path = next(p for p in outcome.files if p.endswith(".jsonl"))
    sent = [e for e in map(json.loads, Path(path).read_text().splitlines()[1:]) if e.get("seg") == "out" and e["len"] == 1]
    assert outcome.verdict == "PASS" and set(outcome.others.values()) == {"PASS"}
    # times are when the harness read each segment: a late read of the first can shave a little off
    assert len(sent) == 2 and sent[0]["seq"] == sent[1]["seq"] and sent[1]["t"] - sent[0]["t"] > 0.9


def test_what_cannot_be_run_is_skipped_with_why(vectors, tmp_path):
    outcomes = run(vectors, ["passive.rule.synrcvd_close", "active.rule.user_timeout"], tmp_path)
    assert outcomes["passive.rule.synrcvd_close"].verdict == SKIPPED
    assert "before Accept returns it" in outcomes["passive.rule.synrcvd_close"].reason
    assert "USER timeout" in outcomes["active.rule.user_timeout"].reason


def test_a_hung_program_is_killed_and_nothing_is_left_behind(vectors, tmp_path, monkeypatch):
    """A vector that waits for the SYN's retransmission (1.5 s) under a 0.5 s timeout: the
    program is killed, the verdict is ERROR, and no process or temporary file stays."""
    started = []
    real = process.ProcessAdapter.__init__

    def remember(self, *args, **kwargs):
        real(self, *args, **kwargs)
        started.append(self.process.pid)

    monkeypatch.setattr(process.ProcessAdapter, "__init__", remember)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = child_processes()
    outcome = run(vectors, ["active.rule.synsent_retransmit"], tmp_path / "out", timeout=0.5)["active.rule.synsent_retransmit"]
    assert outcome.verdict == ERROR and "killed" in outcome.reason
    assert started and not Path(f"/proc/{started[0]}").exists()
    assert child_processes() == before
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # an ERROR writes no trace; no temporary file


class DyingStack:
    """netstack's program started with one argument too many: it exits at once with its usage."""

    def run(self, vector, settings, window):
        return process.run_vector([str(gvisor.program()), "extra"], vector, settings, window)


def test_a_program_that_dies_is_an_error_saying_why(vectors, tmp_path):
    before = child_processes()
    outcome = run(vectors, ["active.rule.synsent_synack"], tmp_path, stack=DyingStack())["active.rule.synsent_synack"]
    assert outcome.verdict == ERROR
    assert "exited while answering 'ready'" in outcome.reason
    assert "usage: gvisor-harness" in outcome.reason
    assert child_processes() == before


def test_the_program_is_built_once_into_tcpmodels_cache(tmp_path):
    first = gvisor.program()
    assert first == gvisor.program() and os.access(first, os.X_OK)
    assert gvisor.go_environment()["GOCACHE"].startswith(str(first.parent.parent.parent))
    version = gvisor.describe()["version"]
    assert version.startswith("gVisor netstack 0.0~") and "golang-gvisor-gvisor-dev" in version


def test_without_go_the_stack_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert "tcpmodel stacks --install gvisor" in gvisor.unavailable_reason()


def test_the_command_line(vectors, tmp_path, capsys):
    report = tmp_path / "report.md"
    code = main(["conform", "--stack", "gvisor", "--profile", "gvisor", "--vectors", "active.rule.closed_*", "--json",
                 "--no-progress", "--out", str(tmp_path / "runs"), "--report", str(report)])
    printed = json.loads(capsys.readouterr().out)
    assert code == 0 and printed["totals"]["PASS"] == 4 and printed["version"].startswith("gVisor netstack")
    text = report.read_text()
    assert text.startswith("<!-- generated by `tcpmodel conform --stack gvisor --profile gvisor --vectors 'active.rule.closed_*'")
    assert "channel.Endpoint" in text and "| `active.rule.closed_no_ack` |" in text
    assert main(["stacks", "gvisor"]) == 0 and "gvisor  ready" in capsys.readouterr().out


def test_a_failed_build_is_a_one_line_error(vectors, tmp_path, monkeypatch, capsys):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "go").write_text('#!/bin/sh\necho "go: cannot find GOROOT" >&2\nexit 1\n')
    (fake / "go").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    monkeypatch.setenv("TCPMODEL_CACHE", str(tmp_path / "cache"))
    assert main(["conform", "--stack", "gvisor", "--vectors", "active.rule.closed_connect", "--no-progress",
                 "--out", str(tmp_path / "runs")]) == 2
    assert "building the gvisor program failed" in capsys.readouterr().err
    assert list((tmp_path / "cache" / "programs").iterdir()) == []  # nothing half-built stays


def test_every_finding_names_vectors_that_exist(vectors):
    """A finding whose globs match no vector (a typo) would explain nothing; whether the findings
    explain exactly the FAILs of a full run is the shared full-run test's to say."""
    import fnmatch

    names = [f.name for f in gvisor.FINDINGS]
    assert len(set(names)) == len(names)
    for finding in gvisor.FINDINGS:
        assert any(fnmatch.filter(vectors, pattern) for pattern in finding.vectors), finding.name
