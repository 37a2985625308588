"""The conformance harness against the real Linux kernel: a few representative vectors, each in a
namespace of its own behind a TUN device, with outcomes asserted on what the kernel really sent;
nothing is left behind, also when the stack is cut off by the per-vector timeout."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from tcpmodel.base.flags import FLAG_BITS
from tcpmodel.cli.main import main
from tcpmodel.conformance.harness import run_suite, select
from tcpmodel.conformance.outcomes import Settings
from tcpmodel.conformance.report import conform_markdown
from tcpmodel.conformance.stacks import linux
from tcpmodel.host.netns import leftover_namespaces, own_prefix
from tcpmodel.language.spec import load_spec
from tcpmodel.oracle.profiles import PROFILES
from tcpmodel.oracle.verdicts import ERROR, SKIPPED
from tcpmodel.vectors.generation import generate
from tests.conftest import REFERENCE
from tests.netns_support import child_processes, netns_capable, no_leftovers  # noqa: F401 - fixtures
from tests.test_provenance import named_command

SYN, ACK, RST, FIN = (FLAG_BITS[f] for f in ("SYN", "ACK", "RST", "FIN"))
SPEC = load_spec(REFERENCE)


@pytest.fixture(scope="module")
def vectors():
    return {v.name: v for v in generate(SPEC).vectors}


@pytest.fixture
def tun(no_leftovers):  # noqa: F811 - the fixture imported from netns_support
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("this machine has no /dev/net/tun")


def run(vectors, names, tmp_path, profile="rfc9293", **settings):
    chosen = [vectors[n] for n in names]
    outcomes = run_suite(SPEC, chosen, linux, PROFILES[profile], Settings(**settings), tmp_path)
    return {o.name: o for o in outcomes}


def segments(path):
    """(direction, flags, seq, ack, len) of each segment in a written trace."""
    lines = [json.loads(line) for line in Path(path).read_text().splitlines()[1:]]
    return [(e["seg"], e["flags"], e["seq"], e["ack"], e["len"]) for e in lines if "seg" in e]


def test_handshakes_data_close_and_reset_pass_with_what_the_kernel_sent(vectors, tun, tmp_path):
    names = ["active.rule.synsent_synack", "passive.ESTABLISHED.data.in_window",
             "active.rule.last_ack_fin_acked", "active.ESTABLISHED.RST.in_window"]
    outcomes = run(vectors, names, tmp_path, settle=0.03)
    assert {n: o.verdict for n, o in outcomes.items()} == dict.fromkeys(names, "PASS")
    # every other profile agrees on these
    assert all(set(o.others.values()) == {"PASS"} for o in outcomes.values())
    # a PASS keeps no files by default; rerun one keeping them to read what was on the wire
    kept = run_suite(SPEC, [vectors["active.rule.synsent_synack"]], linux, PROFILES["rfc9293"], Settings(), tmp_path, keep_all=True)[0]
    trace = next(p for p in kept.files if p.endswith(".jsonl"))
    isn = kept.isn
    assert segments(trace) == [("out", "SYN", isn, 0, 0), ("in", "SYN,ACK", 1000, (isn + 1) % 2**32, 0),
                               ("out", "ACK", (isn + 1) % 2**32, 1001, 0)]
    assert Path(next(p for p in kept.files if p.endswith(".pcap"))).stat().st_size > 24


def test_passive_data_is_acknowledged_with_the_real_isn(vectors, tun, tmp_path):
    outcome = run_suite(SPEC, [vectors["passive.ESTABLISHED.data.in_window"]], linux, PROFILES["rfc9293"], Settings(),
                        tmp_path, keep_all=True)[0]
    seen = segments(next(p for p in outcome.files if p.endswith(".jsonl")))
    isn = outcome.isn
    assert seen[0] == ("in", "SYN", 1000, 0, 0)
    assert seen[1] == ("out", "SYN,ACK", isn, 1001, 0)
    assert seen[2] == ("in", "ACK", 1001, (isn + 1) % 2**32, 0)  # the tester's ACK, moved to the real ISN
    assert seen[3] == ("in", "ACK", 1001, (isn + 1) % 2**32, 1)
    assert seen[4] == ("out", "ACK", (isn + 1) % 2**32, 1002, 0)


def test_a_syn_in_the_window_gets_linuxs_challenge_ack(vectors, tun, tmp_path):
    """RFC 9293 as written answers it with a reset; Linux sends RFC 5961's challenge ACK, which
    the linux profile allows."""
    outcome = run(vectors, ["active.ESTABLISHED.SYN.in_window"], tmp_path)["active.ESTABLISHED.SYN.in_window"]
    assert outcome.verdict == "FAIL" and outcome.others["linux"] == "PASS"
    assert outcome.judged.seen.startswith("<ACK ") and outcome.judged.allowed[0].startswith("<RST,ACK SEQ=0")
    assert any(p.endswith(".svg") for p in outcome.files)


def test_what_cannot_be_run_is_skipped_with_why(vectors, tun, tmp_path):
    names = ["active.rule.user_timeout", "passive.rule.synrcvd_close"]
    outcomes = run(vectors, names, tmp_path)
    assert outcomes["active.rule.user_timeout"].verdict == SKIPPED
    assert "USER timeout" in outcomes["active.rule.user_timeout"].reason
    assert outcomes["passive.rule.synrcvd_close"].verdict == SKIPPED
    assert "accept()" in outcomes["passive.rule.synrcvd_close"].reason


def test_a_hung_stack_is_killed_and_nothing_is_left_behind(vectors, tun, tmp_path):
    """A vector that waits for a retransmission (1.5 s) under a 0.5 s timeout: the stack's process
    is killed, the verdict is ERROR, and no namespace, TUN device, process or temporary file stays."""
    before = child_processes()
    outcome = run(vectors, ["active.rule.synsent_retransmit"], tmp_path, timeout=0.5)["active.rule.synsent_retransmit"]
    assert outcome.verdict == ERROR and "killed" in outcome.reason
    assert leftover_namespaces(own_prefix()) == []
    assert child_processes() == before
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert linux.DEVICE not in links
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_the_command_line(vectors, tun, tmp_path, capsys):
    report = tmp_path / "report.md"
    code = main(["conform", "--stack", "linux", "--vectors", "active.rule.closed_*", "--json", "--no-progress",
                 "--out", str(tmp_path / "runs"), "--report", str(report)])
    printed = json.loads(capsys.readouterr().out)
    assert code == 0
    assert printed["kernel"] == os.uname().release and printed["totals"]["PASS"] == 4
    assert printed["stack"] == "linux" and printed["version"] == f"Linux {os.uname().release}" and printed["profile"] == "linux"
    assert all({"name", "verdict", "seconds"} <= set(v) for v in printed["vectors"])
    assert [v["vector"] for v in printed["vectors"]] == [n for n in vectors if n.startswith("active.rule.closed_")]
    text = report.read_text()
    assert text.startswith("<!-- generated by `tcpmodel conform --stack linux --profile linux --vectors 'active.rule.closed_*'")
    assert os.uname().release in text and "| `active.rule.closed_no_ack` |" in text
    # beside the report: its JSON, and the matrix built from every stack's JSON there
    assert json.loads(report.with_suffix(".json").read_text())["vectors"] == printed["vectors"]
    matrix = (tmp_path / "README.md").read_text()
    assert "| `active.rule.closed_no_ack` | PASS |" in matrix and f"Linux {os.uname().release}" in matrix
    assert main(["conform", "--stack", "linux", "--vectors", "no-such-vector"]) == 2
    assert main(["conform", "--stack", "bsd"]) == 2
    assert "unknown stack" in capsys.readouterr().err


def test_a_report_keeps_one_example_per_finding_and_every_vector_in_an_ignored_folder(vectors, tun, tmp_path, capsys, monkeypatch):
    """Two FAILs of one finding and a PASS, reported: the finding's example (the first FAIL by
    name) is beside the report, naming the command; each FAIL's files are in vectors/ (which
    .gitignore lists for reports/conformance/); no staging folder is left."""
    fails = ["active.CLOSING.data.before_window", "active.CLOSING.FIN.before_window"]
    (tmp_path / "specs").symlink_to(REFERENCE.parent)
    monkeypatch.chdir(tmp_path)
    code = main(["conform", "--stack", "linux", "--vectors", ",".join([*fails, "active.rule.closed_connect"]), "--json",
                 "--no-progress", "--report", "out/linux.md"])
    printed = json.loads(capsys.readouterr().out)
    assert code == 1 and printed["totals"]["FAIL"] == 2 and printed["totals"]["PASS"] == 1
    finding = {v["finding"]["name"] for v in printed["vectors"] if v["verdict"] == "FAIL"}
    assert len(finding) == 1
    name = finding.pop()
    example = next(f["example"] for f in printed["findings"] if f["name"] == name)
    assert example == {"vector": min(fails), "files": [f"out/linux/{name}.jsonl", f"out/linux/{name}.pcapng", f"out/linux/{name}.svg"]}
    assert all(named_command(Path(p)) == printed["command"] for p in example["files"])
    kept = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert kept == sorted(["README.md", "linux.md", "linux.json", *(p.removeprefix("out/") for p in example["files"]),
                           *(f"linux/vectors/{v}.{s}" for v in fails for s in ("jsonl", "pcap", "svg"))])
    assert "vectors/" in (Path(__file__).parent.parent / ".gitignore").read_text()
    text = (tmp_path / "out" / "linux.md").read_text()
    assert f"[ladder](linux/{name}.svg)" in text and f"`linux/vectors/{max(fails)}.svg`" in text
    assert conform_markdown(json.loads((tmp_path / "out" / "linux.json").read_text())) == text


def test_selectors():
    names = type("V", (), {})
    items = []
    for n in ("active.rule.a", "passive.rule.a", "active.LISTEN.SYN.any"):
        v = names()
        v.name = n
        items.append(v)
    assert [v.name for v in select(items, "rule")] == ["active.rule.a", "passive.rule.a"]
    assert [v.name for v in select(items, "active.*")] == ["active.rule.a", "active.LISTEN.SYN.any"]
    assert [v.name for v in select(items, "LISTEN, passive")] == ["passive.rule.a", "active.LISTEN.SYN.any"]


class FailingStack:
    """A stack whose process dies on the second vector and is interrupted on the third."""

    def __init__(self):
        self.calls = 0

    def run(self, vector, settings, window):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("the child process in the namespace died (exit code -9)")
        if self.calls == 3:
            raise KeyboardInterrupt
        return linux.Recording(endpoint="10.9.0.1:40000", peer="10.9.0.2:5000")


def test_a_stack_that_dies_is_an_error_and_ctrl_c_keeps_what_was_run(vectors, tmp_path):
    chosen = [vectors[n] for n in ("active.rule.synsent_close", "active.rule.closed_connect", "active.rule.closed_ack")]
    interrupted = []
    outcomes = run_suite(SPEC, chosen, FailingStack(), PROFILES["rfc9293"], Settings(), tmp_path, interrupted=interrupted)
    assert [o.verdict for o in outcomes] == [ERROR, ERROR]
    assert outcomes[0].reason == "the recording holds 0 of the vector's 2 stimuli"  # an empty trace proves nothing
    assert outcomes[1].reason == "RuntimeError: the child process in the namespace died (exit code -9)"
    assert interrupted == ["interrupted at active.rule.closed_ack"]
    with pytest.raises(KeyboardInterrupt):
        run_suite(SPEC, chosen, FailingStack(), PROFILES["rfc9293"], Settings(), tmp_path)
