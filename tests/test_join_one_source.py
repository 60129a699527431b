"""Both join inputs split from one source (``where``): results do not depend on batching.

Each source batch reaches the join as two parts, one per input, the left part first. The join
joins the two parts together in the source's row order, with the watermark each row was made
with; the expected rows come from a row-by-row model of one source (written here, independently
of the engine, on the interval model of tests/join_model.py): rows in source order, one
watermark ``max(ts) - delay``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import streamlab as sl
from tests.join_model import interval_pairs

LOWER, UPPER, DELAY = -200, 300, 100


def one_source_model(rows, lower, upper, how, delay):
    """Pairs (left id or None, right id or None); rows are (id, ts, key, side) in source order,
    all under one watermark ``max(ts) - delay`` (-inf before the first row)."""
    top = [-math.inf]

    def saw(side, ts):
        top[0] = max(top[0], ts)

    return interval_pairs([(side, rid, ts, key) for rid, ts, key, side in rows], lower, upper, how,
                          lambda: top[0] - delay, saw)


def frame(seed, n=300, disorder=600):
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(0, 20_000, n)) + rng.integers(0, disorder, n)  # many rows behind the watermark
    return pd.DataFrame({"ts": ts, "k": rng.choice(list("abc"), n), "side": rng.choice(["L", "R"], n),
                         "id": np.arange(n)})


def joined(df, batch, how):
    src = sl.from_frame(df, time="ts", unit="ms", batch_size=batch).watermark(DELAY)
    j = src.where("side == 'L'").join(src.where("side == 'R'"), on="k", between=(LOWER, UPPER), how=how)
    return j, j.collect()


def pairs(out):
    def val(v):
        return None if pd.isna(v) else int(v)

    return sorted(((val(a), val(b)) for a, b in zip(out["id_x"], out["id_y"])), key=repr)


@pytest.mark.parametrize("how", ["inner", "left", "full"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_source_split_in_two_joins_the_same_rows_at_every_batch_size(seed, how):
    df = frame(seed)
    rows = [(int(r.id), int(r.ts), r.k, 0 if r.side == "L" else 1) for r in df.itertuples()]
    want = one_source_model(rows, LOWER, UPPER, how, DELAY)
    results = {}
    for batch in (1, 7, 1000):
        j, out = joined(df, batch, how)
        results[batch] = pairs(out)
        assert results[batch] == want, f"batch size {batch}"
        for side in ("left", "right"):
            c = j.snapshot_node()["state"][side]
            assert c["rows_in"] == c["matched"] + c["emitted_unmatched"] + c["expired_unmatched"] + c["held"] \
                + c["errors"]
    assert j.one_origin


def test_two_separate_sources_are_not_joined_in_lockstep():
    df = frame(0)
    a = sl.from_frame(df[df.side == "L"], time="ts", unit="ms").watermark(DELAY)
    b = sl.from_frame(df[df.side == "R"], time="ts", unit="ms").watermark(DELAY)
    assert not a.join(b, on="k", between=(LOWER, UPPER)).one_origin
