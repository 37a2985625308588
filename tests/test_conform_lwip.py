"""The conformance harness against lwIP (Debian's liblwip, driven by tcpmodel's C program): a few
representative vectors with what lwIP really sent, a FAIL and a SKIP with their reasons, the
program's line protocol under bad input, and a program that hangs or dies: an ERROR with its
reason, and no process or temporary file left behind."""

import json
import os
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from tcpmodel.conformance.harness import run_suite
from tcpmodel.conformance.outcomes import Settings
from tcpmodel.conformance.stacks import lwip
from tcpmodel.language.spec import load_spec
from tcpmodel.oracle.profiles import PROFILES
from tcpmodel.oracle.verdicts import ERROR, SKIPPED
from tcpmodel.vectors.generation import generate
from tests.conftest import REFERENCE, require_stack

SPEC = load_spec(REFERENCE)
VECTORS = {v.name: v for v in generate(SPEC).vectors}


@pytest.fixture(scope="module")
def program() -> Path:
    """The built program; the tests skip only when lwIP truly cannot be installed or built here
    (and fail instead where TCPMODEL_REQUIRE_STACKS demands it, as in CI)."""
    return require_stack("lwip").prepare()


@pytest.fixture
def own_tempdir(tmp_path, monkeypatch):
    """Temporary files of the run (the program's captured stderr) go here, to be counted after."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def run(names, tmp_path, profile="lwip", stack=lwip, keep_all=False, **settings):
    outcomes = run_suite(SPEC, [VECTORS[n] for n in names], stack, PROFILES[profile], Settings(**settings),
                         tmp_path / "out", keep_all=keep_all)
    return {o.name: o for o in outcomes}


def segments(outcome):
    """(direction, flags, seq, ack, len) of each segment in the trace the run wrote."""
    path = next(p for p in outcome.files if p.endswith(".jsonl"))
    lines = [json.loads(line) for line in Path(path).read_text().splitlines()[1:]]
    return [(e["seg"], e["flags"], e["seq"], e["ack"], e["len"]) for e in lines if "seg" in e]


def running(path: Path) -> list[int]:
    """Processes alive (not zombies) whose command line holds ``path``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                alive = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
                if alive and str(path) in Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry))
            except OSError:
                pass
    return found


def test_handshakes_data_close_and_reset_pass_with_what_lwip_sent(program, tmp_path):
    names = ["active.rule.synsent_synack", "passive.ESTABLISHED.data.in_window", "active.rule.send_data",
             "active.rule.last_ack_fin_acked", "active.ESTABLISHED.RST.in_window"]
    outcomes = run(names, tmp_path, keep_all=True)
    assert {n: o.verdict for n, o in outcomes.items()} == dict.fromkeys(names, "PASS")
    isn = outcomes["active.rule.synsent_synack"].isn
    # lwIP's SYN carries MSS and window scale; the tester's SYN,ACK has no window scale, so none is used
    assert segments(outcomes["active.rule.synsent_synack"]) == [
        ("out", "SYN", isn, 0, 0), ("in", "SYN,ACK", 1000, (isn + 1) % 2**32, 0), ("out", "ACK", (isn + 1) % 2**32, 1001, 0)]
    isn = outcomes["passive.ESTABLISHED.data.in_window"].isn
    assert segments(outcomes["passive.ESTABLISHED.data.in_window"]) == [
        ("in", "SYN", 1000, 0, 0), ("out", "SYN,ACK", isn, 1001, 0), ("in", "ACK", 1001, (isn + 1) % 2**32, 0),
        ("in", "ACK", 1001, (isn + 1) % 2**32, 1), ("out", "ACK", (isn + 1) % 2**32, 1002, 0)]
    isn = outcomes["active.rule.send_data"].isn
    assert segments(outcomes["active.rule.send_data"])[-1] == ("out", "PSH,ACK", (isn + 1) % 2**32, 1001, 1)
    isn = outcomes["active.rule.last_ack_fin_acked"].isn
    assert segments(outcomes["active.rule.last_ack_fin_acked"])[3:] == [
        ("in", "FIN,ACK", 1001, (isn + 1) % 2**32, 0), ("out", "ACK", (isn + 1) % 2**32, 1002, 0),
        ("out", "FIN,ACK", (isn + 1) % 2**32, 1002, 0), ("in", "ACK", 1002, (isn + 2) % 2**32, 0)]
    reset = segments(outcomes["active.ESTABLISHED.RST.in_window"])
    assert reset[-1][:2] == ("in", "RST")  # the last segment: the reset at RCV.NXT is answered with nothing


def test_no_simultaneous_open_is_a_must_finding(program, tmp_path):
    name = "active.rule.synsent_syn"
    outcome = run([name], tmp_path)[name]
    assert outcome.verdict == "FAIL" and outcome.judged.seen == "no segment"
    assert outcome.judged.allowed[0].startswith("<SYN,ACK ")
    assert outcome.finding.name == "no-simultaneous-open" and outcome.finding.kind == "MUST"
    assert any(p.endswith(".svg") for p in outcome.files)


def test_rfc5961_answers_pass_under_the_lwip_profile_only(program, tmp_path):
    name = "active.ESTABLISHED.SYN.in_window"
    outcome = run([name], tmp_path)[name]
    assert outcome.verdict == "PASS" and outcome.others["rfc9293"] == "FAIL"


def test_a_call_the_raw_api_cannot_make_is_skipped_with_why(program, tmp_path):
    name = "passive.rule.synrcvd_close"
    outcome = run([name], tmp_path)[name]
    assert outcome.verdict == SKIPPED and "SYN-RECEIVED" in outcome.reason and "accept callback" in outcome.reason


def test_bad_input_on_the_line_protocol_is_an_error_reply(program):
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with mine, theirs:
        child = subprocess.Popen([str(program), str(theirs.fileno()), "10.9.0.1", "5000", "10.9.0.2", "40000"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=(theirs.fileno(),))
        try:
            assert child.stdout.readline().startswith(b"ready lwIP 2.1")

            def call(line: bytes) -> str:
                child.stdin.write(line + b"\n")
                child.stdin.flush()
                return child.stdout.readline().decode().strip()

            assert call(b"") == "error empty command"
            assert call(b"FROBNICATE").startswith("error unknown command")
            assert call(b"SEND").startswith("error SEND wants a length")
            assert call(b"SEND -3").startswith("error SEND wants a length")
            assert call(b"SEND 99999999999999999999").startswith("error SEND wants a length")
            assert call(b"CLOSE now") == "error CLOSE takes no argument"
            assert call(b"x" * 5000).startswith("error the command is longer")
            assert call(b"ABORT") == "error connection does not exist"
            assert call(b"LISTEN") == "ok"
            assert call(b"LISTEN") == "error connection already exists"
            assert call(b"SEND 1").startswith("unsupported SEND on a listening pcb")
            assert call(b"RTO") == "ok 3.000"
            assert call(b"QUIT") == "ok"
            assert child.wait(5) == 0
        finally:
            child.kill()
            child.wait()
    assert subprocess.run([str(program), "7"], check=False, capture_output=True).returncode == 2  # bad argv: usage, exit 2


def test_a_program_that_hangs_or_dies_is_an_error_and_leaves_nothing(program, tmp_path, own_tempdir):
    # a retransmission is waited for about 3 s: a 0.5 s limit kills the program
    name = "active.rule.synsent_retransmit"
    hung = run([name], tmp_path, timeout=0.5)[name]
    assert hung.verdict == ERROR and "killed" in hung.reason

    class Dying:
        """lwIP's program, ended by SIGTERM 0.1 s into the vector (coreutils' timeout), while the
        harness waits for the retransmission: no call fails, yet the vector is no PASS."""

        NAME = "lwip"

        @staticmethod
        def run(vector, settings, window):
            from tcpmodel.conformance.stacks import process

            return process.run_vector(["timeout", "0.1", str(program)], vector, settings, window)

    died = run([name], tmp_path, stack=Dying)[name]
    assert died.verdict == ERROR and "exited before the vector ended (exit status 124)" in died.reason

    class Misstarted(Dying):
        @staticmethod
        def run(vector, settings, window):
            from tcpmodel.conformance.stacks import process

            # the program refuses a packet descriptor that is not open: usage on stderr, exit status 2
            return process.run_vector(["sh", "-c", f'exec "{program}" 999 "$2" "$3" "$4" "$5"', "sh"], vector,
                                      settings, window)

    misstarted = run([name], tmp_path, stack=Misstarted)[name]
    assert misstarted.verdict == ERROR and "exit status 2" in misstarted.reason and "usage" in misstarted.reason
    assert running(program) == []
    assert list(own_tempdir.iterdir()) == []
    assert [p.name for p in tmp_path.rglob("*") if p.name.endswith((".tmp", ".partial"))] == []


def test_describe_names_the_release_and_the_build():
    info = lwip.describe()
    assert info["version"].startswith("lwIP ") and "Debian" in info["version"]
    if lwip.unavailable_reason() is None:  # the release is read from the installed headers and dpkg
        assert info["version"].startswith("lwIP 2.1.3 (Debian 2.1.3")
        assert "NO_SYS 0" in info["build"] and "TCP_MSS 1460" in info["build"]


def test_without_liblwip_dev_the_reason_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    from tcpmodel.cli.main import main

    monkeypatch.setattr(lwip, "INCLUDE", tmp_path / "no-such-include")
    assert lwip.unavailable_reason() == "liblwip-dev is not installed: run tcpmodel stacks --install lwip"
    assert main(["conform", "--stack", "lwip", "--vectors", "active.rule.closed_connect", "--out", str(tmp_path)]) == 2
    assert "the lwip stack cannot run here: liblwip-dev is not installed" in capsys.readouterr().err
