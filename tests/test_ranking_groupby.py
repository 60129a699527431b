"""Continuous GROUP BY and changelogs: at every batch boundary the applied changelog equals a
pandas groupby over the rows seen so far (an oracle written independently of the operator)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streamlab as sl
from streamlab.ranking.changelog import apply_changelog


def clicks(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    v = rng.integers(0, 8, n) * 0.25
    v[rng.random(n) < 0.15] = np.nan
    page = rng.choice(["a", "b", "c", None], n, p=[0.4, 0.3, 0.2, 0.1])
    return pd.DataFrame({"ts": np.sort(rng.integers(0, 10_000, n)), "page": page, "v": v})


def oracle(df: pd.DataFrame) -> pd.DataFrame:
    g = df.groupby("page", dropna=False, sort=False)
    out = pd.DataFrame({"n": g.size(), "c": g["v"].count(), "s": g["v"].sum(min_count=1), "m": g["v"].mean(),
                        "lo": g["v"].min(), "hi": g["v"].max()}).reset_index()
    return out.sort_values("page", na_position="last").reset_index(drop=True)


def normal(df: pd.DataFrame) -> pd.DataFrame:
    """Sorted by key, with every NULL key spelled None (None and NaN are one group: the NULL key)."""
    out = df.sort_values("page", na_position="last").reset_index(drop=True)
    out["page"] = out["page"].astype(object).where(out["page"].notna(), None)
    return out


AGGS = dict(n=("v", "size"), c=("v", "count"), s=("v", "sum"), m=("v", "mean"), lo=("v", "min"), hi=("v", "max"))


def run_prefixes(df: pd.DataFrame, batch: int):
    res = sl.from_frame(df, time="ts", unit="ms", batch_size=batch).groupby("page").agg(**AGGS)
    frames: list[pd.DataFrame] = []
    res.sink(frames.append)
    pipe = res.pipeline
    seen = 0
    while pipe.state != "finished":
        seen += pipe.step()
        log = pd.concat(frames, ignore_index=True) if frames else res.empty_output()
        yield seen, log


@pytest.mark.parametrize("batch", [1, 7, 10_000])
def test_groupby_changelog_applied_at_every_batch_boundary_equals_the_prefix_aggregate(batch):
    df = clicks(120, seed=batch)
    checked = 0
    for seen, log in run_prefixes(df, batch):
        if not seen:
            continue
        got = normal(apply_changelog(log))
        pd.testing.assert_frame_equal(got, normal(oracle(df.iloc[:seen])), check_dtype=False)
        checked += 1
    assert seen == len(df) and checked >= -(-len(df) // batch)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["x", "y", None]), st.one_of(st.none(), st.integers(-4, 4))),
                min_size=1, max_size=40), st.integers(1, 9))
def test_groupby_property_final_state_and_valid_changelog(rows, batch):
    df = pd.DataFrame({"ts": range(len(rows)), "page": [r[0] for r in rows],
                       "v": [np.nan if r[1] is None else r[1] * 0.5 for r in rows]})
    res = sl.from_frame(df, time="ts", unit="ms", batch_size=batch).groupby("page").agg(**AGGS)
    log = res.collect()
    assert set(log["op"]) <= {"+I", "-U", "+U"}
    assert (log["op"] == "+I").sum() == df["page"].nunique(dropna=False)
    pd.testing.assert_frame_equal(normal(apply_changelog(log)), normal(oracle(df)), check_dtype=False)


def test_groupby_materialize_and_column_order():
    df = pd.DataFrame({"ts": [0, 1, 2, 3], "page": ["a", "b", "a", "a"], "user": ["u", "v", "w", "u"]})
    res = sl.from_frame(df, time="ts", unit="s", batch_size=1).groupby("page").agg(n=("user", "size"))
    log = res.collect()
    assert list(log.columns) == ["op", "page", "n"]
    assert log["op"].tolist() == ["+I", "+I", "-U", "+U", "-U", "+U"]
    assert log["n"].tolist() == [1, 1, 1, 2, 2, 3]
    table = res.materialize()
    assert dict(zip(table["page"], table["n"])) == {"a": 3, "b": 1}


def test_groupby_int_sum_stays_int_and_all_null_sum_is_null():
    df = pd.DataFrame({"ts": [0, 1, 2], "k": ["a", "a", "b"], "v": [1, 2, 3], "w": [np.nan, np.nan, 1.0]})
    res = sl.from_frame(df, time="ts", unit="s").groupby("k").agg(s=("v", "sum"), sw=("w", "sum"), c=("w", "count"))
    t = res.materialize().set_index("k")
    assert t["s"].dtype.kind == "i" and t.loc["a", "s"] == 3
    assert np.isnan(t.loc["a", "sw"]) and t.loc["a", "c"] == 0


def test_groupby_bad_input_is_clear():
    src = sl.from_frame(pd.DataFrame({"ts": [0], "k": ["a"], "v": [1.0]}), time="ts", unit="s")
    with pytest.raises(ValueError, match="column 'nope' not found"):
        src.groupby("nope")
    with pytest.raises(ValueError, match="continuous groupby supports"):
        src.groupby("k").agg(x=("v", "median"))


def test_apply_changelog_refuses_an_invalid_changelog():
    with pytest.raises(ValueError, match="retracts"):
        apply_changelog(pd.DataFrame({"op": ["+I", "-D", "-D"], "k": [1, 1, 1]}))
    with pytest.raises(ValueError, match="unknown row kind"):
        apply_changelog(pd.DataFrame({"op": ["+X"], "k": [1]}))
