"""Issue 13 (reliability): nothing is lost or truncated, and bad input never kills a pipeline.

Each test names the item of the issue it pins; every one failed before its fix.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest
import streamz

import streamlab as sl
from streamlab.comm import PROTOCOL_VERSION, RequestHandler


def run(source, spec=None, by=None, aggs=None, delay="0ms"):
    """Run to the end step by step; returns (operator, out, late, errors) as DataFrames."""
    aggs = aggs or {"s": ("v", "sum")}
    res = source.watermark(delay).window(spec or sl.Tumble(1000), by=by).agg(**aggs)
    got: dict[str, list] = {"out": [], "late": [], "errors": []}
    res.sink(got["out"].append)
    res.late.sink(got["late"].append)
    res.errors.sink(got["errors"].append)
    res.pipeline.reset()
    while res.pipeline.state != "finished":
        res.pipeline.step()
    frames = [pd.concat(v, ignore_index=True) if v else pd.DataFrame() for v in got.values()]
    return res, *frames


def conserved(res, n, late, errors, windows_per_row=1):
    only_late = 0 if late.empty else int((late["missed_windows"] == windows_per_row).sum())
    return n == res.counted + only_late + len(errors)


def pushed(batches, time="ts", unit="ms"):
    """A streamz source fed ``batches`` (DataFrames), run through the window; then flushed."""
    s = streamz.Stream()
    return s, sl.from_streamz(s, time=time, unit=unit)


# --- 2. widening column types are never truncated ------------------------------------------
AGGS = {f: ("v", f) for f in ("sum", "min", "max", "first", "last")}


@pytest.mark.parametrize("first, second", [([20, 100], [20.9, 100.75]), ([20.9, 100.75], [20, 100])])
@pytest.mark.parametrize("spec", [sl.Tumble(1000), sl.Hop(2000, 1000), sl.Session(5000)])
def test_issue13_widening_int_then_float_is_not_truncated(first, second, spec):
    s = streamz.Stream()
    res = sl.from_streamz(s, time="ts", unit="ms").window(spec).agg(**AGGS)
    out = res.sink_to_list()
    s.emit(pd.DataFrame({"ts": [1, 2], "v": first}))
    s.emit(pd.DataFrame({"ts": [3, 4], "v": second}))
    res.pipeline.flush()
    got = pd.concat(out, ignore_index=True).iloc[0]
    whole = pd.Series(first + second)
    want = {"sum": whole.sum(), "min": whole.min(), "max": whole.max(), "first": whole.iloc[0], "last": whole.iloc[-1]}
    assert {k: got[k] for k in want} == pytest.approx(want)
    assert all(isinstance(got[k], float) for k in want)  # the whole column is float


def test_issue13_csv_read_in_chunks_widens(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"ts": [1, 2, 3, 4], "v": ["20", "100", "20.9", "100.75"]}).to_csv(path, index=False)
    res, out, late, errors = run(sl.from_csv(path, time="ts", unit="ms", batch_size=2), aggs=AGGS)
    assert out.iloc[0][["sum", "min", "max", "first", "last"]].tolist() == pytest.approx(
        [241.65, 20.0, 100.75, 20.0, 100.75])


# --- 9. int64 is exact ----------------------------------------------------------------------
@pytest.mark.parametrize("spec", [sl.Tumble(1000), sl.Hop(2000, 1000), sl.Cumulate(2000, 1000), sl.Session(5000)])
def test_issue13_int64_above_2_53_is_exact(spec):
    big = 2**53 + 1
    df = pd.DataFrame({"ts": [1, 2, 3], "v": np.array([big, big + 2, 5], dtype="int64")})
    res, out, late, errors = run(sl.from_frame(df, time="ts", unit="ms", batch_size=2), spec=spec,
                                 aggs={**AGGS, "n": ("v", "count")})
    row = out.iloc[0]
    assert [int(row[k]) for k in ("sum", "min", "max", "first", "last")] == \
        [2 * big + 7, 5, big + 2, big, 5]
    assert out["max"].dtype == "int64" and out["sum"].dtype == "int64"


def test_issue13_int64_exact_by_key_and_through_a_checkpoint(tmp_path):
    big = 2**60 + 1
    df = pd.DataFrame({"ts": [1, 2, 1500, 1600], "k": ["a", "b", "a", "a"], "v": [big, 3, big + 2, 7]})
    res = sl.from_frame(df, time="ts", unit="ms", batch_size=2).watermark(0).window(
        sl.Tumble(1000), by="k").agg(mx=("v", "max"), s=("v", "sum"), f=("v", "first"))
    res.pipeline.reset()
    res.pipeline.step()
    res.checkpoint(tmp_path / "c.json")
    sl.restore(tmp_path / "c.json", res)
    out = res.collect()
    assert out["mx"].tolist() == [big, 3, big + 2] and out["s"].tolist() == [big, 3, big + 9]
    assert out["f"].tolist() == [big, 3, big + 2]


# --- 3. far-future times go to errors ----------------------------------------------------------
def test_issue13_far_future_ms_goes_to_errors_with_a_reason():
    df = pd.DataFrame({"ts": [1000, 2**62 + 5000, 2000], "v": [1, 2, 3]})
    res, out, late, errors = run(sl.from_frame(df, time="ts", unit="ms"))
    assert out["s"].tolist() == [1, 3]
    assert errors["v"].tolist() == [2] and "out of range" in errors["reason"][0]
    assert late.empty and conserved(res, 3, late, errors)


@pytest.mark.parametrize("huge", [10**16, 1e17, -(10**16)])
def test_issue13_scaling_overflow_goes_to_errors_not_late(huge):
    df = pd.DataFrame({"ts": [1, huge, 2], "v": [1, 2, 3]})
    res, out, late, errors = run(sl.from_frame(df, time="ts", unit="s"))
    assert out["s"].tolist() == [4]
    assert errors["v"].tolist() == [2] and "out of range" in errors["reason"][0]
    assert late.empty and conserved(res, 3, late, errors)


def test_issue13_far_future_without_watermark_goes_to_errors():
    s = streamz.Stream()
    res = sl.from_streamz(s, time="ts", unit="ms").window(sl.Hop(10, 5)).agg(n=("v", "size"))
    errors = res.errors.sink_to_list()
    s.emit(pd.DataFrame({"ts": np.array([5, 2**62 + 5], dtype="int64"), "v": [1, 2]}))
    res.pipeline.flush()
    assert len(pd.concat(errors)) == 1 and res.counted == 1


# --- 4. a failing aggregate callable ----------------------------------------------------------
def picky(values: pd.Series):
    if (values > 100).any():
        raise ValueError("too big")
    return values.sum()


@pytest.mark.parametrize("spec", [sl.Tumble(10), sl.Hop(10, 5), sl.Session(3)])
def test_issue13_failing_aggregate_sends_its_window_to_errors(spec):
    df = pd.DataFrame({"ts": np.arange(0, 60, 5), "v": [1, 2, 3, 4, 500, 6, 7, 8, 9, 10, 11, 12]})
    res, out, late, errors = run(sl.from_frame(df, time="ts", unit="ms", batch_size=3), spec=spec,
                                 aggs={"p": ("v", picky), "n": ("v", "size")})
    assert res.pipeline.state == "finished"
    assert len(errors) and (errors["v"] == 500).any()
    reason = errors["reason"][0]
    assert errors.columns[0] == "ts" and (errors["ts"] == 20).any()
    assert "picky" in reason and "'p'" in reason and "ValueError: too big" in reason and res.label() in reason
    assert len(out) and not out["p"].isna().any()
    if isinstance(spec, sl.Tumble):  # one window per row: the law holds exactly
        assert out["n"].sum() + len(errors) == len(df)


def test_issue13_failing_aggregate_on_a_started_pipeline_does_not_fail_it():
    df = pd.DataFrame({"ts": np.arange(12) * 100, "v": [1] * 5 + [500] + [1] * 6})

    async def main():
        res = sl.from_frame(df, time="ts", unit="ms", batch_size=2).watermark(0).window(
            sl.Tumble(300)).agg(p=("v", picky))
        res.start()
        await asyncio.wait_for(res.pipeline.wait(), 10)
        return res

    res = asyncio.run(main())
    assert res.pipeline.state == "finished"
    assert res.counters.errors == 3


# --- 10. a time dtype that contradicts unit= --------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: sl.from_frame(pd.DataFrame({"ts": pd.to_datetime([1500], unit="ms")}), time="ts", unit="ms"),
    lambda: sl.from_frame(pd.DataFrame({"ts": [1500]}), time="ts"),
    lambda: sl.from_frame(pd.DataFrame({"ts": [1.5]}), time="ts"),
])
def test_issue13_time_dtype_contradicting_unit_is_refused_at_build_time(make):
    with pytest.raises(ValueError, match="unit="):
        make()


def test_issue13_parquet_time_dtype_contradicting_unit_is_refused(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"ts": [1500], "v": [1]}).to_parquet(path)
    with pytest.raises(ValueError, match="unit="):
        sl.from_parquet(path, time="ts")
    pd.DataFrame({"ts": pd.to_datetime([1500], unit="ms"), "v": [1]}).to_parquet(path)
    with pytest.raises(ValueError, match="unit="):
        sl.from_parquet(path, time="ts", unit="ms")


def test_issue13_time_dtype_changing_mid_stream_goes_to_errors():
    s = streamz.Stream()
    res = sl.from_streamz(s, time="ts", unit="ms").watermark(0).window(sl.Tumble(10)).agg(n=("v", "size"))
    out, errors = res.sink_to_list(), res.errors.sink_to_list()
    s.emit(pd.DataFrame({"ts": [1, 2], "v": [1, 2]}))
    s.emit(pd.DataFrame({"ts": pd.to_datetime([3, 4], unit="ms"), "v": [3, 4]}))
    s.emit(pd.DataFrame({"ts": [5], "v": [5]}))
    res.pipeline.flush()
    assert pd.concat(out)["n"].tolist() == [3]
    err = pd.concat(errors)
    assert err["v"].tolist() == [3, 4] and "unit=" in err["reason"][0]


# --- 14. rewriting the time column after watermark() ---------------------------------------------
def test_issue13_assign_of_the_time_column_after_watermark_is_refused():
    src = sl.from_frame(pd.DataFrame({"ts": [0, 1], "v": [1, 2]}), time="ts", unit="ms")
    with pytest.raises(ValueError, match="time column 'ts'.*watermark"):
        src.watermark(0).assign(ts=lambda d: d.ts + 5000)
    src.assign(ts=lambda d: d.ts + 5000).watermark(0)  # before the watermark it is fine


# --- 15. small ones -----------------------------------------------------------------------------
@pytest.mark.parametrize("by", ["window_start", "window_end", ["k", "window_end"]])
def test_issue13_by_window_columns_is_refused_naming_the_clash(by):
    src = sl.from_frame(pd.DataFrame({"ts": [0], "k": [1], "window_start": [0], "window_end": [1]}),
                        time="ts", unit="ms")
    with pytest.raises(ValueError, match="window_(start|end)"):
        src.window(sl.Tumble(10), by=by)


def test_issue13_duplicated_column_names_are_refused_at_build_time():
    df = pd.DataFrame([[0, 1, 2]], columns=["ts", "v", "v"])
    with pytest.raises(ValueError, match="duplicated column name 'v'"):
        sl.from_frame(df, time="ts", unit="ms")
    df = pd.DataFrame([[0, 1, 2]], columns=["ts", "ts", "v"])
    with pytest.raises(ValueError, match="duplicated column name 'ts'"):
        sl.from_frame(df, time="ts", unit="ms")


def test_issue13_duplicated_columns_in_a_pushed_batch_go_to_errors():
    s = streamz.Stream()
    res = sl.from_streamz(s, time="ts", unit="ms").watermark(0).window(sl.Tumble(10)).agg(n=("v", "size"))
    out, errors = res.sink_to_list(), res.errors.sink_to_list()
    s.emit(pd.DataFrame([[1, 1, 2]], columns=["ts", "v", "v"]))
    s.emit(pd.DataFrame([[1, 2, 2]], columns=["ts", "ts", "v"]))
    s.emit(pd.DataFrame({"ts": [3], "v": [1]}))
    res.pipeline.flush()
    assert pd.concat(out)["n"].tolist() == [1]
    assert sum(len(e) for e in errors) == 2
    assert all("duplicated column" in r for e in errors for r in e["reason"])


@pytest.mark.parametrize("version", [float(PROTOCOL_VERSION), str(PROTOCOL_VERSION), True])
def test_issue13_comm_accepts_only_an_integer_version(version):
    reply = RequestHandler(registry=dict).handle({"id": 1, "kind": "list", "version": version})
    assert reply["kind"] == "error" and reply["code"] == "version_mismatch"


# --- 5. stop, then start, continues (no replay) --------------------------------------------------
def _stop_start(use_comm: bool) -> list[int]:
    df = pd.DataFrame({"ts": np.arange(2000), "v": np.arange(2000)})
    res = sl.from_frame(df, time="ts", unit="ms", batch_size=50, speed=5).watermark(0)
    seen: list[int] = []
    res.sink(lambda d: seen.extend(d["v"].tolist()))
    pipe = res.pipeline
    handler = RequestHandler(registry=lambda: {pipe.name: pipe})

    def act(action):
        if use_comm:
            reply = handler.handle({"id": 1, "kind": "command", "version": PROTOCOL_VERSION,
                                    "pipeline": pipe.name, "action": action})
            assert reply["kind"] == "reply", reply
        else:
            getattr(pipe, action)()

    async def main():
        act("start")
        for _ in range(3):
            await asyncio.sleep(0.02)
            act("stop")
            await asyncio.sleep(0.01)
            act("start")
        await asyncio.wait_for(pipe.wait(), 10)

    asyncio.run(main())
    return seen


@pytest.mark.parametrize("use_comm", [False, True])
def test_issue13_stop_then_start_gives_each_row_once(use_comm):
    assert _stop_start(use_comm) == list(range(2000))


def test_issue13_snapshot_and_panel_push_cut_long_cell_values():
    from streamlab.comm.handler import MAX_TEXT_CHARS, to_jsonable

    s = streamz.Stream()
    res = sl.from_streamz(s, time="ts", unit="ms").window(sl.Tumble(10)).agg(f=("v", "first"))
    s.emit(pd.DataFrame({"ts": [1, "bad"], "v": ["x" * 2_000_000, "y" * 2_000_000]}))
    snap = res.pipeline.snapshot()
    text = str(snap)
    assert len(text) < 20_000 and "(2000000 chars)" in text
    assert len(to_jsonable({"v": "z" * 10**6})["v"]) < MAX_TEXT_CHARS + 50


def test_issue13_kafka_null_value_shows_null_in_errors():
    from streamlab.kafka.decode import decode

    d = decode([(0, 5, 1000, None, None), (0, 6, 1000, b"k", b"oops")], fmt="json", columns=None,
               time="ts", unit="ms")
    rows = d.errors.to_dict("records")
    assert rows[0]["value"] is None and rows[0]["key"] is None and "null value" in rows[0]["reason"]
    assert rows[1]["value"] == "oops"


# --- 13. a plot split by a many-valued key is capped ---------------------------------------------
def test_issue13_plot_by_many_keys_caps_the_series_and_says_so():
    from streamlab.viz.plot import PlotAccessor

    s = streamz.Stream()
    p = PlotAccessor(s).line(x="window_end", y="n", by="user", max_series=5)
    users = [f"u{i}" for i in range(3000)]
    s.emit(pd.DataFrame({"user": users, "window_end": 1.0, "n": np.arange(3000.0)}))
    s.emit(pd.DataFrame({"user": [f"new{i}" for i in range(3000)], "window_end": 2.0, "n": 1.0}))
    assert len(p.sources) == 6 and len(p.figure.renderers) == 12  # 5 series + 'other', line + markers
    assert sorted(k for k in p.sources if k != "other") == ["u2995", "u2996", "u2997", "u2998", "u2999"]
    assert list(p.sources["other"].data["y"]) == [float(np.arange(2995).sum()), 3000.0]
    assert "top 5 of 6000 keys" in p.figure.title.text and "'other'" in p.figure.title.text
    labels = [item.label.value for item in p.figure.legend[0].items]
    assert labels[-1] == "other (5995 keys)" and len(labels) == 6


def test_issue13_csv_integer_time_without_unit_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"ts": [1500, 1600], "v": [1, 2]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="unit="):
        sl.from_csv(path, time="ts")
    assert len(sl.from_csv(path, time="ts", unit="ms").collect()) == 2


def test_issue13_kafka_far_future_time_is_out_of_range():
    from streamlab.kafka.decode import decode

    d = decode([(0, 1, 1000, None, b'{"ts": 1, "v": 1}'), (0, 2, 1000, None, b'{"ts": 1e20, "v": 2}')],
               fmt="json", columns=None, time="ts", unit="ms")
    assert d.frame["v"].tolist() == [1] and "out of range" in d.errors["reason"][0]


def test_issue13_heatmap_by_many_keys_caps_the_rows():
    from streamlab.viz.plot import PlotAccessor

    s = streamz.Stream()
    p = PlotAccessor(s).heatmap(x="window_start", y="n", by="user", max_series=3)
    s.emit(pd.DataFrame({"user": [f"u{i}" for i in range(100)], "window_start": 0.0, "window_end": 1.0,
                         "n": np.arange(100.0)}))
    assert list(p.figure.y_range.factors) == ["other", "u97", "u98", "u99"]
    cells = p.sources["cells"].data
    assert dict(zip(cells["key"], cells["y"]))["other"] == float(np.arange(97).sum())
    assert "top 3 of 100 keys" in p.figure.title.text
