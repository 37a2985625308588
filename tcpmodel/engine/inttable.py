"""Hash tables of 64-bit integers that answer a whole array of questions at once (numpy).

The packed explorer asks "which of these million successor codes have I seen, and under what
number?" once per batch of states, not once per transition, so the table is probed with numpy
array operations: every pending key advances one slot per round (open addressing, linear
probing), and a round costs a few passes over the pending keys. Nothing is ever deleted.

Two tables:

- ``StateStore``: the explored states themselves, as codes in BFS order (``codes``, 8 bytes
  each, grown by half when full) and a table of 4-byte state numbers hashed by code (``slots``).
  A slot holds a state number, not the code, so the code is stored once: a stored state costs
  8 bytes plus 4 / load bytes of slots, about 14 to 26 bytes in all at the load kept here
  (1/3 to 2/3), with the codes' spare room.
- ``IntMap``: code -> number, for the memo tables of a packed model (keys and values stored).

Insertion writes every contender into its slot and reads the slot back: the one that stayed won
it, the others probe on, so several new keys hashed to one slot in one batch are placed
correctly without a Python loop.
"""

from __future__ import annotations

import contextlib
import mmap
import os

import numpy as np

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio: Fibonacci hashing
EMPTY_SLOT = np.uint32(0xFFFFFFFF)
EMPTY_KEY = np.uint64(0xFFFFFFFFFFFFFFFF)
MAX_LOAD = 2 / 3


def _home(keys: np.ndarray, bits: int) -> np.ndarray:
    """Each key's first slot: the top ``bits`` bits of key * multiplier (mod 2**64)."""
    with np.errstate(over="ignore"):
        return ((keys * _MULTIPLIER) >> np.uint64(64 - bits)).astype(np.int64)


def mapped(size: int, dtype) -> np.ndarray | None:
    """A zeroed array over an anonymous memory mapping, on huge pages where the kernel gives them
    (the hash index and the codes are read at random: with 4 KiB pages nearly every probe would
    also miss the TLB). None where no such mapping can be made."""
    dtype = np.dtype(dtype)
    try:
        region = mmap.mmap(-1, max(size, 1) * dtype.itemsize, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    except (OSError, ValueError, OverflowError, AttributeError):
        return None
    if hasattr(region, "madvise") and hasattr(mmap, "MADV_HUGEPAGE"):
        with contextlib.suppress(OSError):
            region.madvise(mmap.MADV_HUGEPAGE)
    return np.frombuffer(region, dtype=dtype)


def physical_memory() -> int:
    """Bytes of physical memory: how much an array could ever hold here."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return 1 << 36


class StateStore:
    """States as uint64 codes, numbered in insertion order, with a hash index over them.

    ``codes[count]`` is always 2**64 - 1, a code no state has, so that an empty slot can be
    looked up like a full one (it "holds" state ``count``, which matches nothing)."""

    def __init__(self, bits: int = 12):
        self.bits = bits
        self.slots = _slots(1 << bits)
        # The codes live in a mapping as large as physical memory: pages become resident only
        # when written, so they grow without copying and without spare room.
        codes = mapped(physical_memory() // 8, np.uint64)
        self.reserved = codes is not None
        self.codes: np.ndarray = codes if codes is not None else np.zeros(1 << bits, dtype=np.uint64)
        self.codes[0] = EMPTY_KEY
        self.count = 0

    @property
    def nbytes(self) -> int:
        return self.slots.nbytes + 8 * (self.count + 1)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The number of each key's state, or -1 where it is not stored."""
        keys = np.asarray(keys).astype(np.uint64, copy=False)
        mask = (1 << self.bits) - 1
        slot = _home(keys, self.bits)
        # The first probe, for every key at once (most keys are decided there) ...
        number = np.minimum(self.slots[slot], self.count).astype(np.int64)  # an empty slot: the sentinel
        hit = self.codes[number] == keys
        result = np.where(hit, number, -1)
        # ... then the keys whose home slot holds another state probe on.
        pending = np.flatnonzero(~hit & (number != self.count))
        slot = (slot[pending] + 1) & mask
        while pending.size:
            number = self.slots[slot]
            filled = number != EMPTY_SLOT
            pending, slot, number = pending[filled], slot[filled], number[filled]
            hit = self.codes[number] == keys[pending]
            result[pending[hit]] = number[hit]
            miss = ~hit
            pending, slot = pending[miss], (slot[miss] + 1) & mask
        return result

    def add(self, keys: np.ndarray) -> None:
        """Store ``keys`` (distinct, none stored yet) as the next states, in their order."""
        needed = self.count + len(keys)
        if needed + 1 > len(self.codes):
            if self.reserved:
                raise MemoryError("more states than physical memory can hold")
            self.codes.resize(max(needed + 1, len(self.codes) * 3 // 2), refcheck=False)  # in place where it can
        self.codes[self.count:needed] = keys
        self.codes[needed] = EMPTY_KEY
        if needed > (1 << self.bits) * MAX_LOAD:
            bits = self.bits
            while needed > (1 << bits) * MAX_LOAD:
                bits += 1
            self.count = needed
            self._rehash(bits)
        else:
            self._place(np.arange(self.count, needed, dtype=np.int64))
            self.count = needed

    def trim(self) -> None:
        """Give back the codes' spare room (once no more states will be added)."""
        if not self.reserved and len(self.codes) > self.count + 1:
            self.codes.resize(self.count + 1, refcheck=False)

    def _rehash(self, bits: int) -> None:
        """A new table of 2**bits slots. Placing the states in the order of their home slots
        makes linear probing a running maximum: each takes the first free slot at or after its
        home, which is one past the slot taken before it unless its home lies further on."""
        self.bits = bits
        size = 1 << bits
        del self.slots  # the old table goes before the new one is made
        self.slots = _slots(size)
        ordered = _home(self.codes[:self.count], bits).astype(np.uint64)
        ordered <<= np.uint64(32)
        ordered |= np.arange(self.count, dtype=np.uint64)
        ordered.sort()
        numbers = (ordered & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        at = (ordered >> np.uint64(32)).astype(np.int64)  # home slots, in order
        del ordered
        steps = np.arange(self.count, dtype=np.int64)
        at -= steps
        np.maximum.accumulate(at, out=at)
        at += steps
        del steps
        inside = at < size
        self.slots[at[inside]] = numbers[inside]
        self._place(numbers[~inside].astype(np.int64))  # those past the end wrap round to the first free slots

    def _place(self, numbers: np.ndarray) -> None:
        mask = (1 << self.bits) - 1
        slot = _home(self.codes[numbers], self.bits)
        while numbers.size:
            free = self.slots[slot] == EMPTY_SLOT
            contenders, at = numbers[free], slot[free]
            self.slots[at] = contenders
            won = self.slots[at] == contenders
            numbers = np.concatenate((numbers[~free], contenders[~won]))
            slot = (np.concatenate((slot[~free], at[~won])) + 1) & mask


def _slots(size: int) -> np.ndarray:
    slots = mapped(size, np.uint32) if size >= 1 << 20 else None
    if slots is None:
        return np.full(size, EMPTY_SLOT, dtype=np.uint32)
    slots.fill(EMPTY_SLOT)
    return slots


class IntMap:
    """A map from uint64 keys (never 2**64 - 1) to int64 values."""

    def __init__(self, bits: int = 10):
        self._allocate(bits)
        self.count = 0

    def _allocate(self, bits: int) -> None:
        self.bits = bits
        self.keys = np.full(1 << bits, EMPTY_KEY, dtype=np.uint64)
        self.values = np.zeros(1 << bits, dtype=np.int64)

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.values.nbytes

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key, or -1 where the key is absent."""
        keys = np.asarray(keys).astype(np.uint64, copy=False)
        result = np.full(len(keys), -1, dtype=np.int64)
        mask = (1 << self.bits) - 1
        pending = np.arange(len(keys))
        slot = _home(keys, self.bits)
        while pending.size:
            found = self.keys[slot]
            hit = found == keys[pending]
            result[pending[hit]] = self.values[slot[hit]]
            more = ~hit & (found != EMPTY_KEY)
            pending, slot = pending[more], (slot[more] + 1) & mask
        return result

    def add(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Add ``keys`` (distinct, none present yet) with their ``values``."""
        needed = self.count + len(keys)
        if needed > (1 << self.bits) * MAX_LOAD:
            bits = self.bits
            while needed > (1 << bits) * MAX_LOAD:
                bits += 1
            old = self.keys != EMPTY_KEY
            old_keys, old_values = self.keys[old], self.values[old]
            self._allocate(bits)
            self._place(old_keys, old_values)
        self._place(np.asarray(keys, dtype=np.uint64), np.asarray(values, dtype=np.int64))
        self.count = needed

    def _place(self, keys: np.ndarray, values: np.ndarray) -> None:
        mask = (1 << self.bits) - 1
        slot = _home(keys, self.bits)
        pending = np.arange(len(keys))
        while pending.size:
            free = self.keys[slot] == EMPTY_KEY
            contenders, at = pending[free], slot[free]
            self.keys[at] = keys[contenders]
            won = self.keys[at] == keys[contenders]
            self.values[at[won]] = values[contenders[won]]
            pending = np.concatenate((pending[~free], contenders[~won]))
            slot = (np.concatenate((slot[~free], at[~won])) + 1) & mask


class PairTable:
    """(a, b) -> number for small non-negative a and b, -1 where unknown: a dense 2-D array while
    it stays small (a memo table of the packed model is read once per state or transition, and an
    array index is the cheapest lookup there is), an ``IntMap`` beyond ``DENSE_LIMIT`` entries."""

    DENSE_LIMIT = 1 << 25

    def __init__(self):
        self.rows = self.columns = 64
        self.dense = np.full(self.rows * self.columns, -1, dtype=np.int32)
        self.map: IntMap | None = None

    @property
    def nbytes(self) -> int:
        return self.map.nbytes if self.map is not None else self.dense.nbytes

    def get(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if not len(a):
            return np.zeros(0, dtype=np.int64)
        self._fit(int(a.max()) + 1, int(b.max()) + 1)
        if self.map is not None:
            return self.map.get((a.astype(np.uint64) << np.uint64(32)) | b.astype(np.uint64))
        return self.dense[a * self.columns + b].astype(np.int64)

    def add(self, a: np.ndarray, b: np.ndarray, values: np.ndarray) -> None:
        """Add pairs (distinct, none known yet) with their values."""
        if not len(a):
            return
        self._fit(int(a.max()) + 1, int(b.max()) + 1)
        if self.map is not None:
            self.map.add((a.astype(np.uint64) << np.uint64(32)) | b.astype(np.uint64), values)
        else:
            self.dense[a * self.columns + b] = values

    def _fit(self, rows: int, columns: int) -> None:
        if self.map is not None or (rows <= self.rows and columns <= self.columns):
            return
        new_rows, new_columns = self.rows, self.columns
        while new_rows < rows:
            new_rows *= 2
        while new_columns < columns:
            new_columns *= 2
        known = np.flatnonzero(self.dense >= 0)
        a, b = np.divmod(known, self.columns)
        values = self.dense[known]
        if new_rows * new_columns > self.DENSE_LIMIT:
            self.map = IntMap()
            self.dense = None
            self.map.add((a.astype(np.uint64) << np.uint64(32)) | b.astype(np.uint64), values)
            return
        self.rows, self.columns = new_rows, new_columns
        self.dense = np.full(new_rows * new_columns, -1, dtype=np.int32)
        self.dense[a * new_columns + b] = values
