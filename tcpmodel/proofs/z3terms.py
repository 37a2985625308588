"""Spec expressions and rules as Z3 terms: the bit-vector reading of the expression language.

Sorts, chosen so that a term means exactly what the generated Python code computes:

- ``seq``: ``BitVec(32)``. ``seq + int`` and ``seq - int`` wrap modulo 2**32 (bvadd, bvsub);
  ``seq - seq`` is bvsub read as a signed number, the signed distance of ``seqnum.seq_diff``.
- ``int``: also ``BitVec(32)``, read as a SIGNED two's-complement number, so ``<`` between ints
  is the signed comparison. Ints in specs are small lengths and distances (SEG.LEN, DATA,
  RCV.WND, ``seq - seq``); the Python code uses unbounded ints, so the two readings agree while
  every int stays in [-2**31, 2**31). ``DOMAIN`` states the bounds the obligations assume.
- ``bool``: Z3 ``Bool``.
- ``state``: ``BitVec(8)``; a state literal is its index in ``spec.states``, as in the TCB tuple.
- integer literals: ``BitVecVal`` modulo 2**32 (the code generator compares a literal with a
  sequence number raw; the two agree for every literal in [0, 2**32), the only ones a spec writes
  where a sequence number is expected).

A plain ``<``, ``<=``, ``>``, ``>=`` with a sequence-number operand is the raw unsigned comparison
(ULT, ULE, UGT, UGE), exactly what Python does with two numbers in [0, 2**32). That is the naive
comparison bug: the prover refutes translation invariance of a rule that uses it.

``seq_lt``, ``seq_le`` and ``in_window`` are defined once here, on bit-vectors, and the compiler
uses these same functions, so the serial-number lemmas are about the definitions rules use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import z3

from tcpmodel.base.seqnum import HALF, wrap
from tcpmodel.language import expressions as ex
from tcpmodel.language.spec import Rule, Spec

WIDTH = 32
STATE_WIDTH = 8
FLAGS = ("SYN", "ACK", "FIN", "RST")
SEGMENT_VALUES = ("SEG.SEQ", "SEG.ACK", "SEG.DATA", "SEG.WND")
SIGNED_INPUTS = ("SEG.DATA", "SEG.WND", "DATA")
# Largest data length assumed: SEG.LEN = SEG.DATA + SYN + FIN then stays below 2**31.
MAX_DATA = HALF - 3
DOMAIN = "0 <= SEG.DATA, DATA <= 2**31 - 3 (so SEG.LEN < 2**31); 0 <= SEG.WND"


# ---------------------------------------------------------------- shared definitions


def bv(value: int) -> z3.BitVecRef:
    """A 32-bit literal; negative values are taken modulo 2**32."""
    return z3.BitVecVal(wrap(value), WIDTH)


def state_value(index: int) -> z3.BitVecRef:
    return z3.BitVecVal(index, STATE_WIDTH)


def seq_lt(a, b) -> z3.BoolRef:
    """RFC 1982 a < b: a != b and (b - a) mod 2**32 < 2**31 (``seqnum.seq_lt``)."""
    return z3.And(a != b, z3.ULT(b - a, HALF))


def seq_le(a, b) -> z3.BoolRef:
    return z3.Or(a == b, seq_lt(a, b))


def in_window(x, left, size) -> z3.BoolRef:
    """(x - left) mod 2**32 < size, with ``size`` a signed int (false when size <= 0, as in Python)."""
    return z3.And(size > 0, z3.ULT(x - left, size))


def concrete(value: z3.ExprRef, signed: bool = False) -> int | bool:
    """The Python value of a constant term (bit-vectors as unsigned, or signed when asked)."""
    if z3.is_bool(value):
        return z3.is_true(value)
    number = value.as_long()
    if signed and number >= 1 << (value.size() - 1):
        number -= 1 << value.size()
    return number


# ---------------------------------------------------------------- the compiler

_UNSIGNED = {"<": z3.ULT, "<=": z3.ULE, ">": z3.UGT, ">=": z3.UGE}
_SIGNED = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
_ARITHMETIC = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}
_CALLS = {
    "seq_lt": seq_lt,
    "seq_le": seq_le,
    "seq_gt": lambda a, b: seq_lt(b, a),
    "seq_ge": lambda a, b: seq_le(b, a),
    "in_window": in_window,
    "min": lambda a, b: z3.If(a <= b, a, b),
    "max": lambda a, b: z3.If(a >= b, a, b),
    "if": z3.If,
}


class Z3Context:
    """Compiles checked expression ``Node``s to Z3 terms.

    ``names`` gives the term of every name an expression may read (TCB variables, ``STATE``,
    segment fields, flags, environment, constants); ``primed`` gives post-state values for
    ``NAME'``; ``states`` are the spec's state names (a state literal is its index).
    """

    def __init__(self, states: tuple[str, ...], names: Mapping[str, z3.ExprRef], primed: Mapping[str, z3.ExprRef] | None = None):
        self.states = states
        self.names = names
        self.primed = primed or {}

    def term(self, node: ex.Node) -> z3.ExprRef:
        kind = node.kind
        if kind == "int":
            return bv(node.number)
        if kind == "bool":
            return z3.BoolVal(node.value)
        if kind == "state":
            return state_value(self.states.index(node.text))
        if kind == "name":
            return self._name(node)
        args = [self.term(a) for a in node.args]
        if kind == "and":
            return z3.And(*args)
        if kind == "or":
            return z3.Or(*args)
        if kind == "not":
            return z3.Not(args[0])
        if kind == "neg":
            return -args[0]
        if kind == "call":
            return _CALLS[node.text](*args)
        return self._binop(node, args)

    def _name(self, node: ex.Node) -> z3.ExprRef:
        table = self.primed if node.primed else self.names
        if node.text not in table:
            mark = "'" if node.primed else ""
            raise KeyError(f"no Z3 term given for {node.value}{mark}")
        return table[node.text]

    def _binop(self, node: ex.Node, args: list[z3.ExprRef]) -> z3.ExprRef:
        op, (a, b) = node.text, args
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op in _ARITHMETIC:
            return _ARITHMETIC[op](a, b)
        raw = ex.SEQ in (node.args[0].type, node.args[1].type)
        return (_UNSIGNED if raw else _SIGNED)[op](a, b)


# ---------------------------------------------------------------- one rule, symbolically


@dataclass(frozen=True)
class Frame:
    """The values a rule reads: TCB variables and ``STATE``, segment fields and flags, environment
    (``ISN``, ``DATA``) and constants. ``SEG.LEN`` is derived: SEG.DATA + SYN + FIN."""

    variables: Mapping[str, z3.ExprRef]
    segment: Mapping[str, z3.ExprRef]
    environment: Mapping[str, z3.ExprRef]
    constants: Mapping[str, z3.ExprRef]

    def names(self) -> dict[str, z3.ExprRef]:
        seg = self.segment
        length = seg["SEG.DATA"] + z3.If(seg["SYN"], bv(1), bv(0)) + z3.If(seg["FIN"], bv(1), bv(0))
        return {**self.constants, **self.environment, **seg, "SEG.LEN": length, **self.variables}

    def inputs(self) -> dict[str, z3.ExprRef]:
        """Every input term by name, in a fixed order (for models and substitutions)."""
        return {**self.variables, **self.segment, **self.environment}


@dataclass(frozen=True)
class Sent:
    """A segment a rule sends: ``ack`` is None without the ACK flag; ``when`` its condition."""

    flags: int
    seq: z3.BitVecRef
    ack: z3.BitVecRef | None
    data: z3.BitVecRef
    when: z3.BoolRef


@dataclass(frozen=True)
class Step:
    """A rule applied to a frame: its guard, the post-state variables, the segments it sends."""

    guard: z3.BoolRef
    post: dict[str, z3.ExprRef]
    sends: tuple[Sent, ...]


def symbolic_frame(spec: Spec, suffix: str = "", state: z3.ExprRef | None = None) -> Frame:
    """Fresh Z3 constants for every input, named after the spec's names (plus ``suffix``)."""
    variables = {v.name: _fresh(v.name + suffix, v.type) for v in spec.variables}
    variables["STATE"] = state if state is not None else z3.BitVec("STATE" + suffix, STATE_WIDTH)
    segment = {n: z3.BitVec(n + suffix, WIDTH) for n in SEGMENT_VALUES}
    segment.update({f: z3.Bool(f + suffix) for f in FLAGS})
    environment = {"ISN": z3.BitVec("ISN" + suffix, WIDTH), "DATA": z3.BitVec("DATA" + suffix, WIDTH)}
    return Frame(variables, segment, environment, constant_terms(spec))


def concrete_frame(spec: Spec, variables: Mapping[str, int], segment: Mapping[str, int], environment: Mapping[str, int]) -> Frame:
    """A frame of literals (``STATE`` as a state index, flags as booleans)."""
    types = {v.name: v.type for v in spec.variables}

    def literal(name: str, value) -> z3.ExprRef:
        if name == "STATE":
            return state_value(value)
        if types.get(name) == ex.BOOL or name in FLAGS:
            return z3.BoolVal(bool(value))
        return bv(value)

    return Frame(
        {n: literal(n, v) for n, v in variables.items()},
        {n: literal(n, v) for n, v in segment.items()},
        {n: literal(n, v) for n, v in environment.items()},
        constant_terms(spec),
    )


def constant_terms(spec: Spec) -> dict[str, z3.ExprRef]:
    return {name: bv(value) for name, value in spec.constants.items()}


def _fresh(name: str, type_: str) -> z3.ExprRef:
    return z3.Bool(name) if type_ == ex.BOOL else z3.BitVec(name, WIDTH)


def initial_value(variable) -> z3.ExprRef:
    return z3.BoolVal(bool(variable.init)) if variable.type == ex.BOOL else bv(variable.init)


def has_tcb(spec: Spec, states: tuple[str, ...], state: z3.ExprRef) -> z3.BoolRef:
    """STATE is one of ``states`` that keeps a TCB (not in ``spec.no_tcb``)."""
    kept = [state == state_value(spec.states.index(s)) for s in states if s not in spec.no_tcb]
    return z3.Or(*kept) if kept else z3.BoolVal(False)


def target_has_tcb(spec: Spec, rule: Rule, state: z3.ExprRef) -> z3.BoolRef:
    """Whether the state after ``rule`` keeps a TCB (a rule without ``to`` stays put)."""
    if rule.to is not None:
        return z3.BoolVal(rule.to not in spec.no_tcb)
    return has_tcb(spec, rule.states, state)


def evaluate_rule(spec: Spec, rule: Rule, frame: Frame) -> Step:
    """The rule's guard, post-state and sends over ``frame``, as the generated code computes them.

    Effects are simultaneous (right-hand sides read the pre-state); unassigned variables keep
    their value; sends read primed names as post-effect values; then, when the rule ends in a
    state without a TCB, every variable is reset to its ``init`` value.
    """
    context = Z3Context(spec.states, frame.names())
    assigned = dict(rule.effects)
    post = {}
    for variable in spec.variables:
        node = assigned.get(variable.name)
        post[variable.name] = context.term(node) if node is not None else frame.variables[variable.name]
    sender = Z3Context(spec.states, frame.names(), post)
    sends = tuple(_sent(sender, send) for send in rule.sends)
    keep = target_has_tcb(spec, rule, frame.variables["STATE"])
    final = {v.name: _simplified_if(keep, post[v.name], initial_value(v)) for v in spec.variables}
    return Step(context.term(rule.when), final, sends)


def _simplified_if(condition: z3.BoolRef, then, otherwise):
    if z3.is_true(condition):
        return then
    if z3.is_false(condition):
        return otherwise
    return z3.If(condition, then, otherwise)


def _sent(context: Z3Context, send) -> Sent:
    ack = context.term(send.ack) if send.ack is not None else None
    data = context.term(send.data) if send.data is not None else bv(0)
    when = context.term(send.when) if send.when is not None else z3.BoolVal(True)
    return Sent(send.flags, context.term(send.seq), ack, data, when)


def shifted_frame(spec: Spec, frame: Frame, shift: z3.BitVecRef, moved: Mapping[str, z3.BoolRef]) -> Frame:
    """``frame`` with SEG.SEQ, SEG.ACK and ISN moved by ``shift``, and each seq-typed TCB variable
    moved where its condition in ``moved`` holds; nothing else changes."""
    variables = dict(frame.variables)
    for name, condition in moved.items():
        variables[name] = frame.variables[name] + z3.If(condition, shift, bv(0))
    segment = {**frame.segment, "SEG.SEQ": frame.segment["SEG.SEQ"] + shift, "SEG.ACK": frame.segment["SEG.ACK"] + shift}
    environment = {**frame.environment, "ISN": frame.environment["ISN"] + shift}
    return replace(frame, variables=variables, segment=segment, environment=environment)


def domain(spec: Spec, frame: Frame, states: tuple[str, ...]) -> list[z3.BoolRef]:
    """What every obligation about ``frame`` assumes (``DOMAIN``), STATE is one of ``states``,
    and in a state without a TCB every variable holds its ``init`` value."""
    seg, env = frame.segment, frame.environment
    state = frame.variables["STATE"]
    facts = [seg["SEG.DATA"] >= 0, seg["SEG.DATA"] <= MAX_DATA, env["DATA"] >= 0, env["DATA"] <= MAX_DATA, seg["SEG.WND"] >= 0]
    facts.append(z3.Or(*[state == state_value(spec.states.index(s)) for s in states]))
    for s in states:
        if s in spec.no_tcb:
            at = state == state_value(spec.states.index(s))
            facts += [z3.Implies(at, frame.variables[v.name] == initial_value(v)) for v in spec.variables]
    return facts


def readable(frame: Frame) -> tuple[z3.BoolRef, ...]:
    """Small data lengths and window: a focus for counterexamples people read."""
    return (frame.segment["SEG.DATA"] <= 16, frame.environment["DATA"] <= 16, frame.segment["SEG.WND"] <= 16)


def near_wrap(*terms: z3.BitVecRef, reach: int = 1 << 16) -> tuple[z3.BoolRef, ...]:
    """A focus that keeps sequence numbers within ``reach`` of the wrap point 2**32 - 1 -> 0."""
    return tuple(z3.ULT(t + reach, 2 * reach) for t in terms)
