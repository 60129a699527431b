"""Window Top-N and window deduplication: ``s.window(spec).nlargest(3, "price")``,
``s.window(spec, by="user").drop_duplicates(keep="first")``, and Top-N after a window
aggregation (``s.window(spec).agg(...).nlargest(3, "cnt")``).

Append-only (DESIGN §2b): a window's rows are emitted when it fires (``W >= end - 1 ms``, or at
the end of input); equal values are ordered by arrival. Only the best ``n`` rows of each open
window and key are kept. A row whose window has fired is late (to ``late``, as the window operator
does).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.node import Node
from ..core.timecol import POS_INF
from ..core.watermarks import Marks
from ..windows.keys import KeyIndex
from ..windows.operator import WindowAgg, Windowed
from ..windows.specs import SessionPlan, SlicedPlan
from ..windows.zone import bound_dtype, bounds, to_local, watermark_local
from .frames import EventClock, frame_from_state, frame_state, late_frame, records
from .groupby import key_list
from .order import Order, order_values, ranks_in_order, sorted_positions, top_candidates

RANK = "rownum"
_INTERNAL = ["__ws", "__we", "__key", "__seq", "__ord"]


def assign_windows(ms: np.ndarray, plan: SlicedPlan):
    """(row position, window start, window end) of every window containing each row (ms).

    >>> import streamlab as sl
    >>> assign_windows(np.array([7]), sl.Hop(10, 5).resolve("ms"))[1:]
    (array([0, 5]), array([10, 15]))
    """
    pane, size = plan.pane, plan.size
    p = ms - np.mod(ms - plan.offset, pane)
    if plan.kind == "cumulate":
        period = ms - np.mod(ms - plan.offset, size)
        last = period + size
    else:
        period = None
        last = p + size
    k = (last - p) // pane
    rows = np.repeat(np.arange(len(ms)), k)
    step = np.arange(len(rows)) - np.repeat(np.cumsum(k) - k, k)
    ends = p[rows] + pane * (step + 1)
    starts = period[rows] if period is not None else ends - size
    return rows, starts, ends


class WindowRank(Node):
    """Top-N (``rownum`` column) or deduplication per window and key, emitted when the window fires."""

    kind = "window_rank"
    result_operator = True

    def __init__(self, windowed: Windowed, order: Order, rank_column: bool):
        super().__init__(windowed.upstream, time_meta=windowed.meta)
        if not isinstance(windowed.plan, SlicedPlan) or isinstance(windowed.plan, SessionPlan):
            raise ValueError("window Top-N and deduplication take Tumble, Hop or Cumulate windows")
        if windowed.lateness or windowed.emit_early is not None:
            raise ValueError("window Top-N and deduplication do not support allowed_lateness or emit_early")
        self.plan = windowed.plan
        self.by = list(windowed.by)
        self.order = order
        self.rank_column = rank_column
        cols = windowed.columns
        self.columns = None if cols is None else [*cols, "window_start", "window_end", *([RANK] if rank_column else [])]
        self.late = self.side("late")
        self.reset_state()

    def reset_state(self) -> None:
        super().reset_state()
        self.clock = EventClock()
        self.keys = KeyIndex(self.by)
        self.seq = 0
        self.kept = pd.DataFrame()
        self.schema: list[str] | None = None
        self.counted = 0

    def label(self) -> str:
        by = f" by {', '.join(self.by)}" if self.by else ""
        return f"{self.plan.label()}{by}: {self.order.label()}"

    def on_batch(self, df: pd.DataFrame, port: int, marks: Marks | None):
        need = [*self.by, *([] if self.order.by_time else [self.order.column])]
        missing = [c for c in need if c not in df.columns]
        if missing:
            self.send_errors(df, f"missing column {missing[0]!r}")
            return None
        df, ms, wm, end = self.clock.read(self, df, marks)
        if self.schema is None and len(df.columns):
            self.schema = list(df.columns)
        n = len(df)
        if n:
            seq = np.arange(self.seq, self.seq + n, dtype="int64")
            self.seq += n
            key = self.keys.encode(df)
            ordv = order_values(df[self.order.column] if not self.order.by_time else None,
                                ms if self.order.by_time else None)
            lms, lwm, end = to_local(self.plan, ms, wm, end)  # a session time zone: local ms
            rows, starts, ends = assign_windows(lms, self.plan)
            on_time = ends - 1 > lwm[rows]
            missed = np.bincount(rows[~on_time], minlength=n)
            total = np.bincount(rows, minlength=n)
            self.counted += int(np.count_nonzero(missed < total))
            late = missed > 0
            if late.any():
                self.counters.late += int(late.sum())
                self.late.push(late_frame(df[late], wm[late], self.meta.unit, missed[late],
                                          [f"late for {m} of {t} windows (window end - 1ms <= watermark)"
                                           for m, t in zip(missed[late].tolist(), total[late].tolist())]))
            rows, starts, ends = rows[on_time], starts[on_time], ends[on_time]
            keep = self._candidates(ends, key[rows], ordv[rows])
            if keep is not None:
                rows, starts, ends = rows[keep], starts[keep], ends[keep]
            add = df.iloc[rows].reset_index(drop=True)
            add.attrs.clear()
            extra = pd.DataFrame({"__ws": starts, "__we": ends, "__key": key[rows], "__seq": seq[rows],
                                  "__ord": ordv[rows]})
            add = pd.concat([extra, add], axis=1)
            self.kept = add if not len(self.kept) else pd.concat([self.kept, add], ignore_index=True)
            self._prune()
        else:
            end = watermark_local(self.plan, end)
        return self._fire(end)

    def _candidates(self, ends: np.ndarray, key: np.ndarray, ordv: np.ndarray) -> np.ndarray | None:
        """Mask of the new (window, row) pairs that may reach their partition's top ``n``, or None
        when nearly every pair might (few rows per partition). A window is named by its end alone
        (Tumble, Hop and Cumulate windows with one end share their start)."""
        n = self.order.n
        if n > 8 or len(ends) < 64:
            return None
        wcode, wins = pd.factorize(ends)
        part, parts = pd.factorize(wcode.astype("int64") * (int(key.max()) + 1) + key)
        if len(parts) * n * 4 > len(ends):
            return None
        return top_candidates(part, ordv, n, self.order.descending)

    def _sorted(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(positions sorted by window, key and rank; their ranks)."""
        # one partition id per (window end, window start, key), ordered by end, start, key
        pid = np.lexsort((frame["__key"].to_numpy(), frame["__ws"].to_numpy(), frame["__we"].to_numpy()))
        group = np.empty(len(frame), dtype="int64")
        we, ws, k = (frame[c].to_numpy()[pid] for c in ("__we", "__ws", "__key"))
        new = np.r_[True, (we[1:] != we[:-1]) | (ws[1:] != ws[:-1]) | (k[1:] != k[:-1])] if len(pid) else np.zeros(0, bool)
        group[pid] = np.cumsum(new) - 1
        order = sorted_positions(group, frame["__ord"].to_numpy(), frame["__seq"].to_numpy(),
                                 self.order.descending, self.order.tie_last)
        return order, ranks_in_order(group[order])

    def _prune(self) -> None:
        order, rank = self._sorted(self.kept)
        self.kept = self.kept.iloc[order[rank <= self.order.n]].reset_index(drop=True)

    def _fire(self, wm: int) -> pd.DataFrame | None:
        if not len(self.kept):
            return None
        due = (self.kept["__we"].to_numpy() - 1 <= wm)
        if not due.any():
            return None
        fired, self.kept = self.kept[due], self.kept[~due].reset_index(drop=True)
        order, rank = self._sorted(fired)
        fired = fired.iloc[order]
        unit = self.meta.unit
        cols: dict[str, object] = {c: fired[c].array for c in fired.columns if c not in _INTERNAL}
        for name, col in (("window_start", "__ws"), ("window_end", "__we")):
            values = bounds(self.plan, fired[col].to_numpy("int64"), unit)
            cols[name] = values.array if isinstance(values, pd.Index) else values
        if self.rank_column:
            cols[RANK] = rank
        return pd.DataFrame(cols, copy=False)

    def on_flush(self) -> None:
        out = self._fire(POS_INF)
        if out is not None:
            self.emit_out(out)

    def empty_output(self) -> pd.DataFrame:
        cols = self.schema or self.input_columns() or []
        kind = bound_dtype(self.plan, self.meta.unit)
        out = pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
        out["window_start"] = pd.Series([], dtype=kind)
        out["window_end"] = pd.Series([], dtype=kind)
        if self.rank_column:
            out[RANK] = pd.Series([], dtype="int64")
        return out

    def snapshot_node(self, limit: int | None = 50):
        snap = super().snapshot_node(limit)
        kept = self.kept.drop(columns=["__key", "__seq", "__ord"], errors="ignore").rename(
            columns={"__ws": "window_start_ms", "__we": "window_end_ms"})
        snap["state"] = {"window": self.plan.label(), "by": list(self.by), "order": self.order.label(),
                         "kept_rows": len(self.kept), "kept": records(kept, limit), "counted": self.counted,
                         "late_ledger": records(self.late.ledger(20))}
        return snap

    def save_state(self) -> dict:
        return {"clock": self.clock.save(), "keys": self.keys.export(), "seq": int(self.seq),
                "kept": frame_state(self.kept), "schema": self.schema, "counted": int(self.counted)}

    def load_state(self, state: dict) -> None:
        self.clock.load(state["clock"])
        self.keys = KeyIndex(self.by)
        self.keys.load(state["keys"])
        self.seq = int(state["seq"])
        self.kept = frame_from_state(state["kept"])
        self.schema = state["schema"]
        self.counted = int(state["counted"])


class AggRank(Node):
    """Top-N of a window aggregation's rows per window (and key): each window's rows arrive
    together when it fires, so every batch is ranked on its own."""

    kind = "window_rank"
    result_operator = True

    def __init__(self, upstream: WindowAgg, order: Order, by: list[str]):
        if upstream.extra:
            raise ValueError("Top-N after a window aggregation needs final rows (no allowed_lateness or emit_early)")
        super().__init__(upstream, time_meta=upstream.meta)
        self.order = order
        self.by = by
        columns = list(upstream.columns or [])
        missing = [c for c in [*by, order.column] if c not in columns]
        if missing:
            raise ValueError(f"column {missing[0]!r} not found; available columns: {', '.join(columns)}")
        self.upstream_agg = upstream
        self.columns = [*columns, RANK]

    def label(self) -> str:
        by = f" by {', '.join(self.by)}" if self.by else ""
        return f"per window{by}: {self.order.label()}"

    def on_batch(self, df: pd.DataFrame, port: int, marks: Marks | None):
        if not len(df):
            return None
        group = df.groupby(["window_start", "window_end", *self.by], sort=True, dropna=False).ngroup().to_numpy()
        order = sorted_positions(group, order_values(df[self.order.column]), np.arange(len(df)),
                                 self.order.descending)
        rank = ranks_in_order(group[order])
        keep = rank <= self.order.n
        out = df.iloc[order[keep]].reset_index(drop=True)
        out.attrs.clear()
        out[RANK] = rank[keep]
        return out

    def empty_output(self) -> pd.DataFrame:
        out = self.upstream_agg.empty_output()
        out[RANK] = pd.Series([], dtype="int64")
        return out


def _rank(self, n: int, column: str, descending: bool, by=None):
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive whole number of rows, got {n!r}")
    if not isinstance(column, str):
        raise TypeError(f"the column to rank by must be a column name, got {column!r}")
    if isinstance(self, WindowAgg):
        return AggRank(self, Order(column, descending, n=n), [] if by is None else key_list(by))
    if by is not None:
        raise ValueError("window Top-N ranks per window and the window's keys: give them as window(spec, by=...)")
    if self.columns is not None and column not in self.columns:
        raise ValueError(f"column {column!r} not found; available columns: {', '.join(self.columns)}")
    return WindowRank(self, Order(column, descending, n=n), rank_column=True)


def nlargest(self, n: int, columns: str, by=None):
    """The ``n`` rows with the largest ``columns`` per window (and key), with a ``rownum`` column.

    On raw window rows the partition is the window and the window's ``by`` keys; after a window
    aggregation it is the window (and ``by``, when given).

    >>> import streamlab as sl, pandas as pd
    >>> df = pd.DataFrame({"ts": [0, 1, 2, 6], "price": [5, 9, 7, 1]})
    >>> sl.from_frame(df, time="ts", unit="s").window(sl.Tumble(5)).nlargest(2, "price").collect()
       ts  price  window_start  window_end  rownum
    0   1      9             0           5       1
    1   2      7             0           5       2
    2   6      1             5          10       1
    """
    return _rank(self, n, columns, True, by)


def nsmallest(self, n: int, columns: str, by=None):
    """The ``n`` rows with the smallest ``columns`` per window (and key), with a ``rownum`` column."""
    return _rank(self, n, columns, False, by)


def drop_duplicates(self, keep: str = "first"):
    """Window deduplication: per window and ``by`` key, the first (``keep="first"``: earliest event
    time, first arrival among equal times) or last row (latest time, last arrival).

    >>> import streamlab as sl, pandas as pd
    >>> df = pd.DataFrame({"ts": [0, 1, 2], "user": ["a", "b", "a"]})
    >>> sl.from_frame(df, time="ts", unit="s").window(sl.Tumble(5), by="user").drop_duplicates("last").collect()
       ts user  window_start  window_end
    0   2    a             0           5
    1   1    b             0           5
    """
    if keep not in ("first", "last"):
        raise ValueError(f"keep must be 'first' or 'last', got {keep!r}")
    return WindowRank(self, Order(self.meta.column, keep == "last", tie_last=keep == "last", by_time=True),
                      rank_column=False)


_WINDOW_FORMS = {"nlargest": nlargest, "nsmallest": nsmallest}
for _cls in (Windowed, WindowAgg):  # the window forms of the fluent methods
    for _name, _fn in _WINDOW_FORMS.items():
        setattr(_cls, _name, _fn)
Windowed.drop_duplicates = drop_duplicates  # type: ignore[attr-defined]
