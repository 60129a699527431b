"""Temporal join (join_asof) and enrichment (merge): exact cases and model properties."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streamlab as sl
from tests.join_model import temporal_model


def build(probe, versions, how="inner", delays=(0, 0), batch=1000):
    p = sl.from_frame(pd.DataFrame(probe, columns=["pid", "ts", "k"]), time="ts", unit="ms",
                      batch_size=batch).watermark(delays[0])
    b = sl.from_frame(pd.DataFrame(versions, columns=["bid", "ts", "k"]), time="ts", unit="ms",
                      batch_size=batch).watermark(delays[1])
    return p.join_asof(b, on="k", how=how)


def val(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else int(v)


def pairs(out):
    return sorted(((val(a), val(b)) for a, b in zip(out["pid"], out["bid"])), key=repr)


def first_side(j) -> int:
    return 0 if j.pipeline.sources[0] is j.upstreams[0].upstreams[0] else 1


def test_each_probe_joins_the_version_valid_at_its_time():
    j = build([(1, 5, "a"), (2, 15, "a"), (3, 1, "b")], [(10, 0, "a"), (11, 10, "a"), (12, 3, "b")], how="left")
    assert pairs(j.collect()) == [(1, 10), (2, 11), (3, None)]


def test_keep_last_view_a_build_row_older_than_the_newest_is_never_a_version():
    # batch 1000: the build side arrives all at once; (12, ts 5) is older than (11, ts 10)
    j = build([(1, 7, "a"), (2, 12, "a")], [(10, 0, "a"), (11, 10, "a"), (12, 5, "a")], how="left")
    assert pairs(j.collect()) == [(1, 10), (2, 11)]
    state = j.snapshot_node()["state"]
    assert state["right"]["superseded"] == 1


def test_equal_times_the_later_arrival_wins():
    j = build([(1, 20, "a")], [(10, 10, "a"), (11, 10, "a")])
    assert pairs(j.collect()) == [(1, 11)]


@st.composite
def case(draw):
    row = st.tuples(st.integers(0, 60), st.sampled_from(["a", "b", None]))
    probe = [(i, t, k) for i, (t, k) in enumerate(draw(st.lists(row, max_size=20)))]
    versions = [(100 + i, t, k) for i, (t, k) in enumerate(draw(st.lists(row, max_size=20)))]
    return probe, versions, (draw(st.integers(0, 10)), draw(st.integers(0, 10)))


@pytest.mark.parametrize("batch", [1, 1000])
@pytest.mark.parametrize("how", ["inner", "left"])
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c=case())
def test_temporal_join_equals_the_row_by_row_model(c, how, batch):
    probe, versions, delays = c
    j = build(probe, versions, how, delays, batch)
    out = j.collect()
    assert pairs(out) == temporal_model(probe, versions, how, delays, batch, first_side(j))
    s = j.snapshot_node()["state"]
    p, b = s["left"], s["right"]
    assert p["rows_in"] == len(probe) == p["matched"] + p["emitted_unmatched"] + p["expired_unmatched"] + p["held"]
    assert b["rows_in"] == len(versions) == b["versions"] + b["superseded"] + b["null_keys"] + b["errors"]
    assert json.loads(json.dumps(s)) == s


# --- merge -----------------------------------------------------------------------------------
USERS = pd.DataFrame({"user": ["u1", "u2", "u2"], "country": ["NP", "DE", "FR"]})


@pytest.mark.parametrize("how", ["inner", "left"])
@pytest.mark.parametrize("batch", [1, 2, 100])
def test_merge_has_pandas_merge_semantics(how, batch):
    clicks = pd.DataFrame({"ts": [1, 2, 3, 4], "user": ["u1", "u2", "u9", None]})
    out = sl.from_frame(clicks, time="ts", unit="s", batch_size=batch).merge(USERS, on="user", how=how).collect()
    want = clicks.merge(USERS, on="user", how=how)
    pd.testing.assert_frame_equal(out.reset_index(drop=True), want.reset_index(drop=True))


def test_merge_keeps_event_time_so_windows_work_downstream():
    clicks = pd.DataFrame({"ts": [0, 1, 2, 12], "user": ["u1", "u2", "u1", "u2"]})
    res = (sl.from_frame(clicks, time="ts", unit="s", batch_size=1).watermark(0).merge(USERS, on="user")
           .window(sl.Tumble(10), by="country").agg(n=("user", "count")))
    out = res.collect().sort_values(["window_start", "country"])
    assert out[["country", "n"]].values.tolist() == [["DE", 1], ["FR", 1], ["NP", 2], ["DE", 1], ["FR", 1]]


def test_merge_with_a_dict_of_columns_and_left_on_right_on():
    clicks = pd.DataFrame({"ts": [1], "uid": ["u1"]})
    out = sl.from_frame(clicks, time="ts", unit="s").merge({"user": ["u1"], "age": [30]}, left_on="uid",
                                                           right_on="user").collect()
    assert out.to_dict("records") == [{"ts": 1, "uid": "u1", "user": "u1", "age": 30}]


def test_merge_refuses_right_and_outer():
    src = sl.from_frame(pd.DataFrame({"ts": [1], "user": ["u1"]}), time="ts", unit="s")
    with pytest.raises(ValueError, match="'inner' or 'left'"):
        src.merge(USERS, on="user", how="right")
