"""Contract tests by introspection: every operator kind snapshots to JSON and keeps its schema on empty input."""

from __future__ import annotations

import json
import pickle

import pandas as pd
import pytest

import streamlab as sl
from streamlab.core.node import Node

EMPTY = pd.DataFrame({"ts": pd.Series([], dtype="datetime64[ms]"), "k": pd.Series([], dtype=object),
                      "v": pd.Series([], dtype="float64")})
SPECS = [sl.Tumble("1s"), sl.Hop("2s", "1s"), sl.Cumulate("2s", "1s"), sl.Session("1s")]


def every_operator(df):
    """One pipeline that uses every streamlab operator kind."""
    src = sl.from_frame(df, time="ts")
    return [
        src.watermark("100ms").where("v >= 0").assign(w=lambda d: d.v * 2).window(spec, by="k").agg(
            n=("v", "size"), c=("v", "count"), s=("v", "sum"), m=("v", "mean"), lo=("v", "min"), hi=("v", "max"),
            f=("v", "first"), la=("v", "last"), sd=("v", "std"), va=("v", "var"), md=("v", "median"))
        for spec in SPECS
    ]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: type(s).__name__)
def test_empty_input_keeps_the_output_schema(spec):
    res = sl.from_frame(EMPTY, time="ts").watermark("0ms").window(spec, by="k").agg(n=("v", "size"), s=("v", "sum"))
    out = res.collect()
    assert list(out.columns) == ["k", "window_start", "window_end", "n", "s"]
    assert len(out) == 0
    assert str(out["window_start"].dtype) == "datetime64[ms, UTC]"
    assert list(res.late.collect().columns) == [] or len(res.late.collect()) == 0


def test_every_operator_snapshot_is_json_and_has_the_contract_fields():
    df = pd.DataFrame({"ts": pd.to_datetime([0, 500, 1500, 2500], unit="ms"), "k": ["a", "<b>", "a", "<b>"],
                       "v": [1.0, 2.0, -3.0, 4.0]})
    results = every_operator(df)
    pipe = results[0].pipeline
    pipe.step()
    snap = pipe.snapshot()
    text = json.dumps(snap)
    assert json.loads(text) == snap
    kinds = {op["kind"] for op in snap["operators"]}
    assert {"source", "watermark", "where", "assign", "window"} <= kinds
    for op in snap["operators"]:
        assert {"id", "kind", "label", "upstreams", "counters", "events_per_s", "watermark", "state"} <= set(op)
        assert set(op["counters"]) == {"in", "out", "late", "errors"}
    windows = [op for op in snap["operators"] if op["kind"] == "window"]
    assert len(windows) == 4
    for w in windows:
        assert {"open_windows", "open_count", "truncated", "late_ledger", "errors"} <= set(w["state"])
        assert w["state"]["open_windows"], w["label"]
        assert {"key", "key_text", "window_start", "window_end", "rows", "partials"} <= set(w["state"]["open_windows"][0])
    assert {"name", "state", "watermark", "watermark_text", "lag_ms", "counters", "events_per_s", "operators"} <= set(snap)
    full = pipe.snapshot(limit=0, state=True)  # what checkpoints write: the same snapshot, with state
    json.dumps(full)
    assert all({"state", "counters", "sides"} <= set(op["checkpoint"]) for op in full["operators"])


def test_every_registered_operator_is_a_streamz_stream_with_a_useful_repr():
    res = every_operator(EMPTY)[0]
    nodes = [n for n in res.pipeline.nodes() if isinstance(n, Node)]
    assert len({type(n) for n in nodes}) >= 6
    for node in nodes:
        assert node.op_id in repr(node)
        assert node.label()


def test_window_specs_are_small_frozen_values():
    for spec in SPECS:
        assert pickle.loads(pickle.dumps(spec)) == spec
        with pytest.raises(AttributeError):
            spec.size = "5s"
