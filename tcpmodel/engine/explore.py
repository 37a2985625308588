"""Exhaustive breadth-first exploration of any transition system.

The explorer knows nothing about TCP. A model gives ``initial_states()`` and
``successors(state)`` yielding ``(label, next_state)``; states must be hashable and canonical.
States are numbered in BFS order, so state ``k``'s parent chain is a shortest path to it and the
first state found violating a property is a nearest one. The edge list is kept in compressed
form (one offset per state, one 32-bit target per transition) for the liveness analysis in
``graph``; no networkx graph of the whole state space is ever built.

A model may also offer a packed interface (``tcpmodel.engine.fastexplore``: states as 64-bit codes,
successors of a whole batch of states at once). ``explore`` then uses it, unless a caller asks to
see every state or transition as it is found (``on_state``, ``on_transition``, ``edge_tag``),
which only the state-by-state search can show. Both searches number the same states the same way.

The state-by-state search runs with the garbage collector off, and leaves the states it stored
frozen (``gc.freeze``): every state is a tuple of tuples kept until the end, and collections
would rescan all of them again and again for reference cycles that cannot exist. Frozen objects
are still freed by reference counting.
"""

from __future__ import annotations

import gc
import time
from array import array
from dataclasses import dataclass, field

from tcpmodel.engine.fastexplore import explore_packed, peak_rss


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
    packed: bool = False  # explored by the packed (batched) search
    store_bytes: int = 0  # memory of the stored states: codes, hash index, parents
    edge_bytes: int = 0  # memory of the edge list: offsets, targets and tags
    peak_rss: int = 0  # the process's peak resident set size when the search ended, in bytes

    @property
    def count(self) -> int:
        return len(self.states)

    def successors_of(self, k: int, without_tag: int = 0) -> list[int]:
        """The successors of state k; with ``without_tag``, only along edges not tagged so."""
        start, end = int(self.offsets[k]), int(self.offsets[k + 1])
        if not without_tag:
            return [int(j) for j in self.targets[start:end]]
        tags, targets = self.tags, self.targets
        return [int(targets[e]) for e in range(start, end) if tags[e] != without_tag]

    def path_to(self, k: int) -> list[int]:
        path = []
        while k >= 0:
            path.append(int(k))
            k = self.parent[k]
        return path[::-1]


class Bounds:
    """When to stop early. Exceeding a bound leaves ``Exploration.complete`` false.

    ``max_memory`` (bytes) is compared with the process's peak resident set size every 1,024
    states (state by state) or after every batch (packed): a soft bound, overshot by at most what
    one batch allocates. It bounds the search; the liveness analysis that follows a complete
    search needs a few bytes per transition more (at the default scenario: 170 MB, 3.3 bytes per
    transition, on top of 648 MB)."""

    def __init__(self, max_states: int | None = None, max_seconds: float | None = None, max_memory: int | None = None):
        self.max_states = max_states
        self.max_seconds = max_seconds
        self.max_memory = max_memory

    def describe_memory(self) -> str:
        return format_bytes(self.max_memory) if self.max_memory is not None else "no bound"

    def exceeded(self, seconds: float) -> str:
        """Why the search must stop after running ``seconds`` (time or memory), or ""."""

        if self.max_seconds is not None and seconds > self.max_seconds:
            return f"--max-seconds {self.max_seconds:g} reached"
        if self.max_memory is not None and peak_rss() > self.max_memory:
            return f"--max-memory {self.describe_memory()} reached"
        return ""


def format_bytes(n: int) -> str:
    """1536 -> "1.5K", 2 * 2**30 -> "2G" (binary units, as --max-memory takes them)."""
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n}B"


def explore(model, bounds: Bounds | None = None, on_state=None, on_transition=None, progress=None, edge_tag=None) -> Exploration:
    """Explore every state reachable from ``model.initial_states()``.

    ``on_state(k, state)`` sees each new state once; ``on_transition(k, label, j, state,
    next_state)`` sees every transition. ``edge_tag(label)``, if given, gives each transition a
    small number kept in ``Exploration.tags`` (for example: this step is a give-up).
    ``progress(exploration, frontier)`` is called about twice a second. A bound or Ctrl-C stops
    the search cleanly with ``complete = False``.
    """
    bounds = bounds or Bounds()
    if hasattr(model, "expand") and on_state is None and on_transition is None and edge_tag is None:
        result = Exploration([], array("i"), array("q", [0]), array("I"), packed=True)
        return explore_packed(model, result, bounds, progress)
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _explore(model, bounds, on_state, on_transition, progress, edge_tag)
    finally:
        if collecting:
            gc.freeze()
            gc.enable()


def _explore(model, bounds: Bounds, on_state, on_transition, progress, edge_tag) -> Exploration:
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
                result.stop_reason = bounds.exceeded(now - started)
                if result.stop_reason:
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
    except MemoryError:
        result.stop_reason = "out of memory"
    result.transitions = len(targets)
    result.seconds = time.monotonic() - started
    # States found but not expanded have no edges recorded.
    while len(offsets) < len(states) + 1:
        offsets.append(len(targets))
    result.edge_bytes = offsets.itemsize * len(offsets) + targets.itemsize * len(targets) + len(tags)
    result.store_bytes = parent.itemsize * len(parent)  # and the states themselves, Python tuples not measured
    result.peak_rss = peak_rss()
    return result
