"""The timed model: TIME-WAIT must last two MSL, and a FIN that arrives again restarts it."""

from tcpmodel.language.spec import load_spec
from tcpmodel.system.composed import System
from tcpmodel.system.scenario import make_scenario
from tests.conftest import REFERENCE, VARIANTS, check_scenario

# The scenario of specs/variants/time_wait_one_msl.toml: timed (MSL 2 ticks, RTO 1), one
# incarnation, a lossy FIFO channel of one segment per direction.
TIMED = dict(incarnations=1, timed=True, duplication=False, reordering=False, capacity=1)


def test_two_msl_of_time_wait_keep_every_property(reference):
    result = check_scenario(reference, **TIMED)
    assert result.exploration.complete and result.holds
    assert (result.exploration.count, result.exploration.transitions) == (357_871, 2_054_714)


def test_one_msl_lets_the_retransmitted_fin_meet_a_closed_port():
    variant = load_spec(VARIANTS / "time_wait_one_msl.toml")
    result = check_scenario(variant, **TIMED)
    assert [p.prop.name for p in result.violated] == ["graceful_close"]
    steps = result.violated[0].counterexample.steps
    names = [variant.rules[s.label.rule].name if s.label.rule >= 0 else s.label.kind for s in steps]
    assert names[-4:] == ["tick", "timewait_timeout", "closed_ack", "rst"]
    assert "fin_retransmit" in names and "tick" in names


def test_a_fin_in_time_wait_restarts_its_timer():
    """RFC 9293 §3.10.7.4: in TIME-WAIT a retransmitted FIN is acknowledged and the 2 MSL
    timeout restarted: the countdown is back at its full length."""
    spec = load_spec(REFERENCE)
    system = System(spec, make_scenario(spec, {**TIMED, "loss": True}))
    k = [t.name for t in spec.timers].index("TIME-WAIT")
    full = system.durations[k]
    rule = [r.name for r in spec.rules].index("timewait_fin")
    frontier, seen = list(system.initial_states()), set()
    while frontier:
        state = frontier.pop()
        for label, nxt in system.successors(state):
            if label.rule == rule:
                before, after = state[0][label.actor][2][k], nxt[0][label.actor][2][k]
                assert after == full
                if before < full:
                    return
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    raise AssertionError("no run reaches timewait_fin with the timer partly run down")
