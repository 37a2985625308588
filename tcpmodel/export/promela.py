"""The compiled system as a Promela model whose reachable state space Spin counts as tcpmodel does.

How the model is built, and why Spin's counts then equal ``tcpmodel check``'s:

- One process runs one ``do`` loop. Each transition the explorer yields (system/composed.py: a user call,
  a timer, a segment delivered, lost or duplicated, a tick) is one option of the loop, executed as
  one ``d_step``: Spin stores no state inside it and counts it as one transition. Spin's "states,
  stored" is tcpmodel's state count; its "transitions (= stored+matched)" counts the initial state
  as well, so it is tcpmodel's transition count plus one.
- An option's guard is its enabling condition exactly as system/composed.py has it: a call whose rules
  all refuse is no transition; a timer whose rule would send into a full channel waits; of two
  equal segments in a channel only the first is delivered, lost or duplicated. A step the spec
  does not handle (system/composed.py raises SpecError) is an ``assert(false)`` here.
- The rules are translated, not tabulated: for each (endpoint, event) the rules of every state
  are tried in spec order (``promelaexpr`` gives their guards and effects in 32-bit arithmetic).
- A segment with an absolute SEQ (<SEQ=0><CTL=RST,ACK>) is delivered once per distinct outcome
  over the representatives of ``seqnum.representatives``, visited in increasing order as
  ``System._seen_as`` does. Such a delivery is an ``atomic`` sequence: a ``d_step`` computes which
  representatives give a new outcome (a bit each in ``vmask``), a nondeterministic ``if`` picks
  one, a ``d_step`` delivers it and clears ``vmask``. Spin stores no state inside an atomic
  sequence either, and ``vmask`` is zero in every stored state.
- State: two ``Endpoint`` records (the TCB, the user's script, the timers, the observer's ghost
  fields of checking/properties.py) and two ``Channel`` records (segments with their ghost incarnation,
  cause and age; unused slots zero; sorted as Python sorts tuples when the network reorders, so
  a channel is a multiset). Scratch variables are ``hidden``: outside the state vector.
- The invariant handshake_agreement is asserted after every endpoint step.
"""

from __future__ import annotations

from tcpmodel.export.common import (
    ABSOLUTE_SEQ,
    CAUSE_ABORT,
    CAUSE_CALL,
    CAUSE_SEGMENT,
    CAUSE_TIMER,
    CLOSED_BY_ABORT,
    CLOSED_BY_CLOSE,
    SystemFacts,
    comment,
)
from tcpmodel.export.promelaexpr import MACROS, literal
from tcpmodel.export.promelastep import StepWriter, bits, if_, indent
from tcpmodel.language.expressions import BOOL
from tcpmodel.language.spec import SEGMENT


def write_promela(facts: SystemFacts, command: str) -> str:
    return _Writer(facts, command).model()


class _Writer(StepWriter):
    """The model: declarations, the channel inlines, and one option of the loop per step."""

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
            views = ["d_step {"] + indent(look) + ["}"] + pick + ["d_step {"] + indent(chosen) + ["}"]
        if not several:
            guard = f"ch[{c}].n > 0"
            if not self.f.has_absolute:
                return [self.option(f"deliver ch[{c}].s[0]", guard, plain)]
            lines = [f"/* deliver ch[{c}].s[0], an absolute SEQ: once per distinct outcome */", "atomic {"]
            lines += indent([f"{guard} && {absolute} != 0;"] + views) + ["}"]
            return [self.option(f"deliver ch[{c}].s[0]", f"{guard} && {absolute} == 0", plain), lines]
        choose = ["if", ":: dpos = 0;"] + [f":: ch[{c}].n > {q} && !({self.same(c, q, q - 1)}) -> dpos = {q};" for q in range(1, self.scenario.capacity)]
        kinds = if_([(f"{absolute} == 0", ["d_step {"] + indent(plain) + ["}"])], views) if self.f.has_absolute else ["d_step {"] + indent(plain) + ["}"]
        lines = [f"/* deliver a segment of ch[{c}] (each distinct one; an absolute SEQ once per distinct outcome) */", "atomic {"]
        return [lines + indent([f"ch[{c}].n > 0;"] + choose + ["fi;"] + kinds) + ["}"]]

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
        smaller = "(!w_visited || UNS(w_cand[w_k]) > UNS(w_last)) && (w_best < 0 || UNS(w_cand[w_k]) < UNS(w_cand[w_best]))"
        smallest += indent(if_([(smaller, ["w_best = w_k;"])]) + ["w_k++;"])
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
        body = smallest + if_([("w_best < 0", ["break;"])]) + ["w_last = w_cand[w_best];", "w_visited = 1;", "sg_seq = w_last;"]
        body += self.dispatch(i, SEGMENT) + ["assert(w_rule != NONE);  /* no rule handles this segment */", "w_fresh = 1;", "w_h = 0;"]
        body += ["do", ":: w_h < w_nhits ->"] + indent(if_([(" && ".join(same), ["w_fresh = 0;"])]) + ["w_h++;"]) + [":: else -> break;", "od;"]
        body += if_([("w_fresh", store)])
        return ["w_nhits = 0;", "w_visited = 0;", "do", ":: true ->"] + indent(body) + ["od;"]

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
            body += if_([(f"{t} > 0", [f"{t} = {t} - 1;"])])
        for c in (0, 1):
            keep = [f"w_t = ch[{c}].s[w_j].age + 1;"] + self.move(f"ch[{c}].s[w_k]", f"ch[{c}].s[w_j]") + [f"ch[{c}].s[w_k].age = w_t;", "w_k++;"]
            body += ["w_j = 0;", "w_k = 0;", "do", f":: w_j < ch[{c}].n ->"]
            body += indent(if_([(f"ch[{c}].s[w_j].age + 1 < {self.scenario.msl}", keep)]) + ["w_j++;"]) + [":: else -> break;", "od;"]
            body += ["w_j = w_k;", "do", f":: w_j < ch[{c}].n ->"] + indent(self.clear(f"ch[{c}].s[w_j]") + ["w_j++;"]) + [":: else -> break;", "od;"]
            body.append(f"ch[{c}].n = w_k;")
        return [self.option("tick: segments age, timers count down", guard, body)]

    def option(self, title: str, guard: str, body: list[str]) -> list[str]:
        return [f"/* {comment(title)} */", "d_step {"] + indent([f"{guard} ->"] + body) + ["}"]

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
            body += indent(self.move("ch[c].s[w_j]", "ch[c].s[w_j - 1]") + ["w_j--;"]) + [":: else -> break;", "od;"]
        put += indent(if_([("ch[c].n < CAP", body + store + ["ch[c].n++;"])])) + ["}"]
        remove = ["inline remove(c, p) {", "   w_j = p;", "   do", "   :: w_j + 1 < ch[c].n ->"]
        remove += indent(self.move("ch[c].s[w_j]", "ch[c].s[w_j + 1]") + ["w_j++;"], "      ") + ["   :: else -> break;", "   od;"]
        remove += indent(self.clear("ch[c].s[ch[c].n - 1]") + ["ch[c].n--;"]) + ["}"]
        take = ["inline take(c, p) {"] + indent([f"sg_{f} = ch[c].s[p].{f};" for f in self.fields] + ["remove(c, p);"]) + ["}"]
        return put + [""] + remove + [""] + take

    # ------------------------------------------------------------ the whole model

    def declarations(self) -> list[str]:
        spec, scenario = self.spec, self.scenario
        incarnations = bits(scenario.incarnations)
        segment = ["int seq;", "int ack;", "unsigned flags : 5;", "unsigned data : 8;", f"unsigned gen : {incarnations};", "unsigned cause : 3;"]
        if self.timed:
            segment.append(f"unsigned age : {bits(scenario.msl)};")
        endpoint = [f"int {self.field[v.name]} = {literal(v.init)};" for v in spec.variables if v.type != BOOL]
        if self.timed and spec.timers:
            endpoint.append(f"short timer[{len(spec.timers)}] = -1;")
        endpoint += [f"unsigned {self.field[v.name]} : 1 = {v.init};" for v in spec.variables if v.type == BOOL]
        endpoint += [f"unsigned st : {bits(len(spec.states) - 1)} = {self.f.initial};", f"unsigned opens : {incarnations};", "unsigned sent : 1;",
                     "unsigned closed : 2;", f"unsigned peer_gen : {incarnations};", "unsigned passive_closer : 1;",
                     "unsigned delivered : 8;", f"unsigned ended : {incarnations};"]
        lines = ["typedef Segment {"] + indent(segment) + ["}", "", "typedef Channel {"]
        lines += indent(["Segment s[CAP];", f"unsigned n : {bits(scenario.capacity)};"]) + ["}", ""]
        lines += ["typedef Endpoint {  /* the TCB, the user's script, the timers, the observer's ghost fields */"] + indent(endpoint) + ["}", ""]
        sends = max(1, self.f.max_sends)
        if self.f.has_absolute:
            hit = ["int rule;", "int nst;", "int nout;", f"int v[{max(1, len(spec.variables))}];", f"Segment out[{sends}];"]
            lines += ["typedef Outcome {  /* what a rule did: for telling the outcomes of an absolute SEQ apart */"] + indent(hit) + ["}", ""]
        lines += ["Endpoint ep[2];", "Channel ch[2];  /* ch[0] carries A to B, ch[1] B to A */"]
        if self.f.has_absolute:
            lines.append(f"int vmask[{self.masks}];  /* zero in every stored state */")
        if self.reordering and scenario.capacity > 1:
            lines.append("byte dpos;  /* the position a delivery takes from: zero in every stored state */")
        scratch = ["int w_rule;", "int w_st;", "int w_restart;", "int w_nout;", "int w_isn;", "int w_t;", "int w_j;", "int w_k;", "int w_first;",
                   "int w_start;", "int w_stop;",
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
            body += ["   :: " + option[0]] + indent(option[1:], "      ")
        body += ["   od", "}"]
        header = [
            f"/* {comment(self.spec.name)}: {comment(self.spec.title)}, exported by tcpmodel for Spin.",
            f"   command:  {comment(self.command)}",
            f"   scenario: {scenario_summary(scenario)}",
            "",
            "   The reachable state space is the one `tcpmodel check` explores with the same scenario",
            "   options. Run with full state storage:",
            f"     spin -a {comment(self.spec.name)}.pml && gcc -O2 -fwrapv -DNOREDUCE -DSAFETY -o pan pan.c && ./pan -m100000",
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
