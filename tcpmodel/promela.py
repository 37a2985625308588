"""The compiled system as a Promela model whose reachable state space Spin counts as tcpmodel does.

How the model is built, and why Spin's counts then equal ``tcpmodel check``'s:

- One process runs one ``do`` loop. Each transition the explorer yields (system.py: a user call,
  a timer, a segment delivered, lost or duplicated, a tick) is one option of the loop, executed as
  one ``d_step``: Spin stores no state inside it and counts it as one transition. Spin's "states,
  stored" is tcpmodel's state count; its "transitions (= stored+matched)" counts the initial state
  as well, so it is tcpmodel's transition count plus one.
- An option's guard is its enabling condition exactly as system.py has it: a call whose rules
  all refuse is no transition; a timer whose rule would send into a full channel waits; of two
  equal segments in a channel only the first is delivered, lost or duplicated. A step the spec
  does not handle (system.py raises SpecError) is an ``assert(false)`` here.
- The rules are translated, not tabulated: for each (endpoint, event) the rules of every state
  are tried in spec order (``promelaexpr`` gives their guards and effects in 32-bit arithmetic).
- A segment with an absolute SEQ (<SEQ=0><CTL=RST,ACK>) is delivered once per distinct outcome
  over the representatives of ``seqnum.representatives``, visited in increasing order as
  ``System._seen_as`` does. Such a delivery is an ``atomic`` sequence: a ``d_step`` computes which
  representatives give a new outcome (a bit each in ``vmask``), a nondeterministic ``if`` picks
  one, a ``d_step`` delivers it and clears ``vmask``. Spin stores no state inside an atomic
  sequence either, and ``vmask`` is zero in every stored state.
- State: two ``Endpoint`` records (the TCB, the user's script, the timers, the observer's ghost
  fields of properties.py) and two ``Channel`` records (segments with their ghost incarnation,
  cause and age; unused slots zero; sorted as Python sorts tuples when the network reorders, so
  a channel is a multiset). Scratch variables are ``hidden``: outside the state vector.
- The invariant handshake_agreement is asserted after every endpoint step.
"""

from __future__ import annotations

import re

from tcpmodel.errors import InputError
from tcpmodel.export import (
    ABSOLUTE_SEQ,
    CAUSE_ABORT,
    CAUSE_CALL,
    CAUSE_SEGMENT,
    CAUSE_TIMER,
    CLOSED_BY_ABORT,
    CLOSED_BY_CLOSE,
    SystemFacts,
)
from tcpmodel.expressions import BOOL, SEQ
from tcpmodel.promelaexpr import MACROS, literal, translate
from tcpmodel.spec import FLAG_BITS, SEGMENT

SEGMENT_FIELDS = ("flags", "seq", "ack", "data", "gen", "cause", "age")  # Python's tuple order, less window
RESERVED = set(
    "active assert atomic bit bool break byte chan d_step do else empty enabled eval fi full goto hidden if "
    "init inline int len local mtype nempty never nfull od of printf priority proctype provided run short "
    "skip timeout typedef unless unsigned true false select for in end accept progress ltl "
    "st opens sent closed timer peer_gen passive_closer delivered ended".split()
)
SYN, RST = FLAG_BITS["SYN"], FLAG_BITS["RST"]


def write_promela(facts: SystemFacts, command: str) -> str:
    return _Writer(facts, command).model()


def _bits(largest: int) -> int:
    return max(1, int(largest).bit_length())


def _indent(lines: list[str], by: str = "   ") -> list[str]:
    return [by + line for line in lines]


def _if(options: list[tuple[str, list[str]]], otherwise: list[str] | None = None) -> list[str]:
    """``if :: guard -> body ... fi``, with ``:: else -> skip`` unless ``otherwise`` says more."""
    lines = ["if"]
    for guard, body in options:
        lines.append(f":: {guard} ->")
        lines += _indent(body or ["skip;"])
    lines.append(":: else ->")
    lines += _indent(otherwise or ["skip;"])
    return lines + ["fi;"]


class _Writer:
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
            if name in FLAG_BITS:
                return f"((sg_flags & {FLAG_BITS[name]}) != 0)"
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
                options.append((f"ep[{i}].st == {self.f.state(state)}", [f"/* {state} */"] + self.chain(i, state, rules)))
        defaults = [f"n_{self.field[v.name]} = ep[{i}].{self.field[v.name]};" for v in self.spec.variables]
        return ["w_rule = NONE;"] + defaults + (_if(options) if options else [])

    def chain(self, i: int, state: str, rules) -> list[str]:
        (index, rule), rest = rules[0], rules[1:]
        guard = translate(rule.when, self.resolver(i, "w_isn"))
        body = [f"/* {rule.name} */"] + self.effects(i, state, index, rule)
        if guard == "1":
            return body
        return _if([(guard, body)], self.chain(i, state, rest) if rest else None)

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
            lines += _if([(translate(send.when, resolve), body)]) if send.when is not None else body
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
            lines += ["w_k = 0;", "do", ":: w_k < w_nout ->"] + _indent(store + [f"put({i});", "w_k++;"]) + [":: else -> break;", "od;"]
        lines.append(f"ep[{i}].st = w_st;")
        reset = [f"ep[{i}].{self.field[v.name]} = {literal(v.init)};" for v in self.spec.variables]
        kept = [f"ep[{i}].{self.field[v.name]} = n_{self.field[v.name]};" for v in self.spec.variables]
        if reset:
            lines += _if([(self.no_tcb("w_st"), reset)], kept)
        if self.timed:
            for k, duration in enumerate(self.f.durations):
                restart = _if([(f"ep[{i}].timer[{k}] < 0 || ((w_restart >> {k}) & 1)", [f"ep[{i}].timer[{k}] = {duration};"])])
                lines += _if([(f"!{self.running(k, f'ep[{i}]')}", [f"ep[{i}].timer[{k}] = -1;"])], restart)
        return lines + self.invariant()

    def ghost(self, i: int, kind: str, event: str) -> list[str]:
        """properties.Observer.advance for this step."""
        ep = f"ep[{i}]"
        rst_sent = " || ".join(f"(w_nout > {n} && (w_out[{n}].flags & {RST}) != 0)" for n in range(self.f.max_sends)) or "0"
        if kind == "segment":
            orderly = f"(sg_flags & {RST | SYN}) == 0"
        elif kind == "timer" and event == "TIME-WAIT TIMEOUT":
            orderly = "1"
        else:
            orderly = ""
        ended = _if([(f"!{self.no_tcb(f'{ep}.st')}", [f"{ep}.ended = 0;"])])
        if orderly:
            ended = _if([(f"{self.among(f'{ep}.st', self.f.orderly_ends)} && !({rst_sent}) && {orderly}", [f"{ep}.ended = {ep}.opens;"])], ended)
        deleted = ended + [f"{ep}.peer_gen = 0;", f"{ep}.passive_closer = 0;", f"{ep}.delivered = 0;"]
        if kind == "call" and event == "CLOSE" and self.f.close_wait >= 0:
            other = _if([(f"{ep}.st == {self.f.close_wait}", [f"{ep}.passive_closer = 1;"])])
        elif kind == "segment":
            other = _if([(self.among(f"{ep}.st", self.f.opening), [f"{ep}.peer_gen = sg_gen;", f"{ep}.ended = 0;"])], self.octets(i))
        else:
            other = []
        return _if([(self.no_tcb("w_st"), deleted)], other)

    def octets(self, i: int) -> list[str]:
        """properties._octets_delivered, added to the ghost count of octets delivered."""
        old, new = f"ep[{i}].{self.field['RCV.NXT']}", f"n_{self.field['RCV.NXT']}"
        count = _if([("w_t > 0", [f"w_t = ep[{i}].delivered + w_t;", "assert(w_t < 256);", f"ep[{i}].delivered = w_t;"])])
        advanced = [
            "w_first = sg_seq + ((sg_flags >> 1) & 1);",
            *_if([(f"SEQ_LE(w_first, {old})", [f"w_start = {old};"])], ["w_start = w_first;"]),
            "w_stop = w_first + sg_data;",
            *_if([(f"SEQ_LE(w_stop, {new})", [])], [f"w_stop = {new};"]),
            "w_t = w_stop - w_start;",
            *count,
        ]
        return [f"w_t = {new} - {old};"] + _if([("w_t > 0", advanced)])

    def invariant(self) -> list[str]:
        established = self.f.established
        if established < 0:
            return []
        iss, irs = self.field["ISS"], self.field["IRS"]
        both = f"ep[0].st == {established} && ep[1].st == {established}"
        agree = f"ep[0].{irs} == ep[1].{iss} && ep[1].{irs} == ep[0].{iss}"
        return [f"assert(!({both}) || ({agree}));  /* handshake_agreement */"]

    # ------------------------------------------------------------ the options of the loop

    def calls(self, i: int) -> list[list[str]]:
        scenario, ep = self.scenario, f"ep[{i}]"
        opening = f"{ep}.st == {self.f.initial} && {ep}.opens < {scenario.incarnations}"
        if scenario.quiet_time:
            opening += f" && ch[{i}].n == 0"
        options = []
        for event in self.f.open_events(i):
            guard = f"{opening} && {self.enabled(i, event, self.isn(i, f'{ep}.opens + 1', True), [self.spec.initial])}"
            user = [f"{ep}.opens = {ep}.opens + 1;", f"{ep}.sent = 0;", f"{ep}.closed = 0;"]
            options.append(self.call(i, event, guard, user, CAUSE_CALL))
        conditions = {"SEND": (f"!{ep}.sent && {ep}.closed == 0", [f"{ep}.sent = 1;"], CAUSE_CALL),
                      "CLOSE": (f"{ep}.closed == 0", [f"{ep}.closed = {CLOSED_BY_CLOSE};"], CAUSE_CALL),
                      "ABORT": (f"{ep}.closed != {CLOSED_BY_ABORT}", [f"{ep}.closed = {CLOSED_BY_ABORT};"], CAUSE_ABORT)}
        for event in self.f.other_calls():
            condition, user, cause = conditions[event]
            if self.f.handled(event):
                guard = f"!({opening}) && {ep}.opens > 0 && {condition} && {self.enabled(i, event, self.isn(i, f'{ep}.opens', True))}"
                options.append(self.call(i, event, guard, user, cause))
        return options

    def call(self, i: int, event: str, guard: str, user: list[str], cause: int) -> list[str]:
        body = user + [f"w_isn = {self.isn(i, f'ep[{i}].opens', True)};"] + self.dispatch(i, event) + self.apply(i, "call", event, cause)
        return self.option(f"{'AB'[i]} calls {event}", guard, body)

    def timers(self, i: int) -> list[list[str]]:
        options = []
        for k, event in enumerate(self.f.timer_events):
            due = f"{self.running(k, f'ep[{i}]')} && ep[{i}].timer[{k}] == 0" if self.timed else self.untimed_due(i, k)
            isn = self.isn(i, f"ep[{i}].opens")
            guard = f"{due} && (ch[{i}].n < CAP || !{self.sends_something(i, event, isn)})"
            body = [f"w_isn = {isn};"] + self.dispatch(i, event) + ["assert(w_rule != NONE);  /* no rule handles this timeout */",
                                                                  f"w_restart = w_restart | {1 << k};"] + self.apply(i, "timer", event, CAUSE_TIMER)
            options.append(self.option(f"{event} at {'AB'[i]}", guard, body))
        return options

    def untimed_due(self, i: int, k: int) -> str:
        running, mode = self.running(k, f"ep[{i}]"), self.f.untimed[k]
        if mode == "any":
            return running
        quiet = "ch[0].n == 0 && ch[1].n == 0"
        if mode == "quiet":
            return f"{running} && {quiet}"
        pending = [self.running(j, f"ep[{1 - i}]") for j, m in enumerate(self.f.untimed) if m != "drained"]
        return f"{running} && {quiet}" + (f" && !({' || '.join(pending)})" if pending else "")

    def deliveries(self, c: int) -> list[list[str]]:
        """Deliver a segment of channel c. When the network reorders, which one is a choice
        (``dpos``) made first in an atomic sequence, so the receiver's rules are written once per
        channel rather than once per position: fewer lines for gcc, the same transitions."""
        receiver = 1 - c
        isn = self.isn(receiver, f"ep[{receiver}].opens")
        several = self.reordering and self.scenario.capacity > 1
        p = "dpos" if several else "0"
        slot = f"ch[{c}].s[{p}]"
        reset = ["dpos = 0;"] if several else []
        deliver = self.dispatch(receiver, SEGMENT) + ["assert(w_rule != NONE);  /* no rule handles this segment */"]
        deliver += self.apply(receiver, "segment", SEGMENT, CAUSE_SEGMENT)
        plain = [f"take({c}, {p});", f"w_isn = {isn};"] + deliver + reset
        absolute = f"(ch[{c}].s[{p}].cause & {ABSOLUTE_SEQ})"
        if self.f.has_absolute:
            look = [f"sg_{f} = {slot}.{f};" for f in self.fields] + [f"w_isn = {isn};"] + self.candidates_of(receiver) + self.visit(receiver)
            pick = ["if"] + [f":: ((vmask[{b // 31}] >> {b % 31}) & 1) -> w_vsel = {b};" for b in range(self.candidates)] + ["fi;"]
            chosen = [f"take({c}, {p});", f"w_isn = {isn};"] + self.candidates_of(receiver) + ["sg_seq = w_cand[w_vsel];"] + deliver
            chosen += [f"vmask[{m}] = 0;" for m in range(self.masks)] + reset
            views = ["d_step {"] + _indent(look) + ["}"] + pick + ["d_step {"] + _indent(chosen) + ["}"]
        if not several:
            guard = f"ch[{c}].n > 0"
            if not self.f.has_absolute:
                return [self.option(f"deliver ch[{c}].s[0]", guard, plain)]
            lines = ["/* deliver ch[%d].s[0], an absolute SEQ: once per distinct outcome */" % c, "atomic {"]
            lines += _indent([f"{guard} && {absolute} != 0;"] + views) + ["}"]
            return [self.option(f"deliver ch[{c}].s[0]", f"{guard} && {absolute} == 0", plain), lines]
        choose = ["if", ":: dpos = 0;"] + [f":: ch[{c}].n > {q} && !({self.same(c, q, q - 1)}) -> dpos = {q};" for q in range(1, self.scenario.capacity)]
        kinds = _if([(f"{absolute} == 0", ["d_step {"] + _indent(plain) + ["}"])], views) if self.f.has_absolute else ["d_step {"] + _indent(plain) + ["}"]
        lines = [f"/* deliver a segment of ch[{c}] (each distinct one; an absolute SEQ once per distinct outcome) */", "atomic {"]
        return [lines + _indent([f"ch[{c}].n > 0;"] + choose + ["fi;"] + kinds) + ["}"]]

    def candidates_of(self, i: int) -> list[str]:
        """seqnum.representatives: each anchor plus each offset, and the literal (sg_seq)."""
        lines, n = [], 0
        for name in self.f.seq_variables:
            for offset in self.f.offsets:
                lines.append(f"w_cand[{n}] = ep[{i}].{self.field[name]} + {literal(offset)};")
                n += 1
        return lines + [f"w_cand[{n}] = sg_seq;"]

    def visit(self, i: int) -> list[str]:
        """Visit the distinct candidates in increasing (unsigned) order; mark each whose outcome is new."""
        smallest = ["w_best = -1;", "w_k = 0;", "do", ":: w_k < NCAND ->"]
        smallest += _indent(_if([("(!w_visited || UNS(w_cand[w_k]) > UNS(w_last)) && (w_best < 0 || UNS(w_cand[w_k]) < UNS(w_cand[w_best]))", ["w_best = w_k;"])]) + ["w_k++;"])
        smallest += [":: else -> break;", "od;"]
        same = ["w_hits[w_h].rule == w_rule", "w_hits[w_h].nst == w_st", "w_hits[w_h].nout == w_nout"]
        tcb = " && ".join(f"w_hits[w_h].v[{n}] == n_{self.field[v.name]}" for n, v in enumerate(self.spec.variables)) or "1"
        same.append(f"({self.no_tcb('w_st')} || ({tcb}))")
        for n in range(self.f.max_sends):
            fields = " && ".join(f"w_hits[w_h].out[{n}].{f} == w_out[{n}].{f}" for f in ("flags", "seq", "ack", "data"))
            same.append(f"(w_nout <= {n} || ({fields}))")
        store = ["w_hits[w_nhits].rule = w_rule;", "w_hits[w_nhits].nst = w_st;", "w_hits[w_nhits].nout = w_nout;"]
        store += [f"w_hits[w_nhits].v[{n}] = n_{self.field[v.name]};" for n, v in enumerate(self.spec.variables)]
        store += [f"w_hits[w_nhits].out[{n}].{f} = w_out[{n}].{f};" for n in range(self.f.max_sends) for f in ("flags", "seq", "ack", "data")]
        store += ["w_nhits++;", "vmask[w_best / 31] = vmask[w_best / 31] | (1 << (w_best % 31));"]
        body = smallest + _if([("w_best < 0", ["break;"])]) + ["w_last = w_cand[w_best];", "w_visited = 1;", "sg_seq = w_last;"]
        body += self.dispatch(i, SEGMENT) + ["assert(w_rule != NONE);  /* no rule handles this segment */", "w_fresh = 1;", "w_h = 0;"]
        body += ["do", ":: w_h < w_nhits ->"] + _indent(_if([(" && ".join(same), ["w_fresh = 0;"])]) + ["w_h++;"]) + [":: else -> break;", "od;"]
        body += _if([("w_fresh", store)])
        return ["w_nhits = 0;", "w_visited = 0;", "do", ":: true ->"] + _indent(body) + ["od;"]

    def network(self, c: int) -> list[list[str]]:
        options = []
        for p in range(self.scenario.capacity):
            slot = f"ch[{c}].s[{p}]"
            earlier = [self.same(c, p, q) for q in ([p - 1] if self.reordering else range(p)) if q >= 0]
            fresh = f"ch[{c}].n > {p}" + "".join(f" && !({e})" for e in earlier)
            if self.scenario.loss:
                options.append(self.option(f"lose {slot}", fresh, [f"remove({c}, {p});"]))
            if self.scenario.duplication:
                copy = [f"nw_{f} = {slot}.{f};" for f in self.fields] + [f"put({c});"]
                options.append(self.option(f"duplicate {slot}", f"{fresh} && ch[{c}].n < CAP", copy))
        return options

    def tick(self) -> list[list[str]]:
        timers = [f"ep[{i}].timer[{k}]" for i in (0, 1) for k in range(len(self.spec.timers))]
        guard = " && ".join([f"{t} != 0" for t in timers] + ["(" + " || ".join([f"{t} > 0" for t in timers] + ["ch[0].n > 0", "ch[1].n > 0"]) + ")"])
        body = []
        for t in timers:
            body += _if([(f"{t} > 0", [f"{t} = {t} - 1;"])])
        for c in (0, 1):
            keep = ["w_t = ch[%d].s[w_j].age + 1;" % c] + self.move(f"ch[{c}].s[w_k]", f"ch[{c}].s[w_j]") + [f"ch[{c}].s[w_k].age = w_t;", "w_k++;"]
            body += ["w_j = 0;", "w_k = 0;", "do", f":: w_j < ch[{c}].n ->"]
            body += _indent(_if([(f"ch[{c}].s[w_j].age + 1 < {self.scenario.msl}", keep)]) + ["w_j++;"]) + [":: else -> break;", "od;"]
            body += ["w_j = w_k;", "do", f":: w_j < ch[{c}].n ->"] + _indent(self.clear(f"ch[{c}].s[w_j]") + ["w_j++;"]) + [":: else -> break;", "od;"]
            body.append(f"ch[{c}].n = w_k;")
        return [self.option("tick: segments age, timers count down", guard, body)]

    def option(self, title: str, guard: str, body: list[str]) -> list[str]:
        return [f"/* {title} */", "d_step {"] + _indent([f"{guard} ->"] + body) + ["}"]

    # ------------------------------------------------------------ channels

    def same(self, c: int, p: int, q: int) -> str:
        return " && ".join(f"ch[{c}].s[{p}].{f} == ch[{c}].s[{q}].{f}" for f in self.fields)

    def move(self, to: str, source: str) -> list[str]:
        return [f"{to}.{f} = {source}.{f};" for f in self.fields]

    def clear(self, slot: str) -> list[str]:
        return [f"{slot}.{f} = 0;" for f in self.fields]

    def new_before(self, slot: str) -> str:
        """The segment in nw_* sorts before ``slot`` (Python's tuple order; 32-bit numbers unsigned)."""
        expression = "0"
        for f in reversed(self.fields):
            new, old = (f"UNS(nw_{f})", f"UNS({slot}.{f})") if f in ("seq", "ack") else (f"nw_{f}", f"{slot}.{f}")
            expression = f"({new} < {old} || (nw_{f} == {slot}.{f} && {expression}))" if expression != "0" else f"({new} < {old})"
        return expression

    def inlines(self) -> list[str]:
        store = [f"ch[c].s[w_j].{f} = nw_{f};" for f in self.fields]
        put = ["inline put(c) {", "   /* system.System._put: append; a full queue drops the segment; sorted if the network reorders */"]
        body = ["w_j = ch[c].n;"]
        if self.reordering:
            body += ["do", f":: w_j > 0 && {self.new_before('ch[c].s[w_j - 1]')} ->"]
            body += _indent(self.move("ch[c].s[w_j]", "ch[c].s[w_j - 1]") + ["w_j--;"]) + [":: else -> break;", "od;"]
        put += _indent(_if([("ch[c].n < CAP", body + store + ["ch[c].n++;"])])) + ["}"]
        remove = ["inline remove(c, p) {", "   w_j = p;", "   do", "   :: w_j + 1 < ch[c].n ->"]
        remove += _indent(self.move("ch[c].s[w_j]", "ch[c].s[w_j + 1]") + ["w_j++;"], "      ") + ["   :: else -> break;", "   od;"]
        remove += _indent(self.clear("ch[c].s[ch[c].n - 1]") + ["ch[c].n--;"]) + ["}"]
        take = ["inline take(c, p) {"] + _indent([f"sg_{f} = ch[c].s[p].{f};" for f in self.fields] + ["remove(c, p);"]) + ["}"]
        return put + [""] + remove + [""] + take

    # ------------------------------------------------------------ the whole model

    def declarations(self) -> list[str]:
        spec, scenario = self.spec, self.scenario
        incarnations = _bits(scenario.incarnations)
        segment = ["int seq;", "int ack;", "unsigned flags : 5;", "unsigned data : 8;", f"unsigned gen : {incarnations};", "unsigned cause : 3;"]
        if self.timed:
            segment.append(f"unsigned age : {_bits(scenario.msl)};")
        endpoint = [f"int {self.field[v.name]} = {literal(v.init)};" for v in spec.variables if v.type != BOOL]
        if self.timed and spec.timers:
            endpoint.append(f"short timer[{len(spec.timers)}] = -1;")
        endpoint += [f"unsigned {self.field[v.name]} : 1 = {v.init};" for v in spec.variables if v.type == BOOL]
        endpoint += [f"unsigned st : {_bits(len(spec.states) - 1)} = {self.f.initial};", f"unsigned opens : {incarnations};", "unsigned sent : 1;",
                     "unsigned closed : 2;", f"unsigned peer_gen : {incarnations};", "unsigned passive_closer : 1;",
                     "unsigned delivered : 8;", f"unsigned ended : {incarnations};"]
        lines = ["typedef Segment {"] + _indent(segment) + ["}", "", "typedef Channel {"]
        lines += _indent(["Segment s[CAP];", f"unsigned n : {_bits(scenario.capacity)};"]) + ["}", ""]
        lines += ["typedef Endpoint {  /* the TCB, the user's script, the timers, the observer's ghost fields */"] + _indent(endpoint) + ["}", ""]
        sends = max(1, self.f.max_sends)
        if self.f.has_absolute:
            hit = ["int rule;", "int nst;", "int nout;", f"int v[{max(1, len(spec.variables))}];", f"Segment out[{sends}];"]
            lines += ["typedef Outcome {  /* what a rule did: for telling the outcomes of an absolute SEQ apart */"] + _indent(hit) + ["}", ""]
        lines += ["Endpoint ep[2];", "Channel ch[2];  /* ch[0] carries A to B, ch[1] B to A */"]
        if self.f.has_absolute:
            lines.append(f"int vmask[{self.masks}];  /* zero in every stored state */")
        if self.reordering and scenario.capacity > 1:
            lines.append("byte dpos;  /* the position a delivery takes from: zero in every stored state */")
        scratch = ["int w_rule;", "int w_st;", "int w_restart;", "int w_nout;", "int w_isn;", "int w_t;", "int w_j;", "int w_k;", "int w_first;", "int w_start;", "int w_stop;",
                   "int sg_seq;", "int sg_ack;", "int sg_flags;", "int sg_data;", "int sg_gen;", "int sg_cause;", "int sg_age;",
                   "int nw_seq;", "int nw_ack;", "int nw_flags;", "int nw_data;", "int nw_gen;", "int nw_cause;", "int nw_age;",
                   f"Segment w_out[{sends}];"] + [f"int n_{self.field[v.name]};" for v in spec.variables]
        if self.f.has_absolute:
            scratch += ["int w_h;", "int w_best;", "int w_last;", "int w_visited;", "int w_fresh;", "int w_nhits;", "int w_vsel;",
                        "int w_cand[NCAND];", "Outcome w_hits[NCAND];"]
        return lines + [""] + ["hidden " + s for s in scratch]

    def model(self) -> str:
        scenario = self.scenario
        options = []
        for i in (0, 1):
            options += self.calls(i) + self.timers(i)
        for c in (0, 1):
            options += self.deliveries(c) + self.network(c)
        if self.timed:
            options += self.tick()
        body = ["active proctype tcp() {", "end:", "   do"]
        for option in options:
            body += ["   :: " + option[0]] + _indent(option[1:], "      ")
        body += ["   od", "}"]
        header = [
            f"/* {self.spec.name}: {self.spec.title}, exported by tcpmodel for Spin.",
            f"   command:  {self.command}",
            f"   scenario: {scenario_summary(scenario)}",
            "",
            "   The reachable state space is the one `tcpmodel check` explores with the same scenario",
            "   options. Run with full state storage:",
            f"     spin -a {self.spec.name}.pml && gcc -O2 -fwrapv -DNOREDUCE -DSAFETY -o pan pan.c && ./pan -m100000",
            "   (raise -m if pan says the search depth is too small). Spin's \"states, stored\" is tcpmodel's",
            "   states; its \"transitions\" is tcpmodel's transitions + 1",
            "   (Spin counts the initial state as a transition). -fwrapv is required: sequence numbers wrap",
            "   at 2**32 as 32-bit ints. */",
            "",
            f"#define CAP {scenario.capacity}",
            "#define NONE (-1)",
            f"#define NCAND {self.candidates}",
            MACROS,
            "",
        ]
        return "\n".join(header + self.declarations() + [""] + self.inlines() + [""] + body) + "\n"


def scenario_summary(scenario) -> str:
    return ", ".join(f"{k}={v}" for k, v in scenario.describe().items())
