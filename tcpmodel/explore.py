"""Exhaustive breadth-first exploration of any transition system.

The explorer knows nothing about TCP. A model gives ``initial_states()`` and
``successors(state)`` yielding ``(label, next_state)``; states must be hashable and canonical.
States are numbered in BFS order, so state ``k``'s parent chain is a shortest path to it and the
first state found violating a property is a nearest one. The edge list is kept in compressed
form (one offset per state, one 32-bit target per transition) for the liveness analysis in
``graph``; no networkx graph of the whole state space is ever built.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field


@dataclass
class Exploration:
    states: list  # index -> state, in BFS order
    parent: array  # index -> parent index (-1 for initial states)
    offsets: array  # edges of state k: targets[offsets[k]:offsets[k + 1]]
    targets: array
    tags: bytearray = field(default_factory=bytearray)  # per transition, when the model tags edges
    transitions: int = 0
    complete: bool = False
    stop_reason: str = ""
    seconds: float = 0.0
    depth: int = 0
    index: dict = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.states)

    def successors_of(self, k: int, without_tag: int = 0):
        """The successors of state k; with ``without_tag``, only along edges not tagged so."""
        if not without_tag:
            return self.targets[self.offsets[k]:self.offsets[k + 1]]
        tags, targets = self.tags, self.targets
        return [targets[e] for e in range(self.offsets[k], self.offsets[k + 1]) if tags[e] != without_tag]

    def path_to(self, k: int) -> list[int]:
        path = []
        while k >= 0:
            path.append(k)
            k = self.parent[k]
        return path[::-1]


class Bounds:
    """When to stop early. Exceeding a bound leaves ``Exploration.complete`` false."""

    def __init__(self, max_states: int | None = None, max_seconds: float | None = None):
        self.max_states = max_states
        self.max_seconds = max_seconds


def explore(model, bounds: Bounds | None = None, on_state=None, on_transition=None, progress=None, edge_tag=None) -> Exploration:
    """Explore every state reachable from ``model.initial_states()``.

    ``on_state(k, state)`` sees each new state once; ``on_transition(k, label, j, state,
    next_state)`` sees every transition. ``edge_tag(label)``, if given, gives each transition a
    small number kept in ``Exploration.tags`` (for example: this step is a give-up).
    ``progress(exploration, frontier)`` is called about twice a second. A bound or Ctrl-C stops
    the search cleanly with ``complete = False``.
    """
    bounds = bounds or Bounds()
    started = time.monotonic()
    index: dict = {}
    states: list = []
    parent = array("i")
    offsets = array("q", [0])
    targets = array("I")
    tags = bytearray()
    result = Exploration(states, parent, offsets, targets, tags=tags, index=index)

    def add(state, from_k: int) -> int:
        k = len(states)
        index[state] = k
        states.append(state)
        parent.append(from_k)
        if on_state is not None:
            on_state(k, state)
        return k

    for state in model.initial_states():
        if state not in index:
            add(state, -1)
    next_report = started + 0.5
    head = 0
    level_end = len(states)
    try:
        while head < len(states):
            if head == level_end:
                result.depth += 1
                level_end = len(states)
            state = states[head]
            for label, nxt in model.successors(state):
                j = index.get(nxt)
                if j is None:
                    j = add(nxt, head)
                targets.append(j)
                if edge_tag is not None:
                    tags.append(edge_tag(label))
                if on_transition is not None:
                    on_transition(head, label, j, state, nxt)
            offsets.append(len(targets))
            head += 1
            if head & 1023 == 0:
                now = time.monotonic()
                if bounds.max_seconds is not None and now - started > bounds.max_seconds:
                    result.stop_reason = f"--max-seconds {bounds.max_seconds:g} reached"
                    break
                if progress is not None and now >= next_report:
                    result.transitions = len(targets)
                    result.seconds = now - started
                    progress(result, len(states) - head)
                    next_report = now + 0.5
            if bounds.max_states is not None and len(states) > bounds.max_states:
                result.stop_reason = f"--max-states {bounds.max_states} reached"
                break
        else:
            result.complete = True
    except KeyboardInterrupt:
        result.stop_reason = "interrupted"
    result.transitions = len(targets)
    result.seconds = time.monotonic() - started
    # States found but not expanded have no edges recorded.
    while len(offsets) < len(states) + 1:
        offsets.append(len(targets))
    return result
