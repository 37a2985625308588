"""Check a spec under a scenario: explore, evaluate every property, measure rule coverage.

This is the library entry point behind ``tcpmodel check``; it prints nothing. The system is
explored by the packed search (``packed``, ``fastexplore``), which evaluates the properties on its
memoised rows, or state by state with the properties as callbacks; both give the same graph and
the same violations, and the liveness analysis after either is the same code.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tcpmodel.base import seqnum
from tcpmodel.base.interrupts import reason_of
from tcpmodel.checking.counterexample import Counterexample, build_counterexample
from tcpmodel.checking.packed import PackedOverflow, PackedSystem
from tcpmodel.checking.properties import (
    FAIRNESS,
    PROPERTIES,
    Checker,
    Observer,
    Property,
    StatePredicate,
)
from tcpmodel.checking.violation import LASSO, STATE, TRANSITION, Violation
from tcpmodel.engine import graph
from tcpmodel.engine.exploration import Bounds, Exploration, Progress, peak_rss
from tcpmodel.engine.explore import explore
from tcpmodel.engine.fastexplore import PackedStates
from tcpmodel.language.spec import Spec
from tcpmodel.system.composed import System
from tcpmodel.system.scenario import Scenario
from tcpmodel.system.steps import Label, StepWatcher, SystemState, decode_step


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
    exploration: Exploration[SystemState]
    properties: list[PropertyResult]
    rule_counts: dict[str, int]
    inactive_rules: list[str]
    unreachable_states: list[str]
    quiet_states: int
    span: int = 0  # the sequence numbers explored fit in an arc this long (seqnum.span)
    fairness: str = FAIRNESS
    notes: list[str] = field(default_factory=list)
    reduced: bool = False  # explored with System.merge_causes
    peak_rss: int = 0  # the process's peak resident set size when the check was done, in bytes
    liveness_stop: str = ""  # why the liveness analysis after a complete search stopped early (e.g. Ctrl-C), or ""

    @property
    def holds(self) -> bool:
        return all(p.holds for p in self.properties)

    @property
    def complete(self) -> bool:
        """The search was complete and every property was decided on it."""
        return self.exploration.complete and not self.liveness_stop

    @property
    def stop_reason(self) -> str:
        """Why the check is incomplete (the search's stop reason, or the liveness analysis'), or ""."""
        return self.exploration.stop_reason if not self.exploration.complete else self.liveness_stop

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


def check(spec: Spec, scenario: Scenario, bounds: Bounds | None = None, progress: Progress | None = None, watch: StepWatcher | None = None,
          engine: str = "auto", reduce: bool = False) -> CheckResult:
    """``watch``, if given, also sees every endpoint step (``watch.on_step(k, step, j)``, as the
    properties do), for callers that gather facts of their own about the runs explored; it needs
    the state-by-state search (``engine="generic"``), which is otherwise used only on request or
    when the packed search cannot number the scenario's states (``packed.PackedOverflow``).

    ``reduce`` explores the system with ``System.merge_causes`` (see there why it is sound): fewer
    states and transitions, the same verdicts and shortest counterexamples."""
    observer = Observer(spec)
    system = System(spec, scenario, observer, merge_causes=reduce)
    checker = Checker(system, observer)
    notes: list[str] = []
    exploration: Exploration[SystemState] | None = None
    if watch is None and engine != "generic":
        try:
            exploration, counts, seen_states = _explore_packed(system, checker, bounds, progress)
        except PackedOverflow as exc:
            notes.append(f"explored state by state: {exc}")
            observer = Observer(spec)
            system = System(spec, scenario, observer, merge_causes=reduce)
            checker = Checker(system, observer)
    if exploration is None:
        exploration, counts, seen_states = _explore_generic(system, checker, bounds, progress, watch)
    results = []
    liveness: dict[str, Violation] = {}
    decided: set[str] = set()  # the liveness properties decided (a violation found, or none exists)
    liveness_stop, quiet = "", 0
    if exploration.complete:
        try:
            _liveness(system, checker, exploration, liveness, decided)
            quiet = int(np.count_nonzero(_predicates(system, exploration, [system.is_quiet])[0]))
        except KeyboardInterrupt as exc:  # the complete search is kept; what is not decided says so
            liveness_stop = f"{reason_of(exc)} during the liveness analysis"
    for prop in PROPERTIES:
        found = checker.violations.get(prop.name) or liveness.get(prop.name)
        if found:
            results.append(PropertyResult(prop, False, build_counterexample(system, exploration, found, prop)))
        elif exploration.complete and (prop.kind != "liveness" or prop.name in decided):
            results.append(PropertyResult(prop, True))
        elif exploration.complete:
            results.append(PropertyResult(prop, None, note=f"not decided: {liveness_stop}"))
        else:
            results.append(PropertyResult(prop, None, note=f"exploration incomplete ({exploration.stop_reason})"))
    active = system.compiled.active
    rule_counts = {r.name: counts[i] for i, r in enumerate(spec.rules) if active[i]}
    inactive = [r.name for i, r in enumerate(spec.rules) if not active[i]]
    unreachable = [s for i, s in enumerate(spec.states) if i not in seen_states]
    span = seqnum.span(system.sequence_numbers())
    return CheckResult(spec, scenario, exploration, results, rule_counts, inactive, unreachable, quiet, span, notes=notes,
                       reduced=reduce, peak_rss=peak_rss(), liveness_stop=liveness_stop)


def _explore_generic(system: System, checker: Checker, bounds: Bounds | None, progress: Progress | None,
                     watch: StepWatcher | None) -> tuple[Exploration[SystemState], list[int], set[int]]:
    """The state-by-state search, with the properties checked on every state and step."""
    counts = [0] * len(system.spec.rules)
    seen_states: set[int] = set()

    def on_state(k: int, state: SystemState) -> None:
        seen_states.add(state[0][0][0][0])
        seen_states.add(state[0][1][0][0])
        checker.on_state(k, state)

    def on_transition(k: int, label: Label, j: int, state: SystemState, nxt: SystemState) -> None:
        if label.rule >= 0:
            counts[label.rule] += 1
            step = decode_step(label, state, nxt)
            assert step is not None  # a step by a rule is an endpoint's step
            checker.on_step(k, step, j)
            if watch is not None:
                watch.on_step(k, step, j)

    exploration = explore(system, bounds, on_state, on_transition, progress, edge_tag=_give_up_tagger(checker))
    return exploration, counts, seen_states


def _explore_packed(system: System, checker: Checker, bounds: Bounds | None,
                    progress: Progress | None) -> tuple[Exploration[SystemState], list[int], set[int]]:
    """The packed search: the same graph, with the properties evaluated on memoised rows; each
    violation it finds at the n-th step of state k becomes the labelled transition it is."""
    packed = PackedSystem(system, checker, _give_up_tagger(checker))
    exploration = explore(packed, bounds, progress=progress)
    for name, found in packed.found.items():
        violation = found
        if found.kind == TRANSITION and found.label is None:
            k, n = found.state, found.successor
            assert n is not None  # the packed search notes the step's position among the successors
            label, _ = next(itertools.islice(system.successors(exploration.states[k]), n, None))
            violation = found.resolved(label, int(exploration.targets[int(exploration.offsets[k]) + n]))
        checker.violations[name] = violation
    counts = packed.rule_counts[1:].tolist()
    seen_states = {endpoint[0][0] for endpoint, _ in packed.locals.values}
    return exploration, counts, seen_states


def _predicates(system: System, ex: Exploration[SystemState], predicates: Sequence[StatePredicate]) -> list[npt.NDArray[np.bool_]]:
    """Each predicate on every explored state, as a boolean array by state number.

    On a packed exploration a predicate is evaluated once per distinct pair of locals and pair of
    channel emptinesses, on a state with those: the predicates given here (quiet, the leads-to
    properties' P and Q) read only the endpoints, their ghosts and whether each channel is empty."""
    if not ex.packed:
        return [np.fromiter((bool(p(s)) for s in ex.states), dtype=bool, count=ex.count) for p in predicates]
    states = ex.states
    assert isinstance(states, PackedStates) and isinstance(states.model, PackedSystem)  # a packed exploration of a PackedSystem
    key, representatives = states.model.endpoint_classes(states.codes)
    out = []
    for p in predicates:
        values = np.array([bool(p(s)) for s in representatives], dtype=bool)
        out.append(values[key])
    return out


GIVE_UP = 1  # the edge tag of a step by which someone gives up (properties.give_up_events)


def _give_up_tagger(checker: Checker) -> Callable[[Label], int]:
    events = checker.give_up_events
    return lambda label: GIVE_UP if label.event in events else 0


def _liveness(system: System, checker: Checker, ex: Exploration[SystemState], found: dict[str, Violation], decided: set[str]) -> None:
    """Deadlock, progress and the leads-to properties, on the complete state graph: each violation
    into ``found`` and each property's name into ``decided`` as soon as it is known, so that an
    interrupted analysis keeps what it decided."""
    leads_to = checker.leads_to()
    pairs = [pair for cases, _ in leads_to.values() for pair in cases]
    quiet, *values = _predicates(system, ex, [system.is_quiet] + [f for pair in pairs for f in pair])
    terminals = graph.terminal_states(ex)
    deadlocks = [k for k in terminals if not quiet[k]]
    if deadlocks:
        found["deadlock_free"] = Violation(STATE, deadlocks[0])
    decided.add("deadlock_free")
    can_finish = graph.backward_reachable(ex, np.flatnonzero(quiet))
    terminal = np.zeros(ex.count, dtype=bool)
    terminal[terminals] = True
    # when every state reaches a quiet state and those are terminal, each is a bottom component of its own
    bottoms = [[k] for k in terminals] if can_finish.all() and not (quiet & ~terminal).any() else graph.bottom_components(ex)
    stuck = np.flatnonzero(~can_finish)
    if stuck.size:
        found["progress"] = _stuck_witness(ex, bottoms, int(stuck[0]), can_finish)
    decided.add("progress")
    steadfast = graph.bottom_components(ex, without_tag=GIVE_UP)
    tests = iter(zip(values[0::2], values[1::2], strict=True))
    for name, (cases, steady) in leads_to.items():
        components, without_tag = (steadfast, GIVE_UP) if steady else (bottoms, 0)
        for p, q in [next(tests) for _ in cases]:
            witness = _leads_to_violation(ex, components, p, q, without_tag)
            if witness:
                found[name] = witness
                break
        decided.add(name)


def _leads_to_violation(ex: Exploration[SystemState], bottoms: list[list[int]], p: npt.NDArray[np.bool_], q: npt.NDArray[np.bool_],
                        without_tag: int = 0) -> Violation | None:
    """A fair run from a P-state that never meets Q (a LASSO violation), or None.

    ``p`` and ``q`` hold P and Q for every state. ``bottoms`` are the bottom SCCs of the runs
    considered (those that never take an edge tagged ``without_tag``, if given); the path to one
    of them takes no such edge either."""
    bad_members: set[int] = set()
    for component in bottoms:
        if not q[component].any():
            bad_members.update(component)
    if not bad_members:
        return None
    starts = np.flatnonzero(p & ~q)
    bad = np.zeros(ex.count, dtype=bool)
    bad[list(bad_members)] = True
    if not (graph.forward_reachable(ex, starts, ~q, without_tag) & bad).any():
        return None  # decided with numpy; the search below only finds the shortest path
    path = graph.forward_path(ex, starts.tolist(), lambda k: not q[k], bad_members.__contains__, without_tag)
    if path is None:
        return None
    component = next(c for c in bottoms if path[-1] in c)
    ordered = [path[-1]] + [k for k in component if k != path[-1]]
    cycle = graph.cycle_through(ex, ordered, without_tag) if len(component) > 1 else []
    return Violation(LASSO, path[0], path=tuple(path), cycle=tuple(cycle))


def _stuck_witness(ex: Exploration[SystemState], bottoms: list[list[int]], stuck: int, can_finish: npt.NDArray[np.bool_]) -> Violation:
    """From the nearest stuck state, the path into a closed cycle (or dead end) and that cycle."""
    members = {k for c in bottoms if not can_finish[c[0]] for k in c}
    path = graph.forward_path(ex, [stuck], lambda k: True, members.__contains__) or [stuck]
    component = next((c for c in bottoms if path[-1] in c), [path[-1]])
    cycle = graph.cycle_through(ex, [path[-1]] + [k for k in component if k != path[-1]]) if len(component) > 1 else []
    return Violation(LASSO, stuck, path=tuple(path), cycle=tuple(cycle))
