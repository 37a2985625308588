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


# ---------------------------------------------------------------- hostile text in every field


PAYLOADS = ["x\n        pass\n    if True:", "x */ c_code { abort(); } /* ", "x *) THEOREM T == FALSE (* ", "`touch pwned`",
            "../pwned", "\x1b]0;owned\x07", "x\\\" y"]


def _replace_once(old: str, new_template: str):
    def apply(payload: str) -> str:
        assert old in BASE, old
        return BASE.replace(old, new_template.replace("@", json.dumps(payload)), 1)
    return apply


# field -> how a payload is put there (a TOML value of the reference)
FIELDS = {
    "spec.name": _replace_once('name = "rfc9293"', "name = @"),
    "spec.title": _replace_once('title = "RFC 9293 TCP connection management"', "title = @"),
    "spec.states": _replace_once('"CLOSING", "LAST-ACK"', '"CLOSING", "LAST-ACK", @'),
    "spec.initial": _replace_once('initial = "CLOSED"', "initial = @"),
    "variable.name": _replace_once('name = "PASSIVE"', "name = @"),
    "variable.rfc": _replace_once('rfc = "RFC 9293 §3.3.1: send next"', "rfc = @"),
    "constant.name": _replace_once('"RCV.WND" = 4', '"RCV.WND" = 4\n@ = 1'),
    "definition.name": _replace_once('IN_ORDER = "seq_le(SEG.SEQ, RCV.NXT)"', '@ = "seq_le(SEG.SEQ, RCV.NXT)"'),
    "option.name": _replace_once("rfc5961 = { default = false", "@ = { default = false"),
    "option.doc": _replace_once('doc = "challenge ACKs:', 'doc = @, rfcx = "'),
    "timer.name": _replace_once('name = "USER"', "name = @"),
    "timer.rfc": _replace_once('rfc = "RFC 9293 §3.10.7.4 (eighth step), §3.10.8"', "rfc = @"),
    "rule.name": _replace_once('name = "closed_connect"', "name = @"),
    "rule.rfc": _replace_once('rfc = "RFC 9293 §3.10.1 (OPEN call, CLOSED state, active)"', "rfc = @"),
    "rule.doc": _replace_once('rfc = "RFC 9293 §3.10.1 (OPEN call, CLOSED state, active)"',
                              'rfc = "RFC 9293 §3.10.1 (OPEN call, CLOSED state, active)"\ndoc = @'),
    "rule.from": _replace_once('from = "CLOSED"\non = "CONNECT"', "from = @\non = \"CONNECT\""),
    "rule.on": _replace_once('on = "CONNECT"', "on = @"),
    "rule.to": _replace_once('to = "SYN-SENT"', "to = @"),
    "rule.option": _replace_once('option = "!rfc5961"', "option = @"),
    "rule.when": _replace_once('when = "RST and ACK"', "when = @"),
    "rule.do": _replace_once('"SND.NXT = ISN + 1"', "@"),
    "rule.send.flags": _replace_once('{ flags = "SYN", seq = "ISS\'" }', '{ flags = @, seq = "ISS\'" }'),
    "role": _replace_once('time_wait = "TIME-WAIT"', "time_wait = @"),
}
# the fields of free text: a printable payload is accepted there and must change no line of code
FREE_TEXT = {"spec.title", "variable.rfc", "option.doc", "timer.rfc", "rule.rfc", "rule.doc"}
# option.doc's template leaves an unknown key behind: it is refused for that, whatever the payload
FREE_TEXT.discard("option.doc")


def export_files(path, out_dir, fmt) -> tuple[int, str, dict[str, str]]:
    code = main(["export", str(path), "--format", fmt, "--out", str(out_dir), *SMALL])
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(out_dir.glob("*"))} if out_dir.exists() else {}
    return code, fmt, files


def code_only(text: str) -> str:
    """A Promela or TLA+ model without its comments (what the tool runs)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"\(\*.*?\*\)", "", text, flags=re.S)
    return re.sub(r"\\\*[^\n]*", "", text)


@pytest.fixture(scope="module")
def reference_exports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    path = folder / "spec.toml"
    path.write_text(BASE, encoding="utf-8")
    return {fmt: export_files(path, folder / fmt, fmt)[2] for fmt in ("promela", "tla")}


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_hostile_text_in_every_field_is_refused_or_changes_no_code(field, reference_exports, tmp_path, capsys):
    accepted = []
    for n, payload in enumerate(PAYLOADS):
        text = FIELDS[field](payload)
        path = tmp_path / f"{n}" / "spec.toml"
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
        for fmt in ("promela", "tla"):
            out_dir = path.parent / fmt
            code, _, files = export_files(path, out_dir, fmt)
            captured = capsys.readouterr()
            if code == 2:
                assert files == {}, (field, payload, fmt)
                lines = captured.err.strip().splitlines()
                assert len(lines) == 1 and re.match(rf"tcpmodel: error: {re.escape(str(path))}:\d+[:,] ", lines[0]), (field, payload, captured.err)
                assert not re.search(r"[\x00-\x1f\x7f]", lines[0]), lines[0]
                continue
            assert code == 0, (field, payload, fmt, captured.err)
            assert field in FREE_TEXT, f"{field} accepted {payload!r}"
            accepted.append(payload)
            reference = reference_exports[fmt]
            assert sorted(files) == sorted(reference)
            for name, model in files.items():
                assert code_only(model) == code_only(reference[name]).replace(str(REFERENCE.parent), str(path.parent)), (field, payload, name)
                assert "c_code" not in code_only(model) and "THEOREM" not in code_only(model)
                assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", model)
    # free text takes every printable payload (and changes no code); a name takes none
    assert len(accepted) == (2 * 5 if field in FREE_TEXT else 0), accepted


# ---------------------------------------------------------------- the second line of defence, on its own


@pytest.mark.parametrize("source", [
    "def dispatch(t, s, e):\n    return ().__class__\n",
    "def dispatch(t, s, e):\n    return open('x')\n",
    "def dispatch(t, s, e):\n    import os\n",
    "def dispatch(t, s, e):\n    return t[0:1]\n",
    "def dispatch(t, s, e):\n    return [x for x in t]\n",
    "def dispatch(t, s, e):\n    return __builtins__\n",
    "def dispatch(t, s, e):\n    return b'x'\n",
    "def dispatch(t, s, e):\n    v1 = lambda: 1\n",
    "def dispatch(t, s, e):\n    t.x = 1\n",
    "def dispatch(t, s, e):\n    return 1\nx = 2\n",
    "@f\ndef dispatch(t, s, e):\n    return 1\n",
    "def dispatch(t, s, e, x=open):\n    return 1\n",
    "def other(t, s, e):\n    return 1\n",
])
def test_generated_code_outside_what_the_generator_writes_is_never_run(source):
    from tcpmodel.base.errors import SpecError
    from tcpmodel.language import codegen

    with pytest.raises((codegen.GeneratedCodeError, SpecError)):
        codegen._verified(source, "dispatch")
    with pytest.raises(SpecError, match="refusing to run the code generated"):
        codegen._run(source, "dispatch", "<test>", "spec.toml")


def test_the_generated_code_of_the_reference_passes_the_check(reference):
    from tcpmodel.language import codegen

    compiled = codegen.CompiledSpec(reference, frozenset({"rfc5961"}), 4)
    assert len(compiled.sources) > 40
    for source in compiled.sources.values():
        codegen._verified(source, "dispatch")
        assert "#" not in source.replace("# rule ", "")  # no comment but the rule's number
        assert not any(r.name in source for r in reference.rules)


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/b", "..", ".", "", ".hidden", "-rf", "x\ny", "a\x1b", "a" * 256, "a\\b"])
def test_inside_refuses_anything_but_a_plain_file_name(name, tmp_path):
    from tcpmodel.base.errors import InputError
    from tcpmodel.base.files import inside

    with pytest.raises(InputError, match="cannot be a file name"):
        inside(tmp_path, name)


def test_inside_gives_a_child_of_the_folder(tmp_path):
    from tcpmodel.base.files import inside

    assert inside(tmp_path, "rfc9293.pml") == tmp_path / "rfc9293.pml"
    assert inside(tmp_path, "active.rule.closed_connect.pkt").parent == tmp_path


def test_a_packetdrill_script_never_writes_a_name_raw():
    """Names are validated when a spec loads; the script writer escapes them all the same."""
    from tcpmodel.base.errors import InputError
    from tcpmodel.vectors.generation import Step, Vector
    from tcpmodel.vectors.packetdrill import script, script_name

    steps = [Step({"call": "CONNECT"}, [[{"flags": "SYN", "seq": 0, "ack": 0, "len": 0}]], ["r"], ["SYN-SENT"]),
             Step({"timeout": "RTX\n`touch pwned`"}, [[]], ["r"], ["SYN-SENT"])]
    plain = script(Vector("active.rule.r", "active", "rule r", 0, 1000, steps), 4).splitlines()
    hostile = script(Vector("active.rule.r\n`touch pwned`", "active", "rule r\n+0 `id`", 0, 1000, steps), 4).splitlines()
    assert len(hostile) == len(plain)
    assert not any(line.lstrip().startswith(("`", "+0 `")) or "`" in line for line in hostile)
    with pytest.raises(InputError):
        script_name(Vector("active.rule.../../x", "active", "rule x", 0, 1000, steps))
    assert script_name(Vector("active.LISTEN.SYN.any", "active", "t", 0, 1000, steps)) == "active.LISTEN.SYN.any.pkt"


@pytest.mark.parametrize("stem, name", [("weird name;rm -rf", "weird_name_rm_-rf"), ("..x..y", "x.y"), ("-rf", "spec_-rf"), ("é", "spec__")])
def test_a_spec_without_a_name_is_named_after_its_file_safely(stem, name, tmp_path):
    from tcpmodel.language.names import name_problem
    from tcpmodel.language.spec import load_spec

    path = tmp_path / f"{stem}.toml"
    path.write_text(BASE.replace('name = "rfc9293"\n', "", 1), encoding="utf-8")
    spec = load_spec(path)
    assert spec.name == name and not name_problem("spec", spec.name)
