"""The command line end to end: output formats, exit codes, bounds, bad flags."""

import json
import subprocess
import sys

import pytest

from tcpmodel.cli.main import main
from tests.conftest import REFERENCE

SMALL = ["--incarnations", "1", "--no-loss", "--no-duplication", "--no-reordering"]


def test_json_output_has_the_documented_fields(capsys):
    assert main(["check", str(REFERENCE), *SMALL, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("states", "transitions", "complete", "properties", "coverage", "seconds"):
        assert key in data
    assert data["complete"] is True
    assert data["states"] == 10_710 and data["transitions"] == 27_657
    assert all(set(p) >= {"name", "holds"} and p["holds"] is True for p in data["properties"])
    assert set(data["coverage"]) >= {"fired", "total"}
    assert 0 < data["coverage"]["fired"] <= data["coverage"]["total"]
    assert data["small_isns_justified"] is True and 0 < data["sequence_span"] < 2**31


def test_text_output_ends_with_the_verdict(capsys):
    assert main(["check", str(REFERENCE), *SMALL]) == 0
    out = capsys.readouterr().out
    assert "explored:  10,710 states, 27,657 transitions" in out
    assert "small ISNs: the sequence numbers explored lie within 1,005 of each other (< 2^31)" in out
    assert out.rstrip().splitlines()[-1] == "result: all 13 properties hold"


def test_isns_half_the_circle_apart_are_not_justified(capsys):
    assert main(["check", str(REFERENCE), *SMALL, "--isn", "0,2147483648"]) == 0
    out = capsys.readouterr().out
    assert "small ISNs: NOT justified: the sequence numbers explored span 2,147,483,651 >= 2^31" in out


def test_a_bound_stops_cleanly_with_exit_3(capsys):
    assert main(["check", str(REFERENCE), "--max-states", "500", "--json"]) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["complete"] is False
    assert "--max-states 500" in data["stop_reason"]
    assert {p["holds"] for p in data["properties"]} == {None}


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--capacity", "x"], "--capacity"),
        (["--capacity", "0"], "capacity must be a whole number from 1 to 8"),
        (["--roles", "active,sideways"], "roles must name one of"),
        (["--enable", "rfc5691"], 'did you mean "rfc5961"'),
        (["--max-states", "-3"], "positive"),
        (["--isn", "1"], "isn must give A and B"),
    ],
)
def test_bad_flags_exit_2_with_one_line(flags, message, capsys):
    assert main(["check", str(REFERENCE), *flags]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tcpmodel: error:") and message in lines[0]


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "check" in capsys.readouterr().out


def test_installed_command_and_module_entry_point():
    for command in (["tcpmodel"], [sys.executable, "-m", "tcpmodel"]):
        done = subprocess.run([*command, "check", "--help"], check=False, capture_output=True, text=True)
        assert done.returncode == 0
        assert "exit codes: 0 all properties hold" in done.stdout
