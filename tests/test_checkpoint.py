"""Checkpoint and restore: nothing lost, nothing twice; incompatible checkpoints are refused."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import streamlab as sl
from streamlab.checkpoint import read_checkpoint
from tests.kafka_broker import kafka_fixture, new_topic, produce, wait_until  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))


def events(n=2000, seed=0, step=7):
    """Disordered events with about 3% very late ones; values are multiples of 0.25 (exact sums)."""
    rng = np.random.default_rng(seed)
    ts = np.arange(n) * step + rng.integers(-200, 200, n)
    ts[rng.random(n) < 0.03] -= 1500
    return pd.DataFrame({"ts": ts, "k": rng.choice(list("abcde"), n),
                         "v": rng.integers(0, 40, n) * 0.25, "tag": rng.choice(["x", "y", "z"], n)})


PIPELINES = {
    "hop": lambda s: s.watermark("300ms").window(sl.Hop("1s", "250ms"), by="k").agg(
        n=("v", "count"), s=("v", "sum"), med=("v", "median"), first=("tag", "first")),
    "cumulate": lambda s: s.watermark("200ms").where("v > 1").window(sl.Cumulate("2s", "500ms"), by=["k", "tag"]).agg(
        avg=("v", "mean"), hi=("v", "max"), last=("tag", "last")),
    "session": lambda s: s.watermark("100ms").window(sl.Session("15ms"), by="k").agg(
        n=("v", "size"), s=("v", "sum"), sd=("v", "std")),
    "tumble-lateness": lambda s: s.watermark("100ms").window(sl.Tumble("500ms"), by="k", allowed_lateness="400ms").agg(
        n=("v", "count"), s=("v", "sum")),
}


def concat(frames):
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def canonical(df):
    """Rows in a fixed order (the order of rows fired together may depend on batching)."""
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True) if len(df) else df


def uninterrupted(build, make_source):
    res = build(make_source())
    late = res.late.sink_to_list()
    return res.collect(), concat(late), res.snapshot()["counters"]


@pytest.mark.parametrize("name", sorted(PIPELINES))
@pytest.mark.parametrize("stop_after", [1, 9])
def test_frame_source_resumes_exactly(tmp_path, name, stop_after):
    """Stop part way, checkpoint, rebuild, restore, finish: the union equals an uninterrupted run."""
    build, df = PIPELINES[name], events()
    expected, expected_late, expected_counters = uninterrupted(
        build, lambda: sl.from_frame(df, time="ts", unit="ms", batch_size=150))
    # batching does not change results, except for revisions with allowed_lateness (one per batch)
    after = 150 if name == "tumble-lateness" else 97
    first = build(sl.from_frame(df, time="ts", unit="ms", batch_size=150))
    out, late = first.sink_to_list(), first.late.sink_to_list()
    for _ in range(stop_after):
        first.step()
    path = tmp_path / "ckpt.json"
    assert first.checkpoint(path)["id"] == 1
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p]  # written atomically, nothing left over
    second = build(sl.from_frame(df, time="ts", unit="ms", batch_size=after))
    sl.restore(path, second)
    late2 = second.late.sink_to_list()
    rest = second.collect()
    pd.testing.assert_frame_equal(canonical(concat([*out, rest])), canonical(expected))
    pd.testing.assert_frame_equal(concat([*late, *late2]), expected_late)
    assert second.snapshot()["counters"] == expected_counters


def test_a_restored_run_checkpoints_and_restores_again(tmp_path):
    """Crash, restore, run on, checkpoint, crash again, restore again: still nothing lost or twice."""
    build, df = PIPELINES["session"], events(900, seed=7)
    expected, expected_late, _ = uninterrupted(build, lambda: sl.from_frame(df, time="ts", unit="ms", batch_size=100))
    out, late = [], []
    path = tmp_path / "ckpt.json"
    for run, steps in enumerate([2, 3]):
        res = build(sl.from_frame(df, time="ts", unit="ms", batch_size=100))
        if run:
            sl.restore(path, res)
        seen, seen_late = res.sink_to_list(), res.late.sink_to_list()
        for _ in range(steps):
            res.step()
        assert res.checkpoint(path)["id"] == run + 1
        out += list(seen)  # emitted up to the checkpoint
        late += list(seen_late)
        for _ in range(2):  # emitted after it: lost with the crash
            res.step()
    assert read_checkpoint(path)["operators"][0]["state"]["position"] == 500
    last = build(sl.from_frame(df, time="ts", unit="ms", batch_size=100))
    sl.restore(path, last)
    late_rest = last.late.sink_to_list()
    rest = last.collect()
    pd.testing.assert_frame_equal(canonical(concat([*out, rest])), canonical(expected))
    pd.testing.assert_frame_equal(canonical(concat([*late, *late_rest])), canonical(expected_late))


def test_csv_source_resumes_exactly_and_reports_errors_once(tmp_path):
    df = events(600, seed=3).assign(ts=lambda d: pd.to_datetime(d.ts, unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%S.%f"))
    df.loc[5, "ts"] = "not a time"
    csv = tmp_path / "events.csv"
    df.to_csv(csv, index=False)

    def build(src):
        return src.watermark("300ms").window(sl.Hop("1s", "500ms"), by="k").agg(n=("v", "count"), s=("v", "sum"))

    expected, expected_late, _ = uninterrupted(build, lambda: sl.from_csv(csv, time="ts", batch_size=64))
    first = build(sl.from_csv(csv, time="ts", batch_size=64))
    out, errors = first.sink_to_list(), first.errors.sink_to_list()
    for _ in range(4):
        first.step()
    first.checkpoint(tmp_path / "ckpt.json")
    second = build(sl.from_csv(csv, time="ts", batch_size=64))
    sl.restore(tmp_path / "ckpt.json", second)
    errors2 = second.errors.sink_to_list()
    rest = second.collect()
    pd.testing.assert_frame_equal(canonical(concat([*out, rest])), canonical(expected))
    assert sum(map(len, errors)) == 1 and sum(map(len, errors2)) == 0
    assert expected["window_start"].dt.tz is not None and len(expected_late) > 0


def test_incompatible_checkpoint_is_refused(tmp_path):
    df = events(300)

    def run(spec, **aggs):
        return sl.from_frame(df, time="ts", unit="ms").watermark("100ms").window(spec, by="k").agg(**(aggs or {"n": ("v", "count")}))

    res = run(sl.Hop("1s", "250ms"))
    res.step()
    res.checkpoint(tmp_path / "c.json")
    with pytest.raises(ValueError, match=r"window 'Hop\(1s, slide=500ms\)' here but 'Hop\(1s, slide=250ms\)'"):
        sl.restore(tmp_path / "c.json", run(sl.Hop("1s", "500ms")))
    with pytest.raises(ValueError, match="aggregates"):
        sl.restore(tmp_path / "c.json", run(sl.Hop("1s", "250ms"), s=("v", "sum")))
    longer = sl.from_frame(df, time="ts", unit="ms").watermark("100ms").where("v > 0").window(
        sl.Hop("1s", "250ms"), by="k").agg(n=("v", "count"))
    with pytest.raises(ValueError, match="different pipeline"):
        sl.restore(tmp_path / "c.json", longer)
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="not a streamlab checkpoint"):
        sl.restore(tmp_path / "other.json", run(sl.Hop("1s", "250ms")))
    with pytest.raises(TypeError, match="result stream"):
        sl.restore(tmp_path / "c.json")


def test_checkpoint_holds_state_as_json(tmp_path):
    df = pd.DataFrame({"ts": pd.to_datetime([0, 100, 2000], unit="ms"), "k": ["a", "b", "a"], "v": [1.0, 2.0, 3.0]})
    res = sl.from_frame(df, time="ts", batch_size=2).watermark("0ms").window(sl.Tumble("1s"), by="k").agg(
        first=("ts", "first"), n=("v", "count"))
    res.step()
    info = res.checkpoint(tmp_path / "c.json")
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["format"] == "streamlab-checkpoint" and doc["id"] == info["id"] == 1
    kinds = [op["kind"] for op in doc["fingerprint"]]
    assert kinds == ["source", "watermark", "window"]
    window = read_checkpoint(tmp_path / "c.json")["operators"][2]["state"]
    assert window["keys"]["columns"][0]["values"] == ["a", "b"] and window["seq"] == 2
    again = sl.from_frame(df, time="ts", batch_size=2).watermark("0ms").window(sl.Tumble("1s"), by="k").agg(
        first=("ts", "first"), n=("v", "count"))
    sl.restore(tmp_path / "c.json", again)
    whole = sl.from_frame(df, time="ts").watermark("0ms").window(sl.Tumble("1s"), by="k").agg(
        first=("ts", "first"), n=("v", "count")).collect()
    pd.testing.assert_frame_equal(again.collect(), whole)
    assert res.checkpoint(tmp_path / "c.json")["id"] == 2


def test_periodic_checkpoints_on_the_loop_resume_exactly(tmp_path):
    """Checkpoint every 30 ms on the loop while a paced source runs; stop abruptly; resume elsewhere."""
    df = events(1500, seed=5, step=2)
    build = PIPELINES["hop"]
    expected, expected_late, _ = uninterrupted(build, lambda: sl.from_frame(df, time="ts", unit="ms"))
    path = tmp_path / "ckpt.json"
    tagged = []

    async def first_run():
        res = build(sl.from_frame(df, time="ts", unit="ms", batch_size=50, speed=4))
        ck = res.checkpoint(path, every="30ms")
        res.sink(lambda f: tagged.append((ck.next_id, "w", f)))
        res.late.sink(lambda f: tagged.append((ck.next_id, "l", f)))
        res.start()
        await asyncio.to_thread(wait_until, lambda: ck.written >= 3, 20, "three checkpoints")
        res.stop()  # as if the process died here: rows after the last checkpoint do not count
        ck.stop()
        assert res.pipeline.sources[0].counters.rows_out < len(df), "stopped too late to test anything"

    asyncio.run(first_run())
    last = read_checkpoint(path)["id"]
    assert last >= 3
    second = build(sl.from_frame(df, time="ts", unit="ms"))
    sl.restore(path, second)
    late2 = second.late.sink_to_list()
    rest = second.collect()
    kept = [f for epoch, _, f in tagged if epoch <= last]
    windows = concat([f for (epoch, kind, f) in tagged if epoch <= last and kind == "w"] + [rest])
    late = concat([f for (epoch, kind, f) in tagged if epoch <= last and kind == "l"] + late2)
    assert kept
    pd.testing.assert_frame_equal(canonical(windows), canonical(expected))
    pd.testing.assert_frame_equal(late, expected_late)


def test_a_finished_input_gets_a_last_checkpoint(tmp_path):
    df = events(500)
    res = PIPELINES["hop"](sl.from_frame(df, time="ts", unit="ms"))

    async def go():
        ck = res.checkpoint(tmp_path / "c.json", every="10s")
        res.start()
        await asyncio.wait_for(ck.wait(), 20)
        return ck

    ck = asyncio.run(go())
    assert res.pipeline.state == "finished" and ck.written == 1
    assert read_checkpoint(tmp_path / "c.json")["operators"][0]["state"]["position"] == len(df)
    again = PIPELINES["hop"](sl.from_frame(df, time="ts", unit="ms"))
    sl.restore(tmp_path / "c.json", again)
    assert len(again.collect()) == 0  # everything was emitted before that checkpoint


# --- the key test: a Kafka job killed with SIGKILL and restored in a new process ---------------
def _job(kafka, topic, group, path, out, run, restore=False, throttle=0.0):
    cmd = [sys.executable, os.path.join(HERE, "kafka_job.py"), "--bootstrap", kafka, "--topic", topic,
           "--group", group, "--checkpoint", str(path), "--out", str(out), "--run", str(run),
           "--every", "0.15", "--throttle", str(throttle), "--batch-size", "100"]
    return subprocess.Popen(cmd + (["--restore"] if restore else []), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _lines(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f.read().splitlines() if line.strip()]


def _checkpoint_id(path):
    try:
        return read_checkpoint(path)["id"]
    except (FileNotFoundError, ValueError):
        return 0


def _row_key(kind, row):
    return kind, json.dumps(row, sort_keys=True)


def test_kafka_job_killed_and_restored_loses_and_repeats_nothing(kafka, tmp_path):
    from confluent_kafka import Consumer, TopicPartition

    sys.path.insert(0, HERE)
    from kafka_job import windows

    df = events(3000, seed=11, step=5)[["ts", "k", "v"]]
    topic = new_topic(kafka, 1, prefix="crash")
    produce(kafka, topic, df.to_dict("records"))
    group = f"g-{topic}"
    path, out = tmp_path / "ckpt.json", tmp_path / "rows.jsonl"

    job = _job(kafka, topic, group, path, out, run=1, throttle=0.05)
    try:
        wait_until(lambda: job.poll() is not None or _checkpoint_id(path) >= 3, 60, "three checkpoints")
        assert job.poll() is None, f"the job ended before it could be killed: {job.communicate()}"
        job.send_signal(signal.SIGKILL)
        job.wait(10)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == -signal.SIGKILL
    saved = read_checkpoint(path)
    last = saved["id"]
    offset = saved["operators"][0]["state"]["offsets"]["0"]
    assert 0 < offset < len(df), "the kill must happen mid-stream"
    assert not any("done" in line for line in _lines(out))

    # offsets are committed only with checkpoints: never beyond the last one
    probe = Consumer({"bootstrap.servers": kafka, "group.id": group, "log_level": 0})
    committed = probe.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    assert committed <= offset

    job = _job(kafka, topic, group, path, out, run=2, restore=True)
    stdout, stderr = job.communicate(timeout=120)
    assert job.returncode == 0, stderr
    lines = _lines(out)
    assert {"run": 2, "done": "finished"} in lines

    got = collections.Counter(
        _row_key(line["kind"], line["row"]) for line in lines
        if "row" in line and (line["run"] == 2 or line["epoch"] <= last))
    dropped = sum(1 for line in lines if "row" in line and line["run"] == 1 and line["epoch"] > last)
    res = windows(sl.from_frame(df, time="ts", unit="ms"))
    late = res.late.sink_to_list()
    expected_windows = json.loads(res.collect().to_json(orient="records"))
    expected_late = json.loads(concat(late).to_json(orient="records"))
    expected = collections.Counter([_row_key("window", r) for r in expected_windows]
                                   + [_row_key("late", r) for r in expected_late])
    assert expected_late and expected_windows
    missing, doubled = expected - got, got - expected
    assert not missing and not doubled, (f"{sum(missing.values())} rows missing, {sum(doubled.values())} "
                                         f"extra; {dropped} uncommitted rows of the killed run were dropped")
    committed = probe.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    probe.close()
    assert committed == len(df)
