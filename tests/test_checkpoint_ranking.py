"""Checkpoints hold the state of the updating operators: continuous GROUP BY, continuous Top-N,
keep-last and keep-first deduplication, OVER (RANGE and ROWS), window Top-N (raw and after
``agg``).

Stop part way, checkpoint, restore into a newly built pipeline, run to the end: the changelog
emitted before the checkpoint followed by the one emitted after restore equals an uninterrupted
run's (same batch size), and applied it gives the same table (any batch size after restore).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import streamlab as sl


def events(n=900, seed=11):
    """Disordered events, some far behind (late for keep-first and OVER)."""
    rng = np.random.default_rng(seed)
    ts = np.arange(n) * 10 + rng.integers(-300, 300, n)
    ts[rng.random(n) < 0.03] -= 2000
    return pd.DataFrame({"ts": ts, "k": rng.choice(list("abcdef"), n), "u": rng.choice(list("uvwxyz"), n),
                         "v": rng.integers(0, 400, n) * 0.25})


PIPELINES = {
    "groupby": lambda s: s.groupby("k").agg(n=("v", "size"), s=("v", "sum"), hi=("v", "max"), avg=("v", "mean")),
    "groupby-2keys": lambda s: s.groupby(["k", "u"]).agg(n=("v", "count"), lo=("v", "min")),
    "topn": lambda s: s.nlargest(3, "v", by="k"),
    "topn-global": lambda s: s.nsmallest(4, "v"),
    "keep-last": lambda s: s.drop_duplicates("u", keep="last"),
    "keep-first": lambda s: s.watermark("200ms").drop_duplicates(["k", "u"], keep="first"),
    "over-range": lambda s: s.watermark("250ms").rolling("1s", by="k").agg(avg=("v", "mean"), n=("v", "size"), hi=("v", "max")),
    "window-topn": lambda s: s.watermark("200ms").window(sl.Tumble("1s"), by="k").nlargest(2, "v"),
    "window-topn-agg": lambda s: s.watermark("200ms").window(sl.Tumble("1s"), by="k").agg(s=("v", "sum")).nlargest(2, "s"),
    "sql-groupby": lambda s: sql("SELECT k, COUNT(*) AS n, SUM(v) AS s FROM src GROUP BY k", s),
    "sql-over": lambda s: sql("SELECT k, ts, v, AVG(v) OVER w AS a FROM src WINDOW w AS (PARTITION BY k ORDER BY ts "
                              "RANGE BETWEEN INTERVAL '1' SECOND PRECEDING AND CURRENT ROW)", s.watermark("250ms")),
    "sql-topn": lambda s: sql("SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rownum "
                              "FROM src) WHERE rownum <= 2", s),
    "over-rows": lambda s: s.watermark("250ms").rolling(4, by="k").agg(s=("v", "sum"), lo=("v", "min")),
}


def sql(query, src):
    from streamlab.sql.ranking import build

    return build(query, {"src": src})


def concat(frames):
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def build(name, df, batch_size):
    return PIPELINES[name](sl.from_frame(df, time="ts", unit="ms", batch_size=batch_size))


def late_of(res):
    return res.late.sink_to_list() if "late" in getattr(res, "sides", {}) else []


def canonical(df):
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True) if len(df) else df


@pytest.mark.parametrize("name", sorted(PIPELINES))
@pytest.mark.parametrize("stop_after", [1, 6])
def test_updating_operators_resume_exactly_after_restore(tmp_path, name, stop_after):
    df = events()
    whole = build(name, df, 60)
    whole_late = late_of(whole)
    expected = whole.collect()
    expected_counters = whole.snapshot()["counters"]

    first = build(name, df, 60)
    out, late = first.sink_to_list(), late_of(first)
    for _ in range(stop_after):
        first.step()
    path = tmp_path / "ckpt.json"
    first.checkpoint(path)
    kept, kept_late = list(out), list(late)  # emitted up to the checkpoint
    for _ in range(2):  # emitted after it: lost with the crash
        first.step()

    second = build(name, df, 60)
    sl.restore(path, second)
    late2 = late_of(second)
    rest = second.collect()
    pd.testing.assert_frame_equal(concat([*kept, rest]), expected)  # the same changelog (or rows), in order
    pd.testing.assert_frame_equal(concat([*kept_late, *late2]), concat(whole_late))
    assert second.snapshot()["counters"] == expected_counters
    if name.startswith(("keep-first", "over", "window", "sql-over")):
        assert expected_counters["late"] > 0  # the late path is exercised


@pytest.mark.parametrize("name", ["groupby", "topn", "keep-last", "groupby-2keys"])
def test_a_changelog_restored_at_another_batch_size_gives_the_same_table(tmp_path, name):
    df = events(700, seed=3)
    expected = sl.apply_changelog(build(name, df, 50).collect())
    first = build(name, df, 50)
    out = first.sink_to_list()
    for _ in range(4):
        first.step()
    first.checkpoint(tmp_path / "c.json")
    kept = list(out)
    second = build(name, df, 7)
    sl.restore(tmp_path / "c.json", second)
    got = sl.apply_changelog(concat([*kept, second.collect()]))
    pd.testing.assert_frame_equal(canonical(got), canonical(expected))
