"""Window semantics on exact numbers (DESIGN.md §2), one behaviour per test."""

from __future__ import annotations

import pandas as pd
import pytest

import streamlab as sl
from tests.conftest import run_window


def rows_of(out, cols=("k", "window_start", "window_end", "n", "s")):
    return [tuple(r) for r in out[list(cols)].itertuples(index=False)]


def test_tumble_boundary_tie_belongs_to_next_window():
    out, _ = run_window([(999, "a", 1.0), (1000, "a", 2.0)], sl.Tumble(1000))
    assert rows_of(out) == [("a", 0, 1000, 1, 1.0), ("a", 1000, 2000, 1, 2.0)]


def test_tumble_negative_times_use_floor_mod():
    out, _ = run_window([(-1, "a", 1.0), (-1000, "a", 2.0), (-1001, "a", 4.0)], sl.Tumble(1000), delay=5000)
    assert sorted(rows_of(out)) == [("a", -2000, -1000, 1, 4.0), ("a", -1000, 0, 2, 3.0)]


def test_tumble_pre_1970_datetimes():
    df = pd.DataFrame({"ts": pd.to_datetime(["1969-12-31 23:59:59.999", "1969-12-31 23:59:59.000"]), "v": [1.0, 2.0]})
    out = sl.from_frame(df, time="ts").watermark("10s").window(sl.Tumble("1s")).agg(s=("v", "sum")).collect()
    assert out["window_start"].tolist() == [pd.Timestamp("1969-12-31 23:59:59", tz="UTC")]
    assert out["window_end"].tolist() == [pd.Timestamp("1970-01-01", tz="UTC")]
    assert out["s"].tolist() == [3.0]


def test_tumble_offset_shifts_boundaries():
    out, _ = run_window([(250, "a", 1.0), (1249, "a", 2.0), (1250, "a", 4.0)], sl.Tumble(1000, offset=250))
    assert rows_of(out) == [("a", 250, 1250, 2, 3.0), ("a", 1250, 2250, 1, 4.0)]


def test_tumble_offset_with_negative_time():
    out, _ = run_window([(-800, "a", 1.0)], sl.Tumble(1000, offset=250))
    assert rows_of(out) == [("a", -750 - 1000, -750, 1, 1.0)]


def test_window_fires_when_watermark_reaches_end_minus_one_ms():
    # W after ts=1999 with delay 1000 is 999 = end - 1 -> window [0, 1000) has fired; ts=500 is late.
    out, late = run_window([(10, "a", 1.0), (1999, "a", 2.0), (500, "a", 4.0)], sl.Tumble(1000), delay=1000)
    assert rows_of(out) == [("a", 0, 1000, 1, 1.0), ("a", 1000, 2000, 1, 2.0)]
    assert late[["ts", "watermark", "missed_windows"]].values.tolist() == [[500, 999, 1]]


def test_one_ms_before_firing_is_still_on_time():
    out, late = run_window([(10, "a", 1.0), (1998, "a", 2.0), (500, "a", 4.0)], sl.Tumble(1000), delay=1000)
    assert rows_of(out)[0] == ("a", 0, 1000, 2, 5.0)
    assert late.empty


def test_hop_record_late_for_old_windows_only():
    # Hop(1000, 250): ts=900 is in windows starting 0, 250, 500, 750 (ends 1000..1750).
    # W = 2000 - 800 = 1200: windows ending 1000 (end-1=999 <= 1200) are late; 1250, 1500, 1750 are open.
    out, late = run_window([(2000, "b", 0.0), (900, "a", 1.0)], sl.Hop(1000, 250), delay=800)
    got = [r for r in rows_of(out) if r[0] == "a"]
    assert got == [("a", 250, 1250, 1, 1.0), ("a", 500, 1500, 1, 1.0), ("a", 750, 1750, 1, 1.0)]
    assert late[["ts", "watermark", "missed_windows"]].values.tolist() == [[900, 1200, 1]]


def test_hop_size_not_multiple_of_slide_fails_clearly():
    with pytest.raises(ValueError, match=r"Hop size \(10s\) must be a multiple of slide \(3s\)"):
        sl.Hop("10s", "3s")


def test_cumulate_windows_grow_by_step():
    out, _ = run_window([(0, "a", 1.0), (1500, "a", 2.0), (2999, "a", 4.0), (3000, "a", 8.0)], sl.Cumulate(3000, 1000))
    assert rows_of(out) == [
        ("a", 0, 1000, 1, 1.0), ("a", 0, 2000, 2, 3.0), ("a", 0, 3000, 3, 7.0), ("a", 3000, 4000, 1, 8.0),
        ("a", 3000, 5000, 1, 8.0), ("a", 3000, 6000, 1, 8.0),
    ]


def test_cumulate_late_for_early_steps_only():
    # W = 1700: ts=100 misses [0,1000) but still counts in [0,2000) and [0,3000).
    out, late = run_window([(1700, "b", 0.0), (100, "a", 1.0)], sl.Cumulate(3000, 1000))
    assert [r for r in rows_of(out) if r[0] == "a"] == [("a", 0, 2000, 1, 1.0), ("a", 0, 3000, 1, 1.0)]
    assert late["missed_windows"].tolist() == [1]


def test_session_records_exactly_gap_apart_merge():
    out, _ = run_window([(0, "a", 1.0), (100, "a", 2.0), (201, "a", 4.0)], sl.Session(100), delay=1000)
    assert rows_of(out) == [("a", 0, 200, 2, 3.0), ("a", 201, 301, 1, 4.0)]


def test_session_merge_bridges_two_sessions():
    out, _ = run_window([(0, "a", 1.0), (300, "a", 2.0), (150, "a", 4.0)], sl.Session(150), delay=1000)
    assert rows_of(out) == [("a", 0, 450, 3, 7.0)]


def test_session_is_per_key():
    out, _ = run_window([(0, "a", 1.0), (50, "b", 2.0), (100, "a", 4.0)], sl.Session(60), delay=1000)
    assert sorted(rows_of(out)) == [("a", 0, 60, 1, 1.0), ("a", 100, 160, 1, 4.0), ("b", 50, 110, 1, 2.0)]


def test_session_record_dropped_when_its_session_fired():
    # gap 100, delay 0: session [0,100) fires when W >= 99; then ts=50 ([50,150) ends 149 <= W=200) is late.
    out, late = run_window([(0, "a", 1.0), (200, "b", 1.0), (201, "b", 1.0), (50, "a", 4.0)], sl.Session(100))
    assert ("a", 0, 100, 1, 1.0) in rows_of(out)
    assert late[["ts", "missed_windows"]].values.tolist() == [[50, 1]]


def test_session_late_record_joins_open_session():
    # ts=60's own window [60, 110) is behind W=120, but it merges into the open session [100, 150).
    out, late = run_window([(100, "a", 1.0), (120, "b", 0.0), (60, "a", 2.0)], sl.Session(50))
    assert ("a", 60, 150, 2, 3.0) in rows_of(out)
    assert late.empty


def test_no_group_key_gives_global_windows():
    out, _ = run_window([(0, "a", 1.0), (10, "b", 2.0)], sl.Tumble(100), by=None)
    assert list(out.columns) == ["window_start", "window_end", "n", "s"]
    assert out[["n", "s"]].values.tolist() == [[2, 3.0]]


def test_several_group_keys():
    df = pd.DataFrame({"ts": [0, 1, 2], "a": ["x", "x", "y"], "b": [1, 2, 1], "v": [1.0, 2.0, 4.0]})
    out = sl.from_frame(df, time="ts", unit="ms").window(sl.Tumble(10), by=["a", "b"]).agg(s=("v", "sum")).collect()
    assert list(out.columns) == ["a", "b", "window_start", "window_end", "s"]
    assert out[["a", "b", "s"]].values.tolist() == [["x", 1, 1.0], ["x", 2, 2.0], ["y", 1, 4.0]]


def test_all_aggregations_match_pandas():
    import numpy as np

    rng = np.random.default_rng(1)
    df = pd.DataFrame({"ts": np.arange(200), "k": rng.choice(["a", "b"], 200), "v": rng.normal(size=200).round(3)})
    df.loc[5, "v"] = np.nan
    aggs = {f: ("v", f) for f in ["count", "size", "sum", "mean", "min", "max", "first", "last", "std", "var", "median"]}
    aggs["p90"] = ("v", lambda s: s.quantile(0.9))
    out = sl.from_frame(df, time="ts", unit="ms", batch_size=17).window(sl.Tumble(50), by="k").agg(**aggs).collect()
    df["window_start"] = df.ts // 50 * 50
    want = df.groupby(["k", "window_start"]).agg(**aggs).reset_index()
    merged = out.merge(want, on=["k", "window_start"], suffixes=("", "_pd"))
    assert len(merged) == len(want) == len(out)
    for name in aggs:
        assert np.allclose(merged[name].astype(float), merged[name + "_pd"].astype(float), equal_nan=True), name


def test_numeric_seconds_unit_round_trips_window_bounds():
    df = pd.DataFrame({"ts": [0.25, 1.75], "v": [1, 2]})
    out = sl.from_frame(df, time="ts", unit="s").window(sl.Tumble(0.5)).agg(s=("v", "sum")).collect()
    assert out[["window_start", "window_end", "s"]].values.tolist() == [[0.0, 0.5, 1], [1.5, 2.0, 2]]


def test_datetime_output_is_tz_aware_utc():
    df = pd.DataFrame({"ts": pd.to_datetime(["2024-01-01 00:00:00.250"]).tz_localize("Asia/Kathmandu"), "v": [1.0]})
    out = sl.from_frame(df, time="ts").window(sl.Tumble("1s")).agg(s=("v", "sum")).collect()
    assert str(out["window_start"].dt.tz) == "UTC"
    assert out["window_start"][0] == pd.Timestamp("2023-12-31 18:15:00", tz="UTC")
