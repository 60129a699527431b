"""Interval join (Flink SQL semantics, DESIGN §2b): equal keys and ``right.ts`` within
``[left.ts + lower, left.ts + upper]``; INNER, LEFT, RIGHT and FULL; append-only.

A row is held until the joint watermark passes its last chance to match (a left row's is
``ts + upper``, a right row's ``ts - lower``); then it is freed, and in an outer join emitted
NULL-padded if it never matched. A row that arrives after its last chance still joins what the
other side holds; in an outer join it is emitted NULL-padded at once if it matched nothing; it is
counted in ``late_arrivals``. As in Flink, the watermark a row sees is clamped at 0.

The output carries marks (one watermark channel): each row's event time (the left time, or the
right one for a right row padded with NULL) and the joint watermark minus ``output_delay`` (Flink
delays an interval join's output watermark by ``max(-lower, upper)``), so a window after the join
needs no ``.watermark()`` of its own and no row the join emits in time is late for it.

When both inputs split one source (``src.where(...)`` twice, one watermark upstream), each source
batch reaches the join as two parts; the join waits for the second part and joins the two in the
source's row order (the rows' index), each row with the watermark it was made with, so the rows
do not depend on the batch size (a streamz step that renumbers rows on the way loses that order:
then the parts are joined one after the other).

Differences from Flink: Flink frees rows on cleanup timers that may fire up to
``(upper - lower) / 2`` later than the last chance, so a row later than that may find more rows in
Flink than here. Rows that arrive in time give the same rows.

>>> import streamlab as sl, pandas as pd
>>> a = sl.from_frame(pd.DataFrame({"ts": [10, 20], "k": ["x", "y"]}), time="ts", unit="ms").watermark(0)
>>> b = sl.from_frame(pd.DataFrame({"ts": [12, 40], "k": ["x", "y"]}), time="ts", unit="ms").watermark(0)
>>> a.join(b, on="k", between=(0, 5), how="left").collect()
   ts_x  k  ts_y
0    10  x  12.0
1    20  y   NaN
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..core.durations import to_ms
from ..core.node import Node, concat_frames
from ..core.snapshot import JoinSide, JoinState
from ..core.timecol import NEG_INF, POS_INF, TimeMeta, format_time
from ..core.watermarks import Marks
from ..transforms import find_columns
from .common import (
    JoinColumns,
    JoinKeys,
    SentMarks,
    check_how,
    check_key_dtypes,
    check_keys,
    from_plain,
    key_lists,
    known_dtype,
    meta_of,
    one_origin,
    range_pairs,
    require_watermark,
    rows_of_key,
    rows_per_key,
    side_state,
    to_plain,
)

SIDES = ("left", "right")


class Held:
    """The rows one side keeps: the rows themselves plus key code, time, last chance, matched."""

    def __init__(self) -> None:
        self.rows = pd.DataFrame()
        self.key = np.zeros(0, dtype="int64")
        self.ts = np.zeros(0, dtype="int64")
        self.last = np.zeros(0, dtype="int64")
        self.matched = np.zeros(0, dtype=bool)

    def __len__(self) -> int:
        return len(self.key)

    def add(self, rows: pd.DataFrame, key, ts, last, matched) -> None:
        rows = rows.reset_index(drop=True)
        rows.attrs.clear()
        self.rows = rows if not len(self.rows.columns) else pd.concat([self.rows, rows], ignore_index=True)
        self.key = np.concatenate([self.key, key])
        self.ts = np.concatenate([self.ts, ts])
        self.last = np.concatenate([self.last, last])
        self.matched = np.concatenate([self.matched, matched])

    def expire(self, wm: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
        """Free rows whose last chance is before ``wm``; returns them, their matched flags, times
        and last chances."""
        gone = self.last < wm
        if not gone.any():
            none = np.zeros(0, dtype="int64")
            return self.rows.iloc[:0], np.zeros(0, dtype=bool), none, none
        freed, matched, ts, last = self.rows[gone], self.matched[gone], self.ts[gone], self.last[gone]
        keep = ~gone
        self.rows = self.rows[keep].reset_index(drop=True)
        self.key, self.ts, self.last, self.matched = self.key[keep], self.ts[keep], self.last[keep], self.matched[keep]
        return freed.reset_index(drop=True), matched, ts, last


class IntervalJoin(Node):
    """``left.join(right, on=..., between=(lower, upper), how=...)``: see the module docstring."""

    kind = "join"
    result_operator = True
    state_version = 1

    def __init__(self, left, right, *, on=None, left_on=None, right_on=None, between=None, how="inner",
                 suffixes=("_x", "_y"), inclusive="both", keys: tuple[list[str], list[str]] | None = None):
        lmeta, rmeta = meta_of(left, "left"), meta_of(right, "right")
        sides: tuple[list[str], list[str]] = keys if keys is not None else key_lists(on, left_on, right_on)
        self.left_on, self.right_on = sides
        for stream, side, k in ((left, "left", self.left_on), (right, "right", self.right_on)):
            require_watermark(stream, side)
            check_keys(find_columns(stream), k, side)
        check_key_dtypes([known_dtype(left, k) for k in self.left_on],
                         [known_dtype(right, k) for k in self.right_on], self.left_on, self.right_on)
        if not isinstance(between, (tuple, list)) or len(between) != 2:
            raise ValueError("between= takes (lower, upper): right.ts within [left.ts + lower, left.ts + upper], "
                             "e.g. between=('-2s', '5s')")
        lower, upper = (_signed_ms(b, lmeta.unit) for b in between)
        if inclusive not in ("both", "left", "right", "neither"):
            raise ValueError("inclusive= takes 'both', 'left', 'right' or 'neither' (as pandas.Series.between)")
        lower += inclusive in ("right", "neither")  # a strict bound moves by 1 ms
        upper -= inclusive in ("left", "neither")
        if lower > upper:
            raise ValueError(f"between=({between[0]!r}, {between[1]!r}) is empty: lower must be <= upper")
        self.lower, self.upper, self.how = lower, upper, check_how(how)
        lcols, rcols = find_columns(left) or [lmeta.column], find_columns(right) or [rmeta.column]
        self.cols = JoinColumns(lcols, rcols, self.left_on, self.right_on, suffixes)
        self.metas = (lmeta, rmeta)
        super().__init__(upstreams=[left, right], time_meta=TimeMeta(self.cols.left_names[lmeta.column], lmeta.unit),
                         columns=self.cols.output)
        #: Both inputs split one source: the two parts of each source batch are joined together, in
        #: the source's row order, with the watermark each row was made with (see ``_lockstep``).
        self.one_origin = one_origin(left, right)
        self.watermarks.shared = self.one_origin
        self.reset_state()

    def label(self) -> str:
        unit = self.metas[0].unit
        return (f"{self.how} interval join on {', '.join(self.left_on)}: right.ts in "
                f"[left.ts{_fmt(self.lower, unit)}, left.ts{_fmt(self.upper, unit)}]")

    def reset_state(self) -> None:
        super().reset_state()
        self.keys = JoinKeys(len(self.left_on))
        self.held = (Held(), Held())
        self.counts = [dict.fromkeys(("rows_in", "matched", "emitted_unmatched", "expired_unmatched",
                                      "errors", "late_arrivals"), 0) for _ in SIDES]
        self._wm = NEG_INF
        self._out: list[tuple[pd.DataFrame, np.ndarray, np.ndarray]] = []
        self.sent = SentMarks()  # the output watermark sent so far
        self._part: tuple[int, pd.DataFrame, Marks] | None = None  # one input's part of a source batch
        #: Zero-row frames with each side's columns and dtypes (from its first batch).
        self.schema = [pd.DataFrame(columns=self.cols.left), pd.DataFrame(columns=self.cols.right)]
        self._typed = [False, False]

    # --- processing -----------------------------------------------------------------------
    @property
    def output_delay(self) -> int:
        """How far the output's watermark stays behind the joint watermark (ms): Flink's
        ``max(-lower, upper)`` plus 1 ms, so that no row the join emits in time is late downstream."""
        return max(self.upper, -self.lower) + 1

    def on_batch(self, df: pd.DataFrame, port: int, marks: Marks | None):
        counts = self.counts[port]
        counts["rows_in"] += len(df)
        if marks is None:
            if len(df):
                counts["errors"] += len(df)
                self.send_errors(df, f"no event-time marks on the {SIDES[port]} input: put .watermark(...) "
                                     "right before the join (a streamz step in between drops them)")
            return None
        if len(df) and not self._typed[port]:
            self.schema[port], self._typed[port] = df.iloc[:0].copy(), True
            self.schema[port].attrs.clear()
        if self.one_origin:
            if self._part is None or self._part[0] == port:
                if self._part is not None:  # the other part never came: join this one alone
                    self._settle_part()
                self._part = (port, df, marks)
                return None
            first, self._part = self._part, None
            self._lockstep(first, (port, df, marks))
        elif len(df):
            self._process(df.reset_index(drop=True), port, marks)
        self._expire(max(int(marks.end), 0))
        return self._drain(int(marks.end))

    def _settle_part(self) -> None:
        if self._part is not None:
            port, df, marks = self._part
            self._part = None
            if len(df):
                self._process(df.reset_index(drop=True), port, marks)

    def _process(self, df: pd.DataFrame, port: int, marks: Marks) -> None:
        self._settle(df, port, *self._match_held(df, port, marks))

    def _match_held(self, df: pd.DataFrame, port: int, marks: Marks):
        """Join rows of one input with what the other input holds; returns (key, ts, w, label, matched)."""
        other = self.held[1 - port]
        w = np.maximum(marks.wm, 0)  # Flink's interval join takes a watermark below 0 as 0
        ts = marks.ms.astype("int64")
        key = self.keys.encode(df, self.left_on if port == 0 else self.right_on)
        lo, hi = (self.lower, self.upper) if port == 0 else (-self.upper, -self.lower)
        i, j = range_pairs(key, ts + lo, ts + hi, other.key, other.ts)
        alive = w[i] <= other.last[j]  # the other row's last chance has not passed for this row
        i, j = i[alive], j[alive]
        label = self._label(marks.wm)
        if len(i):
            other.matched[j] = True
            self._emit_pairs(df, i, other.rows, j, port, ts[i] if port == 0 else other.ts[j], label[i])
        matched = np.zeros(len(df), dtype=bool)
        matched[i] = True
        return key, ts, w, label, matched

    def _settle(self, df, port, key, ts, w, label, matched) -> None:
        """After matching: rows past their last chance are decided at once, the others held."""
        last = ts + (self.upper if port == 0 else -self.lower)
        hold = w < last
        late = ~hold
        counts = self.counts[port]
        if late.any():
            counts["late_arrivals"] += int(late.sum())
            self._decide(df[late], matched[late], port, ts[late], label[late])
        if hold.any():
            self.held[port].add(df[hold], key[hold], ts[hold], last[hold], matched[hold])

    def _lockstep(self, a: tuple[int, pd.DataFrame, Marks], b: tuple[int, pd.DataFrame, Marks]) -> None:
        """The two parts of one source batch (both inputs split one source), joined as if their
        rows had arrived one by one in the source's order: each part with what was held before,
        then the pairs within the batch, where the earlier row (in source order) must have been
        held (``w < last``) and the later row must still find it (``w_later <= last_earlier``).
        The source order is the rows' index (a source numbers its rows); without a usable index
        the parts are joined one after the other."""
        (pa, da, ma), (pb, db, mb) = sorted([a, b], key=lambda p: p[0])
        pos = [_positions(ma), _positions(mb)]
        if pos[0] is None or pos[1] is None:
            for port, df, marks in ((pa, da, ma), (pb, db, mb)):
                if len(df):
                    self._process(df.reset_index(drop=True), port, marks)
            return
        left, right = da.reset_index(drop=True), db.reset_index(drop=True)
        lk, lts, lw, llab, lmatched = self._match_held(left, 0, ma)
        rk, rts, rw, rlab, rmatched = self._match_held(right, 1, mb)
        i, j = range_pairs(lk, lts + self.lower, lts + self.upper, rk, rts)
        if len(i):
            llast, rlast = lts[i] + self.upper, rts[j] - self.lower
            left_first = pos[0][i] < pos[1][j]
            early_w = np.where(left_first, lw[i], rw[j])
            early_last = np.where(left_first, llast, rlast)
            late_w = np.where(left_first, rw[j], lw[i])
            ok = (early_w < early_last) & (late_w <= early_last)
            i, j = i[ok], j[ok]
            if len(i):
                later = np.where(left_first[ok], rlab[j], llab[i])
                lmatched[i] = True
                rmatched[j] = True
                self._out.append((self.cols.build(left, i, right, j), lts[i], later))
        self._settle(left, 0, lk, lts, lw, llab, lmatched)
        self._settle(right, 1, rk, rts, rw, rlab, rmatched)

    def _label(self, wm: np.ndarray) -> np.ndarray:
        """The output watermark rows emitted at joint watermark ``wm`` carry (see ``output_delay``)."""
        wm = np.asarray(wm, dtype="int64")
        return np.where(wm <= NEG_INF, NEG_INF, np.where(wm >= POS_INF, POS_INF, wm - self.output_delay))

    def _emit_pairs(self, df, i, other, j, port, ms, label) -> None:
        if port == 0:
            out = self.cols.build(df, i, other, j)
        else:
            out = self.cols.build(other, j, df, i)
        self._out.append((out, np.asarray(ms, dtype="int64"), np.asarray(label, dtype="int64")))

    def _decide(self, rows: pd.DataFrame, matched: np.ndarray, port: int, ts: np.ndarray,
                label: np.ndarray) -> None:
        """Rows that will never match again: count them; pad the unmatched ones of an outer side."""
        counts = self.counts[port]
        counts["matched"] += int(matched.sum())
        lonely = ~matched
        n = int(lonely.sum())
        if not n:
            return
        if self.how == "full" or self.how == SIDES[port]:
            counts["emitted_unmatched"] += n
            pos, none = np.flatnonzero(lonely), np.full(n, -1)
            empty = self.schema[1 - port]
            self._emit_pairs(rows.reset_index(drop=True), pos, empty, none, port, ts[pos], label[pos])
        else:
            counts["expired_unmatched"] += n

    def _expire(self, wm: int) -> None:
        self._wm = max(self._wm, wm)
        for port in (0, 1):
            freed, matched, ts, last = self.held[port].expire(wm)
            if len(freed):
                # emitted while the watermark was still at the row's last chance (before it passed)
                self._decide(freed, matched, port, ts, self._label(last))

    def _drain(self, end: int) -> pd.DataFrame | None:
        """The rows made so far, ordered by the output watermark they carry, with their marks."""
        pieces, self._out = self._out, []
        out = concat_frames([p[0] for p in pieces])
        end_label = int(self._label(np.array([end]))[0])
        if out is None:  # no rows, but the watermark may have moved: tell the operators downstream
            return self.sent.idle(self.empty_output(), end_label)
        ms = np.concatenate([p[1] for p in pieces])
        label = np.concatenate([p[2] for p in pieces])
        if len(pieces) > 1 and (np.diff(label) < 0).any():
            order = np.argsort(label, kind="stable")
            out, ms, label = out.take(order).reset_index(drop=True), ms[order], label[order]
        else:
            out = out.reset_index(drop=True)
        return self.sent.rows(out, ms, label, end_label)

    def on_flush(self) -> None:
        """End of input: every held row is freed (outer ones NULL-padded)."""
        self._settle_part()
        self._expire(POS_INF)
        out = self._drain(POS_INF)
        if out is not None:
            self.emit_out(out)

    def empty_output(self) -> pd.DataFrame:
        """A zero-row frame with the output columns."""
        none = np.zeros(0, dtype="int64")
        return self.cols.build(self.schema[0], none, self.schema[1], none)

    # --- inspection -----------------------------------------------------------------------
    def side_counts(self, port: int, limit: int | None = 50) -> JoinSide:
        """One input: its watermark, rows held (per key) and conservation counters
        (rows in = matched + emitted_unmatched + expired_unmatched + held + errors)."""
        c, held = self.counts[port], self.held[port]
        wm = (self.watermarks.ports + [NEG_INF, NEG_INF])[port]
        waiting = len(self._part[1]) if self._part is not None and self._part[0] == port else 0
        return side_state(SIDES[port], wm, self.metas[port].unit, c["rows_in"], len(held) + waiting,
                          self.held_per_key(port, limit), c["errors"], matched=c["matched"],
                          emitted_unmatched=c["emitted_unmatched"], expired_unmatched=c["expired_unmatched"],
                          late_arrivals=c["late_arrivals"])

    def held_per_key(self, port: int, limit: int | None = 50) -> dict[str, int]:
        """Rows held per key on one side (the ``limit`` keys holding most), keyed by the key's text."""
        return rows_per_key(self.held[port].rows, self.left_on if port == 0 else self.right_on, limit)

    def held_rows(self, side: str, key=None) -> pd.DataFrame:
        """The rows ``side`` ('left' or 'right') holds, all or those of one key (a value, a tuple
        of values, or the key's text as ``keys_held`` shows it): what the inspector shows."""
        if side not in SIDES:
            raise ValueError(f"held_rows(side={side!r}): use 'left' or 'right'")
        port = SIDES.index(side)
        return rows_of_key(self.held[port].rows.copy(), self.left_on if port == 0 else self.right_on, key)

    def snapshot_node(self, limit: int | None = 50):
        snap = super().snapshot_node(limit)
        unit = self.metas[0].unit
        state: JoinState = {
            "join": "interval", "how": self.how, "on": [list(self.left_on), list(self.right_on)],
            "watermark_text": format_time(self._wm, unit) if self._wm > NEG_INF else None,
            "left": self.side_counts(0, limit), "right": self.side_counts(1, limit),
            "lower_ms": self.lower, "upper_ms": self.upper}
        snap["state"] = dict(state)
        return snap

    # --- checkpoints ----------------------------------------------------------------------
    def save_state(self) -> dict[str, Any]:
        sides = []
        for h in self.held:
            sides.append({"rows": to_plain(h.rows), "key": h.key.tolist(), "ts": h.ts.tolist(),
                          "last": h.last.tolist(), "matched": h.matched.tolist()})
        return {"keys": self.keys.index.export(), "held": sides, "counts": [dict(c) for c in self.counts],
                "watermark": int(self._wm)}

    def load_state(self, state: dict[str, Any]) -> None:
        self.keys = JoinKeys(len(self.left_on))
        self.keys.index.load(state["keys"])
        self.held = (Held(), Held())
        for h, s in zip(self.held, state["held"]):
            h.rows = from_plain(s["rows"])
            h.key, h.ts, h.last = (np.asarray(s[n], dtype="int64") for n in ("key", "ts", "last"))
            h.matched = np.asarray(s["matched"], dtype=bool)
        self.counts = [dict(c) for c in state["counts"]]
        self._wm = int(state["watermark"])


def _positions(marks: Marks) -> np.ndarray | None:
    """The rows' positions in their source batch (their index), when it is a unique integer index."""
    index = marks.index
    if not len(index):
        return np.zeros(0, dtype="int64")
    if index.dtype.kind not in "iu" or not index.is_unique:
        return None
    return index.to_numpy(dtype="int64")


def _signed_ms(value, unit) -> int:
    if isinstance(value, str) and value.strip().startswith("-"):
        return -to_ms(value.strip()[1:], unit, name="between", allow_zero=True)
    if isinstance(value, pd.Timedelta) and value < pd.Timedelta(0):
        return -to_ms(-value, unit, name="between", allow_zero=True)
    if isinstance(value, (int, float, np.integer, np.floating)) and value < 0:
        return -to_ms(-value, unit, name="between", allow_zero=True)
    return to_ms(value, unit, name="between", allow_zero=True)


def _fmt(ms: int, unit) -> str:
    return f" - {abs(ms)}ms" if ms < 0 else f" + {ms}ms"
