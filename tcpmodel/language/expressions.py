"""The spec's expression language: parse once, type-check, compile to Python source.

A closed language: integer and boolean literals, names declared by the spec, the operators
``+ - * == != < <= > >= and or not``, parentheses, and the functions in ``FUNCTIONS``.
There is no attribute access, no indexing, no call of anything the spec did not declare, and
the generated Python code runs without builtins.

Types: ``seq`` (a 32-bit sequence number), ``int``, ``bool``, ``state``. ``seq + int`` and
``seq - int`` are sequence numbers (wrapping modulo 2**32); ``seq - seq`` is the signed
distance (an ``int``); a plain ``<`` on two sequence numbers compares raw 32-bit values, which
is almost always a bug the prover refutes — use ``seq_lt`` and friends. An integer literal
stands for a sequence number wherever one is expected.

A name written with a trailing prime (``RCV.NXT'``) means the value after the rule's effects
(TLA+ style); only ``send`` fields may use primes.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from tcpmodel.base import seqnum
from tcpmodel.base.errors import InputError, did_you_mean

SEQ, INT, BOOL, STATE, LIT = "seq", "int", "bool", "state", "lit"

# name -> (argument types, result type); LIT arguments accept int or seq.
FUNCTIONS: dict[str, tuple[tuple[str, ...], str] | None] = {
    "seq_lt": ((SEQ, SEQ), BOOL),
    "seq_le": ((SEQ, SEQ), BOOL),
    "seq_gt": ((SEQ, SEQ), BOOL),
    "seq_ge": ((SEQ, SEQ), BOOL),
    "in_window": ((SEQ, SEQ, INT), BOOL),
    "min": ((INT, INT), INT),
    "max": ((INT, INT), INT),
    "if": None,  # if(cond, a, b): typed specially
}

COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
MAX_TOKENS = 400  # an expression longer than this is refused (and deep recursion with it)
MAX_NESTING = 48  # parentheses, calls and prefix operators nested deeper than this are refused
MAX_DIGITS = 20
MAX_LITERAL = seqnum.MASK  # a literal is a 32-bit number: 0 to 2**32 - 1
MAX_TERMS = 1000  # an expression with its definitions written out may have at most this many terms
MAX_DEPTH = 48  # ... nested at most this deep (definitions that use each other add up)


@dataclass(frozen=True)
class Node:
    kind: str  # int bool name state call binop not neg and or
    value: int | bool | str | None = None  # literal value, name, operator or function name
    args: tuple[Node, ...] = ()
    type: str = ""
    primed: bool = False

    @property
    def text(self) -> str:
        """The name, state, operator or function name of a name, state, binop or call node."""
        assert isinstance(self.value, str), self
        return self.value

    @property
    def number(self) -> int:
        """The value of an integer literal."""
        assert isinstance(self.value, int) and not isinstance(self.value, bool), self
        return self.value


@dataclass
class Symbol:
    name: str
    type: str
    kind: str  # var, seg, flag, env, const, def, timer
    definition: Node | None = None


@dataclass
class Scope:
    """The names an expression may use. ``states`` are the spec's state names."""

    symbols: dict[str, Symbol] = field(default_factory=dict)
    states: tuple[str, ...] = ()

    def add(self, name: str, type_: str, kind: str, definition: Node | None = None) -> None:
        self.symbols[name] = Symbol(name, type_, kind, definition)


# ---------------------------------------------------------------- tokenizer

_TOKEN = re.compile(
    r"\s*(?:(?P<num>0x[0-9a-fA-F]+|[1-9][0-9]*|0(?![0-9]))|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)"
    r"|(?P<op>==|!=|<=|>=|[<>+\-*(),'=]))"
)


def _tokenize(text: str, states: tuple[str, ...]) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    by_length = sorted(states, key=len, reverse=True)
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        state = next((s for s in by_length if text.startswith(s, pos) and not _continues(text, pos + len(s))), None)
        if state:
            tokens.append(("state", state, pos))
            pos += len(state)
            continue
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise InputError(f"unexpected character {text[pos]!r} at column {pos + 1} in {text!r}")
        kind = m.lastgroup
        assert kind is not None  # every alternative of _TOKEN is a named group
        if kind == "num" and len(m.group(kind)) > MAX_DIGITS:
            raise InputError(f"number too long at column {m.start(kind) + 1} in {text[:40]!r}...")
        tokens.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
        if len(tokens) > MAX_TOKENS:
            raise InputError(f"expression longer than {MAX_TOKENS} tokens; split it into [definitions]")
    tokens.append(("end", "", len(text)))
    return tokens


def _continues(text: str, pos: int) -> bool:
    return pos < len(text) and (text[pos].isalnum() or text[pos] in "_.")


# ---------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str, scope: Scope, allow_primes: bool):
        self.text, self.scope, self.allow_primes = text, scope, allow_primes
        self.tokens = _tokenize(text, scope.states)
        self.i = 0
        self.depth = 0

    def nest(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"expression nested more than {MAX_NESTING} deep", pos)

    def peek(self, value: str | None = None) -> bool:
        tok = self.tokens[self.i]
        return value is None or (tok[1] == value and tok[0] in ("op", "name"))

    def take(self) -> tuple[str, str, int]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        kind, text, pos = self.take()
        if text != value:
            found = repr(text) if kind != "end" else "the end"
            raise self.error(f"expected {value!r} but found {found}", pos)

    def error(self, message: str, pos: int) -> InputError:
        return InputError(f"{message} at column {pos + 1} in {self.text!r}")

    def parse(self) -> Node:
        node = self.disjunction()
        kind, text, pos = self.tokens[self.i]
        if kind != "end":
            raise self.error(f"unexpected {text!r}", pos)
        return node

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.peek("or"):
            self.take()
            node = Node("or", args=(node, self.conjunction()))
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.peek("and"):
            self.take()
            node = Node("and", args=(node, self.negation()))
        return node

    def negation(self) -> Node:
        if self.peek("not"):
            self.nest(self.take()[2])
            node = Node("not", args=(self.negation(),))
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        node = self.sum()
        if self.tokens[self.i][0] == "op" and self.tokens[self.i][1] in COMPARISONS:
            op = self.take()[1]
            node = Node("binop", op, (node, self.sum()))
        return node

    def sum(self) -> Node:
        node = self.product()
        while self.tokens[self.i][0] == "op" and self.tokens[self.i][1] in "+-":
            op = self.take()[1]
            node = Node("binop", op, (node, self.product()))
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.peek("*"):
            self.take()
            node = Node("binop", "*", (node, self.unary()))
        return node

    def unary(self) -> Node:
        if self.peek("-"):
            self.nest(self.take()[2])
            node = Node("neg", args=(self.unary(),))
            self.depth -= 1
            return node
        return self.atom()

    def atom(self) -> Node:
        kind, text, pos = self.take()
        if kind == "num":
            value = int(text, 0)
            if value > MAX_LITERAL:
                raise self.error(f"the number {text} is out of range (0 to {MAX_LITERAL}, a 32-bit number)", pos)
            return Node("int", value)
        if kind == "state":
            return Node("state", text)
        if kind == "op" and text == "(":
            self.nest(pos)
            node = self.disjunction()
            self.expect(")")
            self.depth -= 1
            return node
        if kind == "name":
            if text in ("true", "false"):
                return Node("bool", text == "true")
            if self.peek("("):
                return self.call(text, pos)
            primed = False
            if self.peek("'"):
                self.take()
                if not self.allow_primes:
                    raise self.error(f"a primed name ({text}') is allowed only in send fields", pos)
                primed = True
            return Node("name", text, primed=primed)
        found = repr(text) if kind != "end" else "the end"
        raise self.error(f"expected a value but found {found}", pos)

    def call(self, name: str, pos: int) -> Node:
        if name not in FUNCTIONS:
            raise self.error(f'unknown function "{name}"{did_you_mean(name, FUNCTIONS)}', pos)
        self.expect("(")
        self.nest(pos)
        args = [self.disjunction()]
        while self.peek(","):
            self.take()
            args.append(self.disjunction())
        self.expect(")")
        self.depth -= 1
        return Node("call", name, tuple(args))


def parse(text: str, scope: Scope, expect: str | None = None, allow_primes: bool = False) -> Node:
    """Parse and type-check ``text``; ``expect`` is the type the context requires."""
    if not isinstance(text, str):
        raise InputError(f"expected an expression string but found {type(text).__name__} {text!r}")
    parser = _Parser(text, scope, allow_primes)
    node = _check(parser.parse(), scope, text)
    terms, depth = expanded_size(node)
    if terms > MAX_TERMS:
        raise InputError(f"{text[:60]!r} with its definitions written out has {terms:,} terms; at most {MAX_TERMS:,} are allowed")
    if depth > MAX_DEPTH:
        raise InputError(f"{text[:60]!r} with its definitions written out is nested {depth} deep; at most {MAX_DEPTH} is allowed")
    if expect and not _fits(node.type, expect):
        raise InputError(f"expected a {expect} expression but {text!r} is a {node.type}")
    return node


def expanded_size(node: Node, memo: dict[int, tuple[int, int]] | None = None) -> tuple[int, int]:
    """(terms, depth) of ``node`` with every definition written out. A checked node shares the
    nodes of the definitions it uses, so this takes time linear in the shared graph even when
    the written-out tree is exponentially large (definitions that double each other)."""
    memo = {} if memo is None else memo
    found = memo.get(id(node))
    if found is None:
        terms, depth = 1, 1
        for a in node.args:
            t, d = expanded_size(a, memo)
            terms, depth = terms + t, max(depth, d + 1)
        found = memo[id(node)] = (terms, depth)
    return found


# ---------------------------------------------------------------- type checker


def _fits(actual: str, wanted: str) -> bool:
    return actual == wanted or (actual == LIT and wanted in (INT, SEQ))


def _unify(a: str, b: str) -> str | None:
    if a == b:
        return a
    if a == LIT and b in (INT, SEQ):
        return b
    if b == LIT and a in (INT, SEQ):
        return a
    return None


def _check(node: Node, scope: Scope, text: str) -> Node:
    def fail(message: str) -> InputError:
        return InputError(f"{message} in {text!r}")

    def check(n: Node) -> Node:
        if n.kind == "int":
            return Node("int", n.value, type=LIT)
        if n.kind == "bool":
            return Node("bool", n.value, type=BOOL)
        if n.kind == "state":
            return Node("state", n.value, type=STATE)
        if n.kind == "name":
            sym = scope.symbols.get(n.text)
            if sym is None:
                raise fail(f'unknown name "{n.value}"{did_you_mean(n.text, scope.symbols)}')
            if sym.kind == "timer":
                raise fail(f'"{n.value}" is a timer; use it only as restart({n.value})')
            if sym.kind == "def":
                if n.primed:
                    raise fail(f"a definition ({n.value}) cannot be primed")
                assert sym.definition is not None  # a "def" symbol is always added with its checked Node
                return sym.definition
            if n.primed and sym.kind != "var":
                raise fail(f"only endpoint variables can be primed, not {n.value}")
            return Node("name", n.value, type=sym.type, primed=n.primed)
        args = tuple(check(a) for a in n.args)
        if n.kind in ("and", "or"):
            for a in args:
                if a.type != BOOL:
                    raise fail(f"'{n.kind}' needs booleans but one side is a {a.type}")
            return Node(n.kind, args=args, type=BOOL)
        if n.kind == "not":
            if args[0].type != BOOL:
                raise fail(f"'not' needs a boolean but found a {args[0].type}")
            return Node("not", args=args, type=BOOL)
        if n.kind == "neg":
            if not _fits(args[0].type, INT):
                raise fail(f"unary '-' needs an int but found a {args[0].type}")
            return Node("neg", args=args, type=args[0].type)
        if n.kind == "binop":
            return Node("binop", n.value, args, type=_binop_type(n.text, args[0].type, args[1].type, fail))
        if n.kind == "call":
            return Node("call", n.value, args, type=_call_type(n.text, args, fail))
        raise fail(f"cannot type {n.kind}")

    return check(node)


def _binop_type(op: str, a: str, b: str, fail: Callable[[str], InputError]) -> str:
    if op in ("==", "!="):
        if _unify(a, b) is None:
            raise fail(f"'{op}' compares a {a} with a {b}")
        return BOOL
    if op in ("<", "<=", ">", ">="):
        if _unify(a, b) not in (INT, SEQ, LIT):
            raise fail(f"'{op}' needs two ints or two sequence numbers, found {a} and {b}")
        return BOOL
    if op == "*":
        if not (_fits(a, INT) and _fits(b, INT)):
            raise fail(f"'*' needs ints, found {a} and {b}")
        return LIT if a == b == LIT else INT
    if op == "+":
        if SEQ in (a, b):
            other = b if a == SEQ else a
            if not _fits(other, INT):
                raise fail(f"'+' adds an int to a sequence number, not a {other}")
            return SEQ
        if _fits(a, INT) and _fits(b, INT):
            return LIT if a == b == LIT else INT
        raise fail(f"'+' needs numbers, found {a} and {b}")
    if op == "-":
        if a == SEQ and b == SEQ:
            return INT
        if a == SEQ and _fits(b, INT):
            return SEQ
        if _fits(a, INT) and _fits(b, INT):
            return LIT if a == b == LIT else INT
        raise fail(f"'-' cannot subtract a {b} from a {a}")
    raise fail(f"unknown operator {op}")


def _call_type(name: str, args: tuple[Node, ...], fail: Callable[[str], InputError]) -> str:
    if name == "if":
        if len(args) != 3:
            raise fail(f"if(condition, then, else) takes 3 arguments, not {len(args)}")
        if args[0].type != BOOL:
            raise fail(f"the condition of if() must be a boolean, not a {args[0].type}")
        result = _unify(args[1].type, args[2].type)
        if result is None:
            raise fail(f"the branches of if() differ: {args[1].type} and {args[2].type}")
        return result
    signature = FUNCTIONS[name]
    assert signature is not None  # only "if" has none, handled above
    params, result = signature
    if len(args) != len(params):
        raise fail(f"{name}() takes {len(params)} arguments, not {len(args)}")
    for i, (arg, want) in enumerate(zip(args, params, strict=True), 1):
        if not _fits(arg.type, want):
            raise fail(f"argument {i} of {name}() must be a {want}, not a {arg.type}")
    return result


# ---------------------------------------------------------------- code generation


class Resolve(Protocol):
    """Gives the source of a name (``primed``: its value after the rule) or of a state."""

    def __call__(self, name: str, primed: bool, state: bool = False) -> str: ...


def to_python(node: Node, resolve: Resolve) -> str:
    """Python source for ``node``; ``resolve(name, primed)`` gives the source of a name."""
    k = node.kind
    if k == "int":
        return str(node.value)
    if k == "bool":
        return "True" if node.value else "False"
    if k == "state":
        return resolve(node.text, False, state=True)
    if k == "name":
        return resolve(node.text, node.primed)
    src = [to_python(a, resolve) for a in node.args]
    if k == "and":
        return f"({src[0]} and {src[1]})"
    if k == "or":
        return f"({src[0]} or {src[1]})"
    if k == "not":
        return f"(not {src[0]})"
    if k == "neg":
        return f"(-{src[0]})"
    if k == "call":
        if node.value == "if":
            return f"({src[1]} if {src[0]} else {src[2]})"
        if node.value in ("min", "max"):
            return f"({src[0]} if {src[0]} {'<=' if node.value == 'min' else '>='} {src[1]} else {src[1]})"
        return seqnum.INLINE[node.text].format(*src)
    a, b = node.args
    op = node.value
    if op == "+" and node.type == SEQ:
        return seqnum.INLINE["seq_add"].format(*src)
    if op == "-" and node.type == SEQ:
        return seqnum.INLINE["seq_sub"].format(*src)
    if op == "-" and a.type == SEQ and b.type == SEQ:
        return seqnum.INLINE["seq_diff"].format(*src)
    return f"({src[0]} {op} {src[1]})"


def names_in(node: Node) -> set[tuple[str, bool]]:
    """The (name, primed) pairs an expression reads."""
    if node.kind == "name":
        return {(node.text, node.primed)}
    out: set[tuple[str, bool]] = set()
    for a in node.args:
        out |= names_in(a)
    return out


def states_in(node: Node) -> set[str]:
    if node.kind == "state":
        return {node.text}
    out: set[str] = set()
    for a in node.args:
        out |= states_in(a)
    return out


_OPERATORS: dict[str, Callable[[int, int], int | bool]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "==": operator.eq, "!=": operator.ne,
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def evaluate(node: Node, values: dict[str, int]) -> int | bool:
    """The value of a closed expression over integers and booleans (a timer's duration), with
    ``values`` for its names: an interpreter of the checked tree, no code is generated."""
    k = node.kind
    if k in ("int", "bool"):
        assert isinstance(node.value, (int, bool))
        return node.value
    if k == "name":
        return values[node.text]
    args = [evaluate(a, values) for a in node.args]
    if k == "and":
        return bool(args[0]) and bool(args[1])
    if k == "or":
        return bool(args[0]) or bool(args[1])
    if k == "not":
        return not args[0]
    if k == "neg":
        return -args[0]
    if k == "call" and node.value == "if":
        return args[1] if args[0] else args[2]
    if k == "call" and node.value in ("min", "max"):
        return min(args[0], args[1]) if node.value == "min" else max(args[0], args[1])
    if k == "binop" and node.type != SEQ and not (node.value == "-" and node.args[0].type == SEQ):
        return _OPERATORS[node.text](args[0], args[1])
    raise ValueError(f"not a closed integer expression: {node.kind} {node.value}")
