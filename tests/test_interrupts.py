"""Interrupts (issue 20): Ctrl-C, SIGTERM and time limits never become a result that looks complete.

Each test sends a real signal to this process at a chosen point of a run (a library function is
wrapped so that it signals when it is called), then checks what the command printed, its exit
code and what it left on disk. tests/test_interrupt_moments.py sends them at random moments to
whole runs of the command."""

import json
import os
import signal
import threading
import time

import pytest
import z3

import tcpmodel.checking.check as check_module
import tcpmodel.claims.gather as gather_module
import tcpmodel.cli.audit as cli_audit
import tcpmodel.cli.export as cli_export
import tcpmodel.conformance.harness as harness
import tcpmodel.conformance.run as conformance_run
import tcpmodel.proofs.prove as prove_module
from tcpmodel.base.interrupts import Interrupted, reason_of, signals_held, terminate_raises, time_limit
from tcpmodel.checking.packed import PackedSystem
from tcpmodel.cli.main import main
from tcpmodel.conformance.outcomes import Recording, Settings
from tcpmodel.engine import graph
from tcpmodel.engine.explore import explore
from tcpmodel.language.spec import load_spec
from tcpmodel.oracle.profiles import PROFILES
from tcpmodel.proofs.results import check_sat, fresh_solver
from tcpmodel.system.composed import System
from tcpmodel.system.scenario import make_scenario
from tcpmodel.vectors.generation import generate
from tests.conftest import REFERENCE, ROOT

SMALL = ["--incarnations", "1", "--no-loss", "--no-duplication", "--no-reordering"]
TRACE = ROOT / "reports" / "seed-claims" / "third-segment-data.active.trace.jsonl"


def signalling(function, signum=signal.SIGINT, on_call=1):
    """``function``, but its ``on_call``-th call first sends ``signum`` to this process: the signal
    arrives while the caller is inside it, as Ctrl-C or a kill would."""
    calls = [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == on_call:
            os.kill(os.getpid(), signum)
        return function(*args, **kwargs)

    wrapper.calls = calls
    return wrapper


def files_in(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


# ---------------------------------------------------------------- the mechanism


def test_sigterm_raises_an_interrupt_with_its_reason_and_the_handler_comes_back():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as caught, terminate_raises():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert isinstance(caught.value, KeyboardInterrupt) and reason_of(caught.value) == "terminated (SIGTERM)"
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_held_signal_is_delivered_when_the_block_ends():
    reached = []
    with pytest.raises(KeyboardInterrupt), signals_held():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        reached.append("end of block")
    assert reached == ["end of block"]


def test_a_time_limit_interrupts_with_its_reason():
    started = time.monotonic()
    with pytest.raises(Interrupted) as caught, time_limit(0.2, "--max-seconds 0.2 reached"):
        time.sleep(10)
    assert caught.value.reason == "--max-seconds 0.2 reached" and time.monotonic() - started < 5
    with time_limit(5, "never"):
        pass
    time.sleep(0.01)  # the timer was cancelled with the block


def test_z3_answers_unknown_to_ctrl_c_and_check_sat_makes_it_an_interrupt():
    """Z3 catches SIGINT itself while it solves and answers "unknown": an obligation, a witness or
    a claim would pass for one Z3 gave up on (the report's wrong verdicts). check_sat raises."""

    def hard():
        x, y = z3.BitVec("x", 256), z3.BitVec("y", 256)
        solver = fresh_solver(60)
        solver.add(x * y == 0x123456789ABCDEF123456789ABCDEF1234567890ABCDEF1234567891, z3.UGT(x, 1), z3.UGT(y, 1))
        return solver

    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    solver = hard()
    assert solver.check() == z3.unknown and solver.reason_unknown() == "interrupted from keyboard"
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    with pytest.raises(KeyboardInterrupt):
        check_sat(hard())


# ---------------------------------------------------------------- check


def test_sigterm_during_the_search_prints_what_was_explored_and_exits_3(monkeypatch, capsys):
    monkeypatch.setattr(PackedSystem, "expand", signalling(PackedSystem.expand, signal.SIGTERM, on_call=3))
    assert main(["check", str(REFERENCE), *SMALL, "--json"]) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["complete"] is False and data["search_complete"] is False
    assert data["stop_reason"] == "terminated (SIGTERM)" and 0 < data["states"] < 10_710
    assert {p["holds"] for p in data["properties"]} == {None}


def test_ctrl_c_during_the_liveness_analysis_keeps_the_complete_search(monkeypatch, capsys):
    original = graph.bottom_components
    monkeypatch.setattr(graph, "bottom_components", signalling(original))
    assert main(["check", str(REFERENCE), *SMALL, "--json"]) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["states"] == 10_710 and data["transitions"] == 27_657 and data["search_complete"] is True
    assert data["complete"] is False and data["stop_reason"] == "interrupted during the liveness analysis"
    holds = {p["name"]: p["holds"] for p in data["properties"]}
    liveness = {p["name"] for p in data["properties"] if p["kind"] == "liveness"}
    assert all(holds[name] is True for name in holds if name not in liveness)  # every safety verdict
    assert holds["deadlock_free"] is True and holds["progress"] is True  # decided before the signal
    assert holds["open_completes"] is None and holds["close_completes"] is None
    monkeypatch.setattr(graph, "bottom_components", signalling(original))
    assert main(["check", str(REFERENCE), *SMALL]) == 3
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1] == ("result: INCOMPLETE: the search was complete and no property is violated; not "
                                             "decided: open_completes, close_completes (interrupted during the liveness analysis)")


def test_a_violation_found_before_ctrl_c_is_still_written_whole(monkeypatch, tmp_path, capsys):
    """no_time_wait's counterexample is found in the search; Ctrl-C in the liveness analysis keeps
    it (exit 1: a violation is a result), and its two files are written."""
    monkeypatch.setattr(check_module, "_liveness", signalling(check_module._liveness))
    out = tmp_path / "ce"
    assert main(["check", str(ROOT / "specs" / "variants" / "no_time_wait.toml"), "--out", str(out), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["complete"] is False and [p["name"] for p in data["properties"] if p["holds"] is False] == ["graceful_close"]
    assert files_in(out) == ["no_time_wait.graceful_close.jsonl", "no_time_wait.graceful_close.svg"]


# ---------------------------------------------------------------- vectors, report, prove


@pytest.mark.parametrize("where", ["search", "building"])
def test_ctrl_c_in_vectors_writes_no_vector(where, monkeypatch, tmp_path, capsys):
    """The reproducer: Ctrl-C in the search wrote 873-880 of the 881 vectors and 100 % coverage."""
    if where == "search":
        monkeypatch.setattr(System, "successors", signalling(System.successors, on_call=2000))
    else:
        from tcpmodel.vectors import generation

        monkeypatch.setattr(generation._Builder, "vector", signalling(generation._Builder.vector, on_call=100))
    out = tmp_path / "pkt"
    assert main(["vectors", str(REFERENCE), "--out", str(out), "--format", "packetdrill"]) == 3
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "tcpmodel: interrupted\n"
    assert files_in(tmp_path) == []


def test_an_interrupted_search_is_never_made_into_vectors():
    spec = load_spec(REFERENCE)
    system = System(spec, make_scenario(spec, {"incarnations": 1}))

    class Stopping:
        def initial_states(self):
            return system.initial_states()

        successors = signalling(lambda self, state: system.successors(state), on_call=500)

    ex = explore(Stopping(), on_state=lambda k, s: None)
    assert not ex.complete and ex.stop_reason == "interrupted"
    with pytest.raises(Interrupted, match="interrupted"):
        ex.whole()


def test_ctrl_c_in_the_first_check_of_report_writes_no_report(monkeypatch, tmp_path, capsys):
    """The reproducer: Ctrl-C in the first seconds of `report` wrote "4 hold, 5 with a correction,
    7 do not hold" (every claim judged on a cut-short search) and exit 0."""
    monkeypatch.setattr(System, "successors", signalling(System.successors, on_call=3000))
    assert main(["report", "--quick", "--out", str(tmp_path / "r"), "--no-progress"]) == 3
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "tcpmodel: interrupted (no report written)\n"
    assert files_in(tmp_path) == []


def test_run_check_refuses_an_incomplete_check(monkeypatch):
    monkeypatch.setattr(System, "successors", signalling(System.successors, signal.SIGTERM, on_call=3000))
    spec = load_spec(REFERENCE)
    with pytest.raises(Interrupted, match=r"^terminated \(SIGTERM\)$"), terminate_raises():
        gather_module.run_check(None, "reference", spec, {"incarnations": 1}, lambda text: None, gather_module.Ledger(spec))


def test_ctrl_c_in_prove_prints_what_it_decided_and_writes_no_report(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(prove_module, "decide", signalling(prove_module.decide, on_call=10))
    report = tmp_path / "proofs.md"
    assert main(["prove", str(REFERENCE), "--report", str(report)]) == 3
    captured = capsys.readouterr()
    assert "result: INCOMPLETE: interrupted after 9 obligations\n" in captured.out
    assert captured.out.startswith("spec:        rfc9293") and "obligations: 9: 9 proved" in captured.out
    assert captured.err == "tcpmodel: interrupted\n" and not report.exists()


# ---------------------------------------------------------------- audit, export


def test_ctrl_c_in_audit_prints_the_files_judged(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli_audit, "audit_file", signalling(cli_audit.audit_file, on_call=2))
    assert main(["audit", str(TRACE), str(TRACE), "--out", str(tmp_path / "ladders")]) == 3
    captured = capsys.readouterr()
    assert "1 connection: 1 PASS" in captured.out
    assert captured.err == "tcpmodel: interrupted after 1 of 2 files (no ladder diagram written)\n"


def test_sigterm_in_export_writes_nothing(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli_export, "write_export", signalling(cli_export.write_export, signal.SIGTERM))
    assert main(["export", str(REFERENCE), *SMALL, "--format", "tla", "--out", str(tmp_path / "m")]) == 3
    assert capsys.readouterr().err == "tcpmodel: terminated (SIGTERM)\n" and files_in(tmp_path) == []


# ---------------------------------------------------------------- conform


@pytest.fixture(scope="module")
def vectors():
    return {v.name: v for v in generate(load_spec(REFERENCE)).vectors}


class Silent:
    """A stack that records nothing: every vector is an ERROR ("the recording holds 0 of ...")."""

    NAME = "silent"
    FINDINGS = ()

    @staticmethod
    def unavailable_reason():
        return None

    @staticmethod
    def describe():
        return {"version": "silent 1"}

    @staticmethod
    def run(vector, settings, window):
        return Recording(endpoint="10.9.0.1:40000", peer="10.9.0.2:5000")


NAMES = ("active.rule.closed_connect", "active.rule.synsent_close", "active.rule.synsent_abort")


def test_ctrl_c_while_a_vector_is_judged_keeps_the_vectors_before(vectors, monkeypatch, tmp_path):
    """Before, only Ctrl-C inside the stack's run was caught: one while judging or writing a
    vector's files ran through the caller and the staging folder stayed."""
    monkeypatch.setattr(harness, "to_trace", signalling(harness.to_trace, signal.SIGTERM, on_call=2))

    class Recorded(Silent):
        @staticmethod
        def run(vector, settings, window):
            from tcpmodel.traces.trace import CallEvent

            calls = [s["stimulus"]["call"] for s in vector["steps"] if "call" in s["stimulus"]]
            return Recording(events=[CallEvent(0.0, c) for c in calls], endpoint="10.9.0.1:40000", peer="10.9.0.2:5000")

    interrupted = []
    chosen = [vectors[n] for n in ("active.rule.closed_connect", "passive.rule.closed_listen")]
    with terminate_raises():
        outcomes = harness.run_suite(load_spec(REFERENCE), chosen, Recorded, PROFILES["rfc9293"], Settings(), tmp_path, interrupted=interrupted)
    assert [o.name for o in outcomes] == ["active.rule.closed_connect"]
    assert interrupted == ["terminated (SIGTERM) at passive.rule.closed_listen"]


def test_sigterm_in_conform_with_a_report_leaves_no_staging(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(conformance_run, "stack_module", lambda name: Silent)
    monkeypatch.setattr(Silent, "run", staticmethod(signalling(Silent.run, signal.SIGTERM, on_call=2)))
    report = tmp_path / "reports" / "silent.md"
    assert main(["conform", "--stack", "silent", "--vectors", ",".join(NAMES), "--report", str(report), "--no-progress"]) == 3
    captured = capsys.readouterr()
    assert "result: INCOMPLETE (terminated (SIGTERM) at active.rule.synsent_close: 1 of 3 vectors run): 1 vectors" in captured.out
    assert captured.err == ("tcpmodel: terminated (SIGTERM) at active.rule.synsent_close "
                            "(1 of 3 vectors run; no report written)\n")
    assert files_in(tmp_path) == []  # no report, no staging folder, and the report's folder was not left made


def test_a_complete_conform_report_is_put_in_place_whole(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(conformance_run, "stack_module", lambda name: Silent)
    report = tmp_path / "silent.md"
    (tmp_path / "silent").mkdir()
    (tmp_path / "silent" / "stale.svg").write_text("of an earlier run")
    assert main(["conform", "--stack", "silent", "--vectors", ",".join(NAMES), "--report", str(report), "--no-progress"]) == 1
    assert "result: 3 vectors" in capsys.readouterr().out
    assert files_in(tmp_path) == ["README.md", "silent", "silent.json", "silent.md"]  # the folder replaced whole
    data = json.loads((tmp_path / "silent.json").read_text())
    assert [v["verdict"] for v in data["vectors"]] == ["ERROR"] * 3 and data["complete"] is False
    assert "| silent | silent 1 |" in (tmp_path / "README.md").read_text()
