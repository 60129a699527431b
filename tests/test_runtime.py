"""Running pipelines: collect, and start/pause/resume/step/stop on the running asyncio loop."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pandas as pd
import pytest

import streamlab as sl


def sensors_pipeline(**kw):
    src = sl.demo.sensors(rate=2000, keys=4, seed=1, **kw)
    return src.watermark("300ms").window(sl.Tumble("1s"), by="sensor").agg(n=("temp", "size"), avg=("temp", "mean"))


async def wait_for(cond, timeout=10.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def test_start_needs_a_running_loop():
    res = sensors_pipeline(events=100, speed=None)
    with pytest.raises(sl.PipelineStateError, match="needs a running asyncio loop"):
        res.start()


def test_start_pause_resume_stop_on_the_running_loop_without_threads():
    async def main():
        res = sensors_pipeline(speed=20)  # endless, 20x real time
        threads_before = set(threading.enumerate())
        pipe = res.start(name="rt-test")
        assert sl.pipelines()["rt-test"] is pipe
        src = pipe.sources[0]
        await wait_for(lambda: src.counters.rows_out > 500)
        assert set(threading.enumerate()) == threads_before  # no hidden thread
        pipe.pause()
        assert pipe.state == "paused"
        await asyncio.sleep(0.05)
        frozen = src.counters.rows_out
        await asyncio.sleep(0.3)
        assert src.counters.rows_out == frozen  # nothing flows while paused
        before = src.counters.rows_out
        pipe.step()
        assert src.counters.rows_out > before  # step emits one batch even while paused
        pipe.resume()
        await wait_for(lambda: src.counters.rows_out > before + 500)
        pipe.stop()
        assert pipe.state == "stopped"
        stopped_at = src.counters.rows_out
        await asyncio.sleep(0.2)
        assert src.counters.rows_out == stopped_at
        json.dumps(pipe.snapshot())

    asyncio.run(main())


def test_a_paced_run_on_the_loop_delivers_every_row():
    # The wall time it takes (~0.3 s) is measured by benchmarks/bench_responsiveness.py.
    async def main():
        res = sensors_pipeline(speed=10, duration="3s")  # 3 s of event time at 10x
        out = await res.acollect()
        assert out["n"].sum() + len(res.late.ledger(10_000)) == 6000

    asyncio.run(main())


def test_speed_paces_event_time_against_the_wall_clock(monkeypatch):
    """Replayed with a simulated clock: the source asks to wait (event time elapsed) / speed."""
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    src = sl.demo.sensors(rate=2000, keys=4, seed=1, speed=10, duration="3s")
    first = latest = None
    while (got := src.next_batch()) is not None:
        batch, t = got
        delay = src.delay_for(t)
        assert delay >= 0 and len(batch)
        now[0] += delay  # what the runtime does: sleep that long, then emit the batch
        first = t if first is None else first
        latest = t if latest is None else max(latest, t)
    assert src.position == 6000
    assert 2500 < latest - first <= 3000  # about 3 s of event time...
    assert now[0] - 1000.0 == pytest.approx((latest - first) / 1000 / 10)  # ...replayed at 10x


def test_collect_with_n_stops_an_endless_source():
    out = sensors_pipeline(speed=None).collect(n=10)
    assert len(out) == 10


def test_collect_twice_gives_the_same_rows():
    res = sensors_pipeline(events=5000, speed=None)
    first = res.collect()
    second = res.collect()
    pd.testing.assert_frame_equal(first, second)


def test_step_runs_synchronously_and_finishes():
    res = sensors_pipeline(events=3000, speed=None, batch_size=1000)
    got = res.sink_to_list()
    pipe = res.pipeline
    steps = 0
    while pipe.state != "finished":
        pipe.step()
        steps += 1
    batches = len(list(pipe.sources[0]._batches()))
    assert steps == batches + 1  # every batch, then the end of input fires every window
    assert pipe.sources[0].position == 3000
    assert sum(f["n"].sum() for f in got) + len(res.late.ledger(10_000)) == 3000


def test_snapshot_holds_open_windows_with_partials():
    df = pd.DataFrame({"ts": [0, 100, 1500], "k": ["a", "b", "a"], "v": [1.0, 2.0, 4.0]})
    res = sl.from_frame(df, time="ts", unit="ms", batch_size=2).watermark(0).window(sl.Tumble(1000), by="k").agg(s=("v", "sum"))
    res.pipeline.step()
    snap = res.snapshot()
    json.dumps(snap)
    window = next(op for op in snap["operators"] if op["kind"] == "window")
    opened = {(w["key_text"], w["window_start"]): (w["rows"], w["partials"]["s"]) for w in window["state"]["open_windows"]}
    assert opened == {("a", 0): (1, 1.0), ("b", 0): (1, 2.0)}
    assert snap["counters"]["in"] == 2
    assert window["watermark"] == 100


def test_pipeline_registry_names_and_replaces():
    res = sensors_pipeline(events=10, speed=None)
    pipe = res.pipeline.rename("my-job")
    assert sl.pipelines()["my-job"] is pipe
    other = sensors_pipeline(events=10, speed=None).pipeline.rename("my-job")
    assert sl.pipelines()["my-job"] is other


def test_window_rows_gives_a_bounded_sample_of_one_window():
    df = pd.DataFrame({"ts": range(0, 3000, 10), "k": ["a", "b", "c"] * 100, "v": range(300)})
    res = sl.from_frame(df, time="ts", unit="ms", batch_size=50).window(sl.Tumble(1000), by="k").agg(n=("v", "size"))
    res.sample_rows = 120
    res.collect()
    rows = res.window_rows(2000, ["b"], limit=5)
    assert rows["k"].tolist() == ["b"] * 5
    assert rows["ts"].between(2000, 2999).all()
    assert rows["ts"].tolist() == sorted(rows["ts"].tolist())[-5:]
    assert sum(len(m) for _, m, _ in res._samples) <= 120 + 50  # bounded by sample_rows + one batch
    assert res.window_rows(0, ["a"]).empty  # old rows are no longer kept
