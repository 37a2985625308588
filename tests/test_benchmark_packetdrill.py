"""benchmarks/packetdrill_crosscheck.py: its pure parts, without packetdrill, root or a kernel run.

Reading packetdrill's complaints, grouping them, the agreement table and the report; finding
packetdrill or saying in one line how to get it. The cross-check itself is run by hand (it needs
root, a TUN device and a packetdrill build) and writes benchmarks/RESULTS-packetdrill.md.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PACKET_ERROR = """\
/tmp/x/scripts/active.rule.abort_reset.pkt:12: error handling packet: live packet field tcp_ack: expected: 0 (0x0) vs actual: 1 (0x1)
script packet:  0.000183 R 1:1(0) 
actual packet:  0.000185 R. 1:1(0) ack 1 win 64240 
"""
TIMING_ERROR = ("/tmp/x/scripts/active.rule.data_retransmit.pkt:13: error handling packet: timing error: expected outbound "
                "packet in relative time range +1.000000~+3.000000 sec but happened at +0.207778 sec\n"
                "script packet:  1.200196 P. 1:2(1) ack 1 \nactual packet:  0.207778 P. 1:2(1) ack 1 win 64240 \n")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("packetdrill_crosscheck", ROOT / "benchmarks" / "packetdrill_crosscheck.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_a_complaint_is_read_with_its_line_and_both_packets(bench):
    assert bench.parse_complaint(PACKET_ERROR) == {
        "line": 12,
        "message": "error handling packet: live packet field tcp_ack: expected: 0 (0x0) vs actual: 1 (0x1)",
        "script": "R 1:1(0)",
        "actual": "R. 1:1(0) ack 1 win 64240",
    }
    assert bench.one_line_error(PACKET_ERROR, 1) == (
        "line 12: error handling packet: live packet field tcp_ack: expected: 0 (0x0) vs actual: 1 (0x1) "
        "(script: R 1:1(0); actual: R. 1:1(0) ack 1 win 64240)")
    runtime = "/tmp/x/scripts/a.b.pkt:14: runtime error in setsockopt call: unable to find fd with script fd 3\n"
    assert bench.one_line_error(runtime, 1) == "line 14: runtime error in setsockopt call: unable to find fd with script fd 3"
    assert bench.parse_complaint("packetdrill: cannot open tun\n") is None
    assert bench.one_line_error("packetdrill: cannot\n  open tun\n", 255) == "packetdrill: cannot open tun"
    assert bench.one_line_error("", 139) == "exit 139 without a message"


def test_errors_of_one_kind_group_whatever_their_numbers(bench):
    first = bench.one_line_error(TIMING_ERROR, 1)
    other = first.replace("0.207778", "0.211001").replace("line 13", "line 15")
    assert bench.error_kind(first) == bench.error_kind(other) == (
        "error handling packet: timing error: expected outbound packet in relative time range +N~+N sec but happened at +N sec")
    assert bench.error_kind(bench.one_line_error(PACKET_ERROR, 1)) == (
        "error handling packet: live packet field tcp_ack: expected: N vs actual: N")


def runs(bench, passed: dict[str, bool], errors: dict[str, str] | None = None):
    errors = errors or {}
    return {name: bench.ScriptRun(name, ok, errors.get(name, "" if ok else "line 9: error handling packet: Timed out waiting for packet"),
                                  0.25, 0.4) for name, ok in passed.items()}


def conform(bench, verdicts: dict[str, str]):
    return bench.ConformRun(verdicts, {n: "" for n in verdicts}, {n: 0.5 for n in verdicts}, {n: [] for n in verdicts}, 10.0,
                            "tcpmodel conform --stack linux")


def test_the_agreement_table_puts_every_script_in_one_cell(bench):
    scripts = runs(bench, {"a": True, "b": True, "c": False, "d": False, "e": True})
    verdicts = {"a": "PASS", "b": "FAIL", "c": "PASS", "d": "FAIL"}  # e: tcpmodel did not run it
    assert bench.agreement(scripts, verdicts) == {
        "both pass": ["a"], "only packetdrill passes": ["b", "e"], "only tcpmodel passes": ["c"], "neither passes": ["d"]}


def test_the_report_gives_totals_matrix_times_and_each_disagreement(bench):
    scripts = runs(bench, {"x.pass": True, "x.pd_only": True, "x.tm_only": False, "x.neither": False},
                   {"x.tm_only": bench.one_line_error(PACKET_ERROR, 1)})
    verdicts = {"x.pass": "PASS", "x.pd_only": "FAIL", "x.tm_only": "PASS", "x.neither": "SKIPPED", "x.not_exported": "SKIPPED"}
    text, md = bench.report({"machine": "test"}, scripts, conform(bench, verdicts))
    assert "packetdrill:       2 of 4 scripts pass" in text
    assert "tcpmodel:          2 of 4 vectors PASS (1 FAIL, 2 PASS, 1 SKIPPED)" in text
    assert "| packetdrill passes | 1 | 1 |" in md and "| packetdrill fails | 1 | 1 |" in md
    assert "| tcpmodel conform | 0.500 | 2.0 |" in md and "| packetdrill (process) | 0.250 | 1.0 |" in md
    assert "| `x.tm_only` | PASS:  | line 12: error handling packet: live packet field tcp_ack" in md
    assert "| `x.pd_only` | FAIL:  | pass |" in md
    assert "| 1 | error handling packet: live packet field tcp_ack: expected: N vs actual: N | `x.tm_only` |" in md
    assert "generated by benchmarks/packetdrill_crosscheck.py; do not edit" in md


def test_scripts_are_selected_by_vector_name_as_conform_selects(bench):
    paths = [Path(f"/s/{name}.pkt") for name in ("active.rule.a", "active.CLOSED.SYN.any", "passive.rule.b")]
    assert bench.selected(paths, "*.rule.*") == [paths[0], paths[2]]
    assert bench.selected(paths, "CLOSED,passive.rule.b") == paths[1:]
    assert bench.selected(paths, None) == paths


def test_without_packetdrill_it_says_in_one_line_how_to_get_it(bench, monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("PACKETDRILL", raising=False)
    monkeypatch.setattr(bench.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit) as exit:
        bench.find_packetdrill(None, tmp_path)
    assert exit.value.code == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message and "--packetdrill-source" in message and "PACKETDRILL=" in message
    monkeypatch.setenv("PACKETDRILL", str(tmp_path / "nowhere"))
    with pytest.raises(SystemExit) as exit:
        bench.find_packetdrill(None, tmp_path)
    assert exit.value.code == 2 and "is not an executable file" in capsys.readouterr().err
    monkeypatch.delenv("PACKETDRILL")
    with pytest.raises(SystemExit) as exit:
        bench.find_packetdrill(tmp_path, tmp_path / "build")  # a folder without packetdrill's source
    assert exit.value.code == 2 and "no packetdrill.c there" in capsys.readouterr().err


def test_the_source_is_found_in_a_checkout_or_its_folder(bench, tmp_path):
    folder = tmp_path / "gtests" / "net" / "packetdrill"
    folder.mkdir(parents=True)
    assert bench.source_folder(tmp_path) is None
    (folder / "packetdrill.c").write_text("")
    (folder / "Makefile.common").write_text("")
    assert bench.source_folder(tmp_path) == folder == bench.source_folder(folder)


def test_where_only_packetdrill_passes_the_cause_is_named_from_tcpmodels_reason(bench):
    verdicts = {"a.ESTABLISHED.RST.in_window": "FAIL", "a.CLOSING.RST.in_window": "FAIL", "a.ESTABLISHED.ACK.out_of_window": "FAIL"}
    run = conform(bench, verdicts)
    run.reasons.update({
        "a.ESTABLISHED.RST.in_window": "the endpoint sent <ACK SEQ=2399773452 ACK=1001>; the spec allowed no segment",
        "a.CLOSING.RST.in_window": "the endpoint sent <ACK SEQ=3445852886 ACK=1002>; the spec allowed no segment",
        "a.ESTABLISHED.ACK.out_of_window": "the endpoint sent nothing more; the spec required <ACK SEQ=2287017923 ACK=1001>",
    })
    kinds = bench.reason_kinds(run, sorted(verdicts))
    assert kinds == [
        ("FAIL: the endpoint sent <ACK SEQ=N ACK=N>; the spec allowed no segment", ["a.CLOSING.RST.in_window", "a.ESTABLISHED.RST.in_window"]),
        ("FAIL: the endpoint sent nothing more; the spec required <ACK SEQ=N ACK=N>", ["a.ESTABLISHED.ACK.out_of_window"]),
    ]
    assert "cannot wait for silence" in bench.blind_spot(*kinds[0]) and bench.OUT_OF_WINDOW not in bench.blind_spot(*kinds[0])
    assert bench.blind_spot(*kinds[1]).endswith(bench.OUT_OF_WINDOW)
    mixed = bench.blind_spot(kinds[0][0], kinds[0][1] + ["a.ESTABLISHED.RST.out_of_window"])
    assert mixed.endswith("the 1 " + bench.OUT_OF_WINDOW)
