"""The TCP system as packed integer codes, for the fast explorer (``tcpmodel.engine.fastexplore``).

A state of ``System`` is ((endpoint A, endpoint B), (channel A->B, channel B->A), (ghost A, ghost B)).
Here an endpoint together with its ghost is a *local*, and locals and channels are interned:
numbered in order of first appearance. A state is one 64-bit code of four 16-bit fields (A's
local, B's local, the channel A->B, the channel B->A), so the explorer stores 8 bytes per state
and the garbage collector never sees a state. A scenario with more than 65,536 distinct locals or
channels raises ``PackedOverflow``, and ``check`` explores it state by state instead.

Few distinct locals and channels occur (the default scenario of specs/rfc9293.toml: 534 locals
and 3,964 channels in 6.9 M states), and each part of a step reads only some of the fields:

- a user call or timeout of endpoint i reads its local, the length of its outgoing channel,
  whether the network is empty and whether the peer has a retransmission pending;
- a delivery to endpoint r reads the channel towards r and r's local (and is the same for a
  segment whichever channel it lies in);
- a loss or duplication reads one channel;
- putting segments into a channel reads that channel and the segments.

So each part is computed once, in Python, by ``System`` itself (``endpoint_steps``,
``takeable`` and ``receptions``, ``network_steps``, ``_put``; there is one TCP model) for each
distinct value of what it reads, and kept as *rows*: the fields it changes, the segments it sends, the rule, the edge tag and
the properties it breaks. A batch of states is then expanded with numpy alone: the rows of each
state are looked up by its fields and turned into successor codes, in exactly the order
``System.successors`` yields them, so the explored graph is the same graph, numbered the same way
(``tests/test_packed.py`` compares the two searches edge by edge). At the default scenario 122 K
distinct (channel, local) pairs are computed in Python for 52 M transitions.

Properties are evaluated on the same rows: the step properties (``Checker.step_violations``) once
per row; those that also read the peer (``Checker.peer_tests``) once per row and peer view; the
state invariant (``Checker.disagree``) once per pair of locals. A row's step is decoded once, as
the ``steps.EndpointStep`` the checker reads; a transition is never decoded. A violation of a step
property is kept as a ``Violation`` of the n-th transition of state k (``successor``), which
``check`` turns into a labelled transition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from tcpmodel.checking.properties import PROPERTY_NAMES, Checker
from tcpmodel.checking.rows import Column, Interner, Rows
from tcpmodel.checking.violation import STATE, TRANSITION, Violation
from tcpmodel.engine.inttable import PairTable
from tcpmodel.system.composed import System
from tcpmodel.system.steps import EndpointStep, Label, SystemState

FIELDS = 4  # A's local, B's local, channel A->B, channel B->A
BIT = {name: 1 << n for n, name in enumerate(PROPERTY_NAMES)}


class PackedOverflow(Exception):
    """More distinct locals or channels than the 64-bit code can number."""


class PackedSystem:
    """``System`` (with its observer and checker) behind the packed interface of the explorer."""

    def __init__(self, system: System, checker: Checker, edge_tag: Callable[[Label], int]):
        self.system = system
        self.checker = checker
        self.edge_tag = edge_tag
        self.locals = Interner()
        self.channels = Interner()
        self.sendsets = Interner()
        self.sendsets.id(())
        self.capacity = system.scenario.capacity
        self.timed = system.scenario.timed
        self.width = 16
        # per local / per channel facts
        self.pending = Column(np.int64)  # the local has a retransmission pending
        self.length = Column(np.int64)  # a channel's length
        self.peer_view = Column(np.int64, -1)  # the local's Checker.peer_view, interned
        self.peer_views = Interner()
        self.due = Column(np.int64)  # timed: a timer of the local is due
        self.counting = Column(np.int64)  # timed: a timer of the local runs down
        self.ticked_local = Column(np.int64, -1)
        self.ticked_channel = Column(np.int64, -1)
        # memoised parts of steps
        self.calls = (Rows(), Rows())  # endpoint_steps of A and of B
        self.call_groups = (Column(np.int64, -1), Column(np.int64, -1))  # by call key
        self.receptions = (Rows(), Rows())  # deliveries to A and to B
        self.reception_groups = (PairTable(), PairTable())  # by (channel, local)
        self.network = Rows()
        self.takeable_memo: dict = {}  # channel -> System.takeable
        self.reception_memo: dict = {}  # (receiver, local, segment) -> rows
        self.network_groups = Column(np.int64, -1)  # by channel
        self.puts = PairTable()  # (channel, sends) -> channel
        self.peer_results = PairTable()  # (peer-test row, peer view) -> property bits
        self.peer_rows: list = []  # peer-test row -> (receiver index, tests)
        self.pair_results = PairTable()  # (local A, local B) -> 1 if Checker.disagree
        self.rule_counts = np.zeros(len(system.spec.rules) + 1, dtype=np.int64)
        self.found: dict[str, Violation] = {}  # property -> its first violation (a transition by number)
        self._chunk_rules: list = []
        # endpoint_classes, kept: (the codes it was computed for, the class of each, one state per class)
        self._classes: tuple[np.ndarray, npt.NDArray[np.integer[Any]], list[SystemState]] | None = None
        self._chunk_found: dict = {}

    # ------------------------------------------------------------ codes

    def encode(self, state) -> int:
        endpoints, channels, ghost = state
        fields = [self._local(endpoints[i], ghost[i] if ghost else None) for i in (0, 1)]
        fields += [self._channel(ch) for ch in channels]
        if max(fields) >= 1 << self.width:
            raise PackedOverflow(f"more than {1 << self.width:,} distinct endpoint or channel values")
        code = 0
        for value in fields:
            code = (code << self.width) | value
        return code

    def decode(self, code: int):
        w, mask = self.width, (1 << self.width) - 1
        fields = [(code >> (w * (FIELDS - 1 - f))) & mask for f in range(FIELDS)]
        (ep0, g0), (ep1, g1) = self.locals.values[fields[0]], self.locals.values[fields[1]]
        ghost = (g0, g1) if g0 is not None else ()
        return (ep0, ep1), (self.channels.values[fields[2]], self.channels.values[fields[3]]), ghost

    def initial_codes(self) -> list[int]:
        return [self.encode(s) for s in self.system.initial_states()]

    # the generic interface, for whoever explores without the packed path
    def initial_states(self):
        return self.system.initial_states()

    def successors(self, state):
        return self.system.successors(state)

    def _local(self, endpoint, ghost) -> int:
        before = len(self.locals)
        n = self.locals.id((endpoint, ghost))
        if n == before:
            self.pending.ensure(n + 1)[n] = self.system.pending(endpoint[0])
            if self.timed:
                self.due.ensure(n + 1)[n] = self.system.timer_due(endpoint)
                self.counting.ensure(n + 1)[n] = self.system.counting(endpoint)
        return n

    def _channel(self, channel) -> int:
        before = len(self.channels)
        n = self.channels.id(channel)
        if n == before:
            self.length.ensure(n + 1)[n] = len(channel)
        return n

    def _check_width(self) -> None:
        if max(len(self.locals), len(self.channels)) > 1 << self.width:
            raise PackedOverflow(f"more than {1 << self.width:,} distinct endpoint or channel values")

    # ------------------------------------------------------------ expansion

    def expand(self, codes: np.ndarray, first: int):
        """The successors of ``codes`` (states first, first + 1, ...): their codes, in
        ``System.successors`` order, the number per state, and each transition's edge tag."""
        self._chunk_rules, self._chunk_found = [], {}
        w = np.uint64(self.width)
        mask = np.uint64((1 << self.width) - 1)
        fields = [((codes >> (w * np.uint64(FIELDS - 1 - f))) & mask).astype(np.int64) for f in range(FIELDS)]
        e, c = fields[0:2], fields[2:4]
        lengths = [self.length.data[c[0]], self.length.data[c[1]]]
        empty = ((lengths[0] == 0) & (lengths[1] == 0)).astype(np.int64)
        parts = []  # (sources, new fields {field: values}, counts, tags, per-part extras)
        for i in (0, 1):
            key = ((e[i] * (self.capacity + 1) + lengths[i]) * 2 + empty) * 2 + self.pending.data[e[1 - i]]
            groups = self._call_groups(i, key)
            parts.append(self._apply(self.calls[i], groups, fields, own=i, out=2 + i, peer=1 - i))
        for ch in (0, 1):
            receiver = 1 - ch
            full = lengths[ch] > 0
            groups = self._reception_groups(receiver, c[ch], e[receiver], full)
            parts.append(self._apply(self.receptions[receiver], groups, fields, own=receiver, out=2 + receiver, peer=ch, rest=2 + ch))
            groups = np.where(full, self._network_groups(c[ch]), -1)
            parts.append(self._apply(self.network, groups, fields, rest=2 + ch))
        if self.timed:
            parts.append(self._tick(fields))
        self._check_width()
        return self._interleave(codes, first, parts)

    def _apply(self, table: Rows, groups, fields, own=None, out=None, peer=None, rest=None):
        """The successor fields of each row of each state's group."""
        sources, rows, counts = table.expand(groups)
        cols = table.columns
        new = {}
        if own is not None:
            new[own] = cols["local"][rows]
        if rest is not None:
            new[rest] = cols["channel"][rows]
        if out is not None:
            sends = cols["sends"][rows]
            new[out] = self._put(fields[out][sources], sends)
        bits = np.zeros(len(rows), dtype=np.int64)
        if own is not None:
            self._chunk_rules.append((sources, cols["rule"][rows]))
            bits |= cols["own"][rows]
            tests = cols["peer"][rows]
            with_peer = np.flatnonzero(tests >= 0)
            if with_peer.size:
                views = self._peer_views(fields[peer][sources[with_peer]])
                bits[with_peer] |= self._peer_results(tests[with_peer], views)
        return sources, new, counts, cols["tag"][rows], bits

    def _interleave(self, codes, first, parts):
        counts = sum(p[2] for p in parts)
        total = int(counts.sum())
        base = np.cumsum(counts) - counts
        out = np.empty(total, dtype=np.uint64)
        tags = np.zeros(total, dtype=np.uint8)
        before = np.zeros(len(codes), dtype=np.int64)
        w = self.width
        for sources, new, part_counts, part_tags, bits in parts:
            firsts = np.cumsum(part_counts) - part_counts
            within = np.arange(len(sources)) - firsts[sources]
            at = base[sources] + before[sources] + within
            succ = codes[sources]
            for field, values in new.items():
                shift = np.uint64(w * (FIELDS - 1 - field))
                succ = (succ & ~np.uint64(((1 << w) - 1) << (w * (FIELDS - 1 - field)))) | (values.astype(np.uint64) << shift)
            out[at] = succ
            tags[at] = part_tags
            if bits is not None and bits.any():
                self._record(first, sources, at - base[sources], bits)
            before += part_counts
        return out, counts, tags

    def _record(self, first, sources, numbers, bits) -> None:
        """Note the first transition (in exploration order) of the batch that breaks each property."""
        for name, bit in BIT.items():
            hit = np.flatnonzero(bits & bit)
            if hit.size and name not in self.found:
                order = np.lexsort((numbers[hit], sources[hit]))[0]
                step = (int(sources[hit[order]]), int(numbers[hit[order]]))
                self._chunk_found[name] = min(self._chunk_found.get(name, step), step)

    def commit(self, first: int, kept: int) -> None:
        """The explorer kept the transitions of the first ``kept`` states of the last batch
        (all of them, unless a bound cut the batch short): count their rules, keep their violations."""
        for sources, rules in self._chunk_rules:
            cut = sources.size and sources[-1] >= kept  # a bound cut the batch short
            counted = rules[sources < kept] if cut else rules
            self.rule_counts += np.bincount(counted + 1, minlength=len(self.rule_counts))
        for name, (source, number) in self._chunk_found.items():
            if source < kept and name not in self.found:
                self.found[name] = Violation(TRANSITION, first + source, successor=number)
        self._chunk_rules, self._chunk_found = [], {}

    def new_states(self, codes: np.ndarray, first: int) -> None:
        """The state invariant on states just numbered first, first + 1, ..."""
        if "handshake_agreement" in self.found:
            return
        w = np.uint64(self.width)
        mask = np.uint64((1 << self.width) - 1)
        a = ((codes >> (w * np.uint64(3))) & mask).astype(np.int64)
        b = ((codes >> (w * np.uint64(2))) & mask).astype(np.int64)
        results = self.pair_results.get(a, b)
        missing = np.flatnonzero(results < 0)
        if missing.size:
            pairs = _distinct_pairs(a[missing], b[missing])
            values = [int(self.checker.disagree((self.locals.values[x][0], self.locals.values[y][0]))) for x, y in pairs.tolist()]
            self.pair_results.add(pairs[:, 0], pairs[:, 1], np.array(values, dtype=np.int64))
            results = self.pair_results.get(a, b)
        bad = np.flatnonzero(results > 0)
        if bad.size:
            self.found["handshake_agreement"] = Violation(STATE, first + int(bad[0]))

    # ------------------------------------------------------------ memo tables

    def _call_groups(self, i: int, key: np.ndarray) -> np.ndarray:
        column = self.call_groups[i]
        groups = column.ensure(int(key.max()) + 1)[key]
        missing = np.unique(key[groups < 0])
        if missing.size:
            rows = self.calls[i]
            for k in missing.tolist():
                rest, peer_pending = divmod(k, 2)
                rest, network_empty = divmod(rest, 2)
                local, length = divmod(rest, self.capacity + 1)
                endpoint, ghost = self.locals.values[local]
                steps = self.system.endpoint_steps(i, endpoint, ghost, length, bool(network_empty), bool(peer_pending))
                column.data[k] = rows.add_group([self._row(i, endpoint, ghost, label, new_ep, new_ghost) for label, new_ep, new_ghost in steps])
            rows.flush()
            groups = column.data[key]
        return groups

    def _reception_groups(self, receiver: int, channel: np.ndarray, local: np.ndarray, full: np.ndarray) -> np.ndarray:
        table = self.reception_groups[receiver]
        groups = np.full(len(channel), -1, dtype=np.int64)
        some = np.flatnonzero(full)
        channel, local = channel[some], local[some]
        found = table.get(channel, local)
        missing = np.flatnonzero(found < 0)
        if missing.size:
            pairs = _distinct_pairs(channel[missing], local[missing])
            rows = self.receptions[receiver]
            ids = []
            for ch, loc in pairs.tolist():
                group = []
                for seg, rest in self._takeable(ch):
                    rest_id = self._channel(rest)
                    group += [(row[0], rest_id) + row[2:] for row in self._reception_rows(receiver, loc, seg)]
                ids.append(rows.add_group(group))
            rows.flush()
            table.add(pairs[:, 0], pairs[:, 1], np.array(ids, dtype=np.int64))
            found = table.get(channel, local)
        groups[some] = found
        return groups

    def _takeable(self, channel: int) -> list:
        found = self.takeable_memo.get(channel)
        if found is None:
            found = self.takeable_memo[channel] = self.system.takeable(self.channels.values[channel])
        return found

    def _reception_rows(self, receiver: int, local: int, seg: tuple) -> list:
        """The rows of ``receiver`` (as ``local``) taking ``seg``: the same in every channel."""
        key = (receiver, local, seg)
        found = self.reception_memo.get(key)
        if found is None:
            endpoint, ghost = self.locals.values[local]
            found = self.reception_memo[key] = [self._row(receiver, endpoint, ghost, label, new_ep, new_ghost)
                                                for label, new_ep, new_ghost in self.system.receptions(receiver, endpoint, ghost, seg, 0)]
        return found

    def _network_groups(self, channel: np.ndarray) -> np.ndarray:
        column = self.network_groups
        groups = column.ensure(len(self.channels))[channel]
        missing = np.unique(channel[groups < 0])
        if missing.size:
            for ch in missing.tolist():
                steps = self.system.network_steps(0, self.channels.values[ch]) if self.channels.values[ch] else []
                column.data[ch] = self.network.add_group([(-1, self._channel(new), -1, -1, 0, 0, -1) for _, new in steps])
            self.network.flush()
            groups = column.data[channel]
        return groups

    def _row(self, i, endpoint, ghost, label, new_endpoint, new_ghost) -> tuple:
        own, peer = 0, -1
        if self.checker is not None:
            step = EndpointStep(label, endpoint, new_endpoint, ghost, new_ghost)
            for name in self.checker.step_violations(step):
                own |= BIT[name]
            tests = self.checker.peer_tests(step)
            if tests:
                peer = len(self.peer_rows)
                self.peer_rows.append(tests)
        return (self._local(new_endpoint, new_ghost), -1, self.sendsets.id(label.sent), label.rule, self.edge_tag(label), own, peer)

    def _put(self, channels: np.ndarray, sends: np.ndarray) -> np.ndarray:
        """The channels after the senders' segments are put in (``System._put``)."""
        out = channels.copy()
        some = np.flatnonzero(sends > 0)
        if some.size:
            channels, sends = channels[some], sends[some]
            found = self.puts.get(channels, sends)
            missing = np.flatnonzero(found < 0)
            if missing.size:
                pairs = _distinct_pairs(channels[missing], sends[missing])
                values = [self._channel(self.system._put(self.channels.values[ch], self.sendsets.values[s])) for ch, s in pairs.tolist()]
                self.puts.add(pairs[:, 0], pairs[:, 1], np.array(values, dtype=np.int64))
                found = self.puts.get(channels, sends)
            out[some] = found
        return out

    def _peer_views(self, locals_: np.ndarray) -> np.ndarray:
        column = self.peer_view
        views = column.ensure(len(self.locals))[locals_]
        missing = np.unique(locals_[views < 0])
        for local in missing.tolist():
            endpoint, ghost = self.locals.values[local]
            column.data[local] = self.peer_views.id(self.checker.peer_view(endpoint, ghost))
        return column.data[locals_] if missing.size else views

    def _peer_results(self, tests: np.ndarray, views: np.ndarray) -> np.ndarray:
        found = self.peer_results.get(tests, views)
        missing = np.flatnonzero(found < 0)
        if missing.size:
            pairs = _distinct_pairs(tests[missing], views[missing])
            values = [sum(BIT[name] for name, test in self.peer_rows[t] if test(self.peer_views.values[v])) for t, v in pairs.tolist()]
            self.peer_results.add(pairs[:, 0], pairs[:, 1], np.array(values, dtype=np.int64))
            found = self.peer_results.get(tests, views)
        return found

    def _tick(self, fields):
        """Timed mode: one tick, where no timer is due and something is running or in flight."""
        e, c = fields[0:2], fields[2:4]
        enabled = (self.due.data[e[0]] == 0) & (self.due.data[e[1]] == 0) & (
            (self.counting.data[e[0]] > 0) | (self.counting.data[e[1]] > 0) | (self.length.data[c[0]] > 0) | (self.length.data[c[1]] > 0))
        sources = np.flatnonzero(enabled)
        new = {}
        for f in range(FIELDS):
            values = fields[f][sources]
            new[f] = self._ticked(values, local=f < 2)
        counts = enabled.astype(np.int64)
        return sources, new, counts, np.zeros(len(sources), dtype=np.uint8), None

    def _ticked(self, values: np.ndarray, local: bool) -> np.ndarray:
        column = self.ticked_local if local else self.ticked_channel
        size = len(self.locals) if local else len(self.channels)
        found = column.ensure(size)[values]
        missing = np.unique(values[found < 0])
        for v in missing.tolist():
            if local:
                endpoint, ghost = self.locals.values[v]
                column.ensure(len(self.locals) + 1)
                column.data[v] = self._local(self.system.tick_endpoint(endpoint), ghost)
            else:
                column.ensure(len(self.channels) + 1)
                column.data[v] = self._channel(self.system.tick_channel(self.channels.values[v]))
        return column.data[values] if missing.size else found

    # ------------------------------------------------------------ views for the liveness analysis

    def endpoint_classes(self, codes: np.ndarray) -> tuple[npt.NDArray[np.integer[Any]], list[SystemState]]:
        """The states grouped by their two locals and whether each channel is empty: the class of
        each state, and one state per class (with, for a non-empty channel, some non-empty
        channel: a predicate that reads only endpoints, ghosts and channel emptiness has one value
        per class). Computed once per exploration."""
        if self._classes is not None and self._classes[0] is codes:
            return self._classes[1:]
        n = len(self.locals)
        size = n * n * 4
        keys = np.empty(len(codes), dtype=np.int64)
        w = np.uint64(self.width)
        mask = np.uint64((1 << self.width) - 1)
        for low in range(0, len(codes), 1 << 20):  # a million states at a time: little memory
            part = codes[low:low + (1 << 20)]
            a, b, c0, c1 = (((part >> (w * np.uint64(FIELDS - 1 - f))) & mask).astype(np.int64) for f in range(FIELDS))
            keys[low:low + len(part)] = ((a * n + b) * 2 + (self.length.data[c0] > 0)) * 2 + (self.length.data[c1] > 0)
        classes: npt.NDArray[np.integer[Any]]
        if size <= 1 << 26:
            present = np.zeros(size, dtype=bool)
            present[keys] = True
            distinct = np.flatnonzero(present)
            number = np.zeros(size, dtype=np.int32)
            number[distinct] = np.arange(len(distinct), dtype=np.int32)
            classes = number[keys]
        else:
            distinct, classes = np.unique(keys, return_inverse=True)
        del keys
        some = next((ch for ch in self.channels.values if ch), ())
        representatives: list[SystemState] = []
        for k in distinct.tolist():
            rest, full1 = divmod(k, 2)
            rest, full0 = divmod(rest, 2)
            local0, local1 = divmod(rest, n)
            (ep0, g0), (ep1, g1) = self.locals.values[local0], self.locals.values[local1]
            representatives.append(((ep0, ep1), (some if full0 else (), some if full1 else ()), (g0, g1) if g0 is not None else ()))
        self._classes = (codes, classes, representatives)
        return classes, representatives


def _distinct_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distinct (a, b) pairs of two arrays of small non-negative numbers, as rows."""
    keys = np.unique((a.astype(np.int64) << 32) | b.astype(np.int64))
    return np.stack((keys >> 32, keys & 0xFFFFFFFF), axis=1)
