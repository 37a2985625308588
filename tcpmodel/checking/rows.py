"""The containers of the packed system's memo tables: numbered values, growable columns, rows.

``packed`` computes each part of a step once per distinct input and keeps it here: values (locals,
channels, sets of segments) are numbered in order of first appearance (``Interner``), facts about
them sit in numpy columns indexed by that number (``Column``), and the parts themselves are
*rows* in groups, a group per distinct input, read a batch of states at a time (``Rows``).
"""

from __future__ import annotations

import numpy as np


class Interner:
    """Values numbered in order of first appearance."""

    def __init__(self):
        self.values: list = []
        self.ids: dict = {}

    def __len__(self) -> int:
        return len(self.values)

    def id(self, value) -> int:
        n = self.ids.get(value)
        if n is None:
            n = self.ids[value] = len(self.values)
            self.values.append(value)
        return n


class Column:
    """A growable numpy array indexed by a dense number, with a fill value for "not yet known"."""

    def __init__(self, dtype, fill=0):
        self.data = np.full(64, fill, dtype=dtype)
        self.fill = fill

    def ensure(self, size: int) -> np.ndarray:
        if size > len(self.data):
            grown = np.full(max(size, 2 * len(self.data)), self.fill, dtype=self.data.dtype)
            grown[:len(self.data)] = self.data
            self.data = grown
        return self.data


class Rows:
    """The memoised parts of steps of one kind: groups of rows, a group per distinct input.

    A row is a tuple (new local, new channel, segments sent, rule, edge tag, properties broken,
    peer-test number); -1 where a field does not apply."""

    COLUMNS = (("local", np.int64), ("channel", np.int64), ("sends", np.int64), ("rule", np.int64),
               ("tag", np.uint8), ("own", np.int64), ("peer", np.int64))

    def __init__(self):
        self.pending: list[tuple] = []
        self.columns = {name: np.zeros(0, dtype=dtype) for name, dtype in self.COLUMNS}
        self.start = Column(np.int64)
        self.count = Column(np.int64)
        self.groups = 0
        self.rows = 0

    def add_group(self, rows: list[tuple]) -> int:
        group = self.groups
        self.start.ensure(group + 1)[group] = self.rows
        self.count.ensure(group + 1)[group] = len(rows)
        self.pending += rows
        self.rows += len(rows)
        self.groups += 1
        return group

    def flush(self) -> None:
        if self.pending:
            table = np.array(self.pending, dtype=np.int64).reshape(-1, len(self.COLUMNS))
            for n, (name, dtype) in enumerate(self.COLUMNS):
                self.columns[name] = np.concatenate((self.columns[name], table[:, n].astype(dtype)))
            self.pending = []

    def expand(self, groups: np.ndarray):
        """For one group per state (-1: none): (state of each row, row numbers, rows per state)."""
        counts = np.where(groups >= 0, self.count.data[np.maximum(groups, 0)], 0)
        total = int(counts.sum())
        firsts = np.cumsum(counts) - counts
        sources = np.repeat(np.arange(len(groups)), counts)
        rows = np.repeat(self.start.data[np.maximum(groups, 0)] - firsts, counts) + np.arange(total)
        return sources, rows, counts
