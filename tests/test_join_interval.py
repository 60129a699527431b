"""Interval join: exact cases and properties against the row-by-row model (tests/join_model.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streamlab as sl
from tests.join_model import interval_model

HOWS = ["inner", "left", "right", "full"]


def streams(left, right, delays=(0, 0), batch=1000):
    lf = pd.DataFrame(left, columns=["lid", "ts", "k"])
    rf = pd.DataFrame(right, columns=["rid", "ts", "k"])
    a = sl.from_frame(lf, time="ts", unit="ms", batch_size=batch).watermark(delays[0])
    b = sl.from_frame(rf, time="ts", unit="ms", batch_size=batch).watermark(delays[1])
    return a, b


def pairs(out):
    def val(v):
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else int(v)

    return sorted(((val(a), val(b)) for a, b in zip(out["lid"].tolist(), out["rid"].tolist())), key=repr)


def first_side(j) -> int:
    """Which input's source the runtime steps first (the model follows the same arrival order)."""
    src = j.pipeline.sources[0]
    return 0 if src is j.upstreams[0].upstreams[0] else 1


def run(left, right, lower, upper, how, delays=(0, 0), batch=1000):
    a, b = streams(left, right, delays, batch)
    j = a.join(b, on="k", between=(lower, upper), how=how)
    return j, j.collect()


# --- exact cases -----------------------------------------------------------------------------
def test_inner_matches_within_the_bound_inclusive():
    left = [(1, 100, "a"), (2, 100, "b")]
    right = [(10, 98, "a"), (11, 105, "a"), (12, 106, "a"), (13, 101, "b")]
    _, out = run(left, right, -2, 5, "inner")
    assert pairs(out) == [(1, 10), (1, 11), (2, 13)]
    assert list(out.columns) == ["lid", "ts_x", "k", "rid", "ts_y"]


def test_strict_bounds_move_by_one_ms():
    a, b = streams([(1, 100, "a")], [(10, 98, "a"), (11, 105, "a"), (12, 104, "a")])
    out = a.join(b, on="k", between=(-2, 5), inclusive="neither").collect()
    assert pairs(out) == [(1, 12)]


def test_null_keys_never_match_and_are_padded_in_outer_joins():
    _, out = run([(1, 100, None)], [(10, 100, None)], -5, 5, "full")
    assert pairs(out) == [(1, None), (None, 10)]


@pytest.mark.parametrize("how,want", [("inner", [(1, 10)]), ("left", [(1, 10), (2, None)]),
                                      ("right", [(None, 11), (1, 10)]),
                                      ("full", [(1, 10), (2, None), (None, 11)])])
def test_outer_rows_are_padded_when_unmatched(how, want):
    _, out = run([(1, 100, "a"), (2, 300, "b")], [(10, 101, "a"), (11, 500, "c")], 0, 5, how)
    assert pairs(out) == sorted(want, key=repr)


def test_state_is_freed_by_the_watermark():
    # left rows at 100.., bound [0, 10]: a left row is held until the watermark passes ts + 10
    left = [(i, 100 + i, "a") for i in range(5)] + [(99, 1000, "a")]
    right = [(50, 100, "a"), (51, 1000, "a")]
    a, b = streams(left, right, batch=1)
    j = a.join(b, on="k", between=(0, 10), how="left")
    pipe = j.pipeline
    for _ in range(2):
        pipe.step()
    left_state = j.snapshot_node()["state"]["left"]
    assert left_state["held"] == 2 and left_state["keys_held"] == {"a": 2}
    while pipe.state != "finished":
        pipe.step()
    snap = j.snapshot_node()["state"]
    assert snap["left"]["held"] == 0 and snap["right"]["held"] == 0


def test_a_row_after_its_last_chance_joins_what_is_held_and_is_padded_at_once():
    # right watermark reaches 1000 early; a left row at 10 (last chance 15) arrives late
    left = [(1, 995, "a"), (2, 10, "a"), (3, 10, "b")]
    right = [(10, 1000, "a"), (11, 1001, "a")]
    a, b = streams(left, right, batch=1)
    j = a.join(b, on="k", between=(0, 5), how="left")
    frames = []
    j.sink(frames.append)
    pipe = j.pipeline
    pipe.step()  # left 995, right 1000
    pipe.step()  # left 10 (late: joint watermark 995 >= 15), right 1001
    got = pairs(pd.concat(frames))
    assert (2, None) in got  # padded at once, before the end of input
    pipe.step()
    out = pairs(pd.concat(frames))
    assert out == sorted([(1, 10), (2, None), (3, None)], key=repr)
    state = j.snapshot_node()["state"]
    assert state["left"]["late_arrivals"] == 2


# --- properties ------------------------------------------------------------------------------
@st.composite
def case(draw):
    row = st.tuples(st.integers(0, 150), st.sampled_from(["a", "b", None]))
    left = [(i, t, k) for i, (t, k) in enumerate(draw(st.lists(row, max_size=25)))]
    right = [(100 + i, t, k) for i, (t, k) in enumerate(draw(st.lists(row, max_size=25)))]
    lower = draw(st.integers(-20, 10))
    upper = lower + draw(st.integers(0, 25))
    delays = (draw(st.integers(0, 30)), draw(st.integers(0, 30)))
    return left, right, lower, upper, delays


@pytest.mark.parametrize("batch", [1, 3, 1000])
@pytest.mark.parametrize("how", HOWS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c=case())
def test_interval_join_equals_the_row_by_row_model(c, how, batch):
    left, right, lower, upper, delays = c
    j, out = run(left, right, lower, upper, how, delays, batch)
    assert pairs(out) == interval_model(left, right, lower, upper, how, delays, batch, first_side(j))
    # nothing lost silently: per input, rows in = matched + unmatched (emitted or expired) + held + errors
    state = j.snapshot_node()["state"]
    for side, rows, col in (("left", left, "lid"), ("right", right, "rid")):
        s = state[side]
        assert s["rows_in"] == len(rows)
        assert s["rows_in"] == s["matched"] + s["emitted_unmatched"] + s["expired_unmatched"] + s["held"] + s["errors"]
        assert s["held"] == 0
        other = "rid" if col == "lid" else "lid"
        assert s["matched"] == out.loc[out[other].notna(), col].dropna().nunique()
        assert s["emitted_unmatched"] == int(out[other].isna().sum())


def test_snapshot_is_json_and_shows_both_inputs():
    a, b = streams([(1, 100, "a")], [(10, 100, "a")])
    j = a.join(b, on="k", between=(0, 5))
    j.pipeline.step()
    snap = j.pipeline.snapshot()
    op = [o for o in snap["operators"] if o["kind"] == "join"][0]
    assert json.loads(json.dumps(op)) == op
    assert [i["watermark"] for i in op["inputs"]] == [100, 100]
    assert op["state"]["left"]["watermark"] == 100


def test_held_rows_of_one_key_for_the_inspector():
    a, b = streams([(1, 100, "a"), (2, 101, "b")], [])
    j = a.join(b, on="k", between=(0, 5))
    j.pipeline.step()
    assert j.held_rows("left", "b")["lid"].tolist() == [2]


def test_save_and_load_state_resume_the_same_rows():
    left = [(i, 100 + 3 * i, "ab"[i % 2]) for i in range(10)]
    right = [(100 + i, 101 + 3 * i, "ab"[i % 2]) for i in range(10)]
    a, b = streams(left, right, batch=3)
    j = a.join(b, on="k", between=(-4, 4), how="full")
    pipe = j.pipeline
    pipe.step()
    state = j.save_state()
    assert json.loads(json.dumps(state)) == state
    a2, b2 = streams(left, right, batch=3)
    j2 = a2.join(b2, on="k", between=(-4, 4), how="full")
    j2.load_state(state)
    assert j2.save_state() == state
    assert np.array_equal(j2.held[0].ts, j.held[0].ts)
