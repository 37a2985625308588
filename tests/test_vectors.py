"""Conformance vectors: coverage of the endpoint's rules and of the state x segment-kind matrix,
every vector accepted by the oracle as the spec's own answer, and the two export formats."""

import json

import pytest

from tcpmodel.cli.main import main
from tcpmodel.language.spec import load_spec
from tcpmodel.oracle.judge import judge
from tcpmodel.oracle.verdicts import FAIL, PASS
from tcpmodel.vectors.generation import PROFILE, generate, vector_trace
from tcpmodel.vectors.packetdrill import exportable, script
from tests.conftest import REFERENCE

SPEC = load_spec(REFERENCE)


@pytest.fixture(scope="module")
def suite():
    return generate(SPEC)


def test_every_rule_of_the_endpoint_fires(suite):
    active = [r.name for r in SPEC.rules if r.active(frozenset())]
    assert sorted(suite.rules) == sorted(active)
    assert [name for name, n in suite.rules.items() if not n] == []
    assert suite.rules["ack_too_new"] > 0  # only a crafted segment reaches it (see README)


def test_the_matrix_is_filled_but_for_cells_that_cannot_exist(suite):
    assert set(suite.impossible.values()) == {"a SYN segment carries no ACK", "a RST segment carries no ACK"}
    assert {position for (_, _, position) in suite.impossible} == {"unsent ACK", "ACK 2^31 away"}
    for state in SPEC.states:
        for kind in ("SYN", "SYN-ACK", "ACK", "data", "FIN", "RST", "RST-ACK"):
            assert any(s == state and k == kind and name for (s, k, _), name in suite.cells.items()), (state, kind)


def test_both_roles_and_the_crafted_segment_lands_where_named(suite):
    assert {v.role for v in suite.vectors} == {"active", "passive"}
    by_name = {v.name: v for v in suite.vectors}
    beyond = by_name["passive.ESTABLISHED.data.out_of_window"].steps[-1]
    assert beyond.rules == ["established_segment"] or beyond.rules  # a rule of the spec answers it
    assert beyond.allowed == [[{"flags": "ACK", "seq": 4294967295, "ack": 1001, "len": 0}]]  # <SEQ=SND.NXT><ACK=RCV.NXT>
    too_new = by_name["active.ESTABLISHED.ACK.unsent_ACK"].steps[-1]
    assert too_new.rules == ["ack_too_new"] and too_new.states == ["ESTABLISHED"]
    last = by_name["passive.ESTABLISHED.data.last_in_window"].steps[-1]
    assert last.stimulus["segment"]["seq"] == 1001 + 3 and last.rules  # RCV.NXT + RCV.WND - 1


def test_boundary_positions_are_read_off_z3s_witnesses():
    from tcpmodel.vectors.generation import witnessed_offsets

    assert witnessed_offsets(SPEC) == {"last in window": 3, "out of window": 4, "before window": 2**32 - 1,
                                       "unsent ACK": 1, "ACK 2^31 away": 2**31}


def test_every_vector_is_the_spec_answering_itself(suite):
    """Played back with the first allowed answer at each step, every vector passes the oracle;
    with a wrong answer at the last step it fails there (unless that answer is the endpoint's
    first SYN, whose SEQ binds its ISN)."""
    for vector in suite.vectors:
        trace = vector_trace(vector)
        assert judge(SPEC, trace, PROFILE, end_is_silence=True, calls_observed=True).verdict == PASS, vector.name
    for vector in suite.vectors[:60]:
        last = vector.steps[-1]
        trace = vector_trace(vector)
        events = list(trace.events)
        syns = [i for i, e in enumerate(events) if getattr(e, "direction", "") == "out" and e.flags & 2]
        if last.allowed[0] and syns and syns[0] != len(events) - 1:
            wrong = events[-1].__class__(events[-1].t, "out", events[-1].flags, (events[-1].seq + 1) % 2**32,
                                         events[-1].ack, events[-1].win, events[-1].length)
            verdict = judge(SPEC, trace.__class__(trace.header, tuple(events[:-1]) + (wrong,)), PROFILE, calls_observed=True)
            assert verdict.verdict == FAIL and verdict.event == len(events) - 1, vector.name


def test_packetdrill_script_of_a_passive_handshake(suite):
    vector = next(v for v in suite.vectors if v.name == "passive.ESTABLISHED.data.in_window")
    text = script(vector, SPEC.constants["RCV.WND"])
    assert text.splitlines()[2:] == [
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
        "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0",
        "+0 bind(3, ..., ...) = 0",
        "+0 listen(3, 1) = 0",
        "// the spec allows no segment here",
        "+0 < S 0:0(0) win 65535 <mss 1460>",
        "+0 > S. 0:0(0) ack 1 <...>",
        "+0 < . 1:1(0) ack 1 win 65535",
        "// the spec allows no segment here",
        "+0 accept(3, ..., ...) = 4",
        "+0 setsockopt(4, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0",
        "+0 close(3) = 0",
        "+0 < P. 1:2(1) ack 1 win 65535",
        "+0~+0.5 > . 1:1(0) ack 2",
    ]


def test_the_command_writes_both_formats_deterministically(tmp_path, capsys):
    assert main(["vectors", str(REFERENCE), "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "rules:     62/62 of the endpoint's rules fired (100 %)" in out
    lines = (tmp_path / "a" / "vectors.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    assert header["tcpmodel_vectors"] == 1 and header["vectors"] == len(lines) - 1
    assert {"name", "role", "target", "steps"} <= set(json.loads(lines[1]))
    assert main(["vectors", str(REFERENCE), "--out", str(tmp_path / "b"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rules"] == {**data["rules"], "fired": 62, "total": 62}
    assert (tmp_path / "a" / "vectors.jsonl").read_bytes() == (tmp_path / "b" / "vectors.jsonl").read_bytes()
    assert main(["vectors", str(REFERENCE), "--out", str(tmp_path / "p"), "--format", "packetdrill"]) == 0
    files = sorted((tmp_path / "p").glob("*.pkt"))
    skipped = sum(not exportable(v) for v in generate(SPEC).vectors)
    out = capsys.readouterr().out
    assert 0 < skipped < data["vectors"] and len(files) == data["vectors"] - skipped
    assert "(not exported: " in out and "4 vectors: waits for a user timeout or TIME-WAIT" in out


def test_passive_prefixes_make_no_call_a_socket_api_cannot_make():
    """No socket API has a handle on a passive connection before accept(): the passive role's
    vectors reach each state without a user call in SYN-RECEIVED, except the two rules that are
    such a call (CLOSE there, and the FIN it sends being retransmitted)."""
    needing = []
    for vector in generate(SPEC).vectors:
        if vector.role != "passive":
            continue
        before = ["LISTEN"]
        for step in vector.steps:
            if step.stimulus.get("call", "LISTEN") != "LISTEN" and "SYN-RECEIVED" in before:
                needing.append(vector.name)
                break
            before = step.states
    assert needing == ["passive.rule.synrcvd_close", "passive.rule.fin_retransmit_syn"]
