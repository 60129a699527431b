"""OVER aggregations (RANGE and ROWS) against a record-by-record model of Flink's rules (DESIGN §2b)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streamlab as sl

AGGS = dict(n=("v", "size"), c=("v", "count"), s=("v", "sum"), m=("v", "mean"), lo=("v", "min"), hi=("v", "max"))


def events(n=300, seed=0, jitter=40):
    rng = np.random.default_rng(seed)
    v = rng.integers(0, 12, n) * 0.25
    v[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"ts": np.arange(n) * 5 + rng.integers(-jitter, jitter, n), "k": rng.choice(["a", "b"], n),
                         "v": v, "id": np.arange(n)})


def model(df, delay, range_ms=None, rows=None):
    """Rows wait for W >= ts; a row is late when ts <= the key's last emitted time."""
    wm, last, accepted, pending, out, late = -math.inf, {}, {}, [], [], []
    for seq, r in enumerate(df.itertuples(index=False)):
        if r.ts <= last.get(r.k, -math.inf):
            late.append(r.id)
        else:
            accepted.setdefault(r.k, []).append((r.ts, seq, r))
            pending.append((r.ts, seq, r))
        wm = max(wm, r.ts - delay)
        fire(pending, accepted, last, out, wm, range_ms, rows)
    fire(pending, accepted, last, out, math.inf, range_ms, rows)
    return pd.DataFrame(out), late


def fire(pending, accepted, last, out, wm, range_ms, rows):
    for ts, seq, r in sorted(p for p in pending if p[0] <= wm):
        pending.remove((ts, seq, r))
        mine = sorted(accepted[r.k], key=lambda x: (x[0], x[1]))
        if range_ms is not None:
            win = [x[2].v for x in mine if ts - range_ms <= x[0] <= ts]
        else:
            i = [x[1] for x in mine].index(seq)
            win = [x[2].v for x in mine[max(0, i - rows):i + 1]]
        vals = [v for v in win if not math.isnan(v)]
        out.append({"id": r.id, "n": len(win), "c": len(vals), "s": sum(vals) if vals else np.nan,
                    "m": sum(vals) / len(vals) if vals else np.nan, "lo": min(vals) if vals else np.nan,
                    "hi": max(vals) if vals else np.nan})
        last[r.k] = max(last.get(r.k, -math.inf), ts)


@pytest.mark.parametrize("batch", [1, 11, 10_000])
@pytest.mark.parametrize("frame", ["range", "rows"])
@pytest.mark.parametrize("delay", [0, 25])
def test_over_equals_the_model(batch, frame, delay):
    df = events(seed=batch + delay)
    src = sl.from_frame(df, time="ts", unit="ms", batch_size=batch).watermark(delay)
    res = (src.rolling(pd.Timedelta("60ms"), by="k") if frame == "range" else src.rolling(4, by="k")).agg(**AGGS)
    got = res.collect()
    want, late = model(df, delay, range_ms=60 if frame == "range" else None, rows=3 if frame == "rows" else None)
    cols = ["id", *AGGS]
    pd.testing.assert_frame_equal(got[cols].sort_values("id").reset_index(drop=True),
                                  want[cols].sort_values("id").reset_index(drop=True), check_dtype=False)
    assert sorted(res.late.collect()["id"]) == sorted(late)
    assert len(got) + len(late) == len(df)  # conservation
    # emitted per key in time order
    for _, g in got.groupby("k"):
        assert g["ts"].is_monotonic_increasing


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.sampled_from("xy"), st.integers(0, 4)), min_size=1, max_size=30),
       st.integers(1, 7), st.integers(0, 10), st.integers(0, 15))
def test_over_property_against_the_model(rows, batch, delay, range_ms):
    df = pd.DataFrame({"ts": [r[0] for r in rows], "k": [r[1] for r in rows], "v": [float(r[2]) for r in rows],
                       "id": range(len(rows))})
    got = sl.from_frame(df, time="ts", unit="ms", batch_size=batch).watermark(delay).rolling(
        f"{range_ms}ms", by="k").agg(**AGGS).collect()
    want, _ = model(df, delay, range_ms=range_ms)
    cols = ["id", *AGGS]
    pd.testing.assert_frame_equal(got[cols].sort_values("id").reset_index(drop=True),
                                  want[cols].sort_values("id").reset_index(drop=True), check_dtype=False)


def test_over_int_column_keeps_int_types_and_waits_for_the_watermark():
    df = pd.DataFrame({"ts": [0, 1000, 2000, 3000], "k": ["a"] * 4, "v": [1, 2, 3, 4]})
    def build():
        return sl.from_frame(df, time="ts", unit="ms", batch_size=1).watermark(1500).rolling(2, by="k").agg(
            s=("v", "sum"), hi=("v", "max"), m=("v", "mean"))

    res = build()
    frames: list = []
    res.sink(frames.append)
    res.pipeline.step()
    res.pipeline.step()
    assert not frames  # the watermark (-500 ms) has not passed 0 yet
    res.pipeline.step()  # W = 500 >= 0
    assert frames[0]["s"].tolist() == [1]
    out = build().collect()
    assert out["s"].tolist() == [1, 3, 5, 7] and out["s"].dtype.kind == "i" and out["hi"].dtype.kind == "i"
    assert out["m"].tolist() == [1.0, 1.5, 2.5, 3.5]


def test_over_bad_input():
    src = sl.from_frame(pd.DataFrame({"ts": [0], "k": ["a"], "v": [1.0]}), time="ts", unit="s")
    with pytest.raises(TypeError, match="duration"):
        src.rolling(1.5)
    with pytest.raises(ValueError, match="n >= 1"):
        src.rolling(0)
    with pytest.raises(ValueError, match="OVER window supports"):
        src.rolling(3).agg(x=("v", "median"))
    with pytest.raises(ValueError, match="column 'z' not found"):
        src.rolling(3, by="z")
