"""Z3 proof obligations about a spec: what the model checker's small concrete numbers rely on.

Every obligation is a claim over 32-bit bit-vectors, decided by Z3, and reported as proved,
refuted (with a model: concrete values that break the claim) or unknown (time limit or Z3 gave
up), with the time it took. Most claims hold for all values. A few say that an intuition fails,
such as transitivity of the serial-number order (``expect=WITNESS``): they are proved by a
witness, the model Z3 finds for the intuition's negation, and refuted if the intuition holds.

Obligations, in the order ``prove`` runs them:

- ``serial.*``: RFC 1982 serial-number lemmas, stated in the spec's own expression language and
  compiled by ``z3terms`` (the same definitions the rules use).
- ``acceptability.*``: RFC 9293 §3.10.7.4's four-case acceptability test (the spec's
  ``ACCEPTABLE``) against its interval reading "some octet of the segment lies in the window".
- ``ack_acceptability.*``: the spec's ``ACK_ACCEPTABLE`` against the interval 0 < ACK - UNA <=
  NXT - UNA (modulo 2**32).
- ``translation.<rule>``: moving every sequence number by the same amount moves the rule's
  results by that amount; this is what lets the explorer use small concrete ISNs.
- ``absolute_seq.<flags>@<state>``: a segment whose SEQ is an absolute number (RFC 9293's
  ``<SEQ=0><CTL=RST,ACK>``, not moved by a shift) arriving in the state has, for every 32-bit
  SEQ, the outcome of one of the values the explorer delivers it with
  (``seqnum.representatives``): with translation invariance of every other number, the explored
  outcomes do not depend on the scenario's concrete ISNs.
- ``reachable_guard.<rule>@<state>``: in first-match order, some input lets the rule fire.
- ``complete.SEGMENT@<state>``: some segment rule fires for every segment of a shape (a flag
  combination) that the spec itself sends: the segments the explored system can carry.
- ``symbolic_run.*`` (``tcpmodel.proofs.symbolic``): handshake, data and close followed step by step
  with arbitrary 32-bit ISNs (2**32 - 1 included), keeping the handshake and stream invariants
  (without options: the scripts name the rules that fire when no option is on).

Inputs range over every 32-bit value, except what ``z3terms.domain`` assumes: data lengths in
[0, 2**31 - 3] (ints are signed 32-bit in Z3, see ``z3terms``), a non-negative window, and in a
state without a TCB every variable at its ``init`` value. Translation moves a TCB variable only
where it holds a number of the connection: not in a state without a TCB, and not while it may
still hold the ``init`` value no rule has overwritten (``unset_variables``: IRS and RCV.NXT in
SYN-SENT); a rule that reads such a value is refuted like any other.

Each check runs on a fresh solver with a time limit (``TIMEOUT`` seconds per check). The Z3
terms and the symbolic reading of a rule are in ``tcpmodel.proofs.z3terms``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

import z3

from tcpmodel.base.flags import SPEC_FLAG_BITS, flag_names
from tcpmodel.base.seqnum import HALF, relative_offsets
from tcpmodel.language import expressions as ex
from tcpmodel.language.spec import SEGMENT, Rule, Spec
from tcpmodel.proofs import z3terms as zt
from tcpmodel.proofs.results import (
    PROVED,
    REFUTED,
    TIMEOUT,
    UNKNOWN,
    Result,
    check_sat,
    fresh_solver,
)

WITNESS = "witness"  # Claim.expect of a claim that an intuition fails: proved by a counterexample to it


@dataclass(frozen=True)
class Claim:
    """A named claim: ``parts`` (label, formula) must all hold whenever ``hypotheses`` hold.
    With ``expect=WITNESS`` the obligation is that some part fails (proved by the model found).
    ``shown`` are the terms a counterexample reports (``signed`` ones as signed ints); ``focus``
    are extra constraints tried first so that a counterexample is small and readable (a model
    found under them refutes the claim all the same)."""

    name: str
    hypotheses: tuple
    parts: tuple
    shown: dict
    detail: str
    expect: str = PROVED
    signed: frozenset = frozenset()
    focus: tuple = ()


# ---------------------------------------------------------------- deciding


def decide(claim: Claim, timeout: float = TIMEOUT) -> Result:
    """Prove each part valid under the hypotheses (its negation unsatisfiable), or report a model
    that breaks the first part that fails."""
    start = time.perf_counter()
    for _, formula in claim.parts:
        verdict, model, reason = _search(claim.hypotheses + (z3.Not(formula),), claim.focus, timeout)
        if verdict != z3.unsat:
            break
    seconds = time.perf_counter() - start
    witness = claim.expect == WITNESS
    if verdict == z3.unknown:
        return Result(claim.name, UNKNOWN, seconds, f"{claim.detail} Z3: {reason}.", witness=witness)
    if verdict == z3.unsat:
        if witness:
            return Result(claim.name, REFUTED, seconds, f"{claim.detail} No witness: the intuition holds after all.", witness=True)
        return Result(claim.name, PROVED, seconds, claim.detail)
    broken = [label for label, formula in claim.parts if z3.is_false(model.eval(formula, model_completion=True))]
    values = _values(model, claim.shown, claim.signed)
    if witness:
        return Result(claim.name, PROVED, seconds, f"{claim.detail} Witness: {'; '.join(broken)} fails.", values, True)
    return Result(claim.name, REFUTED, seconds, f"{claim.detail} Fails: {'; '.join(broken)}.", values)


def _search(facts: tuple, focus: tuple, timeout: float):
    """Look for a model of ``facts``; when there is one, look again with ``focus`` added for a
    readable one. One fresh solver per check: push/pop would switch Z3 to its slower incremental
    bit-vector solver. Returns (verdict, model or None, why unknown)."""
    solver = fresh_solver(timeout)
    solver.add(*facts)
    verdict = check_sat(solver)
    if verdict != z3.sat:
        return verdict, None, solver.reason_unknown() if verdict == z3.unknown else ""
    if focus:
        focused = fresh_solver(timeout)
        focused.add(*facts, *focus)
        if check_sat(focused) == z3.sat:
            return verdict, focused.model(), ""
    return verdict, solver.model(), ""


def _values(model: z3.ModelRef, shown: dict, signed: frozenset) -> dict:
    return {name: zt.concrete(model.eval(term, model_completion=True), name in signed) for name, term in shown.items()}


# (name, hypothesis, claim, PROVED or WITNESS (the claim fails), detail, focus for a readable model)
_SERIAL = (
    ("serial.totality", "not (B - A == -2147483648)", "A == B or seq_lt(A, B) or seq_lt(B, A)", PROVED,
     "Two different numbers not 2**31 apart are ordered one way or the other.", ""),
    ("serial.antisymmetry", "true", "not (seq_lt(A, B) and seq_lt(B, A))", PROVED,
     "No two numbers are each less than the other.", ""),
    ("serial.irreflexivity", "true", "not seq_lt(A, A)", PROVED, "No number is less than itself.", ""),
    ("serial.successor", "N > 0", "seq_lt(A, A + N)", PROVED,
     "A < A + N for every 0 < N < 2**31 (N is a signed int), across the wrap.", ""),
    ("serial.half_distance", "B - A == -2147483648", "not seq_lt(A, B) and not seq_lt(B, A)", PROVED,
     "Numbers exactly 2**31 apart are incomparable (RFC 1982 §3.2).", ""),
    ("serial.signed_distance", "true", "seq_lt(A, B) == (B - A > 0)", PROVED,
     "seq_lt agrees with the sign of the signed distance B - A.", ""),
    ("serial.in_window_interval", "N > 0", "in_window(X, A, N) == (seq_le(A, X) and seq_lt(X, A + N))", PROVED,
     "in_window(X, A, N) is RFC 9293's A =< X < A + N for every window 0 < N < 2**31.", ""),
    ("serial.not_transitive", "seq_lt(A, B) and seq_lt(B, C)", "seq_lt(A, C)", WITNESS,
     "The serial order is not transitive: three numbers spread around the circle break it.", "A == 0"),
    ("serial.raw_less_than_differs", "true", "(A < B) == seq_lt(A, B)", WITNESS,
     "A plain unsigned < on sequence numbers disagrees with seq_lt; the model is taken next to the wrap.",
     "A >= 4294967040 and B < 256"),
)


def _lemma_scope() -> ex.Scope:
    scope = ex.Scope()
    for name in ("A", "B", "C", "X"):
        scope.add(name, ex.SEQ, "var")
    scope.add("N", ex.INT, "var")
    return scope


def serial_claims() -> list[Claim]:
    """The serial-number lemmas, written in the spec language and compiled like any guard."""
    scope = _lemma_scope()
    terms = {name: z3.BitVec(name, zt.WIDTH) for name in scope.symbols}
    context = zt.Z3Context((), terms)
    claims = []
    for name, hypothesis, statement, expect, detail, focus in _SERIAL:
        nodes = [ex.parse(text or "true", scope, expect=ex.BOOL) for text in (hypothesis, statement, focus)]
        used = sorted({n for node in nodes[:2] for n, _ in ex.names_in(node)})
        hyp, claim, near = (context.term(node) for node in nodes)
        shown = {n: terms[n] for n in used}
        claims.append(Claim(name, (hyp,), ((statement, claim),), shown, detail, expect, frozenset({"N"}), (near,)))
    return claims


# ---------------------------------------------------------------- acceptability


def _segment_names(spec: Spec, window: z3.BitVecRef | None = None) -> tuple[dict[str, z3.ExprRef], Mapping[str, z3.ExprRef]]:
    """Free terms for the acceptability claims; ``window`` replaces the constant RCV.WND."""
    frame = zt.symbolic_frame(spec)
    names = frame.names()
    if window is not None:
        names["RCV.WND"] = window
    return names, frame.segment


def acceptability_claims(spec: Spec) -> list[Claim]:
    """ACCEPTABLE against "some octet of [SEQ, SEQ+LEN) lies in [RCV.NXT, RCV.NXT+WND)"."""
    window = z3.BitVec("WND", zt.WIDTH)
    names, segment = _segment_names(spec, window)
    test = zt.Z3Context(spec.states, names).term(spec.definitions["ACCEPTABLE"])
    spec.roles.require(("rcv_nxt",), "the acceptability obligations")
    seq, nxt, length = names["SEG.SEQ"], names[spec.roles["rcv_nxt"]], names["SEG.LEN"]
    offset = z3.BitVec("k", zt.WIDTH)
    octet = z3.And(z3.ULT(offset, length), zt.in_window(seq + offset, nxt, window))
    empty = z3.If(window == 0, seq == nxt, zt.in_window(seq, nxt, window))
    # "some octet k < LEN lies in the window": an existential. Where it is assumed (interval reading
    # implies ACCEPTABLE) the claim holds for every free offset k, which is the same statement;
    # where it is concluded, the witnesses k = 0 and k = LEN - 1 (first and last octet) suffice.
    # Both parts are then quantifier-free, so Z3's time is small and steady.
    some_octet = z3.If(length == 0, empty, z3.And(window > 0, octet))
    ends = z3.Or(z3.substitute(octet, (offset, zt.bv(0))), z3.substitute(octet, (offset, length - 1)))
    witnessed = z3.If(length == 0, empty, z3.And(window > 0, ends))
    base = (window >= 0, segment["SEG.DATA"] >= 0, segment["SEG.DATA"] <= zt.MAX_DATA)
    shown = {"SEG.SEQ": seq, "RCV.NXT": nxt, "SEG.LEN": length, "RCV.WND": window, "k": offset,
             **{f: segment[f] for f in ("SYN", "FIN")}}
    small = (length <= 16, window <= 8)  # a readable counterexample
    signed = frozenset({"SEG.LEN", "RCV.WND", "k"})
    part = (("octet SEQ + k in the window implies ACCEPTABLE", z3.Implies(some_octet, test)),
            ("ACCEPTABLE implies the interval reading (witness k = 0 or k = SEG.LEN - 1)", z3.Implies(test, witnessed)))
    general = ("RFC 9293's four-case test looks only at the first and the last octet of a segment, "
               "so it rejects a segment that covers the whole window with both ends outside it. "
               "Claim: for all 0 <= RCV.WND < 2**31 and 0 <= SEG.LEN < 2**31, ACCEPTABLE equals "
               "'LEN == 0: SEQ in the window (SEQ == RCV.NXT when the window is empty); LEN > 0: the window "
               "is open and some octet SEQ + k, k < LEN, lies in [RCV.NXT, RCV.NXT + RCV.WND)'.")
    bounded = ("The same equivalence when SEG.LEN <= RCV.WND + 1: a segment no longer than the window plus one "
               "cannot cover the window with both ends outside, so first-or-last-octet is exact. In the "
               f"explored system RCV.WND = {spec.constants.get('RCV.WND', 0)} and every segment has SEG.LEN <= "
               "scenario data + 1 (argued from the send rules, not proved here: one SEND per incarnation, "
               "retransmissions resend at most that data plus a FIN, no segment has both SYN and FIN), so the "
               "precondition holds whenever the scenario's data <= RCV.WND (the default, data = 1); with more "
               "data the explorer applies the RFC's four-case test, as the RFC says.")
    return [
        Claim("acceptability.interval_differs (any SEG.LEN)", base, part, shown, general, WITNESS, signed, small),
        Claim("acceptability.interval (SEG.LEN <= RCV.WND + 1)", base + (length <= window + 1,), part, shown, bounded, PROVED, signed),
        Claim("acceptability.interval (SEG.LEN <= RCV.WND)", base + (length <= window,), part, shown,
              "The restricted equivalence under the simpler precondition SEG.LEN <= RCV.WND.", PROVED, signed),
    ]


def ack_acceptability_claims(spec: Spec) -> list[Claim]:
    """ACK_ACCEPTABLE against 0 < (ACK - UNA) mod 2**32 <= (NXT - UNA) mod 2**32."""
    names, _ = _segment_names(spec)
    test = zt.Z3Context(spec.states, names).term(spec.definitions["ACK_ACCEPTABLE"])
    spec.roles.require(("snd_una", "snd_nxt"), "the ACK acceptability obligations")
    una, nxt, ack = names[spec.roles["snd_una"]], names[spec.roles["snd_nxt"]], names["SEG.ACK"]
    interval = z3.And(z3.ULT(zt.bv(0), ack - una), z3.ULE(ack - una, nxt - una))
    part = (("ACK_ACCEPTABLE == 0 < ACK - UNA <= NXT - UNA", test == interval),)
    shown = {"SND.UNA": una, "SND.NXT": nxt, "SEG.ACK": ack}
    detail = ("RFC 9293 §3.10.7.4: SND.UNA < SEG.ACK =< SND.NXT is the interval 0 < (ACK - UNA) mod 2**32 <= "
              "(NXT - UNA) mod 2**32, across the wrap, when less than 2**31 octets are outstanding.")
    wrap = zt.near_wrap(una, nxt, ack, reach=64)
    return [
        Claim("ack_acceptability.interval", (z3.ULT(nxt - una, HALF),), part, shown, detail, focus=wrap),
        Claim("ack_acceptability.interval_differs (2**31 or more outstanding)", (), part, shown,
              "Without the precondition (NXT - UNA) mod 2**32 < 2**31 the serial test and the interval differ: "
              "the precondition is needed.", WITNESS),
    ]


# ---------------------------------------------------------------- translation invariance


def _moved_before(spec: Spec, rule: Rule, name: str, unset: dict, state: z3.ExprRef) -> z3.BoolRef:
    """When the pre-state value of seq variable ``name`` is a moved sequence number: in a state
    with a TCB where it is set; where it may be unset, either way (a free Bool ``name.set``)."""
    cases = []
    for s in rule.states:
        if s not in spec.no_tcb:
            at = state == zt.state_value(spec.states.index(s))
            cases.append(z3.And(at, z3.Bool(f"{name}.set")) if name in unset[s] else at)
    return z3.Or(*cases) if cases else z3.BoolVal(False)


def translation_claim(spec: Spec, rule: Rule, unset: dict) -> Claim:
    """Moving SEG.SEQ, SEG.ACK, ISN and the seq-typed TCB variables by SHIFT keeps the guard,
    moves every seq-typed post-state variable and every sent SEQ and ACK by SHIFT, and keeps
    everything else. Variables without a value of the connection (a state without a TCB, or not
    yet assigned, see ``unset_variables``) are not moved."""
    frame = zt.symbolic_frame(spec)
    shift, state = z3.BitVec("SHIFT", zt.WIDTH), frame.variables["STATE"]
    seqs = [v.name for v in spec.variables if v.type == ex.SEQ]
    moved = {n: _moved_before(spec, rule, n, unset, state) for n in seqs}
    before = zt.evaluate_rule(spec, rule, frame)
    after = zt.evaluate_rule(spec, rule, zt.shifted_frame(spec, frame, shift, moved))
    parts = [("guard unchanged", before.guard == after.guard)]
    assigned = {name for name, _ in rule.effects}
    keep = zt.target_has_tcb(spec, rule, state)
    for v in spec.variables:
        expected = before.post[v.name]
        if v.type == ex.SEQ:
            expected += z3.If(z3.And(keep, z3.Or(z3.BoolVal(v.name in assigned), moved[v.name])), shift, zt.bv(0))
        verb = "moved" if v.type == ex.SEQ else "unchanged"
        parts.append((f"{v.name}' {verb}", z3.Implies(before.guard, after.post[v.name] == expected)))
    for number, (old, new, send) in enumerate(zip(before.sends, after.sends, rule.sends, strict=True), 1):
        parts += _send_parts(number, old, new, shift, before.guard, send.absolute_seq)
    shown = _translation_shown(spec, frame, shift, before, after)
    signed = frozenset(n for n in shown if n in zt.SIGNED_INPUTS or _is_int_variable(spec, n))
    absolute = [str(k) for k, send in enumerate(rule.sends, 1) if send.absolute_seq]
    absolute_note = f" The SEQ of send {', '.join(absolute)} is absolute and stays put (absolute_seq.*)." if absolute else ""
    detail = (f"Rule {rule.name} ({', '.join(rule.states)} on {rule.event}) commutes with moving every sequence "
              f"number by SHIFT.{_unset_note(spec, rule, unset)}{absolute_note}")
    facts = tuple(zt.domain(spec, frame, rule.states))
    wrap = zt.near_wrap(*(frame.variables[n] for n in seqs), frame.segment["SEG.SEQ"], frame.segment["SEG.ACK"], frame.environment["ISN"], reach=64)
    return Claim(f"translation.{rule.name}", facts, tuple(parts), shown, detail, PROVED, signed, zt.readable(frame) + wrap)


def _unset_note(spec: Spec, rule: Rule, unset: dict) -> str:
    seqs = {v.name for v in spec.variables if v.type == ex.SEQ}
    states = [s for s in dict.fromkeys(rule.states + ((rule.to,) if rule.to else ())) if s not in spec.no_tcb]
    notes = [f"{', '.join(sorted(unset[s] & seqs))} in {s}" for s in states if unset[s] & seqs]
    return f" Not yet assigned, so not moved: {'; '.join(notes)}." if notes else ""


def _translation_shown(spec: Spec, frame: zt.Frame, shift, before: zt.Step, after: zt.Step) -> dict:
    shown = {**frame.inputs(), "SHIFT": shift}
    for number, (old, new) in enumerate(zip(before.sends, after.sends, strict=True), 1):
        shown[f"send{number}.SEQ"] = old.seq
        shown[f"send{number}.SEQ after the shift"] = new.seq
    return shown


def _send_parts(number: int, old: zt.Sent, new: zt.Sent, shift, guard, absolute: bool) -> list:
    label = f"send {number} <{flag_names(old.flags)}>"
    fires = z3.And(guard, old.when)
    seq = (f"{label} SEQ absolute, not moved (see absolute_seq.*)", z3.Implies(fires, new.seq == old.seq)) if absolute else \
        (f"{label} SEQ moved", z3.Implies(fires, new.seq == old.seq + shift))
    parts = [(f"{label} condition unchanged", z3.Implies(guard, old.when == new.when)), seq,
             (f"{label} data unchanged", z3.Implies(fires, new.data == old.data))]
    if old.ack is not None:
        parts.append((f"{label} ACK moved", z3.Implies(fires, new.ack == old.ack + shift)))
    return parts


def _is_int_variable(spec: Spec, name: str) -> bool:
    return any(v.name == name and v.type == ex.INT for v in spec.variables)


# ---------------------------------------------------------------- absolute SEQ


def absolute_claims(spec: Spec, options: frozenset) -> list[Claim]:
    """absolute_seq.<flags>@<state> for each flag combination sent with an absolute SEQ and each
    state that has segment rules (see the module docstring)."""
    shapes: dict[int, list] = {}
    for rule in (r for r in spec.rules if r.active(options)):
        sent = zt.evaluate_rule(spec, rule, zt.symbolic_frame(spec)).sends
        for send, term in zip(rule.sends, sent, strict=True):
            if send.absolute_seq:
                shapes.setdefault(send.flags, []).append((rule.name, z3.simplify(term.seq), z3.simplify(term.data)))
    claims = []
    for flags, senders in sorted(shapes.items()):
        for state in spec.states:
            rules = _rules_for(spec, options, state, SEGMENT)
            if rules:
                claims += [_absolute_claim(spec, rules, state, flags, rule_name, literal, data) for rule_name, literal, data in senders]
    return claims


def _absolute_claim(spec: Spec, rules: list[Rule], state: str, flags: int, sender: str, literal, data) -> Claim:
    frame = zt.symbolic_frame(spec, state=zt.state_value(spec.states.index(state)))
    facts = tuple(zt.domain(spec, frame, (state,))) + (_has_flags(frame, flags), frame.segment["SEG.DATA"] == data)
    offsets = relative_offsets(spec.constants.get("RCV.WND", 0))
    anchors = [frame.variables[v.name] for v in spec.variables if v.type == ex.SEQ]
    candidates = [a + zt.bv(d) for a in anchors for d in offsets] + [literal]
    fires, steps = _outcome(spec, rules, frame)
    same = []
    for seq in candidates:
        other_fires, other_steps = _outcome(spec, rules, replace(frame, segment={**frame.segment, "SEG.SEQ": seq}))
        same.append(z3.And(*[a == b for a, b in zip(fires, other_fires, strict=True)],
                           *[z3.Implies(f, _same_step(a, b)) for f, a, b in zip(fires, steps, other_steps, strict=True)]))
    name = f"absolute_seq.{flag_names(flags)}.{sender}@{state}"
    detail = (f"A <{flag_names(flags)}> segment with the absolute SEQ {zt.concrete(literal)} ({sender}) arriving in {state} "
              f"has, for every 32-bit SEQ, the outcome ({', '.join(r.name for r in rules)}) of one of the {len(candidates)} "
              f"values the explorer delivers it with: each sequence-number variable plus {', '.join(map(str, offsets))}, "
              f"and the SEQ as sent.")
    shown = {**frame.segment, **{v.name: frame.variables[v.name] for v in spec.variables}}
    return Claim(f"{name}", facts, (("some delivered value has the same outcome", z3.Or(*same)),), shown, detail,
                 PROVED, frozenset(zt.SIGNED_INPUTS), zt.readable(frame))


def _outcome(spec: Spec, rules: list[Rule], frame: zt.Frame) -> tuple[list, list]:
    """For each rule in first-match order: whether it is the one that fires, and its step."""
    steps = [zt.evaluate_rule(spec, r, frame) for r in rules]
    fires = [z3.And(step.guard, *[z3.Not(s.guard) for s in steps[:i]]) for i, step in enumerate(steps)]
    return fires, steps


def _same_step(a: zt.Step, b: zt.Step) -> z3.BoolRef:
    same = [a.post[k] == b.post[k] for k in a.post]
    for x, y in zip(a.sends, b.sends, strict=True):
        same.append(x.when == y.when)
        fields = [x.seq == y.seq, x.data == y.data] + ([x.ack == y.ack] if x.ack is not None else [])
        same.append(z3.Implies(x.when, z3.And(*fields)))
    return z3.And(*same)


# ---------------------------------------------------------------- guards per (state, event)


def _rules_for(spec: Spec, options: frozenset, state: str, event: str) -> list[Rule]:
    return [r for r in spec.rules if r.active(options) and r.event == event and state in r.states]


def guard_results(spec: Spec, options: frozenset, state: str, event: str, timeout: float) -> list[Result]:
    """reachable_guard for each rule of (state, event) in first-match order, then, for SEGMENT,
    whether the guards together cover every segment."""
    rules = _rules_for(spec, options, state, event)
    if not rules:
        return []
    frame = zt.symbolic_frame(spec, state=zt.state_value(spec.states.index(state)))
    facts = zt.domain(spec, frame, (state,))
    guards = [zt.evaluate_rule(spec, r, frame).guard for r in rules]
    results = [_reachable(rules, guards, i, state, facts, timeout) for i in range(len(rules))]
    if event == SEGMENT:
        shapes = sent_shapes(spec, options)
        shape_names = ", ".join(flag_names(f) for f in shapes)
        sent = z3.Or(*[_has_flags(frame, f) for f in shapes])
        shown = {**frame.segment, **{v.name: frame.variables[v.name] for v in spec.variables}}
        detail = (f"Every segment of a shape this spec sends ({shape_names}) arriving in {state} fires one of: "
                  f"{', '.join(r.name for r in rules)} (given {zt.DOMAIN}).")
        claim = Claim(f"complete.SEGMENT@{state}", tuple(facts) + (sent,), (("some guard holds", z3.Or(*guards)),), shown,
                      detail, PROVED, frozenset(zt.SIGNED_INPUTS), zt.readable(frame))
        results.append(decide(claim, timeout))
    return results


def sent_shapes(spec: Spec, options: frozenset = frozenset()) -> list[int]:
    """The flag combinations of the segments the spec's active rules send, in a fixed order."""
    return sorted({send.flags for r in spec.rules if r.active(options) for send in r.sends})


def _has_flags(frame: zt.Frame, flags: int):
    return z3.And(*[frame.segment[name] if flags & bit else z3.Not(frame.segment[name]) for name, bit in SPEC_FLAG_BITS.items()])


def _reachable(rules: list[Rule], guards: list, index: int, state: str, facts: list, timeout: float) -> Result:
    rule = rules[index]
    effective = z3.And(guards[index], z3.Not(z3.Or(*guards[:index]))) if index else guards[index]
    name = f"reachable_guard.{rule.name}@{state}"
    start = time.perf_counter()
    verdict, _, reason = _search(tuple(facts) + (effective,), (), timeout)
    seconds = time.perf_counter() - start
    if verdict == z3.sat:
        return Result(name, PROVED, seconds, f"Some input lets {rule.name} fire in {state} on {rule.event} after the rules before it.")
    if verdict == z3.unsat:
        earlier = ", ".join(r.name for r in rules[:index])
        detail = f"Shadowed: whenever the guard of {rule.name} holds in {state}, an earlier rule fires ({earlier}); the rule is dead there."
        return Result(name, REFUTED, seconds, detail)
    return Result(name, UNKNOWN, seconds, f"Z3: {reason}.")
