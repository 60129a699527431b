"""Extensions beyond Flink's TVFs (off by default): allowed_lateness, emit_early, idle_timeout."""

from __future__ import annotations

import asyncio

import pandas as pd
import streamz

import streamlab as sl


def frame(rows):
    return pd.DataFrame(rows, columns=["ts", "k", "v"])


def test_defaults_have_no_extension_columns():
    out = sl.from_frame(frame([(0, "a", 1.0)]), time="ts", unit="ms").window(sl.Tumble(10), by="k").agg(s=("v", "sum")).collect()
    assert list(out.columns) == ["k", "window_start", "window_end", "s"]


def test_allowed_lateness_refires_the_window_with_a_new_revision():
    # Tumble 1000, delay 0. ts=1500 fires [0,1000); ts=200 arrives late but within 1000 ms of lateness.
    rows = [(100, "a", 1.0), (1500, "a", 2.0), (200, "a", 4.0), (2600, "a", 8.0), (300, "a", 16.0)]
    res = (sl.from_frame(frame(rows), time="ts", unit="ms", batch_size=1).watermark(0)
           .window(sl.Tumble(1000), by="k", allowed_lateness=1000).agg(s=("v", "sum"), n=("v", "size")))
    out = res.collect()
    first = out[out.window_start == 0][["revision", "s", "n", "final"]].values.tolist()
    assert first == [[0, 1.0, 1, True], [1, 5.0, 2, True]]
    late = res.late.collect()  # ts=300 came after W=2600 >= 999 + 1000: beyond lateness
    assert late["ts"].tolist() == [300]


def test_allowed_lateness_for_sessions_merges_and_refires():
    rows = [(0, "a", 1.0), (500, "b", 0.0), (60, "a", 2.0)]
    res = (sl.from_frame(frame(rows), time="ts", unit="ms", batch_size=1).watermark(0)
           .window(sl.Session(100), by="k", allowed_lateness=1000).agg(s=("v", "sum")))
    out = res.collect()
    a = out[out.k == "a"][["window_start", "window_end", "revision", "s"]].values.tolist()
    assert a == [[0, 100, 0, 1.0], [0, 160, 1, 3.0]]


def test_emit_early_gives_provisional_rows_before_the_watermark():
    async def main():
        s = streamz.Stream()
        src = sl.from_streamz(s, time="ts", unit="ms", max_latency="10ms")
        res = src.window(sl.Tumble(60_000), by="k", emit_early="50ms").agg(s=("v", "sum"))
        out = res.sink_to_list()
        pipe = res.pipeline.start()
        s.emit({"ts": 10, "k": "a", "v": 1.0})
        s.emit({"ts": 20, "k": "a", "v": 2.0})
        for _ in range(200):
            await asyncio.sleep(0.01)
            if out:
                break
        pipe.stop()
        return pd.concat(out, ignore_index=True)

    early = asyncio.run(main())
    assert early["final"].eq(False).all()
    assert early.iloc[-1][["k", "window_start", "s"]].tolist() == ["a", 0, 3.0]


def test_idle_timeout_advances_the_watermark_and_fires_windows():
    async def main():
        s = streamz.Stream()
        src = sl.from_streamz(s, time="ts", unit="ms", max_latency="10ms")
        res = src.watermark("0ms", idle_timeout="100ms").window(sl.Tumble(1000), by="k").agg(s=("v", "sum"))
        out = res.sink_to_list()
        pipe = res.pipeline.start()
        s.emit({"ts": 10, "k": "a", "v": 1.0})
        for _ in range(300):  # no more input: after ~100 ms idle the watermark moves with the clock
            await asyncio.sleep(0.01)
            if out:
                break
        pipe.stop()
        return out

    out = asyncio.run(main())
    assert pd.concat(out)[["k", "window_end", "s"]].values.tolist() == [["a", 1000, 1.0]]
