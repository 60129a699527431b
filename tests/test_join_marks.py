"""A join's output carries marks: a window after a join uses the join's output watermark.

The window after an interval join has no ``.watermark()`` of its own; the expected result is a
plain pandas batch model (merge + filter + pad + floor + groupby) of the whole input, which the
streaming result must equal at every batch size (inputs disordered within the watermark delay, so
no row is late).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import streamlab as sl
from streamlab.core.watermarks import marks_of

LOWER, UPPER, DELAY = -300, 700, 400


def inputs(seed: int, n: int = 300):
    rng = np.random.default_rng(seed)
    lt = np.sort(rng.integers(0, 20_000, n))
    rt = np.sort(rng.integers(0, 20_000, n))
    # disorder within the watermark delay: no row is ever late
    lt = lt + rng.integers(0, DELAY // 2, n)
    rt = rt + rng.integers(0, DELAY // 2, n)
    left = pd.DataFrame({"ts": lt, "k": rng.choice(list("abcd"), n), "lid": np.arange(n)})
    right = pd.DataFrame({"ts": rt, "k": rng.choice(list("abcd"), n), "rid": np.arange(n)})
    return left, right


def batch_join(left, right, how):
    """pandas: every pair within the bound, then the rows of the outer side(s) with no pair."""
    m = left.merge(right, on="k", suffixes=("_x", "_y"))
    m = m[(m.ts_y >= m.ts_x + LOWER) & (m.ts_y <= m.ts_x + UPPER)]
    parts = [m]
    if how in ("left", "full"):
        parts.append(left[~left.lid.isin(m.lid)].rename(columns={"ts": "ts_x"}))
    if how in ("right", "full"):
        parts.append(right[~right.rid.isin(m.rid)].rename(columns={"ts": "ts_y"}))
    return pd.concat(parts, ignore_index=True)


def batch_windows(joined):
    """Tumbling 1 s windows by key over the row's time (the left one, else the right one)."""
    t = joined.ts_x.fillna(joined.ts_y).astype("int64")
    g = joined.assign(window_start=t // 1000 * 1000).groupby(["k", "window_start"])
    return g.agg(n=("k", "size"), lids=("lid", "count")).reset_index()


def streamed(left, right, how, batch):
    a = sl.from_frame(left, time="ts", unit="ms", batch_size=batch).watermark(DELAY)
    b = sl.from_frame(right, time="ts", unit="ms", batch_size=batch).watermark(DELAY)
    j = a.join(b, on="k", between=(LOWER, UPPER), how=how)
    w = j.window(sl.Tumble(1000), by="k").agg(n=("k", "size"), lids=("lid", "count"))
    return j, w


@pytest.mark.parametrize("how", ["inner", "left", "full"])
@pytest.mark.parametrize("batch", [1, 7, 1000])
def test_a_window_after_an_interval_join_uses_the_joins_watermark(how, batch):
    left, right = inputs(seed=batch)
    j, w = streamed(left, right, how, batch)
    out = w.collect()
    want = batch_windows(batch_join(left, right, how))
    got = out[["k", "window_start", "n", "lids"]].sort_values(["k", "window_start"]).reset_index(drop=True)
    want = want.sort_values(["k", "window_start"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    snap = w.snapshot_node()
    assert snap["counters"]["late"] == 0 and snap["counters"]["errors"] == 0


def test_windows_fire_while_the_stream_runs_not_only_at_the_end():
    left, right = inputs(seed=3)
    _, w = streamed(left, right, "inner", 20)
    fired_before_end = []
    w.sink(lambda df: fired_before_end.append(len(df)))
    pipe = w.pipeline
    for _ in range(10):
        pipe.step()
    assert sum(fired_before_end) > 0  # the join's output watermark moved the window along


def test_join_output_marks_follow_the_joint_watermark_minus_the_delay():
    left, right = inputs(seed=5, n=50)
    j, _ = streamed(left, right, "left", 10)
    seen = []
    j.sink(lambda df: seen.append(marks_of(df)))
    j.collect()
    marks = [m for m in seen if m is not None]
    assert marks and all(m is not None for m in seen)
    ends = [m.end for m in marks]
    assert ends == sorted(ends)
    delay = max(UPPER, -LOWER) + 1
    assert j.output_delay == delay
    for m in marks:
        if len(m):
            assert (np.diff(m.wm) >= 0).all() and m.wm.max() <= m.end
            assert (m.ms > m.wm).all()  # no row emitted in time is late downstream


@pytest.mark.parametrize("batch", [1, 9, 1000])
def test_a_window_after_a_temporal_join_uses_the_joins_watermark(batch):
    rng = np.random.default_rng(batch)
    n = 400
    ts = np.sort(rng.integers(0, 30_000, n)) + rng.integers(0, DELAY // 2, n)
    orders = pd.DataFrame({"ts": ts, "cur": rng.choice(["EUR", "USD"], n), "amount": rng.integers(1, 100, n)})
    rts = np.concatenate([[0, 0], np.sort(rng.integers(1, 30_000, 30))])
    rates = pd.DataFrame({"ts": rts, "cur": ["EUR", "USD", *rng.choice(["EUR", "USD"], 30)],
                          "rate": rng.uniform(0.5, 1.5, 32).round(3)})
    o = sl.from_frame(orders, time="ts", unit="ms", batch_size=batch).watermark(DELAY)
    r = sl.from_frame(rates, time="ts", unit="ms", batch_size=batch).watermark(0)
    w = o.join_asof(r, on="cur").window(sl.Tumble(5000), by="cur").agg(n=("cur", "size"), total=("amount", "sum"))
    got = w.collect()[["cur", "window_start", "n", "total"]].sort_values(["cur", "window_start"])
    asof = pd.merge_asof(orders.sort_values("ts"), rates.sort_values("ts"), on="ts", by="cur")
    want = (asof.assign(window_start=asof.ts // 5000 * 5000).groupby(["cur", "window_start"])
            .agg(n=("cur", "size"), total=("amount", "sum")).reset_index().sort_values(["cur", "window_start"]))
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)
    assert w.snapshot_node()["counters"]["late"] == 0


def window_rows(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Each row once per window containing it: TUMBLE 1 s, or HOP 2 s every 1 s (ms)."""
    start = df.ts // 1000 * 1000
    parts = [df.assign(ws=start)] + ([df.assign(ws=start - 1000)] if kind == "hop" else [])
    out = pd.concat(parts, ignore_index=True)
    return out.assign(we=out.ws + (1000 if kind == "tumble" else 2000))


def batch_window_join(left, right, kind, how):
    """pandas: rows of equal key and window paired, then the outer side's windows with no pair;
    each output row's time is its window's window_time (end - 1), Flink's time attribute."""
    lw, rw = window_rows(left, kind), window_rows(right, kind)
    m = lw.merge(rw, on=["k", "ws", "we"], suffixes=("_x", "_y"))
    parts = [m]
    if how == "full":
        lkey, rkey = lw.set_index(["lid", "ws"]).index, rw.set_index(["rid", "ws"]).index
        parts.append(lw[~lkey.isin(m.set_index(["lid", "ws"]).index)])
        parts.append(rw[~rkey.isin(m.set_index(["rid", "ws"]).index)])
    joined = pd.concat(parts, ignore_index=True)
    t = joined.we - 1
    g = joined.assign(window_start=t // 2000 * 2000).groupby(["k", "window_start"])
    return g.agg(n=("k", "size"), lids=("lid", "count")).reset_index()


@pytest.mark.parametrize("kind", ["tumble", "hop"])
@pytest.mark.parametrize("how", ["inner", "full"])
@pytest.mark.parametrize("batch", [1, 7, 1000])
def test_a_window_after_a_window_join_uses_the_joins_marks(kind, how, batch):
    """No ``.watermark()`` after the window join: its marks (window_time, the joint watermark
    before the firing one) drive the window, which equals the batch model with no late row."""
    left, right = inputs(seed=batch + 11)
    spec = sl.Tumble(1000) if kind == "tumble" else sl.Hop(2000, 1000)
    a = sl.from_frame(left, time="ts", unit="ms", batch_size=batch).watermark(DELAY)
    b = sl.from_frame(right, time="ts", unit="ms", batch_size=batch).watermark(DELAY)
    j = a.window(spec).join(b.window(spec), on="k", how=how)
    w = j.window(sl.Tumble(2000), by="k").agg(n=("k", "size"), lids=("lid", "count"))
    fired_early = []
    w.sink(lambda df: fired_early.append(len(df)) if not w.pipeline.sources[0].exhausted else None)
    got = w.collect()[["k", "window_start", "n", "lids"]].sort_values(["k", "window_start"]).reset_index(drop=True)
    want = batch_window_join(left, right, kind, how).sort_values(["k", "window_start"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert len(j.late.collect()) == 0  # the join itself drops nothing (inputs disordered within the delay)
    snap = w.snapshot_node()
    assert snap["counters"]["late"] == 0 and snap["counters"]["errors"] == 0
    assert sum(fired_early) > 0  # the windows fire while the stream runs, not only at the end


@pytest.mark.parametrize("how", ["inner", "full"])
def test_window_join_marks_are_window_time_and_the_watermark_before_firing(how):
    left, right = inputs(seed=21, n=80)
    a = sl.from_frame(left, time="ts", unit="ms", batch_size=6).watermark(DELAY)
    b = sl.from_frame(right, time="ts", unit="ms", batch_size=6).watermark(DELAY)
    j = a.window(sl.Hop(2000, 1000)).join(b.window(sl.Hop(2000, 1000)), on="k", how=how)
    seen = []
    j.sink(lambda df: seen.append((df, marks_of(df))))
    j.collect()
    assert seen and all(m is not None for _, m in seen)
    ends = [m.end for _, m in seen]
    assert ends == sorted(ends)
    for df, m in seen:
        if len(df):
            assert (m.ms == df.window_end.to_numpy() - 1).all()
            assert (m.wm < m.ms).all() and m.wm.max() <= m.end  # never late downstream


def test_a_window_join_of_aggregations_carries_marks():
    left, right = inputs(seed=4, n=120)
    src_a = sl.from_frame(left, time="ts", unit="ms", batch_size=10).watermark(DELAY)
    src_b = sl.from_frame(right, time="ts", unit="ms", batch_size=10).watermark(DELAY)
    x = src_a.window(sl.Tumble(1000), by="k").agg(n=("lid", "count"))
    y = src_b.window(sl.Tumble(1000), by="k").agg(m=("rid", "count"))
    j = x.join(y, on="k", how="full")
    seen = []
    j.sink(lambda df: seen.append((df, marks_of(df))))
    j.collect()
    rows = [(df, m) for df, m in seen if len(df)]
    assert rows and all(m is not None for _, m in seen)
    for df, m in rows:
        assert (m.ms == df.window_end.to_numpy() - 1).all() and (m.wm < m.ms).all()
