"""Replay a run file on the compiled system: does the run still show what it recorded?

``replay(run, spec)`` rebuilds the system from ``spec`` and the scenario in the run's header
(``traces.run``) and re-executes the run from the initial state: each recorded step must be a
step the system has in the state reached, with exactly the record ``describe_step`` writes for
it. A record does not show every field of a state (what produced a segment is left out), so
two steps may have one record; the replay then follows each state that fits, and the run
reproduces when one of them does.

At the end the recorded property is evaluated on the run, as the check evaluates it:

- an invariant (``handshake_agreement``): the last state breaks it;
- a step property: the last step breaks it;
- ``deadlock_free``: the last state has no step and is not quiet;
- ``progress``: from the last state no quiet state can be reached;
- a leads-to property (``open_completes``, ``close_completes``): from some state of the run on
  where P holds, Q holds nowhere, no step gives up where giving up is left out, and Q holds in
  no state reachable from the last one that way, so a fair run never meets Q.

A run with a cycle (a lasso) must come back at its end to the state its cycle started from.
The reachable states are searched up to ``LIMIT``; a search cut short decides nothing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from tcpmodel.base.errors import InputError, did_you_mean
from tcpmodel.checking.counterexample import Step, describe_step, format_step
from tcpmodel.checking.properties import PROPERTIES, Checker, Observer, StatePredicate, give_up_events
from tcpmodel.language.spec import Spec
from tcpmodel.system.composed import System
from tcpmodel.system.scenario import make_scenario
from tcpmodel.system.steps import Label, SystemState, decode_step
from tcpmodel.traces.run import Run, RunStep

LIMIT = 1_000_000  # states searched from the run's last state (progress, leads-to)
MAX_FOLLOWED = 10_000  # states followed at once when records fit several steps
SHOWN = 5  # steps of the system named when a recorded step is not one of them


@dataclass(frozen=True, eq=False)
class Node:
    """A state the replay reached: the step that led to it and the node before."""

    state: SystemState
    label: Label | None = None  # None for an initial state
    parent: Node | None = None

    def gives_up(self, events: tuple[str, ...]) -> bool:
        """Whether the step that led here is one by which someone gives up (one of ``events``,
        ``properties.give_up_events``)."""
        return self.label is not None and self.label.event in events


@dataclass(frozen=True)
class Replay:
    """What a replay found: whether the run reproduces its violation, how many steps it re-executed,
    and where and why it stopped short (the file and line of a step, or of the header)."""

    reproduced: bool
    replayed: int
    steps: int
    prop: str | None
    where: str = ""
    reason: str = ""
    system: System | None = None


def rebuild_system(run: Run, spec: Spec) -> tuple[System, Checker]:
    """The system of the run: ``spec`` under the scenario its header records, with the observer."""
    try:
        scenario = make_scenario(spec, run.header.scenario)
    except InputError as exc:  # it names the setting: this run's header holds it
        raise InputError(f"the run's scenario: {exc}", where=run.where()) from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"the run's scenario is not one tcpmodel writes: {exc}", where=run.where()) from None
    observer = Observer(spec)
    system = System(spec, scenario, observer)
    return system, Checker(system, observer)


def replay(run: Run, spec: Spec) -> Replay:
    """Re-execute ``run`` on ``spec`` and evaluate its property at the end (see the module)."""
    prop = run.header.property
    names = [p.name for p in PROPERTIES]
    if prop is not None and prop not in names:
        raise InputError(f'unknown property "{prop}"{did_you_mean(prop, names)}', where=run.where())
    system, checker = rebuild_system(run, spec)
    nodes = [Node(s) for s in system.initial_states()]
    for n, step in enumerate(run.steps, 1):
        following = []
        seen = set()
        for node in nodes:
            for label, nxt in system.successors(node.state):
                if (nxt, id(node)) not in seen and describe_step(system, n, Step(label, node.state, nxt)) == step.record:
                    seen.add((nxt, id(node)))
                    following.append(Node(nxt, label, node))
        if not following:
            return Replay(False, n - 1, len(run.steps), prop, run.where(step), _not_a_step(system, n, step, nodes), system)
        if len(following) > MAX_FOLLOWED:
            return Replay(False, n - 1, len(run.steps), prop, run.where(step),
                          f"more than {MAX_FOLLOWED:,} states fit the steps up to step {n}: the run is too ambiguous to follow", system)
        nodes = following
    if prop is None:
        return Replay(True, len(run.steps), len(run.steps), None, system=system)
    reasons = []
    for node in nodes:
        path = _path(node)
        reason = _still_violated(system, checker, run, prop, path)
        if reason is None:
            return Replay(True, len(run.steps), len(run.steps), prop, system=system)
        reasons.append(reason)
    where = run.where(run.steps[-1]) if run.steps else run.where()
    return Replay(False, len(run.steps), len(run.steps), prop, where, reasons[0], system)


def _path(node: Node) -> list[Node]:
    path = []
    at: Node | None = node
    while at is not None:
        path.append(at)
        at = at.parent
    return path[::-1]


def _not_a_step(system: System, n: int, step: RunStep, nodes: list[Node]) -> str:
    recorded = format_step(step.record)
    near = []
    for node in nodes:
        for label, nxt in system.successors(node.state):
            record = describe_step(system, n, Step(label, node.state, nxt))
            if record.get("actor") == step.record.get("actor") and record.get("event") == step.record.get("event"):
                near.append(format_step(record))
    text = f"step {n} is not a step the system has in the state reached: {recorded}"
    if near:
        shown = "; ".join(sorted(set(near))[:SHOWN])
        text += f" (the system's {step.record.get('event')} steps of {step.record.get('actor')} there: {shown})"
    else:
        text += f" (the system has no {step.record.get('event')} step of {step.record.get('actor')} there)"
    return text


def _still_violated(system: System, checker: Checker, run: Run, prop: str, path: list[Node]) -> str | None:
    """None when the run ending with ``path`` breaks ``prop``, else why not."""
    kind = next(p.kind for p in PROPERTIES if p.name == prop)
    last = path[-1].state
    cycle_start = run.header.cycle_start
    if cycle_start is not None and path[cycle_start - 1].state != last:
        return f"the cycle from step {cycle_start} does not come back to the state it started from"
    if kind == "invariant":
        return None if checker.disagree(last[0]) else f"the last state does not break {prop}"
    if kind == "transition":
        if len(path) < 2:
            return f"a run without steps breaks no step property such as {prop}"
        label = path[-1].label
        assert label is not None  # the node after a step
        step = decode_step(label, path[-2].state, last)
        return None if step is not None and prop in checker.broken(step) else f"the last step does not break {prop}"
    if prop == "deadlock_free":
        if next(iter(system.successors(last)), None) is not None:
            return "the last state has steps: it is no deadlock"
        return "the last state is quiet: it is no deadlock" if system.is_quiet(last) else None
    if prop == "progress":
        reached, complete = _reachable(system, last, give_up=True, stop=system.is_quiet)
        if not complete:
            return f"undecided: more than {LIMIT:,} states are reachable from the last state"
        return "a quiet final state can be reached from the last state" if any(system.is_quiet(s) for s in reached) else None
    cases, steady = checker.leads_to()[prop]
    return _leads_to(system, path, cases, steady, prop)


def _leads_to(system: System, path: list[Node], cases: list[tuple[StatePredicate, StatePredicate]], steady: bool, prop: str) -> str | None:
    reason = f"no state of the run from which Q never holds again starts with P ({prop})"
    giving_up = give_up_events(system.spec)
    for p, q in cases:
        start = None
        for k in range(len(path) - 1, -1, -1):  # the earliest state from which Q never holds again
            if q(path[k].state) or (steady and k + 1 < len(path) and path[k + 1].gives_up(giving_up)):
                break
            if p(path[k].state):
                start = k
        if start is None:
            continue
        reached, complete = _reachable(system, path[-1].state, give_up=not steady, stop=q)
        if not complete:
            reason = f"undecided: more than {LIMIT:,} states are reachable from the last state"
            continue
        if any(q(s) for s in reached):
            reason = "from the last state a state where Q holds can be reached: a fair run meets it"
            continue
        return None
    return reason


def _reachable(system: System, origin: SystemState, give_up: bool, stop: StatePredicate) -> tuple[set[SystemState], bool]:
    """The states reachable from ``origin`` (by steps that give up only if ``give_up``), up to a
    first state where ``stop`` holds; and whether the search was complete."""
    giving_up = give_up_events(system.spec)
    seen = {origin}
    queue = deque([origin])
    while queue:
        state = queue.popleft()
        if stop(state):
            return seen, True
        for label, nxt in system.successors(state):
            if not give_up and label.event in giving_up:
                continue
            if nxt not in seen:
                if len(seen) >= LIMIT:
                    return seen, False
                seen.add(nxt)
                queue.append(nxt)
    return seen, True
