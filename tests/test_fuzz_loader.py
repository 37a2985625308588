"""Fuzzing the spec loader: whatever the file holds, ``load_spec`` returns or raises InputError.

Any other exception (TypeError, ValueError, RecursionError, ...) would reach the user as a
traceback instead of a one-line error naming the file and line, so it is a bug in the loader.
"""

import datetime
import json
import math
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tcpmodel.base.errors import InputError, SpecError
from tcpmodel.language.spec import load_spec

SPEC_PATH = Path(__file__).resolve().parent.parent / "specs" / "rfc9293.toml"
SPEC_TEXT = SPEC_PATH.read_text(encoding="utf-8")
SPEC_LINES = SPEC_TEXT.splitlines(keepends=True)
# Words, numbers and single punctuation characters of the real spec, as (start, end) spans.
TOKEN = re.compile(r"[A-Za-z0-9_.\-']+|\S")
SPEC_TOKENS = [m.span() for m in TOKEN.finditer(SPEC_TEXT)]

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

STATE_NAMES = ["CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2",
               "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"]
VARIABLE_NAMES = ["ISS", "IRS", "SND.UNA", "SND.NXT", "RCV.NXT", "PASSIVE", "STATE", "SEG.SEQ", "SEG.ACK",
                  "SEG.LEN", "RCV.WND", "ISN", "DATA", "MSL", "RTO", "SYN", "ACK", "RST", "FIN"]
GARBAGE = ["SND.UNE", "TIME_WAIT", "closed", "foo", "$$", "@", "\\", "\\u", "%", ";", "..", "-", "+", "*", "==", "=",
           "true", "false", "and", "or", "not", "if", "seq_lt", "seq_lt(", "in_window", "restart(RETRANSMISSION)",
           "SEGMENT", "CONNECT", "TIMEOUT", "USER TIMEOUT", "rule", "name", "from", "on", "when", "do", "send", "to",
           "flags", "seq", "int", "bool", "extends", "rfc9293.toml", "1979-05-27", "1979-05-27T07:32:00Z", "", "é"]
NUMBERS = ["0", "1", "-1", "42", "007", "01", "0x1F", "0b1", "1_000", "4294967296", "99999999999999999999", "1.5",
           "nan", "inf"]
PUNCTUATION = ['"', "'", '"""', "[", "]", "[[", "]]", "{", "}", "(", ")", ",", "#", "[[rule]]", "[spec]", "[[timer]]",
               "[[variable]]", "[variant]"]
# Each category is drawn equally often, so that numbers and punctuation are not drowned by names.
words = st.one_of(*(st.sampled_from(c) for c in (STATE_NAMES, VARIABLE_NAMES, GARBAGE, NUMBERS, PUNCTUATION)))


def _expression_tokens():
    """Spans of the tokens inside the quoted strings of expression-bearing lines (not rfc/doc/name)."""
    spans, offset = [], 0
    for line in SPEC_LINES:
        if not re.match(r"\s*(#|rfc\s*=|doc\s*=|title\s*=|name\s*=)", line):
            for quoted in re.finditer(r'"([^"\\]*)"', line):
                for m in TOKEN.finditer(quoted.group(1)):
                    base = offset + quoted.start(1)
                    spans.append((base + m.start(), base + m.end()))
        offset += len(line)
    return spans


EXPRESSION_TOKENS = _expression_tokens()


def check_load(path: Path) -> None:
    """load_spec either returns or raises an InputError with a message; nothing else."""
    try:
        load_spec(path)
    except InputError as exc:  # SpecError is a subclass
        assert str(exc).strip(), f"empty message from {type(exc).__name__}"


def load_text(text: str, name: str = "fuzz.toml", with_base: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if with_base:  # so that extends = "rfc9293.toml" resolves
            (Path(tmp) / "rfc9293.toml").write_text(SPEC_TEXT, encoding="utf-8")
        path = Path(tmp) / name
        # surrogatepass: lone surrogates become invalid UTF-8, which the loader must report.
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        check_load(path)


def test_sanity_mutation_targets():
    assert len(EXPRESSION_TOKENS) > 100
    texts = {SPEC_TEXT[a:b] for a, b in EXPRESSION_TOKENS}
    assert {"SND.NXT", "seq_lt", "TIME-WAIT", "1"} <= texts
    assert "Deliberate" not in texts  # comments are not expression tokens


def test_sanity_real_spec_loads():
    spec = load_spec(SPEC_PATH)
    assert spec.name == "rfc9293"
    assert len(spec.rules) > 10
    assert issubclass(SpecError, InputError)


def test_sanity_errors_are_detected(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[spec]\nstates = []\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_spec(path)
    assert "states" in str(info.value)
    with pytest.raises(InputError):
        load_spec(tmp_path / "missing.toml")


# ---------------------------------------------------------------- (a) arbitrary text

toml_alphabet = st.sampled_from(list('[]{}="\',.#-_+*()\n \t0123456789abcdeSTAEnamestrulefoiw') + ["\x00", "é", "\ud800"])


@FUZZ
@given(st.one_of(st.text(max_size=300), st.text(alphabet=toml_alphabet, max_size=300)))
def test_arbitrary_text(text):
    load_text(text)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.toml"
        path.write_bytes(data)
        check_load(path)


# ---------------------------------------------------------------- (b) single mutations of the real spec


@st.composite
def mutations(draw):
    """One mutation of the real spec, as a short tuple (so a failing example prints readably)."""
    kind = draw(st.sampled_from(["delete", "duplicate", "replace", "replace", "insert", "truncate", "swap"]))
    if kind in ("delete", "truncate"):
        limit = len(SPEC_LINES) - 1 if kind == "delete" else len(SPEC_TEXT)
        return (kind, draw(st.integers(0, limit)))
    if kind in ("duplicate", "swap"):
        return (kind, draw(st.integers(0, len(SPEC_LINES) - 1)), draw(st.integers(0, len(SPEC_LINES) - 1)))
    word = draw(words)
    if kind == "insert":
        return (kind, draw(st.integers(0, len(SPEC_TEXT))), word)
    # Replace any token of the file, or one inside an expression string (where the parser sees it).
    start, end = draw(st.sampled_from(SPEC_TOKENS) | st.sampled_from(EXPRESSION_TOKENS))
    return (kind, start, end, word)


def mutate(mutation) -> str:
    kind, *args = mutation
    lines = list(SPEC_LINES)
    if kind == "delete":
        del lines[args[0]]
    elif kind == "duplicate":
        lines.insert(args[1], lines[args[0]])
    elif kind == "swap":
        i, j = args
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "truncate":
        return SPEC_TEXT[: args[0]]
    elif kind == "insert":
        at, word = args
        return SPEC_TEXT[:at] + word + SPEC_TEXT[at:]
    elif kind == "replace":
        start, end, word = args
        return SPEC_TEXT[:start] + word + SPEC_TEXT[end:]
    return "".join(lines)


def test_mutate_examples():
    assert mutate(("truncate", 0)) == ""
    assert mutate(("delete", 0)) == SPEC_TEXT[len(SPEC_LINES[0]):]
    assert mutate(("duplicate", 0, 0)) == SPEC_LINES[0] + SPEC_TEXT
    assert mutate(("swap", 3, 3)) == SPEC_TEXT
    start, end = EXPRESSION_TOKENS[0]
    assert mutate(("replace", start, end, "XYZ")).count("XYZ") == SPEC_TEXT.count("XYZ") + 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_mutated_real_spec(mutation):
    text = mutate(mutation)
    at = mutation[1] if mutation[0] in ("insert", "replace") else None
    if at is not None:
        line = SPEC_TEXT.count("\n", 0, at) + 1
        note(f"line {line} becomes: {text.splitlines()[line - 1] if line <= len(text.splitlines()) else ''!r}")
    load_text(text)


# ---------------------------------------------------------------- (c) random small TOML documents

SPEC_KEYS = ["name", "title", "rfc", "states", "initial", "no_tcb", "doc", "extends", "bogus"]
RULE_KEYS = ["name", "rfc", "from", "on", "when", "do", "send", "to", "option", "doc", "before", "after", "bogus"]
TIMER_KEYS = ["name", "rfc", "running", "duration", "untimed", "doc", "before", "after"]
VARIABLE_KEYS = ["name", "type", "init", "rfc"]
SEND_KEYS = ["flags", "seq", "ack", "data", "when", "bogus"]
TOP_KEYS = ["spec", "rule", "timer", "variable", "constants", "definitions", "options", "isn", "scenario",
            "variant", "bogus"]

WORDS = st.sampled_from(
    ["A", "B", "CLOSED", "TIME-WAIT", "SYN-SENT", "SEGMENT", "CONNECT", "CLOSE", "T TIMEOUT", "RETRANSMISSION TIMEOUT",
     "seq", "int", "bool", "any", "quiet", "drained", "true", "SYN", "RST,ACK", "ACK", "X", "SND.NXT",
     "SND.NXT + 1", "SND.NXT' + 1", "seq_lt(SND.UNA, SND.NXT)", "STATE == TIME-WAIT", "X = 1", "X = X + 1",
     "restart(T)", "restart(", "2 * MSL", "RTO", "RFC 9293 §3", "", " ", "007", "1 +", "((", "rfc9293.toml",
     "missing.toml", ".", "fuzz.toml", "!opt", "opt", "closed_connect", "listen_syn"]
)
scalars = st.one_of(
    WORDS,
    st.text(max_size=8),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, 1, -1, 2**32, 2**31]),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2100, 1, 1)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(SEND_KEYS), st.text(max_size=4)), inner, max_size=3),
    ),
    max_leaves=6,
)


def table_of(keys, required=None):
    return st.fixed_dictionaries(required or {}, optional=dict.fromkeys(keys, values))


spec_table = table_of(
    [k for k in SPEC_KEYS if k != "states"],
    required={"states": st.one_of(st.just(["CLOSED", "TIME-WAIT", "A"]), st.lists(WORDS, max_size=3), values)},
)
rule_table = table_of(RULE_KEYS)
timer_table = table_of(TIMER_KEYS)
variable_table = table_of(VARIABLE_KEYS)
free_table = st.dictionaries(st.one_of(WORDS, st.text(max_size=5)), values, max_size=3)

document = st.fixed_dictionaries(
    {},
    optional={
        "spec": st.one_of(spec_table, values),
        "rule": st.one_of(st.lists(rule_table, min_size=1, max_size=3), values),
        "timer": st.one_of(st.lists(timer_table, min_size=1, max_size=2), values),
        "variable": st.one_of(st.lists(variable_table, min_size=1, max_size=2), values),
        "constants": st.one_of(free_table, values),
        "definitions": st.one_of(free_table, values),
        "options": st.one_of(free_table, values),
        "isn": free_table,
        "scenario": free_table,
        "variant": st.one_of(st.fixed_dictionaries({}, optional={"remove": values}), values),
        "bogus": values,
    },
)


def toml_string(s: str) -> str:
    out = json.dumps(s, ensure_ascii=False)
    return out.replace("\x7f", "\\u007f")


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_string(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise AssertionError(f"cannot write {v!r}")


def toml_document(doc: dict) -> str:
    """Tables as [name], lists of tables as [[name]], anything else as a top-level key."""
    top, sections = [], []
    for name, value in doc.items():
        if isinstance(value, dict):
            sections.append(f"[{name}]")
            sections += [f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()]
        elif isinstance(value, list) and value and all(isinstance(t, dict) for t in value):
            for t in value:
                sections.append(f"[[{name}]]")
                sections += [f"{toml_string(k)} = {toml_value(v)}" for k, v in t.items()]
        else:
            top.append(f"{name} = {toml_value(value)}")
    return "\n".join(top + sections) + "\n"


def test_toml_writer_roundtrips():
    import tomllib

    doc = {"spec": {"states": ["A", "B"], "no_tcb": 5, "x": {"y": [1.5, True]}}, "rule": [{"name": "r", "d": datetime.date(2000, 1, 2)}],
           "bogus": "q\"\\\x00\x7f"}
    assert tomllib.loads(toml_document(doc)) == doc


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document)
def test_random_documents(doc):
    text = toml_document(doc)
    load_text(text, with_base=True)


# Structured perturbation: start from small documents that load, change one to three nodes.

TOY_SPEC = {
    "spec": {"name": "toy", "states": ["CLOSED", "LISTEN", "TIME-WAIT"], "initial": "CLOSED", "no_tcb": ["CLOSED", "LISTEN"]},
    "variable": [{"name": "X", "type": "seq"}, {"name": "F", "type": "bool", "init": False}, {"name": "N", "type": "int", "init": 3}],
    "constants": {"K": 2},
    "definitions": {"D": "seq_lt(X, SEG.ACK)"},
    "options": {"opt": {"default": False, "rfc": "r", "doc": "d"}},
    "timer": [{"name": "T", "rfc": "r", "running": "STATE == TIME-WAIT", "duration": "2 * MSL", "untimed": "drained"}],
    "rule": [
        {"name": "r1", "rfc": "RFC", "from": "CLOSED", "on": "CONNECT", "do": ["X = ISN", "restart(T)"],
         "send": [{"flags": "SYN", "seq": "X'"}], "to": "TIME-WAIT"},
        {"name": "r2", "rfc": "RFC", "from": ["TIME-WAIT"], "on": "SEGMENT", "when": "D and ACK", "do": "X = SEG.ACK",
         "send": {"flags": "ACK", "seq": "X", "ack": "SEG.SEQ + 1", "data": "N - 1", "when": "F"}, "option": "!opt"},
        {"name": "r3", "rfc": "RFC", "from": "TIME-WAIT", "on": "T TIMEOUT", "to": "CLOSED"},
    ],
    "isn": {"A": 1, "B": 2, "stride": 4},
}
TOY_VARIANT = {
    "spec": {"extends": "rfc9293.toml", "name": "variant"},
    "variant": {"remove": ["closed_listen"]},
    "constants": {"RCV.WND": 2},
    "rule": [
        {"name": "closed_connect", "to": "CLOSED"},
        {"name": "closed_close", "rfc": "RFC", "from": "CLOSED", "on": "CLOSE", "after": "closed_rst"},
    ],
    "timer": [{"name": "USER", "duration": "4 * RTO"}],
}
KEY_NAMES = sorted(set(SPEC_KEYS + RULE_KEYS + TIMER_KEYS + VARIABLE_KEYS + SEND_KEYS + TOP_KEYS + ["remove", "default"]))


def node_paths(node, path=()):
    """Every path into a nested dict/list document, the root excluded."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(path + (k,))
            out += node_paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append(path + (i,))
            out += node_paths(v, path + (i,))
    return out


def get(node, path):
    for p in path:
        node = node[p]
    return node


@st.composite
def perturbed_document(draw):
    doc = json.loads(json.dumps(draw(st.sampled_from([TOY_SPEC, TOY_VARIANT]))))
    for _ in range(draw(st.integers(1, 3))):
        paths = node_paths(doc)
        deep = [p for p in paths if len(p) >= 2]
        # Mostly change something inside a table: changing a whole table stops the loader early.
        if not paths:
            break
        path = draw(st.sampled_from(deep) if deep and draw(st.integers(0, 9)) else st.sampled_from(paths))
        parent, last = get(doc, path[:-1]), path[-1]
        action = draw(st.sampled_from(["set", "set", "word", "delete", "add_key"]))
        if action == "set":
            parent[last] = draw(scalars | values)
        elif action == "word":
            parent[last] = draw(WORDS | words)
        elif action == "delete":
            del parent[last]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(KEY_NAMES))] = draw(values)
        else:
            parent.append(draw(values))
    return doc


def test_toy_documents_load():
    for doc in (TOY_SPEC, TOY_VARIANT):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "rfc9293.toml").write_text(SPEC_TEXT, encoding="utf-8")
            path = Path(tmp) / "toy.toml"
            path.write_text(toml_document(doc), encoding="utf-8")
            spec = load_spec(path)
            assert spec.name == doc["spec"]["name"]
            assert len(spec.rules) >= 3


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(perturbed_document())
def test_perturbed_documents(doc):
    load_text(toml_document(doc), with_base=True)


# ---------------------------------------------------------------- reproducers of crashes found by the fuzzers

# Each of these inputs makes load_spec raise something other than InputError (see the module
# docstring). The fuzzers above found the first two kinds (a leading-zero number such as "007" in an
# expression; a non-list no_tcb); the rest came from reading the loader for the same kind of gap.
# They stay here, failing, until the loader reports them as spec errors.
CRASHES = {
    "no_tcb_not_a_list": '[spec]\nstates = ["A"]\nno_tcb = 0\n',
    "leading_zero_literal": '[spec]\nstates = ["A"]\n[definitions]\nX = "01"\n',
    "leading_zero_in_real_spec": SPEC_TEXT.replace('"SND.NXT = ISN + 1"', '"SND.NXT = ISN + 01"', 1),
    "nul_byte_in_extends": '[spec]\nstates = ["A"]\nextends = "\\u0000"\n',
    "deeply_nested_expression": '[spec]\nstates = ["A"]\n[definitions]\nX = "' + "(" * 1000 + "1" + ")" * 1000 + '"\n',
    "long_expression": '[spec]\nstates = ["A"]\n[definitions]\nX = "' + " + ".join(["1"] * 1500) + '"\n',
    "deeply_nested_toml_array": "x = " + "[" * 1000 + "]" * 1000 + "\n",
    "many_nots": '[spec]\nstates = ["A"]\n[definitions]\nX = "' + "not " * 1000 + 'true"\n',
    "huge_decimal_literal": '[spec]\nstates = ["A"]\n[definitions]\nX = "' + "9" * 5000 + '"\n',
    "extends_name_too_long": '[spec]\nstates = ["A"]\nextends = "' + "a" * 300 + '"\n',
}


@pytest.mark.parametrize("name", sorted(CRASHES))
def test_known_crash_inputs_raise_input_error(name):
    load_text(CRASHES[name])


def test_extends_symlink_loop_raises_input_error():
    with tempfile.TemporaryDirectory() as tmp:
        loop = Path(tmp) / "loop.toml"
        loop.symlink_to(loop)
        path = Path(tmp) / "variant.toml"
        path.write_text('[spec]\nstates = ["A"]\nextends = "loop.toml"\n', encoding="utf-8")
        check_load(path)


# ---------------------------------------------------------------- (d) the whole command on mutated values, types and keys
#
# Issue 20: mutations of the reference spec's TOML values (other types, out-of-range numbers,
# hostile names), deleted and added keys, and [scenario] and [roles] tables, run through
# `tcpmodel check` (loading, the scenario, code generation, a bounded search). Each must end
# with exit 0, 1 or 3, or with exit 2 and one line naming the file and line (no traceback,
# nothing unlocated, no control character echoed).

import contextlib  # noqa: E402 - this part's own imports
import io  # noqa: E402

from tcpmodel.cli.main import main  # noqa: E402
from tcpmodel.language.roles import BY_KEY as ROLE_KEYS  # noqa: E402
from tcpmodel.system.scenario import FIELDS as SCENARIO_FIELDS  # noqa: E402

REFERENCE_DOC = tomllib_loads = __import__("tomllib").loads(SPEC_TEXT)
HOSTILE = ["x\n        pass\n    if True:", "*/ c_code { abort(); } /*", "*) (*", "../escaped", "/tmp/escaped", "a/b", "..", ".",
           "\x1b]0;owned\x07", "`touch pwned`", "", " ", "CLOSED ", "é", "\u202e", "A" * 70, "SYN-SENT", "TIME-WAIT",
           "closed_connect", "SND.NXT", "rfc5961", "!rfc5961", "USER", "true", "and", "if", "restart(USER)", "ISN + 1",
           "__import__('os')", "().__class__", "0x100000000", "99999999999999999999"]
mutated_values = st.one_of(
    st.sampled_from(HOSTILE),
    st.sampled_from([0, 1, -1, 2, 17, 2**31, 2**32 - 1, 2**32, -(2**63), 2**63 - 1, True, False]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.one_of(st.sampled_from(HOSTILE), st.integers(-2, 2**32), st.lists(st.integers(0, 1), max_size=1)), max_size=3),
    st.dictionaries(st.sampled_from(["A", "B", "stride", "default", "flags", "seq", "x"]),
                    st.one_of(st.integers(-1, 2**32), st.sampled_from(HOSTILE), st.booleans()), max_size=2),
)
MUTATION_KEYS = sorted(set(KEY_NAMES) | SCENARIO_FIELDS | set(ROLE_KEYS) | {"enable", "options", "A", "B", "stride"})


@st.composite
def mutated_reference(draw):
    """The reference spec, parsed, with one to three values, types or keys changed."""
    doc = json.loads(json.dumps(REFERENCE_DOC))
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["set", "set", "set", "delete", "add", "scenario", "roles", "swap", "swap"]))
        if action in ("scenario", "roles"):
            key = draw(st.sampled_from(sorted(SCENARIO_FIELDS | {"enable", "options", "bogus"}) if action == "scenario"
                                       else sorted(ROLE_KEYS) + ["bogus"]))
            doc.setdefault(action, {})[key] = draw(mutated_values)
            continue
        paths = [p for p in node_paths(doc) if len(p) >= 2]
        path = draw(st.sampled_from(paths))
        parent, last = get(doc, path[:-1]), path[-1]
        if action == "swap":  # with the value of the same key elsewhere: well-typed, so it often runs
            twins = [p for p in paths if p[-1] == last and p != path and len(p) == len(path)]
            if twins:
                other = draw(st.sampled_from(twins))
                other_parent = get(doc, other[:-1])
                parent[last], other_parent[last] = other_parent[last], parent[last]
        elif action == "set":
            parent[last] = draw(mutated_values)
        elif action == "delete":
            del parent[last]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(MUTATION_KEYS))] = draw(mutated_values)
        else:
            parent.append(draw(mutated_values))
    return doc


LOCATED_ERROR = re.compile(r"tcpmodel: error: \S+\.toml:\d+[:,] ")
UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


SMALL = ["--incarnations", "1", "--no-loss", "--no-duplication", "--no-reordering"]  # a complete search of some 10,000 states


def run_check(text: str, flags: tuple[str, ...] = ("--max-states", "200")) -> tuple[int, str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "rfc9293.toml").write_text(SPEC_TEXT, encoding="utf-8")
        path = Path(tmp) / "fuzz.toml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["check", str(path), *flags, "--out", str(Path(tmp) / "out")])
        outside = sorted(p.name for p in Path(tmp).iterdir() if p.name not in ("rfc9293.toml", "fuzz.toml", "out"))
        assert not outside, f"written outside --out: {outside}"
        return code, out.getvalue(), err.getvalue()


def assert_exits_cleanly(code: int, out: str, err: str) -> None:
    assert code in (0, 1, 2, 3), (code, err)
    if code == 2:
        assert err.endswith("\n") and err.count("\n") == 1, err
        assert LOCATED_ERROR.match(err), f"an error without file:line: {err!r}"
        assert not UNPRINTABLE.search(err[:-1]), f"an unprintable character in {err!r}"


def test_mutated_reference_examples():
    """The fuzzer's targets, one by one: each of these was a traceback or an unlocated error."""
    for change in ({"scenario": {"roles": 5}}, {"scenario": {"isn": 5}}, {"scenario": {"options": [[1]]}},
                   {"scenario": {"isn": {"A": -1}}}, {"roles": {"time_wait": 5}}):
        doc = {**json.loads(json.dumps(REFERENCE_DOC)), **change}
        code, out, err = run_check(toml_document(doc))
        assert code == 2, (change, err)
        assert_exits_cleanly(code, out, err)
    assert run_check(toml_document(REFERENCE_DOC))[0] == 3  # the unchanged reference: cut short by --max-states


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_reference(), st.booleans())
def test_mutated_reference_runs_or_fails_with_a_located_line(doc, complete):
    """Bounded (``--max-states``: the spec's own scenario, cut short) or complete (a small scenario:
    liveness, counterexamples and their files too)."""
    assert_exits_cleanly(*run_check(toml_document(doc), tuple(SMALL) if complete else ("--max-states", "200")))
