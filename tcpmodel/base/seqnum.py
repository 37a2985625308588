"""Sequence-number arithmetic: the one place that compares or moves 32-bit sequence numbers.

RFC 9293 §3.4: "all arithmetic dealing with sequence numbers must be performed modulo 2**32".
The comparison follows RFC 1982 §3.2 (serial number arithmetic with SERIAL_BITS = 32):

    s1 < s2  iff  (s1 < s2 and s2 - s1 < 2**31) or (s1 > s2 and s1 - s2 > 2**31)

so two numbers exactly 2**31 apart are incomparable (neither is less than the other).

Every other module either calls these functions or, in the expression compiler, inlines the
Python source templates defined here (``INLINE``), so the definitions exist once in Python;
``tests/test_seqnum.py`` scans the package for 32-bit masks and moduli anywhere else.
The Z3 module restates the same definitions on 32-bit bit-vectors and proves them equivalent.
"""

from itertools import pairwise

MODULUS = 1 << 32
MASK = MODULUS - 1
HALF = 1 << 31


def wrap(x: int) -> int:
    """x as a sequence number: x modulo 2**32."""
    return x & MASK


def seq_add(a: int, n: int) -> int:
    """a + n in sequence space (n may be negative)."""
    return (a + n) & MASK


def seq_sub(a: int, b: int) -> int:
    """a - b in sequence space: how far b lies behind a going forward, in [0, 2**32)."""
    return (a - b) & MASK


def seq_diff(a: int, b: int) -> int:
    """The signed distance a - b, in [-2**31, 2**31)."""
    return ((a - b + HALF) & MASK) - HALF


def signed(x: int) -> int:
    """The 32-bit pattern of x as a two's-complement number, in [-2**31, 2**31): what a 32-bit
    machine integer holds (4294967294 is -2)."""
    return seq_diff(x, 0)


def seq_lt(a: int, b: int) -> bool:
    """a < b in sequence space (RFC 1982 §3.2); false at distance exactly 2**31."""
    return a != b and ((b - a) & MASK) < HALF


def seq_le(a: int, b: int) -> bool:
    return a == b or seq_lt(a, b)


def seq_gt(a: int, b: int) -> bool:
    return seq_lt(b, a)


def seq_ge(a: int, b: int) -> bool:
    return a == b or seq_lt(b, a)


def in_window(x: int, left: int, size: int) -> bool:
    """left =< x < left + size in sequence space (RFC 9293 §3.4's window tests); size < 2**31."""
    return ((x - left) & MASK) < size


def relative_offsets(window: int) -> tuple[int, ...]:
    """Offsets from a sequence number that meet every region a window test or comparison can
    tell apart: the number itself, just above and below, the window's last octet and beyond, and
    the incomparable point 2**31 away. ``representatives`` and the Z3 obligation
    ``absolute_seq.*`` (which proves the choice complete for a spec) use the same offsets."""
    return tuple(sorted({0, 1, MASK, window - 1 & MASK, window & MASK, window + 1 & MASK, HALF}))


def representatives(anchors, window: int, literal: int) -> tuple[int, ...]:
    """A segment's SEQ seen from a connection it has no relation to (an absolute <SEQ=0>): one
    value per region around each anchor (the receiver's sequence numbers), and the literal."""
    offsets = relative_offsets(window)
    return tuple(sorted({(a + d) & MASK for a in anchors for d in offsets} | {literal & MASK}))


def span(values) -> int:
    """The length of the shortest arc of the sequence-number circle holding every value: the
    largest distance between two of them, measured the short way round (0 for one value)."""
    ordered = sorted({v & MASK for v in values})
    if len(ordered) < 2:
        return 0
    gaps = [b - a for a, b in pairwise(ordered)] + [ordered[0] + MODULUS - ordered[-1]]
    return MODULUS - max(gaps)


# Python source templates used by the expression compiler; {0}, {1}, {2} are operand sources.
INLINE = {
    "wrap": "({0} & 4294967295)",
    "seq_add": "(({0} + {1}) & 4294967295)",
    "seq_sub": "(({0} - {1}) & 4294967295)",
    "seq_diff": "((({0} - {1} + 2147483648) & 4294967295) - 2147483648)",
    "seq_lt": "_seq_lt({0}, {1})",
    "seq_le": "_seq_le({0}, {1})",
    "seq_gt": "_seq_lt({1}, {0})",
    "seq_ge": "_seq_le({1}, {0})",
    "in_window": "((({0} - {1}) & 4294967295) < {2})",
}

# The helpers the generated code may call (and nothing else: generated code has no builtins).
RUNTIME = {"_seq_lt": seq_lt, "_seq_le": seq_le}
