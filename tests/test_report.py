"""`tcpmodel report`: every claim of the notes gets a row, a verdict derived from real runs, and
artefacts that exist; the same inputs give the same bytes."""

import copy
import dataclasses
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tcpmodel.claims import gather as gathering
from tcpmodel.claims import report
from tcpmodel.claims.document import document
from tcpmodel.claims.judging import (
    CLAIMS,
    CONTRADICTS,
    FAILS,
    VERDICTS,
    Finding,
    Row,
    judge_all,
)
from tcpmodel.claims.witness import Action, replay, shortest_run, state_of
from tcpmodel.cli.main import main
from tcpmodel.experiments import RECORDED as EXPERIMENTS
from tcpmodel.language.spec import load_spec
from tcpmodel.rendering.statediagram import diagram_edges, render_state_diagram
from tests.conftest import REFERENCE, ROOT
from tests.test_provenance import named_command

SPECS = ROOT / "specs"
NOTES = Path("/work/shared/ref/000_e27566675cacb3a3.txt")
LINK = re.compile(r"\]\(([^)#\s]+)\)")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """The quick report, gathered once through the library and written to ``first/``."""
    out = tmp_path_factory.mktemp("first")
    ev = gathering.gather(SPECS, EXPERIMENTS, quick=True)
    rows = judge_all(ev)
    report.write(out, document(ev, rows, out), ev.artefacts)
    return ev, rows, out


def test_every_claim_has_one_row_with_a_verdict(quick):
    _, rows, out = quick
    assert [r.claim.number for r in rows] == list(range(1, 17))
    assert all(r.verdict in VERDICTS and r.findings for r in rows)
    table = [line for line in (out / "seed-claims.md").read_text().splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(table) == 16
    for line, row in zip(table, rows, strict=True):
        cells = line.split(" | ")
        assert cells[0] == f"| {row.claim.number}" and f"**{row.verdict}**" in cells


def test_the_quick_run_finds_what_the_recorded_report_finds(quick):
    _, rows, _ = quick
    verdicts = {r.claim.number: r.verdict for r in rows}
    assert FAILS not in verdicts.values()
    corrected = {n for n, v in verdicts.items() if v == "holds with a correction"}
    assert corrected == {2, 5, 7, 9, 13, 15, 16}


def test_every_linked_artefact_exists(quick):
    ev, _, out = quick
    text = (out / "seed-claims.md").read_text()
    targets = set(LINK.findall(text))
    assert {f"seed-claims/{name}" for name in ev.artefacts if name.endswith((".svg", ".md"))} <= targets  # every picture shown
    for name in ev.artefacts:  # and every run drawn is there as JSON lines too
        assert not name.endswith(".svg") or name == "state-diagram.svg" or name.removesuffix(".svg") + ".jsonl" in ev.artefacts
    for target in targets:
        assert (out / target).resolve().is_file(), target
    for svg in (out / "seed-claims").glob("*.svg"):
        assert ET.fromstring(svg.read_text()).tag.endswith("svg"), svg


def test_the_same_inputs_give_the_same_bytes(quick, tmp_path_factory, capsys, monkeypatch):
    _, _, first = quick
    second = tmp_path_factory.mktemp("second")
    monkeypatch.chdir(second)  # the recorded runs are found in the package from any working directory
    argv = ["report", "--quick", "--no-progress", "--out", str(second), "--specs", str(SPECS)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("claims:    16 (9 holds, 7 holds with a correction)")
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


@pytest.mark.slow
def test_the_tracked_report_is_what_tcpmodel_report_writes_today(tmp_path, monkeypatch):
    """`tcpmodel report` (the full scenarios, about 2.5 minutes), run as from the repository's root,
    writes exactly the tracked reports/seed-claims.md and reports/seed-claims/, byte for byte. It is
    written into tmp_path; its links are those of a report in reports/."""
    monkeypatch.chdir(ROOT)
    built = report.build(Path("specs"), EXPERIMENTS, Path("reports"))
    written = report.write(tmp_path, built.text, built.artefacts)
    tracked = sorted([ROOT / "reports" / "seed-claims.md", *(ROOT / "reports" / "seed-claims").iterdir()])
    assert sorted(p.relative_to(tmp_path) for p in written) == [p.relative_to(ROOT / "reports") for p in tracked]
    for path in tracked:
        assert (tmp_path / path.relative_to(ROOT / "reports")).read_bytes() == path.read_bytes(), path.name


def test_every_artefact_names_the_command_that_writes_it(quick):
    ev, _, out = quick
    assert ev.command == "tcpmodel report --quick"
    for path in [out / "seed-claims.md", *(out / "seed-claims").iterdir()]:
        assert named_command(path) == "tcpmodel report --quick", path.name


def test_a_verdict_follows_the_evidence(quick):
    """Change one result and the verdict changes with it: nothing is written down."""
    ev, _rows, _ = quick
    reliable = next(c for c in CLAIMS if c.number == 2)
    broken = copy.copy(ev)
    checked = ev.checks["reference"]
    broken.checks = {**ev.checks, "reference": dataclasses.replace(checked, holds={**checked.holds, "stream_integrity": False})}
    assert Row(reliable, reliable.judge(broken)).verdict == FAILS
    cost = next(c for c in CLAIMS if c.number == 16)
    kernel = copy.deepcopy(ev.kernel)
    kernel["time-wait-cost"]["server"]["after"]["fds"] += 1000
    broken = copy.copy(ev)
    broken.kernel = kernel
    assert Row(cost, cost.judge(broken)).verdict == FAILS
    four = next(c for c in CLAIMS if c.number == 12)
    broken = copy.copy(ev)
    broken.shown = {**ev.shown, "close-wait-send": dataclasses.replace(ev.shown["close-wait-send"], run=None)}
    assert Row(four, four.judge(broken)).verdict == FAILS
    assert Row(four, [Finding(CONTRADICTS, "model", "x", "x")]).verdict == FAILS
    assert Row(four, []).verdict == FAILS


def test_the_witnesses_show_what_the_claims_say(quick):
    ev, _, _ = quick
    assert ev.shown["third-segment-data"].facts["rule"] == "synrcvd_ack"
    assert ev.shown["close-wait-send"].facts["a_state"] == "FIN-WAIT-2"
    restart = ev.shown["time-wait-restart"].facts
    assert restart["before"] < restart["after"] == restart["full"] == 2 * restart["msl"]
    two_way, reference = ev.shown["old-duplicate-syn.two_way_handshake"].facts, ev.shown["old-duplicate-syn.rfc9293"].facts
    assert two_way["b_after_old_syn"] == "ESTABLISHED" and two_way["final"] == {"A": "CLOSED", "B": "CLOSED"}
    assert reference["b_after_old_syn"] == "SYN-RECEIVED" and reference["final"] == {"A": "ESTABLISHED", "B": "ESTABLISHED"}
    assert all(r.ok for r in ev.proofs.values())
    assert {verdict.verdict for _, verdict in ev.oracle.values()} == {"PASS"}


def test_a_missing_recorded_experiment_is_one_line_and_exit_2(tmp_path, capsys):
    argv = ["report", "--quick", "--no-progress", "--out", str(tmp_path / "out"), "--specs", str(SPECS),
            "--experiments", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no recorded kernel experiment" in err[0] and "tcpmodel experiment time-wait --record" in err[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not NOTES.exists(), reason="the source notes are not on this machine")
def test_every_quote_is_the_notes_own_words():
    notes = NOTES.read_text(encoding="utf-8").replace("==", "")  # the notes' highlight marks
    for claim in CLAIMS:
        for quote in claim.quotes:
            assert quote in notes, (claim.number, quote)


def test_the_state_diagram_has_every_state_and_every_rule_edge():
    spec = load_spec(REFERENCE)
    svg = render_state_diagram(spec)
    root = ET.fromstring(svg)
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert set(spec.states) <= texts
    edges = diagram_edges(spec)
    assert len(root.findall(".//{*}path")) == len(edges) + 2  # two arrowhead markers
    pairs = {(e.source, e.target) for e in edges}
    assert ("LISTEN", "SYN-RECEIVED") in pairs and ("CLOSE-WAIT", "LAST-ACK") in pairs and ("TIME-WAIT", "CLOSED") in pairs
    named = {r.name for e in edges for r in e.rules}
    assert named == {r.name for r in spec.rules if r.active(frozenset()) and r.to and set(r.states) - {r.to}}
    assert svg == render_state_diagram(spec)


def test_a_witness_is_the_shortest_run_through_its_milestones(reference):
    from tcpmodel.claims.gather import BASIC, system_for

    s = system_for(reference, BASIC)
    run = shortest_run(s, [lambda lab, p, q: state_of(s, q, "A") == state_of(s, q, "B") == "ESTABLISHED"])
    assert [r["rule"] for r in run.records()] == ["closed_connect", "closed_listen", "listen_syn", "synsent_synack", "synrcvd_ack"]
    run, stuck = replay(s, [Action("A", "CONNECT"), Action("A", "SEGMENT", "SYN,ACK")])
    assert stuck == 1 and len(run.steps) == 1
