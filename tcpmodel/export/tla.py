"""The compiled system as a TLA+ module and a TLC configuration with the same reachable states.

The module mirrors the Promela export (export/promela.py) and system/composed.py step for step: one action per
kind of step, each enabled exactly where the explorer yields a transition, so TLC's "distinct
states found" is tcpmodel's state count. TLC's "states generated" counts the initial state and
every successor it computes, so it should be tcpmodel's transitions + 1; only the distinct states
are compared (the benchmark reports both). TLC is not installed here: the text is checked for
structure by the tests, and was never run through TLC by them.

Representation, and why:

- TLC's integers are 32-bit and it reports an overflow rather than wrapping, so a sequence number
  is its 32-bit pattern as a signed number (4294967294 is -2) and ``Add32`` / ``Sub32`` wrap
  without ever computing a number outside the 32-bit range. ``SeqLt``, ``SeqLe``, ``InWindow``
  and the unsigned ``ULt`` follow from them as in export/promelaexpr.py.
- States are strings (``"SYN-SENT"``); the TCB is a record of the spec's variables; an endpoint
  adds the user's script, the timers and the observer's ghost fields (checking/properties.py).
- A FIFO channel is a sequence; a reordering channel is a bag (a function from segment records
  to counts), which is what the explorer's sorted tuple stands for.
- A segment with an absolute SEQ is seen at every representative of ``seqnum.representatives``;
  one transition per distinct outcome, taken at the unsigned-smallest representative that gives
  it (``System._seen_as``).
"""

from __future__ import annotations

import re

from tcpmodel.base.errors import InputError
from tcpmodel.base.flags import SPEC_FLAG_BITS
from tcpmodel.base.seqnum import HALF, MODULUS
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
    int32,
)
from tcpmodel.language import expressions as ex
from tcpmodel.language.spec import SEGMENT

RESERVED = {
    "ASSUME", "ASSUMPTION", "AXIOM", "CASE", "CHOOSE", "CONSTANT", "CONSTANTS", "DOMAIN", "ELSE", "ENABLED", "EXCEPT", "EXTENDS", "IF", "IN", "INSTANCE",
    "LET", "LOCAL", "MODULE", "OTHER", "SF_", "SUBSET", "THEN", "THEOREM", "UNCHANGED", "UNION", "VARIABLE", "VARIABLES", "WF_", "WITH", "BOOLEAN",
    "TRUE", "FALSE", "STRING",
    "tcb", "st", "opens", "sent", "closed", "timer", "peer_gen", "passive_closer", "delivered", "ended",  # and names the export gives its own variables
}
CALLS = {
    "seq_lt": "SeqLt({0}, {1})", "seq_le": "SeqLe({0}, {1})", "seq_gt": "SeqLt({1}, {0})", "seq_ge": "SeqLe({1}, {0})",
    "in_window": "InWindow({0}, {1}, {2})", "min": "(IF {0} <= {1} THEN {0} ELSE {1})", "max": "(IF {0} >= {1} THEN {0} ELSE {1})",
    "if": "(IF {0} THEN {1} ELSE {2})",
}
ARITHMETIC = r"""
MaxInt == 2147483647
MinInt == -2147483647 - 1
\* a + b and a - b modulo 2^32 on 32-bit patterns, never leaving TLC's 32-bit integers
Add32(a, b) == IF a >= 0 /\ b > MaxInt - a THEN (b - (MaxInt - a)) - 1 + MinInt
               ELSE IF a < 0 /\ b < MinInt - a THEN (b - (MinInt - a)) + MaxInt + 1
               ELSE a + b
Neg32(b) == IF b = MinInt THEN MinInt ELSE -b
Sub32(a, b) == Add32(a, Neg32(b))
SeqLt(a, b) == Sub32(b, a) > 0                 \* RFC 1982: false at distance 2^31
SeqLe(a, b) == Sub32(b, a) >= 0
InWindow(x, l, n) == Sub32(x, l) >= 0 /\ Sub32(x, l) < n
ULt(a, b) == IF (a < 0) = (b < 0) THEN a < b ELSE b < 0   \* unsigned a < b
ULe(a, b) == a = b \/ ULt(a, b)
Flag(f, bit) == (f \div bit) % 2 = 1
"""
CHANNELS_FIFO = r"""
Size(q) == Len(q)
Put(q, s) == IF Len(q) < CAP THEN Append(q, s) ELSE q   \* a full queue drops the segment
Deliverable(q) == IF q = <<>> THEN {} ELSE {Head(q)}
Taken(q, s) == Tail(q)
Fresh(q) == {p \in 1..Len(q) : \A r \in 1..(p - 1) : q[r] # q[p]}   \* first of equal segments
Lost(q, p) == SubSeq(q, 1, p - 1) \o SubSeq(q, p + 1, Len(q))
Copied(q, p) == Append(q, q[p])
Kept(s) == s.age + 1 < MSL
Aged(q) == LET alive == SelectSeq(q, Kept) IN [n \in 1..Len(alive) |-> [alive[n] EXCEPT !.age = @ + 1]]
"""
CHANNELS_BAG = r"""
\* a bag: a function from segments to how many copies are in flight
Size(b) == LET RECURSIVE Sum(_)
              Sum(D) == IF D = {} THEN 0 ELSE (LET x == CHOOSE x \in D : TRUE IN b[x] + Sum(D \ {x}))
          IN  Sum(DOMAIN b)
Added(b, s) == IF s \in DOMAIN b THEN [b EXCEPT ![s] = @ + 1] ELSE [x \in DOMAIN b \cup {s} |-> IF x = s THEN 1 ELSE b[x]]
Put(b, s) == IF Size(b) < CAP THEN Added(b, s) ELSE b   \* a full queue drops the segment
Deliverable(b) == DOMAIN b
Taken(b, s) == IF b[s] = 1 THEN [x \in DOMAIN b \ {s} |-> b[x]] ELSE [b EXCEPT ![s] = @ - 1]
Fresh(b) == DOMAIN b
Lost(b, s) == Taken(b, s)
Copied(b, s) == Added(b, s)
Aged(b) == [x \in {[y EXCEPT !.age = @ + 1] : y \in {z \in DOMAIN b : z.age + 1 < MSL}} |-> b[[x EXCEPT !.age = @ - 1]]]
"""


AND, OR = "/\\", "\\/"


def identifier(text: str) -> str:
    return re.sub(r"\W", "_", text)


def write_tla(facts: SystemFacts, command: str) -> dict[str, str]:
    """{module file: text, configuration file: text}."""
    writer = _Writer(facts, command)
    return {f"{writer.module}.tla": writer.module_text(), f"{writer.module}.cfg": writer.config()}


def string(text: str) -> str:
    """A TLA+ string constant holding ``text`` (state names are validated identifiers; escaped all the same)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Writer:
    def __init__(self, facts: SystemFacts, command: str):
        self.f, self.spec, self.scenario, self.command = facts, facts.spec, facts.scenario, command
        self.module = re.sub(r"\W", "_", self.spec.name)
        if not self.module[0].isalpha():
            self.module = "M" + self.module
        self.field: dict[str, str] = {}  # variable -> its field in TLA+
        for v in self.spec.variables:
            name = re.sub(r"\W", "_", v.name)
            if not name[0].isalpha() or name in RESERVED or name.startswith("n_"):
                name = "v_" + name
            if name in self.field.values():
                raise InputError(f'variables "{v.name}" and another both become "{name}" in TLA+: rename one')
            self.field[v.name] = name
        self.timed = self.scenario.timed

    # ------------------------------------------------------------ expressions

    def literal(self, value: int) -> str:
        value = int32(value)
        return "MinInt" if value == -HALF else str(value)

    def expr(self, node: ex.Node, primes: str = "n_") -> str:
        k = node.kind
        if k == "int":
            if not -HALF <= node.number < MODULUS:
                raise InputError(f"the literal {node.value} does not fit in 32 bits: the TLA+ export cannot hold it")
            return self.literal(node.number)
        if k == "bool":
            return "TRUE" if node.value else "FALSE"
        if k == "state":
            return f'"{node.value}"'
        if k == "name":
            return self.name(node.text, node.primed, primes)
        src = [self.expr(a, primes) for a in node.args]
        if k in ("and", "or"):
            return f"({src[0]} {AND if k == 'and' else OR} {src[1]})"
        if k == "not":
            return f"(~{src[0]})"
        if k == "neg":
            return f"(-{src[0]})"
        if k == "call":
            return CALLS[node.text].format(*src)
        a, b = node.args
        op = node.value
        if op == "+" and node.type == ex.SEQ:
            return f"Add32({src[0]}, {src[1]})"
        if op == "-" and (node.type == ex.SEQ or a.type == ex.SEQ):
            return f"Sub32({src[0]}, {src[1]})"
        if op in ("==", "!="):
            return f"({src[0]} {'=' if op == '==' else '#'} {src[1]})"
        if op in ("<", "<=", ">", ">=") and ex.SEQ in (a.type, b.type):
            left, right = (src[0], src[1]) if op in ("<", "<=") else (src[1], src[0])
            return f"{'ULt' if op in ('<', '>') else 'ULe'}({left}, {right})"
        return f"({src[0]} {op} {src[1]})"

    def name(self, name: str, primed: bool, primes: str) -> str:
        if name == "STATE":
            return "t.st"
        if name in self.field:
            return f"{primes}{self.field[name]}" if primed else f"t.{self.field[name]}"
        segment = {"SEG.SEQ": "s.seq", "SEG.ACK": "s.ack", "SEG.DATA": "s.data", "SEG.WND": str(self.f.window),
                   "SEG.LEN": "(s.data + (s.flags \\div 2) % 2 + s.flags % 2)"}
        if name in segment:
            return segment[name]
        if name in SPEC_FLAG_BITS:
            return f"Flag(s.flags, {SPEC_FLAG_BITS[name]})"
        if name == "ISN":
            return "isn"
        if name == "DATA":
            return str(self.scenario.data)
        return self.literal(self.spec.constants[name])

    # ------------------------------------------------------------ the rules

    def tcb(self, state: str, values: dict[str, str]) -> str:
        fields = [f"st |-> {string(state)}"] + [f"{self.field[v.name]} |-> {values[v.name]}" for v in self.spec.variables]
        return "[" + ", ".join(fields) + "]"

    def initial_values(self) -> dict[str, str]:
        return {v.name: ("TRUE" if v.init else "FALSE") if v.type == ex.BOOL else self.literal(v.init) for v in self.spec.variables}

    def outcome(self, index: int, rule, state: str) -> list[str]:
        assigned = dict(rule.effects)
        lets = [f"n_{self.field[v.name]} == {self.expr(assigned[v.name]) if v.name in assigned else 't.' + self.field[v.name]}"
                for v in self.spec.variables]
        target = rule.to or state
        values = self.initial_values() if target in self.spec.no_tcb else {v.name: f"n_{self.field[v.name]}" for v in self.spec.variables}
        sends = []
        for send in rule.sends:
            data = self.expr(send.data) if send.data is not None else "0"
            ack = self.expr(send.ack) if send.ack is not None else "0"
            absolute = "TRUE" if self.f.absolute(index, send.flags) else "FALSE"
            segment = f"<<[flags |-> {send.flags}, seq |-> {self.expr(send.seq)}, ack |-> {ack}, data |-> Length({data}), abs |-> {absolute}]>>"
            sends.append(f"(IF {self.expr(send.when)} THEN {segment} ELSE <<>>)" if send.when is not None else segment)
        restarts = "{" + ", ".join(str(1 + [t.name for t in self.spec.timers].index(n)) for n in rule.restarts) + "}"
        out = " \\o ".join(sends) or "<<>>"
        record = f"[rule |-> {index}, tcb |-> {self.tcb(target, values)}, out |-> {out}, rs |-> {restarts}]"
        return ([f"LET {lets[0]}"] + [f"    {x}" for x in lets[1:]] + [f"IN {record}"]) if lets else [record]

    def step(self, event: str) -> list[str]:
        """Step_EVENT(t, s, isn): the first rule that fires, as an outcome record, or NoRule."""
        arms = []
        for state in self.spec.states:
            rules = self.f.rules(state, event)
            if not rules:
                continue
            chain = ["NoRule"]
            for index, rule in reversed(rules):
                body = self.outcome(index, rule, state)
                guard = self.expr(rule.when)
                if guard == "TRUE":
                    chain = [f"\\* {comment(rule.name)}"] + body
                else:
                    chain = ([f"IF {guard} \\* {comment(rule.name)}", "THEN " + body[0]] + ["     " + b for b in body[1:]]
                             + ["ELSE " + chain[0]] + ["     " + c for c in chain[1:]])
            arms.append((f"t.st = {string(state)}", chain))
        name = f"Step_{identifier(event)}(t, s, isn)"
        if not arms:
            return [f"{name} == NoRule"]
        lines = [f"{name} =="]
        for n, (guard, chain) in enumerate(arms):
            lines.append(f"    {'CASE' if n == 0 else '  []'} {guard} ->")
            lines += [f"          {c}" for c in chain]
        return lines + ["      [] OTHER -> NoRule"]

    # ------------------------------------------------------------ actions

    def isn(self, i: int, opens: str) -> str:
        values = ", ".join(self.literal(self.f.isn(i, o)) for o in range(self.scenario.incarnations + 1))
        return f"<<{values}>>[{opens} + 1]"

    def after(self, i: int, e: str, h: str, kind: str, event: str, seen: str, restarts: str) -> str:
        """The endpoint after a step: the observer's ghost fields (Observer.advance), the TCB, the timers."""
        orderly = {"segment": f"~Flag({seen}.flags, 4) /\\ ~Flag({seen}.flags, 2)",
                   "timer": "TRUE" if self.f.time_wait_timer >= 0 and event == self.f.timer_events[self.f.time_wait_timer] else "FALSE",
                   }.get(kind, "FALSE")
        if kind == "segment":
            other = f"IF {e}.tcb.st \\in Opening THEN [{e} EXCEPT !.peer_gen = {seen}.gen, !.ended = 0] " \
                    f"ELSE [{e} EXCEPT !.delivered = @ + Octets({e}.tcb, {h}.tcb, {seen})]"
        elif kind == "call" and event == "CLOSE":
            close_wait = self.spec.states[self.f.close_wait] if self.f.close_wait >= 0 else None
            other = f"IF {e}.tcb.st = {string(close_wait)} THEN [{e} EXCEPT !.passive_closer = TRUE] ELSE {e}" if close_wait else e
        else:
            other = e
        ghost = f"(IF {h}.tcb.st \\in NoTcb THEN Deleted({e}, {h}, {orderly}) ELSE {other})"
        timers = f", !.timer = Retime({e}.timer, {h}.tcb, {restarts})" if self.timed else ""
        return f"[{ghost} EXCEPT !.tcb = {h}.tcb{timers}]"

    def calls(self, i: int) -> list[tuple[str, list]]:
        e, n = f"ep[{i + 1}]", i + 1
        opening = f"{e}.tcb.st = {string(self.spec.initial)} /\\ {e}.opens < {self.scenario.incarnations}"
        if self.scenario.quiet_time:
            opening += f" /\\ Size(ch[{n}]) = 0"
        actions = []
        for event in self.f.open_events(i):
            user = f"[{e} EXCEPT !.opens = @ + 1, !.sent = FALSE, !.closed = 0]"
            actions.append((f"{'AB'[i]}_{event}", [opening, self.call(i, event, user, CAUSE_CALL)]))
        conditions = {"SEND": (f"~{e}.sent /\\ {e}.closed = 0", f"[{e} EXCEPT !.sent = TRUE]", CAUSE_CALL),
                      "CLOSE": (f"{e}.closed = 0", f"[{e} EXCEPT !.closed = {CLOSED_BY_CLOSE}]", CAUSE_CALL),
                      "ABORT": (f"{e}.closed # {CLOSED_BY_ABORT}", f"[{e} EXCEPT !.closed = {CLOSED_BY_ABORT}]", CAUSE_ABORT)}
        for event in self.f.other_calls():
            if self.f.handled(event):
                condition, user, cause = conditions[event]
                actions.append((f"{'AB'[i]}_{event}", [f"~({opening})", f"{e}.opens > 0", condition, self.call(i, event, user, cause)]))
        return actions

    def call(self, i: int, event: str, user: str, cause: int) -> list[str]:
        n = i + 1
        return [f"LET u == {user}",
                f"    h == Step_{event}(u.tcb, NoSegment, {self.isn(i, 'u.opens')})",
                "IN  /\\ h.rule # -1",
                f"    /\\ ep' = [ep EXCEPT ![{n}] = {self.after(i, 'u', 'h', 'call', event, 'NoSegment', 'h.rs')}]",
                f"    /\\ ch' = [ch EXCEPT ![{n}] = PutAll(@, h.out, u.opens, {cause})]"]

    def timers(self, i: int) -> list[tuple[str, list]]:
        e, n, actions = f"ep[{i + 1}]", i + 1, []
        for k, event in enumerate(self.f.timer_events):
            running = f"Running{k + 1}({e}.tcb)"
            due = [running, f"{e}.timer[{k + 1}] = 0"] if self.timed else [running] + self.untimed_condition(i, k)
            isn = self.isn(i, f"{e}.opens")
            restarts = "h.rs \\cup {%d}" % (k + 1)  # noqa: UP031 - the braces are TLA+'s
            body = [f"LET h == Step_{identifier(event)}({e}.tcb, NoSegment, {isn})",
                    f'IN  /\\ Assert(h.rule # -1, "no rule handles {event}")',
                    f"    /\\ h.out = <<>> \\/ Size(ch[{n}]) < CAP   \\* a retransmission waits for room",
                    f"    /\\ ep' = [ep EXCEPT ![{n}] = {self.after(i, e, 'h', 'timer', event, 'NoSegment', restarts)}]",
                    f"    /\\ ch' = [ch EXCEPT ![{n}] = PutAll(@, h.out, {e}.opens, {CAUSE_TIMER})]"]
            actions.append((f"{'AB'[i]}_{identifier(event)}", due + [body]))
        return actions

    def untimed_condition(self, i: int, k: int) -> list[str]:
        mode = self.f.untimed[k]
        if mode == "any":
            return []
        quiet = ["Size(ch[1]) = 0", "Size(ch[2]) = 0"]
        if mode == "quiet":
            return quiet
        pending = [f"Running{j + 1}(ep[{2 - i}].tcb)" for j, m in enumerate(self.f.untimed) if m != "drained"]
        return quiet + (["~(" + f" {OR} ".join(pending) + ")"] if pending else [])

    def deliver(self, c: int) -> tuple[str, list]:
        r, n = 1 - c, c + 1
        e = f"ep[{r + 1}]"
        isn = self.isn(r, f"{e}.opens")
        return (f"deliver_{'AB'[c]}{'AB'[r]}", [[
            f"\\E s \\in Deliverable(ch[{n}]) : \\E v \\in Views({e}.tcb, s, {isn}) :",
            "    LET seen == [s EXCEPT !.seq = v]",
            f"        h == Step_SEGMENT({e}.tcb, seen, {isn})",
            '    IN  /\\ Assert(h.rule # -1, "no rule handles this segment")',
            f"        /\\ ep' = [ep EXCEPT ![{r + 1}] = {self.after(r, e, 'h', 'segment', SEGMENT, 'seen', 'h.rs')}]",
            f"        /\\ ch' = [ch EXCEPT ![{n}] = Taken(@, s), ![{r + 1}] = PutAll(@, h.out, {e}.opens, {CAUSE_SEGMENT})]"]])

    def network(self, c: int) -> list[tuple[str, list]]:
        n, way, actions = c + 1, "AB" if c == 0 else "BA", []
        if self.scenario.loss:
            actions.append((f"lose_{way}", [f"\\E p \\in Fresh(ch[{n}]) : ch' = [ch EXCEPT ![{n}] = Lost(@, p)]", "UNCHANGED ep"]))
        if self.scenario.duplication:
            actions.append((f"duplicate_{way}", [f"Size(ch[{n}]) < CAP", f"\\E p \\in Fresh(ch[{n}]) : ch' = [ch EXCEPT ![{n}] = Copied(@, p)]",
                                                 "UNCHANGED ep"]))
        return actions

    def tick(self) -> list[tuple[str, list]]:
        count = len(self.spec.timers)
        timers = [f"ep[{i}].timer[{k}]" for i in (1, 2) for k in range(1, count + 1)]
        countdown = (f"[i \\in 1..2 |-> [ep[i] EXCEPT !.timer = [k \\in 1..{count} |-> "
                     "IF ep[i].timer[k] > 0 THEN ep[i].timer[k] - 1 ELSE ep[i].timer[k]]]]")
        counting = "(" + f" {OR} ".join([f"{t} > 0" for t in timers] + ["Size(ch[1]) > 0", "Size(ch[2]) > 0"]) + ")"
        return [("tick", [f"{t} # 0" for t in timers] + [counting, f"ep' = {countdown}", "ch' = <<Aged(ch[1]), Aged(ch[2])>>"])]

    # ------------------------------------------------------------ the module

    def definitions(self) -> list[str]:
        facts, spec = self.f, self.spec
        seg = "[flags |-> 0, seq |-> 0, ack |-> 0, data |-> 0, gen |-> 0, cause |-> 0" + (", age |-> 0]" if self.timed else "]")
        timers = f", timer |-> <<{', '.join('-1' for _ in spec.timers)}>>" if self.timed else ""
        endpoint = (f"[tcb |-> {self.tcb(spec.initial, self.initial_values())}, opens |-> 0, sent |-> FALSE, closed |-> 0{timers}, "
                    "peer_gen |-> 0, passive_closer |-> FALSE, delivered |-> 0, ended |-> 0]")
        age = ", age |-> 0" if self.timed else ""
        lines = [
            "NoRule == [rule |-> -1]",
            f"NoSegment == {seg}",
            "NoTcb == {" + ", ".join(string(s) for s in spec.no_tcb) + "}",
            "Opening == {" + ", ".join(string(spec.states[s]) for s in facts.opening) + "}",
            "OrderlyEnds == {" + ", ".join(string(spec.states[s]) for s in facts.orderly_ends) + "}",
            "Offsets == {" + ", ".join(self.literal(o) for o in facts.offsets) + "}",
            'Length(d) == IF d >= 0 THEN d ELSE Assert(FALSE, "a rule sends a segment with a negative data length")',
            "RstSent(out) == \\E n \\in 1..Len(out) : Flag(out[n].flags, 4)",
            f"Tag(o, gen, cause) == [flags |-> o.flags, seq |-> o.seq, ack |-> o.ack, data |-> o.data, gen |-> gen, "
            f"cause |-> cause + (IF o.abs THEN {ABSOLUTE_SEQ} ELSE 0){age}]",
            "RECURSIVE PutAll(_, _, _, _)",
            "PutAll(c, out, gen, cause) == IF out = <<>> THEN c ELSE PutAll(Put(c, Tag(Head(out), gen, cause)), Tail(out), gen, cause)",
        ]
        for k, timer in enumerate(spec.timers):
            lines.append(f"Running{k + 1}(t) == {self.expr(timer.running)}")
        if self.timed:
            entries = ", ".join(f"IF ~Running{k + 1}(t) THEN -1 ELSE IF tm[{k + 1}] < 0 \\/ {k + 1} \\in rs THEN {d} ELSE tm[{k + 1}]"
                                for k, d in enumerate(facts.durations))
            lines.append(f"Retime(tm, t, rs) == <<{entries}>>")
        rcv = self.field[facts.variable("rcv_nxt")]
        lines += [
            "\\* properties.Observer.advance: a deleted TCB keeps only the number of its last orderly ended incarnation",
            "Deleted(e, h, orderly) == [e EXCEPT !.peer_gen = 0, !.passive_closer = FALSE, !.delivered = 0,",
            "    !.ended = IF e.tcb.st \\in OrderlyEnds /\\ ~RstSent(h.out) /\\ orderly THEN e.opens",
            "              ELSE IF e.tcb.st \\notin NoTcb THEN 0 ELSE e.ended]",
            "\\* properties._octets_delivered",
            "Octets(pre, post, s) ==",
            f"    LET r0 == pre.{rcv}",
            f"        r1 == post.{rcv}",
            "        first == Add32(s.seq, IF Flag(s.flags, 2) THEN 1 ELSE 0)",
            "        start == IF SeqLe(first, r0) THEN r0 ELSE first",
            "        last == Add32(first, s.data)",
            "        stop == IF SeqLe(last, r1) THEN last ELSE r1",
            "    IN  IF Sub32(r1, r0) > 0 /\\ Sub32(stop, start) > 0 THEN Sub32(stop, start) ELSE 0",
            f"Initial == {endpoint}",
        ]
        for event in spec.events:
            lines += [""] + self.step(event)
        anchors = " \\cup ".join(f"{{Add32(t.{self.field[name]}, o) : o \\in Offsets}}" for name in facts.seq_variables) or "{}"
        lines += [
            "",
            "\\* System._seen_as: an absolute SEQ at each representative giving a new outcome, the smallest first",
            f"Candidates(t, literal) == {anchors} \\cup {{literal}}",
            "Views(t, s, isn) ==",
            f"    IF (s.cause \\div {ABSOLUTE_SEQ}) % 2 = 0 THEN {{s.seq}}",
            "    ELSE LET C == Candidates(t, s.seq)",
            "             O == [v \\in C |-> Step_SEGMENT(t, [s EXCEPT !.seq = v], isn)]",
            "         IN {v \\in C : \\A w \\in C : ULt(w, v) => O[w] # O[v]}",
        ]
        return lines

    def module_text(self) -> str:
        scenario = self.scenario
        actions = []
        for i in (0, 1):
            actions += self.calls(i) + self.timers(i)
        for c in (0, 1):
            actions.append(self.deliver(c))
            actions += self.network(c)
        if self.timed:
            actions += self.tick()
        lines = [
            f"{'-' * 28} MODULE {self.module} {'-' * 28}",
            f"(* {comment(self.spec.name)}: {comment(self.spec.title)}, exported by tcpmodel for TLC.",
            f"   command:  {comment(self.command)}",
            f"   scenario: {', '.join(f'{k}={v}' for k, v in scenario.describe().items())}",
            "   TLC's distinct states are the states `tcpmodel check` explores under the same scenario options:",
            f"     java -cp tla2tools.jar tlc2.TLC -workers auto -deadlock -config {self.module}.cfg {self.module}.tla",
            "   (-deadlock: a quiet final state has no successor and is no deadlock here). *)",
            "EXTENDS Integers, Sequences, FiniteSets, TLC",
            "",
            "VARIABLES ep, ch   \\* ep[1], ep[2]: endpoints A and B; ch[1] carries A to B, ch[2] B to A",
            "vars == <<ep, ch>>",
            f"CAP == {scenario.capacity}   \\* segments per channel",
            f"MSL == {scenario.msl}   \\* ticks a segment lives (the timed mode)",
            ARITHMETIC.strip(),
            (CHANNELS_BAG if scenario.reordering else CHANNELS_FIFO).strip(),
            *self.definitions(),
            "",
            "Init == ep = <<Initial, Initial>> /\\ ch = <<" + ("<<>>, <<>>" if not scenario.reordering else "[x \\in {} |-> 0], [x \\in {} |-> 0]") + ">>",
            "",
        ]
        for name, conjuncts in actions:
            lines.append(f"{name} ==")
            for conjunct in conjuncts:  # a line, or lines that continue one conjunct
                first, *rest = [conjunct] if isinstance(conjunct, str) else conjunct
                lines += [f"    {AND} {first}"] + [f"       {line}" for line in rest]
            lines.append("")
        lines.append("Next == " + "\n    \\/ ".join(name for name, _ in actions))
        lines += ["", "Spec == Init /\\ [][Next]_vars", ""]
        if self.f.established >= 0:
            iss, irs = self.field[self.f.variable("iss")], self.field[self.f.variable("irs")]
            established = string(self.spec.states[self.f.established])
            lines += [f"HandshakeAgreement == (ep[1].tcb.st = {established} /\\ ep[2].tcb.st = {established})",
                      f"    => (ep[1].tcb.{irs} = ep[2].tcb.{iss} /\\ ep[2].tcb.{irs} = ep[1].tcb.{iss})", ""]
        lines.append("=" * 78)
        return "\n".join(lines) + "\n"

    def config(self) -> str:
        lines = [f"\\* TLC configuration for {self.module}.tla (exported by tcpmodel)", "INIT Init", "NEXT Next"]
        if self.f.established >= 0:
            lines.append("INVARIANT HandshakeAgreement")
        return "\n".join(lines) + "\n"
