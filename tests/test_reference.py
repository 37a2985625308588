"""The RFC 9293 reference spec, judged through its properties, with pinned state counts.

The counts are exact: any change to the spec, the system or the canonical form that changes
them must be deliberate (update the pin in the same commit and say why).
"""

import pytest

from tcpmodel.checking.properties import PROPERTY_NAMES
from tcpmodel.system.composed import ABSOLUTE_SEQ, CAUSE, GEN
from tests.conftest import check_scenario

FIFO = dict(loss=False, duplication=False, reordering=False)

# (scenario settings, states, transitions)
PINNED = {
    "fifo_one_incarnation": (dict(incarnations=1, **FIFO), 10_710, 27_657),
    "lossy_fifo_one_incarnation": (dict(incarnations=1, duplication=False, reordering=False), 34_631, 172_611),
    "fifo_two_incarnations": (dict(incarnations=2, **FIFO), 87_871, 244_118),
    "rfc5961_fifo_one_incarnation": (dict(incarnations=1, enable=["rfc5961"], **FIFO), 11_418, 29_292),
    "timed_fifo_capacity_one": (dict(incarnations=1, capacity=1, timed=True, **FIFO), 254_515, 1_066_957),
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


def test_two_incarnations_fire_every_rule_but_those_needing_a_broken_peer(reference):
    """A lossy FIFO channel and a second incarnation reach all but ack_too_new, which only
    sequence-space reuse between incarnations reaches (test_ack_too_new_needs_reused_sequence_space),
    and ack_too_old (RFC 5961 §5.2), which needs an ACK more than a window below SND.UNA: no
    peer of the model ever has more than SYN, an octet and FIN (3 < RCV.WND) outstanding."""
    result = check_scenario(reference, incarnations=2, duplication=False, reordering=False, enable=["rfc5961"])
    assert result.exploration.complete and result.holds
    assert result.dead_rules == ["ack_too_old", "ack_too_new"]
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
    endpoint sent from CLOSED may arrive after that endpoint opened again, and reset the new
    connection when 0 falls in its window (SEQ=0 is absolute, so whether it does depends only on
    the ISN: the explorer tries it at every position). A FIFO channel cannot show it: the reset
    has to overtake the SYN that follows it."""
    result = check_scenario(reference, incarnations=1, quiet_time=False, duplication=False)
    assert [p.prop.name for p in result.violated] == ["no_stale_reset"]
    steps = result.violated[0].counterexample.steps
    assert len(steps) == 5
    sent = steps[1].label.sent[0]
    assert sent[:2] == (0x14, 0) and sent[CAUSE] & ABSOLUTE_SEQ  # <SEQ=0><CTL=RST,ACK>
    last = steps[-1].label
    assert last.kind == "segment" and last.segment[0] == 0x14 and last.segment[GEN] == 0  # from CLOSED
    receiver = steps[-1].pre[0][last.actor][0]
    rcv_nxt = receiver[1 + [v.name for v in reference.variables].index("RCV.NXT")]
    assert last.segment[1] == rcv_nxt  # seen in the window of A's new connection


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
    assert result.dead_rules == ["ack_too_new"]  # ack_too_old belongs to rfc5961, not enabled here
    assert result.unreachable_states == []
    assert 0 < result.span < 2**31
    assert (result.exploration.count, result.exploration.transitions) == (6_914_534, 52_247_545)
    assert result.exploration.packed
    assert result.exploration.store_bytes / result.exploration.count <= 64  # issue 7: at most 64 bytes per stored state


@pytest.mark.slow
def test_default_scenario_reduced(reference):
    """The same scenario explored with the causes of segments merged (System.merge_causes):
    fewer states and transitions, the same verdicts and coverage."""
    from tcpmodel.checking.check import check
    from tcpmodel.system.scenario import make_scenario

    result = check(reference, make_scenario(reference, {}), reduce=True)
    assert result.exploration.complete and result.reduced
    assert result.holds, [p.prop.name for p in result.violated]
    assert result.dead_rules == ["ack_too_new"]
    assert (result.exploration.count, result.exploration.transitions) == (4_692_100, 35_350_835)


def test_ack_too_new_needs_reused_sequence_space(reference):
    """With the same ISN for every incarnation, an old segment acknowledges beyond SND.NXT."""
    result = check_scenario(reference, incarnations=2, isn_stride=0, duplication=False, reordering=False)
    assert result.rule_counts["ack_too_new"] > 0


def test_an_absolute_seq_is_delivered_at_every_region_of_the_receivers_space(reference):
    """RFC 9293's <SEQ=0> reset has no relation to the receiver's numbers: the system delivers it
    once per region (seqnum.representatives), a relative segment once as it is."""
    from tcpmodel.system.composed import System
    from tcpmodel.system.scenario import make_scenario

    system = System(reference, make_scenario(reference, {}))
    names = [v.name for v in reference.variables]
    tcb = list(system.compiled.initial_tcb())
    tcb[0] = reference.states.index("ESTABLISHED")
    for name, value in {"ISS": 10, "SND.UNA": 11, "SND.NXT": 11, "IRS": 500, "RCV.NXT": 501}.items():
        tcb[1 + names.index(name)] = value
    tcb = tuple(tcb)
    reset = (0x14, 0, 11, 0, 4, 0, ABSOLUTE_SEQ, 0)
    seen = system._seen_as(tcb, reset)
    assert {seg[1] for seg in seen} >= {0, 500, 501, 504, 505, 501 + 2**31}
    outcomes = {reference.rules[system.step(tcb, "SEGMENT", seg, (10, 1))[0]].name for seg in seen}
    assert outcomes == {"rst", "unacceptable_rst"}
    assert system._seen_as(tcb, reset[:6] + (0, 0)) == (reset[:6] + (0, 0),)
