"""Hash tables of 64-bit integers that answer a whole array of questions at once (numpy).

The packed explorer asks "which of these million successor codes have I seen, and under what
number?" once per batch of states, not once per transition, so the table is probed with numpy
array operations: every pending key advances one slot per round (open addressing, linear
probing), and a round costs a few passes over the pending keys. Nothing is ever deleted.

Two tables:

- ``StateStore``: the explored states themselves, as codes in BFS order (``codes``, 8 bytes
  each) and a table of 4-byte state numbers hashed by code (``slots``). A slot holds a state
  number, not the code, so the code is stored once: a stored state costs 8 bytes plus
  4 / load bytes of slots, 16 to 24 bytes in all at the load kept here (1/3 to 2/3).
- ``IntMap``: code -> number, for the memo tables of a packed model (keys and values stored).

Insertion writes every contender into its slot and reads the slot back: the one that stayed won
it, the others probe on, so several new keys hashed to one slot in one batch are placed
correctly without a Python loop.
"""

from __future__ import annotations

import numpy as np

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio: Fibonacci hashing
EMPTY_SLOT = np.uint32(0xFFFFFFFF)
EMPTY_KEY = np.uint64(0xFFFFFFFFFFFFFFFF)
MAX_LOAD = 2 / 3


def _home(keys: np.ndarray, bits: int) -> np.ndarray:
    """Each key's first slot: the top ``bits`` bits of key * multiplier (mod 2**64)."""
    with np.errstate(over="ignore"):
        return ((keys * _MULTIPLIER) >> np.uint64(64 - bits)).astype(np.int64)


class StateStore:
    """States as uint64 codes, numbered in insertion order, with a hash index over them."""

    def __init__(self, bits: int = 12):
        self.bits = bits
        self.slots = np.full(1 << bits, EMPTY_SLOT, dtype=np.uint32)
        self.codes = np.zeros(int((1 << bits) * MAX_LOAD) + 1, dtype=np.uint64)
        self.count = 0

    @property
    def nbytes(self) -> int:
        return self.slots.nbytes + self.codes.nbytes

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The number of each key's state, or -1 where it is not stored."""
        keys = np.asarray(keys).astype(np.uint64, copy=False)
        result = np.full(len(keys), -1, dtype=np.int64)
        mask = (1 << self.bits) - 1
        pending = np.arange(len(keys))
        slot = _home(keys, self.bits)
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
        if needed > (1 << self.bits) * MAX_LOAD:
            bits = self.bits
            while needed > (1 << bits) * MAX_LOAD:
                bits += 1
            self._rehash(bits)
        if needed > len(self.codes):
            self.codes = np.resize(self.codes, max(needed, int((1 << self.bits) * MAX_LOAD) + 1))
        self.codes[self.count:needed] = keys
        self._place(np.arange(self.count, needed, dtype=np.int64))
        self.count = needed

    def recode(self, recode) -> None:
        """Replace every stored code by ``recode(codes)`` (a new packing), keeping the numbers."""
        self.codes[:self.count] = recode(self.codes[:self.count])
        self._rehash(self.bits)

    def _rehash(self, bits: int) -> None:
        self.bits = bits
        self.slots = np.full(1 << bits, EMPTY_SLOT, dtype=np.uint32)
        self._place(np.arange(self.count, dtype=np.int64))

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
