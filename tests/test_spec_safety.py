"""Spec text is data: the reproducers of issue 20 (items 1-3) as regression tests.

Each test writes a hostile spec and runs the command a user would. Before the loader validated
names, these ran code from the spec (a rule name broke out of the comment codegen pasted it
into), put ``c_code`` into exported Promela and shell commands into packetdrill scripts, and
wrote files outside ``--out``. Now each is refused at load time: exit 2, one line, naming the
file, line, rule (where there is one) and field, and saying what is allowed.
"""

import json
import re

import pytest

from tcpmodel.cli.main import main
from tests.conftest import REFERENCE

BASE = REFERENCE.read_text(encoding="utf-8")
SMALL = ["--incarnations", "1", "--no-loss", "--no-duplication", "--no-reordering"]
CLOSED_CONNECT = '[[rule]]\nname = "closed_connect"\n'


def line_of(text: str, needle: str) -> int:
    return text.count("\n", 0, text.index(needle)) + 1


def with_rule_first(name_toml: str, when: str = "false", to: str = "CLOSED") -> str:
    """The reference with one more rule for CONNECT in CLOSED, tried before closed_connect."""
    rule = f'[[rule]]\nname = {name_toml}\nrfc = "RFC 9293"\nfrom = "CLOSED"\non = "CONNECT"\nwhen = "{when}"\nto = "{to}"\n\n'
    assert CLOSED_CONNECT in BASE
    return BASE.replace(CLOSED_CONNECT, rule + CLOSED_CONNECT, 1)


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_refused(code, out, err, path, line, *words):
    assert code == 2, (code, out, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"tcpmodel: error: {path}:{line}"), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert "Traceback" not in err


# ---------------------------------------------------------------- 1. code execution through codegen


def test_a_rule_name_with_a_newline_cannot_make_a_false_rule_fire(tmp_path, capsys):
    """The issue's "when = false rule that always fires": the name closed the comment codegen put
    it in and opened an ``if True:`` of its own (10 states, "all properties hold", exit 0)."""
    text = with_rule_first(r'"never\n        pass\n    if True:"')
    path = tmp_path / "spec.toml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run(["check", str(path), *SMALL], capsys)
    assert "10 states" not in out
    assert_refused(code, out, err, path, line_of(text, 'name = "never'), "field 'name'", "rule name", "letters")


def test_a_rule_name_cannot_escape_the_empty_builtins(tmp_path, capsys):
    """The payload reaches ``open`` through attribute access on a literal (``().__class__...``),
    which the empty ``__builtins__`` does not stop; it must never run."""
    marker = tmp_path / "pwned"
    payload = ("[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'catch_warnings'][0]()"
               f"._module.__builtins__['open']({str(marker)!r}, 'w').write('x')")
    name = json.dumps(f"x\n        pass\n    {payload}\n    if False:")
    text = with_rule_first(name)
    path = tmp_path / "spec.toml"
    path.write_text(text, encoding="utf-8")
    for command in (["check", str(path), *SMALL], ["export", str(path), "--out", str(tmp_path / "out"), *SMALL],
                    ["audit", str(REFERENCE), "--spec", str(path)]):
        code, _out, err = run(command, capsys)
        assert not marker.exists(), command
        assert code == 2 and "field 'name'" in err, (command, code, err)


@pytest.mark.parametrize("expression", [
    "().__class__", "SND.NXT.__class__", "ISS.real == 0", "__import__('os')", "[1][0] == 1", "'a' == 'a'",
    "(lambda: 1)() == 1", "getattr(ISS, 'x')", "ISS if ISS else ISS", "ISS; 1", "true\nfalse", "{1} == {1}",
])
def test_the_expression_language_has_no_way_to_reach_attributes(expression, tmp_path, capsys):
    text = BASE.replace('ACK_TOO_NEW = "seq_gt(SEG.ACK, SND.NXT)"', f"ACK_TOO_NEW = {json.dumps(expression)}", 1)
    path = tmp_path / "spec.toml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run(["check", str(path), *SMALL], capsys)
    assert_refused(code, out, err, path, line_of(text, "ACK_TOO_NEW = "), "definition ACK_TOO_NEW")


# ---------------------------------------------------------------- 2. other tools' inputs


def test_a_rule_name_cannot_put_c_code_into_the_promela_export(tmp_path, capsys):
    name = json.dumps('x */ c_code { system("touch pwned"); } /* ')
    text = with_rule_first(name)
    path = tmp_path / "spec.toml"
    path.write_text(text, encoding="utf-8")
    out_dir = tmp_path / "out"
    code, out, err = run(["export", str(path), "--out", str(out_dir), *SMALL], capsys)
    assert not any("c_code" in p.read_text() for p in out_dir.glob("*")) if out_dir.exists() else True
    assert_refused(code, out, err, path, line_of(text, 'name = "x */'), "field 'name'")


def test_a_state_name_cannot_put_shell_commands_into_packetdrill_scripts(tmp_path, capsys):
    text = BASE.replace('"CLOSING"', '"CLOSING\\n`touch pwned`"')
    path = tmp_path / "spec.toml"
    path.write_text(text, encoding="utf-8")
    out_dir = tmp_path / "out"
    code, out, err = run(["vectors", str(path), "--format", "packetdrill", "--out", str(out_dir)], capsys)
    assert not any("`" in p.read_text() for p in out_dir.glob("*.pkt")) if out_dir.exists() else True
    assert_refused(code, out, err, path, line_of(text, "states = ["), "[spec] states", "state name")


# ---------------------------------------------------------------- 3. names that become file paths


@pytest.mark.parametrize("name", ["../escaped", "/tmp/escaped", "a/b", "..", ".", "x\ny", "", "a b", "-rf"])
def test_a_spec_name_cannot_become_a_path_outside_out(name, tmp_path, capsys):
    text = BASE.replace('name = "rfc9293"', f"name = {json.dumps(name)}", 1)
    path = tmp_path / "work" / "spec.toml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    out_dir = tmp_path / "work" / "out"
    code, out, err = run(["export", str(path), "--out", str(out_dir), *SMALL], capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert_refused(code, out, err, path, line_of(text, "name = " + json.dumps(name)), "[spec] name")


def test_a_rule_name_cannot_become_a_path_outside_out(tmp_path, capsys):
    text = BASE.replace('name = "closed_connect"', 'name = "../../escaped"', 1)
    path = tmp_path / "work" / "spec.toml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    code, out, err = run(["vectors", str(path), "--format", "packetdrill", "--out", str(tmp_path / "work" / "out")], capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert_refused(code, out, err, path, line_of(text, 'name = "../../escaped"'), "rule '../../escaped'", "field 'name'")


@pytest.mark.parametrize("state", ["A/B", "CLOSING\\nX", "../X", "CLOSING "])
def test_a_state_name_cannot_become_a_path(state, tmp_path, capsys):
    text = BASE.replace('"CLOSING"', f'"{state}"')
    path = tmp_path / "work" / "spec.toml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    code, out, err = run(["vectors", str(path), "--format", "packetdrill", "--out", str(tmp_path / "work" / "out")], capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert_refused(code, out, err, path, line_of(text, "states = ["), "state name")


def test_errors_do_not_echo_terminal_escape_codes(tmp_path, capsys):
    text = BASE.replace('to = "CLOSE-WAIT"\n', 'to = "\\u001b]0;owned\\u0007\\u001b[2J"\n', 1)
    path = tmp_path / "spec.toml"
    path.write_text(text, encoding="utf-8")
    code, _out, err = run(["check", str(path), *SMALL], capsys)
    assert code == 2
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", err.rstrip("\n")), repr(err)
    assert "\\x1b" in err

