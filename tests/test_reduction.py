"""The reduction ``System.merge_causes`` (``tcpmodel check --reduce``): a quotient that keeps
every verdict and every shortest counterexample's length.

Its soundness is argued in ``tcpmodel.system.composed``'s docstring (segments' ``cause`` is written and
never read but for its ABSOLUTE_SEQ bit). Here the argument's central claim, that clearing the
cause is a functional bisimulation, is checked state by state, and its consequences on the
reference and every variant."""

import json

import pytest

from tcpmodel.checking.check import check
from tcpmodel.checking.properties import Observer
from tcpmodel.cli.main import main
from tcpmodel.engine.explore import explore
from tcpmodel.language.spec import load_spec
from tcpmodel.system.composed import ABSOLUTE_SEQ, CAUSE, System
from tcpmodel.system.scenario import make_scenario
from tests.conftest import REFERENCE, VARIANTS
from tests.test_variants import EXPECTED


def merged(seg: tuple) -> tuple:
    return seg[:CAUSE] + (seg[CAUSE] & ABSOLUTE_SEQ,) + seg[CAUSE + 1:]


def quotient(system: System, state: tuple) -> tuple:
    """h: every segment's cause cleared but for ABSOLUTE_SEQ (channels re-sorted when they are
    multisets)."""
    endpoints, channels, ghost = state
    channels = tuple(tuple(merged(s) for s in ch) for ch in channels)
    if system.scenario.reordering:
        channels = tuple(tuple(sorted(ch)) for ch in channels)
    return endpoints, channels, ghost


def quotient_label(label):
    return label._replace(segment=merged(label.segment) if label.segment else None, sent=tuple(merged(s) for s in label.sent))


@pytest.mark.parametrize("settings", [
    dict(incarnations=1, capacity=1),  # loss, duplication, reordering
    dict(incarnations=2, capacity=1, duplication=False, reordering=False),
    dict(incarnations=1, capacity=1, timed=True, duplication=False, reordering=False, data=0, abort=False),
], ids=["reordering", "two-incarnations-fifo", "timed"])
def test_merging_causes_is_a_functional_bisimulation(reference, settings):
    """For every reachable state s: the steps of h(s) in the reduced system are h of the steps of
    s, label for label, and h of every reachable state is reachable in the reduced system."""
    scenario = make_scenario(reference, settings)
    full = System(reference, scenario, Observer(reference))
    reduced = System(reference, scenario, Observer(reference), merge_causes=True)
    full_states = explore(full).states
    reduced_states = set(explore(reduced).states)
    merges = 0
    images = set()
    for state in full_states:
        image = quotient(full, state)
        assert image in reduced_states
        images.add(image)
        expected = {(quotient_label(label), quotient(full, nxt)) for label, nxt in full.successors(state)}
        assert set(reduced.successors(image)) == expected
        merges += image != state
    assert images == reduced_states  # h is onto: the reduced system reaches nothing else
    assert len(images) < len(full_states) and merges


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_every_variant_fails_the_same_way_when_reduced(variant, tmp_path, capsys):
    """The same properties violated, each with a counterexample of the same length, in fewer
    states; the JSON says which counts it gives."""
    runs = {}
    for flag in ("--no-reduce", "--reduce"):
        code = main(["check", str(VARIANTS / f"{variant}.toml"), flag, "--json", "--out", str(tmp_path / flag)])
        assert code == 1
        runs[flag] = json.loads(capsys.readouterr().out)
    full, reduced = runs["--no-reduce"], runs["--reduce"]
    lengths = {flag: {p["name"]: len(p["counterexample"]["steps"]) for p in run["properties"] if p["holds"] is False}
               for flag, run in runs.items()}
    assert lengths["--reduce"] == lengths["--no-reduce"]
    prop, length = EXPECTED[variant]
    assert lengths["--reduce"][prop] == length
    assert reduced["states"] < full["states"] and reduced["transitions"] < full["transitions"]
    assert (full["reduction"], full["unreduced"]) == (None, {"states": full["states"], "transitions": full["transitions"]})
    assert (reduced["reduction"], reduced["unreduced"]) == ("merge_causes", None)
    assert [p["holds"] for p in full["properties"]] == [p["holds"] for p in reduced["properties"]]


@pytest.mark.parametrize("settings", [
    dict(incarnations=1),
    dict(incarnations=1, abort=False, loss=False, duplication=False, reordering=False),
    dict(incarnations=1, quiet_time=False, duplication=False),
], ids=["one-incarnation", "fin-wait-2-forever", "stale-reset"])
def test_the_reference_keeps_its_verdicts_when_reduced(reference, settings):
    scenario = make_scenario(reference, settings)
    full, reduced = check(reference, scenario), check(reference, scenario, reduce=True)
    assert reduced.reduced and reduced.exploration.count < full.exploration.count
    assert [(p.prop.name, p.holds) for p in full.properties] == [(p.prop.name, p.holds) for p in reduced.properties]
    for p, q in zip(full.properties, reduced.properties, strict=True):
        if p.counterexample:
            assert len(p.counterexample.steps) == len(q.counterexample.steps), p.prop.name
    assert full.dead_rules == reduced.dead_rules and full.unreachable_states == reduced.unreachable_states


def test_reduced_text_output_says_so(capsys):
    spec = load_spec(REFERENCE)
    assert spec.name == "rfc9293"
    assert main(["check", str(REFERENCE), "--incarnations", "1", "--capacity", "1", "--reduce"]) == 0
    assert "(reduced: segment causes merged)" in capsys.readouterr().out
