"""The oracle judged against the compiled system itself: runs of the system, as one endpoint
sees them, pass; single mutations of what the endpoint sent fail at the mutated event. Both the
runs and the verdicts come from the same compiled spec; no second model of TCP is involved."""

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcpmodel.language.spec import load_spec
from tcpmodel.oracle.judge import judge, option_kinds
from tcpmodel.oracle.profiles import PROFILES
from tcpmodel.oracle.verdicts import FAIL, INCONCLUSIVE, PASS
from tcpmodel.system.composed import System
from tcpmodel.system.observe import endpoint_trace
from tcpmodel.system.scenario import make_scenario
from tcpmodel.system.steps import decode_step
from tcpmodel.traces.trace import CallEvent, Header, SegmentEvent, Trace
from tests.conftest import REFERENCE

SPEC = load_spec(REFERENCE)
# System runs have no clock: their traces tick 10 ms per step, so timers may fire at any time.
STRICT = dataclasses.replace(PROFILES["rfc9293"], delayed_ack=False, min_seconds=())
SYSTEMS = {
    "default": System(SPEC, make_scenario(SPEC, {"incarnations": 1})),
    "passive": System(SPEC, make_scenario(SPEC, {"incarnations": 1, "roles": ["passive", "active"]})),
    "rfc5961": System(SPEC, make_scenario(SPEC, {"incarnations": 1, "enable": ["rfc5961"]})),
}
PROFILE_OF = {"default": STRICT, "passive": STRICT, "rfc5961": dataclasses.replace(PROFILES["linux"], delayed_ack=False, min_seconds=())}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def random_run(system: System, choices) -> list:
    """The steps of a random run: each endpoint step decoded, a network step as its label."""
    state, steps = system.initial_states()[0], []
    for choice in choices:
        successors = list(system.successors(state))
        if not successors:
            break
        label, nxt = successors[choice % len(successors)]
        steps.append(decode_step(label, state, nxt) or label)
        state = nxt
    return steps


runs = st.tuples(st.sampled_from(sorted(SYSTEMS)), st.lists(st.integers(0, 10**6), min_size=5, max_size=45))


def trace_of(name, choices, calls=True):
    system = SYSTEMS[name]
    return endpoint_trace(random_run(system, choices), 0, SPEC.name, data=system.scenario.data, calls=calls)


@SETTINGS
@given(runs)
def test_runs_of_the_system_pass(run):
    trace = trace_of(*run)
    verdict = judge(SPEC, trace, PROFILE_OF[run[0]], end_is_silence=False)
    assert verdict.verdict == PASS, verdict


@SETTINGS
@given(runs)
def test_runs_pass_without_their_user_calls(run):
    """A capture does not see user calls: the oracle supposes them where they are needed."""
    trace = trace_of(*run, calls=False)
    verdict = judge(SPEC, trace, PROFILE_OF[run[0]])
    assert verdict.verdict == PASS, verdict


def _same_segment(a: SegmentEvent, b: SegmentEvent) -> bool:
    return (a.flags, a.seq, a.length) == (b.flags, b.seq, b.length) and (not a.flags & 16 or a.ack == b.ack)


def _binds_isn(trace: Trace, index: int) -> bool:
    syns = [i for i, e in enumerate(trace.events) if isinstance(e, SegmentEvent) and e.direction == "out" and e.flags & 2]
    return not syns or index == syns[0]  # without a SYN nothing is bound and the verdict is INCONCLUSIVE


MUTATIONS = {
    "flip FIN": lambda e: dataclasses.replace(e, flags=e.flags ^ 1),
    "flip RST": lambda e: dataclasses.replace(e, flags=e.flags ^ 4),
    "flip ACK": lambda e: dataclasses.replace(e, flags=e.flags ^ 16),
    "SEQ + 1": lambda e: dataclasses.replace(e, seq=(e.seq + 1) % 2**32),
    "SEQ - 1": lambda e: dataclasses.replace(e, seq=(e.seq - 1) % 2**32),
    "ACK + 1": lambda e: dataclasses.replace(e, ack=(e.ack + 1) % 2**32),
    "ACK - 2": lambda e: dataclasses.replace(e, ack=(e.ack - 2) % 2**32),
}


@SETTINGS
@given(runs, st.sampled_from(sorted(MUTATIONS)), st.integers(0, 10**6))
def test_a_mutated_sent_segment_fails_at_that_event(run, mutation, pick):
    trace = trace_of(*run)
    outs = [i for i, e in enumerate(trace.events) if isinstance(e, SegmentEvent) and e.direction == "out" and not _binds_isn(trace, i)]
    if mutation.startswith("ACK"):
        outs = [i for i in outs if trace.events[i].flags & 16]  # without the ACK flag the field means nothing
    if not outs:
        return
    index = outs[pick % len(outs)]
    events = list(trace.events)
    original = events[index]
    events[index] = mutated = MUTATIONS[mutation](original)
    if any(_same_segment(mutated, e) for e in events[:index] if isinstance(e, SegmentEvent) and e.direction == "out"):
        return  # the mutation made a copy of an earlier segment: a retransmission the spec allows
    if mutation == "flip ACK" and mutated.flags & 0x14 == 0x14 and original.flags == 4:
        return  # a RST that gains an ACK is still the reset owed (RFC 9293 §3.1)
    verdict = judge(SPEC, Trace(trace.header, tuple(events)), PROFILE_OF[run[0]])
    assert verdict.verdict == FAIL and verdict.event == index, (mutation, index, verdict)
    assert verdict.allowed and verdict.rfc


@SETTINGS
@given(runs, st.integers(0, 10**6))
def test_a_dropped_sent_segment_fails_or_was_a_retransmission(run, pick):
    """Leaving out a segment the endpoint sent fails, at that event or later, unless another
    segment it sent is the same (it was a retransmission, or a retransmission stands in for it)."""
    trace = trace_of(*run)
    outs = [i for i, e in enumerate(trace.events) if isinstance(e, SegmentEvent) and e.direction == "out" and not _binds_isn(trace, i)]
    if not outs:
        return
    index = outs[pick % len(outs)]
    dropped = trace.events[index]
    events = trace.events[:index] + trace.events[index + 1:]
    verdict = judge(SPEC, Trace(trace.header, events), PROFILE_OF[run[0]], end_is_silence=True)
    others = [e for e in events if isinstance(e, SegmentEvent) and e.direction == "out"]
    if verdict.verdict == PASS:
        assert any((e.flags, e.seq, e.ack, e.length) == (dropped.flags, dropped.seq, dropped.ack, dropped.length) for e in others) \
            or dropped.flags & 4, (index, dropped)
    else:
        assert verdict.verdict == FAIL and verdict.event >= index


def handshake(client_isn=100, server_isn=5000):
    return [
        CallEvent(0.0, "CONNECT"),
        SegmentEvent(0.0, "out", 2, client_isn, 0, 64, 0),
        SegmentEvent(0.1, "in", 18, server_isn, client_isn + 1, 64, 0),
        SegmentEvent(0.1, "out", 16, client_isn + 1, server_isn + 1, 64, 0),
    ]


def test_a_reset_may_carry_an_ack():
    events = handshake() + [CallEvent(0.2, "ABORT"), SegmentEvent(0.2, "out", 20, 101, 5001, 64, 0)]
    assert judge(SPEC, Trace(Header("rfc9293", "rfc9293"), tuple(events)), STRICT).verdict == PASS
    events[-1] = dataclasses.replace(events[-1], seq=102)
    assert judge(SPEC, Trace(Header("rfc9293", "rfc9293"), tuple(events)), STRICT).verdict == FAIL


def test_a_duplicated_ack_fails_where_nothing_was_owed():
    events = handshake()
    events.append(events[-1])
    verdict = judge(SPEC, Trace(Header("rfc9293", "rfc9293"), tuple(events)), STRICT)
    assert (verdict.verdict, verdict.event, verdict.allowed) == (FAIL, 4, ["no segment"])


def test_delayed_ack_lets_a_later_segment_stand_in_for_a_pure_ack():
    events = handshake() + [
        SegmentEvent(0.2, "in", 17, 5001, 101, 64, 0),  # the server's FIN
        CallEvent(0.2, "CLOSE"),
        SegmentEvent(0.2, "out", 17, 101, 5002, 64, 0),  # FIN,ACK acknowledging it: the pure ACK left out
    ]
    trace = Trace(Header("rfc9293", "rfc9293"), tuple(events))
    strict = judge(SPEC, trace, STRICT)
    assert (strict.verdict, strict.event, strict.allowed) == (FAIL, 6, ["<ACK SEQ=101 ACK=5002>"])
    assert judge(SPEC, trace, PROFILES["rfc9293"]).verdict == PASS


def test_a_retransmission_before_the_shortest_timeout_fails():
    """Timers are intervals with a lower bound: RFC 6298's 1 s RTO under rfc9293, 200 ms under linux."""
    events = handshake()[:2] + [SegmentEvent(0.5, "out", 2, 100, 0, 64, 0)]
    trace = Trace(Header("rfc9293", "rfc9293"), tuple(events))
    early = judge(SPEC, trace, PROFILES["rfc9293"])
    assert (early.verdict, early.event, early.allowed) == (FAIL, 2, ["no segment"])
    assert judge(SPEC, trace, PROFILES["linux"]).verdict == PASS
    late = Trace(trace.header, tuple(events[:2]) + (dataclasses.replace(events[2], t=1.5),))
    assert judge(SPEC, late, PROFILES["rfc9293"]).verdict == PASS


def test_no_syn_is_inconclusive_and_unknown_options_too():
    """A capture that starts after the handshake cannot be judged; one whose endpoint only
    answers from CLOSED needs no ISN."""
    mid = Trace(Header("rfc9293", "rfc9293"), (SegmentEvent(0.0, "out", 16, 1, 1, 64, 0),))
    verdict = judge(SPEC, mid, STRICT)
    assert verdict.verdict == INCONCLUSIVE and "SYN" in verdict.reason
    closed = Trace(Header("rfc9293", "rfc9293"), (SegmentEvent(0.0, "in", 2, 7, 0, 64, 0), SegmentEvent(0.0, "out", 20, 0, 8, 0, 0)))
    assert judge(SPEC, closed, STRICT).verdict == PASS
    # a RST answered with a RST in CLOSED: a capture may have missed an earlier open, so the
    # verdict waits for a SYN; with every call observed (a conformance run) it is a FAIL
    reset = Trace(Header("rfc9293", "rfc9293"), (SegmentEvent(0.0, "in", 4, 7, 0, 64, 0), SegmentEvent(0.0, "out", 4, 0, 0, 0, 0)))
    assert judge(SPEC, reset, STRICT, calls_observed=False).verdict == INCONCLUSIVE
    assert judge(SPEC, reset, STRICT, calls_observed=True, end_is_silence=True).verdict == FAIL
    events = handshake()
    events[1] = dataclasses.replace(events[1], options="1e0400000000")  # kind 30 (MPTCP)
    verdict = judge(SPEC, Trace(Header("rfc9293", "rfc9293"), tuple(events)), STRICT)
    assert verdict.verdict == INCONCLUSIVE and "30" in verdict.reason


@pytest.mark.parametrize("options, kinds", [("", []), ("020405b4", [2]), ("0101080a0000000100000002", [1, 1, 8]), ("0000", [0])])
def test_option_kinds(options, kinds):
    assert option_kinds(options) == kinds
