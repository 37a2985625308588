"""Spec errors: one line naming the file and line (and the rule, the field and the near miss), exit 2."""

import json
import os
import subprocess
import sys
import time

import pytest

from tcpmodel.cli.main import main
from tests.conftest import REFERENCE, ROOT

BASE = REFERENCE.read_text()


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    start = -1
    for _ in range(occurrence):
        start = text.index(needle, start + 1)
    return text.count("\n", 0, start) + 1


CASES = {
    "syntax_error": (('to = "SYN-SENT"', 'to = "SYN-SENT'), 'to = "SYN-SENT', 1, "TOML syntax error"),
    "unknown_state": (('to = "CLOSE-WAIT"\n', 'to = "CLOSE-WAYT"\n'), 'to = "CLOSE-WAYT"', 1, 'unknown state "CLOSE-WAYT" (did you mean "CLOSE-WAIT"?)'),
    "unknown_name_in_guard": (
        ('when = "RST and ACK"', 'when = "RST and ACK and SEG.SEQQ == RCV.NXT"'),
        "SEG.SEQQ",
        1,
        'unknown name "SEG.SEQQ" (did you mean "SEG.SEQ"?)',
    ),
    "duplicated_rule_name": (('name = "listen_close"', 'name = "closed_listen"'), 'name = "closed_listen"', 2, 'rule name "closed_listen" is used twice'),
    "unknown_event": (('on = "ABORT"', 'on = "ABROT"'), 'on = "ABROT"', 1, 'unknown event "ABROT" (did you mean "ABORT"?)'),
    "unknown_variable_assigned": (('"SND.NXT = ISN + 1"', '"SND.NEXT = ISN + 1"'), "SND.NEXT", 1, 'did you mean "SND.NXT"?'),
    "mixed_absolute_send": (
        ('{ flags = "RST", seq = "SEG.ACK", when = "ACK" },', '{ flags = "RST,ACK", seq = "SND.NXT", ack = "RCV.NXT", when = "ACK" },'),
        'send = [\n    { flags = "RST,ACK", seq = "SND.NXT"',
        1,
        "one has an absolute SEQ and the other not",
    ),
    "type_error": (('"IRS = SEG.SEQ"', '"IRS = SEG.SEQ + RCV.NXT"'), "SEG.SEQ + RCV.NXT", 1, "'+' adds an int to a sequence number"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_spec_error_is_one_line_with_file_and_line(case, tmp_path, capsys):
    (old, new), needle, occurrence, message = CASES[case]
    text = BASE.replace(old, new, 1)
    assert text != BASE
    path = tmp_path / "broken.toml"
    path.write_text(text)
    assert main(["check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"tcpmodel: error: {path}:{line_of(text, needle, occurrence)}")
    assert message in lines[0]
    assert "Traceback" not in captured.err


def test_variant_extending_a_missing_base(tmp_path, capsys):
    path = tmp_path / "v.toml"
    path.write_text('[spec]\nextends = "nowhere.toml"\n')
    assert main(["check", str(path)]) == 2
    assert "extends names 'nowhere.toml', which does not exist" in capsys.readouterr().err


def test_variant_removing_an_unknown_rule(tmp_path, capsys):
    path = tmp_path / "v.toml"
    path.write_text(f'[spec]\nextends = "{REFERENCE}"\n[variant]\nremove = ["timewait_fni"]\n')
    assert main(["check", str(path)]) == 2
    assert 'did you mean "timewait_fin"' in capsys.readouterr().err


def test_unhandled_segment_is_reported_not_dropped(tmp_path, capsys):
    """An event with no matching rule is a spec error, not a silent drop (design §2)."""
    path = tmp_path / "v.toml"
    path.write_text(f'[spec]\nextends = "{REFERENCE}"\n[variant]\nremove = ["listen_rst", "listen_ack", "listen_syn"]\n')
    assert main(["check", str(path), "--incarnations", "1"]) == 2
    err = capsys.readouterr().err
    assert "no rule handles segment <SYN SEQ=" in err and "in state LISTEN" in err


# ---------------------------------------------------------------- issue 20: every spec error is one located line

SMALL = ["--incarnations", "1", "--no-loss", "--no-duplication", "--no-reordering"]
TOY = """[spec]
name = "toy"
states = ["CLOSED", "ESTABLISHED"]
no_tcb = ["CLOSED"]

[[variable]]
name = "RCV.NXT"

[[rule]]
name = "connect"
rfc = "RFC 9293"
from = "CLOSED"
on = "CONNECT"
to = "ESTABLISHED"
"""

# The reference with its TIME-WAIT timer renamed TW (the state keeps its name), roles unchanged.
RENAMED_TIMER = (BASE.replace('name = "TIME-WAIT"\nrfc', 'name = "TW"\nrfc', 1).replace("TIME-WAIT TIMEOUT", "TW TIMEOUT")
                 .replace("restart(TIME-WAIT)", "restart(TW)"))

# name -> (the spec's text, the text of the line the error names, words of the message)
LOCATED = {
    "scenario_roles_a_number": (BASE + "\n[scenario]\nroles = 5\n", "roles = 5", "roles name the role of A and of B"),
    "scenario_isn_a_number": (BASE + "\n[scenario]\nisn = 5\n", "isn = 5", "isn gives A and B"),
    "scenario_options_nested": (BASE + "\n[scenario]\noptions = [[1]]\n", "options = [[1]]", "unknown option [1]"),
    "scenario_data_out_of_range": (BASE + "\n[scenario]\ndata = 99\n", "data = 99", "data must be a whole number from 0 to 16"),
    "isn_negative": (BASE.replace("B = 1000", "B = -1", 1), "B = -1", "[isn] B must be a whole number from 0 to 4294967295"),
    "isn_unknown_key": (BASE.replace("B = 1000", "C = 1000", 1), "C = 1000", 'unknown key "C" in [isn]'),
    "seq_init_2_to_the_32": (BASE.replace('name = "ISS"\ntype = "seq"\n', 'name = "ISS"\ntype = "seq"\ninit = 4294967296\n', 1),
                             "init = 4294967296", "init of a seq variable is a 32-bit number"),
    "bool_init_a_number": (BASE.replace('name = "PASSIVE"\ntype = "bool"\n', 'name = "PASSIVE"\ntype = "bool"\ninit = 1\n', 1),
                           "init = 1", "init of a bool variable is true or false"),
    "negative_duration": (BASE.replace('duration = "RTO"', 'duration = "RTO - 2 * MSL"', 1), 'duration = "RTO - 2 * MSL"',
                          "the duration is -1 ticks when MSL = 1 and RTO = 1"),
    "zero_duration": (BASE.replace('duration = "RTO"', 'duration = "0 * RTO"', 1), 'duration = "0 * RTO"', "a timer runs from 1 to"),
    "literal_beyond_32_bits": (BASE.replace('"SND.NXT = ISN + 1"', '"SND.NXT = ISN + 4294967296"', 1), "ISN + 4294967296", "out of range"),
    "constant_negative": (BASE.replace('"RCV.WND" = 4', '"RCV.WND" = -4', 1), '"RCV.WND" = -4', "constant RCV.WND must be a whole number"),
    "option_default_a_string": (BASE.replace("rfc5961 = { default = false", 'rfc5961 = { default = "no"', 1), "rfc5961 = {",
                                "the default of option rfc5961 is true or false"),
    "option_doubly_negated": (BASE.replace('option = "!rfc5961"', 'option = "!!rfc5961"', 1), 'option = "!!rfc5961"', "unknown option '!!rfc5961'"),
    "unknown_variable_key": (BASE.replace('name = "IRS"\ntype = "seq"\n', 'name = "IRS"\ntype = "seq"\nintit = 0\n', 1), "intit = 0",
                             'unknown key "intit" in a [[variable]] (did you mean "init"?)'),
    "state_named_like_a_flag": (BASE.replace('"CLOSING", "LAST-ACK"', '"CLOSING", "LAST-ACK", "ACK"', 1), "states = [",
                                '"ACK" is the name of a flag'),
    "constant_named_like_a_variable": (BASE.replace('"RCV.WND" = 4', '"RCV.WND" = 4\n"ISS" = 1', 1), '"ISS" = 1', 'constant "ISS" has the name of a variable'),
    "unknown_role": (BASE.replace("[roles]\n", '[roles]\ntimewait = "TIME-WAIT"\n', 1), 'timewait = "TIME-WAIT"',
                     'unknown role "timewait" (did you mean "time_wait"?)'),
    "role_names_nothing": (BASE.replace('time_wait = "TIME-WAIT"', 'time_wait = "TIMEWAIT"', 1), 'time_wait = "TIMEWAIT"',
                           'must name a state of this spec, not "TIMEWAIT" (did you mean "TIME-WAIT"?)'),
    "two_roles_one_state": (BASE.replace('closing = "CLOSING"', 'closing = "LAST-ACK"', 1), 'last_ack = "LAST-ACK"', 'both name state "LAST-ACK"'),
    "renamed_timer_with_its_old_role": (RENAMED_TIMER, 'time_wait_timer = "TIME-WAIT"', 'role time_wait_timer (the 2 MSL timer'),
    "title_with_a_control_character": (BASE.replace('title = "RFC 9293 TCP', 'title = "\\u001b[2JRFC 9293 TCP', 1), "title = ",
                                       "[spec] title holds the unprintable character"),
    "not_utf8": (BASE.replace("Deliberate", "Deliberate \udcff", 1), "Deliberate", "not UTF-8 text"),
    "missing_variables": (TOY, "[spec]", "the TCP properties need the role"),
    "renamed_timer_without_roles": (RENAMED_TIMER.replace('time_wait_timer = "TIME-WAIT"\n', "", 1), "[roles]",
                                    "the TCP properties need the role time_wait_timer"),
}


@pytest.mark.parametrize("case", sorted(LOCATED))
def test_issue20_spec_errors_are_one_located_line(case, tmp_path, capsys):
    text, needle, message = LOCATED[case]
    path = tmp_path / "spec.toml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert main(["check", str(path), *SMALL]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"tcpmodel: error: {path}:{line_of(text, needle)}"), lines[0]
    assert message in lines[0], lines[0]


def test_the_renamed_timer_is_accepted_once_its_role_is_declared(tmp_path, capsys):
    text = RENAMED_TIMER.replace('time_wait_timer = "TIME-WAIT"', 'time_wait_timer = "TW"', 1)
    path = tmp_path / "spec.toml"
    path.write_text(text)
    assert main(["check", str(path), *SMALL, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["states"], data["transitions"]) == (10_710, 27_657)


def run_cli(argv, timeout=60):
    """``tcpmodel ARGV`` in a process of its own (an input that blocks or eats memory cannot take the tests with it)."""
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "tcpmodel", *argv], capture_output=True, text=True, timeout=timeout, check=False,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return done, time.monotonic() - start


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "folder", "too_large"])
def test_a_spec_that_is_no_regular_file_is_refused_before_reading(kind, tmp_path):
    path = tmp_path / "spec.toml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    else:
        with open(path, "wb") as f:
            f.truncate(3 << 20)
    done, seconds = run_cli(["check", str(path)], timeout=30)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"tcpmodel: error: {path}: "), done.stderr
    words = {"fifo": "a FIFO, not a regular file", "dev_zero": "a character device, not a regular file",
             "folder": "a folder, not a regular file", "too_large": "has 3,145,728 bytes; at most 1,048,576 are read"}[kind]
    assert words in done.stderr
    assert seconds < 20


def test_definitions_that_double_each_other_load_in_linear_time(tmp_path):
    doubling = "\n".join(f'D{i} = "D{i - 1} and D{i - 1}"' for i in range(1, 41))
    text = BASE.replace("[definitions]\n", '[definitions]\nD0 = "SEG.SEQ == RCV.NXT"\n' + doubling + "\n", 1)
    path = tmp_path / "spec.toml"
    path.write_text(text)
    done, seconds = run_cli(["check", str(path), *SMALL], timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"{path}:{line_of(text, 'D8 = ')}: definition D8:" in done.stderr
    assert "with its definitions written out has 1,023 terms; at most 1,000 are allowed" in done.stderr
    assert seconds < 20


def test_a_long_left_nested_sum_is_refused_not_a_traceback(tmp_path, capsys):
    text = BASE.replace('ACK_TOO_NEW = "seq_gt(SEG.ACK, SND.NXT)"', 'ACK_TOO_NEW = "seq_gt(SEG.ACK, SND.NXT + ' + " + ".join(["1"] * 180) + ')"', 1)
    path = tmp_path / "spec.toml"
    path.write_text(text)
    assert main(["check", str(path), *SMALL]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line_of(text, 'ACK_TOO_NEW = ')}: definition ACK_TOO_NEW:" in err and "nested 182 deep; at most 48" in err


def test_an_extends_chain_1100_deep_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "v0.toml").write_text(f'[spec]\nextends = "{REFERENCE}"\n')
    for i in range(1, 1100):
        (tmp_path / f"v{i}.toml").write_text(f'[spec]\nextends = "v{i - 1}.toml"\n')
    assert main(["check", str(tmp_path / "v1099.toml"), *SMALL]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "extends chains at most 16 specs, this one is deeper" in err
    assert err.startswith(f"tcpmodel: error: {tmp_path}/v108") and ":2:" in err


def test_an_extends_cycle_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "a.toml").write_text('[spec]\nextends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('[spec]\nextends = "a.toml"\n')
    assert main(["check", str(tmp_path / "a.toml")]) == 2
    err = capsys.readouterr().err
    assert err == f"tcpmodel: error: {tmp_path / 'b.toml'}:2: extends forms a cycle through 'a.toml'\n"
