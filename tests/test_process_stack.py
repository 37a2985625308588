"""The common adapter of user-space stacks (tcpmodel.conformance.stacks.process), against a fake program:
packets cross the socketpair with the TUN header, calls and replies the line protocol, and a
program that hangs or dies makes an ERROR with its reason and leaves no process behind."""

import os
import sys
from pathlib import Path

from tcpmodel.conformance.harness import run_suite
from tcpmodel.conformance.outcomes import Settings
from tcpmodel.conformance.stacks import process
from tcpmodel.language.spec import load_spec
from tcpmodel.oracle.profiles import PROFILES
from tcpmodel.oracle.verdicts import ERROR, SKIPPED
from tcpmodel.vectors.generation import generate
from tests.conftest import REFERENCE

SPEC = load_spec(REFERENCE)
VECTORS = {v.name: v for v in generate(SPEC).vectors}
PROGRAM = str(Path(__file__).with_name("programs") / "fake_stack.py")


class FakeStack:
    NAME = "fake"

    def __init__(self, mode: str):
        self.mode, self.pids = mode, []

    def run(self, vector, settings, window):
        return process.run_vector([sys.executable, PROGRAM, self.mode], vector, settings, window)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def fake_children() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if PROGRAM in Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace") and alive(int(entry)):
                    found.append(int(entry))
            except OSError:
                pass
    return found


def run(mode, names, tmp_path, **settings):
    outcomes = run_suite(SPEC, [VECTORS[n] for n in names], FakeStack(mode), PROFILES["rfc9293"], Settings(**settings), tmp_path)
    return {o.name: o for o in outcomes}


def test_a_closed_port_passes_through_the_socketpair(tmp_path):
    # LISTEN is never called: the fake answers the SYN as a closed port does, RST,ACK
    name = "active.CLOSED.SYN.any"
    outcome = run("ok", [name], tmp_path, settle=0.02)[name]
    assert outcome.verdict == "PASS", outcome.reason
    kept = run_suite(SPEC, [VECTORS[name]], FakeStack("ok"), PROFILES["rfc9293"], Settings(settle=0.02), tmp_path, keep_all=True)[0]
    trace = Path(next(p for p in kept.files if p.endswith(".jsonl"))).read_text()
    assert '"seg": "out", "flags": "RST,ACK"' in trace
    assert fake_children() == []


def test_a_program_that_hangs_or_dies_is_an_error_and_is_gone(tmp_path):
    name = "active.rule.synsent_synack"
    hung = run("hang", [name], tmp_path, timeout=1.0)[name]
    assert hung.verdict == ERROR and ("killed" in hung.reason or "did not answer" in hung.reason)
    died = run("die", [name], tmp_path)[name]
    assert died.verdict == ERROR and "exit status 7" in died.reason
    assert fake_children() == []


def test_a_call_the_stack_cannot_make_skips_the_vector_with_why(tmp_path):
    name = next(n for n, v in VECTORS.items() if v.role == "active" and any(s.stimulus.get("call") == "SEND" for s in v.steps))
    outcome = run("unsupported", [name], tmp_path)[name]
    assert outcome.verdict == SKIPPED and "cannot send here" in outcome.reason


def test_a_program_that_cannot_start_says_so(tmp_path):
    stack = FakeStack("ok")
    stack.run = lambda vector, settings, window: process.run_vector(["/nonexistent/stack"], vector, settings, window)
    outcome = run_suite(SPEC, [VECTORS["active.rule.synsent_synack"]], stack, PROFILES["rfc9293"], Settings(), tmp_path)[0]
    assert outcome.verdict == ERROR and "cannot start /nonexistent/stack" in outcome.reason
