"""Tests of sequence-number arithmetic (RFC 9293 §3.4, RFC 1982 §3.2) and its inline templates,
and that no other module of the package does 32-bit arithmetic of its own."""

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpmodel.base import seqnum
from tcpmodel.base.seqnum import (
    HALF,
    MASK,
    MODULUS,
    in_window,
    seq_add,
    seq_diff,
    seq_ge,
    seq_gt,
    seq_le,
    seq_lt,
    seq_sub,
    signed,
    wrap,
)

u32 = st.integers(min_value=0, max_value=MASK)
# Distances that stress the edges of the half-space as well as random ones.
distances = st.one_of(
    st.integers(min_value=0, max_value=MASK),
    st.sampled_from([0, 1, 2, HALF - 2, HALF - 1, HALF, HALF + 1, HALF + 2, MASK - 1, MASK]),
)


# ---------------------------------------------------------------- constants and plain examples


def test_constants():
    assert MODULUS == 2**32
    assert MASK == 2**32 - 1
    assert HALF == 2**31


@pytest.mark.parametrize(
    "a, n, expected",
    [
        (0, 0, 0),
        (5, 3, 8),
        (MASK, 1, 0),
        (MASK, 2, 1),
        (MASK - 1, 5, 3),
        (0, -1, MASK),
        (3, -5, MASK - 1),
        (0, MODULUS, 0),
        (7, 3 * MODULUS + 2, 9),
        (4294967294, 4, 2),
    ],
)
def test_seq_add_wraps(a, n, expected):
    assert seq_add(a, n) == expected


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (5, 3, 2),
        (3, 5, -2),
        (0, MASK, 1),
        (MASK, 0, -1),
        (1, MASK - 1, 3),
        (0, HALF, -HALF),  # exactly half way: the signed distance is the most negative value
        (HALF, 0, -HALF),
        (HALF - 1, 0, HALF - 1),
        (0, HALF - 1, -(HALF - 1)),
        (0, HALF + 1, HALF - 1),
        (42, 42, 0),
    ],
)
def test_seq_diff_examples(a, b, expected):
    assert seq_diff(a, b) == expected


@pytest.mark.parametrize(
    "a, b",
    [
        (0, 1),
        (1, 2),
        (MASK, 0),  # across the wrap point
        (MASK - 3, 2),
        (0, HALF - 1),  # the farthest b that is still greater
        (HALF, MASK),
        (HALF + 1, 0),
    ],
)
def test_seq_lt_examples(a, b):
    assert seq_lt(a, b)
    assert not seq_lt(b, a)
    assert seq_le(a, b) and not seq_le(b, a)
    assert seq_gt(b, a) and not seq_gt(a, b)
    assert seq_ge(b, a) and not seq_ge(a, b)


def test_seq_lt_is_not_the_plain_comparison():
    # The raw values say MASK > 0, but in sequence space 0 comes right after MASK.
    assert MASK > 0
    assert seq_lt(MASK, 0)
    assert not seq_lt(0, MASK)


def test_seq_lt_irreflexive_and_le_reflexive():
    for a in (0, 1, HALF, MASK):
        assert not seq_lt(a, a)
        assert not seq_gt(a, a)
        assert seq_le(a, a)
        assert seq_ge(a, a)


@pytest.mark.parametrize("a", [0, 1, 12345, HALF - 1, HALF, HALF + 1, MASK])
def test_distance_half_is_incomparable(a):
    b = seq_add(a, HALF)
    assert (b - a) % MODULUS == HALF
    assert not seq_lt(a, b)
    assert not seq_lt(b, a)
    assert not seq_gt(a, b) and not seq_gt(b, a)
    assert not seq_le(a, b) and not seq_le(b, a)
    assert not seq_ge(a, b) and not seq_ge(b, a)


def test_in_window_examples():
    assert in_window(10, 10, 1)
    assert not in_window(11, 10, 1)
    assert not in_window(9, 10, 5)
    assert in_window(14, 10, 5)
    assert not in_window(15, 10, 5)
    assert not in_window(10, 10, 0)  # an empty window holds nothing
    # A window that straddles the wrap point.
    assert in_window(MASK, MASK - 1, 4)
    assert in_window(0, MASK - 1, 4)
    assert in_window(1, MASK - 1, 4)
    assert not in_window(2, MASK - 1, 4)
    assert not in_window(MASK - 2, MASK - 1, 4)


# ---------------------------------------------------------------- properties


@given(u32, st.integers(min_value=-(2**40), max_value=2**40))
def test_seq_add_is_addition_mod_2_32(a, n):
    r = seq_add(a, n)
    assert 0 <= r <= MASK
    assert r == (a + n) % MODULUS


@given(u32, u32)
def test_seq_diff_range_and_inverse(a, b):
    d = seq_diff(a, b)
    assert -HALF <= d < HALF
    assert (d - (a - b)) % MODULUS == 0
    assert seq_add(b, d) == a


@given(u32, u32)
def test_antisymmetry(a, b):
    assert not (seq_lt(a, b) and seq_lt(b, a))


@given(u32, distances)
def test_totality_except_at_half(a, d):
    b = (a + d) % MODULUS
    facts = [a == b, seq_lt(a, b), seq_lt(b, a)]
    if (b - a) % MODULUS == HALF:
        assert facts == [False, False, False]
    else:
        assert facts.count(True) == 1


@given(u32, st.integers(min_value=1, max_value=HALF - 1))
def test_a_lt_a_plus_n(a, n):
    b = seq_add(a, n)
    assert seq_lt(a, b)
    assert not seq_lt(b, a)
    assert seq_diff(b, a) == n


@given(u32, st.integers(min_value=HALF + 1, max_value=MODULUS - 1))
def test_a_plus_far_n_is_before_a(a, n):
    # Moving forward more than half the space lands "before" a.
    assert seq_lt(seq_add(a, n), a)


@given(u32, u32, st.integers(min_value=0, max_value=HALF - 1))
def test_in_window_matches_definition(x, left, size):
    assert in_window(x, left, size) == (((x - left) % MODULUS) < size)


@given(u32, st.integers(min_value=0, max_value=HALF - 1), st.integers(min_value=1, max_value=HALF - 1))
def test_in_window_from_offset(left, offset, size):
    x = seq_add(left, offset)
    assert in_window(x, left, size) == (offset < size)
    # Inside a non-empty window means left =< x and, x < left + size.
    if in_window(x, left, size):
        assert seq_le(left, x)
        assert seq_lt(x, seq_add(left, size))


@given(u32, distances)
def test_le_gt_ge_consistent_with_lt(a, d):
    b = (a + d) % MODULUS
    assert seq_le(a, b) == (a == b or seq_lt(a, b))
    assert seq_gt(a, b) == seq_lt(b, a)
    assert seq_ge(a, b) == (a == b or seq_lt(b, a))
    assert seq_ge(a, b) == seq_le(b, a)
    assert seq_gt(a, b) == (seq_ge(a, b) and a != b)


@given(u32, distances)
def test_lt_matches_rfc1982_definition(a, d):
    b = (a + d) % MODULUS
    rfc = (a < b and b - a < HALF) or (a > b and a - b > HALF)
    assert seq_lt(a, b) == rfc


@given(u32, st.integers(min_value=-(HALF - 1), max_value=HALF - 1))
def test_lt_matches_sign_of_diff(a, d):
    b = seq_add(a, d)
    assert seq_lt(a, b) == (seq_diff(b, a) > 0)


# ---------------------------------------------------------------- inline templates


def run(template_name, *args):
    source = seqnum.INLINE[template_name].format(*(str(a) for a in args))
    return eval(source, {"__builtins__": {}, **seqnum.RUNTIME})


def test_inline_has_the_expected_templates():
    assert set(seqnum.INLINE) == {"wrap", "seq_add", "seq_sub", "seq_diff", "seq_lt", "seq_le", "seq_gt", "seq_ge", "in_window"}
    assert set(seqnum.RUNTIME) == {"_seq_lt", "_seq_le"}


@given(u32, st.integers(min_value=0, max_value=MASK))
@settings(max_examples=200)
def test_inline_add_sub_diff(a, n):
    assert run("seq_add", a, n) == seq_add(a, n)
    assert run("seq_sub", a, n) == seq_add(a, -n) == seq_sub(a, n)
    assert run("wrap", a + n) == wrap(a + n) == seq_add(a, n)
    assert run("seq_diff", a, n) == seq_diff(a, n)


@given(u32, distances)
@settings(max_examples=200)
def test_inline_comparisons(a, d):
    b = (a + d) % MODULUS
    assert run("seq_lt", a, b) is seq_lt(a, b)
    assert run("seq_le", a, b) is seq_le(a, b)
    assert run("seq_gt", a, b) is seq_gt(a, b)
    assert run("seq_ge", a, b) is seq_ge(a, b)


@given(u32, u32, st.integers(min_value=0, max_value=HALF - 1))
@settings(max_examples=200)
def test_inline_in_window(x, left, size):
    assert run("in_window", x, left, size) is in_window(x, left, size)


@given(u32, u32)
def test_inline_with_expression_operands(a, b):
    # Operands are arbitrary source text: the templates must parenthesise them.
    source = seqnum.INLINE["seq_sub"].format(f"{a} + 0", f"{b} * 1")
    assert eval(source, {"__builtins__": {}, **seqnum.RUNTIME}) == seq_add(a, -b)
    source = seqnum.INLINE["seq_diff"].format(f"{a} - 0", f"{b} + 0")
    assert eval(source, {"__builtins__": {}, **seqnum.RUNTIME}) == seq_diff(a, b)


def test_inline_known_values():
    assert run("seq_add", MASK, 1) == 0
    assert run("seq_sub", 0, 1) == MASK
    assert run("seq_diff", 0, MASK) == 1
    assert run("seq_lt", MASK, 0) is True
    assert run("seq_lt", 0, HALF) is False
    assert run("seq_lt", HALF, 0) is False
    assert run("in_window", 0, MASK, 2) is True


# ---------------------------------------------------------------- span and representatives


def test_span_examples():
    assert seqnum.span([]) == seqnum.span([5]) == 0
    assert seqnum.span([1000, 1004, 1002]) == 4
    assert seqnum.span([MASK - 1, 3]) == 5  # across the wrap, the short way round
    assert seqnum.span([0, HALF]) == HALF


@given(st.lists(u32, min_size=1, max_size=8), u32)
def test_span_does_not_change_under_a_shift(values, shift):
    assert seqnum.span(values) == seqnum.span([(v + shift) & MASK for v in values])


@given(st.lists(u32, min_size=2, max_size=8))
def test_span_is_at_least_every_short_distance(values):
    s = seqnum.span(values)
    assert all(min((a - b) & MASK, (b - a) & MASK) <= s for a in values for b in values)


def test_representatives_meet_each_anchor_and_the_window_edges():
    values = seqnum.representatives([1000], 4, 0)
    assert values == (0, 999, 1000, 1001, 1003, 1004, 1005, 1000 + HALF)
    assert seqnum.representatives([MASK], 4, 7)[:4] == (0, 2, 3, 4)  # wraps


@given(u32, u32)
def test_sub_is_the_forward_distance_and_signed_the_twos_complement(a, b):
    assert seq_add(b, seq_sub(a, b)) == a and 0 <= seq_sub(a, b) < MODULUS
    assert seq_sub(a, b) == seq_diff(a, b) % MODULUS
    assert -HALF <= signed(a) < HALF and signed(a) % MODULUS == a
    assert wrap(a - MODULUS) == a == wrap(a + 3 * MODULUS)


def test_signed_examples():
    assert (signed(0), signed(HALF - 1), signed(HALF), signed(MASK - 1), signed(-2)) == (0, HALF - 1, -HALF, -2, -2)


# ---------------------------------------------------------------- no 32-bit arithmetic elsewhere

PACKAGE = Path(seqnum.__file__).parent.parent
WIDE = {2**32 - 1, 2**32}  # the 32-bit mask and modulus, however they are written
# Allowed: 32-bit halves of 64-bit numpy sort keys and the hash table's empty marker, which hold
# state and edge numbers, not sequence numbers. (file, line as written).
NOT_SEQUENCE_NUMBERS = {
    ("engine/inttable.py", "EMPTY_SLOT = np.uint32(0xFFFFFFFF)"),
    ("engine/inttable.py", "numbers = (ordered & np.uint64(0xFFFFFFFF)).astype(np.uint32)"),
    ("engine/graph.py", "edges = (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)"),
    ("checking/packed.py", "return np.stack((keys >> 32, keys & 0xFFFFFFFF), axis=1)"),
    ("traces/pcap.py", "high, low = divmod(time, 1 << 32)  # a timestamp: pcapng writes its high 32 bits first"),
}


def wide_arithmetic(source: str) -> list[int]:
    """The lines of ``source`` that hold a 32-bit mask or modulus (0xFFFFFFFF, 2**32, 1 << 32, in
    any spelling) or mask or reduce by seqnum's MASK or MODULUS (``& MASK``, ``% MODULUS``)."""
    def number(node, value) -> bool:
        return isinstance(node, ast.Constant) and type(node.value) is int and node.value == value

    def wide(node) -> bool:
        if isinstance(node, ast.Constant):
            return type(node.value) is int and node.value in WIDE
        if not isinstance(node, ast.BinOp):
            return False
        if isinstance(node.op, ast.Pow):
            return number(node.left, 2) and number(node.right, 32)
        if isinstance(node.op, ast.LShift):
            return number(node.left, 1) and number(node.right, 32)
        names = {getattr(n, "id", getattr(n, "attr", None)) for n in (node.left, node.right)}
        return isinstance(node.op, (ast.BitAnd, ast.Mod)) and bool(names & {"MASK", "MODULUS"})

    return sorted({node.lineno for node in ast.walk(ast.parse(source)) if wide(node)})


def test_the_scan_finds_32_bit_arithmetic():
    source = "a = (x + 1) & 0xFFFFFFFF\nb = y % 2**32\nc = z & MASK\nd = w % seqnum.MODULUS\ne = (1 << 32) - 1\nf = 4294967296\ng = x & 0xFFFF\n"
    assert wide_arithmetic(source) == [1, 2, 3, 4, 5, 6]


def test_sequence_arithmetic_is_only_in_seqnum():
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name == "base/seqnum.py":
            continue
        text = path.read_text(encoding="utf-8")
        source = text.splitlines()
        found |= {(name, source[n - 1].strip()) for n in wide_arithmetic(text)}
    assert found - NOT_SEQUENCE_NUMBERS == set(), "32-bit arithmetic outside seqnum: use seq_add, seq_sub, wrap, ..."
    assert NOT_SEQUENCE_NUMBERS <= found  # the allowance names lines that are still there
