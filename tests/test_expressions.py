"""Tests of the spec expression language: tokenizer, parser, type checker and code generator."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpmodel.base import seqnum
from tcpmodel.base.errors import InputError
from tcpmodel.language import expressions as ex

STATES = ("CLOSED", "SYN-SENT", "TIME-WAIT")


def make_scope() -> ex.Scope:
    scope = ex.Scope(states=STATES)
    scope.add("SND.UNA", ex.SEQ, "var")
    scope.add("SND.NXT", ex.SEQ, "var")
    scope.add("RCV.NXT", ex.SEQ, "var")
    scope.add("PASSIVE", ex.BOOL, "var")
    scope.add("STATE", ex.STATE, "var")
    scope.add("DATA", ex.INT, "env")
    scope.add("RCV.WND", ex.INT, "const")
    scope.add("SEG.SEQ", ex.SEQ, "seg")
    scope.add("SEG.LEN", ex.INT, "seg")
    scope.add("SYN", ex.BOOL, "flag")
    scope.add("ACK", ex.BOOL, "flag")
    scope.add("RETRANSMISSION", "timer", "timer")
    return scope


@pytest.fixture
def scope():
    return make_scope()


def typ(text, scope, **kw):
    return ex.parse(text, scope, **kw).type


def error_of(text, scope, **kw) -> str:
    with pytest.raises(InputError) as info:
        ex.parse(text, scope, **kw)
    message = str(info.value)
    assert message  # every error explains itself
    return message


# ---------------------------------------------------------------- successful parses and types


@pytest.mark.parametrize(
    "text, expected",
    [
        ("SND.UNA", ex.SEQ),
        ("DATA", ex.INT),
        ("SYN", ex.BOOL),
        ("STATE", ex.STATE),
        ("TIME-WAIT", ex.STATE),
        ("5", ex.LIT),
        ("0x10", ex.LIT),
        ("true", ex.BOOL),
        ("false", ex.BOOL),
        ("SND.NXT + 1", ex.SEQ),
        ("1 + SND.NXT", ex.SEQ),
        ("SND.NXT + DATA", ex.SEQ),
        ("SND.NXT - 1", ex.SEQ),
        ("SND.NXT - DATA", ex.SEQ),
        ("SND.NXT - SND.UNA", ex.INT),
        ("SND.NXT - SND.UNA + 1", ex.INT),
        ("DATA + 1", ex.INT),
        ("DATA * 2", ex.INT),
        ("2 * 3", ex.LIT),
        ("2 + 3", ex.LIT),
        ("-DATA", ex.INT),
        ("-1", ex.LIT),
        ("SND.UNA == SND.NXT", ex.BOOL),
        ("SND.UNA != 0", ex.BOOL),
        ("DATA < 3", ex.BOOL),
        ("DATA >= RCV.WND", ex.BOOL),
        ("SND.UNA < SND.NXT", ex.BOOL),  # allowed (raw comparison), though usually a bug
        ("STATE == TIME-WAIT", ex.BOOL),
        ("STATE != CLOSED", ex.BOOL),
        ("SYN and not ACK", ex.BOOL),
        ("SYN or ACK and PASSIVE", ex.BOOL),
        ("not (SYN or ACK)", ex.BOOL),
        ("seq_lt(SND.UNA, SND.NXT)", ex.BOOL),
        ("seq_le(SND.UNA, 5)", ex.BOOL),  # a literal stands for a sequence number
        ("seq_gt(SEG.SEQ, RCV.NXT + 1)", ex.BOOL),
        ("seq_ge(0, SND.NXT)", ex.BOOL),
        ("in_window(SEG.SEQ, RCV.NXT, RCV.WND)", ex.BOOL),
        ("in_window(SEG.SEQ + SEG.LEN - 1, RCV.NXT, 4)", ex.BOOL),
        ("min(DATA, 3)", ex.INT),
        ("max(1, 2)", ex.INT),
        ("if(SYN, SND.NXT, SND.UNA)", ex.SEQ),
        ("if(SYN, SND.NXT, 0)", ex.SEQ),  # literal branch unifies with seq
        ("if(SYN, 0, SND.NXT)", ex.SEQ),
        ("if(SYN, DATA, 1)", ex.INT),
        ("if(SYN, 1, 2)", ex.LIT),
        ("if(SYN, ACK, PASSIVE)", ex.BOOL),
        ("((SND.NXT))", ex.SEQ),
    ],
)
def test_types(scope, text, expected):
    assert typ(text, scope) == expected


@pytest.mark.parametrize(
    "text, expect",
    [
        ("0", ex.SEQ),
        ("7", ex.INT),
        ("SND.NXT + 1", ex.SEQ),
        ("SYN", ex.BOOL),
        ("1 + 2 * 3", ex.INT),
    ],
)
def test_expect_accepts_fitting_types(scope, text, expect):
    ex.parse(text, scope, expect=expect)


@pytest.mark.parametrize(
    "text, expect, found",
    [
        ("SND.NXT", ex.INT, "seq"),
        ("DATA", ex.SEQ, "int"),
        ("SND.NXT - SND.UNA", ex.SEQ, "int"),
        ("SYN", ex.INT, "bool"),
        ("DATA", ex.BOOL, "int"),
        ("1", ex.BOOL, "lit"),
    ],
)
def test_expect_rejects_other_types(scope, text, expect, found):
    message = error_of(text, scope, expect=expect)
    assert f"expected a {expect} expression" in message
    assert found in message


def test_precedence(scope):
    node = ex.parse("DATA + 2 * 3 == 7 or SYN and not ACK", scope)
    assert node.kind == "or"
    left, right = node.args
    assert left.kind == "binop" and left.value == "=="
    plus = left.args[0]
    assert plus.value == "+" and plus.args[1].value == "*"
    assert right.kind == "and" and right.args[1].kind == "not"


def test_subtraction_is_left_associative(scope):
    node = ex.parse("DATA - 1 - 2", scope)
    assert node.value == "-"
    assert node.args[0].kind == "binop" and node.args[0].value == "-"
    assert node.args[1].value == 2


def test_definition_is_inlined(scope):
    definition = ex.parse("seq_lt(SND.UNA, SND.NXT)", scope)
    scope.add("OUTSTANDING", definition.type, "def", definition)
    node = ex.parse("OUTSTANDING and SYN", scope)
    assert node.args[0] == definition
    assert ex.names_in(node) == {("SND.UNA", False), ("SND.NXT", False), ("SYN", False)}


def test_names_and_states_in(scope):
    node = ex.parse("STATE == TIME-WAIT and seq_lt(SND.UNA, SND.NXT' + DATA)", scope, allow_primes=True)
    assert ex.names_in(node) == {("STATE", False), ("SND.UNA", False), ("SND.NXT", True), ("DATA", False)}
    assert ex.states_in(node) == {"TIME-WAIT"}


# ---------------------------------------------------------------- tokenizer: states vs subtraction


def test_hyphenated_state_is_one_token(scope):
    node = ex.parse("STATE == TIME-WAIT", scope)
    assert node.kind == "binop" and node.value == "=="
    assert node.args[1] == ex.Node("state", "TIME-WAIT", type=ex.STATE)
    node = ex.parse("STATE==SYN-SENT", scope)
    assert node.args[1].value == "SYN-SENT"


def test_name_minus_number_is_subtraction(scope):
    node = ex.parse("SND.NXT-1", scope)
    assert node.kind == "binop" and node.value == "-"
    assert node.args[0] == ex.Node("name", "SND.NXT", type=ex.SEQ)
    assert node.args[1].value == 1
    assert node.type == ex.SEQ


def test_state_name_prefix_of_a_longer_name_is_not_a_state():
    # "CLOSED" must not be split off the front of "CLOSEDX".
    scope = make_scope()
    scope.add("CLOSEDX", ex.INT, "var")
    node = ex.parse("CLOSEDX + 1", scope)
    assert node.args[0] == ex.Node("name", "CLOSEDX", type=ex.INT)


def test_state_compared_with_number_is_a_type_error(scope):
    message = error_of("STATE == 1", scope)
    assert "'=='" in message and "state" in message


# ---------------------------------------------------------------- errors


def test_unknown_name_suggests_near_miss(scope):
    message = error_of("SND.UNE + 1", scope)
    assert 'unknown name "SND.UNE"' in message
    assert 'did you mean "SND.UNA"' in message


def test_unknown_name_case_insensitive_suggestion(scope):
    message = error_of("passive", scope)
    assert 'unknown name "passive"' in message
    assert '"PASSIVE"' in message


def test_unknown_name_without_suggestion(scope):
    message = error_of("QQQQQQQQ", scope)
    assert 'unknown name "QQQQQQQQ"' in message
    assert "did you mean" not in message


def test_unknown_function_suggests(scope):
    message = error_of("seq_lte(SND.UNA, SND.NXT)", scope)
    assert 'unknown function "seq_lte"' in message
    assert "did you mean" in message and "seq_l" in message


def test_unknown_function_is_refused_even_if_python_has_it(scope):
    message = error_of("abs(DATA)", scope)
    assert 'unknown function "abs"' in message


@pytest.mark.parametrize(
    "text, needle",
    [
        ("seq_lt(SND.UNA)", "seq_lt() takes 2 arguments, not 1"),
        ("seq_lt(SND.UNA, SND.NXT, SND.NXT)", "seq_lt() takes 2 arguments, not 3"),
        ("in_window(SEG.SEQ, RCV.NXT)", "in_window() takes 3 arguments, not 2"),
        ("min(1)", "min() takes 2 arguments, not 1"),
        ("if(SYN, 1)", "takes 3 arguments, not 2"),
    ],
)
def test_wrong_arity(scope, text, needle):
    assert needle in error_of(text, scope)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("SND.UNA + SND.NXT", "'+' adds an int to a sequence number, not a seq"),
        ("SND.UNA + SYN", "'+' adds an int to a sequence number, not a bool"),
        ("DATA and SYN", "'and' needs booleans but one side is a int"),
        ("1 and 2", "'and' needs booleans"),
        ("SYN or DATA", "'or' needs booleans"),
        ("not DATA", "'not' needs a boolean but found a int"),
        ("-SND.NXT", "unary '-' needs an int but found a seq"),
        ("-SYN", "unary '-' needs an int"),
        ("SND.NXT * 2", "'*' needs ints, found seq and lit"),
        ("DATA - SND.NXT", "'-' cannot subtract a seq from a int"),
        ("SYN + 1", "'+' needs numbers"),
        ("SND.NXT == DATA", "'==' compares a seq with a int"),
        ("SYN == 1", "'==' compares a bool with a lit"),
        ("SYN < ACK", "'<' needs two ints or two sequence numbers"),
        ("SND.NXT < DATA", "'<' needs two ints or two sequence numbers, found seq and int"),
        ("seq_lt(DATA, SND.NXT)", "argument 1 of seq_lt() must be a seq, not a int"),
        ("in_window(SEG.SEQ, RCV.NXT, SND.NXT)", "argument 3 of in_window() must be a int, not a seq"),
        ("min(SND.NXT, 1)", "argument 1 of min() must be a int, not a seq"),
        ("if(DATA, 1, 2)", "the condition of if() must be a boolean, not a int"),
        ("if(SYN, SND.NXT, DATA)", "the branches of if() differ: seq and int"),
        ("if(SYN, ACK, 1)", "the branches of if() differ"),
    ],
)
def test_type_errors(scope, text, needle):
    message = error_of(text, scope)
    assert needle in message
    assert repr(text) in message  # the error quotes the expression


@pytest.mark.parametrize("text", ["4294967296", "SND.NXT + 0x100000000", "DATA * 99999999999999999999"])
def test_a_literal_is_a_32_bit_number(scope, text):
    assert "is out of range (0 to 4294967295, a 32-bit number)" in error_of(text, scope)
    assert typ("SND.NXT + 4294967295", scope) == ex.SEQ and typ("0xffffffff", scope) == ex.LIT


def test_a_definition_graph_is_measured_written_out(scope):
    """Definitions are shared nodes: their written-out size is counted without writing them out."""
    node = ex.parse("SND.NXT == RCV.NXT", scope)
    for name in ("D1", "D2", "D3"):
        scope.add(name, ex.BOOL, "def", node)
        node = ex.parse(f"{name} and {name}", scope)
    assert ex.expanded_size(node) == (2 * (2 * (2 * 3 + 1) + 1) + 1, 5)
    for _ in range(12):  # D4 ... D15 would each double it again: refused once beyond MAX_TERMS
        scope.add("D", ex.BOOL, "def", node)
        try:
            node = ex.parse("D and D", scope)
        except InputError as exc:
            assert f"at most {ex.MAX_TERMS:,} are allowed" in str(exc)
            break
    else:
        raise AssertionError("a doubling chain of definitions was never refused")


def test_evaluate_interprets_a_closed_expression():
    scope = ex.Scope()
    for name in ("MSL", "RTO"):
        scope.add(name, ex.INT, "env")
    for text, value in (("2 * MSL", 4), ("3 * RTO - MSL", 1), ("if(MSL > RTO, MSL, RTO)", 2), ("min(MSL, RTO) + max(MSL, 7)", 8), ("-MSL", -2)):
        assert ex.evaluate(ex.parse(text, scope), {"MSL": 2, "RTO": 1}) == value, text


def test_timer_is_not_a_value(scope):
    message = error_of("RETRANSMISSION", scope)
    assert "is a timer" in message and "restart(RETRANSMISSION)" in message


def test_primes_refused_by_default(scope):
    message = error_of("RCV.NXT' + 1", scope)
    assert "primed name (RCV.NXT')" in message
    assert "only in send fields" in message


def test_primes_allowed_when_asked(scope):
    node = ex.parse("RCV.NXT' + 1", scope, allow_primes=True)
    assert node.type == ex.SEQ
    assert node.args[0].primed is True
    assert ex.names_in(node) == {("RCV.NXT", True)}


def test_only_variables_can_be_primed(scope):
    message = error_of("SEG.SEQ'", scope, allow_primes=True)
    assert "only endpoint variables can be primed" in message
    message = error_of("DATA'", scope, allow_primes=True)
    assert "only endpoint variables can be primed" in message


def test_definitions_cannot_be_primed(scope):
    definition = ex.parse("SND.NXT + 1", scope)
    scope.add("NEXT", ex.SEQ, "def", definition)
    assert "cannot be primed" in error_of("NEXT'", scope, allow_primes=True)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("SND.NXT SND.UNA", "unexpected 'SND.UNA'"),
        ("1 2", "unexpected '2'"),
        ("SYN)", "unexpected ')'"),
        ("DATA + 1 ,", "unexpected ','"),
    ],
)
def test_trailing_garbage(scope, text, needle):
    message = error_of(text, scope)
    assert needle in message
    assert "column" in message


@pytest.mark.parametrize(
    "text, needle",
    [
        ("(SND.NXT + 1", "expected ')' but found the end"),
        ("((SYN)", "expected ')' but found the end"),
        ("seq_lt(SND.UNA, SND.NXT", "expected ')' but found the end"),
        ("()", "expected a value but found ')'"),
        (")", "expected a value but found ')'"),
        ("", "expected a value but found the end"),
        ("DATA +", "expected a value but found the end"),
        ("seq_lt SND.UNA", "unexpected 'SND.UNA'"),
    ],
)
def test_unbalanced_and_incomplete(scope, text, needle):
    assert needle in error_of(text, scope)


@pytest.mark.parametrize(
    "text, char",
    [("DATA $ 1", "$"), ("SND.NXT[0]", "["), ("DATA / 2", "/"), ("a.__class__ ; 1", ";"), ("DATA @ 1", "@"), ('"x"', '"')],
)
def test_unexpected_character(scope, text, char):
    message = error_of(text, scope)
    assert f"unexpected character {char!r}" in message


def test_unexpected_character_reports_column(scope):
    message = error_of("DATA $ 1", scope)
    assert "unexpected character '$' at column 6" in message


def test_single_equals_is_not_comparison(scope):
    message = error_of("DATA = 1", scope)
    assert "unexpected '='" in message


@pytest.mark.parametrize("value", [None, 1, ["SYN"], {"a": 1}, True])
def test_non_string_input(scope, value):
    message = error_of(value, scope)
    assert "expected an expression string" in message


# ---------------------------------------------------------------- code generation


def resolver(values):
    def resolve(name, primed, state=False):
        if state:
            return repr(name)
        key = name + "'" if primed else name
        return repr(values[key])

    return resolve


GLOBALS = {"__builtins__": {}, **seqnum.RUNTIME}


def evaluate(text, scope, values, **kw):
    node = ex.parse(text, scope, **kw)
    source = ex.to_python(node, resolver(values))
    code = compile(source, "<expr>", "eval")
    return eval(code, dict(GLOBALS))


BASE = {
    "SND.UNA": 4294967295,
    "SND.NXT": 0,
    "RCV.NXT": 4294967294,
    "PASSIVE": False,
    "STATE": "TIME-WAIT",
    "DATA": 3,
    "RCV.WND": 4,
    "SEG.SEQ": 1,
    "SEG.LEN": 2,
    "SYN": True,
    "ACK": False,
}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("SND.UNA + 1", 0),  # 4294967295 + 1 wraps to 0
        ("SND.UNA + 1 == 0", True),
        ("SND.UNA + 1 == SND.NXT", True),
        ("SND.NXT - 1", 4294967295),
        ("SND.NXT-1", 4294967295),
        ("SND.NXT - SND.UNA", 1),  # signed distance across the wrap
        ("SND.UNA - SND.NXT", -1),
        ("RCV.NXT + DATA", 1),
        ("SND.UNA + 4294967295", 4294967294),  # the largest literal: wraps
        ("DATA + 4294967295", 4294967298),  # plain ints do not wrap
        ("DATA - 5", -2),
        ("-DATA", -3),
        ("2 * DATA + 1", 7),
        ("seq_lt(SND.UNA, SND.NXT)", True),  # across the wrap point
        ("SND.UNA < SND.NXT", False),  # the raw comparison gets it wrong
        ("seq_gt(SND.NXT, SND.UNA)", True),
        ("seq_le(SND.NXT, SND.NXT)", True),
        ("seq_ge(SND.UNA, SND.NXT)", False),
        ("in_window(SEG.SEQ, RCV.NXT, RCV.WND)", True),  # window 4294967294..1
        ("in_window(SEG.SEQ + SEG.LEN - 1, RCV.NXT, RCV.WND)", False),
        ("in_window(SEG.SEQ, RCV.NXT, 3)", False),
        ("min(DATA, 2)", 2),
        ("max(DATA, 2)", 3),
        ("min(DATA, RCV.WND)", 3),
        ("if(SYN, SND.UNA, SND.NXT)", 4294967295),
        ("if(ACK, SND.UNA, SND.NXT)", 0),
        ("STATE == TIME-WAIT", True),
        ("STATE != TIME-WAIT", False),
        ("STATE == CLOSED", False),
        ("SYN and not ACK", True),
        ("ACK or PASSIVE", False),
        ("not (SYN and ACK) and DATA >= 3", True),
        ("0x10 + DATA", 19),
    ],
)
def test_to_python_values(scope, text, expected):
    result = evaluate(text, scope, BASE)
    assert result == expected
    assert type(result) is type(expected)


def test_to_python_primed_names(scope):
    values = dict(BASE, **{"SND.NXT'": 7})
    assert evaluate("SND.NXT' + 1", scope, values, allow_primes=True) == 8
    assert evaluate("SND.NXT + 1", scope, values, allow_primes=True) == 1


def test_generated_code_needs_no_builtins(scope):
    texts = [
        "min(DATA, 2) + max(DATA, 1)",
        "if(seq_lt(SND.UNA, SND.NXT), SND.NXT - SND.UNA, 0)",
        "seq_le(SND.UNA, SND.NXT) and seq_ge(SND.NXT, SND.UNA) and seq_gt(SND.NXT, SND.UNA)",
        "in_window(SEG.SEQ, RCV.NXT, RCV.WND)",
    ]
    for text in texts:
        source = ex.to_python(ex.parse(text, scope), resolver(BASE))
        code = compile(source, "<expr>", "eval")
        # Only the runtime helpers may be referenced.
        assert set(code.co_names) <= set(seqnum.RUNTIME), (text, code.co_names)
        eval(code, dict(GLOBALS))


# Property: seq arithmetic compiled from the expression language matches the seqnum functions.

u32 = st.integers(min_value=0, max_value=2**32 - 1)


@given(u32, u32, st.integers(min_value=0, max_value=2**31 - 1), st.integers(min_value=1, max_value=2**31 - 1))
@settings(max_examples=150, deadline=None)
def test_compiled_matches_seqnum(una, nxt, data, wnd):
    scope = make_scope()
    values = dict(BASE, **{"SND.UNA": una, "SND.NXT": nxt, "DATA": data, "RCV.WND": wnd})
    assert evaluate("SND.UNA + DATA", scope, values) == seqnum.seq_add(una, data)
    assert evaluate("SND.UNA - DATA", scope, values) == seqnum.seq_add(una, -data)
    assert evaluate("SND.NXT - SND.UNA", scope, values) == seqnum.seq_diff(nxt, una)
    assert evaluate("seq_lt(SND.UNA, SND.NXT)", scope, values) == seqnum.seq_lt(una, nxt)
    assert evaluate("seq_le(SND.UNA, SND.NXT)", scope, values) == seqnum.seq_le(una, nxt)
    assert evaluate("seq_gt(SND.UNA, SND.NXT)", scope, values) == seqnum.seq_gt(una, nxt)
    assert evaluate("seq_ge(SND.UNA, SND.NXT)", scope, values) == seqnum.seq_ge(una, nxt)
    assert evaluate("in_window(SND.NXT, SND.UNA, RCV.WND)", scope, values) == seqnum.in_window(nxt, una, wnd)
    assert evaluate("SND.UNA + (SND.NXT - SND.UNA) == SND.NXT", scope, values) is True
