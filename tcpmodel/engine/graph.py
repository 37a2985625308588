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

from tcpmodel.engine.explore import Exploration

REVERSE_BUCKET = 1 << 23  # edges sorted at once when reversing the edge list (bounds its memory)


def _edges(ex: Exploration) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(ex.offsets, dtype=np.int64), np.asarray(ex.targets, dtype=np.uint32)


def predecessors(ex: Exploration, without_tag: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The reversed edge lists, in the same compressed form (offsets, sources), each state's
    sources in increasing order; with ``without_tag``, edges so tagged are left out."""
    return untagged(reverse_edges(ex), without_tag)


def untagged(reverse: tuple, without_tag: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, sources) of reversed edges (``reverse_edges``), without the edges tagged so."""
    starts, sources, tags = reverse
    if not without_tag:
        return starts, sources
    keep = tags != without_tag
    n = len(starts) - 1
    counts = np.zeros(n, dtype=np.int64)
    some = np.flatnonzero(starts[1:] > starts[:-1])  # reduceat needs the empty ranges left out
    if some.size:
        counts[some] = np.add.reduceat(keep, starts[some], dtype=np.int64)
    kept = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=kept[1:])
    return kept, sources[keep]


def reverse_edges(ex: Exploration) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reversed edge lists (offsets, sources, tags): the sources of the edges into state j are
    sources[offsets[j]:offsets[j + 1]], in increasing order, with the edges' tags."""
    n = ex.count
    offsets, targets = _edges(ex)
    tagged = len(ex.tags) == len(targets) and len(targets) > 0
    counts = np.bincount(targets, minlength=n)
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    sources = np.repeat(np.arange(n, dtype=np.uint32), np.diff(offsets))  # the source of each edge
    tags = np.asarray(ex.tags, dtype=np.uint8) if tagged else None
    out_sources = np.empty(len(targets), dtype=np.uint32)
    out_tags = np.zeros(len(targets), dtype=np.uint8)
    # Sort (target, edge) keys, a range of targets at a time so that few 64-bit keys exist at once.
    low = 0
    while low < n:
        high = int(np.searchsorted(starts, starts[low] + REVERSE_BUCKET, side="right")) - 1
        high = min(max(high, low + 1), n)
        chosen = np.arange(len(targets), dtype=np.uint64) if (low, high) == (0, n) else np.flatnonzero((targets >= low) & (targets < high)).view(np.uint64)
        keys = targets[chosen].astype(np.uint64)
        keys <<= np.uint64(32)
        keys |= chosen
        del chosen
        keys.sort()
        edges = (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)
        del keys
        out_sources[starts[low]:starts[high]] = sources[edges]
        if tags is not None:
            out_tags[starts[low]:starts[high]] = tags[edges]
        low = high
    return starts, out_sources, out_tags


def backward_reachable(ex: Exploration, goals, reverse=None, without_tag: int = 0) -> np.ndarray:
    """mark[k] is true when some goal state is reachable from state k (with ``without_tag``, not
    along edges so tagged; ``reverse`` may then be ``predecessors(ex, without_tag)``).

    With ``reverse``, a BFS backwards from the goals. Without it, no reversed edge list is built
    (it would cost as much memory as the edge list): sweeps over the unmarked states, from the
    last to the first, mark each state with a marked successor, until a sweep marks nothing.
    A sweep is a pass over the edges of the states still unmarked, so later sweeps are cheap; a
    sweep marks at least every state one step further from the goals, and in practice much more
    (at the default scenario 9 or 10 sweeps decide 6.9 M states). After ``SWEEPS`` sweeps the BFS
    takes over."""
    if reverse is not None:
        return _backward_bfs(ex, goals, reverse)
    offsets, targets = _edges(ex)
    allowed = np.asarray(ex.tags, dtype=np.uint8) != without_tag if without_tag else None
    mark = np.zeros(ex.count, dtype=bool)
    mark[np.asarray(goals, dtype=np.int64)] = True
    for _ in range(SWEEPS):
        if not _sweep(mark, offsets, targets, allowed):
            return mark
    return _backward_bfs(ex, goals, predecessors(ex, without_tag))


SWEEPS = 24
SWEEP_PART = 1 << 12  # states looked at together in a sweep


def _sweep(mark: np.ndarray, offsets: np.ndarray, targets: np.ndarray, allowed) -> bool:
    """Mark the unmarked states with a marked successor, a few thousand states at a time from
    the last one back (so a state sees what this sweep marked among its later successors).
    Whether any state was newly marked. While many states are unmarked, a part is a range of
    consecutive states (their edges are one slice); once few are, only those are looked at."""
    n = len(mark)
    changed = False
    if (n - np.count_nonzero(mark)) * 4 > n:
        for low in range(((n - 1) // SWEEP_PART) * SWEEP_PART, -1, -SWEEP_PART):
            high = min(low + SWEEP_PART, n)
            first, last = offsets[low], offsets[high]
            if first == last or mark[low:high].all():
                continue
            reach = mark[targets[first:last]]
            if allowed is not None:
                reach &= allowed[first:last]
            starts = offsets[low:high] - first
            some = np.flatnonzero(starts < offsets[low + 1:high + 1] - first)  # states with edges
            new = low + some[np.logical_or.reduceat(reach, starts[some])]
            changed |= _mark(mark, new)
        return changed
    unmarked = np.flatnonzero(~mark)[::-1]
    for low in range(0, len(unmarked), SWEEP_PART):
        part = unmarked[low:low + SWEEP_PART]
        starts = offsets[part]
        lengths = offsets[part + 1] - starts
        some = np.flatnonzero(lengths)
        if not some.size:
            continue
        part, starts, lengths = part[some], starts[some], lengths[some]
        firsts = np.cumsum(lengths) - lengths
        edges = np.repeat(starts - firsts, lengths) + np.arange(int(firsts[-1] + lengths[-1]))
        reach = mark[targets[edges]]
        if allowed is not None:
            reach &= allowed[edges]
        changed |= _mark(mark, part[np.logical_or.reduceat(reach, firsts)])
    return changed


def _mark(mark: np.ndarray, states: np.ndarray) -> bool:
    """Mark ``states``; whether one of them was not marked yet."""
    new = states[~mark[states]]
    mark[new] = True
    return bool(new.size)


def _backward_bfs(ex: Exploration, goals, reverse) -> np.ndarray:
    pred_offsets, pred_sources = reverse
    mark = np.zeros(ex.count, dtype=bool)
    frontier = _distinct(np.asarray(goals, dtype=np.int64))
    mark[frontier] = True
    while frontier.size:
        found = []
        for part in _parts(frontier):
            more = pred_sources[_ranges(pred_offsets, part)]
            more = _distinct(more[~mark[more]])
            mark[more] = True
            found.append(more)
        frontier = np.concatenate(found)
    return mark


def _parts(states: np.ndarray, size: int = 1 << 18):
    """A large frontier a piece at a time, so that its edges never all exist at once."""
    for low in range(0, len(states), size):
        yield states[low:low + size]


def forward_reachable(ex: Exploration, starts, allowed: np.ndarray, without_tag: int = 0) -> np.ndarray:
    """mark[k] is true when state k is reachable from an allowed state of ``starts`` through
    allowed states only (``allowed``: a boolean per state); with ``without_tag``, not along
    edges so tagged."""
    offsets, targets = _edges(ex)
    tags = np.asarray(ex.tags, dtype=np.uint8) if without_tag else None
    mark = np.zeros(ex.count, dtype=bool)
    frontier = _distinct(np.asarray(starts, dtype=np.int64))
    frontier = frontier[allowed[frontier]]
    mark[frontier] = True
    while frontier.size:
        found = []
        for part in _parts(frontier):
            edges = _ranges(offsets, part)
            if tags is not None:
                edges = edges[tags[edges] != without_tag]
            more = targets[edges]
            more = _distinct(more[~mark[more] & allowed[more]])
            mark[more] = True
            found.append(more)
        frontier = np.concatenate(found)
    return mark


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (np.unique, by sorting: faster here than its hashing)."""
    if values.size < 2:
        return values
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))]


def _ranges(offsets: np.ndarray, states: np.ndarray) -> np.ndarray:
    """The positions offsets[k]:offsets[k + 1] of every k in ``states``, concatenated."""
    states = states.astype(np.int64, copy=False)
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
    there takes such a step, so no run of the kind considered stays there. ``reverse``, if given,
    is ``predecessors(ex, without_tag)`` (see ``backward_reachable``)."""
    terminals = terminal_states(ex)
    components = [[k] for k in terminals]
    can_end = backward_reachable(ex, terminals, reverse, without_tag)
    stuck = np.flatnonzero(~can_end)
    if stuck.size:
        components += _closed_components(ex, stuck, without_tag)
    return components


def _closed_components(ex: Exploration, stuck: np.ndarray, without_tag: int) -> list[list[int]]:
    """The bottom SCCs (each with a cycle) of the region: Tarjan's algorithm, iteratively.

    The region is closed under successors (what cannot reach a terminal state leads only to what
    cannot either), so an SCC is bottom when no edge leaves it for another SCC of the region."""
    offsets, targets = _edges(ex)
    inside = np.zeros(ex.count, dtype=bool)
    inside[stuck] = True
    edges = _ranges(offsets, stuck)
    if without_tag:
        edges = edges[np.asarray(ex.tags, dtype=np.uint8)[edges] != without_tag]
    sources = np.searchsorted(offsets, edges, side="right") - 1
    ends = targets[edges]
    keep = inside[ends]
    region: list[int] = stuck.tolist()
    successors: dict[int, list[int]] = {k: [] for k in region}
    for k, j in zip(sources[keep].tolist(), ends[keep].tolist(), strict=True):
        successors[k].append(j)
    number: dict[int, int] = {}
    low: dict[int, int] = {}
    component_of: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    components: list[list[int]] = []
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
            out = successors[k]
            while i < len(out):
                j = out[i]
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
    parent: dict[int, int] = {}
    queue: deque[int] = deque()
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
