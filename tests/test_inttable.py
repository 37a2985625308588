"""The numpy hash tables of the packed explorer, against Python dicts."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpmodel.engine.inttable import IntMap, PairTable, StateStore, _home

codes = st.integers(min_value=0, max_value=2**64 - 2)
batches = st.lists(st.lists(codes, max_size=60), min_size=1, max_size=12)


@given(batches)
@settings(max_examples=150, deadline=None)
def test_state_store_numbers_states_in_order_and_finds_them(batches):
    store = StateStore(bits=2)  # tiny: every batch makes it grow and rehash
    numbers: dict[int, int] = {}
    for batch in batches:
        keys = np.array(batch, dtype=np.uint64)
        found = store.lookup(keys).tolist()
        assert found == [numbers.get(k, -1) for k in batch]
        new = list(dict.fromkeys(k for k in batch if k not in numbers))
        store.add(np.array(new, dtype=np.uint64))
        for k in new:
            numbers[k] = len(numbers)
    assert store.count == len(numbers)
    assert store.codes[:store.count].tolist() == list(numbers)
    probe = list(numbers) + [k ^ 1 for k in numbers if k ^ 1 != 2**64 - 1]  # no code is 2**64 - 1
    assert store.lookup(np.array(probe, dtype=np.uint64)).tolist() == [numbers.get(k, -1) for k in probe]
    store.trim()
    assert store.lookup(np.array(list(numbers), dtype=np.uint64)).tolist() == list(range(len(numbers)))


def test_state_store_places_keys_that_share_a_home_slot():
    """Keys hashed to one slot, added in one batch and in several: linear probing keeps them apart."""
    candidates = np.arange(40000, dtype=np.uint64)
    homes = _home(candidates, 12)
    keys = candidates[homes == homes[0]][:6]
    assert len(keys) == 6
    for split in (6, 1, 4):
        store = StateStore(bits=12)
        store.add(keys[:split])
        store.add(keys[split:])
        assert store.lookup(keys).tolist() == list(range(6))
        assert store.lookup(candidates[homes == homes[0]][6:7]).tolist() == [-1]


@given(st.dictionaries(codes, st.integers(min_value=0, max_value=2**62), max_size=300), st.lists(codes, max_size=50))
@settings(max_examples=150, deadline=None)
def test_int_map_is_a_dict(mapping, others):
    table = IntMap(bits=1)
    items = list(mapping.items())
    for start in range(0, len(items), 37):
        part = items[start:start + 37]
        table.add(np.array([k for k, _ in part], dtype=np.uint64), np.array([v for _, v in part], dtype=np.int64))
    keys = list(mapping) + others
    assert table.get(np.array(keys, dtype=np.uint64)).tolist() == [mapping.get(k, -1) for k in keys]


pairs = st.dictionaries(st.tuples(st.integers(0, 300), st.integers(0, 300)), st.integers(0, 2**30), max_size=200)


@given(pairs, st.booleans())
@settings(max_examples=100, deadline=None)
def test_pair_table_is_a_dict_dense_or_hashed(mapping, hashed):
    table = PairTable()
    if hashed:
        table.DENSE_LIMIT = 64 * 64  # the first growth turns it into an IntMap
    items = list(mapping.items())
    for start in range(0, len(items), 23):
        part = items[start:start + 23]
        a = np.array([k[0] for k, _ in part], dtype=np.int64)
        b = np.array([k[1] for k, _ in part], dtype=np.int64)
        table.add(a, b, np.array([v for _, v in part], dtype=np.int64))
    probe = list(mapping) + [(x + 1, y) for x, y in mapping]
    a = np.array([k[0] for k in probe], dtype=np.int64)
    b = np.array([k[1] for k in probe], dtype=np.int64)
    assert table.get(a, b).tolist() == [mapping.get(k, -1) for k in probe]
    assert (table.map is not None) == (hashed and any(x >= 64 or y >= 64 for x, y in probe))
