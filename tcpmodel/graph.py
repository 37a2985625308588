"""Graph algorithms over an ``Exploration``: reachability, bottom SCCs, shortest paths.

Liveness is decided under strong fairness of every transition (a transition enabled infinitely
often is taken infinitely often). In a finite system, the states a fair run visits infinitely
often then form a *bottom* strongly connected component: closed under successors. So "P leads to
Q" fails exactly when, from a P-state, a path through non-Q states reaches a bottom SCC without a
Q-state. Bottom SCCs are either terminal states or lie in the region that cannot reach any
terminal state; SCCs are computed only on that region, never on the whole state space.

The whole-graph steps (reversing the edge list, backward reachability) work on the compressed
edge list with numpy, a BFS level at a time: at the default scenario (52 M transitions) a Python
loop over the edges would take longer than the exploration.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from tcpmodel.explore import Exploration

REVERSE_BUCKET = 1 << 24  # edges sorted at once when reversing the edge list (bounds its memory)


def _edges(ex: Exploration) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(ex.offsets, dtype=np.int64), np.asarray(ex.targets, dtype=np.uint32)


def predecessors(ex: Exploration, without_tag: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The reversed edge lists, in the same compressed form (offsets, sources), each state's
    sources in increasing order; with ``without_tag``, edges so tagged are left out."""
    n = ex.count
    offsets, targets = _edges(ex)
    sources = np.repeat(np.arange(n, dtype=np.uint32), np.diff(offsets))
    if without_tag:
        keep = np.asarray(ex.tags, dtype=np.uint8) != without_tag
        sources, targets = sources[keep], targets[keep]
    counts = np.bincount(targets, minlength=n)
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    reversed_sources = np.empty(len(targets), dtype=np.uint32)
    # Sort (target, source) pairs, a range of targets at a time so the 64-bit keys stay small.
    low = 0
    while low < n:
        high = int(np.searchsorted(starts, starts[low] + REVERSE_BUCKET, side="right")) - 1
        high = min(max(high, low + 1), n)
        chosen = np.flatnonzero((targets >= low) & (targets < high)) if (low, high) != (0, n) else slice(None)
        keys = (targets[chosen].astype(np.uint64) << np.uint64(32)) | sources[chosen]
        keys.sort()
        reversed_sources[starts[low]:starts[high]] = keys & np.uint64(0xFFFFFFFF)
        low = high
    return starts, reversed_sources


def backward_reachable(ex: Exploration, goals, reverse=None) -> np.ndarray:
    """mark[k] is true when some goal state is reachable from state k."""
    pred_offsets, pred_sources = reverse or predecessors(ex)
    mark = np.zeros(ex.count, dtype=bool)
    frontier = np.unique(np.asarray(goals, dtype=np.int64))
    mark[frontier] = True
    while frontier.size:
        found = pred_sources[_ranges(pred_offsets, frontier)]
        found = found[~mark[found]]
        mark[found] = True
        frontier = np.unique(found)
    return mark


def _ranges(offsets: np.ndarray, states: np.ndarray) -> np.ndarray:
    """The positions offsets[k]:offsets[k + 1] of every k in ``states``, concatenated."""
    starts = offsets[states]
    lengths = offsets[states + 1] - starts
    firsts = np.cumsum(lengths) - lengths
    return np.repeat(starts - firsts, lengths) + np.arange(int(lengths.sum()))


def terminal_states(ex: Exploration) -> list[int]:
    """States without successors."""
    offsets, _ = _edges(ex)
    return np.flatnonzero(offsets[1:] == offsets[:-1]).tolist()


def bottom_components(ex: Exploration, reverse=None, without_tag: int = 0) -> list[list[int]]:
    """Every bottom SCC: the terminal states, and the closed cycles that cannot terminate.

    With ``without_tag``, edges so tagged are left out: the components are those of the runs
    that never take such a step (steps that fairness does not force, such as giving up). A state
    whose only steps are tagged ones is then a dead end, not a component: every run that gets
    there takes such a step, so no run of the kind considered stays there."""
    terminals = terminal_states(ex)
    components = [[k] for k in terminals]
    can_end = backward_reachable(ex, terminals, reverse if not without_tag else predecessors(ex, without_tag))
    stuck = np.flatnonzero(~can_end).tolist()
    if stuck:
        components += _closed_components(ex, stuck, without_tag)
    return components


def _closed_components(ex: Exploration, region: list[int], without_tag: int) -> list[list[int]]:
    """The bottom SCCs (each with a cycle) of the region: Tarjan's algorithm, iteratively.

    The region is closed under successors (what cannot reach a terminal state leads only to what
    cannot either), so an SCC is bottom when no edge leaves it for another SCC of the region."""
    inside = set(region)
    successors = {k: [j for j in ex.successors_of(k, without_tag) if j in inside] for k in region}
    number, low, component_of = {}, {}, {}
    stack, on_stack, components = [], set(), []
    for root in region:
        if root in number:
            continue
        work = [(root, 0)]
        while work:
            k, i = work.pop()
            if i == 0:
                number[k] = low[k] = len(number)
                stack.append(k)
                on_stack.add(k)
            edges = successors[k]
            while i < len(edges):
                j = edges[i]
                i += 1
                if j not in number:
                    work.append((k, i))
                    work.append((j, 0))
                    break
                if j in on_stack:
                    low[k] = min(low[k], number[j])
            else:
                if low[k] == number[k]:
                    members = []
                    while True:
                        j = stack.pop()
                        on_stack.discard(j)
                        component_of[j] = len(components)
                        members.append(j)
                        if j == k:
                            break
                    components.append(sorted(members))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[k])
    bottom = []
    for c, members in enumerate(components):
        leaves = any(component_of[j] != c for k in members for j in successors[k])
        cyclic = len(members) > 1 or members[0] in successors[members[0]]
        if not leaves and cyclic:
            bottom.append(members)
    return bottom


def forward_path(ex: Exploration, starts, allowed, goal, without_tag: int = 0) -> list[int] | None:
    """A shortest path from one of ``starts`` to a state with ``goal(k)``, through ``allowed``."""
    parent = {}
    queue = deque()
    for s in starts:
        if s not in parent and allowed(s):
            parent[s] = -1
            queue.append(s)
    while queue:
        k = queue.popleft()
        if goal(k):
            path = []
            while k >= 0:
                path.append(k)
                k = parent[k]
            return path[::-1]
        for j in ex.successors_of(k, without_tag):
            if j not in parent and allowed(j):
                parent[j] = k
                queue.append(j)
    return None


def cycle_through(ex: Exploration, component: list[int], without_tag: int = 0) -> list[int]:
    """A cycle inside a (non-trivial) strongly connected component, starting at its first state."""
    members = set(component)
    start = component[0]
    firsts = [j for j in ex.successors_of(start, without_tag) if j in members]
    back = forward_path(ex, firsts, members.__contains__, lambda k: k == start, without_tag)
    return [start] + (back or [])
