"""Counterexamples are runs in the trace format: `tcpmodel replay` re-executes what `tcpmodel check`
writes and reproduces its violation, `tcpmodel audit` judges each of its endpoints, and a run
changed by hand no longer replays, at the line that was changed."""

import json

import pytest

from tcpmodel.base.errors import InputError
from tcpmodel.checking.check import check
from tcpmodel.cli.main import main
from tcpmodel.language.spec import load_spec
from tcpmodel.system.scenario import make_scenario
from tcpmodel.system.steps import EndpointStep
from tcpmodel.traces.run import read_run
from tcpmodel.traces.trace import read_trace
from tests.conftest import REFERENCE, VARIANTS

NAMES = sorted(p.stem for p in VARIANTS.glob("*.toml"))


@pytest.fixture(scope="module")
def counterexamples(tmp_path_factory):
    """Every variant checked under its own [scenario] table: its counterexample files."""
    out = tmp_path_factory.mktemp("counterexamples")
    for name in NAMES:
        assert main(["check", str(VARIANTS / f"{name}.toml"), "--out", str(out)]) == 1
    return out


def files_of(out, variant):
    files = sorted(out.glob(f"{variant}.*.jsonl"))
    assert files, variant
    return files


def lines_of(path):
    return path.read_text().splitlines()


@pytest.mark.parametrize("variant", NAMES)
def test_every_counterexample_replays_and_reproduces(counterexamples, variant, capsys):
    for path in files_of(counterexamples, variant):
        assert main(["replay", str(path)]) == 0, capsys.readouterr().out
        out = capsys.readouterr().out
        steps = len(lines_of(path)) - 1
        assert f"steps:     {steps} of {steps} re-executed" in out and out.endswith("result: reproduced\n")


@pytest.mark.parametrize("variant", NAMES)
def test_every_counterexample_is_audited_and_passes_its_own_spec(counterexamples, variant, capsys):
    for path in files_of(counterexamples, variant):
        code = main(["audit", str(path), "--spec", str(VARIANTS / f"{variant}.toml"), "--json", "--out", str(counterexamples / "audits")])
        result = json.loads(capsys.readouterr().out)
        assert code == 0 and result["errors"] == []
        names = [c["connection"] for c in result["connections"]]
        assert any(n.endswith("A #1") for n in names) and any(n.endswith("B #1") for n in names)
        assert all(c["verdict"] == "PASS" for c in result["connections"]), result["connections"]


def test_a_run_is_a_trace_file_the_endpoint_reader_sends_to_replay(counterexamples):
    path = files_of(counterexamples, "no_time_wait")[0]
    header = json.loads(lines_of(path)[0])
    assert header["tcpmodel_trace"] == 1 and header["kind"] == "run" and header["scenario"]["incarnations"] == 1
    run = read_run(path)
    assert [s.record["index"] for s in run.steps] == list(range(1, len(run.steps) + 1))
    with pytest.raises(InputError, match=f"^{path}:1: a run of the whole system.*tcpmodel replay"):
        read_trace(path)


def test_a_changed_step_fails_the_replay_at_its_line(counterexamples, tmp_path, capsys):
    lines = lines_of(files_of(counterexamples, "no_time_wait")[0])
    number = next(n for n, line in enumerate(lines[1:], 2) if json.loads(line).get("sent"))
    record = json.loads(lines[number - 1])
    record["sent"][0]["seq"] = (record["sent"][0]["seq"] + 1) % 2**32
    lines[number - 1] = json.dumps(record, sort_keys=True)
    path = tmp_path / "changed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert main(["replay", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"diverges:  {path}:{number}: step {number - 1} is not a step the system has in the state reached" in out
    assert out.endswith("result: diverges\n")


def test_a_run_cut_short_no_longer_violates(counterexamples, tmp_path, capsys):
    path = tmp_path / "short.jsonl"
    path.write_text("\n".join(lines_of(files_of(counterexamples, "no_time_wait")[0])[:-1]) + "\n")
    assert main(["replay", str(path), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert not result["reproduced"] and result["replayed"] == result["steps"]
    assert result["reason"] == "the last step does not break graceful_close"


def test_a_lasso_must_come_back_to_where_its_cycle_starts(counterexamples, tmp_path, capsys):
    source = files_of(counterexamples, "naive_compare")[0]
    lines = lines_of(source)
    header = json.loads(lines[0])
    assert header["property"] == "close_completes" and header["cycle_start"]
    header["cycle_start"] = 1
    path = tmp_path / "lasso.jsonl"
    path.write_text("\n".join([json.dumps(header)] + lines[1:]) + "\n")
    assert main(["replay", str(path)]) == 1
    assert "the cycle from step 1 does not come back to the state it started from" in capsys.readouterr().out


def test_a_variants_run_diverges_on_the_reference(counterexamples, capsys):
    path = files_of(counterexamples, "no_time_wait")[0]
    assert main(["replay", str(path), "--spec", str(REFERENCE)]) == 1
    out = capsys.readouterr().out
    assert f"diverges:  {path}:" in out and "is not a step the system has" in out


@pytest.mark.parametrize(("change", "message"), [
    (lambda lines: lines[:1] + lines[2:], ':2: "index" is 2: this is step 1'),
    (lambda lines: [lines[0].replace('"kind": "run", ', "")] + lines[1:], ":1: not a run"),
    (lambda lines: [lines[0].replace('"property": "graceful_close"', '"property": "graceful_clos"')] + lines[1:],
     ':1: unknown property "graceful_clos" (did you mean "graceful_close"?)'),
])
def test_bad_input_is_one_line_with_file_and_line(counterexamples, tmp_path, capsys, change, message):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(change(lines_of(files_of(counterexamples, "no_time_wait")[0]))) + "\n")
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"tcpmodel: error: {path}{message}"), err


def test_replay_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["replay", "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "tcpmodel replay counterexamples/" in text and "exit codes:" in text


class Counter:
    """A StepWatcher that keeps every step it sees."""

    def __init__(self):
        self.steps = []

    def on_step(self, k, step, j):
        self.steps.append((k, step, j))


def test_a_watcher_sees_every_endpoint_step_decoded(reference):
    scenario = make_scenario(reference, {"incarnations": 1, "loss": False, "duplication": False, "reordering": False})
    watcher = Counter()
    result = check(reference, scenario, watch=watcher)
    assert len(watcher.steps) == sum(result.rule_counts.values()) > 0
    states = result.exploration.states
    for k, step, j in watcher.steps[:2000]:
        assert isinstance(step, EndpointStep) and step.kind in ("call", "segment", "timer")
        assert states[k][0][step.actor] == step.pre and states[j][0][step.actor] == step.post
        assert states[k][0][1 - step.actor] == step.peer and (step.ghost, step.new_ghost) == (states[k][2][step.actor], states[j][2][step.actor])


def test_every_spec_named_in_a_run_is_loaded(counterexamples, tmp_path, capsys):
    lines = lines_of(files_of(counterexamples, "fixed_isn")[0])
    header = json.loads(lines[0])
    header["spec_file"] = str(tmp_path / "nowhere.toml")
    path = tmp_path / "moved.jsonl"
    path.write_text("\n".join([json.dumps(header)] + lines[1:]) + "\n")
    assert main(["replay", str(path)]) == 2
    assert "the run's spec cannot be loaded (give one with --spec)" in capsys.readouterr().err
    assert main(["replay", str(path), "--spec", str(VARIANTS / "fixed_isn.toml")]) == 0
    assert load_spec(VARIANTS / "fixed_isn.toml").name == header["spec"]


KEPT_RUNS = sorted(p for p in (REFERENCE.parent.parent / "reports" / "seed-claims").glob("*.jsonl")
                   if json.loads(p.read_text().split("\n", 1)[0]).get("property"))


@pytest.mark.parametrize("path", KEPT_RUNS, ids=lambda p: p.name)
def test_the_reports_counterexamples_replay(path, capsys, monkeypatch):
    """The counterexamples tcpmodel report keeps (their headers also name that command) replay."""
    monkeypatch.chdir(REFERENCE.parent.parent)
    assert main(["replay", str(path)]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.rstrip().endswith("result: reproduced")


def test_there_are_kept_counterexamples():
    assert len(KEPT_RUNS) >= 4
