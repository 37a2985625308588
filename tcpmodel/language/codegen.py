"""Compile a spec's rules into Python functions, once.

For every (state, event) pair the rules that apply are turned into one generated function
``dispatch(t, s, e)`` that tries them in spec order and returns the first that fires as
``(rule index, new TCB, segments sent, timers restarted)``, or None when no rule's guard holds.
Generated code reads only its three arguments (TCB tuple, segment tuple, environment tuple) and
the two sequence-space helpers; it runs without Python builtins.

Spec text never becomes code: the source is built from the checked expression trees only
(names become slots such as ``v3`` or ``s[1]``, states their numbers, constants and literals
validated integers, timer names in ``restarts`` Python string literals of validated names), and no
name or other spec text is pasted into it, not even into a comment. Before it is compiled, each
function's syntax tree is checked against the few kinds of node the generator writes
(``_verified``): no attribute access, no call but the sequence helpers, no name but the
arguments, the slots and the helpers; so even a bug in the generator cannot make it run
anything else.

TCB layout: ``(state index, variable 1, ..., variable n)`` in the spec's declaration order.
Segment layout: ``(flags, seq, ack, data octets, window, ...ghost fields)``.
Environment layout: ``(ISN, DATA)``.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable
from types import CodeType

from tcpmodel.base import seqnum
from tcpmodel.base.errors import SpecError
from tcpmodel.base.flags import SPEC_FLAG_BITS
from tcpmodel.language import expressions as ex
from tcpmodel.language.spec import Spec

# (rule index, new TCB, segments sent, timers restarted)
Fired = tuple[int, tuple, tuple, tuple]
# dispatch(t, s, e) -> Fired, or None; s is None for a user call or a timeout
Dispatch = Callable[[tuple, "tuple | None", tuple], "Fired | None"]

SEGMENT_SOURCE = {
    "SEG.SEQ": "s[1]",
    "SEG.ACK": "s[2]",
    "SEG.DATA": "s[3]",
    "SEG.WND": "s[4]",
    "SEG.LEN": "(s[3] + ((s[0] >> 1) & 1) + (s[0] & 1))",
}
ENVIRONMENT_SOURCE = {"ISN": "e[0]", "DATA": "e[1]"}


class CompiledSpec:
    """The spec's rules as Python functions, for one set of enabled options."""

    def __init__(self, spec: Spec, options: frozenset[str], window: int):
        self.spec = spec
        self.options = options
        self.window = window
        self.state_index = {s: i for i, s in enumerate(spec.states)}
        self.var_index = {v.name: i + 1 for i, v in enumerate(spec.variables)}
        self.initial_vars = tuple(v.init for v in spec.variables)
        self.rules = tuple(r for r in spec.rules)
        self.active = tuple(r.active(options) for r in self.rules)
        self.sources: dict[tuple[int, str], str] = {}
        self.dispatch: dict[tuple[int, str], Dispatch] = {}
        for state in spec.states:
            for event in spec.events:
                fn = self._compile_dispatch(state, event)
                if fn is not None:
                    self.dispatch[(self.state_index[state], event)] = fn
        self.timer_running = tuple(self._compile_predicate(t.running) for t in spec.timers)
        self.seq_slots = tuple(self.var_index[v.name] for v in spec.variables if v.type == ex.SEQ)
        # (rule index, flags) of the segments whose SEQ is absolute (see Send.absolute_seq)
        self.absolute = frozenset((i, s.flags) for i, r in enumerate(self.rules) for s in r.sends if s.absolute_seq)

    def initial_tcb(self) -> tuple:
        return (self.state_index[self.spec.initial],) + self.initial_vars

    def handles(self, state_index: int, event: str) -> bool:
        return (state_index, event) in self.dispatch

    # ------------------------------------------------------------ generation

    def _resolve(self, name: str, primed: bool, state: bool = False) -> str:
        if state:
            return str(self.state_index[name])
        if name == "STATE":
            return "t[0]"
        if name in self.var_index:
            return f"{'p' if primed else 'v'}{self.var_index[name]}"
        if name in SEGMENT_SOURCE:
            return SEGMENT_SOURCE[name]
        if name in SPEC_FLAG_BITS:
            return f"((s[0] & {SPEC_FLAG_BITS[name]}) != 0)"
        if name in ENVIRONMENT_SOURCE:
            return ENVIRONMENT_SOURCE[name]
        if name in self.spec.constants:
            return str(self.spec.constants[name])
        raise KeyError(name)

    def _py(self, node: ex.Node) -> str:
        return ex.to_python(node, self._resolve)

    def _header(self) -> list[str]:
        return [f"    v{i} = t[{i}]" for i in range(1, len(self.var_index) + 1)]

    def _compile_dispatch(self, state: str, event: str):
        rules = [(i, r) for i, r in enumerate(self.rules) if self.active[i] and r.event == event and state in r.states]
        if not rules:
            return None
        lines = ["def dispatch(t, s, e):"] + self._header()
        for index, rule in rules:
            lines.append(f"    if {self._py(rule.when)}:  # rule {index:d}")
            assigned = dict(rule.effects)
            for var, i in self.var_index.items():
                value = self._py(assigned[var]) if var in assigned else f"v{i}"
                if var in assigned and self.spec.variables[i - 1].type == ex.SEQ and assigned[var].type == ex.LIT:
                    value = seqnum.INLINE["wrap"].format(value)
                lines.append(f"        p{i} = {value}")
            target = rule.to or state
            if target in self.spec.no_tcb:
                new_vars = ", ".join(str(v) for v in self.initial_vars)
            else:
                new_vars = ", ".join(f"p{i}" for i in range(1, len(self.var_index) + 1))
            new_tcb = (f"({self.state_index[target]}, {new_vars}{',' if len(self.var_index) == 1 else ''})" if self.var_index
                       else f"({self.state_index[target]},)")
            sends = []
            for send in rule.sends:
                seq = seqnum.INLINE["wrap"].format(self._py(send.seq))
                ack = seqnum.INLINE["wrap"].format(self._py(send.ack)) if send.ack is not None else "0"
                data = self._py(send.data) if send.data is not None else "0"
                segment = f"(({send.flags}, {seq}, {ack}, {data}, {self.window}),)"
                sends.append(f"({segment} if {self._py(send.when)} else ())" if send.when is not None else segment)
            sent = " + ".join(sends) if sends else "()"
            restarts = tuple(rule.restarts)
            lines.append(f"        return ({index}, {new_tcb}, {sent}, {restarts!r})")
        lines.append("    return None")
        source = "\n".join(lines) + "\n"
        self.sources[(self.state_index[state], event)] = source
        return _run(source, "dispatch", f"<spec {self.spec.name}: {state} on {event}>", str(self.spec.path))

    def _compile_predicate(self, node: ex.Node):
        source = "\n".join(["def predicate(t):"] + self._header() + [f"    return {self._py(node)}"]) + "\n"
        return _run(source, "predicate", f"<spec {self.spec.name}: timer>", str(self.spec.path))


def evaluate_constant(node: ex.Node, values: dict[str, int]) -> int:
    """Evaluate a closed integer expression (a timer duration) with the given names: the
    checked tree is interpreted (``expressions.evaluate``), nothing is compiled."""
    return int(ex.evaluate(node, values))


# ---------------------------------------------------------------- what generated code may hold

_SLOT = re.compile(r"[vp][0-9]+")
_ARGUMENTS = frozenset({"t", "s", "e"})
_NODES = frozenset({ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.Assign, ast.If, ast.Return, ast.Name, ast.Load, ast.Store,
          ast.Constant, ast.Tuple, ast.BinOp, ast.BoolOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Subscript, ast.Call,
          ast.Add, ast.Sub, ast.Mult, ast.BitAnd, ast.RShift, ast.And, ast.Or, ast.Not, ast.USub,
          ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE})


def _verified(source: str, function: str) -> ast.Module:
    """The syntax tree of generated ``source``, checked to hold only what the generator writes:
    one function ``function(t[, s, e])`` of assignments to slots, ifs and returns over integer,
    boolean and string constants, tuples, arithmetic, comparisons, the arguments indexed by
    integers, the slots, and calls of the sequence helpers. Anything else raises."""
    tree = ast.parse(source, mode="exec")
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef) or tree.body[0].name != function:
        raise GeneratedCodeError("is not one function")
    fn = tree.body[0]
    if fn.decorator_list or fn.returns or fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs or fn.args.defaults:
        raise GeneratedCodeError("has a decorated or variadic function")
    if not {a.arg for a in fn.args.args} <= _ARGUMENTS:
        raise GeneratedCodeError("has arguments other than t, s, e")
    for node in ast.walk(fn):
        kind = type(node)
        if kind not in _NODES:
            raise GeneratedCodeError(f"holds a {kind.__name__} node")
        check = _CHECKS.get(kind)
        if check is not None and not check(node):
            raise GeneratedCodeError(f"holds a {kind.__name__} node the generator does not write: {ast.unparse(node)[:80]!r}")
    return tree


def _name_ok(node) -> bool:
    return node.id in _ARGUMENTS or node.id in seqnum.RUNTIME or bool(_SLOT.fullmatch(node.id))


def _subscript_ok(node) -> bool:
    return (type(node.value) is ast.Name and node.value.id in _ARGUMENTS
            and type(node.slice) is ast.Constant and type(node.slice.value) is int)


_CHECKS = {
    ast.Name: _name_ok,
    ast.Constant: lambda node: node.value is None or type(node.value) in (int, bool, str),
    ast.Subscript: _subscript_ok,
    ast.Call: lambda node: type(node.func) is ast.Name and node.func.id in seqnum.RUNTIME and not node.keywords,
    ast.Assign: lambda node: all(type(t) is ast.Name and _SLOT.fullmatch(t.id) for t in node.targets),
}


class GeneratedCodeError(Exception):
    """Generated code that holds something the generator never writes: a bug, never run."""


def _run(source: str, function: str, filename: str, where: str) -> Callable:
    """The function ``function`` of generated ``source``, verified, then run without builtins."""
    namespace: dict[str, object] = {"__builtins__": {}, **seqnum.RUNTIME}
    exec(_code(source, function, filename, where), namespace)  # verified: built from the checked AST only
    fn = namespace[function]
    assert callable(fn)
    return fn


@functools.lru_cache(maxsize=4096)
def _code(source: str, function: str, filename: str, where: str) -> CodeType:
    """The verified, compiled ``source`` (cached: systems of one spec generate the same sources)."""
    try:
        tree = _verified(source, function)
    except (GeneratedCodeError, SyntaxError, RecursionError, MemoryError) as exc:
        raise SpecError(f"refusing to run the code generated for {filename}: it {exc}", where=where) from None
    return compile(tree, filename, "exec")
