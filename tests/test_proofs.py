"""Tests of the Z3 obligations (tcpmodel.proofs.obligations) and the bit-vector compiler (tcpmodel.proofs.z3terms).

The compiler is checked against the Python code generation on random inputs, expression by
expression and rule by rule through ``CompiledSpec``'s dispatch functions; every counterexample
the prover reports is replayed with the Python definitions.
"""

import json
from pathlib import Path

import pytest
import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcpmodel.base.flags import SPEC_FLAG_BITS as FLAG_BITS
from tcpmodel.base.seqnum import HALF, MASK, RUNTIME, in_window, seq_le, seq_lt
from tcpmodel.language import expressions as ex
from tcpmodel.language.codegen import CompiledSpec
from tcpmodel.language.spec import SEGMENT, load_spec, unset_variables
from tcpmodel.proofs import obligations as proofs
from tcpmodel.proofs import z3terms as zt
from tcpmodel.proofs.prove import prove, to_markdown
from tcpmodel.proofs.prove import to_json as proofs_json

REFERENCE = Path(__file__).resolve().parent.parent / "specs" / "rfc9293.toml"
SPEC = load_spec(REFERENCE)
WINDOW = SPEC.constants["RCV.WND"]
COMPILED = CompiledSpec(SPEC, frozenset(), WINDOW)
FLAG_NAMES = tuple(FLAG_BITS)


@pytest.fixture(scope="module")
def results():
    return {r.name: r for r in prove(SPEC)}


# ---------------------------------------------------------------- random inputs

# Sequence numbers near one random base (so windows and comparisons are often decided by the
# last few units), at the wrap and at the half-circle, or anywhere.
offsets = st.one_of(st.integers(-6, 6), st.sampled_from([HALF - 1, HALF, HALF + 1, -HALF]), st.integers(0, MASK))


@st.composite
def inputs(draw):
    base = draw(st.one_of(st.integers(0, MASK), st.sampled_from([0, MASK - 2, HALF - 2])))
    values = {}
    for v in SPEC.variables:
        values[v.name] = draw(st.booleans()) if v.type == ex.BOOL else (base + draw(offsets)) & MASK
    for name in ("SEG.SEQ", "SEG.ACK", "ISN"):
        values[name] = (base + draw(offsets)) & MASK
    values["SEG.DATA"] = draw(st.integers(0, 5))
    values["SEG.WND"] = draw(st.integers(0, 8))
    values["DATA"] = draw(st.integers(0, 5))
    for flag in FLAG_NAMES:
        values[flag] = draw(st.booleans())
    values["STATE"] = draw(st.integers(0, len(SPEC.states) - 1))
    return values


def flags_of(values) -> int:
    return sum(bit for name, bit in FLAG_BITS.items() if values[name])


def frame_of(values) -> zt.Frame:
    variables = {v.name: values[v.name] for v in SPEC.variables}
    variables["STATE"] = values["STATE"]
    segment = {n: values[n] for n in zt.SEGMENT_VALUES + zt.FLAGS}
    return zt.concrete_frame(SPEC, variables, segment, {"ISN": values["ISN"], "DATA": values["DATA"]})


def value(term, signed=False):
    return zt.concrete(z3.simplify(term), signed)


def int32(number: int) -> int:
    """A Python int as the signed 32-bit value Z3 computes. Ints are 32-bit in Z3 and unbounded in
    Python (documented in z3terms): equal inside [-2**31, 2**31), equal modulo 2**32 outside,
    e.g. fin_retransmit's data SND.NXT - SND.UNA - 1 when the two are exactly 2**31 apart."""
    return ((number + HALF) & MASK) - HALF


# ---------------------------------------------------------------- the compiler against codegen

EXPRESSIONS = sorted(
    [(f"definition {n}", node) for n, node in SPEC.definitions.items()]
    + [(f"guard of {r.name}", r.when) for r in SPEC.rules]
    + [(f"{target} in {r.name}", node) for r in SPEC.rules for target, node in r.effects],
    key=lambda item: item[0],
)


def python_value(node, values):
    """Evaluate ``node`` with the code generator's Python source (primed names read ``post``)."""

    def resolve(name, primed, state=False):
        if state:
            return str(SPEC.states.index(name))
        if name == "SEG.LEN":
            return "(V['SEG.DATA'] + V['SYN'] + V['FIN'])"
        if name in SPEC.constants:
            return str(SPEC.constants[name])
        return f"V[{name!r}]"

    source = ex.to_python(node, resolve)
    return eval(source, {"__builtins__": {}, **RUNTIME, "V": values})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs())
def test_compiled_expressions_equal_python(values):
    """Every definition, guard and effect of the reference, on the same random inputs."""
    context = zt.Z3Context(SPEC.states, frame_of(values).names())
    for label, node in EXPRESSIONS:
        expected = python_value(node, values)
        if node.type in (ex.SEQ, ex.LIT):
            expected &= MASK
        elif node.type == ex.INT:
            expected = int32(expected)
        assert value(context.term(node), signed=node.type == ex.INT) == expected, label


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs())
def test_symbolic_rules_equal_dispatch(values):
    """First-match over the rules' Z3 guards gives the rule, TCB and segments of CompiledSpec,
    for every event in the drawn state."""
    state = SPEC.states[values["STATE"]]
    tcb = (values["STATE"],) + tuple(values[v.name] for v in SPEC.variables)
    segment = (flags_of(values), values["SEG.SEQ"], values["SEG.ACK"], values["SEG.DATA"], values["SEG.WND"])
    for event in SPEC.events:
        dispatch = COMPILED.dispatch.get((values["STATE"], event))
        expected = dispatch(tcb, segment, (values["ISN"], values["DATA"])) if dispatch else None
        if expected:
            expected = expected[:2] + (tuple(seg[:3] + (int32(seg[3]),) + seg[4:] for seg in expected[2]),)
        assert z3_dispatch(state, event, values) == expected, event


def z3_dispatch(state, event, values):
    frame = frame_of(values)
    for index, rule in enumerate(SPEC.rules):
        if not (rule.active(frozenset()) and rule.event == event and state in rule.states):
            continue
        step = zt.evaluate_rule(SPEC, rule, frame)
        if value(step.guard):
            target = SPEC.states.index(rule.to or state)
            post = tuple(value(step.post[v.name]) for v in SPEC.variables)
            sent = tuple(
                (s.flags, value(s.seq), value(s.ack) if s.ack is not None else 0, value(s.data, signed=True), WINDOW)
                for s in step.sends
                if value(s.when)
            )
            return index, (target,) + post, sent
    return None


distances = st.one_of(st.integers(-3, 3), st.sampled_from([HALF - 1, HALF, HALF + 1, MASK]), st.integers(0, MASK))
sizes = st.one_of(st.integers(-2, 8), st.sampled_from([HALF - 1, -HALF]))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, MASK), distances, sizes, distances)
def test_shared_definitions_equal_seqnum(a, distance, size, nudge):
    """seq_lt, seq_le and in_window on bit-vectors against seqnum, at the edges: b is a + distance,
    and x sits near the end of the window [a, a + size)."""
    b, x = (a + distance) & MASK, (a + size + nudge) & MASK
    for left, right in ((a, b), (b, a), (a, a)):
        assert value(zt.seq_lt(zt.bv(left), zt.bv(right))) == seq_lt(left, right)
        assert value(zt.seq_le(zt.bv(left), zt.bv(right))) == seq_le(left, right)
    for point in (x, b, a):
        assert value(zt.in_window(zt.bv(point), zt.bv(a), zt.bv(size))) == in_window(point, a, size)


def test_plain_less_than_on_sequence_numbers_is_unsigned():
    scope = ex.Scope()
    scope.add("A", ex.SEQ, "var")
    scope.add("B", ex.SEQ, "var")
    names = {"A": zt.bv(MASK), "B": zt.bv(1)}
    context = zt.Z3Context((), names)
    assert value(context.term(ex.parse("A < B", scope))) is False  # raw: 4294967295 < 1 is false
    assert value(context.term(ex.parse("seq_lt(A, B)", scope))) is True  # 1 is just after the wrap
    assert value(context.term(ex.parse("B - A", scope)), signed=True) == 2


def test_in_window_with_a_negative_size_is_false_as_in_python():
    assert value(zt.in_window(zt.bv(5), zt.bv(5), zt.bv(-1))) is False
    assert in_window(5, 5, -1) is False


# ---------------------------------------------------------------- serial-number lemmas


def decided():
    return {c.name: proofs.decide(c) for c in proofs.serial_claims()}


def test_serial_lemmas_have_the_expected_outcomes():
    outcome = decided()
    for name in ("totality", "antisymmetry", "irreflexivity", "successor", "half_distance", "signed_distance", "in_window_interval"):
        assert outcome[f"serial.{name}"].status == proofs.PROVED, name
    for name in ("serial.not_transitive", "serial.raw_less_than_differs"):
        assert outcome[name].status == proofs.PROVED
        assert outcome[name].witness and outcome[name].ok and outcome[name].model
    assert all(r.ok and r.seconds >= 0 for r in outcome.values())


def test_transitivity_counterexample_breaks_transitivity():
    model = decided()["serial.not_transitive"].model
    a, b, c = model["A"], model["B"], model["C"]
    assert seq_lt(a, b) and seq_lt(b, c) and not seq_lt(a, c)


def test_raw_less_than_counterexample_is_at_the_wrap():
    model = decided()["serial.raw_less_than_differs"].model
    a, b = model["A"], model["B"]
    assert (a < b) != seq_lt(a, b)
    assert a >= MASK - 255  # the focus: next to the wrap


def test_a_proved_lemma_becomes_unknown_when_the_time_runs_out():
    claim = proofs.acceptability_claims(SPEC)[1]
    assert proofs.decide(claim, timeout=0.001).status == proofs.UNKNOWN


# ---------------------------------------------------------------- acceptability


def python_acceptable(seq, nxt, length, window) -> bool:
    def resolve(name, primed, state=False):
        return str({"SEG.SEQ": seq, "RCV.NXT": nxt, "SEG.LEN": length, "RCV.WND": window}[name])

    return eval(ex.to_python(SPEC.definitions["ACCEPTABLE"], resolve), {"__builtins__": {}, **RUNTIME})


def test_acceptability_outcomes(results):
    general = results["acceptability.interval_differs (any SEG.LEN)"]
    assert general.status == proofs.PROVED and general.witness
    assert results["acceptability.interval (SEG.LEN <= RCV.WND + 1)"].status == proofs.PROVED
    assert results["acceptability.interval (SEG.LEN <= RCV.WND)"].status == proofs.PROVED
    m = general.model
    seq, nxt, length, window, k = m["SEG.SEQ"], m["RCV.NXT"], m["SEG.LEN"], m["RCV.WND"], m["k"]
    # Octet SEQ + k of the segment lies in the window, yet the four-case test rejects it.
    assert 0 <= k < length and 0 < window < length - 1
    assert in_window((seq + k) & MASK, nxt, window)
    assert not python_acceptable(seq, nxt, length, window)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, MASK), st.integers(-4, 12), st.integers(0, 10), st.integers(0, 10))
def test_restricted_acceptability_by_enumeration(nxt, start, length, window):
    """The proved restricted statement, replayed on small windows by listing the octets."""
    seq = (nxt + start) & MASK
    interval = any(in_window((seq + k) & MASK, nxt, window) for k in range(length)) if length else (
        seq == nxt if window == 0 else in_window(seq, nxt, window))
    if length <= window + 1:
        assert python_acceptable(seq, nxt, length, window) == (interval and (window > 0 or length == 0))


def test_ack_acceptability_outcomes(results):
    assert results["ack_acceptability.interval"].status == proofs.PROVED
    unbounded = results["ack_acceptability.interval_differs (2**31 or more outstanding)"]
    assert unbounded.status == proofs.PROVED and unbounded.witness
    m = unbounded.model
    una, nxt, ack = m["SND.UNA"], m["SND.NXT"], m["SEG.ACK"]
    assert (nxt - una) & MASK >= HALF
    serial = seq_lt(una, ack) and seq_le(ack, nxt)
    assert serial != (0 < (ack - una) & MASK <= (nxt - una) & MASK)


# ---------------------------------------------------------------- translation invariance


def test_translation_outcomes_of_the_reference(results):
    translation = {n: r for n, r in results.items() if n.startswith("translation.")}
    assert len(translation) == sum(r.active(frozenset()) for r in SPEC.rules)
    assert results["translation.closed_connect"].status == proofs.PROVED
    assert results["translation.listen_syn"].status == proofs.PROVED
    assert results["translation.established_segment"].status == proofs.PROVED
    assert all(r.status == proofs.PROVED for r in translation.values())
    assert "send 2 <RST,ACK> SEQ" not in results["translation.syn_reset"].detail
    assert "The SEQ of send 2 is absolute" in results["translation.syn_reset"].detail


def test_absolute_reset_seq_does_not_move_with_a_shift():
    """Why translation.closed_no_ack needs absolute_seq: the SEQ=0 answer stays put while the
    connection's numbers move, so only the ACK field follows the shift."""
    dispatch = COMPILED.dispatch[(SPEC.states.index("CLOSED"), SEGMENT)]
    tcb = COMPILED.initial_tcb()
    syn = FLAG_BITS["SYN"]

    def run(moved):
        return dispatch(tcb, (syn, (1000 + moved) & MASK, 0, 0, 4), ((7 + moved) & MASK, 1))

    before, after = run(0), run(12345)
    assert SPEC.rules[before[0]].name == SPEC.rules[after[0]].name == "closed_no_ack"
    (_, seq_before, ack_before, _, _), = before[2]
    (_, seq_after, ack_after, _, _), = after[2]
    assert ack_after == (ack_before + 12345) & MASK
    assert seq_before == seq_after == 0
    assert [s.absolute_seq for s in SPEC.rule("closed_no_ack").sends] == [True]
    assert [s.absolute_seq for s in SPEC.rule("syn_reset").sends] == [False, True]


def test_absolute_seq_obligations_cover_every_state_with_segment_rules(results):
    absolute = {n: r for n, r in results.items() if n.startswith("absolute_seq.")}
    states = [s for s in SPEC.states if COMPILED.handles(SPEC.states.index(s), SEGMENT)]
    senders = ("closed_no_ack", "syn_reset")
    assert sorted(absolute) == sorted(f"absolute_seq.RST,ACK.{r}@{s}" for r in senders for s in states)
    assert all(r.status == proofs.PROVED for r in absolute.values())


def test_absolute_seq_obligation_fails_with_too_few_delivered_values(monkeypatch):
    """The obligation can fail: if the explorer delivered an absolute SEQ only at the receiver's
    own numbers, a RST,ACK just inside the window of a synchronized state would be missed."""
    monkeypatch.setattr(proofs, "relative_offsets", lambda window: (0,))
    claims = [c for c in proofs.absolute_claims(SPEC, frozenset()) if c.name.endswith("@ESTABLISHED")]
    outcome = proofs.decide(claims[0])
    assert outcome.status == proofs.REFUTED
    m = outcome.model
    assert m["RST"] and m["ACK"] and not m["SYN"]
    assert m["SEG.SEQ"] not in {m[v.name] for v in SPEC.variables if v.type == ex.SEQ}


def test_unset_variables_in_syn_sent():
    unset = unset_variables(SPEC)
    assert unset["SYN-SENT"] == frozenset({"IRS", "RCV.NXT", "PASSIVE"})
    assert unset["ESTABLISHED"] == frozenset({"PASSIVE"})  # an active open never sets it
    assert unset["CLOSED"] == frozenset(v.name for v in SPEC.variables)


TOY = """
[spec]
name = "toy"
states = ["CLOSED", "ESTABLISHED"]
no_tcb = ["CLOSED"]

[[variable]]
name = "RCV.NXT"

[[rule]]
name = "naive_in_order"
rfc = "a plain < on sequence numbers"
from = "ESTABLISHED"
on = "SEGMENT"
when = "SEG.SEQ <= RCV.NXT and not RST"
do = ["RCV.NXT = SEG.SEQ + SEG.LEN"]

[[rule]]
name = "serial_in_order"
rfc = "the serial-number comparison"
from = "ESTABLISHED"
on = "SEGMENT"
when = "seq_le(SEG.SEQ, RCV.NXT)"
do = ["RCV.NXT = SEG.SEQ + SEG.LEN"]

[[rule]]
name = "shadowed"
rfc = "never fires: the rule above covers it"
from = "ESTABLISHED"
on = "SEGMENT"
when = "SEG.SEQ == RCV.NXT"

[[rule]]
name = "other"
rfc = "everything else"
from = "ESTABLISHED"
on = "SEGMENT"
when = "not seq_le(SEG.SEQ, RCV.NXT)"
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    path = tmp_path_factory.mktemp("toy") / "toy.toml"
    path.write_text(TOY, encoding="utf-8")
    spec = load_spec(path)
    return spec, {r.name: r for r in prove(spec)}


def test_plain_less_than_in_a_guard_is_not_translation_invariant(toy):
    _, outcome = toy
    naive = outcome["translation.naive_in_order"]
    assert naive.status == proofs.REFUTED and "guard unchanged" in naive.detail
    m = naive.model
    shift, nxt, seq = m["SHIFT"], m["RCV.NXT"], m["SEG.SEQ"]
    assert (seq <= nxt) != (((seq + shift) & MASK) <= ((nxt + shift) & MASK))
    assert outcome["translation.serial_in_order"].status == proofs.PROVED


def test_shadowed_rule_and_completeness_of_the_toy(toy):
    _, outcome = toy
    assert outcome["reachable_guard.naive_in_order@ESTABLISHED"].status == proofs.PROVED
    shadowed = outcome["reachable_guard.shadowed@ESTABLISHED"]
    assert shadowed.status == proofs.REFUTED and "Shadowed" in shadowed.detail
    assert outcome["complete.SEGMENT@ESTABLISHED"].status == proofs.PROVED


# ---------------------------------------------------------------- guards per (state, event)


def test_no_rule_of_the_reference_is_shadowed(results):
    reachable = [r for n, r in results.items() if n.startswith("reachable_guard.")]
    assert reachable and all(r.status == proofs.PROVED for r in reachable)
    assert "reachable_guard.rst@ESTABLISHED" in results


def test_segment_handling_is_complete_for_every_shape_the_spec_sends(results):
    handled = {s for s in SPEC.states if any(r.event == SEGMENT and s in r.states and r.active(frozenset()) for r in SPEC.rules)}
    complete = {n.split("@")[1]: r for n, r in results.items() if n.startswith("complete.SEGMENT@")}
    assert set(complete) == handled
    assert all(result.status == proofs.PROVED for result in complete.values())
    # The shapes: SYN, RST, ACK, FIN+ACK, SYN+ACK, RST+ACK. A bare FIN is none of them, and the
    # spec's header says such segments have no rule (in LISTEN the RFC's "should not be reached").
    assert proofs.sent_shapes(SPEC) == [0x02, 0x04, 0x10, 0x11, 0x12, 0x14]
    listen = SPEC.states.index("LISTEN")
    bare_fin = (0x01, 5, 0, 0, 4)
    assert COMPILED.dispatch[(listen, SEGMENT)]((listen,) + COMPILED.initial_vars, bare_fin, (0, 0)) is None


# ---------------------------------------------------------------- prove and the reports


def test_prove_is_deterministic_and_reports(results):
    names = list(results)
    again = [r.name for r in prove(SPEC)]
    assert names == again and len(set(names)) == len(names)
    assert names[0].startswith("serial.") and names[-1].startswith("symbolic_run.")
    assert all(r.status in (proofs.PROVED, proofs.REFUTED, proofs.UNKNOWN) for r in results.values())
    assert all(r.model for r in results.values() if (r.status == proofs.REFUTED or r.witness) and not r.name.startswith("reachable_guard."))
    rows = list(results.values())
    data = json.loads(proofs_json(rows))
    assert [d["name"] for d in data] == names
    assert data[0]["status"] == "proved" and isinstance(data[0]["seconds"], float)
    markdown = to_markdown(rows, SPEC, "tcpmodel prove x.toml --report y.md")
    assert markdown.splitlines()[0] == "Generated by `tcpmodel prove x.toml --report y.md`; do not edit."
    assert "seconds" not in markdown and " s." not in markdown  # no timings: the same spec, the same bytes
    assert sum(line.startswith("| `") for line in markdown.splitlines()) == len(rows)
    assert "| `translation.closed_no_ack` | proved |" in markdown
    assert "| `serial.not_transitive` | proved (witness) |" in markdown


def test_a_witness_claim_is_refuted_when_the_intuition_holds():
    """A claim that an intuition fails cannot pass when it does not fail."""
    a = z3.BitVec("A", 32)
    claim = proofs.Claim("x.fails", (), (("A == A", a == a),), {"A": a}, "A == A fails.", proofs.WITNESS)
    outcome = proofs.decide(claim)
    assert outcome.status == proofs.REFUTED and outcome.witness and not outcome.ok
