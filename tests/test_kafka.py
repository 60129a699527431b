"""Kafka in and out on a real broker (Tansu, started by tests/kafka_broker.py)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streamlab as sl
from streamlab.checkpoint import read_checkpoint
from streamlab.core.partitions import PARTS_ATTR, PartitionMarks, per_partition_watermark
from streamlab.core.timecol import NEG_INF
from streamlab.core.watermarks import marks_of
from tests.kafka_broker import (  # noqa: F401
    free_port,
    kafka_fixture,
    new_topic,
    produce,
    start_tansu,
    stop,
    wait_until,
)


def disordered(n=3000, seed=0, keys="abcd"):
    """Events in arrival order: jittered times, about 3% of them far too late."""
    rng = np.random.default_rng(seed)
    ts = np.arange(n) * 10 + rng.integers(-300, 300, n)
    ts[rng.random(n) < 0.03] -= 2000
    return pd.DataFrame({"ts": ts, "k": rng.choice(list(keys), n), "v": rng.integers(0, 40, n) * 0.25})


def hop(src):
    return src.watermark("400ms").window(sl.Hop("1s", "250ms"), by="k").agg(
        n=("v", "count"), s=("v", "sum"), hi=("v", "max"), first=("v", "first"))


def run(res):
    late = res.late.sink_to_list()
    out = res.collect()
    return out, (pd.concat(late, ignore_index=True) if late else pd.DataFrame())


# --- the main test: a Hop window over Kafka gives exactly what from_frame gives --------------
def test_hop_over_kafka_equals_from_frame(kafka):
    df = disordered()
    topic = new_topic(kafka, 1)
    produce(kafka, topic, df.to_dict("records"))
    src = sl.from_kafka(topic, bootstrap=kafka, time="ts", unit="ms", stop_at_end=True, batch_size=256)
    got, got_late = run(hop(src))
    want, want_late = run(hop(sl.from_frame(df, time="ts", unit="ms")))
    assert len(want) > 100 and len(want_late) > 50
    pd.testing.assert_frame_equal(got, want)
    pd.testing.assert_frame_equal(got_late, want_late)
    state = src.snapshot_node()["state"]
    assert state["broker"] == "connected" and state["partitions"]["0"]["offset"] == len(df)


def test_event_time_from_the_kafka_timestamp(kafka):
    df = disordered(800, seed=1)
    topic = new_topic(kafka, 1)
    produce(kafka, topic, df[["k", "v"]].to_dict("records"), timestamps=df["ts"] + 1_700_000_000_000)
    src = sl.from_kafka(topic, bootstrap=kafka, time="kafka_timestamp", stop_at_end=True)
    got, got_late = run(hop(src))
    frame = df.assign(kafka_timestamp=pd.to_datetime(df["ts"] + 1_700_000_000_000, unit="ms", utc=True))
    want, want_late = run(hop(sl.from_frame(frame[["k", "v", "kafka_timestamp"]], time="kafka_timestamp")))
    pd.testing.assert_frame_equal(got, want)
    pd.testing.assert_frame_equal(got_late, want_late)
    assert str(got["window_start"].dt.tz) == "UTC"


# --- per-partition watermarks -------------------------------------------------------------
def model_watermarks(batches, delay):
    """Flink's rule row by row: W = max(W, min over active partitions of (their max ts) - delay)."""
    pmax, current, out = {}, NEG_INF, []
    for part, ts, active in batches:
        act = set(active) | set(part)
        for p, t in zip(part, ts):
            lows = [pmax.get(q, NEG_INF) for q in act]
            low = min(lows) if lows else None
            if low is not None and low > NEG_INF:
                current = max(current, low - delay)
            out.append(current)
            pmax[p] = max(pmax.get(p, NEG_INF), t)
        lows = [pmax.get(q, NEG_INF) for q in act]
        if lows and min(lows) > NEG_INF:
            current = max(current, min(lows) - delay)
    return out, current


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 500)), max_size=12), max_size=6),
       st.integers(0, 50), st.lists(st.sets(st.integers(0, 3)), min_size=6, max_size=6))
def test_per_partition_rule_matches_model(batches, delay, actives):
    pmax, current, got = {}, NEG_INF, []
    for rows, active in zip(batches, actives):
        part = np.array([p for p, _ in rows], dtype="int64")
        ts = np.array([t for _, t in rows], dtype="int64")
        wm, current = per_partition_watermark(ts, part, tuple(active), pmax, current, delay)
        got.extend(wm.tolist())
    want, want_current = model_watermarks(
        [([p for p, _ in rows], [t for _, t in rows], active) for rows, active in zip(batches, actives)], delay)
    assert got == want and current == want_current


def test_per_partition_watermark_on_three_partitions(kafka):
    """Partitions advance at different rates; every row's watermark follows the model."""
    rng = np.random.default_rng(7)
    n = 600
    parts = np.repeat([0, 1, 2], n)
    ts = np.concatenate([np.arange(n) * rate + rng.integers(0, 40, n) for rate in (10, 3, 6)])
    order = rng.permutation(3 * n)
    order = np.concatenate([np.sort(order[parts[order] == p]) for p in range(3)])  # in order per partition
    df = pd.DataFrame({"ts": ts[order], "k": "a", "v": 1.0, "p": parts[order]})
    topic = new_topic(kafka, 3)
    produce(kafka, topic, df[["ts", "k", "v"]].to_dict("records"), partitions=df["p"])
    src = sl.from_kafka(topic, bootstrap=kafka, time="ts", unit="ms", stop_at_end=True, batch_size=100,
                        metadata=True)
    marked = src.watermark("50ms")
    frames = marked.sink_to_list()
    res = marked.window(sl.Tumble("100ms")).agg(n=("v", "count"))
    out = res.collect()
    batches = [(f["partition"].tolist(), f["ts"].tolist(), f.attrs[PARTS_ATTR].active) for f in frames]
    want, want_last = model_watermarks(batches, 50)
    got = [w for f in frames for w in marks_of(f).wm.tolist()] if frames else []
    assert sum(len(b[0]) for b in batches) == 3 * n
    assert got == want
    assert marked.current == want_last
    assert out["n"].sum() + len(res.late.ledger(10_000)) == 3 * n
    # the slowest partition holds the stream back: it never gets ahead of partition 1's max - delay
    assert marked.snapshot_node()["state"]["partitions"]["1"]["max_event_time"] == int(ts[parts == 1].max())


def test_idle_partition_stops_holding_the_watermark(kafka):
    topic = new_topic(kafka, 3)
    rows = [{"ts": i * 10, "k": "a", "v": 1.0} for i in range(300)]
    produce(kafka, topic, rows, partitions=[i % 2 for i in range(300)])  # partition 2 stays empty

    def build(idle):
        src = sl.from_kafka(topic, bootstrap=kafka, time="ts", unit="ms", idle_timeout=idle)
        return src, src.watermark("0ms").window(sl.Tumble("500ms")).agg(n=("v", "count"))

    src, held = build(None)
    assert len(held.collect(timeout=1.5)) == 0  # partition 2 has sent nothing: the watermark is -inf
    src.close()
    src, res = build("300ms")
    t0 = time.monotonic()
    out = res.collect(n=1, timeout=20)
    assert len(out) == 1 and out["n"].iloc[0] == 50 and time.monotonic() - t0 >= 0.3
    assert src.snapshot_node()["state"]["partitions"]["2"]["active"] is False
    src.close()


# --- errors, formats, broker trouble ----------------------------------------------------------
def test_malformed_messages_go_to_errors_with_partition_and_offset(kafka):
    topic = new_topic(kafka, 1)
    values = [{"ts": 0, "k": "a", "v": 1.0}, "{not json", "[1, 2]", {"k": "a", "v": 2.0},
              {"ts": "soon", "k": "a", "v": 3.0}, {"ts": 1500, "k": "a", "v": 4.0}]
    produce(kafka, topic, values)
    res = sl.from_kafka(topic, bootstrap=kafka, time="ts", unit="ms", stop_at_end=True).window(
        sl.Tumble("1s"), by="k").agg(n=("v", "count"))
    errors = res.errors.sink_to_list()
    out = res.collect()
    assert out["n"].tolist() == [1, 1]
    err = pd.concat(errors, ignore_index=True)
    assert err[["partition", "offset"]].values.tolist() == [[0, 1], [0, 2], [0, 3], [0, 4]]
    assert err["value"].iloc[0] == "{not json"
    reasons = err["reason"].tolist()
    assert "not valid JSON" in reasons[0] and "not an object" in reasons[1]
    assert "no time field 'ts'" in reasons[2] and "'soon'" in reasons[3]
    assert res.snapshot()["counters"]["errors"] == 4


def test_csv_and_raw_formats(kafka):
    topic = new_topic(kafka, 1)
    produce(kafka, topic, ["0,a,1.5", "400,b,2", "oops", "1200,a,3"], timestamps=[5, 6, 7, 1005])
    src = sl.from_kafka(topic, bootstrap=kafka, time="ts", unit="ms", format="csv", columns=["ts", "k", "v"],
                        stop_at_end=True)
    errors = src.errors.sink_to_list()
    out = src.window(sl.Tumble("1s")).agg(s=("v", "sum")).collect()
    assert out["s"].tolist() == [3.5, 3.0]
    assert errors[0][["offset", "value"]].values.tolist() == [[2, "oops"]]
    raw = sl.from_kafka(topic, bootstrap=kafka, time="kafka_timestamp", unit="ms", format="raw", stop_at_end=True)
    got = raw.collect()
    assert got.columns.tolist() == ["key", "value", "kafka_timestamp"]
    assert got["kafka_timestamp"].tolist() == [5, 6, 7, 1005] and got["value"].iloc[2] == "oops"


def test_unreachable_broker_is_retried_and_shown_then_recovers():
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    src = sl.from_kafka("later", bootstrap=bootstrap, time="ts", unit="ms")
    res = src.window(sl.Tumble("1s")).agg(n=("ts", "count"))
    log = CallLog().install(src, "_make_consumer")

    def source_state():
        return next(op for op in res.snapshot()["operators"] if op["kind"] == "source")["state"]

    async def scenario():
        log.loop_thread = threading.get_ident()
        res.start()
        while not (source_state().get("broker") == "unreachable" and source_state()["attempts"] >= 2):
            assert res.pipeline.state == "running", getattr(res.pipeline, "error", None)
            await asyncio.sleep(0.05)
        state = source_state()
        assert state["retry_in_s"] >= 0 and "error" in state
        json.dumps(res.snapshot())  # what the widgets and the side panel read
        proc, _ = await asyncio.to_thread(start_tansu, port)
        try:
            await asyncio.to_thread(new_topic_named, bootstrap, "later")
            await asyncio.to_thread(produce, bootstrap, "later", [{"ts": i * 100} for i in range(30)])
            deadline = time.monotonic() + 30
            while src.counters.rows_out < 30:
                assert time.monotonic() < deadline, f"no recovery: {source_state()}"
                assert res.pipeline.state == "running"
                await asyncio.sleep(0.05)
            assert source_state()["broker"] == "connected"
        finally:
            res.stop()
            src.close()
            await src.closed()
            await asyncio.to_thread(stop, proc)

    asyncio.run(scenario())
    assert log.waiting_on_loop() == []
    assert {"list_topics", "close"} <= log.names_off_loop()


def new_topic_named(bootstrap, name):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    admin.create_topics([NewTopic(name, 1, 1)])["later"].result(30)
    wait_until(lambda: admin.list_topics(name, timeout=5).topics[name].partitions, 30, "the topic")


def test_partition_marks_follow_filtered_rows():
    marks = PartitionMarks(np.array([0, 1, 2, 1]), pd.RangeIndex(4), (0, 1, 2))
    df = pd.DataFrame({"v": [1, 2, 3, 4]})
    assert marks.partitions_of(df).tolist() == [0, 1, 2, 1]
    assert marks.partitions_of(df[df.v > 2]).tolist() == [2, 1]


def test_periodic_checkpoints_in_a_synchronous_collect(kafka, tmp_path):
    topic = new_topic(kafka, 1)
    produce(kafka, topic, [{"ts": i * 10, "k": "a", "v": 1.0} for i in range(500)])
    src = sl.from_kafka(topic, bootstrap=kafka, time="ts", unit="ms", stop_at_end=True, batch_size=50)
    res = src.watermark("0ms").window(sl.Tumble("1s")).agg(n=("v", "count"))
    ck = res.checkpoint(tmp_path / "c.json", every="1ms")
    assert res.collect()["n"].sum() == 500
    assert ck.written >= 2  # between batches, offered by the Kafka source
    offsets = read_checkpoint(tmp_path / "c.json")["operators"][0]["state"]["offsets"]
    assert 0 < offsets["0"] <= 500
    ck.stop()
    src.close()


def test_offsets_count_only_emitted_batches(kafka, tmp_path):
    topic = new_topic(kafka, 1)
    produce(kafka, topic, [{"ts": i} for i in range(50)])
    src = sl.from_kafka(topic, bootstrap=kafka, time="ts", unit="ms", stop_at_end=True, batch_size=20)
    got = wait_until(lambda: (b := src.next_batch()) is not None and len(b[0]) and b, 20, "a batch")
    assert src.save_state()["offsets"] == {}  # handed out, not emitted: not in a checkpoint yet
    src.emit_batch(got[0])
    assert src.save_state()["offsets"] == {"0": len(got[0])}
    src.close()


def test_committed_offsets_follow_checkpoints(kafka, tmp_path):
    topic = new_topic(kafka, 1)
    produce(kafka, topic, [{"ts": i} for i in range(40)])
    group = f"g-{topic}"
    first = sl.from_kafka(topic, bootstrap=kafka, time="ts", unit="ms", group=group, stop_at_end=True)
    assert len(first.collect()) == 40
    first.checkpoint(tmp_path / "c.json")
    first.close()  # commits the checkpoint's offsets for good
    produce(kafka, topic, [{"ts": 100 + i} for i in range(5)])
    again = sl.from_kafka(topic, bootstrap=kafka, time="ts", unit="ms", group=group, start="committed",
                          stop_at_end=True)
    assert again.collect()["ts"].tolist() == [100, 101, 102, 103, 104]
    again.close()


def test_to_kafka_round_trip(kafka):
    df = disordered(1000, seed=4)
    out_topic = new_topic(kafka, 1, prefix="out")
    res = hop(sl.from_frame(df, time="ts", unit="ms"))
    sink = res.to_kafka(out_topic, bootstrap=kafka)
    log = CallLog().install(sink, "_make_producer")
    written = res.collect()
    assert sink.delivered == len(written) > 0
    # no running loop: the end of input waits for delivery right here, with a blocking flush
    assert [c.name for c in log.calls if c.name == "flush" and c.timeout > 29] == ["flush"]
    back = sl.from_kafka(out_topic, bootstrap=kafka, time="window_start", unit="ms", stop_at_end=True).collect()
    pd.testing.assert_frame_equal(back, written)


def test_stop_delivers_what_to_kafka_queued(kafka):
    out_topic = new_topic(kafka, 1, prefix="stop")

    log = CallLog()

    async def main():
        log.loop_thread = threading.get_ident()
        res = sl.demo.trades(rate=2000, keys=3, speed=50, seed=1).watermark("300ms").window(
            sl.Tumble("1s"), by="symbol").agg(n=("price", "size"))
        sink = res.to_kafka(out_topic, bootstrap=kafka)
        log.install(sink, "_make_producer")
        pipe = res.start()
        await wait_for_rows(lambda: res.counters.rows_out >= 3)
        pipe.stop()  # no end of input: stop() itself must deliver the queued rows...
        assert await sink.drained() == 0  # ...in the background, on the loop: drained() waits for it
        return sink, res.counters.rows_out

    async def wait_for_rows(cond):
        for _ in range(1000):
            if cond():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the pipeline emitted no windows")

    sink, emitted = asyncio.run(main())
    assert sink.delivered == emitted and sink.pending == 0 and sink.last_error is None
    assert log.waiting_on_loop() == []
    assert "flush" in log.names_on_loop()  # the drain: flush(0) and poll(0) on the loop
    back = sl.from_kafka(out_topic, bootstrap=kafka, time="window_start", stop_at_end=True).collect()
    assert len(back) == emitted


# --- the kernel's loop is never blocked ---------------------------------------------------------
# A running asyncio loop is the kernel's loop in Jupyter. Each test records every librdkafka call
# (which thread, which timeout) and asserts that none that can wait for the broker is made on the
# loop's thread; a ticker task shows the loop kept running while the waiting went on elsewhere.
NEVER_WAIT = {"produce", "assign", "pause", "resume", "assignment", "unassign"}


class Call(NamedTuple):
    name: str
    args: tuple
    kwargs: dict
    thread: int
    ticks: int  # the ticker's wake-ups while the call ran (0 without a ticker)

    @property
    def timeout(self) -> float | None:
        """The timeout given to poll/flush/consume (None: wait for ever)."""
        at = 1 if self.name == "consume" else 0
        got = self.args[at] if len(self.args) > at else self.kwargs.get("timeout")
        return None if got is None or got < 0 else got

    def may_wait(self) -> bool:
        """Could this call wait for the broker? Anything unknown counts as waiting."""
        if self.name in ("poll", "flush", "consume"):
            return self.timeout is None or self.timeout > 0
        if self.name == "commit":
            return self.kwargs.get("asynchronous", True) is False
        return self.name not in NEVER_WAIT


class Ticker:
    """A task on the loop waking up every millisecond: counts its wake-ups, keeps the longest gap."""

    def __init__(self):
        self.ticks, self.longest, self._task = 0, 0.0, None

    def start(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def _run(self):
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.001)
            now = time.monotonic()
            self.longest, last = max(self.longest, now - last), now
            self.ticks += 1

    def stop(self) -> None:
        self._task.cancel()


class Recorded:
    """A confluent-kafka Producer or Consumer whose method calls go to a :class:`CallLog`."""

    def __init__(self, real, log):
        self._real, self._log = real, log

    def __len__(self):
        return len(self._real)

    def __getattr__(self, name):
        attr = getattr(self._real, name)
        if not callable(attr):
            return attr
        log = self._log

        def call(*args, **kwargs):
            before = log.ticker.ticks if log.ticker else 0
            time.sleep(log.slow.get(name, 0.0))  # a slow broker, on whichever thread made the call
            try:
                return attr(*args, **kwargs)
            finally:
                after = log.ticker.ticks if log.ticker else 0
                log.calls.append(Call(name, args, kwargs, threading.get_ident(), after - before))
        return call


class CallLog:
    """Records the librdkafka calls of the producers or consumers a node makes."""

    def __init__(self, ticker=None, slow=None):
        self.calls: list[Call] = []
        self.ticker, self.slow = ticker, dict(slow or {})
        self.loop_thread = threading.get_ident()

    def install(self, node, factory: str) -> CallLog:
        make = getattr(node, factory)
        setattr(node, factory, lambda: Recorded(make(), self))
        return self

    def waiting_on_loop(self) -> list[Call]:
        return [c for c in self.calls if c.thread == self.loop_thread and c.may_wait()]

    def names_on_loop(self) -> set[str]:
        return {c.name for c in self.calls if c.thread == self.loop_thread}

    def names_off_loop(self) -> set[str]:
        return {c.name for c in self.calls if c.thread != self.loop_thread}


def test_draining_to_an_unreachable_broker_never_blocks_the_loop():
    """The end of input on the loop: delivery is tried in the background until flush_timeout."""
    df = pd.DataFrame({"ts": np.arange(0, 5000, 100), "v": 1.0})
    res = sl.from_frame(df, time="ts", unit="ms").window(sl.Tumble("1s")).agg(n=("v", "count"))
    sink = res.to_kafka("nowhere", bootstrap=f"127.0.0.1:{free_port()}", flush_timeout=1.0)
    log = CallLog().install(sink, "_make_producer")

    async def main():
        log.loop_thread = threading.get_ident()
        ticker = Ticker().start()
        out = await res.acollect()  # the end of input starts the drain and returns at once
        draining = sink.snapshot_node()["state"]
        ticks = ticker.ticks
        left = await sink.drained()
        ticker.stop()
        return out, draining, left, ticker.ticks - ticks, ticker.longest

    out, draining, left, ticks, longest = asyncio.run(main())
    assert len(out) == 5 and draining["draining"] and draining["pending"] == 5
    assert left == 5 == sink.pending and sink.delivered == 0
    assert "5 rows not delivered at the end of the input within 1s" in sink.last_error
    assert log.waiting_on_loop() == []  # the one check that matters: nothing waited on the loop
    assert sum(c.name == "flush" for c in log.calls) > 10  # flush(0) again and again, until the deadline
    assert ticks > 10, "the loop did not run while the sink drained"
    print(f"longest gap between ticks while draining: {longest:.3f} s")  # a figure, not a check


def test_pending_counts_rows_not_librdkafkas_own_error_events():
    """An unreachable broker queues connection-error events in librdkafka: they are not rows."""
    df = pd.DataFrame({"ts": np.arange(0, 5000, 100), "v": 1.0})
    res = sl.from_frame(df, time="ts", unit="ms").window(sl.Tumble("1s")).agg(n=("v", "count"))
    sink = res.to_kafka("nowhere", bootstrap=f"127.0.0.1:{free_port()}", flush_timeout=0.0)
    assert len(res.collect()) == 5
    queued = len(sink._producer)
    deadline = time.monotonic() + 10
    while len(sink._producer) == queued and time.monotonic() < deadline:
        time.sleep(0.05)  # librdkafka's thread retries the connection and queues error events
    assert len(sink._producer) > 5, "librdkafka queued no event beside the rows"
    assert sink.pending == 5 and sink.delivered == 0


def test_a_full_producer_queue_on_the_loop_keeps_rows_in_order_without_waiting(kafka):
    """librdkafka's queue holds 10 messages: on the loop the sink keeps the rest and never waits."""
    df = pd.DataFrame({"ts": np.arange(300) * 10, "v": np.arange(300) * 0.5})
    topic = new_topic(kafka, 1, prefix="full")
    src = sl.from_frame(df, time="ts", unit="ms", batch_size=100)
    sink = src.to_kafka(topic, bootstrap=kafka, config={"queue.buffering.max.messages": 10})
    log = CallLog().install(sink, "_make_producer")

    async def main():
        log.loop_thread = threading.get_ident()
        await src.acollect()
        return await sink.drained()

    assert asyncio.run(main()) == 0 and sink.delivered == 300
    assert sum(c.name == "produce" for c in log.calls) > 300  # the full queue refused some: tried again later
    assert log.waiting_on_loop() == []
    back = sl.from_kafka(topic, bootstrap=kafka, time="ts", unit="ms", stop_at_end=True).collect()
    pd.testing.assert_frame_equal(back, df)


def test_source_metadata_and_close_wait_off_the_loop(kafka):
    """list_topics / committed / the commit and close at close() run on a worker thread."""
    from confluent_kafka import Consumer, TopicPartition

    topic = new_topic(kafka, 2)
    produce(kafka, topic, [{"ts": i} for i in range(40)], partitions=[i % 2 for i in range(40)])
    group = f"g-{topic}"
    first = Consumer({"bootstrap.servers": kafka, "group.id": group, "log_level": 0})
    first.commit(offsets=[TopicPartition(topic, 0, 5), TopicPartition(topic, 1, 5)], asynchronous=False)
    first.close()
    src = sl.from_kafka(topic, bootstrap=kafka, time="ts", unit="ms", group=group, start="committed",
                        stop_at_end=True)
    log = CallLog(slow={"list_topics": 0.3, "committed": 0.3}).install(src, "_make_consumer")

    async def main():
        ticker = Ticker().start()
        log.loop_thread, log.ticker = threading.get_ident(), ticker
        out = await src.acollect()
        src.on_checkpoint(src.save_state())  # as after a checkpoint: close() commits these for good
        src.close()
        await src.closed()
        ticker.stop()
        return out

    out = asyncio.run(main())
    assert sorted(out["ts"]) == list(range(10, 40))  # each partition from its committed offset 5
    assert log.waiting_on_loop() == []
    assert {"list_topics", "committed", "commit", "close"} <= log.names_off_loop()
    assert "consume" in log.names_on_loop()
    slow = [c for c in log.calls if c.name in ("list_topics", "committed")]
    assert all(c.ticks >= 10 for c in slow), f"the loop stood still during a metadata call: {slow}"
    probe = Consumer({"bootstrap.servers": kafka, "group.id": group, "log_level": 0})
    committed = probe.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
    probe.close()
    assert [tp.offset for tp in committed] == [20, 20]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="format='csv' needs columns"):
        sl.from_kafka("t", format="csv")
    with pytest.raises(ValueError, match="start='middle'"):
        sl.from_kafka("t", start="middle")
    with pytest.raises(ValueError, match="use time='kafka_timestamp'"):
        sl.from_kafka("t", format="raw")
    with pytest.raises(ValueError, match="unit=None"):
        sl.from_kafka("t", time="kafka_timestamp", unit="s")
