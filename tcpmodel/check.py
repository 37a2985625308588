"""Check a spec under a scenario: explore, evaluate every property, measure rule coverage.

This is the library entry point behind ``tcpmodel check``; it prints nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tcpmodel import graph, seqnum
from tcpmodel.counterexample import Counterexample, build_counterexample
from tcpmodel.explore import Bounds, Exploration, explore
from tcpmodel.properties import FAIRNESS, PROPERTIES, Checker, Observer, Property
from tcpmodel.scenario import Scenario
from tcpmodel.spec import Spec
from tcpmodel.system import System


@dataclass
class PropertyResult:
    prop: Property
    holds: bool | None  # None: not decided, because the exploration was cut short
    counterexample: Counterexample | None = None
    note: str = ""

    @property
    def status(self) -> str:
        return {True: "holds", False: "VIOLATED", None: "unknown"}[self.holds]


@dataclass
class CheckResult:
    spec: Spec
    scenario: Scenario
    exploration: Exploration
    properties: list[PropertyResult]
    rule_counts: dict[str, int]
    inactive_rules: list[str]
    unreachable_states: list[str]
    quiet_states: int
    span: int = 0  # the sequence numbers explored fit in an arc this long (seqnum.span)
    fairness: str = FAIRNESS
    notes: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return all(p.holds for p in self.properties)

    @property
    def violated(self) -> list[PropertyResult]:
        return [p for p in self.properties if p.holds is False]

    @property
    def fired(self) -> int:
        return sum(1 for n in self.rule_counts.values() if n)

    @property
    def total_rules(self) -> int:
        return len(self.rule_counts)

    @property
    def dead_rules(self) -> list[str]:
        return [name for name, n in self.rule_counts.items() if not n]


def check(spec: Spec, scenario: Scenario, bounds: Bounds | None = None, progress=None, watch=None) -> CheckResult:
    """``watch(k, label, j, state, next_state)``, if given, also sees every endpoint step (as the
    properties do), for callers that gather facts of their own about the runs explored."""
    observer = Observer(spec)
    system = System(spec, scenario, observer)
    checker = Checker(system, observer)
    counts = [0] * len(spec.rules)
    seen_states = set()

    def on_state(k, state):
        seen_states.add(state[0][0][0][0])
        seen_states.add(state[0][1][0][0])
        checker.on_state(k, state)

    def on_transition(k, label, j, state, nxt):
        if label.rule >= 0:
            counts[label.rule] += 1
            checker.on_transition(k, label, j, state, nxt)
            if watch is not None:
                watch(k, label, j, state, nxt)

    exploration = explore(system, bounds, on_state, on_transition, progress, edge_tag=_give_up_tag)
    results = []
    liveness = _liveness(system, checker, exploration) if exploration.complete else {}
    for prop in PROPERTIES:
        found = checker.violations.get(prop.name) or liveness.get(prop.name)
        if found:
            results.append(PropertyResult(prop, False, build_counterexample(system, exploration, found, prop)))
        elif exploration.complete:
            results.append(PropertyResult(prop, True))
        else:
            results.append(PropertyResult(prop, None, note=f"exploration incomplete ({exploration.stop_reason})"))
    active = system.compiled.active
    rule_counts = {r.name: counts[i] for i, r in enumerate(spec.rules) if active[i]}
    inactive = [r.name for i, r in enumerate(spec.rules) if not active[i]]
    unreachable = [s for i, s in enumerate(spec.states) if i not in seen_states]
    quiet = sum(1 for s in exploration.states if system.is_quiet(s)) if exploration.complete else 0
    span = seqnum.span(system.sequence_numbers())
    return CheckResult(spec, scenario, exploration, results, rule_counts, inactive, unreachable, quiet, span)


GIVE_UP = 1  # the edge tag of a step by which someone gives up: a user's ABORT, the R2 user timeout
GIVE_UP_EVENTS = ("ABORT", "USER TIMEOUT")


def _give_up_tag(label) -> int:
    return GIVE_UP if label.event in GIVE_UP_EVENTS else 0


def _liveness(system: System, checker: Checker, ex: Exploration) -> dict[str, tuple]:
    """Deadlock, progress and the leads-to properties, on the complete state graph."""
    found: dict[str, tuple] = {}
    states = ex.states
    quiet = [k for k in range(ex.count) if system.is_quiet(states[k])]
    terminals = graph.terminal_states(ex)
    deadlocks = [k for k in terminals if not system.is_quiet(states[k])]
    if deadlocks:
        found["deadlock_free"] = ("state", deadlocks[0])
    reverse = graph.predecessors(ex)
    can_finish = graph.backward_reachable(ex, quiet, reverse)
    bottoms = graph.bottom_components(ex, reverse)
    stuck = next((k for k in range(ex.count) if not can_finish[k]), None)
    if stuck is not None:
        found["progress"] = _stuck_witness(ex, bottoms, stuck, can_finish)
    steadfast = graph.bottom_components(ex, without_tag=GIVE_UP)
    leads_to = {  # name: (bottom components, edges a run may not take, [(P, Q), ...])
        "open_completes": (bottoms, 0, [(checker.open_pending(i), checker.open_done(i)) for i in (0, 1)]),
        "close_completes": (steadfast, GIVE_UP, [(checker.both_closed_synchronized, checker.without_tcb(i)) for i in (0, 1)]),
    }
    for name, (components, without_tag, pairs) in leads_to.items():
        for p, q in pairs:
            witness = _leads_to_violation(ex, components, p, q, without_tag)
            if witness:
                found[name] = witness
                break
    return found


def _leads_to_violation(ex: Exploration, bottoms, p, q, without_tag: int = 0):
    """A fair run from a P-state that never meets Q: ("lasso", start, (path, cycle)) or None.

    ``bottoms`` are the bottom SCCs of the runs considered (those that never take an edge tagged
    ``without_tag``, if given); the path to one of them takes no such edge either."""
    states = ex.states
    bad_members = set()
    for component in bottoms:
        if not any(q(states[k]) for k in component):
            bad_members.update(component)
    if not bad_members:
        return None
    starts = [k for k in range(ex.count) if p(states[k]) and not q(states[k])]
    path = graph.forward_path(ex, starts, lambda k: not q(states[k]), bad_members.__contains__, without_tag)
    if path is None:
        return None
    component = next(c for c in bottoms if path[-1] in c)
    ordered = [path[-1]] + [k for k in component if k != path[-1]]
    cycle = graph.cycle_through(ex, ordered, without_tag) if len(component) > 1 else []
    return ("lasso", path[0], (path, cycle))


def _stuck_witness(ex: Exploration, bottoms, stuck: int, can_finish):
    """From the nearest stuck state, the path into a closed cycle (or dead end) and that cycle."""
    members = {k for c in bottoms if not can_finish[c[0]] for k in c}
    path = graph.forward_path(ex, [stuck], lambda k: True, members.__contains__) or [stuck]
    component = next((c for c in bottoms if path[-1] in c), [path[-1]])
    cycle = graph.cycle_through(ex, [path[-1]] + [k for k in component if k != path[-1]]) if len(component) > 1 else []
    return ("lasso", stuck, (path, cycle))
