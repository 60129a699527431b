"""Group keys (issue 14): one key path for every dtype; dead keys are forgotten (issue 13, items 11, 12)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import streamlab as sl
from streamlab.windows import strtable
from streamlab.windows.keys import KeyIndex
from streamlab.windows.operator import WindowAgg


@pytest.fixture(autouse=True, params=["compiled", "python"])
def key_path(request, monkeypatch):
    """Every test runs twice: with the compiled string table (built at install) and with the
    pure-Python key paths a machine without a compiler takes. Both must give the same ids."""
    if request.param == "compiled" and strtable.StrTable is None:
        pytest.skip("the C extension is not built (see tests/test_strtable.py)")
    monkeypatch.setattr(strtable, "ENABLED", request.param == "compiled")
    return request.param


def frame(n=3_000, seed=0):
    rng = np.random.default_rng(seed)
    names = np.array(["a", "b", "c", "dd", "é", "", "key-7"], dtype=object)
    k = names[rng.integers(0, len(names), n)]
    k[rng.random(n) < 0.1] = None
    return pd.DataFrame({
        "ts": np.sort(rng.integers(0, 10_000, n)),
        "k": k,
        "j": rng.integers(-3, 3, n),
        "v": rng.normal(0, 1, n).round(3),
    })


def reference(df, by, size=1000):
    ws = df["ts"] // size * size
    g = df.assign(window_start=ws).groupby([*by, "window_start"], dropna=False, sort=False)["v"]
    out = g.agg(n="count", s="sum").reset_index()
    return out


def run(df, by, size=1000, batch_size=257):
    res = sl.from_frame(df, time="ts", unit="ms", batch_size=batch_size).watermark("10ms").window(
        sl.Tumble(size), by=by).agg(n=("v", "count"), s=("v", "sum"))
    return res.collect()


def canon(out, by):
    out = out[[*by, "window_start", "n", "s"]].copy()
    for c in by:
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    out["s"] = out["s"].round(6)
    return out.sort_values([*by, "window_start"], key=lambda s: s.astype(str)).reset_index(drop=True)


@pytest.mark.parametrize("dtype", ["object", "str", "category", "string[pyarrow]"])
def test_every_string_key_dtype_gives_the_same_groups_nulls_included(dtype):
    df = frame()
    df["k"] = df["k"].astype(dtype)
    got = run(df, ["k"])
    if dtype != "object":  # object strings come out as pandas infers them (str), as before
        assert got["k"].dtype == df["k"].dtype
    pd.testing.assert_frame_equal(canon(got, ["k"]), canon(reference(df, ["k"]), ["k"]), check_dtype=False)


@pytest.mark.parametrize("by", [["j"], ["k", "j"], ["j", "k"]])
def test_integer_and_several_key_columns(by):
    df = frame(seed=1)
    got = run(df, by)
    pd.testing.assert_frame_equal(canon(got, by), canon(reference(df, by), by), check_dtype=False)
    if by == ["j"]:
        assert got["j"].dtype == np.int64


def test_key_index_mixed_batches():
    ki = KeyIndex(["k"])
    assert ki.encode(pd.DataFrame({"k": pd.Series([1, 2, 1])})).tolist() == [0, 1, 0]
    # a later batch of another type: ints and strings are told apart, 1 and 1.0 are one key
    assert ki.encode(pd.DataFrame({"k": pd.Series(["1", 1.0, None, np.nan], dtype=object)})).tolist() == [2, 0, 3, 3]
    assert ki.encode(pd.DataFrame({"k": pd.Series(["2", None], dtype="str")})).tolist() == [4, 3]
    assert ki.encode(pd.DataFrame({"k": pd.Series(["2", "1"], dtype="category")})).tolist() == [4, 2]
    assert ki.decode(np.arange(5))["k"].tolist()[:3] == [1, 2, "1"]
    again = KeyIndex(["k"])
    again.load(ki.export())
    assert again.encode(pd.DataFrame({"k": pd.Series(["2", 2, None], dtype=object)})).tolist() == [4, 1, 3]


def null_as_none(v):
    return None if v is None or (isinstance(v, float) and v != v) else v


@pytest.mark.parametrize("seed", range(6))
def test_object_strings_joined_into_arrow_keep_one_id_per_key(seed):
    """Object columns: with the compiled table, str rows are looked up in C and the rest hashed;
    in pure Python, rows sharing the pool's string objects are found by address, rows that are
    their own objects are joined into one Arrow array per batch (64 rows and more), and batches
    with NULLs, ints, the separator character or lone surrogates take the hash path instead.
    Arrow ``str`` batches share the ids. Every path must keep one id per key (NULLs one key) over
    all batches, and decode each id to its key."""
    rng = np.random.default_rng(seed)
    pool = ["a", "b", "é", "日本", "", "key-7"] + [f"k{i}" for i in range(200)]
    ki = KeyIndex(["k"])
    ids: dict = {}  # key -> id, from every batch so far
    for batch, kind in enumerate(rng.permutation(np.tile(np.arange(7), 4))):
        n = int(rng.choice([1, 63, 64, 500, 3000]))
        vals = [pool[i] for i in rng.integers(0, len(pool), n)]
        vals[:: max(1, n // 5)] = [f"new-{batch}-{j}" for j in range(len(vals[:: max(1, n // 5)]))]
        special = {1: None, 2: "x\x00y", 3: 7, 4: None, 5: "\ud800"}.get(int(kind), "k0")
        vals[int(rng.integers(0, n))] = special
        if kind == 6:  # every row its own object (as astype(object) or JSON give), not pool's
            vals = [(v + "#")[:-1] for v in vals]
        col = pd.Series(np.array(vals, dtype=object), dtype=object)
        if kind == 4:
            col = col.astype("str")
        for v, i in zip(col.tolist(), ki.encode(pd.DataFrame({"k": col})).tolist()):
            assert ids.setdefault(null_as_none(v), i) == i, f"key {v!r} got id {i}, before {ids[null_as_none(v)]}"
        assert len(set(ids.values())) == len(ids) == len(ki)
    decoded = ki.decode(np.array(list(ids.values())))["k"].tolist()
    assert [null_as_none(d) for d in decoded] == list(ids)


def test_an_address_found_in_the_cache_still_holds_its_key():
    """Strings found by address are kept alive by the cache: once the batch is gone, new strings
    cannot take those addresses and be taken for the old keys."""
    ki = KeyIndex(["k"])
    model: dict = {}
    for batch in range(40):
        names = [f"{batch % 3}-{i}-{'x' * (batch % 5)}" for i in range(8)]  # new objects each batch
        col = pd.Series(np.array(names * 40, dtype=object), dtype=object)
        for v, i in zip(col.tolist(), ki.encode(pd.DataFrame({"k": col})).tolist()):
            assert model.setdefault(v, i) == i, f"batch {batch}: {v!r} got id {i}, not {model[v]}"
        del names, col
    assert len(ki) == len(model)


def test_compact_renumbers_live_keys_and_forgets_the_rest():
    ki = KeyIndex(["k", "j"])
    ids = ki.encode(pd.DataFrame({"k": ["a", "b", "c", None], "j": [1, 2, 3, 4]}))
    assert ids.tolist() == [0, 1, 2, 3]
    remap = ki.compact(np.array([1, 3]))
    assert remap.tolist() == [-1, 0, -1, 1] and len(ki) == 2
    decoded = ki.decode(np.array([0, 1]))
    assert decoded["k"].iloc[0] == "b" and pd.isna(decoded["k"].iloc[1]) and decoded["j"].tolist() == [2, 4]
    assert ki.encode(pd.DataFrame({"k": [None, "a", "b"], "j": [4, 1, 2]})).tolist() == [1, 2, 0]


def churn(batches=120, per_batch=50, step=10, seed=0):
    """Every batch brings ``per_batch`` new keys; each key is seen in 3 batches in a row."""
    rng = np.random.default_rng(seed)
    parts = []
    for b in range(batches):
        keys = np.concatenate([np.arange(b - d, b - d + 1).repeat(per_batch) * per_batch + np.arange(per_batch)
                               for d in range(3) if b - d >= 0])
        ts = b * step + rng.integers(0, step, len(keys))
        parts.append(pd.DataFrame({"ts": ts, "key": [f"u{k}" for k in keys], "v": rng.normal(0, 1, len(keys)),
                                   "i": keys}))
    return pd.concat(parts, ignore_index=True)


def ordered(out: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in ("window_end", "window_start", "key", "i", "revision") if c in out.columns]
    return out.sort_values(cols, kind="stable").reset_index(drop=True)


SPECS = {
    "tumble": lambda: sl.Tumble(20),
    "hop": lambda: sl.Hop(40, 10),
    "cumulate": lambda: sl.Cumulate(40, 10),
    "session": lambda: sl.Session(5),
}


@pytest.mark.parametrize("kind", sorted(SPECS))
@pytest.mark.parametrize("by", [["key"], ["key", "i"]])
def test_dead_keys_are_forgotten_and_results_do_not_change(monkeypatch, kind, by):
    """Issue 13, item 11: the key ids held follow the live keys, not every key ever seen."""
    df = churn()
    per_batch = len(df) // 120

    def build(lateness=None):
        return (sl.from_frame(df, time="ts", unit="ms", batch_size=per_batch).watermark("3ms")
                .window(SPECS[kind](), by=by, allowed_lateness=lateness)
                .agg(n=("v", "count"), s=("v", "sum"), med=("v", "median"), first=("i", "first")))

    monkeypatch.setattr(WindowAgg, "compact_min_keys", 10**9)
    whole = build().collect()
    late_whole = build("5ms").collect()
    monkeypatch.setattr(WindowAgg, "compact_min_keys", 64)
    res = build()
    held = []
    res.sink(lambda out: held.append((len(res.keys), res.logic.state_size())))
    got = res.collect()
    # the same rows; within one window a key that came back after being forgotten sorts as new
    pd.testing.assert_frame_equal(ordered(got), ordered(whole))
    pd.testing.assert_frame_equal(ordered(build("5ms").collect()), ordered(late_whole))
    distinct = df["key"].nunique()
    assert distinct == 6_000
    assert held and max(k for k, _ in held) <= 1_000, max(held)
    assert max(s for _, s in held) <= 4_000


def test_compaction_survives_a_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(WindowAgg, "compact_min_keys", 64)
    df = churn(batches=40)
    per_batch = len(df) // 40

    def build():
        return sl.from_frame(df, time="ts", unit="ms", batch_size=per_batch).watermark("3ms").window(
            sl.Hop(40, 10), by="key").agg(n=("v", "count"))

    whole = build().collect()
    res = build()
    before: list[pd.DataFrame] = []
    res.sink(before.append)
    for _ in range(25):
        res.step()
    assert len(res.keys) < 1_000 and df["key"].nunique() > 1_000
    res.checkpoint(tmp_path / "c.json")
    again = build()
    sl.restore(tmp_path / "c.json", again)
    got = pd.concat([*before, again.collect()], ignore_index=True)
    pd.testing.assert_frame_equal(ordered(got), ordered(whole))


def reachable_bytes(frame: pd.DataFrame) -> int:
    """Bytes of the buffers a frame's columns keep alive (numpy bases, Arrow buffers) and its attrs."""
    total = 0
    for name in frame.columns:
        arr = frame[name].array
        arrow = getattr(arr, "_pa_array", None)
        if arrow is not None:
            total += arrow.get_total_buffer_size()
            continue
        values = np.asarray(arr) if not hasattr(arr, "_ndarray") else arr._ndarray
        while isinstance(values.base, np.ndarray):
            values = values.base
        total += values.nbytes
    assert not frame.attrs, f"ledger frame keeps attrs {list(frame.attrs)}"
    return total


def test_late_and_errors_ledgers_keep_only_their_rows():
    """Issue 13, item 12: a ledger frame holds its rows, not the batch it was cut from."""
    n = 100_000
    rng = np.random.default_rng(0)
    ts = np.arange(n) * 10
    late = rng.choice(n // 2, 40, replace=False) + n // 2
    ts[late] = 0  # far behind the watermark: late
    v = rng.normal(0, 1, n).astype(object)
    v[late[:5] + 1] = "x"  # not numeric: errors
    df = pd.DataFrame({"ts": ts, "k": pd.Series(rng.integers(0, 1000, n).astype(str), dtype="str"), "v": v,
                       "pad": rng.normal(0, 1, n)})
    res = sl.from_frame(df, time="ts", unit="ms", batch_size=n).watermark("0ms").window(
        sl.Tumble(100), by="k").agg(s=("v", "sum"))
    res.collect()
    for side in (res.late, res.errors):
        assert side.recent, side
        rows = sum(len(f) for f in side.recent)
        assert rows <= side.max_recent_rows
        held = sum(reachable_bytes(f) for f in side.recent)
        assert held < 200 * rows + 10_000, (side, rows, held)


def test_ledger_trims_a_large_frame_to_its_last_rows():
    res = sl.from_frame(pd.DataFrame({"ts": [0]}), time="ts", unit="ms").window(sl.Tumble(10)).agg(n=("ts", "size"))
    big = pd.DataFrame({"a": np.arange(5_000)})
    res.late.max_recent_rows = 100
    res.late.push(big.iloc[10:])
    res.late.push(big.iloc[:30])
    assert [len(f) for f in res.late.recent] == [70, 30]
    assert res.late.ledger(100)["a"].tolist() == list(range(4930, 5000)) + list(range(30))
    assert all(reachable_bytes(f) <= 8 * len(f) for f in res.late.recent)


@pytest.mark.parametrize("dtype", ["object", "str", "category", "int64", "uint64", "Int64", "float64",
                                   "datetime64[ms]", "bool"])
def test_stored_arrays_and_series_give_the_same_ids(dtype):
    """The per-batch path hands the key index stored arrays (``core.columns``), other operators
    Series: both give the same ids and decoded values, NULLs included, over several batches."""
    from streamlab.core.columns import column_values

    rng = np.random.default_rng(3)
    raw = rng.integers(0, 6, 600)
    if dtype in ("object", "str", "category"):
        col = pd.Series(np.array(["x", "y", "zz", "é", "", "w"], dtype=object)[raw], dtype=object)
        col[rng.random(600) < 0.1] = None
        col = col.astype(dtype)
    elif dtype == "datetime64[ms]":
        col = pd.Series(pd.to_datetime(raw * 1000, unit="ms")).astype(dtype)
        col[rng.random(600) < 0.1] = pd.NaT
    elif dtype in ("Int64", "float64"):
        col = pd.Series(raw).astype(dtype)
        col[rng.random(600) < 0.1] = None
    else:
        col = pd.Series(raw % 2 == 0 if dtype == "bool" else raw).astype(dtype)
    df = pd.DataFrame({"k": col})
    by_series, by_arrays = KeyIndex(["k"]), KeyIndex(["k"])
    for lo in range(0, len(df), 150):
        part = df.iloc[lo:lo + 150]
        a = by_series.encode(part)
        b = by_arrays.encode(column_values(part, ["k"]), len(part))
        assert a.tolist() == b.tolist()
    ids = np.arange(len(by_series))
    pd.testing.assert_series_equal(by_series.decode(ids)["k"], by_arrays.decode(ids)["k"])


def test_per_row_watermark_matches_a_row_by_row_model():
    """The vectorised watermark (Arrow running max, shortcuts) against a loop over the rows."""
    from streamlab.core.timecol import NEG_INF
    from streamlab.core.watermarks import per_row_watermark

    rng = np.random.default_rng(5)
    for _ in range(300):
        n = int(rng.integers(1, 2000))
        ms = (np.arange(n) * rng.integers(0, 5) + rng.integers(-300, 300, n)).astype("int64")
        max_ts = None if rng.random() < 0.3 else int(rng.integers(-500, 500))
        delay = int(rng.integers(0, 100))
        current = NEG_INF if max_ts is None else max_ts - delay + int(rng.integers(-50, 50))
        wm, new_max, new_current = per_row_watermark(ms, max_ts, current, delay)
        expect, seen, cur = [], max_ts, current
        for t in ms.tolist():
            expect.append(max(cur, NEG_INF if seen is None else seen - delay))
            seen = t if seen is None else max(seen, t)
        assert wm.tolist() == expect
        assert new_max == seen and new_current == max(current, seen - delay)


def model_ids(batches):
    """Ids as a factorizer numbers keys: order of first appearance over all batches, Python
    equality (1 and 1.0 are one key), and NULL's id after the new keys of the batch that first
    brings it."""
    ids: dict = {}
    null_key = object()
    out = []
    for batch in batches:
        keys = [null_key if null_as_none(v) is None else v for v in batch]
        for k in keys:
            if k is not null_key and k not in ids:
                ids[k] = len(ids)
        if null_key in keys and null_key not in ids:
            ids[null_key] = len(ids)
        out.append([ids[k] for k in keys])
    return out


class Sub(str):
    """A str subclass: not an exact str, so the compiled table leaves it to the hash table."""


@pytest.mark.parametrize("seed", range(4))
def test_large_object_batches_with_many_new_keys_number_them_as_a_factorizer(seed):
    """A first batch (or any batch with 64 or more rows the compiled table does not know) has its
    distinct new strings found in C before the hash table numbers them: the ids must be exactly
    those of numbering every row, mixed with NULLs, numbers, lone surrogates and str subclasses."""
    rng = np.random.default_rng(seed)
    pool = [f"k{i}" for i in range(300)] + ["é", "日本", "", "x\x00y", "\ud800", 1, 2.0, 2, Sub("k1"), Sub("zz")]
    batches = []
    for n in (5000, 64, 63, 2000, 700):
        vals = [pool[i] for i in rng.integers(0, len(pool), n)]
        for j in rng.integers(0, n, max(1, n // 50)):
            vals[j] = None if rng.random() < 0.5 else np.nan
        vals = [(v + "#")[:-1] if isinstance(v, str) and type(v) is str and rng.random() < 0.5 else v for v in vals]
        batches.append(vals)
    ki = KeyIndex(["k"])
    got = [ki.encode(pd.DataFrame({"k": pd.Series(np.array(b + [None], dtype=object)[:-1], dtype=object)})).tolist()
           for b in batches]
    assert got == model_ids(batches)


def window_frames(keys, ts, batch_size=2):
    df = pd.DataFrame({"ts": ts, "k": pd.Series(np.array(keys + [None], dtype=object)[:-1], dtype=object), "v": 1.0})
    got: list = []
    res = sl.from_frame(df, time="ts", unit="ms", batch_size=batch_size).watermark("0ms").window(
        sl.Tumble(1000), by="k").agg(n=("v", "count"))
    res.sink(got.append)
    res.collect()
    return got


def test_object_keys_in_output_frames_get_the_dtype_pandas_infers_for_them():
    """Output frames hold object keys as ``pd.DataFrame`` would: the dtype pandas infers for the
    keys of that frame (``str`` for strings in pandas 3), whether or not every key of the column
    is a string; a frame of only NULL keys stays object."""
    all_str = window_frames(["a", "b", "c", "a"], [0, 10, 1000, 2000], batch_size=1)
    mixed = window_frames(["a", "b", 1, 2, None, "c", None], [0, 10, 1000, 1010, 2000, 3000, 4000], batch_size=2)
    expected = [["a", "b"], ["c"], ["a"], ["a", "b"], [1, 2, None], ["c"], [None]]
    assert len(all_str + mixed) == len(expected)
    for out, keys in zip(all_str + mixed, expected):
        got = out["k"].astype(object).where(out["k"].notna(), None).tolist()
        assert got == keys and [type(k) for k in got] == [type(k) for k in keys]
        assert out["k"].dtype == pd.Series(np.array(keys + [0], dtype=object)[:-1]).dtype, keys
    assert len({str(f["k"].dtype) for f in mixed}) > 1  # the dtypes did differ between frames


def test_object_keys_that_are_all_strings_are_inferred_once():
    ki = KeyIndex(["k"])
    ki.encode(pd.DataFrame({"k": pd.Series(np.array(["a", "b", "é"], dtype=object), dtype=object)}))
    assert isinstance(ki._cols[0].framed(), pd.arrays.ArrowStringArray)  # what pd.DataFrame infers
    assert ki._cols[0].framed() is ki._cols[0].framed()  # kept until new keys come
    assert ki.decode_arrays(np.array([2, 0]))["k"].tolist() == ["é", "a"]
    assert ki.decode(np.array([2, 0]))["k"].tolist() == ["é", "a"]
    ki.encode(pd.DataFrame({"k": pd.Series(np.array(["a", 1], dtype=object), dtype=object)}))
    assert isinstance(ki._cols[0].framed(), pd.arrays.NumpyExtensionArray)  # not all strings: each frame infers its own keys
