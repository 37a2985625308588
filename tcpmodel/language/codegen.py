"""Compile a spec's rules into Python functions, once.

For every (state, event) pair the rules that apply are turned into one generated function
``dispatch(t, s, e)`` that tries them in spec order and returns the first that fires as
``(rule index, new TCB, segments sent, timers restarted)``, or None when no rule's guard holds.
Generated code reads only its three arguments (TCB tuple, segment tuple, environment tuple) and
the two sequence-space helpers; it runs without Python builtins.

TCB layout: ``(state index, variable 1, ..., variable n)`` in the spec's declaration order.
Segment layout: ``(flags, seq, ack, data octets, window, ...ghost fields)``.
Environment layout: ``(ISN, DATA)``.
"""

from __future__ import annotations

from collections.abc import Callable

from tcpmodel.base import seqnum
from tcpmodel.base.flags import SPEC_FLAG_BITS
from tcpmodel.language import expressions as ex
from tcpmodel.language.spec import SEGMENT, Spec

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
            lines.append(f"    if {self._py(rule.when)}:  # {rule.name}")
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
        namespace = {"__builtins__": {}, **seqnum.RUNTIME}
        exec(compile(source, f"<spec {self.spec.name}: {state} on {event}>", "exec"), namespace)  # source generated from the checked AST
        return namespace["dispatch"]

    def _compile_predicate(self, node: ex.Node):
        source = "\n".join(["def predicate(t):"] + self._header() + [f"    return {self._py(node)}"]) + "\n"
        namespace = {"__builtins__": {}, **seqnum.RUNTIME}
        exec(compile(source, f"<spec {self.spec.name}: timer>", "exec"), namespace)  # source generated from the checked AST
        return namespace["predicate"]


def evaluate_constant(node: ex.Node, values: dict[str, int]) -> int:
    """Evaluate a closed integer expression (a timer duration) with the given names."""
    source = ex.to_python(node, lambda name, primed, state=False: str(values[name]))
    return eval(compile(source, "<duration>", "eval"), {"__builtins__": {}})  # source generated from the checked AST


def is_segment_event(event: str) -> bool:
    return event == SEGMENT
