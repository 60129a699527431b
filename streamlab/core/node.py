"""The streamlab node: a ``streamz.Stream`` that carries pandas micro-batches and can be inspected.

Every operator (sources, watermark, where, assign, window) subclasses :class:`Node`. streamz's own
operators (``map``, ``sink``, ``rate_limit``, ``buffer`` ...) keep working on it unchanged.
"""

from __future__ import annotations

import collections
import itertools
import time

import pandas as pd
import streamz

from .timecol import TimeMeta

#: Hidden per-row column carrying the watermark each row saw (W_i, int ms).
WM_COL = "__watermark__"
#: ``DataFrame.attrs`` key carrying the watermark after the batch (int ms).
WM_ATTR = "streamlab.watermark"

#: ``DataFrame.attrs`` key carrying :class:`RowMarks` between streamlab operators.
ROWS_ATTR = "streamlab.rows"

_ids = itertools.count(1)


class RowMarks:
    """Per-row event time (ms) and watermark, riding along a batch between streamlab operators.

    pandas deep-copies ``attrs`` on every operation; this object copies as itself, so carrying
    it costs nothing. It is trusted only while it still lines up with the frame's index.
    """

    __slots__ = ("ms", "wm", "index")

    def __init__(self, ms, wm, index):
        self.ms, self.wm, self.index = ms, wm, index

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self

    def aligned(self, df: pd.DataFrame) -> bool:
        return len(df) == len(self.ms) and (df.index is self.index or df.index.equals(self.index))

    def take(self, mask, index) -> RowMarks:
        return RowMarks(self.ms[mask], self.wm[mask], index)


def row_marks(df: pd.DataFrame) -> RowMarks | None:
    """The batch's :class:`RowMarks` if present and still aligned with its rows."""
    marks = df.attrs.get(ROWS_ATTR)
    return marks if marks is not None and marks.aligned(df) else None


def with_marks(df: pd.DataFrame, marks: RowMarks | None, downstreams) -> pd.DataFrame:
    """Attach marks; if any downstream is not a streamlab operator, also write the hidden column."""
    if marks is None:
        return df
    df.attrs[ROWS_ATTR] = marks
    if any(not isinstance(d, Node) or getattr(d, "kind", "") in ("side", "streamz") for d in downstreams):
        df = df.assign(**{WM_COL: marks.wm})
        df.attrs[ROWS_ATTR] = RowMarks(marks.ms, marks.wm, df.index)
    return df


class Counters:
    """Rows in/out/late/errors of one operator, plus events per second over the last second."""

    __slots__ = ("rows_in", "rows_out", "late", "errors", "_marks")

    def __init__(self):
        self.rows_in = self.rows_out = self.late = self.errors = 0
        self._marks: collections.deque = collections.deque([(time.monotonic(), 0)], maxlen=64)

    def events_per_s(self) -> float:
        """Rows in per second, measured over about the last second (0 when nothing flows)."""
        now = time.monotonic()
        marks = self._marks
        if now - marks[-1][0] >= 0.05:
            marks.append((now, self.rows_in))
        while len(marks) > 2 and now - marks[1][0] >= 1.0:
            marks.popleft()
        t0, n0 = marks[0]
        dt = now - t0
        return round((self.rows_in - n0) / dt, 1) if dt > 0 else 0.0

    def as_dict(self) -> dict:
        return {"in": self.rows_in, "out": self.rows_out, "late": self.late, "errors": self.errors}


def find_meta(stream) -> tuple[TimeMeta | None, list[str] | None]:
    """The time metadata and known columns of the nearest streamlab node upstream of ``stream``."""
    seen = set()
    todo = [stream]
    while todo:
        s = todo.pop(0)
        if id(s) in seen:
            continue
        seen.add(id(s))
        if isinstance(s, Node) and s.time_meta is not None:
            return s.time_meta, (s.columns if s is stream else None)
        todo.extend(u for u in getattr(s, "upstreams", []) if u is not None)
    return None, None


class Node(streamz.Stream):
    """Base class of streamlab operators: micro-batches in, micro-batches out, with counters.

    Subclasses implement ``process(df)`` returning the batch to emit (or ``None``).
    """

    kind = "streamz"

    def __init__(self, upstream=None, *, time_meta: TimeMeta | None = None,
                 columns: list[str] | None = None, stream_name: str | None = None, **kwargs):
        super().__init__(upstream, stream_name=stream_name, **kwargs)
        if time_meta is None and upstream is not None:
            time_meta, _ = find_meta(upstream)
        self.time_meta = time_meta
        self.columns = list(columns) if columns is not None else None
        self.counters = Counters()
        self.op_id = f"op-{next(_ids)}"
        self._errors = None
        self.parent = None

    # --- identity -------------------------------------------------------------------------
    @property
    def time_column(self) -> str | None:
        """Name of the event-time column."""
        return self.time_meta.column if self.time_meta else None

    def label(self) -> str:
        return self.name or type(self).__name__.lower()

    def __repr__(self) -> str:
        return f"<streamlab.{type(self).__name__} {self.label()} [{self.op_id}]>"

    def __str__(self) -> str:
        return self.__repr__()

    # --- data path ------------------------------------------------------------------------
    def update(self, x, who=None, metadata=None):
        if not isinstance(x, pd.DataFrame):
            raise TypeError(f"{self!r} expects pandas DataFrame micro-batches, got {type(x).__name__}")
        self.counters.rows_in += len(x)
        out = self.process(x)
        if out is None:
            return None
        self.counters.rows_out += len(out)
        return self._emit(out, metadata=metadata)

    def process(self, df: pd.DataFrame) -> pd.DataFrame | None:  # pragma: no cover - abstract
        return df

    @property
    def errors(self):
        """Stream of rows this operator (and those upstream, for windows) could not process, with ``reason``."""
        if self._errors is None:
            from .side import SideOutput

            self._errors = SideOutput(self, "errors")
        return self._errors

    def _send_errors(self, rows: pd.DataFrame, reason) -> None:
        from .side import error_frame

        if len(rows):
            self.counters.errors += len(rows)
            self.errors.push(error_frame(rows, reason))

    def flush(self) -> None:
        """End of input: emit whatever is still held (windows fire everything)."""

    def reset_state(self) -> None:
        """Forget all state (used by ``Pipeline.reset``)."""
        self.counters = Counters()

    def snapshot_node(self, limit: int | None = 50) -> dict:
        """JSON-able picture of this operator."""
        return {
            "id": self.op_id,
            "kind": self.kind,
            "label": self.label(),
            "upstreams": [u.op_id for u in self.upstreams if isinstance(u, Node)],
            "counters": self.counters.as_dict(),
            "events_per_s": self.counters.events_per_s(),
            "watermark": None,
            "state": {},
        }

    # --- running (delegated to the pipeline) -----------------------------------------------
    @property
    def pipeline(self):
        """The :class:`~streamlab.runtime.Pipeline` this node belongs to."""
        from .runtime import pipeline_of

        return pipeline_of(self)

    def collect(self, n: int | None = None, timeout: float | None = None) -> pd.DataFrame:
        """Run the pipeline and return everything this stream emitted, as one DataFrame.

        A finite source runs to its end; an infinite one needs ``n=`` (rows) or ``timeout=`` (s).

        >>> import streamlab as sl, pandas as pd
        >>> df = pd.DataFrame({"ts": [0, 400, 1200], "v": [1.0, 2.0, 3.0]})
        >>> sl.from_frame(df, time="ts", unit="ms").window(sl.Tumble(1000)).agg(s=("v", "sum")).collect()
           window_start  window_end    s
        0             0        1000  3.0
        1          1000        2000  3.0
        """
        return self.pipeline.collect(self, n=n, timeout=timeout)

    async def acollect(self, n: int | None = None, timeout: float | None = None) -> pd.DataFrame:
        """``collect()`` for a running event loop (``await res.acollect(timeout=5)`` in Jupyter)."""
        return await self.pipeline.acollect(self, n=n, timeout=timeout)

    def start(self, name: str | None = None):
        """Start the pipeline on the running asyncio loop (non-blocking). Returns the pipeline."""
        pipe = self.pipeline
        if name is not None:
            pipe.rename(name)
        pipe.start(target=self)
        return pipe

    def pause(self):
        """Pause the pipeline (sources stop emitting; state is kept)."""
        return self.pipeline.pause()

    def resume(self):
        """Resume a paused pipeline."""
        return self.pipeline.resume()

    def step(self):
        """Emit one batch from each source, synchronously."""
        return self.pipeline.step()

    def stop(self):
        """Stop the pipeline (no end-of-input firing; use ``flush()`` for that)."""
        return self.pipeline.stop()

    def snapshot(self, limit: int | None = 50) -> dict:
        """JSON-able state of every operator of the pipeline (see ``Pipeline.snapshot``)."""
        return self.pipeline.snapshot(limit=limit)

    # --- production path (lazy imports: each lives in its own module) -----------------------
    def to_flink_sql(self, connector: str = "filesystem", **options) -> str:
        """Runnable Flink SQL (DDL, windowing TVF query and sink) giving the same rows."""
        from .flink_sql import to_flink_sql

        return to_flink_sql(self, connector=connector, **options)

    def to_kafka(self, topic: str, bootstrap: str = "127.0.0.1:9092", format: str = "json", **options):
        """Write every emitted row to a Kafka topic. Returns the sink stream."""
        from .kafka import to_kafka

        return to_kafka(self, topic, bootstrap=bootstrap, format=format, **options)

    def to_parquet(self, path, **options):
        """Write every emitted batch to a Parquet file (or a directory of part files)."""
        from .sinks import to_parquet

        return to_parquet(self, path, **options)

    def checkpoint(self, path, every=None):
        """Atomically write every operator's state and every source's position to ``path``."""
        from .checkpoint import checkpoint

        return checkpoint(self, path, every=every)

    # --- notebook front ends (lazy imports keep the engine free of UI dependencies) ---------
    @property
    def plot(self):
        """Live Bokeh plots: ``res.plot.line(x="window_end", y="avg", by="key")``."""
        from .viz.plot import PlotAccessor

        return PlotAccessor(self)

    def table(self, **kwargs):
        """A live table of the latest rows."""
        from .viz.table import live_table

        return live_table(self, **kwargs)

    def timeline(self, **kwargs):
        """Teaching diagram: events at (event time, arrival time) with windows and the watermark."""
        from .teach.timeline import timeline

        return timeline(self, **kwargs)

    def _ipython_display_(self):
        try:
            from .widgets import view_for
        except ImportError:  # notebook extras not installed
            print(repr(self))
            return
        from IPython.display import display

        display(view_for(self))
