"""Tests of the generic explorer and the graph algorithms, on tiny toy models (no TCP)."""

from collections import deque
from itertools import pairwise

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpmodel.engine.explore import Bounds, explore
from tcpmodel.engine.graph import (
    backward_reachable,
    bottom_components,
    cycle_through,
    forward_path,
    predecessors,
    terminal_states,
)


class GraphModel:
    """A model given by an adjacency dict: state -> list of (label, next state)."""

    def __init__(self, edges, initial):
        self.edges = edges
        self.initial = list(initial)
        self.expanded = []

    def initial_states(self):
        return iter(self.initial)

    def successors(self, state):
        self.expanded.append(state)
        yield from self.edges.get(state, [])


def simple(adjacency, initial):
    """Adjacency without labels: the label is 'src->dst'."""
    return GraphModel({s: [(f"{s}->{t}", t) for t in ts] for s, ts in adjacency.items()}, initial)


class Counter:
    """An infinite model: n -> n + 1."""

    def initial_states(self):
        return [0]

    def successors(self, n):
        yield "tick", n + 1


def names(ex, ks):
    return [ex.states[k] for k in ks]


# ---------------------------------------------------------------- a two-state clock


def clock():
    return GraphModel({0: [("tick", 1)], 1: [("tock", 0)]}, [0])


def test_clock_counts():
    ex = explore(clock())
    assert ex.states == [0, 1]
    assert ex.count == 2
    assert ex.transitions == 2
    assert ex.complete is True
    assert ex.stop_reason == ""
    assert ex.depth == 1
    assert list(ex.parent) == [-1, 0]
    assert list(ex.successors_of(0)) == [1]
    assert list(ex.successors_of(1)) == [0]
    assert ex.index == {0: 0, 1: 1}
    assert ex.seconds >= 0


def test_clock_has_no_terminal_and_one_bottom_component():
    ex = explore(clock())
    assert terminal_states(ex) == []
    assert bottom_components(ex) == [[0, 1]]
    assert cycle_through(ex, [0, 1]) == [0, 1, 0]
    assert cycle_through(ex, [1, 0]) == [1, 0, 1]


def test_single_state_without_successors():
    ex = explore(simple({}, ["only"]))
    assert ex.count == 1 and ex.transitions == 0 and ex.depth == 0 and ex.complete
    assert terminal_states(ex) == [0]
    assert bottom_components(ex) == [[0]]


def test_self_loop_is_a_bottom_component():
    ex = explore(simple({"x": ["x"]}, ["x"]))
    assert ex.count == 1 and ex.transitions == 1
    assert terminal_states(ex) == []
    assert bottom_components(ex) == [[0]]
    assert cycle_through(ex, [0]) == [0, 0]


# ---------------------------------------------------------------- a diamond with a dead end

#        a
#       / \
#      b   c ---> dead
#       \ /
#        d
#        |
#        e
DIAMOND = {"a": ["b", "c"], "b": ["d"], "c": ["d", "dead"], "d": ["e"], "e": [], "dead": []}


@pytest.fixture
def diamond():
    return explore(simple(DIAMOND, ["a"]))


def test_diamond_counts_and_bfs_order(diamond):
    ex = diamond
    assert ex.states == ["a", "b", "c", "d", "dead", "e"]
    assert ex.count == 6
    assert ex.transitions == 6
    assert ex.complete
    assert ex.depth == 3
    assert list(ex.parent) == [-1, 0, 0, 1, 2, 3]  # d's parent is b: the first to reach it
    assert list(ex.offsets) == [0, 2, 3, 5, 6, 6, 6]
    assert names(ex, ex.successors_of(ex.index["c"])) == ["d", "dead"]


def test_diamond_path_to_is_shortest(diamond):
    ex = diamond
    assert names(ex, ex.path_to(ex.index["e"])) == ["a", "b", "d", "e"]
    assert names(ex, ex.path_to(ex.index["dead"])) == ["a", "c", "dead"]
    assert names(ex, ex.path_to(0)) == ["a"]


def test_diamond_terminals_and_bottom_components(diamond):
    ex = diamond
    assert names(ex, terminal_states(ex)) == ["dead", "e"]
    assert sorted(bottom_components(ex)) == [[ex.index["dead"]], [ex.index["e"]]]


def test_diamond_backward_reachable(diamond):
    ex = diamond
    mark = backward_reachable(ex, [ex.index["dead"]])
    assert {ex.states[k] for k in range(ex.count) if mark[k]} == {"a", "c", "dead"}
    mark = backward_reachable(ex, [ex.index["e"]])
    assert {ex.states[k] for k in range(ex.count) if mark[k]} == {"a", "b", "c", "d", "e"}
    mark = backward_reachable(ex, [ex.index["d"], ex.index["dead"]])
    assert {ex.states[k] for k in range(ex.count) if mark[k]} == {"a", "b", "c", "d", "dead"}
    assert not any(backward_reachable(ex, []))


def test_diamond_predecessors(diamond):
    ex = diamond
    offsets, sources = predecessors(ex)
    preds = {ex.states[j]: sorted(ex.states[sources[e]] for e in range(offsets[j], offsets[j + 1])) for j in range(ex.count)}
    assert preds == {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "dead": ["c"], "e": ["d"]}


def test_diamond_forward_path(diamond):
    ex = diamond
    i = ex.index
    everything = lambda k: True  # noqa: E731
    assert names(ex, forward_path(ex, [i["a"]], everything, lambda k: k == i["e"])) == ["a", "b", "d", "e"]
    # Forbid b: the shortest path must go through c.
    not_b = lambda k: k != i["b"]  # noqa: E731
    assert names(ex, forward_path(ex, [i["a"]], not_b, lambda k: k == i["e"])) == ["a", "c", "d", "e"]
    # Forbid d: e is unreachable.
    not_d = lambda k: k != i["d"]  # noqa: E731
    assert forward_path(ex, [i["a"]], not_d, lambda k: k == i["e"]) is None
    # A start that is itself a goal gives a one-state path; a start not allowed is skipped.
    assert forward_path(ex, [i["d"]], everything, lambda k: k == i["d"]) == [i["d"]]
    assert forward_path(ex, [i["b"]], not_b, lambda k: True) is None
    # Several starts: the nearest goal wins.
    assert names(ex, forward_path(ex, [i["a"], i["d"]], everything, lambda k: k == i["e"])) == ["d", "e"]
    # No path goes backwards.
    assert forward_path(ex, [i["e"]], everything, lambda k: k == i["a"]) is None


# ---------------------------------------------------------------- a sink and separate cycles

#   s --> t (terminal)
#   s --> p <-> q --> r (self loop)
#   s --> u --> v --> w --> u
CYCLES = {"s": ["t", "p", "u"], "t": [], "p": ["q"], "q": ["p", "r"], "r": ["r"], "u": ["v"], "v": ["w"], "w": ["u"]}


@pytest.fixture
def cycles():
    return explore(simple(CYCLES, ["s"]))


def test_cycles_counts(cycles):
    ex = cycles
    assert ex.count == 8
    assert ex.transitions == 10
    assert ex.complete
    assert ex.depth == 3  # s -> u -> v -> w


def test_cycles_bottom_components(cycles):
    ex = cycles
    i = ex.index
    assert terminal_states(ex) == [i["t"]]
    components = bottom_components(ex)
    assert sorted(components) == sorted([[i["t"]], [i["r"]], sorted([i["u"], i["v"], i["w"]])])
    # {p, q} is a cycle but not a bottom one: it can leave for r.
    assert not any(set(c) == {i["p"], i["q"]} for c in components)
    # Every component is closed under successors.
    for c in components:
        for k in c:
            assert set(ex.successors_of(k)) <= set(c)


def test_cycles_cycle_through(cycles):
    ex = cycles
    i = ex.index
    component = sorted([i["u"], i["v"], i["w"]])
    cycle = cycle_through(ex, component)
    assert cycle[0] == cycle[-1] == component[0]
    assert set(cycle) == set(component)
    assert len(cycle) == 4
    for a, b in pairwise(cycle):
        assert b in ex.successors_of(a)
    assert cycle_through(ex, [i["r"]]) == [i["r"], i["r"]]
    pq = cycle_through(ex, [i["p"], i["q"]])
    assert pq == [i["p"], i["q"], i["p"]]


def test_cycles_backward_reachable(cycles):
    ex = cycles
    i = ex.index
    can_end = backward_reachable(ex, [i["t"]])
    assert {ex.states[k] for k in range(ex.count) if can_end[k]} == {"s", "t"}
    reach_r = backward_reachable(ex, [i["r"]], predecessors(ex))
    assert {ex.states[k] for k in range(ex.count) if reach_r[k]} == {"s", "p", "q", "r"}


# ---------------------------------------------------------------- initial states


def test_several_and_duplicate_initial_states():
    model = simple({"x": ["y"], "y": [], "z": ["y"]}, ["x", "z", "x"])
    ex = explore(model)
    assert ex.states == ["x", "z", "y"]
    assert list(ex.parent) == [-1, -1, 0]
    assert ex.transitions == 2
    assert ex.depth == 1
    assert ex.path_to(ex.index["y"]) == [0, 2]
    assert ex.path_to(1) == [1]


def test_each_state_expanded_once():
    model = simple(DIAMOND, ["a"])
    explore(model)
    assert sorted(model.expanded) == sorted(DIAMOND)


# ---------------------------------------------------------------- bounds and interruption


def test_max_states_stops_incomplete():
    ex = explore(Counter(), Bounds(max_states=10))
    assert ex.complete is False
    assert "--max-states" in ex.stop_reason
    assert "10" in ex.stop_reason
    assert ex.count == 11  # one state past the bound, then stop
    assert ex.states == list(range(11))
    # Every found state has an (possibly empty) edge list.
    assert len(ex.offsets) == ex.count + 1
    assert list(ex.successors_of(ex.count - 1)) == []
    assert ex.transitions == len(ex.targets) == 10


def test_max_states_not_reached_is_complete():
    ex = explore(simple(DIAMOND, ["a"]), Bounds(max_states=100))
    assert ex.complete is True
    assert ex.stop_reason == ""
    assert ex.count == 6


def test_max_states_exactly_the_size_is_complete():
    ex = explore(simple(DIAMOND, ["a"]), Bounds(max_states=6))
    assert ex.complete is True
    assert ex.count == 6


def test_max_seconds_stops_incomplete():
    ex = explore(Counter(), Bounds(max_states=100_000, max_seconds=0))
    assert ex.complete is False
    assert "--max-seconds" in ex.stop_reason
    assert ex.count < 100_000


def test_keyboard_interrupt_stops_cleanly():
    class Interrupting:
        def initial_states(self):
            return [0]

        def successors(self, n):
            if n == 3:
                raise KeyboardInterrupt
            yield "next", n + 1

    ex = explore(Interrupting())
    assert ex.complete is False
    assert ex.stop_reason == "interrupted"
    assert ex.states == [0, 1, 2, 3]
    assert len(ex.offsets) == ex.count + 1


# ---------------------------------------------------------------- callbacks


def test_callbacks_see_every_state_once_and_every_transition():
    model = simple(CYCLES, ["s"])
    seen_states, seen_transitions = [], []
    ex = explore(
        model,
        on_state=lambda k, state: seen_states.append((k, state)),
        on_transition=lambda k, label, j, state, nxt: seen_transitions.append((k, label, j, state, nxt)),
    )
    assert seen_states == list(enumerate(ex.states))
    assert len(seen_transitions) == ex.transitions == 10
    expected = sorted(
        (ex.index[s], f"{s}->{t}", ex.index[t], s, t) for s, ts in CYCLES.items() for t in ts
    )
    assert sorted(seen_transitions) == expected
    # Transitions are reported in BFS order of their source.
    sources = [t[0] for t in seen_transitions]
    assert sources == sorted(sources)


def test_on_state_called_before_its_transition():
    order = []
    explore(
        clock(),
        on_state=lambda k, s: order.append(("state", k)),
        on_transition=lambda k, label, j, s, n: order.append(("edge", k, j)),
    )
    assert order == [("state", 0), ("state", 1), ("edge", 0, 1), ("edge", 1, 0)]


# ---------------------------------------------------------------- random graphs against an independent BFS

graphs = st.integers(min_value=1, max_value=12).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.dictionaries(
            st.integers(0, n - 1),
            st.lists(st.integers(0, n - 1), max_size=4),
            max_size=n,
        ),
        st.lists(st.integers(0, n - 1), min_size=1, max_size=3),
    )
)


def reference_bfs(adjacency, initial):
    dist = {}
    queue = deque()
    for s in initial:
        if s not in dist:
            dist[s] = 0
            queue.append(s)
    while queue:
        s = queue.popleft()
        for t in adjacency.get(s, []):
            if t not in dist:
                dist[t] = dist[s] + 1
                queue.append(t)
    return dist


@given(graphs)
@settings(max_examples=150, deadline=None)
def test_random_graphs_match_reference(case):
    _n, adjacency, initial = case
    ex = explore(simple(adjacency, initial))
    dist = reference_bfs(adjacency, initial)
    assert ex.complete
    assert set(ex.states) == set(dist)
    assert ex.count == len(dist)
    assert ex.transitions == sum(len(adjacency.get(s, [])) for s in dist)
    assert ex.depth == max(dist.values())
    # BFS numbering: distances never decrease with the index.
    ds = [dist[s] for s in ex.states]
    assert ds == sorted(ds)
    for k, s in enumerate(ex.states):
        path = ex.path_to(k)
        assert len(path) == dist[s] + 1
        assert ex.states[path[0]] in initial
        for a, b in pairwise(path):
            assert ex.states[b] in adjacency.get(ex.states[a], [])
        assert names(ex, ex.successors_of(k)) == list(adjacency.get(s, []))

    # Bottom components agree with networkx on the reachable graph.
    g = nx.DiGraph()
    g.add_nodes_from(dist)
    g.add_edges_from((s, t) for s in dist for t in adjacency.get(s, []))
    condensed = nx.condensation(g)
    expected = sorted(sorted(condensed.nodes[c]["members"]) for c in condensed.nodes if condensed.out_degree(c) == 0)
    got = sorted(sorted(ex.states[k] for k in comp) for comp in bottom_components(ex))
    assert got == expected
    assert sorted(ex.states[k] for k in terminal_states(ex)) == sorted(s for s in dist if not adjacency.get(s))

    # backward_reachable agrees with networkx ancestors.
    goal = ex.states[-1]
    mark = backward_reachable(ex, [ex.count - 1])
    assert {ex.states[k] for k in range(ex.count) if mark[k]} == nx.ancestors(g, goal) | {goal}

    # Every non-trivial bottom component has a cycle through its first member.
    for comp in bottom_components(ex):
        if len(comp) > 1 or comp[0] in ex.successors_of(comp[0]):
            cycle = cycle_through(ex, comp)
            assert cycle[0] == cycle[-1] == comp[0] and len(cycle) >= 2
            assert set(cycle) <= set(comp)
            for a, b in pairwise(cycle):
                assert b in ex.successors_of(a)


# ---------------------------------------------------------------- the packed (batched) search


class PackedGraph:
    """A toy model with the packed interface: a node's code is its position in ``nodes``. The
    edge tag of a transition is 1 when its label starts with "!" (a give-up step, say)."""

    def __init__(self, model, nodes):
        self.model = model
        self.nodes = list(nodes)
        self.code = {node: n for n, node in enumerate(self.nodes)}
        self.committed = []
        self.numbered = []

    def initial_codes(self):
        return [self.code[s] for s in self.model.initial_states()]

    def expand(self, codes, first):
        successors, counts, tags = [], [], []
        for code in codes.tolist():
            edges = list(self.model.successors(self.nodes[code]))
            successors += [self.code[t] for _, t in edges]
            tags += [tag_of(label) for label, _ in edges]
            counts.append(len(edges))
        return np.array(successors, dtype=np.uint64), np.array(counts, dtype=np.int64), np.array(tags, dtype=np.uint8)

    def decode(self, code):
        return self.nodes[code]

    def encode(self, state):
        return self.code[state]

    def commit(self, first, kept):
        self.committed.append((first, kept))

    def new_states(self, codes, first):
        self.numbered += [(first + n, self.nodes[c]) for n, c in enumerate(codes.tolist())]


def tag_of(label) -> int:
    return 1 if str(label).startswith("!") else 0


def assert_same_search(generic, packed):
    """Two explorations of one model: the same states, numbers, parents, edges, tags and depth."""
    assert packed.packed and not generic.packed
    assert list(packed.states) == list(generic.states)
    assert list(packed.parent) == list(generic.parent)
    assert list(packed.offsets) == list(generic.offsets)
    assert list(packed.targets) == list(generic.targets)
    assert bytes(np.asarray(packed.tags, dtype=np.uint8)) == bytes(generic.tags)
    assert (packed.count, packed.transitions, packed.depth) == (generic.count, generic.transitions, generic.depth)
    assert (packed.complete, packed.stop_reason) == (generic.complete, generic.stop_reason)
    for k, state in enumerate(generic.states):
        assert packed.index[state] == k


def both_searches(adjacency, initial, bounds=None):
    nodes = sorted(set(adjacency) | {t for ts in adjacency.values() for t in ts} | set(initial), key=str)
    model = GraphModel({s: [(f"{'!' if (hash(str(s)) ^ hash(str(t))) & 4 else ''}{s}->{t}", t) for t in ts] for s, ts in adjacency.items()}, initial)
    generic = explore(model, bounds, edge_tag=tag_of)
    packed_model = PackedGraph(model, nodes)
    return generic, explore(packed_model, bounds), packed_model


@pytest.mark.parametrize("graph", [DIAMOND, CYCLES, {0: [1], 1: [0]}, {"x": ["x"]}, {}])
def test_packed_search_gives_the_same_graph(graph):
    initial = [next(iter(graph))] if graph else ["only"]
    generic, packed, model = both_searches(graph, initial)
    assert_same_search(generic, packed)
    assert model.numbered == list(enumerate(generic.states))
    assert sum(kept for _, kept in model.committed) == generic.count


def test_packed_search_in_small_batches_gives_the_same_graph(monkeypatch):
    """Batches smaller than a BFS level number new states in order of first appearance too."""
    import tcpmodel.engine.fastexplore as fastexplore

    grid = {(x, y): [(x + 1, y), (x, y + 1), (x, 0)] for x in range(6) for y in range(6)}
    for batch in (1, 2, 3, 7):
        monkeypatch.setattr(fastexplore, "BATCH", batch)
        generic, packed, model = both_searches(grid, [(0, 0)])
        assert_same_search(generic, packed)
        assert [first for first, _ in model.committed] == sorted(first for first, _ in model.committed)


@pytest.mark.parametrize("bound", [1, 2, 5, 10, 30])
def test_packed_search_stops_where_the_state_by_state_search_stops(monkeypatch, bound):
    import tcpmodel.engine.fastexplore as fastexplore

    grid = {(x, y): [(x + 1, y), (x, y + 1), (x, 0)] for x in range(8) for y in range(8)}
    for batch in (1, 4, 1000):
        monkeypatch.setattr(fastexplore, "BATCH", batch)
        generic, packed, model = both_searches(grid, [(0, 0)], Bounds(max_states=bound))
        assert not generic.complete
        assert_same_search(generic, packed)
        expanded = sum(kept for _, kept in model.committed)
        assert 1 <= expanded <= generic.count and generic.offsets[expanded] == generic.transitions


def test_packed_search_bounded_by_seconds_and_memory_stops_incomplete():
    counter = PackedGraph(Counter(), range(10_000))
    ex = explore(counter, Bounds(max_seconds=0))
    assert not ex.complete and "--max-seconds" in ex.stop_reason
    ex = explore(PackedGraph(Counter(), range(10_000)), Bounds(max_memory=1 << 20))
    assert not ex.complete and ex.stop_reason == "--max-memory 1M reached"
    assert len(ex.offsets) == ex.count + 1


def test_state_by_state_search_bounded_by_memory_stops_incomplete():
    ex = explore(Counter(), Bounds(max_states=5000, max_memory=1 << 20))
    assert not ex.complete and ex.stop_reason == "--max-memory 1M reached"
    assert ex.count == 1025  # the bound is looked at every 1,024 states


@given(graphs)
@settings(max_examples=100, deadline=None)
def test_random_graphs_packed_and_state_by_state_agree(case):
    _n, adjacency, initial = case
    generic, packed, _ = both_searches(adjacency, initial)
    assert_same_search(generic, packed)


def test_backward_reachability_by_sweeps_matches_the_bfs(monkeypatch):
    """Without a reversed edge list, backward reachability sweeps the states; after SWEEPS it
    falls back to the BFS over predecessors. All three agree."""
    import tcpmodel.engine.graph as graph_module

    grid = {(x, y): [(x + 1, y), ((x + 3) % 7, y), (x, (y + 1) % 7)] for x in range(7) for y in range(7)}
    grid[(6, 6)] = []
    ex = explore(simple(grid, [(0, 0)]))
    goal = [ex.index[(6, 6)]]
    expected = backward_reachable(ex, goal, predecessors(ex))
    assert (backward_reachable(ex, goal) == expected).all()
    monkeypatch.setattr(graph_module, "SWEEP_PART", 3)
    assert (backward_reachable(ex, goal) == expected).all()
    monkeypatch.setattr(graph_module, "SWEEPS", 0)
    assert (backward_reachable(ex, goal) == expected).all()
