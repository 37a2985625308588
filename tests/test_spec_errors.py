"""Spec errors: one line naming the file and line (and the rule, the field and the near miss), exit 2."""

import pytest

from tcpmodel.cli.main import main
from tests.conftest import REFERENCE

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
