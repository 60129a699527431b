"""``res.to_kafka(topic, ...)``: produce every emitted row to a Kafka topic."""

from __future__ import annotations

import pandas as pd

from ..core.side import visible
from ..sinks import SinkNode
from .source import _log, kafka_module

SINK_FORMATS = ("json", "csv", "raw")


def encode_rows(df: pd.DataFrame, fmt: str) -> list[bytes]:
    """One message value per row.

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
    """Produces each row of each batch; ``flush()`` (end of input) waits for delivery.

    Rows pass through unchanged, so more operators can follow.
    """

    def __init__(self, upstream, topic, *, bootstrap, format="json", key=None, config=None,
                 flush_timeout=30.0):
        if format not in SINK_FORMATS:
            raise ValueError(f"to_kafka format={format!r} is not supported; use one of {SINK_FORMATS}")
        super().__init__(upstream)
        self.topic, self.bootstrap, self.format, self.key = topic, bootstrap, format, key
        self.config = dict(config or {})
        self.flush_timeout = flush_timeout
        self._producer = None
        self.delivered = 0
        self.last_error = None

    def label(self) -> str:
        return f"to_kafka({self.topic})"

    def _get(self):
        if self._producer is None:
            ck = kafka_module()
            conf = {"bootstrap.servers": self.bootstrap, "linger.ms": 5, "logger": _log,
                    "error_cb": lambda err: setattr(self, "last_error", err.str())}
            conf.update(self.config)
            self._producer = ck.Producer(conf)
        return self._producer

    def _on_delivery(self, err, msg) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.counters.errors += 1
            self.last_error = err.str()

    def process(self, df: pd.DataFrame) -> pd.DataFrame:
        df = visible(df)
        if not len(df):
            return df
        values = encode_rows(df, self.format)
        keys = [None] * len(values) if self.key is None else [str(k).encode() for k in df[self.key].tolist()]
        producer = self._get()
        for k, v in zip(keys, values):
            while True:
                try:
                    producer.produce(self.topic, v, k, on_delivery=self._on_delivery)
                    break
                except BufferError:  # local queue full: serve deliveries, then try again
                    producer.poll(0.05)
        producer.poll(0)
        return df

    def on_timer(self, now: float) -> None:
        if self._producer is not None:
            self._producer.poll(0)

    def flush(self) -> None:
        """Wait until every produced row is delivered (or ``flush_timeout`` passes)."""
        if self._producer is not None:
            left = self._producer.flush(self.flush_timeout)
            if left:
                self.last_error = f"{left} messages not delivered within {self.flush_timeout}s"

    def on_stop(self) -> None:
        """``stop()``: deliver what is queued, waiting at most a couple of seconds (never hangs the loop long)."""
        if self._producer is not None:
            left = self._producer.flush(min(2.0, self.flush_timeout))
            if left:
                self.last_error = f"{left} messages still queued at stop()"

    def snapshot_node(self, limit=50) -> dict:
        snap = super().snapshot_node(limit)
        snap["state"] = {"topic": self.topic, "delivered": self.delivered,
                         "pending": len(self._producer) if self._producer is not None else 0,
                         "last_error": self.last_error}
        return snap


def to_kafka(stream, topic, bootstrap="127.0.0.1:9092", format="json", key=None, config=None) -> KafkaSink:
    """Write every row ``stream`` emits to ``topic`` (JSON objects by default; ``key=`` a column)."""
    return KafkaSink(stream, topic, bootstrap=bootstrap, format=format, key=key, config=config)
