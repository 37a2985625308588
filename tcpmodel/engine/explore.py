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
from collections.abc import Callable
from typing import cast

from tcpmodel.base.interrupts import reason_of
from tcpmodel.engine.exploration import (
    Bounds,
    Exploration,
    L,
    Model,
    PackedModel,
    Progress,
    S,
    peak_rss,
)
from tcpmodel.engine.fastexplore import explore_packed

__all__ = ["Bounds", "Exploration", "Model", "explore"]  # Bounds and Exploration live in engine.exploration


def explore(
    model: Model[S, L],
    bounds: Bounds | None = None,
    on_state: Callable[[int, S], None] | None = None,
    on_transition: Callable[[int, L, int, S, S], None] | None = None,
    progress: Progress | None = None,
    edge_tag: Callable[[L], int] | None = None,
) -> Exploration[S]:
    """Explore every state reachable from ``model.initial_states()``.

    ``on_state(k, state)`` sees each new state once; ``on_transition(k, label, j, state,
    next_state)`` sees every transition. ``edge_tag(label)``, if given, gives each transition a
    small number kept in ``Exploration.tags`` (for example: this step is a give-up).
    ``progress(exploration, frontier)`` is called about twice a second. A bound, Ctrl-C, SIGTERM
    or a time limit (``base.interrupts``) stops the search cleanly with ``complete = False`` and
    ``stop_reason`` saying why; a caller that needs the whole graph calls ``whole()``.
    """
    bounds = bounds or Bounds()
    if hasattr(model, "expand") and on_state is None and on_transition is None and edge_tag is None:
        packed = cast("PackedModel[S]", model)  # a model with expand() offers the whole packed interface
        result: Exploration[S] = Exploration([], array("i"), array("q", [0]), array("I"), packed=True)
        return explore_packed(packed, result, bounds, progress)
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _explore(model, bounds, on_state, on_transition, progress, edge_tag)
    finally:
        if collecting:
            gc.freeze()
            gc.enable()


def _explore(
    model: Model[S, L],
    bounds: Bounds,
    on_state: Callable[[int, S], None] | None,
    on_transition: Callable[[int, L, int, S, S], None] | None,
    progress: Progress | None,
    edge_tag: Callable[[L], int] | None,
) -> Exploration[S]:
    started = time.monotonic()
    index: dict[S, int] = {}
    states: list[S] = []
    parent = array("i")
    offsets = array("q", [0])
    targets = array("I")
    tags = bytearray()
    result = Exploration(states, parent, offsets, targets, tags=tags, index=index)

    def add(state: S, from_k: int) -> int:
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
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM or a time limit (base.interrupts)
        result.stop_reason = reason_of(exc)
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
