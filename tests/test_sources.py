"""Sources: frame, CSV, Parquet, streamz, demos; and streamz's own operators on streamlab nodes."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pandas as pd
import pytest
import streamz

import streamlab as sl


@pytest.fixture
def events():
    rng = np.random.default_rng(0)
    ts = pd.Timestamp("2024-03-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 10_000, 400)), unit="ms")
    return pd.DataFrame({"ts": ts.as_unit("ms"), "k": rng.choice(["x", "y"], 400), "v": rng.integers(0, 8, 400) * 0.25})


def windows(src):
    return src.watermark("200ms").window(sl.Hop("2s", "500ms"), by="k").agg(n=("v", "size"), s=("v", "sum")).collect()


def test_csv_and_parquet_give_the_same_windows_as_the_frame(events, tmp_path):
    events.to_csv(tmp_path / "e.csv", index=False)
    events.to_parquet(tmp_path / "e.parquet")
    want = windows(sl.from_frame(events, time="ts", batch_size=64))
    pd.testing.assert_frame_equal(windows(sl.from_csv(tmp_path / "e.csv", time="ts", batch_size=50)), want)
    pd.testing.assert_frame_equal(windows(sl.from_parquet(tmp_path / "e.parquet", time="ts", batch_size=70)), want)


def test_csv_with_a_bad_time_sends_the_row_to_errors(tmp_path):
    (tmp_path / "b.csv").write_text("ts,v\n2024-01-01T00:00:00,1\nyesterday,2\n2024-01-01T00:00:01,3\n")
    res = sl.from_csv(tmp_path / "b.csv", time="ts").window(sl.Tumble("10s")).agg(s=("v", "sum"))
    assert res.collect()["s"].tolist() == [4]
    assert res.errors.collect()["reason"].tolist() == ["time column 'ts' is unparseable: 'yesterday'"]


@pytest.mark.parametrize("shape", ["dicts", "tuples", "frames"])
def test_from_streamz_accepts_dicts_tuples_and_frames(events, shape):
    s = streamz.Stream()
    src = sl.from_streamz(s, time="ts", columns=list(events.columns) if shape == "tuples" else None, batch_size=33)
    res = src.watermark("200ms").window(sl.Hop("2s", "500ms"), by="k").agg(n=("v", "size"), s=("v", "sum"))
    out = res.sink_to_list()
    if shape == "frames":
        for i in range(0, len(events), 50):
            s.emit(events.iloc[i:i + 50])
    else:
        for row in events.itertuples(index=False):
            s.emit(row._asdict() if shape == "dicts" else tuple(row))
    res.pipeline.flush()
    got = pd.concat(out, ignore_index=True)
    pd.testing.assert_frame_equal(got, windows(sl.from_frame(events, time="ts")), check_dtype=False)


def test_from_streamz_rejects_unknown_elements_into_errors():
    s = streamz.Stream()
    src = sl.from_streamz(s, time="ts")
    errors = src.errors.sink_to_list()
    s.emit(42)
    assert "cannot read a int element" in errors[0]["reason"][0]


@pytest.mark.parametrize("maker, columns", [
    (sl.demo.sensors, ["ts", "sensor", "temp", "humidity"]),
    (sl.demo.clicks, ["ts", "user", "page", "referrer"]),
    (sl.demo.trades, ["ts", "symbol", "price", "volume"]),
])
def test_demo_sources_are_seeded_disordered_and_have_their_schema(maker, columns):
    a = maker(rate=500, keys=5, events=3000, speed=None, seed=7).collect()
    b = maker(rate=500, keys=5, events=3000, speed=None, seed=7).collect()
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == columns and len(a) == 3000
    assert str(a["ts"].dt.tz) == "UTC"
    assert (a["ts"].diff().dt.total_seconds() < 0).any()  # arrival order is not event order
    assert a.iloc[:, 1].nunique() <= 5


def test_demo_late_fraction_produces_late_rows():
    res = sl.demo.sensors(rate=1000, keys=4, events=5000, speed=None, late_fraction=0.05, disorder="200ms")
    agg = res.watermark("200ms").window(sl.Tumble("1s"), by="sensor").agg(n=("temp", "size"))
    agg.collect()
    late = agg.late.collect()
    assert 100 < len(late) < 400
    assert (late["ts"] <= late["watermark"] + pd.Timedelta("1s")).all()


def test_demo_idle_gaps_leave_quiet_periods():
    df = sl.demo.trades(rate=200, keys=3, duration="120s", idle="10s", speed=None, disorder="0ms").collect()
    gaps = df["ts"].sort_values().diff().dt.total_seconds()
    assert gaps.max() >= 9


def test_demo_sensors_temperature_follows_a_daily_cycle():
    df = sl.demo.sensors(rate=2, keys=2, duration="24h", speed=None, disorder="0ms", late_fraction=0).collect()
    by_hour = df.groupby(df["ts"].dt.hour)["temp"].mean()
    assert by_hour.idxmax() in range(12, 19) and by_hour.idxmin() in list(range(0, 7)) + [23]


def test_streamz_operators_keep_their_meaning_on_streamlab_nodes(events):
    res = sl.from_frame(events, time="ts", batch_size=100).watermark("200ms")
    sizes = res.map(len).sink_to_list()
    filtered = res.filter(lambda df: len(df) == 100).sink_to_list()
    res.collect()
    assert sizes == [100, 100, 100, 100]
    assert len(filtered) == 4


def test_streamz_map_between_watermark_and_window_keeps_exact_semantics(events):
    plain = windows(sl.from_frame(events, time="ts", batch_size=37))
    mapped = (sl.from_frame(events, time="ts", batch_size=37).watermark("200ms")
              .map(lambda df: df.assign(v=df["v"] * 2))
              .window(sl.Hop("2s", "500ms"), by="k").agg(n=("v", "size"), s=("v", "sum")).collect())
    assert mapped["n"].tolist() == plain["n"].tolist()
    assert (mapped["s"] == plain["s"] * 2).all()


def test_rate_limit_and_buffer_work_on_the_running_loop(events):
    async def main():
        before = set(threading.enumerate())
        src = sl.from_frame(events, time="ts", batch_size=100)
        limited = src.rate_limit(0.01).map(len).sink_to_list()
        buffered = src.buffer(3).map(len).sink_to_list()
        pipe = src.pipeline.start()
        while pipe.state == "running" or len(limited) < 4 or len(buffered) < 4:
            await asyncio.sleep(0.01)
        assert set(threading.enumerate()) == before  # streamz's loop is the running loop: no thread
        return limited, buffered

    limited, buffered = asyncio.run(asyncio.wait_for(main(), 10))
    assert limited == buffered == [100, 100, 100, 100]


def test_batches_shared_with_another_operator_are_not_annotated_in_place(events):
    src = sl.from_frame(events, time="ts", batch_size=100)
    seen = src.sink_to_list()  # a second consumer of the source's frames
    res = src.watermark("200ms").window(sl.Hop("2s", "500ms"), by="k").agg(n=("v", "size"))
    res.collect()
    assert seen and all(not frame.attrs for frame in seen)
    alone = sl.from_frame(events, time="ts", batch_size=100).watermark("200ms").window(
        sl.Hop("2s", "500ms"), by="k").agg(n=("v", "size")).collect()
    pd.testing.assert_frame_equal(res.collect(), alone)
