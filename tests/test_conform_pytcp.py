"""The conformance harness against PyTCP (pmd-pytcp): a few representative vectors with what PyTCP
really sent, a deviation explained by its finding, and a program that dies or hangs: an ERROR
with the reason, and no process or temporary file left behind."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tcpmodel.conformance.harness import run_suite
from tcpmodel.conformance.outcomes import Settings
from tcpmodel.conformance.stacks import process, pytcp
from tcpmodel.language.spec import load_spec
from tcpmodel.oracle.profiles import PROFILES
from tcpmodel.oracle.verdicts import ERROR
from tcpmodel.vectors.generation import generate
from tests.conftest import REFERENCE

SPEC = load_spec(REFERENCE)
MASK = 2**32 - 1

pytestmark = pytest.mark.skipif(pytcp.unavailable_reason() is not None, reason=str(pytcp.unavailable_reason()))


@pytest.fixture(scope="module")
def vectors():
    return {v.name: v for v in generate(SPEC).vectors}


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Temporary files of this test go to a directory of their own, to be checked afterwards."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


class RecordingPyTCP:
    """The pytcp stack module, with the pid of every program it starts written down."""

    FINDINGS = pytcp.FINDINGS

    def __init__(self, addresses=process.DEFAULT_ADDRESSES):
        self.addresses, self.pids = addresses, []

    def run(self, vector, settings, window):
        def launch(*arguments):
            program = pytcp.FORK_SERVER.launch(*arguments)
            self.pids.append(program.pid)
            return program

        return process.run_vector([sys.executable, str(pytcp.PROGRAM)], vector, settings, window, self.addresses,
                                  launch=launch)


def run(vectors, names, out, stack=pytcp, profile="pytcp", keep_all=True, **settings):
    outcomes = run_suite(SPEC, [vectors[n] for n in names], stack, PROFILES[profile], Settings(**settings), out,
                         keep_all=keep_all)
    return {o.name: o for o in outcomes}


def segments(outcome):
    """(direction, flags, seq, ack, len) of each segment in the outcome's trace."""
    path = next(p for p in outcome.files if p.endswith(".jsonl"))
    lines = [json.loads(line) for line in Path(path).read_text().splitlines()[1:]]
    return [(e["seg"], e["flags"], e["seq"], e["ack"], e["len"]) for e in lines if "seg" in e]


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def test_handshakes_data_close_and_reset_pass_with_what_pytcp_sent(vectors, tmp_path):
    names = ["active.rule.synsent_synack", "passive.ESTABLISHED.data.in_window", "active.rule.last_ack_fin_acked",
             "active.ESTABLISHED.RST.in_window", "passive.rule.synrcvd_close"]
    outcomes = run(vectors, names, tmp_path)
    assert {n: o.verdict for n, o in outcomes.items()} == dict.fromkeys(names, "PASS")

    active = outcomes["active.rule.synsent_synack"]
    isn = active.isn
    seen = segments(active)
    # PyTCP's SYN offers ECN (ECE,CWR) along with SACK, window scale and timestamps: not Fast Open
    assert seen[0][:2] == ("out", "SYN,ECE,CWR") and seen[0][2:] == (isn, 0, 0)
    assert seen[1:] == [("in", "SYN,ACK", 1000, (isn + 1) & MASK, 0), ("out", "ACK", (isn + 1) & MASK, 1001, 0)]

    passive = outcomes["passive.ESTABLISHED.data.in_window"]
    isn = passive.isn
    assert segments(passive) == [("in", "SYN", 1000, 0, 0), ("out", "SYN,ACK", isn, 1001, 0),
                                 ("in", "ACK", 1001, (isn + 1) & MASK, 0), ("in", "ACK", 1001, (isn + 1) & MASK, 1),
                                 ("out", "ACK", (isn + 1) & MASK, 1002, 0)]

    # a CLOSE in SYN-RECEIVED of a passive open reaches the half-open connection: a FIN follows
    closing = outcomes["passive.rule.synrcvd_close"]
    isn = closing.isn
    assert ("out", "FIN,ACK", (isn + 1) & MASK, 1001, 0) in segments(closing)

    reset = outcomes["active.ESTABLISHED.RST.in_window"]
    assert segments(reset)[-1][:2] == ("in", "RST")


def test_a_deviation_is_explained_by_its_finding(vectors, tmp_path):
    """After a CLOSE in SYN-RECEIVED PyTCP retransmits a FIN in the SYN's sequence number."""
    name = "active.rule.fin_retransmit_syn"
    outcome = run(vectors, [name], tmp_path)[name]
    assert outcome.verdict == "FAIL" and outcome.finding.name == "synrcvd-fin-retransmitted-as-syn"
    assert outcome.finding.kind == "procedure"
    isn = outcome.isn
    sent = [s for s in segments(outcome) if s[0] == "out"]
    assert sent[1] == ("out", "SYN,ACK", isn, 1001, 0)
    assert sent[2] == ("out", "FIN,ACK", (isn + 1) & MASK, 1001, 0)
    assert sent[3] == ("out", "FIN,ACK", isn, 1001, 0)  # the retransmission: a FIN where the SYN was
    assert any(p.endswith(".svg") for p in outcome.files)


def test_the_rfc5961_challenge_ack_passes_under_the_pytcp_profile(vectors, tmp_path):
    name = "active.ESTABLISHED.SYN.in_window"
    outcome = run(vectors, [name], tmp_path)[name]
    assert outcome.verdict == "PASS" and outcome.others["rfc9293"] == "FAIL"
    assert segments(outcome)[-1][:2] == ("out", "ACK")


def test_a_program_that_dies_is_an_error_with_its_last_words(vectors, tmp_path, private_tmp):
    stack = RecordingPyTCP(process.Addresses("10.9.0.256", "10.9.0.2", process.DEFAULT_ADDRESSES.ports))
    outcome = run(vectors, ["active.rule.closed_connect"], tmp_path, stack=stack)["active.rule.closed_connect"]
    assert outcome.verdict == ERROR
    assert "exited while answering 'ready'" in outcome.reason and "10.9.0.256" in outcome.reason
    assert len(stack.pids) == 1 and not alive(stack.pids[0])
    assert list(private_tmp.iterdir()) == []


def test_a_hung_program_is_killed_and_nothing_is_left_behind(vectors, tmp_path, private_tmp):
    """A vector that waits 1.5 s for a retransmission under a 0.5 s timeout."""
    stack = RecordingPyTCP()
    name = "active.rule.synsent_retransmit"
    outcome = run(vectors, [name], tmp_path, stack=stack, timeout=0.5)[name]
    assert outcome.verdict == ERROR and "killed" in outcome.reason
    assert len(stack.pids) == 1 and not alive(stack.pids[0])
    assert list(private_tmp.iterdir()) == []


def test_the_program_exits_on_quit_and_when_its_input_closes():
    """Run standalone (a fresh interpreter, no fork server), and forked by the fork server."""
    for launch in (process.popen, pytcp.FORK_SERVER.launch):
        for ending in ("QUIT", "close"):
            packets, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            with tempfile.TemporaryFile() as stderr:
                program = launch([sys.executable, str(pytcp.PROGRAM), str(theirs.fileno()), "10.9.0.1", "40000",
                                  "10.9.0.2", "5000"], theirs.fileno(), stderr, None, None)
                theirs.close()
                assert program.stdout.readline() == f"ready PyTCP {pytcp.PYTCP_VERSION}\n".encode()
                if ending == "QUIT":
                    program.stdin.write(b"QUIT\n")
                    program.stdin.flush()
                program.stdin.close()
                assert program.wait(5.0) == 0
                program.stdout.close()
            packets.close()


def test_the_fork_server_starts_again_after_it_was_closed(vectors, tmp_path):
    pytcp.FORK_SERVER.close()
    name = "active.rule.closed_connect"
    assert run(vectors, [name], tmp_path, keep_all=False)[name].verdict == "PASS"
    server = pytcp.FORK_SERVER.pid
    assert server is not None and alive(server)
    pytcp.FORK_SERVER.close()
    deadline = time.monotonic() + 5
    while alive(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(server) and pytcp.FORK_SERVER.pid is None


def test_what_the_report_says_and_why_it_cannot_run(monkeypatch):
    described = pytcp.describe()
    assert described["version"].startswith(f"PyTCP {pytcp.PYTCP_VERSION} (PyPI pmd-pytcp)")
    assert "10.9.0.1/24" in described["addresses"]
    assert pytcp.PYPI_PACKAGES == (f"pmd-pytcp=={pytcp.PYTCP_VERSION}",)
    monkeypatch.setattr(pytcp, "installed_version", lambda: None)
    assert "tcpmodel stacks --install pytcp" in pytcp.unavailable_reason()
    monkeypatch.setattr(pytcp, "installed_version", lambda: "0.3.7")
    assert "0.3.7 is installed" in pytcp.unavailable_reason()


def test_every_finding_names_vectors_that_exist(vectors):
    import fnmatch

    for finding in pytcp.FINDINGS:
        for pattern in finding.vectors:
            assert any(fnmatch.fnmatchcase(n, pattern) for n in vectors), (finding.name, pattern)
    assert len({f.name for f in pytcp.FINDINGS}) == len(pytcp.FINDINGS)


def test_no_stray_server_is_left_by_the_command_line():
    """A conform run in a process of its own: its fork server ends with it."""
    done = subprocess.run([sys.executable, "-m", "tcpmodel", "conform", "--stack", "pytcp", "--profile", "pytcp",
                           "--vectors", "active.rule.closed_no_ack", "--no-progress", "--json", "--out", os.devnull],
                          check=False, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["PASS"] == 1
    leftovers = subprocess.run(["pgrep", "-f", str(pytcp.PROGRAM.with_name("zygote.py"))], check=False, capture_output=True, text=True)
    assert set(leftovers.stdout.split()) <= {str(pytcp.FORK_SERVER.pid)}  # at most this process's own
