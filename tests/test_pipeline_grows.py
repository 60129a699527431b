"""A graph that grows after a run: a source collected alone (so it belongs to a pipeline) and
then joined with a new source. The new source joins the pipeline, so the join sees right rows;
checked against a pandas batch model of the join.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

import streamlab as sl
from streamlab.core.errors import PipelineStateError
from streamlab.runtime import pipelines


def frame(seed: int, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"ts": np.sort(rng.integers(0, 20_000, n)), "k": rng.choice(list("abc"), n),
                         "id": np.arange(n)})


def model(left: pd.DataFrame, right: pd.DataFrame) -> list[tuple]:
    """Inner interval join, right.ts - left.ts in [-500, 500] ms: sorted (left id, right id)."""
    m = left.merge(right, on="k", suffixes=("_x", "_y"))
    d = m.ts_y - m.ts_x
    m = m[(d >= -500) & (d <= 500)]
    return sorted(zip(m.id_x.tolist(), m.id_y.tolist()))


def pairs(out: pd.DataFrame) -> list[tuple]:
    return sorted(zip(out.id_x.astype(int).tolist(), out.id_y.astype(int).tolist()))


def stream(df: pd.DataFrame, batch: int = 16):
    return sl.from_frame(df, time="ts", unit="ms", batch_size=batch).watermark(0)


def test_a_collected_source_joined_with_a_new_one_gets_its_rows():
    left_df, right_df = frame(1), frame(2)
    a = stream(left_df)
    assert len(a.collect()) == len(left_df)  # a now belongs to a pipeline
    b = stream(right_df)
    j = a.join(b, on="k", between=(-500, 500))
    out = j.collect()
    assert pairs(out) == model(left_df, right_df)
    assert len(out) > 50
    assert len(j.pipeline.sources) == 2


def test_a_left_join_after_a_collect_is_not_all_unmatched():
    left_df, right_df = frame(3), frame(4)
    a = stream(left_df)
    a.collect()
    out = a.join(stream(right_df), on="k", between=(-500, 500), how="left").collect()
    matched = out.dropna(subset=["id_y"])
    assert pairs(matched) == model(left_df, right_df)
    assert out.id_y.notna().any()


def test_two_collected_sources_joined_run_in_one_pipeline():
    left_df, right_df = frame(5), frame(6)
    a, b = stream(left_df), stream(right_df)
    a.collect()
    b.collect()
    olds = [a.pipeline, b.pipeline]
    j = a.join(b, on="k", between=(-500, 500))
    assert pairs(j.collect()) == model(left_df, right_df)
    kept = [p for p in olds if p is j.pipeline]
    gone = [p for p in olds if p is not j.pipeline]
    assert len(kept) == 1 and len(kept[0].sources) == 2
    assert gone[0].name not in pipelines()  # the other pipeline gave its only source up
    assert b.collect().shape[0] == len(right_df)  # b alone still runs (in the joint pipeline)


def test_a_window_join_after_a_collect():
    left_df, right_df = frame(7), frame(8)
    a = stream(left_df, batch=5)
    a.collect()
    b = stream(right_df, batch=5)
    out = a.window(sl.Tumble(1000)).join(b.window(sl.Tumble(1000)), on="k").collect()
    m = left_df.assign(w=left_df.ts // 1000).merge(right_df.assign(w=right_df.ts // 1000), on=["k", "w"])
    assert pairs(out) == sorted(zip(m.id_x.tolist(), m.id_y.tolist()))


def test_a_running_pipeline_refuses_a_new_source_with_the_fix():
    left_df, right_df = frame(9), frame(10)
    a = stream(left_df)

    async def main():
        pipe = a.start()
        try:
            with pytest.raises(PipelineStateError, match="stop it first"):
                _ = a.join(stream(right_df), on="k", between=(-500, 500)).pipeline
        finally:
            pipe.stop()
        j = a.join(stream(right_df), on="k", between=(-500, 500))
        return j

    j = asyncio.run(main())
    assert pairs(j.collect()) == model(left_df, right_df)
