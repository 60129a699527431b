"""``from_kafka``: a pull source over every partition of a Kafka topic (confluent-kafka).

The source assigns the partitions itself (one reader per pipeline, like a Flink source of
parallelism 1); ``group`` is used for committed offsets only, and offsets are committed only
when a checkpoint is written. Polls never block the running loop: with a loop running, the
source takes what librdkafka has already fetched and, when nothing came, asks the runtime to
wait a little (``delay_for``). Calls that wait for the broker (metadata, committed offsets,
closing the consumer) run on a worker thread then (see ``streamlab.kafka.loop``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time as _time
import uuid

import numpy as np
import pandas as pd

from ..core.durations import to_ms
from ..core.partitions import PARTS_ATTR, PartitionMarks
from ..core.snapshot import OperatorSnapshot
from ..sources.base import Source
from .decode import FORMATS, KAFKA_TIME, decode
from .loop import in_loop, off_loop

STARTS = ("earliest", "latest", "committed")
IDLE_WAIT_S = 0.05  # wait between polls that brought nothing (on the loop)
SYNC_POLL_S = 0.1  # poll timeout when no loop is running (collect() in a script)
METADATA_TIMEOUT_S = 2.0  # list_topics / committed (on a worker thread when a loop is running)
BACKOFF_S = (0.25, 10.0)  # first and longest wait between attempts to reach the broker
_log = logging.getLogger("streamlab.kafka")
_DOWN = ("_TRANSPORT", "_ALL_BROKERS_DOWN", "_RESOLVE", "_TIMED_OUT")


def kafka_module():
    try:
        import confluent_kafka
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("Kafka needs confluent-kafka: pip install confluent-kafka") from None
    return confluent_kafka


class BatchInfo:
    """What a batch consumed: taken into account only when the batch is emitted."""

    __slots__ = ("offsets", "errors", "count", "signal")

    def __init__(self, offsets, errors, count, signal=False):
        self.offsets, self.errors, self.count, self.signal = offsets, errors, count, signal


class KafkaSource(Source):
    """Micro-batches from a Kafka topic; see :func:`from_kafka`."""

    push = False

    def __init__(self, topic, *, bootstrap, time, unit, format, group, start, columns, batch_size,
                 idle_timeout, stop_at_end, partitions, metadata, config, name):
        if not isinstance(topic, str) or not topic:
            raise ValueError(f"from_kafka(topic) takes a topic name, got {topic!r}")
        if format not in FORMATS:
            raise ValueError(f"format={format!r} is not supported; use one of {FORMATS}")
        if start not in STARTS:
            raise ValueError(f"start={start!r} is not supported; use one of {STARTS}")
        if format == "csv" and not columns:
            raise ValueError("format='csv' needs columns=[...] (the names of the CSV fields, in order)")
        if format == "raw" and time != KAFKA_TIME:
            raise ValueError(f"format='raw' has no fields to take time from; use time={KAFKA_TIME!r}")
        if time == KAFKA_TIME and unit not in (None, "ms"):
            raise ValueError(f"time={KAFKA_TIME!r} is in milliseconds: use unit=None (datetimes) or unit='ms'")
        cols = ["key", "value"] if format == "raw" else (list(columns) if columns else None)
        if cols is not None:
            extra = [KAFKA_TIME] if (time == KAFKA_TIME or metadata) else []
            cols += [c for c in extra + (["partition", "offset"] if metadata else []) if c not in cols]
            if time not in cols:
                raise ValueError(f"time={time!r} is not one of the columns {cols}")
        super().__init__(time=time, unit=unit, columns=cols, batch_size=batch_size, speed=None,
                         name=name or f"kafka:{topic}")
        self.topic, self.bootstrap, self.format, self.start_at = topic, bootstrap, format, start
        self.group = group or f"streamlab-{uuid.uuid4().hex[:12]}"
        self.fields = list(columns) if columns else None
        self.idle_timeout = None if idle_timeout is None else to_ms(idle_timeout, "s", name="idle_timeout") / 1000
        self.finite = bool(stop_at_end)
        self.only = None if partitions is None else sorted(int(p) for p in partitions)
        self.metadata = bool(metadata)
        self.config = dict(config or {})
        self._consumer = None
        self._generation = 0  # callbacks of a consumer being closed are ignored
        self._closing: concurrent.futures.Future | None = None  # the last consumer's commit and close
        self._resume: dict[int, int] = {}
        self._reset_kafka()

    # --- state ----------------------------------------------------------------------------
    def _reset_kafka(self) -> None:
        self.assigned: list[int] = []
        self.offsets: dict[int, int] = {}  # next offset per partition, as emitted downstream
        self._read: dict[int, int] = {}  # next offset per partition, as read from the broker
        self._finished: set[int] = set()
        self._seen: dict[int, float] = {}  # last time each partition delivered a message
        self._active_sent = None
        self._committed: dict[int, int] = {}
        self._to_commit: list = []  # offsets of the last checkpoint (committed again at close)
        self.status: dict = {"broker": "not connected"}
        self._attempts = 0
        self._retry_at = 0.0
        self._wait = 0.0
        self._meta: concurrent.futures.Future | None = None  # partitions and committed offsets, asked for

    def reset_state(self) -> None:
        super().reset_state()
        self.close()
        self._resume = {}
        self._reset_kafka()

    def close(self) -> None:
        """Close the consumer (it is made again on the next poll), committing the last checkpoint first.

        Both wait for the broker: with a running loop they happen on a worker thread (the next
        consumer is made only once they are done); ``await src.closed()`` waits for them.
        """
        consumer, self._consumer = self._consumer, None
        meta, self._meta = self._meta, None
        if consumer is None:
            return
        self._generation += 1
        self._closing = off_loop(_close_consumer, consumer, list(self._to_commit), meta)
        if self._closing.done():  # closed right here (no loop): its last commit is known
            for tp in self._closing.result():
                self._committed[tp.partition] = tp.offset

    async def closed(self) -> None:
        """Wait until the consumer closed by ``close()`` has committed and closed (on a running loop)."""
        if self._closing is not None:
            await asyncio.wrap_future(self._closing)

    # --- connecting -----------------------------------------------------------------------
    def _make_consumer(self):
        ck = kafka_module()
        generation = self._generation

        def current(callback):  # a closed consumer's callbacks (on a worker thread) change nothing
            return lambda *args: callback(*args) if self._generation == generation else None

        conf = {
            "bootstrap.servers": self.bootstrap, "group.id": self.group,
            "enable.auto.commit": False, "enable.auto.offset.store": False, "enable.partition.eof": True,
            "auto.offset.reset": "latest" if self.start_at == "latest" else "earliest",
            "reconnect.backoff.ms": 100, "reconnect.backoff.max.ms": 2000, "fetch.wait.max.ms": 100,
            "logger": _log, "error_cb": current(self._on_error), "on_commit": current(self._on_commit),
        }
        conf.update(self.config)
        try:
            return ck.Consumer(conf)
        except ck.KafkaException as exc:
            raise ValueError(f"from_kafka: bad consumer configuration: {exc}") from None

    def _on_error(self, err) -> None:
        if err.name() in _DOWN:
            self._down(err.str())
        else:
            self.status["last_error"] = err.str()

    def _on_commit(self, err, partitions) -> None:
        if err is not None:
            self.status["last_commit_error"] = str(err)
            return
        for tp in partitions:
            if tp.error is None and tp.offset >= 0:
                self._committed[tp.partition] = tp.offset

    def _down(self, message: str) -> None:
        self._attempts += 1
        wait = min(BACKOFF_S[0] * 2 ** (self._attempts - 1), BACKOFF_S[1])
        self._retry_at = _time.monotonic() + wait
        self.status = {"broker": "unreachable", "retry_in_s": round(wait, 2), "attempts": self._attempts,
                       "error": message}

    def _up(self) -> None:
        if self.status.get("broker") != "connected":
            self.status = {"broker": "connected"}
        self._attempts = 0

    def _metadata(self, consumer, resume: frozenset) -> tuple[list[int], dict[int, int]]:
        """The topic's partitions (those of ``partitions=``) and, for ``start="committed"``, the
        group's committed offsets. Waits for the broker: a worker thread runs it on a loop."""
        ck = kafka_module()
        topic = consumer.list_topics(self.topic, timeout=METADATA_TIMEOUT_S).topics.get(self.topic)
        parts = sorted(topic.partitions) if topic is not None and topic.error is None else []
        if self.only is not None:
            parts = [p for p in parts if p in self.only]
        committed = {}
        if parts and self.start_at == "committed" and any(p not in resume for p in parts):
            tps = consumer.committed([ck.TopicPartition(self.topic, p) for p in parts], timeout=METADATA_TIMEOUT_S)
            committed = {tp.partition: tp.offset for tp in tps if tp.offset >= 0}
        return parts, committed

    def _assign(self, consumer) -> bool:
        """Find the partitions and assign them at their start offsets (``consumer``: the current one).
        False: try again later (also while the answer is being fetched on a worker thread)."""
        ck = kafka_module()
        if self._meta is None:
            self._meta = off_loop(self._metadata, consumer, frozenset(self._resume))
        if not self._meta.done():
            return False
        got, self._meta = self._meta, None
        try:
            parts, committed = got.result()
        except ck.KafkaException as exc:
            self._down(str(exc.args[0].str() if exc.args else exc))
            return False
        if not parts:
            self._down(f"topic {self.topic!r} not found (or no such partitions)")
            self.status["broker"] = "connected"
            self.status["topic"] = "missing"
            return False
        default = ck.OFFSET_END if self.start_at == "latest" else ck.OFFSET_BEGINNING
        tps = []
        for p in parts:
            off = self._resume.get(p, committed.get(p, default))
            if off >= 0:
                self.offsets.setdefault(p, off)
                self._read[p] = off
            tps.append(ck.TopicPartition(self.topic, p, off))
        consumer.assign(tps)
        self.assigned = parts
        now = _time.monotonic()
        self._seen = {p: now for p in parts}
        self._up()
        return True

    # --- reading --------------------------------------------------------------------------
    def next_batch(self):
        """The next batch (possibly empty), or None once every partition reached its end (``stop_at_end``).

        The runtime offers its quiet point (``Pipeline.quiet_point``: periodic checkpoints) just
        before asking, so a source that waits between polls checkpoints too.
        """
        self._wait = 0.0
        if self.exhausted:
            return None
        if self._consumer is None:
            if self._closing is not None and not self._closing.done():  # the last consumer still commits
                self._wait = IDLE_WAIT_S
                return self._nothing(), None
            self._consumer = self._make_consumer()
        if not self.assigned:
            if _time.monotonic() < self._retry_at or not self._assign(self._consumer):
                self._wait = max(IDLE_WAIT_S, min(self._retry_at - _time.monotonic(), 0.5))
                return self._nothing(), None
        msgs = self._consumer.consume(self.batch_size, 0 if in_loop() else SYNC_POLL_S)
        rows = self._take(self._consumer, msgs)
        if self.finite and all(p in self._finished for p in self.assigned) and not rows:
            self.exhausted = True
            return None
        got = decode(rows, fmt=self.format, columns=self.fields, time=self.meta.column,
                     unit=self.meta.unit, metadata=self.metadata)
        active = self.active_partitions()
        signal = active != self._active_sent
        if not rows and not signal:
            self._wait = IDLE_WAIT_S
            return self._nothing(), None
        frame = got.frame if len(got.frame) else self._nothing()  # all malformed: still a valid signal
        frame.attrs[PARTS_ATTR] = PartitionMarks(got.part, frame.index, active,
                                                 BatchInfo(got.offsets, got.errors, len(rows), signal))
        if not rows:
            self._wait = IDLE_WAIT_S
        return frame, None

    def _take(self, consumer, msgs) -> list[tuple]:
        rows = []
        now = _time.monotonic()
        for m in msgs:
            err = m.error()
            p = m.partition()
            if err is not None:
                if err.name() == "_PARTITION_EOF":
                    self._up()
                    if self.finite and p not in self._finished:
                        self._finished.add(p)
                        consumer.pause([kafka_module().TopicPartition(self.topic, p)])
                elif err.name() in _DOWN:
                    self._down(err.str())
                else:
                    self.status["last_error"] = err.str()
                continue
            if p in self._finished:
                continue
            self._up()
            self._seen[p] = now
            off = m.offset()
            self._read[p] = off + 1
            ts_type, ts = m.timestamp()
            rows.append((p, off, ts if ts_type else None, m.key(), m.value()))
        return rows

    def active_partitions(self) -> tuple:
        """Partitions that hold the watermark back: assigned, not finished and not idle."""
        now = _time.monotonic()
        idle = self.idle_timeout
        return tuple(p for p in self.assigned if p not in self._finished
                     and (idle is None or now - self._seen.get(p, now) < idle))

    def _nothing(self) -> pd.DataFrame:
        cols = self.columns or [self.meta.column]
        return pd.DataFrame({c: np.zeros(0, dtype=object) for c in cols})

    def delay_for(self, t) -> float:
        """After a poll that brought nothing, the runtime waits a little before polling again."""
        return self._wait

    def emit_batch(self, batch: pd.DataFrame) -> None:
        """Account the batch's offsets and error rows, then send it (empty batches only as signals)."""
        marks = batch.attrs.get(PARTS_ATTR)
        info = getattr(marks, "extra", None)
        if not isinstance(info, BatchInfo):
            return
        for p, off in info.offsets.items():
            self.offsets[p] = max(self.offsets.get(p, off), off)
        self.position += info.count
        if info.errors is not None:
            self.send_errors(info.errors.drop(columns="reason"), info.errors["reason"].to_numpy())
        self._active_sent = marks.active
        if len(batch) or info.signal:
            super().emit_batch(batch)

    # --- checkpoints ----------------------------------------------------------------------
    def save_state(self) -> dict:
        return {"topic": self.topic, "group": self.group, "position": int(self.position),
                "offsets": {str(p): int(o) for p, o in sorted(self.offsets.items())}}

    def load_state(self, state: dict) -> None:
        if state.get("topic") != self.topic:
            raise ValueError(f"the checkpoint reads topic {state.get('topic')!r}, this source {self.topic!r}")
        self.close()
        self._reset_kafka()
        self._resume = {int(p): int(o) for p, o in state["offsets"].items()}
        self.offsets = dict(self._resume)
        self.position = int(state["position"])
        self.exhausted = False
        self.held = None  # a batch polled before the restore is read again from the offsets

    def on_checkpoint(self, state: dict) -> None:
        """Commit the checkpointed offsets (and only those) to the consumer group."""
        if self._consumer is None or not state["offsets"]:
            return
        ck = kafka_module()
        tps = [ck.TopicPartition(self.topic, int(p), int(o)) for p, o in state["offsets"].items()]
        self._to_commit = tps
        try:
            self._consumer.commit(offsets=tps, asynchronous=True)
        except ck.KafkaException as exc:
            self.status["last_commit_error"] = str(exc)

    # --- inspection -----------------------------------------------------------------------
    def snapshot_node(self, limit=50) -> OperatorSnapshot:
        snap = super().snapshot_node(limit)
        active = set(self.active_partitions())
        snap["state"].update({
            "topic": self.topic, "group": self.group, **self.status,
            "partitions": {str(p): {"offset": self.offsets.get(p), "read": self._read.get(p),
                                    "committed": self._committed.get(p), "active": p in active,
                                    "finished": p in self._finished} for p in self.assigned},
        })
        if self.status.get("broker") == "unreachable":
            snap["state"]["retry_in_s"] = round(max(0.0, self._retry_at - _time.monotonic()), 2)
        return snap


def _close_consumer(consumer, offsets: list, pending) -> list:
    """Commit ``offsets`` (the last checkpoint's) and close ``consumer``; waits for the broker.

    ``pending``: a metadata call still running on this consumer, waited for first. Returns the
    committed offsets (none if committing failed: closing a dead broker's consumer must not raise).
    """
    if pending is not None:
        concurrent.futures.wait([pending])
    done = []
    try:
        if offsets:
            done = [tp for tp in consumer.commit(offsets=offsets, asynchronous=False) or []
                    if tp.error is None and tp.offset >= 0]
    except Exception:  # noqa: BLE001
        _log.debug("committing the last checkpoint's offsets at close failed", exc_info=True)
    try:
        consumer.close()
    except Exception:  # noqa: BLE001
        _log.debug("closing the consumer failed", exc_info=True)
    return done


def from_kafka(topic, bootstrap="127.0.0.1:9092", time="ts", unit=None, format="json", group=None,
               start="earliest", columns=None, batch_size=10_000, idle_timeout=None, stop_at_end=False,
               partitions=None, metadata=False, config=None, name=None) -> KafkaSource:
    """Stream a Kafka topic as micro-batches.

    - ``time``: the event-time field, or ``"kafka_timestamp"`` for the message timestamp (a column
      of that name is added: datetimes, or ms numbers with ``unit="ms"``).
    - ``format``: ``"json"`` (one object per message), ``"csv"`` (one line, needs ``columns``)
      or ``"raw"`` (columns ``key`` and ``value`` as text).
    - ``start``: ``"earliest"``, ``"latest"`` or ``"committed"`` (the group's committed offsets,
      else the earliest). ``group`` defaults to a fresh name.
    - ``idle_timeout``: a partition that sends nothing for this long (processing time) stops
      holding the watermark back; it counts again when it sends. (A partition that has sent
      nothing yet holds it at -inf, as in Flink. A partition read to its end with
      ``stop_at_end`` stops holding it too.) Per-partition watermarks need ``.watermark(...)``.
    - ``stop_at_end=True`` makes the source finite: it ends once every partition has been read
      to its end (while the broker cannot be reached, ``collect()`` keeps retrying: give it a
      ``timeout=``). Without it, ``collect()`` needs ``n=`` or ``timeout=``.
    - ``metadata=True`` adds the columns ``partition``, ``offset`` and ``kafka_timestamp``.
    - ``config``: extra librdkafka consumer settings.

    Malformed messages (bad JSON or CSV, a missing or unparseable time) go to ``errors`` with
    their ``partition``, ``offset``, ``key``, ``value`` and ``reason``. An unreachable broker is
    retried with backoff; ``snapshot()`` shows ``{"broker": "unreachable", "retry_in_s": ...}``.

    >>> src = from_kafka("events", bootstrap="127.0.0.1:9092", time="ts", unit="ms", group="demo")
    >>> src.label(), src.finite
    ('kafka:events', False)
    """
    return KafkaSource(topic, bootstrap=bootstrap, time=time, unit=unit, format=format, group=group,
                       start=start, columns=columns, batch_size=batch_size, idle_timeout=idle_timeout,
                       stop_at_end=stop_at_end, partitions=partitions, metadata=metadata, config=config,
                       name=name)
