"""Traces, captures and flags as a hostile user gives them (issue 20): huge numbers, control
characters, FIFOs, devices, standard input, stray files, non-finite numbers. Each is one line
with its location and exit code 2, or is judged; nothing hangs."""

import json
import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

import pytest

import tcpmodel.cli.check as cli_check
import tcpmodel.traces.source as source_module
from tcpmodel.base.errors import InputError, printable
from tcpmodel.base.flags import ACK, SYN
from tcpmodel.cli.main import main
from tcpmodel.conformance.report import results_by_file
from tcpmodel.oracle.audit import Side
from tcpmodel.oracle.judge import Judgement
from tcpmodel.oracle.verdicts import FAIL
from tcpmodel.rendering.auditladder import MAX_ROWS, render_side
from tcpmodel.traces.run import read_run
from tcpmodel.traces.trace import Header, SegmentEvent, Trace, read_trace
from tests.conftest import REFERENCE, ROOT

HEADER = '{"tcpmodel_trace": 1, "spec": "rfc9293", "profile": "rfc9293", "tool": "tcpmodel 0.1.0"}'
TRACE = ROOT / "reports" / "seed-claims" / "third-segment-data.active.trace.jsonl"
VARIANT = ROOT / "specs" / "variants" / "no_time_wait.toml"
CAPTURE = ROOT / "reports" / "conformance" / "lwip" / "abort-resets.pcapng"


def one_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tcpmodel: error: "), captured.err
    return lines[0]


# ---------------------------------------------------------------- values


def test_a_number_of_5000_digits_is_one_line_with_file_and_line(tmp_path, capsys):
    """The reproducer: ValueError (Python's 4,300-digit limit), a traceback and exit 1."""
    path = tmp_path / "big.jsonl"
    path.write_text(HEADER + '\n{"t": 0.0, "seg": "in", "flags": "SYN", "seq": ' + "9" * 5000 + ', "ack": 0, "win": 1, "len": 0}\n')
    assert main(["audit", str(path)]) == 2
    assert one_error(capsys) == f"tcpmodel: error: {path}:2: bad JSON: a number of 5,000 digits (at most 1000)"
    assert main(["check", str(VARIANT), "--out", str(tmp_path)]) == 1
    capsys.readouterr()
    run = tmp_path / "run.jsonl"
    lines = (tmp_path / "no_time_wait.graceful_close.jsonl").read_text().splitlines()
    run.write_text("\n".join([lines[0], lines[1].replace('"index": 1', '"index": 1' + "0" * 5000), *lines[2:]]) + "\n")
    with pytest.raises(InputError, match=rf"^{run}:2: bad JSON: a number of 5,001 digits"):
        read_run(run)


def test_a_long_number_is_shortened_in_the_message(tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_text(HEADER + '\n{"t": 0.0, "seg": "in", "flags": "SYN", "seq": 1' + "0" * 900 + ', "ack": 0, "win": 1, "len": 0}\n')
    with pytest.raises(InputError) as caught:
        read_trace(path)
    assert str(caught.value) == f'{path}:2: "seq" is 100000000000... (901 characters): it must be 0..4294967295'


def test_control_characters_in_a_trace_are_refused_and_never_printed_raw(tmp_path, capsys):
    path = tmp_path / "esc.jsonl"
    header = json.loads(HEADER) | {"endpoint": "\x1b]0;owned\x07\x1b[2J10.0.0.1:80"}
    path.write_text(json.dumps(header) + "\n")
    assert main(["audit", str(path)]) == 2
    line = one_error(capsys)
    assert "\x1b" not in line and "\x07" not in line
    assert line == f"tcpmodel: error: {path}:1: \"endpoint\" holds a control character: '\\x1b]0;owned\\x07\\x1b[2J10.0.0.1:80'"


def test_an_error_message_escapes_what_a_terminal_would_act_on():
    error = InputError("unknown state \"A\x1b[31mB\u202eC\nD\"", where="spec\r.toml:3")
    assert str(error) == 'spec\\r.toml:3: unknown state "A\\x1b[31mB\\u202eC\\nD"'
    assert printable("état ESTABLISHED 中文") == "état ESTABLISHED 中文"


# ---------------------------------------------------------------- what a path is


def test_a_fifo_nobody_writes_to_is_an_error_not_a_hang(tmp_path, monkeypatch, capsys):
    """The reproducer: a FIFO as capture or trace blocked forever."""
    monkeypatch.setattr(source_module, "IDLE_SECONDS", 0.5)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    assert main(["audit", str(fifo)]) == 2
    assert time.monotonic() - started < 10
    assert one_error(capsys) == f"tcpmodel: error: {fifo}: nothing more arrived for 0.5 s: a stream must be written to and closed"


@pytest.mark.parametrize("content", [TRACE, CAPTURE])
def test_a_fifo_that_is_written_to_is_judged(content, tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def write():
        with open(fifo, "wb") as f:
            f.write(content.read_bytes())

    writer = threading.Thread(target=write)
    writer.start()
    code = main(["audit", str(fifo), "--profile", "lwip", "--out", str(tmp_path / "ladders")])
    writer.join()
    out = capsys.readouterr().out
    assert main(["audit", str(content), "--profile", "lwip", "--out", str(tmp_path / "ladders")]) == code
    assert out.replace(str(fifo), "F") == capsys.readouterr().out.replace(str(content), "F").replace(content.stem, "fifo")


@pytest.mark.parametrize("path, what", [("/dev/zero", "a device, not a file"), ("/dev/null", "a device, not a file"),
                                        (str(ROOT / "specs"), "it is a folder")])
def test_a_device_or_a_folder_is_refused(path, what, capsys):
    assert main(["audit", path]) == 2
    assert one_error(capsys).startswith(f"tcpmodel: error: {path}: cannot read trace or capture: {what}")


@pytest.mark.parametrize("content", [TRACE, CAPTURE])
@pytest.mark.parametrize("how", ["-", "/dev/stdin"])
def test_a_pipe_into_audit_is_judged(how, content, tmp_path):
    """`cat CAPTURE | tcpmodel audit -` and `tcpmodel audit /dev/stdin` judge what the pipe brings."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "tcpmodel", "audit", "--profile", "lwip", "--json", "--out", str(tmp_path)]
    piped = subprocess.run([*argv, how], input=content.read_bytes(), capture_output=True, cwd=ROOT, env=env, check=False)
    direct = subprocess.run([*argv, str(content)], capture_output=True, cwd=ROOT, env=env, check=False)
    assert piped.returncode == direct.returncode and piped.stderr == direct.stderr == b""
    name = "<stdin>" if how == "-" else "/dev/stdin"
    verdicts = [{k: v for k, v in c.items() if k not in ("file", "files")} for c in json.loads(piped.stdout)["connections"]]
    assert verdicts == [{k: v for k, v in c.items() if k not in ("file", "files")} for c in json.loads(direct.stdout)["connections"]]
    assert {c["file"] for c in json.loads(piped.stdout)["connections"]} == {name}


def test_a_stream_larger_than_the_bound_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(source_module, "MAX_BYTES", 500)  # the capture has 900 bytes
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    def write():
        with open(fifo, "wb") as f:
            f.write(CAPTURE.read_bytes())

    writer = threading.Thread(target=write)
    writer.start()
    assert main(["audit", str(fifo), "--out", str(tmp_path)]) == 2
    writer.join()
    assert one_error(capsys) == f"tcpmodel: error: {fifo}: the trace or capture is larger than 0 MiB (a stream is read into memory)"


# ---------------------------------------------------------------- audit ladders


def test_the_ladder_of_a_long_trace_draws_the_events_around_the_deviation():
    """The reproducer: a 4 MB capture gave a 20 MB SVG (a row per event)."""
    events = [SegmentEvent(n / 1000, ("out", "in")[n % 2], ACK, n, n, 1000, 0) for n in range(100_000)]
    events[0] = SegmentEvent(0.0, "out", SYN, 0, 0, 1000, 0)
    side = Side("10.0.0.1:80", Judgement(FAIL, "rfc9293", 70_000, "<ACK>", ["no segment"], ["RFC 9293 §3.10.7.4"], "wrong"),
                Trace(Header("rfc9293", "rfc9293", peer="10.0.0.2:5000"), tuple(events)))
    svg = render_side(side, "a long capture")
    assert len(svg) < 400_000
    texts = [t.text or "" for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")]
    assert "deviation at event 70000 (row 241, 70 s): seen <ACK>" in texts
    assert "drawn: events 69760 to 70059 of the 100,000 in the trace; 69,760 before and 29,940 after are left out" in texts
    numbers = [int(t) for t in texts if t.isdigit()]
    assert numbers[0] == 69_761 and numbers[-1] == 70_060 and len(numbers) == MAX_ROWS  # the rows keep the events' numbers


# ---------------------------------------------------------------- the conformance matrix


@pytest.mark.parametrize("text, problem", [
    ("not JSON", "cannot read a conformance run's JSON beside the report: Expecting value"),
    ('{"stack": "x", "vectors": 5}', '"stack" and "profile" must be strings'),
    ('{"stack": "x", "vectors": [], "profile": "p", "seconds": 1, "totals": {"PASS": "many"}}', '"totals" must map verdicts to counts'),
])
def test_a_stray_json_beside_the_report_is_named_before_the_run(text, problem, tmp_path, capsys):
    """The reproducer: a stray *.json beside `conform --report` crashed the matrix after the run."""
    (tmp_path / "stray.json").write_text(text)
    assert main(["conform", "--stack", "lwip", "--vectors", "active.rule.closed_connect", "--report", str(tmp_path / "lwip.md")]) == 2
    line = one_error(capsys)
    assert line.startswith(f"tcpmodel: error: {tmp_path / 'stray.json'}: ") and problem in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stray.json"]


def test_a_json_of_something_else_is_not_in_the_matrix(tmp_path):
    (tmp_path / "package.json").write_text('{"name": "not a report"}')
    assert results_by_file(tmp_path) == {}
    assert sorted(results_by_file(ROOT / "reports" / "conformance")) == ["gvisor.json", "linux.json", "lwip.json", "pytcp.json", "slirp.json"]


# ---------------------------------------------------------------- flags


@pytest.mark.parametrize("argv, message", [
    (["check", str(REFERENCE), "--max-seconds", "nan"], "argument --max-seconds: expected a positive number, not 'nan'"),
    (["check", str(REFERENCE), "--max-seconds", "inf"], "argument --max-seconds: expected a positive number, not 'inf'"),
    (["check", str(REFERENCE), "--max-seconds", "-1"], "argument --max-seconds: expected a positive number, not '-1'"),
    (["check", str(REFERENCE), "--max-seconds", "1e12"], "argument --max-seconds: expected at most 31,536,000"),
    (["check", str(REFERENCE), "--max-memory", ""], "argument --max-memory: expected a size such as 2G or 500M, not ''"),
    (["check", str(REFERENCE), "--max-memory", "inf"], "argument --max-memory: expected a size such as 2G or 500M, not 'inf'"),
    (["check", str(REFERENCE), "--max-memory", "nanG"], "expected a size such as 2G or 500M, not 'nanG'"),
    (["check", str(REFERENCE), "--max-states", "0"], "argument --max-states: expected a positive number, not '0'"),
    (["prove", "--timeout", "nan"], "argument --timeout: expected a positive number, not 'nan'"),
    (["prove", "--timeout", "1e300"], "argument --timeout: expected at most 2,147,483"),
    (["conform", "--stack", "lwip", "--timeout", "nan"], "argument --timeout: expected a positive number, not 'nan'"),
    (["conform", "--stack", "lwip", "--timeout", "inf"], "argument --timeout: expected a positive number, not 'inf'"),
    (["conform", "--stack", "lwip", "--settle", "0"], "argument --settle: expected a positive number, not '0'"),
    (["conform", "--stack", "lwip", "--vectors", ""], "--vectors '' names no vector"),
    (["conform", "--stack", "lwip", "--vectors", " , "], "--vectors ' , ' names no vector"),
    (["experiment", "port-exhaustion", "--window", "nan"], "argument --window: expected a positive number, not 'nan'"),
    (["experiment", "port-exhaustion", "--window", "0"], "argument --window: expected a positive number, not '0'"),
    (["experiment", "port-exhaustion", "--ports", "-4"], "argument --ports: expected a positive number, not '-4'"),
])
def test_every_number_on_the_command_line_is_finite_and_in_range(argv, message, capsys):
    assert main(argv) == 2
    line = one_error(capsys)
    assert message in line, line


def test_library_settings_refuse_what_the_flags_refuse():
    from tcpmodel.conformance.outcomes import Settings
    from tcpmodel.experiments.kernel import port_exhaustion

    for bad in (float("nan"), float("inf"), 0, -1, True):
        with pytest.raises(InputError, match="the timeout must be a number of seconds above 0"):
            Settings(timeout=bad)
    with pytest.raises(InputError, match="the window must be a number of seconds above 0"):
        port_exhaustion(window=float("nan"))


def test_max_seconds_covers_loading_the_spec(monkeypatch, capsys):
    """A spec that takes long to load (one whose definitions double each other did) stops at the
    bound like a search: exit 3, one line; here the loading is made slow."""
    real = cli_check.load_spec

    def slow(path):
        time.sleep(30)
        return real(path)

    monkeypatch.setattr(cli_check, "load_spec", slow)
    started = time.monotonic()
    assert main(["check", str(REFERENCE), "--max-seconds", "0.3"]) == 3
    assert time.monotonic() - started < 10
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "tcpmodel: stopped: --max-seconds 0.3 reached while loading the spec (nothing explored)\n"


def test_max_seconds_counts_the_loading_in_the_search_bound(monkeypatch, capsys):
    real = cli_check.load_spec

    def slow(path):
        time.sleep(0.6)
        return real(path)

    monkeypatch.setattr(cli_check, "load_spec", slow)
    started = time.monotonic()
    assert main(["check", str(REFERENCE), "--max-seconds", "1", "--json"]) == 3
    assert time.monotonic() - started < 1.9 + 2  # the search had the rest of the second, not a second of its own
    assert json.loads(capsys.readouterr().out)["stop_reason"] == "--max-seconds 1 reached"
