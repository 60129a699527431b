"""``from_streamz``: wrap any streamz stream (elements: dicts, tuples with ``columns``, or DataFrames)."""

from __future__ import annotations

import pandas as pd
import streamz

from ..core.durations import to_ms
from .base import Source


class StreamzSource(Source):
    """A push source: rows arrive when the wrapped streamz stream emits; they are batched here.

    A batch is sent downstream when it holds ``batch_size`` rows, when ``max_latency`` has passed
    (on the running loop), or at ``flush()``. A DataFrame element is sent as it is.
    """

    finite = True
    push = True

    def __init__(self, stream, *, time, unit=None, columns=None, batch_size=10_000, max_latency="100ms",
                 name=None):
        if not isinstance(stream, streamz.Stream):
            raise TypeError(f"from_streamz(stream) takes a streamz.Stream, got {type(stream).__name__}")
        super().__init__(time=time, unit=unit, columns=columns, batch_size=batch_size, speed=None,
                         name=name or "streamz")
        self.max_latency = to_ms(max_latency, None, name="max_latency") / 1000.0
        self._buffer: list = []
        self._since = None
        self.upstreams = []
        stream.connect(self)

    def _batches(self):
        return iter(())

    def update(self, x, who=None, metadata=None):
        buf = self._buffer
        if isinstance(x, dict) or (self.columns is not None and isinstance(x, (tuple, list))):
            buf.append(x)
            if len(buf) >= self.batch_size:
                self._flush_buffer()
        elif isinstance(x, pd.DataFrame):
            self._flush_buffer()
            self.emit_batch(x)
        else:
            hint = "pass columns=[...] to from_streamz for tuples" if isinstance(x, (tuple, list)) else \
                "emit dicts, tuples (with columns=) or DataFrames"
            self.send_errors(pd.DataFrame({"element": [repr(x)]}),
                              f"from_streamz cannot read a {type(x).__name__} element; {hint}")
        return None

    def _flush_buffer(self) -> None:
        buf = self._buffer
        if not buf:
            return
        self._buffer = []
        self._since = None
        self.emit_batch(_frame(buf, self.columns))

    def on_flush(self) -> None:
        """Send what is buffered (end of input or an explicit flush)."""
        self._flush_buffer()

    def on_timer(self, now: float) -> None:
        """Flush rows that waited ``max_latency`` (measured from when the timer first saw them)."""
        if not self._buffer:
            return
        if self._since is None:
            self._since = now
        if now - self._since >= self.max_latency:
            self._flush_buffer()

    def reset_state(self) -> None:
        super().reset_state()
        self._buffer = []


def _frame(rows: list, columns) -> pd.DataFrame:
    first = rows[0]
    if isinstance(first, dict):
        cols = list(first) if columns is None else list(columns)
        try:
            return pd.DataFrame({c: [r[c] for r in rows] for c in cols})
        except (KeyError, TypeError):
            return pd.DataFrame.from_records(rows, columns=columns)
    return pd.DataFrame.from_records(rows, columns=columns)


def from_streamz(stream, time="ts", unit=None, columns=None, batch_size=10_000, max_latency="100ms",
                 name=None) -> StreamzSource:
    """Wrap a streamz stream as a streamlab source.

    >>> import streamz, streamlab as sl
    >>> s = streamz.Stream()
    >>> src = sl.from_streamz(s, time="ts", unit="ms")
    >>> out = src.sink_to_list()
    >>> for i in range(3):
    ...     s.emit({"ts": i, "v": i * 10})
    >>> src.on_flush(); out[0]["v"].tolist()
    [0, 10, 20]
    """
    return StreamzSource(stream, time=time, unit=unit, columns=columns, batch_size=batch_size,
                         max_latency=max_latency, name=name)
