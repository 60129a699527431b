"""Shared pytest fixtures."""

from __future__ import annotations

import pandas as pd
import pytest

import streamlab as sl


@pytest.fixture
def frame_of():
    """Build a numeric-ms frame from (ts, key, value) tuples."""

    def make(rows):
        return pd.DataFrame(rows, columns=["ts", "k", "v"])

    return make


def run_window(rows, spec, delay=0, by="k", batch_size=10_000, **aggs):
    """Run rows (ts ms, key, value) through from_frame → watermark → window → agg; return (out, late)."""
    df = pd.DataFrame(rows, columns=["ts", "k", "v"])
    aggs = aggs or {"n": ("v", "size"), "s": ("v", "sum")}
    res = sl.from_frame(df, time="ts", unit="ms", batch_size=batch_size).watermark(delay).window(spec, by=by).agg(**aggs)
    return res.collect(), res.late.collect()
