"""Continuous Top-N and deduplication with ``rownum`` (``nlargest(..., rownum=True)``, or a
``%%streamlab`` query selecting ``rownum`` / ``*``), against a plain pandas model of the rows seen.

Flink's Top-N with ``rownum`` updates every row whose rank changes (``-U``/``+U`` per rank, ``+I``
for a rank that was empty); a deduplication's ``rownum`` is always 1 (Flink adds it as a constant).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streamlab as sl
import streamlab.sql  # noqa: F401 - sl.sql
from streamlab.ranking.changelog import apply_changelog


def frame(values: list[int], keys: list[str]) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame({"ts": pd.to_datetime(np.arange(n) * 10, unit="ms"), "k": keys[:n], "id": np.arange(n),
                         "v": values})


def model(df: pd.DataFrame, n: int, descending: bool) -> pd.DataFrame:
    """Top ``n`` per key of every row, ties by arrival, with the 1-based rank."""
    ordered = df.assign(o=-df["v"] if descending else df["v"]).sort_values(["k", "o", "id"], kind="stable")
    ordered["rownum"] = ordered.groupby("k").cumcount() + 1
    return ordered[ordered["rownum"] <= n].drop(columns="o")


def table(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return df[cols].sort_values(cols).reset_index(drop=True)


@settings(max_examples=25, deadline=None)
@given(values=st.lists(st.integers(0, 5), min_size=1, max_size=16),
       keys=st.lists(st.sampled_from(["a", "b"]), min_size=16, max_size=16),
       n=st.integers(1, 4), batch=st.sampled_from([1, 2, 7, 100]), descending=st.booleans())
def test_topn_with_rownum_equals_the_model_at_every_batch_boundary(values, keys, n, batch, descending):
    df = frame(values, keys)
    src = sl.from_frame(df, time="ts", batch_size=batch)
    res = src.nlargest(n, "v", by="k", rownum=True) if descending else src.nsmallest(n, "v", by="k", rownum=True)
    log = res.collect()
    assert list(log.columns) == ["op", "ts", "k", "id", "v", "rownum"]
    cols = ["k", "id", "v", "rownum"]
    for end in range(batch, len(df), batch):  # the state after each batch: a run over that prefix
        seen = df.iloc[:end]
        upto = src_log_upto(seen, n, descending, batch)
        pd.testing.assert_frame_equal(table(apply_changelog(upto), cols), table(model(seen, n, descending), cols),
                                      check_dtype=False)
    pd.testing.assert_frame_equal(table(apply_changelog(log), cols), table(model(df, n, descending), cols),
                                  check_dtype=False)
    ranks_changed = log[log["op"] == "-U"]
    assert (log["op"] != "-D").all() and len(ranks_changed) == (log["op"] == "+U").sum()


def src_log_upto(seen: pd.DataFrame, n: int, descending: bool, batch: int) -> pd.DataFrame:
    src = sl.from_frame(seen, time="ts", batch_size=batch)
    res = src.nlargest(n, "v", by="k", rownum=True) if descending else src.nsmallest(n, "v", by="k", rownum=True)
    return res.collect()


@pytest.mark.parametrize("batch", [1, 4, 100])
def test_rownum_updates_look_like_flinks(batch):
    df = frame([5, 9, 7, 1, 10], ["a"] * 5)
    log = sl.from_frame(df, time="ts", batch_size=batch).nlargest(2, "v", by="k", rownum=True).collect()
    if batch == 1:  # Flink 2.3 gives this sequence for the same input (see the Flink export test)
        assert log[["op", "id", "rownum"]].values.tolist() == [
            ["+I", 0, 1], ["-U", 0, 1], ["+U", 1, 1], ["+I", 0, 2], ["-U", 0, 2], ["+U", 2, 2],
            ["-U", 1, 1], ["+U", 4, 1], ["-U", 2, 2], ["+U", 1, 2]]
    assert apply_changelog(log)[["id", "rownum"]].values.tolist() in ([[1, 2], [4, 1]], [[4, 1], [1, 2]])


@pytest.mark.parametrize("batch", [1, 3, 100])
def test_sql_selects_rownum_as_flink_does(batch):
    df = frame([3, 1, 4, 1, 5, 9, 2, 6], ["a", "b"] * 4)
    src = lambda: sl.from_frame(df, time="ts", batch_size=batch)  # noqa: E731
    inner = "SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY {o}) AS rn FROM src"
    star = sl.sql.query(f"SELECT * FROM ({inner.format(o='v DESC')}) WHERE rn <= 2", src=src()).collect()
    assert list(star.columns) == ["op", "ts", "k", "id", "v", "rn"]
    want = model(df, 2, True).rename(columns={"rownum": "rn"})
    pd.testing.assert_frame_equal(table(apply_changelog(star), ["k", "id", "rn"]), table(want, ["k", "id", "rn"]))
    last = sl.sql.query(f"SELECT k, id, rn FROM ({inner.format(o='ts DESC')}) WHERE rn = 1", src=src()).collect()
    assert set(last["rn"]) == {1} and list(last.columns) == ["op", "k", "id", "rn"]
    first = sl.sql.query(f"SELECT * FROM ({inner.format(o='ts ASC')}) WHERE rn = 1", src=src()).collect()
    assert "op" not in first.columns and first[["k", "id", "rn"]].values.tolist() == [["a", 0, 1], ["b", 1, 1]]
    plain = sl.sql.query(f"SELECT id, v FROM ({inner.format(o='v DESC')}) WHERE rn <= 2", src=src()).collect()
    assert list(plain.columns) == ["op", "id", "v"]


def test_rownum_takes_a_bool():
    src = sl.from_frame(frame([1], ["a"]), time="ts")
    with pytest.raises(TypeError, match="rownum= takes True or False"):
        src.nlargest(2, "v", by="k", rownum="yes")
