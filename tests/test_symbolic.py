"""Symbolic two-endpoint runs with free 32-bit ISNs, and Z3-found boundary witnesses."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpmodel.base import seqnum
from tcpmodel.base.flags import FLAG_BITS
from tcpmodel.language.codegen import CompiledSpec
from tcpmodel.language.spec import SEGMENT, load_spec
from tcpmodel.proofs import symbolic as sy
from tcpmodel.proofs.results import PROVED, REFUTED

REFERENCE = Path(__file__).resolve().parent.parent / "specs" / "rfc9293.toml"
RUNS = (
    "symbolic_run.handshake",
    "symbolic_run.data_and_close",
    "symbolic_run.wrap (ISN_A = 2**32 - 1)",
    "symbolic_run.wrap (ISN_A in [2**32 - 8, 2**32 - 1])",
)


@pytest.fixture(scope="module")
def results(reference):
    return sy.run_results(reference)


def test_runs_are_proved_on_the_reference(results):
    assert [r.name for r in results] == list(RUNS)
    for r in results:
        assert r.status == PROVED, (r.name, r.detail, r.model)
        assert r.ok and r.seconds >= 0 and r.model == {}


def test_every_step_has_an_obligation(reference):
    run = sy.symbolic_run(reference, sy.DATA_AND_CLOSE)
    assert len(run.parts) == len(sy.DATA_AND_CLOSE) == len(run.history)
    assert [(e["A"].state, e["B"].state) for e in run.history][-1] == ("CLOSED", "CLOSED")
    assert run.history[len(sy.HANDSHAKE) - 1]["A"].state == "ESTABLISHED"
    # sent segments are kept per endpoint: SYN, ACK, data, FIN, last ACK from A
    flags = [seg.flags for seg in run.history[-1]["A"].sent]
    assert flags[0] == FLAG_BITS["SYN"] and flags[-1] == FLAG_BITS["ACK"]


# ---------------------------------------------------------------- concrete replay


def replay(spec, script, isn_a, isn_b, data):
    """Run ``script`` with the compiled Python spec; return the names of the rules that fired."""
    compiled = CompiledSpec(spec, frozenset(), 4)
    tcb = {"A": compiled.initial_tcb(), "B": compiled.initial_tcb()}
    sent = {"A": [], "B": []}
    isn = {"A": isn_a, "B": isn_b}
    fired = []
    for step in script:
        other = "B" if step.endpoint == "A" else "A"
        segment = sent[other][step.segment] if step.event == SEGMENT else (0, 0, 0, 0, 0)
        outcome = compiled.dispatch[(tcb[step.endpoint][0], step.event)](tcb[step.endpoint], segment, (isn[step.endpoint], data))
        assert outcome is not None, step
        index, tcb[step.endpoint], sends, _ = outcome
        fired.append(compiled.rules[index].name)
        sent[step.endpoint] += list(sends)
    return fired, tcb, sent


@settings(max_examples=15, deadline=None)
@given(isn_b=st.integers(0, seqnum.MASK), data=st.integers(*sy.DATA_RANGE))
def test_concrete_replay_follows_the_script(reference, isn_b, data):
    fired, tcb, _ = replay(reference, sy.DATA_AND_CLOSE, seqnum.MASK, isn_b, data)
    assert fired == [s.rule for s in sy.DATA_AND_CLOSE]
    closed = reference.states.index("CLOSED")
    assert tcb["A"][0] == tcb["B"][0] == closed


@settings(max_examples=15, deadline=None)
@given(isn_a=st.integers(0, seqnum.MASK), isn_b=st.integers(0, seqnum.MASK), data=st.integers(*sy.DATA_RANGE))
def test_concrete_handshake_matches_the_invariant(reference, isn_a, isn_b, data):
    fired, tcb, _ = replay(reference, sy.DATA_AND_CLOSE[: sy.DATA_STEP + 1], isn_a, isn_b, data)
    assert fired == [s.rule for s in sy.DATA_AND_CLOSE[: sy.DATA_STEP + 1]]
    names = [v.name for v in reference.variables]
    a = dict(zip(names, tcb["A"][1:], strict=True))
    b = dict(zip(names, tcb["B"][1:], strict=True))
    assert a["IRS"] == b["ISS"] == isn_b and b["IRS"] == a["ISS"] == isn_a
    assert a["RCV.NXT"] == seqnum.seq_add(isn_b, 1)
    assert seqnum.seq_diff(b["RCV.NXT"], b["IRS"]) - 1 == data  # the stream invariant


# ---------------------------------------------------------------- a broken spec is refuted


def test_mutated_synsent_synack_is_refuted(tmp_path):
    variant = tmp_path / "bad_synack.toml"
    variant.write_text(
        f'[spec]\nextends = "{REFERENCE.resolve()}"\nname = "bad_synack"\n\n'
        '[[rule]]\nname = "synsent_synack"\n'
        'do = ["RCV.NXT = SEG.SEQ + 2", "IRS = SEG.SEQ", "SND.UNA = SEG.ACK"]\n'
    )
    spec = load_spec(variant)
    handshake = sy.run_results(spec)[0]
    assert handshake.name == "symbolic_run.handshake"
    assert handshake.status == REFUTED and not handshake.ok
    assert set(handshake.model) == {"ISN_A", "ISN_B", "DATA"}
    assert "step 4" in handshake.detail and "synrcvd_ack" in handshake.detail
    # the model really breaks the run: replaying it concretely leaves the script
    fired, _, _ = replay(spec, sy.HANDSHAKE, handshake.model["ISN_A"], handshake.model["ISN_B"], 1)
    assert fired[:4] == [s.rule for s in sy.HANDSHAKE[:4]] and fired[4] != "synrcvd_ack"


def test_extra_octet_breaks_the_stream_invariant(tmp_path):
    variant = tmp_path / "extra_octet.toml"
    variant.write_text(
        f'[spec]\nextends = "{REFERENCE.resolve()}"\nname = "extra_octet"\n\n'
        '[[rule]]\nname = "send_data"\ndo = ["SND.NXT = SND.NXT + DATA + 1"]\n'
        'send = [{ flags = "ACK", seq = "SND.NXT", ack = "RCV.NXT", data = "DATA + 1" }]\n'
    )
    by_name = {r.name: r for r in sy.run_results(load_spec(variant))}
    assert by_name["symbolic_run.handshake"].status == PROVED
    broken = by_name["symbolic_run.data_and_close"]
    assert broken.status == REFUTED and "stream" in broken.detail
    assert by_name["symbolic_run.wrap (ISN_A = 2**32 - 1)"].model["ISN_A"] == seqnum.MASK


def test_naive_compare_variant_is_refuted_at_the_wrap():
    spec = load_spec(REFERENCE.parent / "variants" / "naive_compare.toml")
    for result in sy.run_results(spec):
        assert result.status == REFUTED and "step 4" in result.detail, result


def test_wrong_rule_in_script_is_refuted(reference):
    script = sy.HANDSHAKE[:4] + (sy.ScriptStep("B", "synrcvd_ack_out_of_order", SEGMENT),)
    run = sy.symbolic_run(reference, script)
    result = sy._decide("x", sy._domain(run.inputs, reference), run.parts, run.inputs, "", 5.0)
    assert result.status == REFUTED and "step 4" in result.detail


# ---------------------------------------------------------------- boundary witnesses


@pytest.fixture(scope="module")
def witnesses(reference):
    return sy.boundary_witnesses(reference)


def _acceptable(w):
    seq, length, nxt, wnd = w["SEG.SEQ"], w["SEG.LEN"], w["RCV.NXT"], w["RCV.WND"]
    if length == 0:
        return seqnum.in_window(seq, nxt, wnd)
    return seqnum.in_window(seq, nxt, wnd) or seqnum.in_window(seqnum.seq_add(seq, length - 1), nxt, wnd)


def test_witnesses_are_deterministic_and_serialisable(reference, witnesses):
    assert sy.boundary_witnesses(reference) == witnesses
    assert json.loads(sy.witnesses_json(witnesses)) == witnesses
    assert all({"name", "why"} <= set(w) for w in witnesses)


def test_witnesses_satisfy_their_properties(witnesses):
    w = {x["name"]: x for x in witnesses}
    last, first = w["acceptable.last_in_window"], w["acceptable.first_beyond_window"]
    for x in (last, first):  # the window straddles 0
        assert seqnum.seq_add(x["RCV.NXT"], x["RCV.WND"] - 1) < x["RCV.NXT"]
    assert last["SEG.SEQ"] == seqnum.seq_add(last["RCV.NXT"], last["RCV.WND"] - 1) and _acceptable(last)
    assert first["SEG.SEQ"] == seqnum.seq_add(first["RCV.NXT"], first["RCV.WND"]) and not _acceptable(first)
    empty = w["acceptable.empty_before_window"]
    assert empty["SEG.SEQ"] == seqnum.seq_add(empty["RCV.NXT"], -1) and not _acceptable(empty)

    ok = w["ack.last_acceptable"]
    assert ok["SND.NXT"] == seqnum.MASK and ok["SEG.ACK"] == ok["SND.NXT"]
    assert seqnum.seq_lt(ok["SND.UNA"], ok["SEG.ACK"]) and ok["ACK_ACCEPTABLE"]
    new = w["ack.first_too_new"]
    assert new["SND.NXT"] == seqnum.MASK and new["SEG.ACK"] == 0 == seqnum.seq_add(new["SND.NXT"], 1)
    assert seqnum.seq_gt(new["SEG.ACK"], new["SND.NXT"]) and not new["ACK_ACCEPTABLE"] and new["ACK_TOO_NEW"]
    half = w["ack.half_distance"]
    assert (half["SEG.ACK"] - half["SND.UNA"]) % seqnum.MODULUS == seqnum.HALF
    assert not seqnum.seq_lt(half["SND.UNA"], half["SEG.ACK"]) and not seqnum.seq_lt(half["SEG.ACK"], half["SND.UNA"])
    assert not half["ACK_ACCEPTABLE"]

    overlap = w["segment.overlaps_rcv_nxt"]
    assert seqnum.seq_lt(overlap["SEG.SEQ"], overlap["RCV.NXT"])
    assert seqnum.seq_lt(overlap["RCV.NXT"], seqnum.seq_add(overlap["SEG.SEQ"], overlap["SEG.LEN"]))
    assert overlap["old_octets"] > 0 and overlap["new_octets"] > 0 and _acceptable(overlap)
