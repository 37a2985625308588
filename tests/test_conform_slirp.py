"""The conformance harness against libslirp's TCP, played as slirp's guest through the slirp
program (``tcpmodel.conformance.stacks.slirp``): a few representative vectors with outcomes asserted on what
slirp really sent; a FAIL is explained by the finding it belongs to; the program hanging or dying
is an ERROR that leaves no process and no temporary file behind."""

import json
import os
import signal
import tempfile
from pathlib import Path

import pytest

from tcpmodel.conformance.harness import run_suite
from tcpmodel.conformance.outcomes import Settings, Unsupported
from tcpmodel.conformance.stacks import process, slirp
from tcpmodel.language.spec import load_spec
from tcpmodel.oracle.profiles import PROFILES
from tcpmodel.oracle.verdicts import ERROR
from tcpmodel.vectors.generation import generate
from tests.conftest import REFERENCE, require_stack
from tests.netns_support import child_processes

SPEC = load_spec(REFERENCE)


@pytest.fixture(scope="module")
def vectors():
    require_stack("slirp")
    return {v.name: v for v in generate(SPEC).vectors}


def run(vectors, names, tmp_path, profile="rfc9293", keep_all=True, **settings):
    chosen = [vectors[n] for n in names]
    outcomes = run_suite(SPEC, chosen, slirp, PROFILES[profile], Settings(**settings), tmp_path, keep_all=keep_all)
    return {o.name: o for o in outcomes}


def segments(outcome):
    """(direction, flags, seq, ack, len) of each segment in the outcome's trace."""
    path = next(p for p in outcome.files if p.endswith(".jsonl"))
    lines = [json.loads(line) for line in Path(path).read_text().splitlines()[1:]]
    return [(e["seg"], e["flags"], e["seq"], e["ack"], e["len"]) for e in lines if "seg" in e]


def test_handshakes_data_close_and_reset_pass_with_what_slirp_sent(vectors, tmp_path):
    names = ["active.rule.synsent_synack", "passive.rule.listen_syn", "passive.rule.send_data",
             "active.rule.established_close", "passive.ESTABLISHED.RST.in_window"]
    outcomes = run(vectors, names, tmp_path)
    assert {n: o.verdict for n, o in outcomes.items()} == dict.fromkeys(names, "PASS")
    # the active open comes from slirp's host alias, from the port its host client was bound to
    active = outcomes["active.rule.synsent_synack"]
    isn = active.isn
    assert json.loads(Path(active.files[0]).read_text().splitlines()[0])["endpoint"] == "10.0.2.2:40000"
    assert segments(active) == [("out", "SYN", isn, 0, 0), ("in", "SYN,ACK", 1000, (isn + 1) % 2**32, 0),
                                ("out", "ACK", (isn + 1) % 2**32, 1001, 0)]
    # the passive open: slirp's SYN-ACK once its connect() to the host listener has completed
    passive = outcomes["passive.rule.listen_syn"]
    assert segments(passive) == [("in", "SYN", 1000, 0, 0), ("out", "SYN,ACK", passive.isn, 1001, 0)]
    # the host side's send() is one octet of data to the guest
    sent = segments(outcomes["passive.rule.send_data"])
    isn = outcomes["passive.rule.send_data"].isn
    assert sent[-1] == ("out", "PSH,ACK", (isn + 1) % 2**32, 1001, 1)
    # shutdown(SHUT_WR) on the host side is slirp's FIN
    closed = segments(outcomes["active.rule.established_close"])
    isn = outcomes["active.rule.established_close"].isn
    assert closed[-1] == ("out", "FIN,ACK", (isn + 1) % 2**32, 1001, 0)
    # an in-window reset ends the connection quietly
    assert segments(outcomes["passive.ESTABLISHED.RST.in_window"])[-1][:2] == ("in", "RST")


def test_a_syn_to_a_port_nobody_listens_on_is_refused_with_a_reset(vectors, tmp_path):
    """Before LISTEN slirp's connect() to the host is refused, and slirp answers as a CLOSED TCP."""
    outcome = run(vectors, ["passive.rule.closed_no_ack"], tmp_path)["passive.rule.closed_no_ack"]
    assert outcome.verdict == "PASS"
    assert segments(outcome) == [("in", "SYN", 1000, 0, 0), ("out", "RST,ACK", 0, 1001, 0)]


def test_fails_are_explained_by_their_findings(vectors, tmp_path):
    names = ["active.SYN-SENT.RST-ACK.unsent_ACK", "passive.rule.synrcvd_close", "passive.rule.fin_wait_1_fin"]
    outcomes = run(vectors, names, tmp_path, keep_all=False)
    assert {n: o.verdict for n, o in outcomes.items()} == dict.fromkeys(names, "FAIL")
    # a RST,ACK with an ACK of nothing sent, in SYN-SENT, is answered with a reset
    reset = outcomes["active.SYN-SENT.RST-ACK.unsent_ACK"]
    assert reset.finding.name == "reset-answers-a-reset" and reset.finding.kind == "procedure"
    assert segments(reset)[-2:] == [("in", "RST,ACK", 0, (reset.isn + 2) % 2**32, 0), ("out", "RST", (reset.isn + 2) % 2**32, 0, 0)]
    # slirp reads the host side's shutdown only once the handshake is complete: no FIN in SYN-RECEIVED
    close = outcomes["passive.rule.synrcvd_close"]
    assert close.finding.name == "calls-wait-for-the-handshake" and close.finding.kind == "harness"
    assert close.judged.seen == "no segment" and close.judged.allowed[0].startswith("<FIN,ACK")
    # the ACK of a simultaneous close carries slirp's FIN again
    fin = outcomes["passive.rule.fin_wait_1_fin"]
    assert fin.finding.name == "fin-resent-with-every-ack"
    assert fin.judged.seen == f"<FIN,ACK SEQ={(fin.isn + 1) % 2**32} ACK=1002>"
    assert any(p.endswith(".svg") for p in fin.files)


def test_what_slirp_cannot_express_is_unsupported(vectors):
    adapter = process.ProcessAdapter([str(slirp.prepare())], "passive", slirp.ADDRESSES)
    try:
        assert adapter.version.startswith("libslirp ")
        assert adapter.call("LISTEN", None) == "ok"
        with pytest.raises(Unsupported, match="passive-to-active"):
            adapter.call("SEND", 1)
        assert adapter.call("LISTEN", None) == "error: connection already exists"
        assert adapter.timer_wait("RETRANSMISSION") == pytest.approx(1.5 * 6.59)
    finally:
        adapter.close()
    assert adapter.process.poll() is not None


def test_a_hung_program_is_killed_and_nothing_is_left_behind(vectors, tmp_path, monkeypatch):
    """A vector that waits for a retransmission (6 s) under a 0.5 s timeout: the program is killed,
    the verdict is ERROR, and no process or temporary file stays."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before = child_processes()
    outcome = run(vectors, ["active.rule.synsent_retransmit"], tmp_path, keep_all=False, timeout=0.5)["active.rule.synsent_retransmit"]
    assert outcome.verdict == ERROR and "killed" in outcome.reason
    assert child_processes() == before
    assert list(scratch.iterdir()) == []


def test_a_program_that_dies_is_an_error_with_its_exit_status(vectors, tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    call = process.ProcessAdapter.call

    def dying(self, name, length):
        if name == "CLOSE":
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        return call(self, name, length)

    monkeypatch.setattr(process.ProcessAdapter, "call", dying)
    before = child_processes()
    outcome = run(vectors, ["active.rule.established_close"], tmp_path, keep_all=False)["active.rule.established_close"]
    assert outcome.verdict == ERROR
    assert outcome.reason.startswith("HarnessFailed: the stack's program") and "'CLOSE'" in outcome.reason
    assert "exit status -9" in outcome.reason
    assert child_processes() == before
    assert list(scratch.iterdir()) == []


def test_the_module_says_what_it_is(vectors):
    info = slirp.describe()
    assert info["version"].startswith("libslirp ") and "10.0.2.2" in info["addresses"]
    assert slirp.NAME == "slirp" and "libslirp-dev" in slirp.DEBIAN_PACKAGES
    assert len({f.name for f in slirp.FINDINGS}) == len(slirp.FINDINGS)
