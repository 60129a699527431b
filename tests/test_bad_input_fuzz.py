"""Bad input, mixed by hypothesis (issue 13, item 16): widening dtypes, huge times, duplicated
column names, a time dtype that changes, and an aggregate callable that raises.

Whatever the mix, no exception escapes and the conservation law holds:
rows in = rows counted in a window + rows only on ``late`` + rows on ``errors``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import streamz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streamlab as sl

RAISES_ON = 13


def picky(values: pd.Series):
    """An aggregate callable that raises for any window holding the value 13."""
    if (values == RAISES_ON).any():
        raise ValueError("thirteen")
    return values.sum()


times = st.one_of(
    st.integers(0, 5_000),  # ordinary, in ms
    st.sampled_from([2**62 + 5_000, 2**61, -(2**61), 2**63 - 1, -(2**63)]),  # far past/future
)
values = st.one_of(st.integers(-50, 50), st.just(RAISES_ON), st.sampled_from([2**53 + 1, -(2**60)]))


@st.composite
def batches(draw):
    n = draw(st.integers(1, 6))
    ts = draw(st.lists(times, min_size=n, max_size=n))
    v = draw(st.lists(values, min_size=n, max_size=n))
    k = draw(st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n))
    shape = draw(st.sampled_from(["int", "float", "duplicated", "datetime", "float_time"]))
    if shape == "float":  # widening: the same column arrives as decimals
        return pd.DataFrame({"ts": ts, "k": k, "v": np.array(v, dtype="float64") + 0.5})
    if shape == "duplicated":
        return pd.DataFrame(list(zip(ts, k, v, v)), columns=["ts", "k", "v", "v"])
    if shape == "datetime":  # the time dtype changes mid-stream
        return pd.DataFrame({"ts": pd.to_datetime(np.clip(ts, 0, 5_000), unit="ms"), "k": k, "v": v})
    if shape == "float_time":  # numbers whose scaling may overflow
        return pd.DataFrame({"ts": np.array(ts, dtype="float64") * 1e3, "k": k, "v": v})
    return pd.DataFrame({"ts": ts, "k": k, "v": v})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=st.lists(batches(), min_size=1, max_size=6),
       spec=st.sampled_from([sl.Tumble(1000), sl.Session(300)]),
       delay=st.sampled_from([0, 500]))
def test_mixed_bad_input_keeps_the_conservation_law(frames, spec, delay):
    s = streamz.Stream()
    res = sl.from_streamz(s, time="ts", unit="ms").watermark(delay).window(spec, by="k").agg(
        total=("v", "sum"), top=("v", "max"), first=("v", "first"), p=("v", picky))
    out, late, errors = res.sink_to_list(), res.late.sink_to_list(), res.errors.sink_to_list()
    for frame in frames:
        s.emit(frame)
    res.pipeline.flush()
    n = sum(len(f) for f in frames)
    n_late = sum(len(f) for f in late)  # one window per row: late rows missed their only window
    n_errors = sum(len(f) for f in errors)
    assert n == res.counted + n_late + n_errors
    got = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["p"])
    assert not got["p"].isna().any()  # a window whose callable raised is on errors, not emitted


@settings(max_examples=30, deadline=None)
@given(frames=st.lists(batches(), min_size=1, max_size=5))
def test_mixed_bad_input_never_raises_through_hop(frames):
    s = streamz.Stream()
    res = sl.from_streamz(s, time="ts", unit="ms").watermark(200).window(sl.Hop(1000, 500)).agg(
        total=("v", "sum"), p=("v", picky))
    errors = res.errors.sink_to_list()
    for frame in frames:
        s.emit(frame)
    res.pipeline.flush()
    assert res.pipeline.state != "failed"
    for e in errors:
        assert e["reason"].notna().all()


ints_or_floats = st.one_of(
    st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=5),
    st.lists(st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 2)), min_size=1, max_size=5),
)


@settings(max_examples=80, deadline=None)
@given(parts=st.lists(ints_or_floats, min_size=1, max_size=5), spec=st.sampled_from([sl.Tumble(3), sl.Hop(4, 2)]))
def test_widening_batches_equal_pandas_over_the_whole_column(parts, spec):
    """Oracle (items 2 and 9): each window's sum/min/max/first/last equal pandas' over the rows of
    that window, with the column typed as pandas types all batches together."""
    s = streamz.Stream()
    res = sl.from_streamz(s, time="ts", unit="ms").window(spec).agg(
        total=("v", "sum"), lo=("v", "min"), hi=("v", "max"), f=("v", "first"), la=("v", "last"))
    out = res.sink_to_list()
    frames, t = [], 0
    for v in parts:
        frames.append(pd.DataFrame({"ts": np.arange(t, t + len(v)), "v": v}))
        t += len(v)
    for f in frames:
        s.emit(f)
    res.pipeline.flush()
    got = pd.concat(out, ignore_index=True)
    whole = pd.concat(frames, ignore_index=True)
    if whole["v"].dtype.kind == "i":
        assert all(got[c].dtype == "int64" for c in ("total", "lo", "hi", "f", "la"))
    for row in got.itertuples(index=False):
        rows = whole[(whole.ts >= row.window_start) & (whole.ts < row.window_end)]["v"]
        want = [rows.sum(), rows.min(), rows.max(), rows.iloc[0], rows.iloc[-1]]
        have = [row.total, row.lo, row.hi, row.f, row.la]
        if rows.dtype.kind == "i":
            assert [int(x) for x in have] == [int(x) for x in want]
        else:
            # float sums of huge ints: ours adds the exact ints before widening, pandas the rounded floats
            assert have == pytest.approx(want, rel=1e-12, abs=1e-6 + 1e-12 * float(rows.abs().sum()))
