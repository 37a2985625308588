"""The packed search of the TCP system against the state-by-state one: the same graph, the same
verdicts, the same counterexamples; and the bounds of ``tcpmodel check``."""

import json

import numpy as np
import pytest

from tcpmodel.checking.check import check
from tcpmodel.cli.main import main
from tcpmodel.engine.explore import Bounds
from tcpmodel.language.spec import load_spec
from tcpmodel.system.scenario import make_scenario
from tests.conftest import REFERENCE, VARIANTS

FIFO = dict(loss=False, duplication=False, reordering=False)


def both(spec, **settings):
    scenario = make_scenario(spec, settings)
    return check(spec, scenario, engine="generic"), check(spec, scenario)


def assert_same_check(generic, packed):
    a, b = generic.exploration, packed.exploration
    assert b.packed and not a.packed
    assert (a.count, a.transitions, a.depth, a.complete) == (b.count, b.transitions, b.depth, b.complete)
    assert list(a.states) == list(b.states)
    assert list(a.parent) == list(b.parent)
    assert list(a.offsets) == list(b.offsets)
    assert list(a.targets) == list(b.targets)
    assert bytes(a.tags) == bytes(np.asarray(b.tags, dtype=np.uint8))
    assert generic.rule_counts == packed.rule_counts
    assert [(p.prop.name, p.holds) for p in generic.properties] == [(p.prop.name, p.holds) for p in packed.properties]
    for p, q in zip(generic.properties, packed.properties, strict=True):
        if p.counterexample:
            assert p.counterexample.step_records() == q.counterexample.step_records()
            assert p.counterexample.cycle_start == q.counterexample.cycle_start
    assert (generic.unreachable_states, generic.quiet_states, generic.span) == (packed.unreachable_states, packed.quiet_states, packed.span)


@pytest.mark.parametrize("settings", [
    dict(incarnations=1, **FIFO),
    dict(incarnations=1, capacity=1),  # loss, duplication and reordering
    dict(incarnations=2, capacity=1, duplication=False),
    dict(incarnations=1, capacity=1, timed=True, **FIFO),
], ids=["fifo", "lossy-reordering", "two-incarnations", "timed"])
def test_packed_and_state_by_state_checks_agree(reference, settings):
    assert_same_check(*both(reference, **settings))


@pytest.mark.parametrize("settings", [
    dict(incarnations=1, abort=False, **FIFO),  # deadlock, progress, open_completes: lassos
    dict(incarnations=1, quiet_time=False, duplication=False),  # no_stale_reset
], ids=["fin-wait-2-forever", "stale-reset"])
def test_packed_and_state_by_state_find_the_same_counterexamples(reference, settings):
    generic, packed = both(reference, **settings)
    assert generic.violated
    assert_same_check(generic, packed)


@pytest.mark.parametrize("variant", ["no_time_wait", "naive_compare"])
def test_packed_and_state_by_state_agree_on_variants(variant):
    spec = load_spec(VARIANTS / f"{variant}.toml")
    generic, packed = both(spec)
    assert generic.violated
    assert_same_check(generic, packed)


@pytest.mark.parametrize("bound", [1, 700, 5000])
def test_packed_and_state_by_state_stop_at_the_same_state(reference, bound):
    """--max-states cuts the search after the same state, with the same rule counts so far and
    the same violations found so far (here: none, so every property is unknown)."""
    scenario = make_scenario(reference, dict(incarnations=1, capacity=1))
    generic = check(reference, scenario, Bounds(max_states=bound), engine="generic")
    packed = check(reference, scenario, Bounds(max_states=bound))
    assert not packed.exploration.complete and packed.exploration.stop_reason == f"--max-states {bound} reached"
    assert_same_check(generic, packed)
    assert all(p.holds is None for p in packed.properties)


@pytest.mark.parametrize("bound", [20_000, 60_000])
def test_violations_found_before_the_bound_are_the_same(bound):
    """A cut search reports the violations it met, the same in both searches (the old duplicate
    SYN of the two-way handshake: a state invariant and two step properties)."""
    spec = load_spec(VARIANTS / "two_way_handshake.toml")
    scenario = make_scenario(spec, {})
    generic = check(spec, scenario, Bounds(max_states=bound), engine="generic")
    packed = check(spec, scenario, Bounds(max_states=bound))
    assert not packed.exploration.complete
    assert {p.prop.name for p in packed.violated} >= {"handshake_agreement"}
    assert_same_check(generic, packed)


def test_too_many_values_for_the_packed_code_fall_back_to_the_state_by_state_search(reference, monkeypatch):
    import tcpmodel.checking.packed as packed_module

    original = packed_module.PackedSystem.__init__

    def narrow(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.width = 3  # at most 8 locals and 8 channels

    monkeypatch.setattr(packed_module.PackedSystem, "__init__", narrow)
    scenario = make_scenario(reference, dict(incarnations=1, **FIFO))
    result = check(reference, scenario)
    assert not result.exploration.packed
    assert result.notes == ["explored state by state: more than 8 distinct endpoint or channel values"]
    assert (result.exploration.count, result.exploration.transitions) == (10_710, 27_657)
    from tcpmodel.rendering.summary import to_text

    assert "note:      explored state by state: more than 8 distinct endpoint or channel values" in to_text(result)


def test_max_memory_stops_with_exit_3_and_one_line(tmp_path, capsys):
    code = main(["check", str(REFERENCE), "--max-memory", "1M", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 3
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("tcpmodel: stopped: --max-memory 1M reached after ")
    assert "result: INCOMPLETE" in captured.out and "--max-memory 1M reached" in captured.out
    assert "unknown" in captured.out


def test_max_memory_in_json_and_state_by_state(reference):
    scenario = make_scenario(reference, dict(incarnations=1, **FIFO))
    result = check(reference, scenario, Bounds(max_memory=1 << 20), engine="generic")
    assert not result.exploration.complete and result.exploration.stop_reason == "--max-memory 1M reached"
    assert all(p.holds is None for p in result.properties)


@pytest.mark.parametrize("text", ["2G", "3000M", "2.5g", "4GiB", "8589934592"])
def test_max_memory_sizes(text, capsys):
    assert main(["check", str(REFERENCE), "--incarnations", "1", "--no-loss", "--no-duplication", "--no-reordering",
                 "--max-memory", text, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["complete"] is True


@pytest.mark.parametrize("text", ["lots", "2X", "0", "10K"])
def test_max_memory_rejects_bad_sizes(text, capsys):
    assert main(["check", str(REFERENCE), "--max-memory", text]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tcpmodel: error: argument --max-memory:") and len(err.strip().splitlines()) == 1


def test_memory_is_reported_per_stored_state(reference, capsys):
    assert main(["check", str(REFERENCE), "--incarnations", "1", "--no-loss", "--no-duplication", "--no-reordering", "--json"]) == 0
    memory = json.loads(capsys.readouterr().out)["memory"]
    assert memory["engine"] == "packed"
    assert 8 < memory["bytes_per_state"] < 64
    assert memory["store_bytes"] > 0 and memory["edge_bytes"] > 0 and memory["peak_rss_bytes"] > memory["store_bytes"]
    main(["check", str(REFERENCE), "--incarnations", "1", "--no-loss", "--no-duplication", "--no-reordering"])
    assert "bytes per stored state" in capsys.readouterr().out
