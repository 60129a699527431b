"""Window join (Flink SQL semantics, DESIGN §2b): both inputs through the same window TVF
(TUMBLE, HOP, CUMULATE), joined on the keys plus ``window_start`` and ``window_end``.

Rows are buffered per window and joined when the window fires (``joint watermark >= end - 1``).
A row whose window has already fired by the joint watermark it saw is dropped for that window,
even in an outer join, and goes to ``late`` (``missed_windows`` says for how many).

The output carries marks (one watermark channel), as Flink's window join emits: each row's event
time is its window's ``window_time`` (``window_end`` - 1 ms: after a window TVF that is Flink's
time attribute; the rows' own time columns become plain timestamps), and its watermark the joint
watermark just before the one that fired its window (Flink emits a window's rows before it
forwards the watermark that fired it); the batch's mark is the joint watermark. So a window after
a window join needs no ``.watermark()`` of its own, and none of its rows is late there.

>>> import streamlab as sl, pandas as pd
>>> a = sl.from_frame(pd.DataFrame({"ts": [1, 7], "k": ["x", "y"]}), time="ts", unit="s").watermark(0)
>>> b = sl.from_frame(pd.DataFrame({"ts": [3, 12], "k": ["x", "y"]}), time="ts", unit="s").watermark(0)
>>> a.window(sl.Tumble(5)).join(b.window(sl.Tumble(5)), on="k", how="full").collect()
   ts_x  k  ts_y  window_start  window_end
0   1.0  x   3.0             0           5
1   7.0  y   NaN             5          10
2   NaN  y  12.0            10          15
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..core.node import Node, concat_frames
from ..core.snapshot import JoinState
from ..core.timecol import NEG_INF, POS_INF, TimeMeta, format_time, ms_to_values
from ..core.watermarks import Marks
from ..windows.operator import Windowed
from ..windows.specs import SessionPlan, SlicedPlan
from .common import (
    JoinColumns,
    JoinKeys,
    SentMarks,
    check_how,
    check_key_dtypes,
    check_keys,
    from_plain,
    known_dtype,
    one_origin,
    require_watermark,
    rows_of_key,
    rows_per_key,
    side_state,
    to_plain,
)

SIDES = ("left", "right")


def assign_windows(ts: np.ndarray, plan: SlicedPlan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, start, end) of every window of ``plan`` containing each ``ts`` (ms), vectorised.

    >>> import streamlab as sl
    >>> [a.tolist() for a in assign_windows(np.array([7]), sl.Hop(10, 5).resolve("ms"))]
    [[0, 0], [5, 0], [15, 10]]
    """
    size, pane, off = plan.size, plan.pane, plan.offset
    n = len(ts)
    if plan.kind == "tumble":
        start = ts - (ts - off) % size
        return np.arange(n), start, start + size
    k = size // pane
    j = np.tile(np.arange(k), n)
    row = np.repeat(np.arange(n), k)
    t = ts[row]
    if plan.kind == "hop":
        start = t - (t - off) % pane - j * pane
        return row, start, start + size
    base = t - (t - off) % size  # cumulate: [S, S + m*step) for m = 1..k with S + m*step > ts
    end = base + (j + 1) * pane
    ok = end > t
    return row[ok], base[ok], end[ok]


def window_marks(end: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(event time, watermark) marks of window-join rows of windows ending at ``end`` (ms):
    ``window_time`` (end - 1) and the last joint watermark in ``seen`` (ascending) below it.

    >>> [a.tolist() for a in window_marks(np.array([1000, 2000]), np.array([500, 998, 1999]))]
    [[999, 1999], [998, 998]]
    """
    time = end - 1
    return time, seen[np.maximum(np.searchsorted(seen, time, "left") - 1, 0)]


def pair_groups(lgroup: np.ndarray, rgroup: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Positions (left, right) of rows with equal group ids, -1 for a NULL-padded side.

    >>> [a.tolist() for a in pair_groups(np.array([1, 2]), np.array([2, 3]), "full")]
    [[0, 1, -1], [-1, 0, 1]]
    """
    lf = pd.DataFrame({"g": lgroup, "l": np.arange(len(lgroup))})
    rf = pd.DataFrame({"g": rgroup, "r": np.arange(len(rgroup))})
    m = lf.merge(rf, on="g", how="outer" if how == "full" else how, sort=False)
    m = m.sort_values(["g", "l", "r"], na_position="first", kind="stable")
    return (m["l"].fillna(-1).to_numpy(dtype="int64"), m["r"].fillna(-1).to_numpy(dtype="int64"))


class Buffer:
    """One side's rows and their (window start, end, key) assignments, until the windows fire."""

    def __init__(self) -> None:
        self.rows = pd.DataFrame()
        self.pos = np.zeros(0, dtype="int64")
        self.key = np.zeros(0, dtype="int64")
        self.start = np.zeros(0, dtype="int64")
        self.end = np.zeros(0, dtype="int64")

    def add(self, rows, pos, key, start, end) -> None:
        rows = rows.reset_index(drop=True)
        rows.attrs.clear()
        shift = len(self.rows)
        self.rows = rows if not len(self.rows.columns) else pd.concat([self.rows, rows], ignore_index=True)
        self.pos = np.concatenate([self.pos, pos + shift])
        self.key, self.start, self.end = (np.concatenate([a, b]) for a, b in
                                          ((self.key, key), (self.start, start), (self.end, end)))

    def take(self, fired: np.ndarray):
        """Remove the fired assignments; returns (rows, pos, key, start, end) of them."""
        out = self.rows, self.pos[fired], self.key[fired], self.start[fired], self.end[fired]
        keep = ~fired
        self.pos, self.key, self.start, self.end = self.pos[keep], self.key[keep], self.start[keep], self.end[keep]
        used = np.unique(self.pos)
        if len(used) < len(self.rows):  # compact: drop rows no open window refers to
            self.rows = self.rows.take(used).reset_index(drop=True)
            self.pos = np.searchsorted(used, self.pos)
        return out


class WindowJoin(Node):
    """``a.window(spec).join(b.window(spec), on=..., how=...)``: see the module docstring."""

    kind = "join"
    result_operator = True

    def __init__(self, left: Windowed, right: Windowed, *, keys: tuple[list[str], list[str]], how="inner",
                 suffixes=("_x", "_y")):
        if not isinstance(right, Windowed):
            raise TypeError("a window join takes another windowed stream: a.window(spec).join(b.window(spec), on=...)")
        if isinstance(left.plan, SessionPlan) or left.plan != right.plan:
            raise ValueError(f"a window join needs the same TUMBLE, HOP or CUMULATE window on both inputs, got "
                             f"{left.plan.label()} and {right.plan.label()}")
        self.left_on, self.right_on = keys
        for w, side, k in ((left, "left", self.left_on), (right, "right", self.right_on)):
            require_watermark(w.upstream, side)
            check_keys(w.columns, k, side)
        check_key_dtypes([known_dtype(left.upstream, k) for k in self.left_on],
                         [known_dtype(right.upstream, k) for k in self.right_on], self.left_on, self.right_on)
        self.plan, self.how, self.metas = left.plan, check_how(how), (left.meta, right.meta)
        lcols, rcols = left.columns or [left.meta.column], right.columns or [right.meta.column]
        self.cols = JoinColumns(lcols, rcols, self.left_on, self.right_on, suffixes,
                                extra=("window_start", "window_end"))
        super().__init__(upstreams=[left.upstream, right.upstream], columns=self.cols.output,
                         time_meta=TimeMeta(self.cols.left_names[left.meta.column], left.meta.unit))
        self.late = self.side("late")
        #: Both inputs split one source: each row is judged late with the watermark it was made
        #: with, as Flink's two channels of one source see it, not capped by the other input whose
        #: part of the same source batch is merely delivered second (results independent of batching).
        self.watermarks.shared = one_origin(left.upstream, right.upstream)
        self.reset_state()

    def label(self) -> str:
        return f"{self.how} window join {self.plan.label()} on {', '.join(self.left_on)}"

    def reset_state(self) -> None:
        super().reset_state()
        self.keys = JoinKeys(len(self.left_on))
        self.buffers = (Buffer(), Buffer())
        self.counts = [dict.fromkeys(("rows_in", "counted", "late", "errors"), 0) for _ in SIDES]
        self.schema = [pd.DataFrame(columns=self.cols.left), pd.DataFrame(columns=self.cols.right)]
        self._typed = [False, False]
        self._wm = NEG_INF
        self.sent = SentMarks()
        self._out: list[tuple[pd.DataFrame, np.ndarray, np.ndarray]] = []

    def side_columns(self, what: str) -> list[str]:
        return [*self.cols.left, *("watermark", "missed_windows", "reason")] if what == "late" else \
            super().side_columns(what)

    def on_batch(self, df: pd.DataFrame, port: int, marks: Marks | None):
        counts = self.counts[port]
        counts["rows_in"] += len(df)
        if marks is None:
            if len(df):
                counts["errors"] += len(df)
                self.send_errors(df, f"no event-time marks on the {SIDES[port]} input: put .watermark(...) "
                                     "right before the window join")
            return None
        if len(df):
            df = df.reset_index(drop=True)
            if not self._typed[port]:
                self.schema[port], self._typed[port] = df.iloc[:0].copy(), True
                self.schema[port].attrs.clear()
            self._add(df, port, marks)
        end = int(marks.end)
        self._fire(end, np.concatenate([[self._wm], marks.wm.astype("int64"), [end]]))
        return self._drain(end)

    def _add(self, df, port, marks) -> None:
        ts, wm = marks.ms.astype("int64"), marks.wm
        row, start, end = assign_windows(ts, self.plan)
        ok = end - 1 > wm[row]  # §2: a row joins window [s, e) only if e - 1 > W_i
        total = np.bincount(row, minlength=len(df))
        missed = total - np.bincount(row[ok], minlength=len(df))
        key = self.keys.encode(df, self.left_on if port == 0 else self.right_on)
        self.buffers[port].add(df, row[ok], key[row[ok]], start[ok], end[ok])
        counts = self.counts[port]
        counts["counted"] += int((missed < total).sum())
        late = missed > 0
        if late.any():
            counts["late"] += int((late & (missed == total)).sum())
            out = df[late].reset_index(drop=True)
            out["watermark"] = ms_to_values(wm[late], self.metas[port].unit)
            out["missed_windows"] = missed[late]
            out["reason"] = [f"{SIDES[port]} row late for {m} of {t} windows (window end - 1ms <= joint watermark)"
                             for m, t in zip(missed[late].tolist(), total[late].tolist())]
            self.counters.late += len(out)
            self.late.push(out)

    def _fire(self, wm: int, seen: np.ndarray | None = None) -> None:
        """Join and emit every window with ``end - 1 <= wm``. ``seen``: the joint watermarks this
        batch went through, in order (each fired row's mark is the last one below its window's end - 1)."""
        seen = np.maximum.accumulate(np.asarray([self._wm, wm] if seen is None else seen, dtype="int64"))
        self._wm = max(self._wm, wm)
        lb, rb = self.buffers
        lf, rf = lb.end - 1 <= wm, rb.end - 1 <= wm
        if not lf.any() and not rf.any():
            return
        lrows, lpos, lkey, lstart, lend = lb.take(lf)
        rrows, rpos, rkey, rstart, rend = rb.take(rf)
        n = len(lpos)
        both = np.stack([np.concatenate([lkey, rkey]), np.concatenate([lstart, rstart]),
                         np.concatenate([lend, rend])], axis=1)
        _, group = np.unique(both, axis=0, return_inverse=True)
        group = group.reshape(-1).astype("int64")
        null = both[:, 0] < 0  # a NULL key never matches: a group of its own
        group[null] = -1 - np.arange(int(null.sum()))
        li, ri = pair_groups(group[:n], group[n:], self.how)
        start = np.where(li >= 0, lstart[np.maximum(li, 0)] if n else 0, rstart[np.maximum(ri, 0)] if len(rpos) else 0)
        end = np.where(li >= 0, lend[np.maximum(li, 0)] if n else 0, rend[np.maximum(ri, 0)] if len(rpos) else 0)
        order = np.lexsort((start, end))
        li, ri, start, end = li[order], ri[order], start[order], end[order]
        lsrc = np.where(li >= 0, lpos[np.maximum(li, 0)] if n else -1, -1)
        rsrc = np.where(ri >= 0, rpos[np.maximum(ri, 0)] if len(rpos) else -1, -1)
        unit = self.metas[0].unit
        ltab = lrows if len(lrows.columns) else self.schema[0]
        rtab = rrows if len(rrows.columns) else self.schema[1]
        out = self.cols.build(ltab, lsrc, rtab, rsrc, extra={
            "window_start": _array(ms_to_values(start, unit)), "window_end": _array(ms_to_values(end, unit))})
        self._out.append((out, *window_marks(end.astype("int64"), seen)))

    def _drain(self, end: int) -> pd.DataFrame | None:
        """The rows fired so far with their marks (see the module docstring); an empty frame with
        marks when only the watermark moved (as Flink forwards it)."""
        pieces, self._out = self._out, []
        out = concat_frames([p[0] for p in pieces])
        if out is None:
            return self.sent.idle(self.empty_output(), end)
        return self.sent.rows(out.reset_index(drop=True), np.concatenate([p[1] for p in pieces]),
                              np.concatenate([p[2] for p in pieces]), end)

    def on_flush(self) -> None:
        """End of input: every open window fires."""
        self._fire(POS_INF)
        out = self._drain(POS_INF)
        if out is not None:
            self.emit_out(out)

    def empty_output(self) -> pd.DataFrame:
        none = np.zeros(0, dtype="int64")
        kind = "datetime64[ms, UTC]" if self.metas[0].unit is None else "int64"
        return self.cols.build(self.schema[0], none, self.schema[1], none, extra={
            "window_start": pd.Series([], dtype=kind), "window_end": pd.Series([], dtype=kind)})

    def held_rows(self, side: str, key=None) -> pd.DataFrame:
        """The rows ``side`` ('left' or 'right') holds in open windows, all or one key's (a value,
        a tuple, or the key's text as ``keys_held`` shows it): what the inspector shows."""
        if side not in SIDES:
            raise ValueError(f"held_rows(side={side!r}): use 'left' or 'right'")
        port = SIDES.index(side)
        b = self.buffers[port]
        rows = b.rows.take(np.unique(b.pos)).reset_index(drop=True) if len(b.pos) else b.rows.iloc[:0]
        return rows_of_key(rows, self.left_on if port == 0 else self.right_on, key)

    def snapshot_node(self, limit: int | None = 50):
        snap = super().snapshot_node(limit)
        sides = []
        for port, side in enumerate(SIDES):
            b, c = self.buffers[port], self.counts[port]
            held = self.held_rows(side)
            w = (self.watermarks.ports + [NEG_INF, NEG_INF])[port]
            sides.append(side_state(side, w, self.metas[port].unit, c["rows_in"], len(held),
                                    rows_per_key(held, self.left_on if port == 0 else self.right_on, limit),
                                    c["errors"], counted=c["counted"], late=c["late"],
                                    open_windows=len(np.unique(b.end))))
        unit = self.metas[0].unit
        state: JoinState = {"join": "window", "how": self.how, "on": [list(self.left_on), list(self.right_on)],
                            "watermark_text": format_time(self._wm, unit) if NEG_INF < self._wm < POS_INF else None,
                            "left": sides[0], "right": sides[1], "window": self.plan.label()}
        snap["state"] = dict(state)
        return snap

    def save_state(self) -> dict[str, Any]:
        return {"keys": self.keys.index.export(), "counts": [dict(c) for c in self.counts], "watermark": int(self._wm),
                "buffers": [{"rows": to_plain(b.rows), **{n: getattr(b, n).tolist() for n in
                                                          ("pos", "key", "start", "end")}} for b in self.buffers]}

    def load_state(self, state: dict[str, Any]) -> None:
        self.keys = JoinKeys(len(self.left_on))
        self.keys.index.load(state["keys"])
        self.counts = [dict(c) for c in state["counts"]]
        self._wm = int(state["watermark"])
        self.buffers = (Buffer(), Buffer())
        for b, s in zip(self.buffers, state["buffers"]):
            b.rows = from_plain(s["rows"])
            b.pos, b.key, b.start, b.end = (np.asarray(s[n], dtype="int64") for n in ("pos", "key", "start", "end"))


def _array(values):
    return values.array if isinstance(values, pd.Index) else values
