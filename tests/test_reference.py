"""The RFC 9293 reference spec, judged through its properties, with pinned state counts.

The counts are exact: any change to the spec, the system or the canonical form that changes
them must be deliberate (update the pin in the same commit and say why).
"""

import pytest

from tcpmodel.properties import PROPERTY_NAMES
from tests.conftest import check_scenario

FIFO = dict(loss=False, duplication=False, reordering=False)

# (scenario settings, states, transitions)
PINNED = {
    "fifo_one_incarnation": (dict(incarnations=1, **FIFO), 10_691, 27_597),
    "lossy_fifo_one_incarnation": (dict(incarnations=1, duplication=False, reordering=False), 34_625, 172_560),
    "fifo_two_incarnations": (dict(incarnations=2, **FIFO), 87_544, 242_695),
    "rfc5961_fifo_one_incarnation": (dict(incarnations=1, enable=["rfc5961"], **FIFO), 11_358, 29_136),
    "timed_fifo_capacity_one": (dict(incarnations=1, capacity=1, timed=True, **FIFO), 254_500, 1_065_907),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_pinned_scenario_is_explored_completely_and_every_property_holds(reference, name):
    settings, states, transitions = PINNED[name]
    result = check_scenario(reference, **settings)
    assert result.exploration.complete
    assert (result.exploration.count, result.exploration.transitions) == (states, transitions)
    assert [p.prop.name for p in result.properties] == list(PROPERTY_NAMES)
    assert [p.prop.name for p in result.properties if not p.holds] == []
    assert result.quiet_states > 0


def test_exploration_is_deterministic(reference):
    settings = dict(incarnations=1, **FIFO)
    first = check_scenario(reference, **settings).exploration
    second = check_scenario(reference, **settings).exploration
    assert first.states == second.states
    assert list(first.targets) == list(second.targets)


def test_two_incarnations_fire_every_rule_but_one_needing_a_duplicate(reference):
    """A lossy FIFO channel and a second incarnation reach all but ack_too_new, which needs a
    segment of the peer's newer incarnation to arrive out of order (the default scenario has it)."""
    result = check_scenario(reference, incarnations=2, duplication=False, reordering=False, enable=["rfc5961"])
    assert result.exploration.complete and result.holds
    assert result.dead_rules == ["ack_too_new"]
    assert {"rst_exact", "rst_challenge", "syn_challenge", "synrcvd_rst_passive_exact"} <= {
        name for name, n in result.rule_counts.items() if n
    }


def test_without_abort_fin_wait_2_can_wait_forever(reference):
    """A finding, pinned: RFC 9293 has no FIN-WAIT-2 timer. When the peer gives up silently
    (the R2 user timeout, §3.8.3) its FIN never comes, and without ABORT the user cannot leave."""
    result = check_scenario(reference, incarnations=1, abort=False, **FIFO)
    violated = {p.prop.name: p for p in result.violated}
    assert "deadlock_free" in violated
    final = violated["deadlock_free"].counterexample.steps[-1].post
    states = sorted(result.spec.states[ep[0][0]] for ep in final[0])
    assert states == ["CLOSED", "FIN-WAIT-2"]
    assert any(s.label.event == "USER TIMEOUT" for s in violated["deadlock_free"].counterexample.steps)


def test_without_quiet_time_an_endpoints_old_reset_can_hit_its_next_connection(reference):
    """A finding, pinned: without RFC 9293 §3.4.3's quiet time, the <SEQ=0><CTL=RST,ACK> an
    endpoint sent from CLOSED may arrive after that endpoint opened again with an ISN just below
    2**32, and reset the new connection whose window covers 0. A FIFO channel cannot show it:
    the reset has to overtake the SYN that follows it."""
    result = check_scenario(reference, incarnations=1, quiet_time=False, duplication=False)
    assert [p.prop.name for p in result.violated] == ["no_stale_reset"]
    assert len(result.violated[0].counterexample.steps) == 5
    last = result.violated[0].counterexample.steps[-1].label
    assert last.kind == "segment" and last.segment[:2] == (0x14, 0)  # <SEQ=0><CTL=RST,ACK>
    assert last.segment[5] == 0  # sent before A's first incarnation: from CLOSED


@pytest.mark.slow
def test_default_scenario(reference):
    """The acceptance scenario: loss, duplication and reordering, capacity 2, two incarnations,
    one octet each way, users that may ABORT. Every property holds and every rule fires but one:
    ack_too_new (RFC 9293 §3.10.7.4 fifth step, an ACK beyond SND.NXT) needs a peer segment that
    acknowledges more than was sent, which only sequence-space reuse between incarnations produces
    (see test_ack_too_new_needs_reused_sequence_space)."""
    result = check_scenario(reference)
    assert result.exploration.complete
    assert result.holds, [p.prop.name for p in result.violated]
    assert result.dead_rules == ["ack_too_new"]
    assert result.unreachable_states == []
    assert (result.exploration.count, result.exploration.transitions) == (6_909_276, 52_046_214)


def test_ack_too_new_needs_reused_sequence_space(reference):
    """With the same ISN for every incarnation, an old segment acknowledges beyond SND.NXT."""
    result = check_scenario(reference, incarnations=2, isn_stride=0, duplication=False, reordering=False)
    assert result.rule_counts["ack_too_new"] > 0
