"""Witness runs: the shortest run of a system that does something, and runs replayed on another.

A counterexample is the shortest run to a violation; a witness is the shortest run to anything
one wants to show: a handshake, a close, an octet sent in CLOSE-WAIT and delivered. It is found by
breadth-first search over the system's states paired with how many of a list of *milestones* the
run has met so far, in order. A milestone is a predicate on one step ``(label, pre, post)``; the
first milestone met counts from that step on, so "B sends in CLOSE-WAIT, then A delivers an
octet" is two milestones. Search is exhaustive within a bound on the states it pairs.

``replay`` drives a system by a script of actions (a user call, a timer, the delivery of the
next segment with given flags) and stops where the system cannot follow. Played on two specs it
shows how each handles the same stimulus.

The steps are ``counterexample.Step``s, so ``describe_step`` and ``ladder.render_ladder`` draw
them as they draw counterexamples.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field

from tcpmodel.base.flags import flag_names
from tcpmodel.base.version import __version__
from tcpmodel.checking.counterexample import Step, describe_step
from tcpmodel.rendering.ladder import render_ladder
from tcpmodel.system.composed import GEN, System
from tcpmodel.system.scenario import ENDPOINTS

LIMIT = 2_000_000  # (state, milestones met) pairs searched before giving up


@dataclass(frozen=True)
class Action:
    """One step of a script: ``actor`` ("A" or "B") makes the call or has the timer fire named
    ``event``, or, for ``event == "SEGMENT"``, receives the first segment in flight to it whose
    flags are ``flags`` (e.g. "SYN,ACK") and, if ``incarnation`` is given, that its sender sent in
    that incarnation (a ghost field: the script chooses what the network delivers)."""

    actor: str
    event: str
    flags: str = ""
    incarnation: int = 0

    def matches(self, label) -> bool:
        if label.actor != ENDPOINTS.index(self.actor):
            return False
        if self.event == "SEGMENT":
            return (label.kind == "segment" and flag_names(label.segment[0]) == self.flags
                    and self.incarnation in (0, label.segment[GEN]))
        return label.kind in ("call", "timer") and label.event == self.event


@dataclass
class Run:
    """Steps of one system, from ``steps[0].pre``."""

    system: System
    steps: list[Step] = field(default_factory=list)

    @property
    def end(self) -> tuple:
        return self.steps[-1].post

    def records(self, start: int = 0, stop: int | None = None) -> list[dict]:
        """The step records of ``steps[start:stop]``, numbered from 1."""
        return [describe_step(self.system, n, s) for n, s in enumerate(self.steps[start:stop], 1)]

    def header(self, name: str, about: str, rfc: str = "", spec_file: str = "") -> dict:
        spec = self.system.spec
        return {"type": "header", "tool": "tcpmodel", "version": __version__, "spec": spec.name,
                "spec_file": spec_file or str(spec.path), "profile": "model",
                "scenario": self.system.scenario.describe(), "run": name, "about": about, "rfc": rfc,
                "subtitle": about}

    def jsonl(self, header: dict, start: int = 0, stop: int | None = None) -> str:
        lines = [json.dumps(header, sort_keys=True)] + [json.dumps(r, sort_keys=True) for r in self.records(start, stop)]
        return "\n".join(lines) + "\n"

    def svg(self, header: dict, title: str, start: int = 0, stop: int | None = None) -> str:
        return render_ladder(header, self.records(start, stop), title=title)


def first(steps: list[Step], predicate, after: int = 0) -> int | None:
    """The index of the first step at or after ``after`` that satisfies ``predicate(step)``."""
    return next((n for n in range(after, len(steps)) if predicate(steps[n])), None)


def shortest_run(system: System, milestones, start: tuple | None = None, allow=None, limit: int = LIMIT) -> Run | None:
    """The shortest run from ``start`` (default: the initial state) whose steps meet every
    milestone in order; steps whose label ``allow(label)`` refuses are not taken. None when no
    run within ``limit`` searched pairs does."""
    origin = start if start is not None else system.initial_states()[0]
    goal = len(milestones)
    parent: dict = {(origin, 0): None}
    queue = deque([(origin, 0)])
    while queue:
        key = queue.popleft()
        state, met = key
        for label, nxt in system.successors(state):
            if allow is not None and not allow(label):
                continue
            now = met
            while now < goal and milestones[now](label, state, nxt):
                now += 1
            new = (nxt, now)
            if new in parent:
                continue
            parent[new] = (key, label)
            if now == goal:
                return Run(system, _walk_back(parent, new))
            if len(parent) >= limit:
                return None
            queue.append(new)
    return None


def _walk_back(parent: dict, key) -> list[Step]:
    steps = []
    while parent[key] is not None:
        previous, label = parent[key]
        steps.append(Step(label, previous[0], key[0]))
        key = previous
    return steps[::-1]


def replay(system: System, actions: list[Action], start: tuple | None = None) -> tuple[Run, int | None]:
    """Play ``actions`` on ``system``: the run, and the index of the first action it could not
    follow (None when it followed all)."""
    state = start if start is not None else system.initial_states()[0]
    run = Run(system)
    for n, action in enumerate(actions):
        found = next(((label, nxt) for label, nxt in system.successors(state) if action.matches(label)), None)
        if found is None:
            return run, n
        run.steps.append(Step(found[0], state, found[1]))
        state = found[1]
    return run, None


def extend(run: Run, goal, allow=None) -> Run | None:
    """``run`` followed by the shortest continuation whose last step meets ``goal``."""
    rest = shortest_run(run.system, [goal], start=run.end if run.steps else None, allow=allow)
    return None if rest is None else Run(run.system, run.steps + rest.steps)


# ---------------------------------------------------------------- predicates on states


def state_of(system: System, state: tuple, endpoint: str) -> str:
    return system.state_name(state[0][ENDPOINTS.index(endpoint)][0])


def network_empty(state: tuple) -> bool:
    return not state[1][0] and not state[1][1]


def delivered(state: tuple, endpoint: str) -> int:
    """Octets the endpoint has delivered to its user in this incarnation (the observer's ghost)."""
    return state[2][ENDPOINTS.index(endpoint)][2]
