"""What the explorer explores and what it gives back: the model interfaces, the explored graph
(``Exploration``) and the bounds of a search. A leaf of ``engine``: the state-by-state search
(``explore``) and the packed one (``fastexplore``) both use it.
"""

from __future__ import annotations

import resource
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeAlias, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from tcpmodel.base.interrupts import INTERRUPTED, Interrupted

S = TypeVar("S", bound=Hashable)  # a model's state
S_co = TypeVar("S_co", covariant=True)
S_contra = TypeVar("S_contra", contravariant=True)
L = TypeVar("L")  # a model's transition label
L_co = TypeVar("L_co", covariant=True)

# The edge list and parents: array.array (state by state) or numpy arrays (packed). Quoted:
# array.array takes no type argument at run time before Python 3.12.
Parents: TypeAlias = "array[int] | npt.NDArray[np.int32]"
Offsets: TypeAlias = "array[int] | npt.NDArray[np.int64]"
Targets: TypeAlias = "array[int] | npt.NDArray[np.uint32]"
Tags = bytearray | npt.NDArray[np.uint8]
Codes = npt.NDArray[np.uint64]  # states of a packed model


class Model(Protocol[S, L_co]):
    """What the state-by-state search explores."""

    def initial_states(self) -> Iterable[S]: ...

    def successors(self, state: S) -> Iterable[tuple[L_co, S]]: ...


class PackedModel(Protocol[S]):
    """What the packed search explores (``fastexplore``'s docstring describes it); ``commit`` and
    ``new_states`` are optional."""

    def initial_codes(self) -> Iterable[int]: ...

    def expand(self, codes: Codes, first: int, /) -> tuple[Codes, npt.NDArray[np.int64], npt.NDArray[np.uint8] | None]: ...

    def decode(self, code: int, /) -> S: ...

    def encode(self, state: S, /) -> int: ...


@runtime_checkable
class Committing(Protocol):
    """A packed model told which transitions of a batch were kept."""

    def commit(self, first: int, kept: int, /) -> None: ...


@runtime_checkable
class Numbering(Protocol):
    """A packed model told which codes were newly numbered."""

    def new_states(self, codes: Codes, first: int, /) -> None: ...


class StateList(Protocol[S_co]):
    """The explored states by number: a list (state by state) or ``PackedStates`` (packed)."""

    def __len__(self) -> int: ...

    def __getitem__(self, k: int, /) -> S_co: ...

    def __iter__(self) -> Iterator[S_co]: ...


class StateIndex(Protocol[S_contra]):
    """state -> number: a dict (state by state) or ``PackedIndex`` (packed)."""

    def get(self, state: S_contra, /) -> int | None: ...

    def __getitem__(self, state: S_contra, /) -> int: ...

    def __contains__(self, state: S_contra, /) -> bool: ...

    def __len__(self) -> int: ...


@dataclass
class Exploration(Generic[S]):
    states: StateList[S]  # index -> state, in BFS order
    parent: Parents  # index -> parent index (-1 for initial states)
    offsets: Offsets  # edges of state k: targets[offsets[k]:offsets[k + 1]]
    targets: Targets
    tags: Tags = field(default_factory=bytearray)  # per transition, when the model tags edges
    transitions: int = 0
    complete: bool = False
    stop_reason: str = ""
    seconds: float = 0.0
    depth: int = 0
    index: StateIndex[S] = field(default_factory=dict)
    packed: bool = False  # explored by the packed (batched) search
    store_bytes: int = 0  # memory of the stored states: codes, hash index, parents
    edge_bytes: int = 0  # memory of the edge list: offsets, targets and tags
    peak_rss: int = 0  # the process's peak resident set size when the search ended, in bytes

    @property
    def count(self) -> int:
        return len(self.states)

    def whole(self) -> Exploration[S]:
        """This exploration, for a caller whose result is wrong unless the search was complete (the
        vectors, the claims report): a search cut short (Ctrl-C, SIGTERM, out of memory, a bound)
        raises ``Interrupted`` with its stop reason, so that nothing is built on part of the graph."""
        if not self.complete:
            raise Interrupted(self.stop_reason or INTERRUPTED)
        return self

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
            k = int(self.parent[k])
        return path[::-1]


class Bounds:
    """When to stop early. Exceeding a bound leaves ``Exploration.complete`` false.

    ``max_memory`` (bytes) is compared with the process's peak resident set size every 1,024
    states (state by state) or after every batch (packed): a soft bound, overshot by at most what
    one batch allocates. It bounds the search; the liveness analysis that follows a complete
    search needs a few bytes per transition more (at the default scenario: 170 MB, 3.3 bytes per
    transition, on top of 648 MB)."""

    def __init__(self, max_states: int | None = None, max_seconds: float | None = None, max_memory: int | None = None,
                 spent: float = 0.0):
        self.max_states = max_states
        self.max_seconds = max_seconds
        self.max_memory = max_memory
        self.spent = spent  # seconds of ``max_seconds`` spent before the search began (loading the spec)

    def describe_memory(self) -> str:
        return format_bytes(self.max_memory) if self.max_memory is not None else "no bound"

    def exceeded(self, seconds: float) -> str:
        """Why the search must stop after running ``seconds`` (time or memory), or ""."""

        if self.max_seconds is not None and self.spent + seconds > self.max_seconds:
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


# progress(exploration, frontier)
Progress = Callable[["Exploration[Any]", int], None]


def peak_rss() -> int:
    """The peak resident set size of this process so far, in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
