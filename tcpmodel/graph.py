"""Graph algorithms over an ``Exploration``: reachability, bottom SCCs, shortest paths.

Liveness is decided under strong fairness of every transition (a transition enabled infinitely
often is taken infinitely often). In a finite system, the states a fair run visits infinitely
often then form a *bottom* strongly connected component: closed under successors. So "P leads to
Q" fails exactly when, from a P-state, a path through non-Q states reaches a bottom SCC without a
Q-state. Bottom SCCs are either terminal states or lie in the region that cannot reach any
terminal state; networkx computes SCCs only on that region, never on the whole state space.
"""

from __future__ import annotations

from array import array
from collections import deque

import networkx as nx

from tcpmodel.explore import Exploration


def predecessors(ex: Exploration, without_tag: int = 0) -> tuple[array, array]:
    """The reversed edge lists, in the same compressed form (offsets, sources); with
    ``without_tag``, edges so tagged are left out."""
    n = ex.count
    tags = ex.tags if without_tag else None
    counts = array("q", bytes(8 * (n + 1)))
    for e, j in enumerate(ex.targets):
        if tags is None or tags[e] != without_tag:
            counts[j + 1] += 1
    for k in range(n):
        counts[k + 1] += counts[k]
    fill = array("q", counts)
    sources = array("I", bytes(4 * counts[n]))
    offsets, targets = ex.offsets, ex.targets
    for k in range(n):
        for e in range(offsets[k], offsets[k + 1]):
            if tags is None or tags[e] != without_tag:
                j = targets[e]
                sources[fill[j]] = k
                fill[j] += 1
    return counts, sources


def backward_reachable(ex: Exploration, goals, reverse=None) -> bytearray:
    """mark[k] = 1 when some goal state is reachable from state k."""
    pred_offsets, pred_sources = reverse or predecessors(ex)
    mark = bytearray(ex.count)
    queue = deque()
    for g in goals:
        if not mark[g]:
            mark[g] = 1
            queue.append(g)
    while queue:
        j = queue.popleft()
        for e in range(pred_offsets[j], pred_offsets[j + 1]):
            k = pred_sources[e]
            if not mark[k]:
                mark[k] = 1
                queue.append(k)
    return mark


def terminal_states(ex: Exploration) -> list[int]:
    """States without successors."""
    offsets = ex.offsets
    return [k for k in range(ex.count) if offsets[k] == offsets[k + 1]]


def bottom_components(ex: Exploration, reverse=None, without_tag: int = 0) -> list[list[int]]:
    """Every bottom SCC: the terminal states, and the closed cycles that cannot terminate.

    With ``without_tag``, edges so tagged are left out: the components are those of the runs
    that never take such a step (steps that fairness does not force, such as giving up). A state
    whose only steps are tagged ones is then a dead end, not a component: every run that gets
    there takes such a step, so no run of the kind considered stays there."""
    terminals = terminal_states(ex)
    components = [[k] for k in terminals]
    can_end = backward_reachable(ex, terminals, reverse if not without_tag else predecessors(ex, without_tag))
    stuck = [k for k in range(ex.count) if not can_end[k]]
    if stuck:
        region = set(stuck)
        g = nx.DiGraph()
        g.add_nodes_from(stuck)
        g.add_edges_from((k, j) for k in stuck for j in ex.successors_of(k, without_tag) if j in region)
        condensed = nx.condensation(g)
        for c in condensed.nodes:
            members = sorted(condensed.nodes[c]["members"])
            if condensed.out_degree(c) == 0 and (len(members) > 1 or g.has_edge(members[0], members[0])):
                components.append(members)
    return components


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
