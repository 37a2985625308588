"""One endpoint step of the system in Promela: the rules, the observer, the segments sent.

``StepWriter`` writes what happens inside a ``d_step`` when endpoint i handles an event: the
rules of every state for that event tried in spec order (``dispatch``; the guards and effects
from ``promelaexpr``), the observer's ghost fields (properties.Observer.advance), the segments
put into the endpoint's channel, the new TCB, the timers restarted. It also writes the enabling
conditions the loop's guards need as expressions: some rule fires (``enabled``), the rule that
fires sends something (``sends_something``). ``promela`` builds the model around it.

Scratch variables (``w_*``, ``n_*``, ``sg_*``, ``nw_*``) are ``hidden``: they live only within
one ``d_step`` and are not part of Spin's state.
"""

from __future__ import annotations

import re

from tcpmodel.base.errors import InputError
from tcpmodel.base.flags import RST, SPEC_FLAG_BITS, SYN
from tcpmodel.export.common import ABSOLUTE_SEQ, SystemFacts, comment
from tcpmodel.export.promelaexpr import literal, translate
from tcpmodel.language.expressions import SEQ

SEGMENT_FIELDS = ("flags", "seq", "ack", "data", "gen", "cause", "age")  # Python's tuple order, less window
RESERVED = {
    "active", "assert", "atomic", "bit", "bool", "break", "byte", "chan", "d_step", "do", "else", "empty", "enabled", "eval", "fi", "full", "goto",
    "hidden", "if", "init", "inline", "int", "len", "local", "mtype", "nempty", "never", "nfull", "od", "of", "printf", "priority", "proctype",
    "provided", "run", "short", "skip", "timeout", "typedef", "unless", "unsigned", "true", "false", "select", "for", "in", "end", "accept", "progress", "ltl",
    "st", "opens", "sent", "closed", "timer", "peer_gen", "passive_closer", "delivered", "ended",  # and names the export gives its own variables
}


def bits(largest: int) -> int:
    return max(1, int(largest).bit_length())


def indent(lines: list[str], by: str = "   ") -> list[str]:
    return [by + line for line in lines]


def if_(options: list[tuple[str, list[str]]], otherwise: list[str] | None = None) -> list[str]:
    """``if :: guard -> body ... fi``, with ``:: else -> skip`` unless ``otherwise`` says more."""
    lines = ["if"]
    for guard, body in options:
        lines.append(f":: {guard} ->")
        lines += indent(body or ["skip;"])
    lines.append(":: else ->")
    lines += indent(otherwise or ["skip;"])
    return lines + ["fi;"]


class StepWriter:
    def __init__(self, facts: SystemFacts, command: str):
        self.f = facts
        self.spec = facts.spec
        self.scenario = facts.scenario
        self.command = command
        self.field = self._field_names()
        self.reordering = self.scenario.reordering
        self.timed = self.scenario.timed
        self.fields = SEGMENT_FIELDS if self.timed else SEGMENT_FIELDS[:-1]
        self.candidates = len(facts.seq_variables) * len(facts.offsets) + 1
        self.masks = (self.candidates + 30) // 31

    def _field_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for v in self.spec.variables:
            name = re.sub(r"[^A-Za-z0-9_]", "_", v.name)
            if name[0].isdigit() or name in RESERVED or name.startswith(("n_", "sg_", "nw_")):
                name = "v_" + name
            if name in names.values():
                raise InputError(f'variables "{v.name}" and another both become "{name}" in Promela: rename one')
            names[v.name] = name
        return names

    # ------------------------------------------------------------ names and expressions

    def resolver(self, i: int, isn: str, tcb: str | None = None, primes=None):
        """Sources of the spec's names for endpoint ``i``: variables in ``tcb`` (default the
        endpoint's record), primed ones from ``primes`` (default the scratch ``n_*``)."""
        tcb = tcb or f"ep[{i}]"

        def resolve(name: str, primed: bool, state: bool = False) -> str:
            if state:
                return str(self.f.state(name))
            if name == "STATE":
                return f"{tcb}.st"
            if name in self.field:
                if primed:
                    return primes(name) if primes else f"n_{self.field[name]}"
                return f"{tcb}.{self.field[name]}"
            segment = {"SEG.SEQ": "sg_seq", "SEG.ACK": "sg_ack", "SEG.DATA": "sg_data", "SEG.WND": str(self.f.window),
                       "SEG.LEN": "(sg_data + ((sg_flags >> 1) & 1) + (sg_flags & 1))"}
            if name in segment:
                return segment[name]
            if name in SPEC_FLAG_BITS:
                return f"((sg_flags & {SPEC_FLAG_BITS[name]}) != 0)"
            if name == "ISN":
                return isn
            if name == "DATA":
                return str(self.scenario.data)
            return literal(self.spec.constants[name])

        return resolve

    def isn(self, i: int, opens: str, opened: bool = False) -> str:
        """The ISN of endpoint i's incarnation number ``opens`` (system.System.isn)."""
        first, stride = self.f.isn(i, 0), self.scenario.isn_stride
        if not stride:
            return literal(first)
        step = f"{literal(first)} + {stride} * ({opens} - 1)"
        return f"({step})" if opened else f"({opens} > 0 -> {step} : {literal(first)})"

    def no_tcb(self, value: str) -> str:
        return "(" + " || ".join(f"{value} == {s}" for s in self.f.no_tcb) + ")"

    def among(self, value: str, states) -> str:
        return "(" + " || ".join(f"{value} == {s}" for s in states) + ")" if states else "0"

    def running(self, k: int, tcb: str) -> str:
        return translate(self.spec.timers[k].running, self.resolver(0, "0", tcb=tcb))

    # ------------------------------------------------------------ the rules

    def dispatch(self, i: int, event: str) -> list[str]:
        """Set ``rule`` (NONE if no rule fires), ``nst``, ``n_*``, ``rs`` and ``out``/``nout``."""
        options = []
        for state in self.spec.states:
            rules = self.f.rules(state, event)
            if rules:
                options.append((f"ep[{i}].st == {self.f.state(state)}", [f"/* {comment(state)} */"] + self.chain(i, state, rules)))
        defaults = [f"n_{self.field[v.name]} = ep[{i}].{self.field[v.name]};" for v in self.spec.variables]
        return ["w_rule = NONE;"] + defaults + (if_(options) if options else [])

    def chain(self, i: int, state: str, rules) -> list[str]:
        (index, rule), rest = rules[0], rules[1:]
        guard = translate(rule.when, self.resolver(i, "w_isn"))
        body = [f"/* {comment(rule.name)} */"] + self.effects(i, state, index, rule)
        if guard == "1":
            return body
        return if_([(guard, body)], self.chain(i, state, rest) if rest else None)

    def effects(self, i: int, state: str, index: int, rule) -> list[str]:
        resolve = self.resolver(i, "w_isn")
        assigned = dict(rule.effects)
        lines = [f"w_rule = {index};"]
        for v in self.spec.variables:
            if v.name in assigned:  # the others keep the values dispatch gave them: simultaneous assignment
                lines.append(f"n_{self.field[v.name]} = {translate(assigned[v.name], resolve, v.type == SEQ)};")
        timers = [t.name for t in self.spec.timers]
        lines.append(f"w_st = {self.f.state(rule.to or state)};")
        lines.append(f"w_restart = {sum(1 << timers.index(name) for name in rule.restarts)};")
        lines.append("w_nout = 0;")
        for send in rule.sends:
            absolute = ABSOLUTE_SEQ if self.f.absolute(index, send.flags) else 0
            body = [
                f"w_out[w_nout].flags = {send.flags};",
                f"w_out[w_nout].seq = {translate(send.seq, resolve, True)};",
                f"w_out[w_nout].ack = {translate(send.ack, resolve, True) if send.ack is not None else 0};",
                f"w_t = {translate(send.data, resolve) if send.data is not None else 0};",
                "assert(w_t >= 0 && w_t < 256);  /* a negative length is a spec error; 255 octets the export's limit */",
                "w_out[w_nout].data = w_t;",
                f"w_out[w_nout].cause = {absolute};",
                "w_nout++;",
            ]
            lines += if_([(translate(send.when, resolve), body)]) if send.when is not None else body
        return lines

    def enabled(self, i: int, event: str, isn: str, states=None) -> str:
        """Some rule for ``event`` fires in endpoint i's state (system.System.step is not None)."""
        terms = []
        for state in states or self.spec.states:
            rules = self.f.rules(state, event)
            if rules:
                guards = " || ".join(translate(r.when, self.resolver(i, isn)) for _, r in rules)
                terms.append(f"(ep[{i}].st == {self.f.state(state)} && ({guards}))")
        return "(" + " || ".join(terms) + ")" if terms else "0"

    def sends_something(self, i: int, event: str, isn: str) -> str:
        """The rule that fires sends a segment: a conditional expression over the first match."""
        expression = "0"
        for state in reversed(self.spec.states):
            chain = "0"
            for _, rule in reversed(self.f.rules(state, event)):
                assigned = dict(rule.effects)
                base = self.resolver(i, isn)

                def prime(name, assigned=assigned, base=base):
                    return translate(assigned[name], base, True) if name in assigned else base(name, False)

                resolve = self.resolver(i, isn, primes=prime)
                sends = [translate(s.when, resolve) if s.when is not None else "1" for s in rule.sends]
                sent = "1" if "1" in sends else ("(" + " || ".join(sends) + ")" if sends else "0")
                chain = f"({translate(rule.when, resolve)} -> {sent} : {chain})"
            if chain != "0":
                expression = f"(ep[{i}].st == {self.f.state(state)} -> {chain} : {expression})"
        return expression

    # ------------------------------------------------------------ one endpoint step

    def apply(self, i: int, kind: str, event: str, cause: int) -> list[str]:
        """After ``dispatch``: the observer, the segments sent, the new TCB, the timers."""
        lines = self.ghost(i, kind, event)
        if self.f.max_sends:
            store = [f"nw_{f} = w_out[w_k].{f};" for f in ("flags", "seq", "ack", "data")]
            store += [f"nw_gen = ep[{i}].opens;", f"nw_cause = w_out[w_k].cause | {cause};"] + (["nw_age = 0;"] if self.timed else [])
            lines += ["w_k = 0;", "do", ":: w_k < w_nout ->"] + indent(store + [f"put({i});", "w_k++;"]) + [":: else -> break;", "od;"]
        lines.append(f"ep[{i}].st = w_st;")
        reset = [f"ep[{i}].{self.field[v.name]} = {literal(v.init)};" for v in self.spec.variables]
        kept = [f"ep[{i}].{self.field[v.name]} = n_{self.field[v.name]};" for v in self.spec.variables]
        if reset:
            lines += if_([(self.no_tcb("w_st"), reset)], kept)
        if self.timed:
            for k, duration in enumerate(self.f.durations):
                restart = if_([(f"ep[{i}].timer[{k}] < 0 || ((w_restart >> {k}) & 1)", [f"ep[{i}].timer[{k}] = {duration};"])])
                lines += if_([(f"!{self.running(k, f'ep[{i}]')}", [f"ep[{i}].timer[{k}] = -1;"])], restart)
        return lines + self.invariant()

    def ghost(self, i: int, kind: str, event: str) -> list[str]:
        """properties.Observer.advance for this step."""
        ep = f"ep[{i}]"
        rst_sent = " || ".join(f"(w_nout > {n} && (w_out[{n}].flags & {RST}) != 0)" for n in range(self.f.max_sends)) or "0"
        if kind == "segment":
            orderly = f"(sg_flags & {RST | SYN}) == 0"
        elif kind == "timer" and self.f.time_wait_timer >= 0 and event == self.f.timer_events[self.f.time_wait_timer]:
            orderly = "1"
        else:
            orderly = ""
        ended = if_([(f"!{self.no_tcb(f'{ep}.st')}", [f"{ep}.ended = 0;"])])
        if orderly:
            ended = if_([(f"{self.among(f'{ep}.st', self.f.orderly_ends)} && !({rst_sent}) && {orderly}", [f"{ep}.ended = {ep}.opens;"])], ended)
        deleted = ended + [f"{ep}.peer_gen = 0;", f"{ep}.passive_closer = 0;", f"{ep}.delivered = 0;"]
        if kind == "call" and event == "CLOSE" and self.f.close_wait >= 0:
            other = if_([(f"{ep}.st == {self.f.close_wait}", [f"{ep}.passive_closer = 1;"])])
        elif kind == "segment":
            other = if_([(self.among(f"{ep}.st", self.f.opening), [f"{ep}.peer_gen = sg_gen;", f"{ep}.ended = 0;"])], self.octets(i))
        else:
            other = []
        return if_([(self.no_tcb("w_st"), deleted)], other)

    def octets(self, i: int) -> list[str]:
        """properties._octets_delivered, added to the ghost count of octets delivered."""
        rcv_nxt = self.field[self.f.variable("rcv_nxt")]
        old, new = f"ep[{i}].{rcv_nxt}", f"n_{rcv_nxt}"
        count = if_([("w_t > 0", [f"w_t = ep[{i}].delivered + w_t;", "assert(w_t < 256);", f"ep[{i}].delivered = w_t;"])])
        advanced = [
            "w_first = sg_seq + ((sg_flags >> 1) & 1);",
            *if_([(f"SEQ_LE(w_first, {old})", [f"w_start = {old};"])], ["w_start = w_first;"]),
            "w_stop = w_first + sg_data;",
            *if_([(f"SEQ_LE(w_stop, {new})", [])], [f"w_stop = {new};"]),
            "w_t = w_stop - w_start;",
            *count,
        ]
        return [f"w_t = {new} - {old};"] + if_([("w_t > 0", advanced)])

    def invariant(self) -> list[str]:
        established = self.f.established
        if established < 0:
            return []
        iss, irs = self.field[self.f.variable("iss")], self.field[self.f.variable("irs")]
        both = f"ep[0].st == {established} && ep[1].st == {established}"
        agree = f"ep[0].{irs} == ep[1].{iss} && ep[1].{irs} == ep[0].{iss}"
        return [f"assert(!({both}) || ({agree}));  /* handshake_agreement */"]
