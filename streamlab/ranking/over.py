"""OVER aggregations: ``s.rolling("10s", by="sensor").agg(avg=("temp", "mean"))`` (RANGE) and
``s.rolling(5, by="sensor")`` (ROWS: the row and the 4 before it, as pandas counts).

Flink's semantics (DESIGN §2b): each row is emitted, with its aggregates appended, once the
watermark passes its time, in time order (equal times in arrival order). RANGE covers the rows of
the key with ``ts - range <= t <= ts``, both ends included (pandas' ``rolling("10s")`` leaves the
left end open). A row at or before the last time already emitted for its key is late (to
``late``). Only the rows a future window can still need are kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.durations import to_ms
from ..core.node import Node
from ..core.snapshot import OverState
from ..core.timecol import NEG_INF, POS_INF
from ..core.watermarks import Marks
from ..windows.aggregates import AggSpec, parse_aggs
from ..windows.keys import KeyIndex
from .frames import EventClock, frame_from_state, frame_state, late_frame, records
from .groupby import check_columns, key_list, sql_mean
from .window_math import RangeMin, prefix, prior_max_per_key, range_bounds

#: Aggregates an OVER window supports.
OVER_FUNCS = ("count", "size", "sum", "mean", "min", "max")


@Node.register_api()
def rolling(self, window, by=None) -> Rolling:
    """An OVER window ordered by event time: a duration (``"10s"``, ``pd.Timedelta``) is a RANGE,
    a whole number ``n`` is ROWS (the row and the ``n - 1`` before it). Finish with ``.agg(...)``.

    >>> import streamlab as sl, pandas as pd
    >>> df = pd.DataFrame({"ts": [0, 1, 3, 4], "k": ["a", "a", "a", "b"], "v": [1.0, 2.0, 4.0, 8.0]})
    >>> sl.from_frame(df, time="ts", unit="s").rolling("2s", by="k").agg(s=("v", "sum")).collect()
       ts  k    v    s
    0   0  a  1.0  1.0
    1   1  a  2.0  3.0
    2   3  a  4.0  6.0
    3   4  b  8.0  8.0
    """
    return Rolling(self, window, by)


class Rolling:
    """A keyed stream with an OVER window, waiting for ``.agg(...)``."""

    def __init__(self, upstream: Node, window, by=None):
        self.upstream = upstream
        self.by = [] if by is None else key_list(by)
        check_columns(upstream.columns, self.by, "by")
        if isinstance(window, (int, np.integer)) and not isinstance(window, bool):
            if window < 1:
                raise ValueError(f"rolling(n) needs n >= 1 rows, got {window}")
            self.rows: int | None = int(window) - 1  # preceding rows
            self.range_ms: int | None = None
        elif isinstance(window, (str, pd.Timedelta)):
            self.rows = None
            self.range_ms = to_ms(window, upstream.meta.unit, name="rolling window", allow_zero=True)
        else:
            raise TypeError(f"rolling() takes a duration such as '10s' (RANGE) or a whole number of rows (ROWS), "
                            f"got {window!r}")

    def agg(self, **named) -> OverAgg:
        """Aggregates with pandas named aggregation: count, size, sum, mean, min, max."""
        specs = parse_aggs(named)
        for s in specs:
            if s.func not in OVER_FUNCS:
                raise ValueError(f"agg({s.name}=...): an OVER window supports {', '.join(OVER_FUNCS)}, not {s.func!r}")
        check_columns(self.upstream.columns, [s.column for s in specs], "agg")
        cols = self.upstream.columns or []
        clash = {s.name for s in specs} & set(cols)
        if clash:
            raise ValueError(f"agg() output names {sorted(clash)} clash with input columns; rename them")
        return OverAgg(self, specs)


class OverAgg(Node):
    """The OVER operator: rows wait for the watermark, then leave with their window's aggregates."""

    kind = "over"
    result_operator = True
    #: SQL result types (set by ``%%streamlab``): AVG of an integer column is an integer, truncated.
    flink_types = False

    def __init__(self, rolling: Rolling, specs: list[AggSpec]):
        super().__init__(rolling.upstream)
        self.by = rolling.by
        self.rows = rolling.rows
        self.range_ms = rolling.range_ms
        self.specs = specs
        self.value_columns = sorted({s.column for s in specs})
        cols = rolling.upstream.columns
        self.columns = None if cols is None else [*cols, *(s.name for s in specs)]
        self.late = self.side("late")
        self.reset_state()

    def reset_state(self) -> None:
        super().reset_state()
        self.clock = EventClock()
        self.keys = KeyIndex(self.by)
        self.seq = 0
        self.last = np.zeros(0, dtype="int64")  # per key id: the last event time emitted
        self.pending = pd.DataFrame()
        self.hist: dict[str, np.ndarray] = self._empty_hist()
        self.schema: dict[str, str] = {}
        self.int_columns: list[str] = []
        self.counted = 0

    def _empty_hist(self) -> dict[str, np.ndarray]:
        return {"__key": np.zeros(0, "int64"), "__ms": np.zeros(0, "int64"), "__seq": np.zeros(0, "int64"),
                **{c: np.zeros(0) for c in self.value_columns}}

    def label(self) -> str:
        frame = f"ROWS {self.rows} PRECEDING" if self.rows is not None else f"RANGE {self.range_ms}ms PRECEDING"
        by = f" by {', '.join(self.by)}" if self.by else ""
        return f"over {frame}{by}: {', '.join(s.label() for s in self.specs)}"

    def on_batch(self, df: pd.DataFrame, port: int, marks: Marks | None):
        missing = [c for c in [*self.by, *self.value_columns] if c not in df.columns]
        if missing:
            self.send_errors(df, f"missing column {missing[0]!r}")
            return None
        df, ms, wm, end = self.clock.read(self, df, marks)
        if len(df):
            self._accept(df, ms, wm)
        return self._emit_due(end)

    def _accept(self, df: pd.DataFrame, ms: np.ndarray, wm: np.ndarray) -> None:
        if not self.schema:
            self.schema = {str(c): str(t) for c, t in df.dtypes.items()}
            self.int_columns = [c for c in self.value_columns if df[c].dtype.kind in "iu"]
        n = len(df)
        key = self.keys.encode(df)
        if len(self.last) < len(self.keys):
            self.last = np.concatenate([self.last, np.full(len(self.keys) - len(self.last), NEG_INF, "int64")])
        # a row is late when its key already emitted a time >= its own: emitted before the batch
        # (self.last), or released during it (a waiting or earlier row whose time the watermark
        # passed before this row arrived)
        pend_ms = self.pending["__ms"].to_numpy("int64") if len(self.pending) else np.zeros(0, "int64")
        pend_key = self.pending["__key"].to_numpy("int64") if len(self.pending) else np.zeros(0, "int64")
        ev_ms = np.concatenate([pend_ms, ms])
        ev_key = np.concatenate([pend_key, key])
        released = np.searchsorted(wm, ev_ms, side="left")  # first row whose watermark reaches it
        released[len(pend_ms):] = np.maximum(released[len(pend_ms):], np.arange(1, n + 1))
        late = ms <= self.last[key]
        # only a row behind its watermark can be at or before a time released by that watermark
        behind = np.flatnonzero(ms <= wm)
        if len(behind):
            prior = prior_max_per_key(ev_key, ev_ms, released, key[behind], behind)
            late[behind] |= ms[behind] <= prior
        if late.any():
            self.counters.late += int(late.sum())
            self.late.push(late_frame(df[late], wm[late], self.meta.unit, 1,
                                      "late: at or before the last time already emitted for its key"))
        ok = ~late
        self.counted += int(ok.sum())
        body = df[ok].reset_index(drop=True)
        body.attrs.clear()
        seq = np.arange(self.seq, self.seq + n, dtype="int64")[ok]
        self.seq += n
        tags = pd.DataFrame({"__key": key[ok], "__ms": ms[ok], "__seq": seq})
        add = pd.concat([tags, body], axis=1)
        self.pending = add if not len(self.pending) else pd.concat([self.pending, add], ignore_index=True)

    def _values(self, frame: pd.DataFrame, col: str) -> np.ndarray:
        return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)

    def _emit_due(self, wm: int) -> pd.DataFrame | None:
        if not len(self.pending):
            return None
        due_mask = self.pending["__ms"].to_numpy() <= wm
        if not due_mask.any():
            return None
        due = self.pending[due_mask]
        self.pending = self.pending[~due_mask].reset_index(drop=True)
        h = self.hist
        nh = len(h["__ms"])
        key = np.concatenate([h["__key"], due["__key"].to_numpy("int64")])
        ms = np.concatenate([h["__ms"], due["__ms"].to_numpy("int64")])
        seq = np.concatenate([h["__seq"], due["__seq"].to_numpy("int64")])
        vals = {c: np.concatenate([h[c], self._values(due, c)]) for c in self.value_columns}
        order = np.lexsort((seq, ms, key))
        key, ms, seq = key[order], ms[order], seq[order]
        vals = {c: v[order] for c, v in vals.items()}
        at = np.flatnonzero(order >= nh)  # the due rows, in sorted positions
        if self.range_ms is not None:
            lo, hi = range_bounds(key, ms, self.range_ms, at)
        else:
            start = np.r_[True, key[1:] != key[:-1]]
            first = np.maximum.accumulate(np.where(start, np.arange(len(key)), 0))
            lo, hi = np.maximum(first[at], at - (self.rows or 0)), at + 1
        out = due.iloc[order[at] - nh].reset_index(drop=True)
        emitted = out[["__key", "__ms", "__seq"]]
        out = out.drop(columns=["__key", "__ms", "__seq"])
        for spec in self.specs:
            out[spec.name] = self._aggregate(spec, vals[spec.column], lo, hi)
        # time order, equal times in arrival order
        by_time = np.lexsort((emitted["__seq"].to_numpy(), emitted["__ms"].to_numpy()))
        out = out.iloc[by_time].reset_index(drop=True)
        self._keep(key, ms, seq, vals, emitted)
        return out

    def _aggregate(self, spec: AggSpec, v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        if spec.func == "size":
            return (hi - lo).astype("int64")
        ok = ~np.isnan(v)
        cnt = prefix(ok.astype("int64"))
        count = cnt[hi] - cnt[lo]
        if spec.func == "count":
            return count
        is_int = spec.column in self.int_columns
        if spec.func in ("sum", "mean"):
            filled = np.where(ok, v, 0)
            total = prefix(filled.astype("int64") if is_int else filled)
            s = total[hi] - total[lo]
            if spec.func == "mean":
                with np.errstate(invalid="ignore", divide="ignore"):
                    return sql_mean(np.where(count > 0, s / np.maximum(count, 1), np.nan), self.flink_types and is_int)
            return s if is_int else np.where(count > 0, s, np.nan)
        table = RangeMin(v, np.fmin if spec.func == "min" else np.fmax)
        result = table.query(lo, hi)
        return result.astype("int64") if is_int else result

    def _keep(self, key, ms, seq, vals, emitted: pd.DataFrame) -> None:
        """Update the last emitted time per key and keep only the rows a later window can need."""
        ek, ems = emitted["__key"].to_numpy("int64"), emitted["__ms"].to_numpy("int64")
        np.maximum.at(self.last, ek, ems)
        if self.range_ms is not None:
            keep = ms >= self.last[key] - self.range_ms
        else:
            rank_from_end = pd.Series(np.ones(len(key))).groupby(key).cumsum().to_numpy()
            sizes = np.bincount(key, minlength=len(self.last))[key]
            keep = sizes - rank_from_end < self.rows
        self.hist = {"__key": key[keep], "__ms": ms[keep], "__seq": seq[keep],
                     **{c: v[keep] for c, v in vals.items()}}

    def on_flush(self) -> None:
        out = self._emit_due(POS_INF)
        if out is not None:
            self.emit_out(out)

    def empty_output(self) -> pd.DataFrame:
        cols = list(self.schema) or list(self.upstream_columns())
        out = pd.DataFrame({c: pd.Series([], dtype=self.schema.get(c, "object")) for c in cols})
        for s in self.specs:
            out[s.name] = pd.Series([], dtype="int64" if s.func in ("count", "size") else "float64")
        return out

    def upstream_columns(self) -> list[str]:
        return [c for c in (self.columns or []) if c not in {s.name for s in self.specs}]

    def snapshot_node(self, limit: int | None = 50):
        snap = super().snapshot_node(limit)
        waiting = self.pending.drop(columns=["__key", "__seq"], errors="ignore").rename(columns={"__ms": "ts_ms"})
        state: OverState = {"frame": self.label(), "by": list(self.by), "waiting_rows": len(self.pending),
                            "waiting": records(waiting, limit), "kept_for_windows": int(len(self.hist["__ms"])),
                            "keys": len(self.keys) if self.by else 1, "counted": int(self.counted),
                            "late_ledger": records(self.late.ledger(20))}
        snap["state"] = dict(state)
        return snap

    def save_state(self) -> dict:
        return {"clock": self.clock.save(), "keys": self.keys.export(), "seq": int(self.seq),
                "last": self.last.tolist(), "pending": frame_state(self.pending),
                "hist": {c: [None if isinstance(x, float) and x != x else x for x in v.tolist()]
                         for c, v in self.hist.items()},
                "schema": dict(self.schema), "int_columns": list(self.int_columns), "counted": int(self.counted)}

    def load_state(self, state: dict) -> None:
        self.clock.load(state["clock"])
        self.keys = KeyIndex(self.by)
        self.keys.load(state["keys"])
        self.seq = int(state["seq"])
        self.last = np.asarray(state["last"], dtype="int64")
        self.pending = frame_from_state(state["pending"])
        self.hist = {c: np.asarray(v, dtype="int64") if c.startswith("__")
                     else np.array([np.nan if x is None else x for x in v], dtype="float64")
                     for c, v in state["hist"].items()}
        self.schema = dict(state["schema"])
        self.int_columns = list(state["int_columns"])
        self.counted = int(state["counted"])
