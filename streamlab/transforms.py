"""Row-wise operators: ``watermark``, ``where`` and ``assign`` (pandas vocabulary).

They are registered on ``streamz.Stream`` so they also follow streamz's own ``map`` & co.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import streamz

from .core.batchcheck import duplicated_problem, time_dtype_problem, unique_names
from .core.columns import column_values
from .core.durations import format_ms, to_ms
from .core.node import Node
from .core.partitions import partition_marks, per_partition_watermark
from .core.snapshot import OperatorSnapshot, WatermarkState
from .core.timecol import NEG_INF, event_ms_checked, time_reasons
from .core.watermarks import Marks, attach, per_row_watermark
from .sources.base import Source


def _require_meta(node: Node, what: str):
    if node.time_meta is None:
        raise ValueError(
            f"{what} needs to know the event-time column; start from a streamlab source "
            f"(sl.from_frame(df, time='ts'), sl.from_streamz(stream, time='ts'), ...)"
        )


@streamz.Stream.register_api()
class watermark(Node):  # noqa: N801 - streamz registers operators by class name
    """Bounded out-of-orderness watermark: ``W = max(event time seen) - delay``.

    Each row carries the watermark it saw (computed from the rows before it), so results do
    not depend on how rows are batched. Rows whose time is missing go to ``errors``.

    >>> import streamlab as sl, pandas as pd
    >>> df = pd.DataFrame({"ts": [1000, 3000, 2000]})
    >>> res = sl.from_frame(df, time="ts", unit="ms").watermark("500ms")
    >>> len(res.collect()), res.snapshot()["watermark"]
    (3, 2500)
    """

    kind = "watermark"

    def __init__(self, upstream, delay="0ms", idle_timeout=None, **kwargs):
        super().__init__(upstream, **kwargs)
        _require_meta(self, "watermark()")
        unit = self.meta.unit
        self.delay = to_ms(delay, unit, name="delay", allow_zero=True)
        self.idle_timeout = None if idle_timeout is None else to_ms(idle_timeout, unit, name="idle_timeout")
        self.columns = find_columns(upstream)
        self.reset_state()

    def reset_state(self) -> None:
        super().reset_state()
        self.current = NEG_INF
        self.max_ts: int | None = None
        self._last_input: float | None = None  # time.monotonic() of the last batch
        self._idle_since: float | None = None
        self._declared_idle = False
        self.partition_max: dict[int, int] = {}  # per-partition max event time (partitioned sources)

    def label(self) -> str:
        return f"watermark({format_ms(self.delay)})"

    def on_batch(self, df: pd.DataFrame, port: int, marks: Marks | None) -> pd.DataFrame | None:
        col = self.meta.column
        if col not in df.columns:
            self.send_errors(unique_names(df), f"missing time column {col!r}")
            return None
        times = column_values(df, [col])[col] if df.columns.is_unique else None
        problem = duplicated_problem(df.columns) if times is None else \
            time_dtype_problem(times.dtype, self.meta.unit, col)
        if problem is not None or times is None:  # the schema changed mid-stream: the whole batch
            self.send_errors(unique_names(df), problem)
            return None
        parts = partition_marks(df)
        part = parts.partitions_of(df) if parts is not None else None
        ms, ok, far = event_ms_checked(times, self.meta.unit)
        if not ok.all():
            self.send_errors(df[~ok], time_reasons(col, far[~ok]))
            df, ms = df[ok], ms[ok]
            part = None if part is None else part[ok]
        self._last_input = time.monotonic()
        if parts is not None:
            wm = self._per_partition(ms, part, parts.active)
        else:
            wm, self.max_ts, self.current = per_row_watermark(ms, self.max_ts, self.current, self.delay)
        out = df if self._owns_batches() else df.copy(deep=False)
        return attach(out, Marks(ms, wm, self.current, out.index))

    def _owns_batches(self) -> bool:
        """Whether incoming batches are ours alone to annotate: fresh per batch from a streamlab
        source, and no other operator receives them (so no copy is needed to add marks)."""
        ups = self.upstreams
        if len(ups) != 1 or not isinstance(ups[0], Source) or len(ups[0].downstreams) != 1:
            return False
        return not may_share_frames(ups[0])

    def _per_partition(self, ms, part, active) -> np.ndarray:
        """Flink's per-partition rule: the minimum over active partitions (see ``streamlab.core.partitions``)."""
        wm, self.current = per_partition_watermark(ms, part, active, self.partition_max, self.current, self.delay)
        if len(ms):
            self.max_ts = max(int(ms.max()), self.max_ts if self.max_ts is not None else NEG_INF)
        return wm

    def on_timer(self, now: float) -> None:
        """Idle timeout: with no input for ``idle_timeout``, advance the watermark by processing time."""
        if self.idle_timeout is None:
            return
        if self._last_input is None:  # nothing sent yet: after idle_timeout, declare this input idle
            self._idle_since = now if self._idle_since is None else self._idle_since
            if not self._declared_idle and (now - self._idle_since) * 1000 >= self.idle_timeout:
                self._declared_idle = True
                none = np.zeros(0, dtype="int64")
                empty = pd.DataFrame({c: [] for c in (self.columns or [self.meta.column])})
                self._emit(attach(empty, Marks(none, none, self.current, empty.index, idle=True)))
            return
        if self.current <= NEG_INF:
            return
        idle_ms = (now - self._last_input) * 1000
        if idle_ms >= self.idle_timeout:
            speed = self._source_speed() or 1
            advance = int(idle_ms * speed)
            self.current += advance
            self._last_input = now
            empty = pd.DataFrame({c: [] for c in (self.columns or [self.meta.column])})
            none = np.zeros(0, dtype="int64")
            self._emit(attach(empty, Marks(none, none, self.current, empty.index)))

    @property
    def current_watermark(self) -> int:
        """The watermark this operator produces (``NEG_INF`` before the first row)."""
        return self.current

    def _source_speed(self) -> float | None:
        """Replay speed of the nearest source upstream (event time runs that much faster)."""
        todo = list(self.upstreams)
        while todo:
            s = todo.pop()
            if isinstance(s, Source):
                return s.speed
            todo.extend(getattr(s, "upstreams", []))
        return None

    def snapshot_node(self, limit=50) -> OperatorSnapshot:
        snap = super().snapshot_node(limit)
        state: WatermarkState = {"max_event_time": self.max_ts, "delay_ms": self.delay}
        if self.partition_max:
            state["partitions"] = {str(p): {"max_event_time": m, "watermark": m - self.delay}
                                   for p, m in sorted(self.partition_max.items())}
        snap["state"] = dict(state)
        return snap

    def fingerprint(self) -> dict:
        return {"delay_ms": self.delay}

    def save_state(self) -> dict:
        return {"current": int(self.current), "max_ts": self.max_ts,
                "partitions": {str(p): int(m) for p, m in self.partition_max.items()}}

    def load_state(self, state: dict) -> None:
        self.current, self.max_ts = int(state["current"]), state["max_ts"]
        self.partition_max = {int(p): int(m) for p, m in state.get("partitions", {}).items()}


@streamz.Stream.register_api()
class where(Node):  # noqa: N801
    """Keep rows matching a pandas query string or a callable ``df -> bool mask``.

    If the predicate raises, the batch's rows go to ``errors`` with the exception's text.

    >>> import streamlab as sl, pandas as pd
    >>> df = pd.DataFrame({"ts": [1, 2, 3], "v": [5, -1, 7]})
    >>> sl.from_frame(df, time="ts", unit="s").where("v > 0").collect()["v"].tolist()
    [5, 7]
    """

    kind = "where"

    def __init__(self, upstream, predicate, **kwargs):
        super().__init__(upstream, **kwargs)
        if not (isinstance(predicate, str) or callable(predicate)):
            raise TypeError(f"where(predicate) takes a query string like 'value > 0' or a callable, got {predicate!r}")
        self.predicate = predicate
        self.columns = find_columns(upstream)

    def label(self) -> str:
        p = self.predicate
        return f"where({p})" if isinstance(p, str) else f"where({getattr(p, '__name__', 'callable')})"

    def on_batch(self, df, port, marks):
        try:
            if isinstance(self.predicate, str):
                mask = df.eval(self.predicate)
            else:
                mask = self.predicate(df)
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (len(df),):
                raise ValueError(f"the predicate returned {mask.shape[0] if mask.ndim else 'a scalar'} values for {len(df)} rows")
        except Exception as exc:  # noqa: BLE001 - user code: rows go to errors, pipeline goes on
            self.send_errors(df, f"{self.label()} raised {type(exc).__name__}: {exc}")
            return _empty_like(df)
        out = df[mask]
        return attach(out, marks.take(mask, out.index) if marks is not None else None)


@streamz.Stream.register_api()
class assign(Node):  # noqa: N801
    """Add or replace columns, like ``DataFrame.assign``; callables receive the batch.

    >>> import streamlab as sl, pandas as pd
    >>> df = pd.DataFrame({"ts": [1, 2], "temp": [0.0, 100.0]})
    >>> sl.from_frame(df, time="ts", unit="s").assign(f=lambda d: d.temp * 9 / 5 + 32).collect()["f"].tolist()
    [32.0, 212.0]
    """

    kind = "assign"

    def __init__(self, upstream, **columns):
        super().__init__(upstream)
        if not columns:
            raise ValueError("assign() needs at least one column, e.g. assign(temp_f=lambda df: df.temp * 1.8 + 32)")
        time_col = self.time_column
        if time_col in columns and has_watermark(upstream):
            raise ValueError(
                f"assign({time_col}=...) rewrites the time column {time_col!r} after .watermark(), "
                f"which has already read it (windows would use the old times); assign it before "
                f".watermark(), or assign the new time to another column")
        self.new_columns = columns
        upstream_cols = find_columns(upstream)
        self.columns = None if upstream_cols is None else upstream_cols + [c for c in columns if c not in upstream_cols]

    def label(self) -> str:
        return f"assign({', '.join(self.new_columns)})"

    def on_batch(self, df, port, marks):
        try:
            out = df.assign(**self.new_columns)
            return attach(out, marks.with_index(out.index) if marks is not None else None)
        except Exception as exc:  # noqa: BLE001 - user code: rows go to errors, pipeline goes on
            self.send_errors(df, f"{self.label()} raised {type(exc).__name__}: {exc}")
            return _empty_like(df)


def has_watermark(stream) -> bool:
    """Whether a ``watermark()`` operator is upstream of ``stream`` (inclusive).

    >>> import streamlab as sl, pandas as pd
    >>> src = sl.from_frame(pd.DataFrame({"ts": [1]}), time="ts", unit="s")
    >>> has_watermark(src), has_watermark(src.watermark(0).where("ts > 0"))
    (False, True)
    """
    todo, seen = [stream], set()
    while todo:
        s = todo.pop()
        if s is None or id(s) in seen:
            continue
        seen.add(id(s))
        if isinstance(s, watermark):
            return True
        todo.extend(getattr(s, "upstreams", []))
    return False


def may_share_frames(source) -> bool:
    """Sources that may hand out the same frame object twice (a DataFrame emitted by a user)."""
    return bool(getattr(source, "push", False))


def _empty_like(df: pd.DataFrame) -> pd.DataFrame:
    out = df.iloc[:0]
    out.attrs.update(df.attrs)
    attach(out, None)
    return out


def find_columns(stream) -> list[str] | None:
    """Known columns of ``stream`` (None when a streamz operator may have changed them)."""
    return list(stream.columns) if isinstance(stream, Node) and stream.columns is not None else None

