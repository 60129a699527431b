"""``res.to_kafka(topic, ...)``: produce every emitted row to a Kafka topic.

Delivery never blocks a running asyncio loop (the kernel's, in Jupyter): see :class:`KafkaSink`.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time as _time

import pandas as pd

from ..core.snapshot import OperatorSnapshot
from ..sinks import SinkNode
from .loop import in_loop
from .source import _log, kafka_module
from .upsert import upsert_messages

SINK_FORMATS = ("json", "csv", "raw")
DRAIN_POLL_S = 0.005  # on the loop: pause between non-blocking poll(0)/flush(0) calls while draining
FULL_WAIT_S = 0.05  # without a loop: wait for deliveries when librdkafka's queue is full


def encode_rows(df: pd.DataFrame, fmt: str) -> list[bytes | None]:
    """One message value per row (None: a null value, for ``raw`` rows whose value is None).

    >>> df = pd.DataFrame({"k": ["a"], "window_end": pd.to_datetime([1000], unit="ms", utc=True), "n": [2]})
    >>> encode_rows(df, "json")
    [b'{"k":"a","window_end":"1970-01-01T00:00:01.000Z","n":2}']
    """
    if fmt == "json":
        text = df.to_json(orient="records", lines=True, date_format="iso", date_unit="ms")
    elif fmt == "csv":
        text = df.to_csv(header=False, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    else:
        return [None if v is None else str(v).encode() for v in df["value"].tolist()]
    return [line.encode() for line in text.splitlines() if line]


class KafkaSink(SinkNode):
    """Produces each row of each batch; rows pass through unchanged, so more operators can follow.

    At the end of the input (``on_flush``) and at ``stop()`` (``on_stop``) the sink delivers what it
    queued, waiting at most ``flush_timeout`` seconds:

    - without a running asyncio loop (a script's ``collect()``) it waits right there, with a
      blocking ``producer.flush(flush_timeout)``;
    - with one (Jupyter, ``start()``, ``acollect()``) it never blocks the loop: a task on the loop
      drains the producer with non-blocking ``poll(0)``/``flush(0)`` calls, so delivery goes on
      after ``stop()`` returns. ``await sink.drained()`` waits for it and returns how many rows
      were not delivered (0: all of them). Await it before the loop ends: ``asyncio.run`` cancels
      the drain when its coroutine returns.

    When librdkafka's local queue is full, rows wait in the sink (in order) and are handed over on
    the next batch, timer tick or drain; without a loop the sink waits for deliveries instead.
    """

    def __init__(self, upstream, topic, *, bootstrap, format="json", key=None, config=None,
                 flush_timeout=30.0):
        if format not in SINK_FORMATS:
            raise ValueError(f"to_kafka format={format!r} is not supported; use one of {SINK_FORMATS}")
        if isinstance(flush_timeout, bool) or not isinstance(flush_timeout, (int, float)) or not flush_timeout >= 0:
            raise ValueError(f"flush_timeout must be a number of seconds >= 0, got {flush_timeout!r}")
        if key is None and "op" in (getattr(upstream, "columns", None) or []):
            raise ValueError("to_kafka of a changelog (an 'op' column) writes upserts: give key=, "
                             "e.g. the groupby keys (key='page' or key=['page', 'day'])")
        super().__init__(upstream)
        self.topic, self.bootstrap, self.format, self.key = topic, bootstrap, format, key
        self.config = dict(config or {})
        self.flush_timeout = float(flush_timeout)
        self._producer = None
        self._waiting: collections.deque = collections.deque()  # (key, value) not yet taken by librdkafka
        self._drain: asyncio.Task | None = None
        self._drain_until = 0.0
        self._drain_when = ""
        self.delivered = 0
        self._in_flight = 0  # rows librdkafka took and has not reported on yet
        self.last_error = None

    def label(self) -> str:
        return f"to_kafka({self.topic})"

    def _make_producer(self):
        ck = kafka_module()
        conf = {"bootstrap.servers": self.bootstrap, "linger.ms": 5, "logger": _log,
                "error_cb": lambda err: setattr(self, "last_error", err.str())}
        conf.update(self.config)
        return ck.Producer(conf)

    def _get(self):
        if self._producer is None:
            self._producer = self._make_producer()
        return self._producer

    @property
    def pending(self) -> int:
        """Rows produced and not yet delivered (nor failed).

        Counted here, not by ``len(producer)``: librdkafka's queue length also counts its own
        error events and protocol requests (an unreachable broker adds a few).
        """
        return len(self._waiting) + self._in_flight

    def _on_delivery(self, err, msg) -> None:
        self._in_flight -= 1
        if err is None:
            self.delivered += 1
        else:
            self.counters.errors += 1
            self.last_error = err.str()

    def _hand_over(self, until: float | None) -> None:
        """Give the waiting rows to librdkafka, in order. Its queue full: wait for deliveries until
        ``until`` (``time.monotonic()``; ``math.inf``: as long as it takes), or with ``None`` keep
        the rest for later (on a loop)."""
        producer, waiting = self._get(), self._waiting
        while waiting:
            key, value = waiting[0]
            try:
                producer.produce(self.topic, value, key, on_delivery=self._on_delivery)
            except BufferError:
                left = -1.0 if until is None else until - _time.monotonic()
                if left <= 0:
                    return
                producer.poll(min(FULL_WAIT_S, left))
                continue
            waiting.popleft()
            self._in_flight += 1

    def on_batch(self, df: pd.DataFrame, port: int = 0, marks=None) -> pd.DataFrame:
        if not len(df):
            return df
        if "op" in df.columns:  # a changelog: upserts keyed by key=, tombstones for -D (upsert.py)
            self._waiting.extend(upsert_messages(df, self.key, lambda rows: encode_rows(rows, self.format)))
        else:
            values = encode_rows(df, self.format)
            keys = [None] * len(values) if self.key is None else [str(k).encode() for k in df[self.key].tolist()]
            self._waiting.extend(zip(keys, values))
        self._hand_over(None if in_loop() else math.inf)
        self._get().poll(0)  # the producer _hand_over made or found
        return df

    def on_timer(self, now: float) -> None:
        if self._producer is not None:
            self._hand_over(None)
            self._producer.poll(0)

    def on_flush(self) -> None:
        """End of input: deliver every queued row (blocking only without a running loop)."""
        self._deliver("at the end of the input")

    def on_stop(self) -> None:
        """``stop()``: deliver what is queued (blocking only without a running loop)."""
        self._deliver("at stop()")

    def _deliver(self, when: str) -> None:
        if self._producer is None:
            return
        until = _time.monotonic() + self.flush_timeout
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a script: waiting here is what the caller wants
            self._hand_over(until)
            self._producer.flush(max(0.0, until - _time.monotonic()))
            left = self.pending
            self._report(left, when)
            return
        self._drain_until, self._drain_when = until, when
        if self._drain is None or self._drain.done() or self._drain.get_loop() is not loop:
            self._drain = loop.create_task(self._drain_task(self._producer), name=f"streamlab {self.label()} drain")

    async def _drain_task(self, producer) -> int:
        """On the loop: non-blocking calls only, until every row is delivered or the deadline."""
        try:
            while True:
                self._hand_over(None)
                producer.poll(0)  # serve delivery reports
                producer.flush(0)  # send now, do not wait (it serves delivery reports too)
                left = self.pending
                if not left or _time.monotonic() >= self._drain_until:
                    break
                await asyncio.sleep(DRAIN_POLL_S)
        except asyncio.CancelledError:
            self._report(self.pending, f"{self._drain_when} (delivery cancelled: await sink.drained())")
            raise
        self._report(left, self._drain_when)
        return left

    def _report(self, left: int, when: str) -> None:
        if left:
            self.last_error = f"{left} rows not delivered {when} within {self.flush_timeout:g}s"

    async def drained(self) -> int:
        """Wait until the rows queued at the end of the input or at ``stop()`` are delivered (or
        ``flush_timeout`` passed); returns how many were not delivered (0: all of them).

        On a running loop that delivery goes on in the background after ``stop()`` returns::

            pipe.stop()
            await sink.drained()

        With no delivery under way it returns at once (the rows still pending, if any).
        """
        task = self._drain
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            return self.pending
        await asyncio.wait([task])
        return self.pending if task.cancelled() else task.result()

    def snapshot_node(self, limit=50) -> OperatorSnapshot:
        snap = super().snapshot_node(limit)
        snap["state"] = {"topic": self.topic, "delivered": self.delivered, "pending": self.pending,
                         "draining": self._drain is not None and not self._drain.done(),
                         "last_error": self.last_error}
        return snap


def to_kafka(stream, topic, bootstrap="127.0.0.1:9092", format="json", key=None, config=None,
             flush_timeout=30.0) -> KafkaSink:
    """Write every row ``stream`` emits to ``topic`` (JSON objects by default; ``key=`` a column).

    A changelog (rows with ``op``) is written as upserts keyed by ``key=`` (required): ``+I``/``+U``
    give the row without ``op``, ``-D`` a tombstone, ``-U`` nothing (Flink's ``upsert-kafka``).

    ``config``: extra librdkafka producer settings. At the end of the input and at ``stop()`` the
    sink delivers what it queued, waiting at most ``flush_timeout`` seconds; on a running loop it
    does so in the background: ``await sink.drained()`` (see :class:`KafkaSink`).
    """
    return KafkaSink(stream, topic, bootstrap=bootstrap, format=format, key=key, config=config,
                     flush_timeout=flush_timeout)
