"""The spec's expressions as Promela expressions over 32-bit machine integers.

Promela's ``int`` is a signed 32-bit C ``int``; a sequence number is kept as its 32-bit pattern
(4294967294 is held as -2). With two's complement wrapping (``gcc -fwrapv``, which the export's
header and the benchmark pass: without it C may assume ``b - a > 0`` means ``b > a``), the
operators of base/seqnum.py become single machine operations:

- ``seq + n``, ``seq - n`` and ``seq - seq`` (the signed distance in [-2**31, 2**31)) are plain
  ``+`` and ``-``: wrapping modulo 2**32 is what the 32-bit pattern does;
- ``seq_lt(a, b)`` (RFC 1982, false at distance 2**31) is ``b - a > 0``: the distance 2**31
  wraps to the most negative int; ``seq_le(a, b)`` is ``b - a >= 0``;
- ``in_window(x, l, n)`` (``(x - l) mod 2**32 < n`` with ``0 <= n < 2**31``) is
  ``x - l >= 0 && x - l < n``;
- a raw ``<`` on two sequence numbers compares unsigned 32-bit values: both patterns with the
  sign bit flipped (``UNS``) compare as signed ints in the same order.

``int`` expressions are exact while their values fit in 32 bits, as every value a TCP spec of
small numbers computes does; a literal that does not fit is refused.
"""

from __future__ import annotations

from tcpmodel.base.errors import InputError
from tcpmodel.base.seqnum import HALF, MODULUS
from tcpmodel.export.common import int32
from tcpmodel.language import expressions as ex

MACROS = """\
#define INT_MIN (-2147483647 - 1)
#define UNS(x) ((x) ^ INT_MIN)
#define SEQ_LT(a, b) ((b) - (a) > 0)
#define SEQ_LE(a, b) ((b) - (a) >= 0)
#define IN_WINDOW(x, l, n) ((x) - (l) >= 0 && (x) - (l) < (n))"""

CALLS = {
    "seq_lt": "SEQ_LT({0}, {1})",
    "seq_le": "SEQ_LE({0}, {1})",
    "seq_gt": "SEQ_LT({1}, {0})",
    "seq_ge": "SEQ_LE({1}, {0})",
    "in_window": "IN_WINDOW({0}, {1}, {2})",
    "min": "({0} <= {1} -> {0} : {1})",
    "max": "({0} >= {1} -> {0} : {1})",
    "if": "({0} -> {1} : {2})",
}


def literal(value: int) -> str:
    """A 32-bit pattern as Promela source (the most negative int has no literal of its own)."""
    value = int32(value)
    return "INT_MIN" if value == -HALF else str(value)


def translate(node: ex.Node, resolve: ex.Resolve, seq: bool = False) -> str:
    """Promela source for ``node``; ``resolve(name, primed)`` gives the source of a name and
    ``resolve(name, False, state=True)`` the number of a state. ``seq``: the value is used as a
    sequence number, so a literal may be any 32-bit pattern."""
    k = node.kind
    if k == "int":
        if not -HALF <= node.number < (MODULUS if seq else HALF):
            raise InputError(f"the literal {node.value} does not fit in a 32-bit int: the Promela export cannot hold it")
        return literal(node.number)
    if k == "bool":
        return "1" if node.value else "0"
    if k == "state":
        return resolve(node.text, False, state=True)
    if k == "name":
        return resolve(node.text, node.primed)
    wide = node.type == ex.SEQ or (k in ("binop", "call") and any(a.type == ex.SEQ for a in node.args))
    src = [translate(a, resolve, wide) for a in node.args]
    if k == "and":
        return f"({src[0]} && {src[1]})"
    if k == "or":
        return f"({src[0]} || {src[1]})"
    if k == "not":
        return f"(!{src[0]})"
    if k == "neg":
        return f"(-{src[0]})"
    if k == "call":
        return CALLS[node.text].format(*src)
    a, b = node.args
    op = node.value
    if op in ("<", "<=", ">", ">=", "==", "!=") and ex.SEQ in (a.type, b.type):
        for side in (a, b):
            if side.kind == "int" and not 0 <= side.number < MODULUS:
                raise InputError(f"a sequence number compared with {side.value}, which is no 32-bit sequence number: the Promela export cannot say it")
        if op not in ("==", "!="):
            return f"(UNS({src[0]}) {op} UNS({src[1]}))"
    return f"({src[0]} {op} {src[1]})"
