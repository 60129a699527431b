"""Property tests: for any arrival order and any batch split, the engine equals the batch model."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streamlab as sl
from tests.model import run_model

KEYS = ["a", "b", "c"]



@st.composite
def rows_st(draw):
    """Rows (ts ms, key, value): sometimes spread out, often packed so that boundary ties are common."""
    lo, hi = draw(st.sampled_from([(-1500, 4000), (-12, 30), (0, 8)]))
    row = st.tuples(st.integers(lo, hi), st.sampled_from(KEYS), st.integers(0, 40).map(lambda x: x * 0.25))
    return draw(st.lists(row, min_size=0, max_size=60))


@st.composite
def window_st(draw):
    kind = draw(st.sampled_from(["tumble", "hop", "cumulate", "session"]))
    if kind == "tumble":
        size = draw(st.sampled_from([1, 3, 7, 100, 250, 1000]))
        offset = draw(st.sampled_from([0, 3, 40]))
        return kind, sl.Tumble(size, offset=offset % size), dict(size=size, slide=size, offset=offset % size)
    if kind == "hop":
        slide = draw(st.sampled_from([1, 2, 5, 50, 250]))
        size = slide * draw(st.integers(1, 5))
        return kind, sl.Hop(size, slide), dict(size=size, slide=slide)
    if kind == "cumulate":
        step = draw(st.sampled_from([1, 2, 5, 50, 250]))
        size = step * draw(st.integers(1, 5))
        return kind, sl.Cumulate(size, step), dict(size=size, slide=step)
    gap = draw(st.sampled_from([1, 2, 5, 10, 100, 300]))
    return kind, sl.Session(gap), dict(gap=gap)


def expected_frame(results):
    rows = [
        (k, s, e, len(vs), sum(vs), min(vs), max(vs), vs[0], vs[-1])
        for (k, s, e), vs in results.items()
    ]
    return sorted(rows)


def engine(rows, spec, delay, batch_size):
    df = pd.DataFrame(rows, columns=["ts", "k", "v"]).astype({"ts": "int64", "v": "float64", "k": object})
    res = (
        sl.from_frame(df, time="ts", unit="ms", batch_size=batch_size)
        .watermark(delay)
        .window(spec, by="k")
        .agg(n=("v", "size"), s=("v", "sum"), lo=("v", "min"), hi=("v", "max"), f=("v", "first"), la=("v", "last"))
    )
    out = res.collect()
    late = res.late.collect()
    got = sorted(
        (r.k, int(r.window_start), int(r.window_end), int(r.n), float(r.s), float(r.lo), float(r.hi), float(r.f), float(r.la))
        for r in out.itertuples()
    )
    return got, late, res


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_st(), window=window_st(), delay=st.sampled_from([0, 1, 2, 5, 50, 300, 1000]), data=st.data())
def test_engine_equals_batch_model_for_any_order_and_batching(rows, window, delay, data):
    kind, spec, params = window
    batch_size = data.draw(st.integers(1, max(1, len(rows) + 1)), label="batch_size")
    results, late = run_model(rows, kind, delay=delay, **params)
    got, late_frame, res = engine(rows, spec, delay, batch_size)
    assert got == expected_frame(results)
    want_late = sorted((rows[i][0], rows[i][1], rows[i][2], m) for i, wm, m in late)
    got_late = sorted(
        (int(r.ts), r.k, float(r.v), int(r.missed_windows)) for r in late_frame.itertuples()
    )
    assert got_late == want_late
    # conservation: rows in = rows counted in >= 1 window + rows only on late + rows on errors
    window_op = res
    only_late = sum(1 for i, wm, m in late if kind == "session" or m == len(
        __import__("tests.model", fromlist=["x"]).windows_containing(rows[i][0], kind, params["size"], params["slide"], params.get("offset", 0))))
    assert window_op.counters.rows_in == window_op.counted + only_late + window_op.counters.errors


@settings(max_examples=60, deadline=None)
@given(rows=rows_st(), window=window_st(), delay=st.sampled_from([0, 100]))
def test_batch_size_does_not_change_results(rows, window, delay):
    kind, spec, params = window
    one, late_one, _ = engine(rows, spec, delay, 1)
    big, late_big, _ = engine(rows, spec, delay, 10_000)
    assert one == big
    assert len(late_one) == len(late_big)
