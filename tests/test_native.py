"""The C extensions against plain models, and their build: the string table
(``streamlab/windows/_strtable.c``) against a dict, the running maximum (``streamlab/core/_runmax.c``)
against numpy."""

from __future__ import annotations

import os
import shutil
import sysconfig
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from streamlab.core import watermarks
from streamlab.windows import objectkeys, strtable

needs_c = pytest.mark.skipif(strtable.StrTable is None, reason="the C extension is not built")


def test_the_extensions_are_built_where_a_compiler_and_headers_are():
    """``make install`` compiles them (hatch_build.py): a build hook that silently fails would leave
    every key and watermark on the slower pure-Python paths."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    if os.environ.get("STREAMLAB_PURE_PYTHON") or not (shutil.which(cc) and headers.exists()):
        pytest.skip("no compiler or headers here, or STREAMLAB_PURE_PYTHON is set")
    assert strtable.StrTable is not None, "hatch_build.py did not compile streamlab/windows/_strtable.c"
    assert strtable.ENABLED
    assert watermarks._running_max_c is not None, "hatch_build.py did not compile streamlab/core/_runmax.c"
    from streamlab.windows import aggregates

    assert aggregates._count_sum is not None, "hatch_build.py did not compile streamlab/windows/_groupsums.c"


@pytest.mark.parametrize("compiled", [True, False])
def test_running_max_matches_numpy(monkeypatch, compiled):
    if compiled and watermarks._running_max_c is None:
        pytest.skip("the C extension is not built")
    if not compiled:
        monkeypatch.setattr(watermarks, "_running_max_c", None)
    rng = np.random.default_rng(5)
    big = np.iinfo("int64")
    for n in (0, 1, 255, 256, 10_000):
        a = rng.integers(big.min, big.max, n, dtype="int64", endpoint=True)
        if n:
            a[0] = big.min
        for arr in (a, a[::2]):  # a strided view too
            got = watermarks.running_max(arr)
            assert got.dtype == np.int64 and got.tolist() == np.maximum.accumulate(arr).tolist()
            got[:1] = 0  # a new array, writable, not a view of the input


def strings(rng, n):
    pool = ["", "a", "é", "日本語", "key-0001", "x" * 8, "x" * 9, "y" * 16, "y" * 17, "long " * 40, "a\x00b",
            "\U0001f600"]
    return pool + [f"k{int(i)}-{'z' * int(i % 23)}" for i in rng.integers(0, 10**6, n)]


@needs_c
@pytest.mark.parametrize("seed", range(4))
def test_lookups_match_a_dict_over_growth(seed):
    """Keys learned in rounds (the table grows past its first 1024 slots and its arena), looked up
    as Python objects and as Arrow string / large_string arrays, sliced at an offset."""
    rng = np.random.default_rng(seed)
    table, model = strtable.new_table(), {}
    keys = list(dict.fromkeys(strings(rng, 6000)))
    for start in range(0, len(keys), 1500):
        learnt = keys[start:start + 1500]
        ids = rng.permutation(10**6)[: len(learnt)] + 10**6 * start
        strtable.learn(table, np.array(learnt + [None, 7], dtype=object), np.append(ids, [5, 6]))
        model.update(zip(learnt, ids.tolist()))
        assert len(table) == len(model)
        probe = [keys[i] for i in rng.integers(0, len(keys), 3000)] + ["never", None, 3, "\ud800"]
        want = [model.get(k, -1) if isinstance(k, str) else -1 for k in probe]
        got, misses = strtable.lookup_objects(table, np.array(probe, dtype=object))
        assert got.tolist() == want and misses == want.count(-1)
        for kind in (pa.string(), pa.large_string()):
            arr = pa.array([k if isinstance(k, str) and k != "\ud800" else "never" for k in probe], type=kind)
            got, misses = strtable.lookup_arrow(table, arr.slice(5))
            assert got.tolist() == [model.get(k, -1) for k in arr.slice(5).to_pylist()]
            assert misses == got.tolist().count(-1)


@needs_c
@pytest.mark.parametrize("threads", [2, 3, 8])
@pytest.mark.parametrize("wide", [False, True])
def test_a_lookup_split_over_threads_gives_the_one_thread_ids(threads, wide):
    """Every split of the rows (odd sizes, fewer rows than threads, an offset into the buffers)
    gives the ids and the miss count of one thread."""
    rng = np.random.default_rng(threads)
    keys = list(dict.fromkeys(strings(rng, 3000)))
    table = strtable.new_table()
    strtable.learn(table, np.array(keys[:2000], dtype=object), np.arange(2000))
    kind = pa.large_string() if wide else pa.string()
    probe = pa.array([keys[i] for i in rng.integers(0, len(keys), 20_011)], type=kind)
    for arr in (probe, probe.slice(7), probe.slice(3, 5), probe.slice(1, 1)):
        _, offsets, data = arr.buffers()
        one, many = np.empty(len(arr), dtype="int64"), np.empty(len(arr), dtype="int64")
        m1 = table.lookup_utf8(offsets, data, arr.offset, one, wide, 1)
        m2 = table.lookup_utf8(offsets, data, arr.offset, many, wide, threads)
        assert many.tolist() == one.tolist() == [k if k < 2000 else -1 for k in
                                                  (keys.index(v) for v in arr.to_pylist())]
        assert m1 == m2 == int((one < 0).sum())


@needs_c
@pytest.mark.parametrize("threads", [2, 3, 8])
def test_an_object_lookup_split_over_threads_gives_the_one_thread_ids(threads):
    """ASCII strings are looked up on the threads, every other row (non-ASCII strings, lone
    surrogates, str subclasses, NULLs, numbers) in the pass after them: same ids, same misses."""
    class Sub(str):
        pass

    rng = np.random.default_rng(threads)
    keys = list(dict.fromkeys(strings(rng, 3000)))
    table = strtable.new_table()
    strtable.learn(table, np.array(keys[:2000], dtype=object), np.arange(2000))
    odd = [None, 7, 2.5, "\ud800", Sub("a"), "never"]
    probe = [keys[i] for i in rng.integers(0, len(keys), 20_011)]
    for j in rng.integers(0, len(probe), 300):
        probe[j] = odd[j % len(odd)]
    values = np.array(probe, dtype=object)
    for part in (values, values[7:], values[3:8], values[1:2]):
        ptrs = objectkeys.addresses(np.ascontiguousarray(part))
        one, many = np.empty(len(part), dtype="int64"), np.empty(len(part), dtype="int64")
        m1 = table.lookup_objects(ptrs, one, 1)
        m2 = table.lookup_objects(ptrs, many, threads)
        want = [keys.index(v) if type(v) is str and v in keys[:2000] else -1 for v in part.tolist()]
        assert many.tolist() == one.tolist() == want
        assert m1 == m2 == want.count(-1)


@needs_c
def test_batches_from_parallel_rows_up_are_looked_up_on_threads(monkeypatch):
    """``lookup_arrow`` and ``lookup_objects`` ask for threads at ``PARALLEL_ROWS`` rows, and the
    ids do not change."""
    seen = []

    class Spy:
        def __init__(self, table):
            self.table = table

        def lookup_utf8(self, *args):
            seen.append(args[-1])
            return self.table.lookup_utf8(*args)

        def lookup_objects(self, *args):
            seen.append(args[-1])
            return self.table.lookup_objects(*args)

    table = strtable.new_table()
    strtable.learn(table, np.array(["a", "b"], dtype=object), np.array([0, 1]))
    monkeypatch.setattr(strtable, "PARALLEL_ROWS", 100)
    monkeypatch.setattr(strtable, "THREADS", 2)
    for n in (99, 100, 1001):
        got, misses = strtable.lookup_arrow(Spy(table), pa.array(["a", "b", "c"] * n))
        assert got.tolist() == [0, 1, -1] * n and misses == n
    assert seen == [2, 2, 2]  # 297 rows and more
    got, misses = strtable.lookup_objects(Spy(table), np.array(["a", "b", "c", None] * 25, dtype=object))
    assert got.tolist() == [0, 1, -1, -1] * 25 and misses == 50
    assert seen[-1] == 2
    seen.clear()
    strtable.lookup_arrow(Spy(table), pa.array(["a"] * 99))
    strtable.lookup_objects(Spy(table), np.array(["a"] * 99, dtype=object))
    assert seen == [1, 1]


@needs_c
def test_a_threaded_lookup_still_checks_every_offset():
    """A bad offset in any thread's part is an error, not a read outside the data."""
    table = strtable.new_table()
    offsets = np.arange(0, 4001, dtype="int32")
    offsets[3001] = 10**6  # in the last part
    data = b"x" * 4000
    for threads in (1, 2, 4):
        with pytest.raises(ValueError, match="outside the data"):
            table.lookup_utf8(offsets, data, 0, np.empty(4000, dtype="int64"), False, threads)
    with pytest.raises(ValueError, match="threads must be 1 to 8, got 9"):
        table.lookup_utf8(offsets, data, 0, np.empty(4000, dtype="int64"), False, 9)


@needs_c
def test_keys_differing_in_one_byte_at_every_length_stay_apart():
    """The hash reads short keys in overlapping words: every byte of every length must count."""
    keys = [""] + [("a" * n)[:i] + "b" + ("a" * n)[i + 1:] for n in range(1, 41) for i in range(n)]
    keys += ["a" * n for n in range(1, 41)] + ["é" * n for n in range(1, 12)]
    assert len(set(keys)) == len(keys)
    table = strtable.new_table()
    strtable.learn(table, np.array(keys, dtype=object), np.arange(len(keys)))
    got, misses = strtable.lookup_objects(table, np.array(keys, dtype=object))
    assert misses == 0 and got.tolist() == list(range(len(keys)))
    got, misses = strtable.lookup_arrow(table, pa.array(keys))
    assert misses == 0 and got.tolist() == list(range(len(keys)))


@needs_c
def test_a_key_learnt_twice_keeps_its_first_id():
    table = strtable.new_table()
    strtable.learn(table, np.array(["a", "a", "b"], dtype=object), np.array([1, 2, 3]))
    assert strtable.lookup_objects(table, np.array(["a", "b"], dtype=object))[0].tolist() == [1, 3]


@needs_c
def test_arrow_types_it_does_not_read_are_refused():
    table = strtable.new_table()
    assert strtable.lookup_arrow(table, pa.array([1, 2])) is None
    assert strtable.lookup_arrow(table, pa.array([], type=pa.string()))[0].tolist() == []


@needs_c  # without the extension both sides are numpy
@pytest.mark.parametrize("aggs", [
    {"c": ("v", "count"), "t": ("v", "sum"), "m": ("v", "mean")},
    {"n": ("v", "size")},
    {"t": ("v", "sum"), "u": ("w", "mean")},
    {"t": ("i", "sum"), "m": ("v", "mean")},  # an int64 sum: the exact numpy path
    {"lo": ("v", "min"), "t": ("v", "sum")},  # min is not additive: the numpy path
])
def test_group_counts_and_sums_match_numpy_to_the_bit(aggs):
    """``reduced_rows`` (C where every field is additive over float64) against
    ``from_rows().reduce()`` (numpy's bincount): the same arrays, NaN, inf and -0.0 included."""
    from streamlab.windows import aggregates as agg

    fields = agg.partial_fields(agg.parse_aggs(aggs))
    rng = np.random.default_rng(11)
    n, groups = 5_000, 700  # some groups get no row
    v = rng.normal(0, 1e6, n)
    v[rng.random(n) < 0.1] = np.nan
    v[rng.integers(0, n, 5)] = np.inf
    v[rng.integers(0, n, 5)] = -0.0
    values = {"v": v, "w": rng.random(n), "i": rng.integers(-10**12, 10**12, n)}
    gid = rng.integers(0, groups, n)
    fast = agg.reduced_rows(fields, values, None, n, gid, groups)
    slow = agg.Partials.from_rows(fields, values, None, n).reduce(gid, groups)
    assert sorted(fast.a) == sorted(slow.a)
    for name in slow.a:
        assert fast.a[name].dtype == slow.a[name].dtype
        assert fast.a[name].tobytes() == slow.a[name].tobytes(), name


@needs_c
def test_group_sums_refuse_a_group_id_out_of_range():
    from streamlab.windows import aggregates as agg

    with pytest.raises(ValueError, match="group id 5 outside 0..4"):
        agg._count_sum(np.array([0, 5]), np.zeros(5, dtype="int64"), None, None, None)
