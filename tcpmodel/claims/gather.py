"""Gathering the evidence for ``tcpmodel report``: the claims of the source notes, each checked by real runs of tcpmodel.

The project started from study notes on TCP (in Chinese); design §5 lists their claims.
``gather`` collects the evidence by running tcpmodel on small scenarios:

- model checks of the reference spec, and of each variant spec beside the reference under the
  variant's own scenario (a counterexample there, every property holding here);
- witness runs: the shortest run of the reference that shows something (a handshake, a close, an
  octet sent in CLOSE-WAIT and delivered, a FIN restarting TIME-WAIT), and the same old
  duplicate SYN replayed on the reference and on the two-way handshake;
- Z3's symbolic runs over all 32-bit ISNs; the oracle on crafted one-endpoint traces;
- the Linux kernel measurements recorded in ``tcpmodel/experiments/recorded/`` (never re-run here).

``seedclaims`` judges every claim from that evidence alone, and writes the Markdown. ``write``
puts the report and its artefacts in place: SVG ladder diagrams and the state diagram, the runs
as JSON lines, the crafted traces (which ``tcpmodel audit`` reads), the proofs. The output
depends only on the specs, the recorded experiments and tcpmodel itself: no times, no paths
but those given.
"""

from __future__ import annotations

import json
from pathlib import Path

from tcpmodel.base.errors import InputError
from tcpmodel.base.flags import ACK, SYN
from tcpmodel.base.interrupts import Interrupted
from tcpmodel.base.seqnum import seq_add
from tcpmodel.checking.check import check
from tcpmodel.checking.properties import Observer
from tcpmodel.claims.evidence import Checked, Evidence, Shown
from tcpmodel.claims.ledger import Ledger
from tcpmodel.claims.witness import (
    Action,
    delivered,
    extend,
    network_empty,
    replay,
    shortest_run,
    state_of,
)
from tcpmodel.language.spec import Spec, load_spec
from tcpmodel.oracle.judge import judge
from tcpmodel.oracle.profiles import PROFILES
from tcpmodel.proofs.symbolic import run_results, sequence_accounting
from tcpmodel.rendering.ladder import render_ladder
from tcpmodel.rendering.statediagram import render_state_diagram
from tcpmodel.system.composed import System
from tcpmodel.system.scenario import make_scenario
from tcpmodel.traces.run import run_text
from tcpmodel.traces.trace import (
    CallEvent,
    Header,
    SegmentEvent,
    Trace,
    trace_lines,
)

KERNEL_RECORDS = ("time-wait", "port-exhaustion", "message-boundaries", "syn-data", "time-wait-cost")

# The variants and the property each one's design point protects; the reference is checked
# under each variant's own scenario beside it. Quick mode shrinks scenarios where the
# counterexample survives it.
VARIANTS: tuple[tuple[str, str, dict[str, object]], ...] = (
    ("two_way_handshake", "handshake_agreement", {"capacity": 1}),
    ("fixed_isn", "stream_integrity", {"capacity": 1}),
    ("no_time_wait", "graceful_close", {}),
    ("time_wait_one_msl", "graceful_close", {"roles": ("active", "passive")}),
)
REFERENCE_SCENARIO = {"incarnations": 1}  # loss, duplication, reordering: the default network
QUICK_REFERENCE_SCENARIO = {"incarnations": 1, "duplication": False}
# Witness runs: one connection, A opens actively and B passively, users that do not abort.
BASIC = {"roles": ("active", "passive"), "incarnations": 1, "loss": False, "duplication": False,
         "reordering": False, "abort": False}
TIMED = {**BASIC, "timed": True, "loss": True, "capacity": 1}
# RFC 9293 §3.5 Figure 8: A gives up an open and opens again while its first SYN is still in the
# network (so no quiet time), and that old SYN reaches B first (so reordering).
OLD_SYN = {**BASIC, "incarnations": 2, "quiet_time": False, "reordering": True, "data": 0}
OLD_SYN_SCRIPT = (Action("A", "CONNECT"), Action("A", "CLOSE"), Action("A", "CONNECT"), Action("B", "LISTEN"),
                  Action("B", "SEGMENT", "SYN", incarnation=1), Action("A", "SEGMENT", "SYN,ACK"),
                  Action("B", "SEGMENT", "RST"))


# ---------------------------------------------------------------- gathering


def gather(specs: Path, experiments: Path, quick: bool = False, progress=None) -> Evidence:
    say = progress or (lambda text: None)
    kernel = read_kernel_records(experiments)
    reference = load_spec(specs / "rfc9293.toml")
    ev = Evidence(quick, specs, experiments, kernel=kernel, reference=reference)
    ev.add("state-diagram.svg", render_state_diagram(reference))
    ledger = Ledger(reference)
    ev.checks["reference"] = run_check(ev, "reference", reference, QUICK_REFERENCE_SCENARIO if quick else REFERENCE_SCENARIO, say, ledger)
    ev.ledger = ledger
    for name, prop, quick_overrides in VARIANTS:
        variant = load_spec(specs / "variants" / f"{name}.toml")
        overrides = quick_overrides if quick else {}
        checked = ev.checks[name] = run_check(ev, name, variant, overrides, say)
        if prop in checked.counterexamples:
            header, records = checked.counterexamples[prop]
            ev.add(f"{name}.{prop}.jsonl", run_text(header, records))
            ev.add(f"{name}.{prop}.svg", render_ladder(header, records, title=f"{name}: {prop} violated ({header['rfc']})",
                                                      mark_step=len(records) if header.get("cycle_start") is None else None))
        ev.checks[f"reference@{name}"] = run_check(ev, f"reference@{name}", reference, {**variant.scenario, **overrides}, say)
    say("witness runs of the reference, and an old duplicate SYN replayed on two specs")
    gather_witnesses(ev, reference)
    gather_replays(ev, reference, load_spec(specs / "variants" / "two_way_handshake.toml"))
    say("Z3: symbolic runs over all 32-bit ISNs")
    gather_proofs(ev, reference)
    say("the oracle: crafted traces of one endpoint")
    gather_oracle(ev, reference)
    return ev


def read_kernel_records(folder: Path) -> dict[str, dict]:
    records = {}
    for name in KERNEL_RECORDS:
        path = folder / f"{name}.json"
        try:
            records[name] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"no recorded kernel experiment: record it with `tcpmodel experiment {name} --record {path}`",
                             where=str(path)) from None
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the recorded experiment: {exc}", where=str(path)) from None
        if records[name].get("experiment") != name:
            raise InputError(f"not a record of the {name} experiment", where=str(path))
    return records


def run_check(ev: Evidence, key: str, spec: Spec, overrides: dict, say, ledger: Ledger | None = None) -> Checked:
    scenario = make_scenario(spec, overrides)
    line = scenario.summary()
    say(f"checking {spec.name} ({line})")
    result = check(spec, scenario, watch=ledger)
    if not result.complete:  # a claim is never judged on part of a search (Ctrl-C, SIGTERM, memory)
        raise Interrupted(result.stop_reason)
    ex = result.exploration
    counterexamples = {}
    for p in result.violated:
        ce = p.counterexample
        assert ce is not None, "a violated property has its counterexample"
        header = ce.header()
        counterexamples[p.prop.name] = (header, ce.step_records())
    holds = {p.prop.name: p.holds for p in result.properties}
    verdict = "all hold" if result.holds else "violated: " + ", ".join(p.prop.name for p in result.violated)
    say(f"  {ex.count:,} states, {ex.transitions:,} transitions, {ex.seconds:.1f} s: {verdict}")
    return Checked(key, spec.name, str(spec.path), line, ex.count, ex.transitions, ex.complete, holds, counterexamples,
                   dict(result.rule_counts))


def system_for(spec: Spec, overrides: dict) -> System:
    return System(spec, make_scenario(spec, overrides), Observer(spec))


def keep(ev: Evidence, shown: Shown, about: str, title: str, slices: dict | None = None) -> Shown:
    """Write the run's JSON lines and ladder diagram(s); ``slices`` names parts of it (file stem ->
    (start, stop)), else the whole run is one file named after it."""
    ev.shown[shown.name] = shown
    if shown.run is None:
        return shown
    run = shown.run
    for stem, (start, stop) in (slices or {shown.name: (0, None)}).items():
        header = run.header(stem, about, spec_file=str(run.system.spec.path))
        ev.add(f"{stem}.jsonl", run.jsonl(header, start, stop))
        shown.files.append(ev.add(f"{stem}.svg", run.svg(header, title.format(stem=stem.replace("-", " ")), start, stop)))
    return shown


def is_call(label, actor: int, event: str) -> bool:
    return label.kind == "call" and label.actor == actor and label.event == event


def established_with(s: System):
    """A milestone: both ends ESTABLISHED and nothing in flight."""
    return lambda lab, p, q: state_of(s, q, "A") == state_of(s, q, "B") == "ESTABLISHED" and network_empty(q)


def gather_witnesses(ev: Evidence, spec: Spec) -> None:
    # One whole connection: handshake, 3 octets from A, A closes first.
    s = system_for(spec, {**BASIC, "data": 3})
    established = established_with(s)
    run = shortest_run(s, [established, lambda lab, p, q: is_call(lab, 0, "SEND"),
                           lambda lab, p, q: delivered(q, "B") == 3 and network_empty(q) and state_of(s, q, "A") == "ESTABLISHED",
                           lambda lab, p, q: is_call(lab, 0, "CLOSE"),
                           lambda lab, p, q: is_call(lab, 1, "CLOSE") and state_of(s, p, "B") == "CLOSE-WAIT",
                           lambda lab, p, q: s.is_quiet(q)])
    shown = Shown("connection", run, s.scenario.summary())
    if run is not None:
        opened = next(n for n, st in enumerate(run.steps) if established(st.label, st.pre, st.post)) + 1
        closing = next(n for n, st in enumerate(run.steps) if is_call(st.label, 0, "CLOSE"))
        shown.facts = {"opened": opened, "closing": closing, "records": run.records()}
    keep(ev, shown, "the shortest run of one connection: handshake, 3 octets from A, A closes first",
         "rfc9293: the {stem} (a model run: A opens actively, B passively)",
         {"handshake": (0, shown.facts.get("opened")), "close": (shown.facts.get("closing", 0), None)} if run else None)

    # The segment that completes B's handshake carries data, and B delivers it.
    s = system_for(spec, {**BASIC, "loss": True, "data": 1})
    run = shortest_run(s, [lambda lab, p, q: lab.kind == "segment" and lab.actor == 1 and state_of(s, p, "B") == "SYN-RECEIVED"
                           and lab.segment[3] > 0 and delivered(q, "B") > 0])
    shown = Shown("third-segment-data", run, s.scenario.summary())
    if run is not None:
        last = run.steps[-1]
        assert last.label.segment is not None, "the run ends with B receiving a segment"
        shown.facts = {"rule": spec.rules[last.label.rule].name, "state_after": state_of(s, last.post, "B"),
                       "octets": last.label.segment[3], "delivered": delivered(last.post, "B"), "records": run.records()}
    keep(ev, shown, "B, in SYN-RECEIVED, receives the segment that completes the handshake carrying data, and delivers it",
         "rfc9293: the segment that completes the handshake carries data (a model run)")

    # After A's FIN, B sends in CLOSE-WAIT and A delivers the octet; then the close completes.
    s = system_for(spec, {**BASIC, "data": 1})
    run = shortest_run(s, [established_with(s), lambda lab, p, q: is_call(lab, 1, "SEND") and state_of(s, p, "B") == "CLOSE-WAIT",
                           lambda lab, p, q: delivered(q, "A") > 0 and network_empty(q) and state_of(s, q, "B") == "CLOSE-WAIT",
                           lambda lab, p, q: s.is_quiet(q)])
    shown = Shown("close-wait-send", run, s.scenario.summary())
    if run is not None:
        delivery = next(st for st in run.steps if delivered(st.post, "A") > delivered(st.pre, "A"))
        shown.facts = {"a_state": state_of(s, delivery.pre, "A"), "rule": spec.rules[delivery.label.rule].name,
                       "records": run.records()}
    keep(ev, shown, "after A's FIN, B sends an octet in CLOSE-WAIT and A delivers it; then B closes too",
         "rfc9293: B sends in CLOSE-WAIT, A still receives (a model run)")

    # Timed: the network loses A's data and both retransmissions; A's user timeout (R2) gives up.
    s = system_for(spec, {**TIMED, "data": 1, "capacity": 2})
    lost = lambda lab, p, q: lab.kind == "lose" and lab.actor == 0 and lab.segment[3] > 0  # noqa: E731
    again = lambda lab, p, q: lab.kind == "timer" and lab.actor == 0 and lab.event == "RETRANSMISSION TIMEOUT"  # noqa: E731
    run = shortest_run(s, [lambda lab, p, q: is_call(lab, 0, "SEND"), lost, again, lost, again, lost,
                           lambda lab, p, q: lab.kind == "timer" and lab.actor == 0 and lab.event == "USER TIMEOUT" and delivered(q, "B") == 0],
                       allow=lambda label: not label.dropped)
    shown = Shown("gives-up", run, s.scenario.summary())
    if run is not None:
        shown.facts = {"copies": sum(1 for st in run.steps if st.label.actor == 0 and any(seg[3] for seg in st.label.sent)
                                     and st.label.kind in ("call", "timer")),
                       "lost": sum(1 for st in run.steps if st.label.kind == "lose" and st.label.segment is not None and st.label.segment[3] > 0),
                       "state_after": state_of(s, run.end, "A")}
    keep(ev, shown, "timed: A's data is lost every time it is sent, until A's user timeout (R2) closes the connection",
         "rfc9293: the network loses every copy, A gives up (a timed model run)")

    # Timed: A closes first; its last ACK is lost; B's retransmitted FIN restarts A's 2 MSL countdown.
    s = system_for(spec, {**TIMED, "data": 1})
    k = [t.name for t in spec.timers].index("TIME-WAIT")
    full = s.durations[k]
    run = shortest_run(s, [lambda lab, p, q: is_call(lab, 0, "CLOSE") and state_of(s, p, "A") == "ESTABLISHED",
                           lambda lab, p, q: is_call(lab, 1, "CLOSE") and state_of(s, p, "B") == "CLOSE-WAIT",
                           lambda lab, p, q: lab.kind == "lose" and lab.actor == 0 and state_of(s, p, "A") == "TIME-WAIT",
                           lambda lab, p, q: lab.kind == "segment" and lab.actor == 0 and spec.rules[lab.rule].name == "timewait_fin"
                           and 0 <= p[0][0][2][k] < full],
                       allow=lambda label: not label.dropped)
    shown = Shown("time-wait-restart", run, s.scenario.summary())
    if run is not None:
        last = run.steps[-1]
        i = last.label.actor
        shown.facts = {"endpoint": "AB"[i], "before": last.pre[0][i][2][k], "after": last.post[0][i][2][k], "full": full,
                       "msl": s.scenario.msl, "ticks": sum(1 for st in run.steps if st.label.kind == "tick")}
    keep(ev, shown, "timed: A's last ACK is lost, B's retransmitted FIN reaches A in TIME-WAIT, the 2 MSL timer starts again",
         "rfc9293: a FIN in TIME-WAIT restarts the 2 MSL timer (a timed model run)")


def gather_replays(ev: Evidence, reference: Spec, two_way: Spec) -> None:
    """RFC 9293 §3.5 Figure 8 on both specs: the same stimulus, then each spec's own continuation
    (segments delivered, nothing lost) until the network is empty and nobody is half open."""
    for spec in (reference, two_way):
        s = system_for(spec, OLD_SYN)
        run, stuck = replay(s, list(OLD_SYN_SCRIPT))
        opening = ("SYN-SENT", "SYN-RECEIVED")
        settled = lambda lab, p, q: network_empty(q) and state_of(s, q, "A") not in opening and state_of(s, q, "B") not in opening  # noqa: E731,B023
        whole = extend(run, settled, allow=lambda label: label.kind == "segment") if stuck is None else None
        shown = Shown(f"old-duplicate-syn.{spec.name}", whole, s.scenario.summary())
        if whole is not None:
            b_after_old_syn = state_of(s, whole.steps[4].post, "B")
            b_states = [state_of(s, st.post, "B") for st in whole.steps]
            ends = whole.end[0]
            shown.facts = {"script": len(OLD_SYN_SCRIPT), "b_after_old_syn": b_after_old_syn,
                           "b_established_on_old_syn": b_after_old_syn == "ESTABLISHED",
                           "final": {e: state_of(s, whole.end, e) for e in "AB"}, "b_states": b_states,
                           "agree": ends[0][0][s.observer.var["IRS"]] == ends[1][0][s.observer.var["ISS"]]
                           and ends[1][0][s.observer.var["IRS"]] == ends[0][0][s.observer.var["ISS"]]}
        else:
            shown.facts = {"stuck_at": stuck}
        keep(ev, shown, "RFC 9293 §3.5 Figure 8: an old duplicate SYN reaches B before A's new one",
             f"{spec.name}: an old duplicate SYN (RFC 9293 §3.5, Figure 8), the same stimulus on both specs")


def gather_proofs(ev: Evidence, spec: Spec) -> None:
    results = run_results(spec) + [sequence_accounting(spec)]
    ev.proofs = {r.name: r for r in results}
    lines = [f"Generated by `{ev.command}`; do not edit.", "",
             "# Symbolic runs of specs/rfc9293.toml over all 32-bit ISNs (Z3)", "",
             "| obligation | status | what is proved |", "|---|---|---|"]
    for r in results:
        model = f" Model: {', '.join(f'{k} = {v}' for k, v in r.model.items())}." if r.model else ""
        lines.append(f"| `{r.name}` | {r.status} | {(r.detail + model).replace('|', '/')} |")
    ev.add("proofs.md", "\n".join(lines) + "\n")


def gather_oracle(ev: Evidence, spec: Spec) -> None:
    """The oracle on three crafted traces of one endpoint (window 65535; RFC 9293's profile)."""

    win, isn, peer = 65535, 4294967294, 1000
    traces: dict[str, list[CallEvent | SegmentEvent]] = {
        # the active opener's third segment is its first data segment: the ACK rides on the data
        "third-segment-data.active": [CallEvent(0.0, "CONNECT"), SegmentEvent(0.0, "out", SYN, isn, 0, win, 0),
                                      SegmentEvent(0.1, "in", SYN | ACK, peer, seq_add(isn, 1), win, 0),
                                      CallEvent(0.1, "SEND", "ok", 5),
                                      SegmentEvent(0.1, "out", ACK, seq_add(isn, 1), peer + 1, win, 5)],
        # the passive opener receives ACK and data as the third segment, delivers and acknowledges it
        "third-segment-data.passive": [CallEvent(0.0, "LISTEN"), SegmentEvent(0.1, "in", SYN, peer, 0, win, 0),
                                       SegmentEvent(0.1, "out", SYN | ACK, isn, peer + 1, win, 0),
                                       SegmentEvent(0.2, "in", ACK, peer + 1, seq_add(isn, 1), win, 5),
                                       SegmentEvent(0.2, "out", ACK, seq_add(isn, 1), peer + 6, win, 0)],
        # the passive opener receives a SYN carrying 5 octets: it answers, acknowledging the SYN only
        "syn-data.passive": [CallEvent(0.0, "LISTEN"), SegmentEvent(0.1, "in", SYN, peer, 0, win, 5),
                             SegmentEvent(0.1, "out", SYN | ACK, isn, peer + 1, win, 0)],
    }
    for name, events in traces.items():
        trace = Trace(Header(spec.name, "rfc9293", source="tcpmodel report: crafted"), tuple(events))
        verdict = judge(spec, trace, PROFILES["rfc9293"])
        ev.oracle[name] = (ev.add(f"{name}.trace.jsonl", "\n".join(trace_lines(trace)) + "\n"), verdict)
