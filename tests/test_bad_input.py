"""Bad input: every malformed row lands on ``errors`` with a reason, nothing is lost, the pipeline goes on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import streamz

import streamlab as sl


def run(df, spec=None, by="k", delay="0ms", aggs=None, unit=None, batch_size=3):
    spec = spec or sl.Tumble("1s")
    aggs = aggs or {"s": ("v", "sum")}
    res = sl.from_frame(df, time="ts", unit=unit, batch_size=batch_size).watermark(delay).window(spec, by=by).agg(**aggs)
    got = {}
    res.sink(lambda d: got.setdefault("out", []).append(d))
    res.late.sink(lambda d: got.setdefault("late", []).append(d))
    res.errors.sink(lambda d: got.setdefault("errors", []).append(d))
    res.pipeline.reset()
    while res.pipeline.state != "finished":
        res.pipeline.step()
    frames = {k: pd.concat(v, ignore_index=True) for k, v in got.items()}
    return res, frames.get("out", pd.DataFrame()), frames.get("late", pd.DataFrame()), frames.get("errors", pd.DataFrame())


def test_unparseable_and_missing_times_go_to_errors():
    df = pd.DataFrame({"ts": ["2024-01-01 00:00:00", "not a time", None, "2024-01-01 00:00:01.5"],
                       "k": ["a", "a", "b", "a"], "v": [1.0, 2.0, 3.0, 4.0]})
    res, out, late, errors = run(df)
    assert sorted(out["s"].tolist()) == [1.0, 4.0]
    assert errors["v"].tolist() == [2.0, 3.0]
    assert all("time column 'ts'" in r for r in errors["reason"])
    assert res.counted == 2 and late.empty
    assert len(df) == res.counted + len(late) + len(errors)  # nothing lost


def test_non_numeric_value_goes_to_errors_with_the_value():
    df = pd.DataFrame({"ts": [0, 1, 2], "k": ["a", "a", "a"], "v": [1.0, "oops", 3.0]})
    res, out, late, errors = run(df, unit="ms")
    assert out["s"].tolist() == [4.0]
    assert errors["reason"].tolist() == ["column 'v' is not numeric: 'oops'"]


def test_missing_column_in_a_batch_goes_to_errors_and_pipeline_continues():
    s = streamz.Stream()
    src = sl.from_streamz(s, time="ts", unit="ms")
    res = src.window(sl.Tumble(10)).agg(s=("v", "sum"))
    out, errors = res.sink_to_list(), res.errors.sink_to_list()
    s.emit(pd.DataFrame({"ts": [1, 2], "w": [1.0, 2.0]}))  # no column v
    s.emit(pd.DataFrame({"ts": [3, 4], "v": [1.0, 2.0]}))
    res.pipeline.flush()
    assert errors[0]["reason"].tolist() == ["missing column 'v'"] * 2
    assert pd.concat(out)["s"].tolist() == [3.0]


def test_user_callable_that_raises_sends_its_batch_to_errors():
    df = pd.DataFrame({"ts": np.arange(6), "k": ["a"] * 6, "v": np.arange(6.0)})

    def picky(batch):
        if 4 in batch["ts"].tolist():
            raise ZeroDivisionError("no fours")
        return batch["v"] >= 0

    res = (sl.from_frame(df, time="ts", unit="ms", batch_size=2).watermark(0).where(picky)
           .window(sl.Tumble(100), by="k").agg(n=("v", "size")))
    out = res.collect()
    errors = res.errors.collect()
    assert out["n"].tolist() == [4]
    assert errors["ts"].tolist() == [4, 5]
    assert errors["reason"].str.contains("ZeroDivisionError: no fours").all()


def test_assign_that_raises_sends_rows_to_errors():
    df = pd.DataFrame({"ts": [0, 1], "v": [1.0, 2.0]})
    res = sl.from_frame(df, time="ts", unit="ms").assign(x=lambda d: d["nope"]).window(sl.Tumble(10)).agg(n=("v", "size"))
    assert res.collect().empty
    assert res.errors.collect()["reason"].str.contains("KeyError").all()


def test_conservation_law_with_late_and_error_rows():
    rng = np.random.default_rng(3)
    n = 500
    ts = rng.integers(0, 5000, n).astype(object)
    ts[rng.random(n) < 0.05] = "bad"
    df = pd.DataFrame({"ts": ts, "k": rng.choice(["a", "b"], n), "v": rng.normal(size=n)})
    res = sl.from_frame(df, time="ts", unit="ms", batch_size=50).watermark(100).window(sl.Hop(400, 100), by="k").agg(n=("v", "size"))
    out = res.collect()
    late = res.late.collect()
    errors = res.errors.collect()
    only_late = int((late["missed_windows"] == 4).sum())
    assert len(errors) == int((df["ts"] == "bad").sum())
    assert n == res.counted + only_late + len(errors)
    assert out["n"].sum() == 4 * res.counted - late.loc[late["missed_windows"] < 4, "missed_windows"].sum()


@pytest.mark.parametrize("bad, message", [
    (lambda: sl.Tumble("0s"), "size must be > 0"),
    (lambda: sl.Tumble(-5), "size must be > 0"),
    (lambda: sl.Hop("10s", "3s"), "must be a multiple of slide"),
    (lambda: sl.Cumulate("10s", "3s"), "must be a multiple of step"),
    (lambda: sl.Session("fast"), "gap='fast' is not a duration"),
    (lambda: sl.from_frame(pd.DataFrame({"t": [1]}), time="ts"), "time='ts' is not a column"),
    (lambda: sl.from_frame(pd.DataFrame({"ts": [1]}), time="ts", unit="s", batch_size=0), "batch_size must be a positive integer"),
    (lambda: sl.from_frame(pd.DataFrame({"ts": [1]}), time="ts", unit="days"), "unit='days' is not supported"),
    (lambda: sl.from_frame(pd.DataFrame({"ts": [1]}), time="ts", unit="s").window(sl.Tumble(1)).agg(x=("v", "sum")),
     "agg: column 'v' not found; available columns: ts"),
    (lambda: sl.from_frame(pd.DataFrame({"ts": [1], "v": [1]}), time="ts", unit="s").window(sl.Tumble(1)).agg(x=("v", "avgg")),
     "unknown aggregation 'avgg'"),
    (lambda: sl.from_frame(pd.DataFrame({"ts": [1], "v": [1]}), time="ts", unit="s").window(sl.Tumble(1), by="k"),
     "by: column 'k' not found"),
    (lambda: sl.from_frame(pd.DataFrame({"ts": pd.to_datetime([1])}), time="ts").window(sl.Tumble(1)),
     "size=1 is a bare number, but the stream's time column is a datetime"),
    (lambda: sl.from_frame(pd.DataFrame({"ts": [1]}), time="ts", unit="s").window("1s"), "window(spec) takes sl.Tumble"),
    (lambda: sl.demo.sensors(events=100, speed=None).collect(n=-1), "n must be a positive number"),
    (lambda: sl.demo.sensors(speed=None).collect(), "this source is endless"),
])
def test_wrong_arguments_fail_at_once_naming_the_parameter(bad, message):
    with pytest.raises((ValueError, TypeError), match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        bad()
