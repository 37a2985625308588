"""Bounded symbolic runs with arbitrary 32-bit ISNs, and Z3-found boundary witnesses.

Symbolic runs
-------------
Two endpoints, A and B, start in the spec's initial state (CLOSED) with every TCB variable at its
``init`` value. A run follows a FIXED script of steps (no search over interleavings); each step
names the endpoint, the rule the script expects to fire, and what arrives: a user call or timer
(no segment), or a SEGMENT event whose segment is one the other endpoint sent earlier in the run
(by default the latest). Every value is a Z3 term over three free inputs:

- ``ISN_A`` and ``ISN_B``: independent, unconstrained 32-bit bit-vectors (the ISN each endpoint
  reads; one incarnation each);
- ``DATA``: a free bit-vector with 1 <= DATA <= RCV.WND (signed), the octets of the one SEND: the
  scenario never sends more than fits the receive window (this spec does not trim segments).

Each step is evaluated with ``z3terms.evaluate_rule`` over a frame of the current symbolic TCB,
the arriving segment's terms (flags are literals: the script knows which segment it delivers)
and the endpoint's environment. The step's obligation is that the scripted rule is the one the
generated code picks: it is active without options, applies to the current (state, event), its
guard holds, every earlier rule's guard for that (state, event) is false, and the delivered
segment was actually sent (its ``when`` holds) -- for ALL ISNs and DATA (validity: the negation is
unsatisfiable). The endpoint then moves to ``rule.to`` (or stays) with the post-state values
(``evaluate_rule`` already resets them when the target keeps no TCB).

A run is one ``proofs.Result``: PROVED when every step obligation and every invariant is valid,
REFUTED with the model (ISN_A, ISN_B, DATA) and the failing step's index when one is not, UNKNOWN
on a Z3 time-out. Each check uses a fresh ``z3.SolverFor("QF_BV")`` with a time limit.

Boundary witnesses
------------------
``boundary_witnesses(spec)`` asks Z3 for concrete values at the edges of the spec's own
definitions (``ACCEPTABLE``, ``ACK_ACCEPTABLE``, ``ACK_TOO_NEW``, ``IN_ORDER``, compiled by
``z3terms``), with "near the wrap" preferences tried first, and checks every witness against the
Python semantics of ``tcpmodel.base.seqnum`` before returning it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import z3

from tcpmodel.base import seqnum
from tcpmodel.base.errors import SpecError
from tcpmodel.base.flags import ACK, FIN, SPEC_FLAG_BITS, SYN
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

ENDPOINTS = ("A", "B")
DATA_RANGE = (1, 8)
WRAP = seqnum.MASK  # the last sequence number before the wrap point


# ---------------------------------------------------------------- scripts


@dataclass(frozen=True)
class ScriptStep:
    """One scripted step: ``endpoint`` handles ``event`` and ``rule`` must fire. For SEGMENT,
    ``segment`` indexes the segments the other endpoint has sent so far (default: the latest)."""

    endpoint: str
    rule: str
    event: str
    segment: int = -1


HANDSHAKE = (
    ScriptStep("A", "closed_connect", "CONNECT"),
    ScriptStep("B", "closed_listen", "LISTEN"),
    ScriptStep("B", "listen_syn", SEGMENT),
    ScriptStep("A", "synsent_synack", SEGMENT),
    ScriptStep("B", "synrcvd_ack", SEGMENT),
)

DATA_AND_CLOSE = HANDSHAKE + (
    ScriptStep("A", "send_data", "SEND"),
    ScriptStep("B", "established_segment", SEGMENT),
    ScriptStep("A", "established_segment", SEGMENT),
    ScriptStep("A", "established_close", "CLOSE"),
    ScriptStep("B", "established_fin", SEGMENT),
    ScriptStep("A", "fin_wait_1_fin_acked", SEGMENT),
    ScriptStep("B", "close_wait_close", "CLOSE"),
    ScriptStep("A", "fin_wait_2_fin", SEGMENT),
    ScriptStep("B", "last_ack_fin_acked", SEGMENT),
    ScriptStep("A", "timewait_timeout", "TIME-WAIT TIMEOUT"),
)
DATA_STEP = len(HANDSHAKE) + 1  # index of B's established_segment delivering the data
# What the runs read of a spec besides its rules' names (language.roles): the TIME-WAIT timer's
# expiry is scripted as "TIME-WAIT TIMEOUT" and stands for the spec's time_wait_timer.
RUN_VARIABLES = (("iss", "ISS"), ("irs", "IRS"), ("snd_una", "SND.UNA"), ("snd_nxt", "SND.NXT"), ("rcv_nxt", "RCV.NXT"))
RUN_ROLES = ("closed", "established", *(role for role, _ in RUN_VARIABLES))


def _event(spec: Spec, event: str) -> str:
    """A scripted event in the spec's terms: the TIME-WAIT timeout through its role."""
    timer = spec.roles.get("time_wait_timer")
    return f"{timer} TIMEOUT" if event == "TIME-WAIT TIMEOUT" and timer else event


@dataclass(frozen=True)
class SentSegment:
    """A segment as Z3 terms: ``flags`` is the literal flag bits, ``when`` its send condition."""

    sender: str
    step: int
    flags: int
    seq: z3.BitVecRef
    ack: z3.BitVecRef
    data: z3.BitVecRef
    wnd: z3.BitVecRef
    when: z3.BoolRef


@dataclass
class Endpoint:
    state: str
    variables: dict  # variable name -> Z3 term
    sent: list = field(default_factory=list)


# An obligation of a run: (label, formula), or (label, formula, [(why it fails, conjunct)]).
Part = tuple[str, z3.BoolRef] | tuple[str, z3.BoolRef, list[tuple[str, z3.BoolRef]]]


@dataclass
class Run:
    """A symbolic run: the obligations (label, formula) in order, and the endpoints after each
    step (``history[i]`` is the pair after step i)."""

    parts: list[Part]
    history: list[dict[str, Endpoint]]
    inputs: dict
    script: tuple = ()

    @property
    def complete(self) -> bool:
        """Every step was evaluated (a missing rule or segment stops the run with a false part)."""
        return len(self.history) == len(self.script)


def _inputs() -> dict:
    return {"ISN_A": z3.BitVec("ISN_A", zt.WIDTH), "ISN_B": z3.BitVec("ISN_B", zt.WIDTH), "DATA": z3.BitVec("DATA", zt.WIDTH)}


def _empty_segment() -> dict:
    segment = {name: zt.bv(0) for name in zt.SEGMENT_VALUES}
    segment.update({flag: z3.BoolVal(False) for flag in zt.FLAGS})
    return segment


def _segment_terms(sent: SentSegment) -> dict:
    segment = {"SEG.SEQ": sent.seq, "SEG.ACK": sent.ack, "SEG.DATA": sent.data, "SEG.WND": sent.wnd}
    segment.update({flag: z3.BoolVal(bool(sent.flags & bit)) for flag, bit in SPEC_FLAG_BITS.items()})
    return segment


def _candidates(spec: Spec, state: str, event: str) -> list[Rule]:
    return [r for r in spec.rules if r.active(frozenset()) and r.event == event and state in r.states]


def symbolic_run(spec: Spec, script=DATA_AND_CLOSE, inputs: dict | None = None) -> Run:
    """Evaluate ``script`` symbolically; collect one obligation per step (the scripted rule is the
    first that fires) and the endpoints after every step."""
    inputs = inputs or _inputs()
    window = zt.bv(spec.constants.get("RCV.WND", 0))
    init = {v.name: zt.initial_value(v) for v in spec.variables}
    ends = {name: Endpoint(spec.initial, dict(init)) for name in ENDPOINTS}
    parts: list[Part] = []
    history: list[dict[str, Endpoint]] = []
    for index, step in enumerate(script):
        me, other = ends[step.endpoint], ends["B" if step.endpoint == "A" else "A"]
        event = _event(spec, step.event)
        label = f"step {index}: {step.endpoint} {step.rule} ({me.state} on {event})"
        arrived = None
        if event == SEGMENT:
            if not -len(other.sent) <= step.segment < len(other.sent):
                parts.append((f"{label}: the other endpoint has sent no segment {step.segment}", z3.BoolVal(False)))
                break
            arrived = other.sent[step.segment]
        if step.rule not in {r.name for r in spec.rules}:
            parts.append((f"{label}: the spec has no such rule", z3.BoolVal(False)))
            break
        segment = _segment_terms(arrived) if arrived else _empty_segment()
        environment = {"ISN": inputs[f"ISN_{step.endpoint}"], "DATA": inputs["DATA"]}
        variables = {**me.variables, "STATE": zt.state_value(spec.states.index(me.state))}
        frame = zt.Frame(variables, segment, environment, zt.constant_terms(spec))
        rule = spec.rule(step.rule)
        candidates = _candidates(spec, me.state, event)
        if rule not in candidates:
            parts.append((f"{label}: the rule does not apply there", z3.BoolVal(False)))
            earlier = []
        else:
            earlier = candidates[: candidates.index(rule)]
        result = zt.evaluate_rule(spec, rule, frame)
        checks = [(f"the guard of {rule.name} is false", result.guard)]
        checks += [(f"{r.name} fires first", z3.Not(zt.evaluate_rule(spec, r, frame).guard)) for r in earlier]
        if arrived is not None:
            checks.append((f"the segment from step {arrived.step} is not sent", arrived.when))
        parts.append((f"{label} fires", z3.And(*[c for _, c in checks]), checks))
        me.variables = {name: z3.simplify(term) for name, term in result.post.items()}
        me.state = rule.to or me.state
        for send in result.sends:
            ack = send.ack if send.ack is not None else zt.bv(0)
            me.sent.append(SentSegment(step.endpoint, index, send.flags, z3.simplify(send.seq), z3.simplify(ack),
                                       z3.simplify(send.data), window, z3.simplify(send.when)))
        history.append({name: Endpoint(e.state, dict(e.variables), list(e.sent)) for name, e in ends.items()})
    return Run(parts, history, inputs, tuple(script))


# ---------------------------------------------------------------- invariants


def _rfc_variables(spec: Spec, variables: Mapping[str, z3.ExprRef]) -> dict[str, z3.ExprRef]:
    """An endpoint's ISS, IRS, SND.UNA, SND.NXT and RCV.NXT by their RFC spellings, through the
    spec's roles (``language.roles``): the scripted runs speak RFC 9293's terms."""
    spec.roles.require(RUN_ROLES, "the symbolic runs")
    return {rfc: variables[spec.roles[role]] for role, rfc in RUN_VARIABLES}


def _handshake_invariants(spec: Spec, after: dict) -> list:
    a, b = after["A"], after["B"]
    va, vb = _rfc_variables(spec, a.variables), _rfc_variables(spec, b.variables)
    established = spec.roles["established"]
    return [
        ("handshake: both ESTABLISHED", z3.BoolVal(a.state == b.state == established)),
        ("handshake: A.IRS == B.ISS", va["IRS"] == vb["ISS"]),
        ("handshake: B.IRS == A.ISS", vb["IRS"] == va["ISS"]),
        ("handshake: A.RCV.NXT == B.ISS + 1", va["RCV.NXT"] == vb["ISS"] + 1),
        ("handshake: B.RCV.NXT == A.ISS + 1", vb["RCV.NXT"] == va["ISS"] + 1),
        ("handshake: A.SND.UNA == A.SND.NXT", va["SND.UNA"] == va["SND.NXT"]),
        ("handshake: B.SND.UNA == B.SND.NXT", vb["SND.UNA"] == vb["SND.NXT"]),
    ]


def _ack_invariants(spec: Spec, run: Run) -> list[Part]:
    """At every step, every ACK number sent so far is seq_le the other side's current SND.NXT
    (while the other side holds a TCB; a deleted TCB has no SND.NXT)."""
    parts: list[Part] = []
    for index, ends in enumerate(run.history):
        facts = []
        for sender, receiver in (("A", "B"), ("B", "A")):
            if ends[receiver].state in spec.no_tcb:
                continue
            nxt = _rfc_variables(spec, ends[receiver].variables)["SND.NXT"]
            for sent in ends[sender].sent:
                if sent.flags & ACK:
                    facts.append(z3.Implies(sent.when, zt.seq_le(sent.ack, nxt)))
        if facts:
            parts.append((f"after step {index}: every ACK sent is seq_le the other side's SND.NXT", z3.And(*facts)))
    return parts


def _data_invariants(spec: Spec, run: Run) -> list[Part]:
    after_data = _rfc_variables(spec, run.history[DATA_STEP]["B"].variables)
    stream = after_data["RCV.NXT"] - after_data["IRS"] - 1 == run.inputs["DATA"]
    last = run.history[-1]
    return [
        (f"stream: after step {DATA_STEP} B.RCV.NXT - B.IRS - 1 == DATA (B delivered exactly the DATA octets A sent)", stream),
        *_ack_invariants(spec, run),
        ("final: both CLOSED", z3.BoolVal(last["A"].state == last["B"].state == spec.roles["closed"])),
    ]


# ---------------------------------------------------------------- deciding


def _decide(name: str, hypotheses: list[z3.BoolRef], parts: Sequence[Part], shown: dict[str, z3.ExprRef], detail: str, timeout: float) -> Result:
    """Each part valid under the hypotheses (fresh solver per part), or the first that is not."""
    start = time.perf_counter()
    for label, formula, *why in parts:
        solver = fresh_solver(timeout)
        solver.add(*hypotheses, z3.Not(formula))
        verdict = check_sat(solver)
        if verdict == z3.unsat:
            continue
        seconds = time.perf_counter() - start
        if verdict == z3.unknown:
            return Result(name, UNKNOWN, seconds, f"{detail} Z3 gave up on {label}: {solver.reason_unknown()}.")
        model = solver.model()
        values = {n: zt.concrete(model.eval(t, model_completion=True)) for n, t in shown.items()}
        broken = [text for text, term in (why[0] if why else ()) if z3.is_false(model.eval(term, model_completion=True))]
        reason = f" ({'; '.join(broken)})" if broken else ""
        return Result(name, REFUTED, seconds, f"{detail} Fails at {label}{reason}.", values)
    return Result(name, PROVED, time.perf_counter() - start, detail)


def _domain(inputs: dict, spec: Spec) -> list:
    low, high = DATA_RANGE
    high = min(high, spec.constants.get("RCV.WND", high))
    return [inputs["DATA"] >= low, inputs["DATA"] <= high]


def run_results(spec: Spec, timeout: float = TIMEOUT) -> list[Result]:
    """The symbolic-run obligations: handshake, data_and_close, and the two wrap runs."""
    inputs = _inputs()
    base = _domain(inputs, spec)
    hs = symbolic_run(spec, HANDSHAKE, inputs)
    full = symbolic_run(spec, DATA_AND_CLOSE, inputs)
    hs_parts = hs.parts + (_handshake_invariants(spec, hs.history[-1]) if hs.complete else [])
    full_parts = full.parts
    if full.complete:  # an incomplete run already has a false part
        full_parts = full_parts + _handshake_invariants(spec, full.history[len(HANDSHAKE) - 1]) + _data_invariants(spec, full)
    common = (f"Free 32-bit ISN_A and ISN_B, {DATA_RANGE[0]} <= DATA <= {DATA_RANGE[1]}; each step's scripted rule is "
              "the first rule in spec order whose guard holds, for all of them.")
    isn_a = inputs["ISN_A"]
    runs = [
        ("symbolic_run.handshake", base, hs_parts,
         f"{' -> '.join(s.rule for s in HANDSHAKE)}. {common} Then both ESTABLISHED with IRS/ISS and RCV.NXT matched and nothing outstanding."),
        ("symbolic_run.data_and_close", base, full_parts,
         (f"Handshake, then {' -> '.join(s.rule for s in DATA_AND_CLOSE[len(HANDSHAKE):])}. {common} "
          "B delivers exactly DATA octets; every ACK sent is seq_le the peer's SND.NXT; both end CLOSED.")),
        ("symbolic_run.wrap (ISN_A = 2**32 - 1)", base + [isn_a == WRAP], full_parts,
         "The data_and_close run with ISN_A = 2**32 - 1: A's SYN is the last number before the wrap."),
        ("symbolic_run.wrap (ISN_A in [2**32 - 8, 2**32 - 1])", base + [z3.UGE(isn_a, WRAP - 7)], full_parts,
         "The data_and_close run with ISN_A among the last 8 numbers: the data and FIN cross the wrap."),
    ]
    return [_decide(name, hyp, parts, inputs, detail, timeout) for name, hyp, parts, detail in runs]


def sequence_accounting(spec: Spec, timeout: float = TIMEOUT) -> Result:
    """In the data_and_close run, sequence numbers count octets: A's SYN carries SEQ = ISS, its
    data segment SEQ = ISS + 1 (the SYN took one number) and DATA octets, its FIN SEQ = ISS + 1 +
    DATA (the FIN takes the next); and every segment either side sends with ACK acknowledges
    exactly its RCV.NXT after the step: the next octet it expects. For all 32-bit ISNs and DATA.
    (Not one of ``prove``'s obligations: ``tcpmodel report`` cites it.)"""
    inputs = _inputs()
    run = symbolic_run(spec, DATA_AND_CLOSE, inputs)
    name = "symbolic_run.sequence_accounting"
    if not run.complete:
        return _decide(name, _domain(inputs, spec), run.parts, inputs, "The data_and_close run does not complete.", timeout)
    syn, fin, ack = SYN, FIN, ACK
    ends = run.history[-1]
    sent_by_a = ends["A"].sent
    rule_at = {n: step.rule for n, step in enumerate(run.script)}
    isn_a, data = inputs["ISN_A"], inputs["DATA"]
    parts = [(label, formula) for label, formula, *_ in run.parts]
    first_syn = next(s for s in sent_by_a if s.flags & syn)
    payload = next(s for s in sent_by_a if rule_at[s.step] == "send_data")
    first_fin = next(s for s in sent_by_a if s.flags & fin)
    parts += [
        ("A's SYN: SEQ = ISS", first_syn.seq == isn_a),
        ("A's data: SEQ = ISS + 1, DATA octets", z3.And(payload.seq == isn_a + 1, payload.data == data)),
        ("A's FIN: SEQ = ISS + 1 + DATA", first_fin.seq == isn_a + 1 + data),
    ]
    for who in ENDPOINTS:
        for s in ends[who].sent:
            if s.flags & ack:
                expected = _rfc_variables(spec, run.history[s.step][who].variables)["RCV.NXT"]
                parts.append((f"step {s.step}: {who}'s ACK = its RCV.NXT", z3.Implies(s.when, s.ack == expected)))
    detail = ("The data_and_close run: A's SYN has SEQ = ISS, its data SEQ = ISS + 1, its FIN SEQ = ISS + 1 + DATA (the SYN "
              "and the FIN each take one number, the data one per octet), and every ACK sent equals the sender's RCV.NXT. "
              f"Free 32-bit ISN_A and ISN_B, {DATA_RANGE[0]} <= DATA <= min({DATA_RANGE[1]}, RCV.WND).")
    return _decide(name, _domain(inputs, spec), parts, inputs, detail, timeout)


# ---------------------------------------------------------------- boundary witnesses


def _py_acceptable(seq: int, length: int, nxt: int, wnd: int) -> bool:
    """RFC 9293 Table 6 with tcpmodel.base.seqnum."""
    if length == 0:
        return seq == nxt if wnd == 0 else seqnum.in_window(seq, nxt, wnd)
    return wnd > 0 and (seqnum.in_window(seq, nxt, wnd) or seqnum.in_window(seqnum.seq_add(seq, length - 1), nxt, wnd))


def _py_ack_acceptable(una: int, ack: int, nxt: int) -> bool:
    return seqnum.seq_lt(una, ack) and seqnum.seq_le(ack, nxt)


class _Terms:
    """Free terms for the definitions, compiled from the spec (window = the spec's RCV.WND)."""

    def __init__(self, spec: Spec):
        frame = zt.symbolic_frame(spec, "_w")
        self.spec, self.frame = spec, frame
        self.v, self.s = frame.variables, frame.segment
        self.wnd = frame.constants.get("RCV.WND", zt.bv(0))

    def definition(self, name: str, **replace) -> z3.BoolRef:
        """The spec's definition ``name``; ``SEG_SEQ=term`` etc. replace one input (not SEG.DATA)."""
        if name not in self.spec.definitions:
            raise SpecError(f"the boundary witnesses (and the vectors placed by them) need the definition {name} of RFC 9293 "
                            "§3.10.7.4, which this spec does not define", where=self.spec.where or str(self.spec.path))
        names = self.frame.names()
        for key, term in replace.items():
            names[key.replace("_", ".")] = term
        return zt.Z3Context(self.spec.states, names).term(self.spec.definitions[name])


def _model(facts: list[z3.BoolRef], preferences: list[z3.BoolRef], timeout: float) -> z3.ModelRef | None:
    """A model of ``facts`` with as many of ``preferences`` as hold together, tried in order
    (each kept when still satisfiable); None when ``facts`` alone are unsatisfiable."""
    kept: list[z3.BoolRef] = []
    for preference in preferences:
        solver = fresh_solver(timeout)
        solver.add(*facts, *kept, preference)
        if check_sat(solver) == z3.sat:
            kept.append(preference)
    solver = fresh_solver(timeout)
    solver.add(*facts, *kept)
    return solver.model() if check_sat(solver) == z3.sat else None


def _plain_data_segment(t: _Terms, data: int) -> list:
    s = t.s
    return [s["SEG.DATA"] == data, z3.Not(s["SYN"]), z3.Not(s["FIN"]), z3.Not(s["RST"]), s["ACK"], s["SEG.WND"] == t.wnd]


def boundary_witnesses(spec: Spec, timeout: float = TIMEOUT) -> list[dict]:
    """Concrete boundary values found by Z3 from the spec's definitions, each checked against
    tcpmodel.base.seqnum. Raises AssertionError when a witness disagrees with the Python semantics
    (that would mean the Z3 reading and the Python code differ)."""
    t = _Terms(spec)
    v, s, wnd = _rfc_variables(spec, t.v), t.s, t.wnd
    nxt, seq, una, snd_nxt, ack = v["RCV.NXT"], s["SEG.SEQ"], v["SND.UNA"], v["SND.NXT"], s["SEG.ACK"]
    window = zt.concrete(wnd, signed=True)
    straddle = z3.ULT(nxt + wnd - 1, nxt)  # the window [RCV.NXT, RCV.NXT + WND) contains 0
    centred = nxt + z3.LShR(wnd, 1) == 0   # near-the-wrap preference: 0 in the middle of the window
    out = []

    def add(name, why, facts, preferences, fields, check):
        model = _model(facts, preferences, timeout)
        if model is None:
            raise AssertionError(f"witness {name}: no model of its defining constraints")
        values = {k: zt.concrete(model.eval(term, model_completion=True), signed=k in ("SEG.DATA", "SEG.LEN", "RCV.WND", "SEG.WND"))
                  for k, term in fields.items()}
        if not check(values):
            raise AssertionError(f"witness {name} {values} disagrees with tcpmodel.base.seqnum")
        out.append({"name": name, "why": why, **values})

    segment_fields = {"RCV.NXT": nxt, "RCV.WND": wnd, "SEG.SEQ": seq, "SEG.DATA": s["SEG.DATA"], "SEG.LEN": t.frame.names()["SEG.LEN"]}
    acceptable = t.definition("ACCEPTABLE")
    add("acceptable.last_in_window",
        "A one-octet segment at RCV.NXT + RCV.WND - 1, the last acceptable number, with the window straddling 0.",
        _plain_data_segment(t, 1) + [acceptable, z3.Not(t.definition("ACCEPTABLE", SEG_SEQ=seq + 1)), straddle],
        [centred], segment_fields,
        lambda w: w["SEG.SEQ"] == seqnum.seq_add(w["RCV.NXT"], w["RCV.WND"] - 1) and _py_acceptable(w["SEG.SEQ"], w["SEG.LEN"], w["RCV.NXT"], w["RCV.WND"])
        and not _py_acceptable(seqnum.seq_add(w["SEG.SEQ"], 1), w["SEG.LEN"], w["RCV.NXT"], w["RCV.WND"]))
    add("acceptable.first_beyond_window",
        "A one-octet segment at RCV.NXT + RCV.WND, the first unacceptable number, with the window straddling 0.",
        _plain_data_segment(t, 1) + [z3.Not(acceptable), t.definition("ACCEPTABLE", SEG_SEQ=seq - 1), straddle],
        [centred], segment_fields,
        lambda w: w["SEG.SEQ"] == seqnum.seq_add(w["RCV.NXT"], w["RCV.WND"]) and not _py_acceptable(w["SEG.SEQ"], w["SEG.LEN"], w["RCV.NXT"], w["RCV.WND"])
        and _py_acceptable(seqnum.seq_add(w["SEG.SEQ"], -1), w["SEG.LEN"], w["RCV.NXT"], w["RCV.WND"]))
    add("acceptable.empty_before_window",
        "An empty segment at RCV.NXT - 1 (just left of the window), RCV.NXT = 0.",
        [s["SEG.DATA"] == 0, z3.Not(s["SYN"]), z3.Not(s["FIN"]), z3.Not(acceptable), t.definition("ACCEPTABLE", SEG_SEQ=seq + 1)],
        [nxt == 0], segment_fields,
        lambda w: w["SEG.SEQ"] == seqnum.seq_add(w["RCV.NXT"], -1) and not _py_acceptable(w["SEG.SEQ"], 0, w["RCV.NXT"], w["RCV.WND"])
        and _py_acceptable(w["RCV.NXT"], 0, w["RCV.NXT"], w["RCV.WND"]))

    ack_fields = {"SND.UNA": una, "SND.NXT": snd_nxt, "SEG.ACK": ack}
    ack_ok, too_new = t.definition("ACK_ACCEPTABLE"), t.definition("ACK_TOO_NEW")
    flags_fields = {**ack_fields, "ACK_ACCEPTABLE": ack_ok, "ACK_TOO_NEW": too_new}
    add("ack.last_acceptable",
        "SEG.ACK == SND.NXT = 2**32 - 1: the last acceptable ACK, at the wrap.",
        [snd_nxt == WRAP, ack_ok, z3.Not(t.definition("ACK_ACCEPTABLE", SEG_ACK=ack + 1))],
        [una == snd_nxt - 1], flags_fields,
        lambda w: w["SEG.ACK"] == w["SND.NXT"] and _py_ack_acceptable(w["SND.UNA"], w["SEG.ACK"], w["SND.NXT"]) and w["ACK_ACCEPTABLE"])
    add("ack.first_too_new",
        "SEG.ACK == SND.NXT + 1 with SND.NXT = 2**32 - 1 (so SEG.ACK = 0): the first unacceptable ACK, too new.",
        [snd_nxt == WRAP, z3.Not(ack_ok), t.definition("ACK_ACCEPTABLE", SEG_ACK=ack - 1)],
        [una == snd_nxt - 1], flags_fields,
        lambda w: w["SEG.ACK"] == seqnum.seq_add(w["SND.NXT"], 1) and not _py_ack_acceptable(w["SND.UNA"], w["SEG.ACK"], w["SND.NXT"])
        and seqnum.seq_gt(w["SEG.ACK"], w["SND.NXT"]) and w["ACK_TOO_NEW"] and not w["ACK_ACCEPTABLE"])
    add("ack.half_distance",
        "SEG.ACK exactly 2**31 from SND.UNA: neither less nor greater (RFC 1982), so not acceptable.",
        [ack != una, z3.Not(zt.seq_lt(una, ack)), z3.Not(zt.seq_lt(ack, una))],
        [una == WRAP, snd_nxt == una + 1], flags_fields,
        lambda w: seqnum.seq_sub(w["SEG.ACK"], w["SND.UNA"]) == seqnum.HALF and not seqnum.seq_lt(w["SND.UNA"], w["SEG.ACK"])
        and not seqnum.seq_lt(w["SEG.ACK"], w["SND.UNA"]) and not _py_ack_acceptable(w["SND.UNA"], w["SEG.ACK"], w["SND.NXT"])
        and not w["ACK_ACCEPTABLE"] and w["ACK_TOO_NEW"] == seqnum.seq_gt(w["SEG.ACK"], w["SND.NXT"]))

    in_order = t.definition("IN_ORDER")
    old = nxt - seq
    add("segment.overlaps_rcv_nxt",
        "A data segment that begins below RCV.NXT and ends above it: old (duplicate) and new octets, across the wrap.",
        _plain_data_segment(t, window) + [zt.seq_lt(seq, nxt), zt.in_window(nxt, seq, s["SEG.DATA"]), acceptable, in_order],
        [nxt == 0, old == z3.LShR(s["SEG.DATA"], 1)],
        {**segment_fields, "old_octets": old, "new_octets": s["SEG.DATA"] - old},
        lambda w: seqnum.seq_lt(w["SEG.SEQ"], w["RCV.NXT"]) and seqnum.in_window(w["RCV.NXT"], w["SEG.SEQ"], w["SEG.LEN"])
        and _py_acceptable(w["SEG.SEQ"], w["SEG.LEN"], w["RCV.NXT"], w["RCV.WND"]) and seqnum.seq_le(w["SEG.SEQ"], w["RCV.NXT"])
        and w["old_octets"] == seqnum.seq_diff(w["RCV.NXT"], w["SEG.SEQ"]) > 0 and w["new_octets"] > 0
        and w["old_octets"] + w["new_octets"] == w["SEG.LEN"])
    return out


def witnesses_json(witnesses: list[dict]) -> str:
    return json.dumps(witnesses, indent=2) + "\n"
