"""Window join: exact cases and properties against the row-by-row model (tests/join_model.py)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streamlab as sl
from tests.join_model import window_model
from tests.model import windows_containing

HOWS = ["inner", "left", "right", "full"]
SPECS = {"tumble": (sl.Tumble(10), dict(kind="tumble", size=10, slide=10)),
         "hop": (sl.Hop(10, 5), dict(kind="hop", size=10, slide=5)),
         "cumulate": (sl.Cumulate(12, 4), dict(kind="cumulate", size=12, slide=4))}


def build(left, right, spec, how, delays=(0, 0), batch=1000):
    lf = pd.DataFrame(left, columns=["lid", "ts", "k"])
    rf = pd.DataFrame(right, columns=["rid", "ts", "k"])
    a = sl.from_frame(lf, time="ts", unit="ms", batch_size=batch).watermark(delays[0])
    b = sl.from_frame(rf, time="ts", unit="ms", batch_size=batch).watermark(delays[1])
    return a.window(spec).join(b.window(spec), on="k", how=how)


def val(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else int(v)


def rows_of(out):
    return sorted(((val(a), val(b), int(s), int(e)) for a, b, s, e in
                   zip(out["lid"], out["rid"], out["window_start"], out["window_end"])), key=repr)


def first_side(j) -> int:
    return 0 if j.pipeline.sources[0] is j.upstreams[0].upstreams[0] else 1


def test_tumble_inner_join_on_key_and_window():
    j = build([(1, 1, "a"), (2, 12, "a")], [(10, 9, "a"), (11, 15, "b"), (12, 19, "a")], sl.Tumble(10), "inner")
    out = j.collect()
    assert rows_of(out) == [(1, 10, 0, 10), (2, 12, 10, 20)]
    assert list(out.columns) == ["lid", "ts_x", "k", "rid", "ts_y", "window_start", "window_end"]


def test_a_row_whose_window_fired_goes_to_late_even_in_an_outer_join():
    j = build([(1, 50, "a"), (2, 3, "a")], [(10, 55, "a"), (11, 60, "a")], sl.Tumble(10), "full", batch=1)
    out = j.collect()
    late = j.late.collect()
    assert late["lid"].tolist() == [2] and late["missed_windows"].tolist() == [1]
    assert 2 not in [v for v in out["lid"].tolist() if v == v]
    state = j.snapshot_node()["state"]
    assert state["left"]["rows_in"] == state["left"]["counted"] + state["left"]["late"] + state["left"]["errors"]


@st.composite
def case(draw):
    row = st.tuples(st.integers(0, 80), st.sampled_from(["a", "b", None]))
    left = [(i, t, k) for i, (t, k) in enumerate(draw(st.lists(row, max_size=20)))]
    right = [(100 + i, t, k) for i, (t, k) in enumerate(draw(st.lists(row, max_size=20)))]
    return left, right, (draw(st.integers(0, 15)), draw(st.integers(0, 15)))


@pytest.mark.parametrize("batch", [1, 1000])
@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("kind", list(SPECS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c=case())
def test_window_join_equals_the_row_by_row_model(c, kind, how, batch):
    left, right, delays = c
    spec, params = SPECS[kind]
    j = build(left, right, spec, how, delays, batch)
    out = j.collect()
    late = j.late.collect()
    want, want_late = window_model(left, right, lambda t: windows_containing(t, **params), how, delays, batch,
                                   first_side(j))
    assert rows_of(out) == want
    got_late = {(0, int(i)): int(m) for i, m in zip(late.get("lid", []), late["missed_windows"]) if i == i}
    got_late.update({(1, int(i)): int(m) for i, m in zip(late.get("rid", []), late["missed_windows"]) if i == i})
    assert got_late == want_late
    state = j.snapshot_node()["state"]
    for side, rows in (("left", left), ("right", right)):
        s = state[side]
        assert s["rows_in"] == len(rows) == s["counted"] + s["late"] + s["errors"]


def test_window_join_of_two_window_aggregations():
    lf = pd.DataFrame({"ts": [1, 2, 12, 25], "k": ["a", "a", "b", "a"], "v": [1.0, 2.0, 3.0, 4.0]})
    rf = pd.DataFrame({"ts": [3, 14, 15], "k": ["a", "b", "c"], "w": [10.0, 20.0, 30.0]})
    a = sl.from_frame(lf, time="ts", unit="ms", batch_size=1).watermark(0).window(sl.Tumble(10), by="k").agg(
        n=("v", "count"))
    b = sl.from_frame(rf, time="ts", unit="ms", batch_size=1).watermark(0).window(sl.Tumble(10), by="k").agg(
        total=("w", "sum"))
    j = a.join(b, on="k", how="full")
    out = j.collect()
    want = pd.merge(a.collect(), b.collect(), on=["k", "window_start", "window_end"], how="outer")
    key = ["window_start", "k"]
    pd.testing.assert_frame_equal(out.sort_values(key).reset_index(drop=True),
                                  want.sort_values(key).reset_index(drop=True), check_dtype=False)
    snap = j.snapshot_node()
    assert json.loads(json.dumps(snap)) == snap
