"""Breadth-first exploration of a model that offers a packed interface, in batches, with numpy.

A *packed model* numbers its states with 64-bit codes (never 2**64 - 1) and expands a batch of
them at once:

- ``initial_codes()``: the codes of the initial states;
- ``expand(codes, first)``: for states numbered first, first + 1, ...: the successor codes of all
  of them (a uint64 array, each state's in the order ``successors`` would yield them), how many
  each state has, and a uint8 edge tag per transition (or None);
- ``decode(code)`` / ``encode(state)``: between codes and the model's states;
- optionally ``commit(first, kept)``: the transitions of the first ``kept`` states of the batch
  were kept (fewer than the batch when a bound stops the search inside it), and
  ``new_states(codes, first)``: codes newly numbered first, first + 1, ...

The search is the one of ``explore.explore``, done a batch of states at a time: successors are
looked up in a ``StateStore``; those not found are numbered in order of first appearance in the
batch, which is the order a state-by-state search numbers them. So the states, their numbers,
parents, edge lists and depth are the same as ``explore.explore`` gives on the same model, and
so are the stopping points of ``--max-states``. A batch never crosses a BFS level, so the depth
is counted the same way too. ``--max-seconds``, ``--max-memory`` and Ctrl-C are looked at between
batches (a batch takes well under a second).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any, Generic, cast

import numpy as np
import numpy.typing as npt

from tcpmodel.base.interrupts import reason_of, signals_held
from tcpmodel.engine.exploration import Bounds, Codes, Committing, Exploration, Numbering, PackedModel, Progress, S, StateList, peak_rss
from tcpmodel.engine.inttable import StateStore, mapped, physical_memory

BATCH = 16384  # states expanded per batch


class Growable:
    """An append-only numpy array over an anonymous memory mapping as large as physical memory
    (``inttable.mapped``): pages become resident only when written, so growing never copies and
    spare room costs no memory (a doubling array would hold up to twice its size resident).
    Where such a mapping cannot be made, an array grown by half in place (``ndarray.resize``)."""

    def __init__(self, dtype: npt.DTypeLike):
        self.dtype = np.dtype(dtype)
        self.size = 0
        data = mapped(physical_memory() // self.dtype.itemsize, self.dtype)
        self.mapped = data is not None
        self.data: np.ndarray = data if data is not None else np.zeros(1024, dtype=self.dtype)

    def extend(self, values: np.ndarray) -> None:
        end = self.size + len(values)
        if end > len(self.data):
            if self.mapped:
                raise MemoryError("more than physical memory")
            self.data.resize(max(end, len(self.data) * 3 // 2), refcheck=False)
        self.data[self.size:end] = values
        self.size = end

    def last(self) -> Any:
        return self.data[self.size - 1]

    def array(self) -> np.ndarray:
        """The values (a view while mapped; the spare room given back otherwise)."""
        if self.mapped:
            return self.data[:self.size]
        if self.size < len(self.data):
            self.data.resize(self.size, refcheck=False)
        return self.data

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize if self.mapped else self.data.nbytes


class PackedStates(Generic[S]):  # noqa: PLW1641 (compared with lists of states, never hashed)
    """The explored states, by number: stored as codes, decoded on access."""

    def __init__(self, model: PackedModel[S], codes: Codes):
        self.model = model
        self.codes = codes

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, k: int) -> S:
        return self.model.decode(int(self.codes[k]))

    def __iter__(self) -> Iterator[S]:
        for code in self.codes.tolist():
            yield self.model.decode(code)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Iterable):
            return NotImplemented
        return list(self) == list(other)


class PackedIndex(Generic[S]):
    """state -> number, by looking the state's code up in the store."""

    def __init__(self, model: PackedModel[S], store: StateStore):
        self.model = model
        self.store = store

    def get(self, state: S, default: int | None = None) -> int | None:
        found = int(self.store.lookup(np.array([self.model.encode(state)], dtype=np.uint64))[0])
        return default if found < 0 else found

    def __getitem__(self, state: S) -> int:
        found = self.get(state)
        if found is None:
            raise KeyError(state)
        return found

    def __contains__(self, state: S) -> bool:
        return self.get(state) is not None

    def __len__(self) -> int:
        return self.store.count


def explore_packed(model: PackedModel[S], result: Exploration[S], bounds: Bounds, progress: Progress | None = None) -> Exploration[S]:
    """Fill ``result`` (an ``explore.Exploration``) by a batched search of ``model``."""
    started = time.monotonic()
    store = StateStore()
    parent, offsets, targets, tags = Growable(np.int32), Growable(np.int64), Growable(np.uint32), Growable(np.uint8)
    offsets.extend(np.zeros(1, dtype=np.int64))
    initial = list(dict.fromkeys(model.initial_codes()))
    with signals_held():  # the arrays are made consistent whole
        _number(model, store, np.array(initial, dtype=np.uint64), parent, np.full(len(initial), -1, dtype=np.int32))
    committing = model if isinstance(model, Committing) else None
    next_report = started + 0.5
    head, level_end = 0, store.count
    try:
        while head < store.count:
            if head == level_end:
                result.depth += 1
                level_end = store.count
            stop = min(level_end, head + BATCH)
            batch = store.codes[head:stop].copy()  # the store may move its codes while the batch is in use
            successors, counts, edge_tags = model.expand(batch, head)
            numbers = store.lookup(successors)
            new = np.flatnonzero(numbers < 0)
            new_codes, first_seen, inverse = _first_appearances(successors[new])
            sources = np.repeat(np.arange(head, stop, dtype=np.int64), counts)
            new_parents = sources[new[first_seen]]
            kept = stop - head
            if bounds.max_states is not None:
                # as the state-by-state search: stop after the state whose successors pass the bound
                after = store.count + np.cumsum(np.bincount(new_parents - head, minlength=kept))
                over = np.flatnonzero(after > bounds.max_states)
                if over.size:
                    kept = int(over[0]) + 1
                    take = int(np.searchsorted(new_parents, head + kept))
                    new_codes, new_parents = new_codes[:take], new_parents[:take]
                    result.stop_reason = f"--max-states {bounds.max_states} reached"
            with signals_held():  # the arrays are made consistent whole
                end = int(counts[:kept].sum())
                base = store.count
                numbers[new] = base + inverse
                _number(model, store, new_codes, parent, new_parents.astype(np.int32))
                targets.extend(numbers[:end].astype(np.uint32))
                if edge_tags is not None:
                    tags.extend(edge_tags[:end])
                offsets.extend(offsets.last() + np.cumsum(counts[:kept]))
                if committing is not None:
                    committing.commit(head, kept)
                head += kept
            if result.stop_reason:
                break
            now = time.monotonic()
            result.stop_reason = bounds.exceeded(now - started)
            if result.stop_reason:
                break
            if progress is not None and now >= next_report:
                _fill(result, model, store, parent, offsets, targets, tags, head, started)
                progress(result, store.count - head)
                next_report = now + 0.5
        else:
            result.complete = True
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM or a time limit (base.interrupts)
        result.stop_reason = reason_of(exc)
    except MemoryError:
        result.stop_reason = "out of memory"
    # States found but not expanded have no edges recorded.
    missing = store.count + 1 - offsets.size
    if missing > 0:
        offsets.extend(np.full(missing, offsets.last(), dtype=np.int64))
    _fill(result, model, store, parent, offsets, targets, tags, head, started, final=True)
    return result


def _number(model: PackedModel[S], store: StateStore, codes: Codes, parent: Growable, parents: npt.NDArray[np.int32]) -> None:
    first = store.count
    store.add(codes)
    parent.extend(parents)
    if len(codes) and isinstance(model, Numbering):
        model.new_states(codes, first)


def _first_appearances(codes: Codes) -> tuple[Codes, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The distinct codes in order of first appearance, the position of each one's first
    appearance, and for every code the rank of its distinct value in that order."""
    if not len(codes):
        return codes, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    first_seen = order[starts]  # stable: the first appearance of each distinct value
    by_appearance = np.argsort(first_seen, kind="stable")
    rank = np.empty(len(starts), dtype=np.int64)
    rank[by_appearance] = np.arange(len(starts))
    group = np.cumsum(np.concatenate(([0], (ordered[1:] != ordered[:-1]).astype(np.int64))))
    inverse = np.empty(len(codes), dtype=np.int64)
    inverse[order] = rank[group]
    first_seen = first_seen[by_appearance]
    return codes[first_seen], first_seen, inverse


def _fill(
    result: Exploration[S],
    model: PackedModel[S],
    store: StateStore,
    parent: Growable,
    offsets: Growable,
    targets: Growable,
    tags: Growable,
    head: int,
    started: float,
    final: bool = False,
) -> None:
    result.transitions = targets.size
    result.seconds = time.monotonic() - started
    if final:
        store.trim()
        result.parent = parent.array()
        result.offsets = offsets.array()
        result.targets = targets.array()
        result.tags = tags.array()
        result.states = PackedStates(model, store.codes[:store.count])
        result.index = PackedIndex(model, store)
    else:
        # only its length is read while the search runs
        result.states = cast("StateList[S]", range(store.count))
    result.store_bytes = store.nbytes + parent.nbytes
    result.edge_bytes = offsets.nbytes + targets.nbytes + tags.nbytes
    result.peak_rss = peak_rss()
