"""What the timeline draws, as bounded pandas tables (no Bokeh here).

:class:`TimelineData` follows one window operator through three taps: its input (every event,
with the watermark it saw), its output (fired windows) and its ``late`` side output. Each event
gets an *arrival number*: its position in the order rows reached the window operator (0, 1, 2,
...). That counter is the y axis of the diagram.

The window operator processes a batch before the tap on its input sees it (streamz calls the
window first), so fired windows and late rows of a batch are stamped with the operator's
``rows_in`` and placed once the tap has seen the batch.

>>> import pandas as pd, streamlab as sl
>>> df = pd.DataFrame({"ts": [100, 1200, 300], "k": ["a", "a", "b"], "v": [1, 2, 3]})
>>> res = sl.from_frame(df, time="ts", unit="ms").watermark(0).window(sl.Tumble(1000), by="k").agg(
...     n=("v", "size"))
>>> data = TimelineData(res)
>>> sinks = data.attach()
>>> _ = res.collect()
>>> data.tables["events"][["x", "y", "key"]].values.tolist()
[[100.0, 0, 'a'], [1200.0, 1, 'a'], [300.0, 2, 'b']]
>>> {c: data.tables["late"][c].tolist() for c in ("x", "y", "x_end", "wm")}
{'x': [300.0], 'y': [2], 'x_end': [1000.0], 'wm': [1200.0]}
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from bokeh.palettes import Category10_10

from ..core.durations import UNIT_MS
from ..core.node import Observed
from ..core.timecol import NEG_INF, POS_INF, event_ms, format_time
from ..viz.columns import key_text
from ..windows.specs import Session
from .bands import BandSpans, open_bands

PALETTE = Category10_10
STREAMED = ("events", "watermark", "fires", "late")
COLUMNS = {
    "events": ["x", "y", "key", "color", "wm", "row"],
    "watermark": ["x", "y"],
    "fires": ["x", "y", "start", "end", "key", "color", "row", "cause"],
    "late": ["x", "y", "key", "wm", "x_end", "missed", "reason", "why"],
    "bands": ["left", "right", "bottom", "top", "key", "color", "alpha", "state", "label"],
    "now": ["x0", "y0", "x1", "y1"],
}
_BAND_GREY = "#64748b"


class TimelineData:
    """Bounded tables of one window operator's events, watermark, fires, late rows and windows.

    ``tables`` holds the last ``max_events`` events (and as many fires and late rows, twice as
    many watermark points); ``frames(cut)`` gives every layer as seen when ``cut`` rows had
    arrived (None: now).
    """

    def __init__(self, op, max_events: int = 2000):
        self.op = op
        self.unit = op.time_meta.unit
        self.column = op.time_meta.column
        self.scale = UNIT_MS[self.unit] if self.unit not in (None, "ms") else 1.0
        self.session = isinstance(op.spec, Session)
        self.max_events = int(max_events)
        self.max_bands = max(50, self.max_events // 4)
        self.version = 0
        self.reset(base=op.counters.rows_in)

    # --- state ------------------------------------------------------------------------------
    def reset(self, base: int = 0) -> None:
        """Forget everything (the operator was reset, or a new run started).

        ``base`` is how many rows the operator had already seen (a timeline opened mid-run).
        """
        self._counters = self.op.counters
        self._base = base
        self.count = 0  # rows that reached the window operator
        self.fired_total = self.late_total = 0
        self.colors: dict[str, str] = {}
        self.wm = NEG_INF  # watermark after the last row, ms
        self.tables = {n: pd.DataFrame({c: [] for c in COLUMNS[n]}) for n in STREAMED}
        self._stair = (np.zeros(0, "int64"), np.zeros(0, "int64"))  # watermark ms, arrival
        self._ev_ms = np.zeros(0, "int64")
        self._fresh: dict[str, list[pd.DataFrame]] = {n: [] for n in STREAMED}
        self._pending: list[tuple[str, pd.DataFrame, int]] = []
        # the last input batch: (first arrival, rows, frame, accepted positions, ms, watermarks)
        self._batch: tuple[int, int, pd.DataFrame, np.ndarray, np.ndarray, np.ndarray] | None = None
        self.spans = BandSpans(self.max_bands)
        self.version += 1

    def attach(self, then=None) -> list:
        """Follow the operator: what it judged of each input batch (rows, their watermarks), its
        output and its ``late`` output; ``then()`` runs after each.

        Returns handles whose ``destroy()`` detaches.
        """
        def tap(handle):
            def on_batch(item) -> None:
                if isinstance(item, (pd.DataFrame, Observed)):
                    handle(item)
                    if then is not None:
                        then()
            return on_batch

        op = self.op
        return [_Watch(op, tap(self.on_input)), op.sink(tap(self.on_output)), op.late.sink(tap(self.on_late))]

    def _check_reset(self) -> None:
        if self.op.counters is not self._counters:
            self.reset()

    def _append(self, name: str, df: pd.DataFrame, limit: int) -> None:
        if not len(df):
            return
        old = self.tables[name]
        self.tables[name] = (pd.concat([old, df], ignore_index=True) if len(old) else df).tail(
            limit).reset_index(drop=True)
        fresh = self._fresh[name]
        fresh.append(df.tail(limit))
        while len(fresh) > 1 and sum(len(f) for f in fresh[1:]) >= limit:
            fresh.pop(0)

    def take_fresh(self) -> dict[str, pd.DataFrame]:
        """Rows added to each streamed layer since the last call (for ``ColumnDataSource.stream``)."""
        out = {}
        for name, parts in self._fresh.items():
            if parts:
                out[name] = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
            self._fresh[name] = []
        return out

    @property
    def horizon(self) -> int:
        """Arrival number of the oldest event still kept."""
        ev = self.tables["events"]
        return int(ev["y"].iloc[0]) if len(ev) else self.count

    # --- helpers ----------------------------------------------------------------------------
    def x(self, ms) -> np.ndarray:
        """Event time in ms -> the x axis (epoch ms for datetimes, the input's unit for numbers)."""
        return np.asarray(ms, dtype="float64") / self.scale

    def text(self, ms: int) -> str:
        return format_time(int(ms), self.unit)

    def keys_of(self, df: pd.DataFrame) -> list[str]:
        by = self.op.by
        if not by:
            return ["(all)"] * len(df)
        if len(by) == 1:
            return [key_text(v) for v in df[by[0]].tolist()]
        return [key_text(t) for t in df[by].itertuples(index=False, name=None)]

    def color(self, keys) -> list[str]:
        for k in keys:
            if k not in self.colors:
                self.colors[k] = PALETTE[len(self.colors) % len(PALETTE)]
        return [self.colors[k] for k in keys]

    # --- taps ---------------------------------------------------------------------------------
    def on_input(self, seen: Observed) -> None:
        """A batch as the window operator judged it: valid rows, their times and watermarks."""
        self._check_reset()
        df = seen.frame
        n, y0 = len(df), self.count
        self.count += n
        ms, wm, pos, end = seen.ms, seen.wm, seen.pos, max(seen.end, self.wm)
        self._watermark_points(wm, y0 + pos, end, y0 + n)
        self._batch = (y0, n, df, pos, ms, wm)
        keep = slice(max(0, len(pos) - self.max_events), None)
        rows = df.iloc[pos[keep]]
        keys = self.keys_of(rows)
        wm_k = wm[keep]
        self._append("events", pd.DataFrame({
            "x": self.x(ms[keep]), "y": y0 + pos[keep], "key": keys, "color": self.color(keys),
            "wm": np.where(wm_k > NEG_INF, self.x(wm_k), np.nan), "row": _row_texts(rows, self.column),
        }), self.max_events)
        self._ev_ms = np.concatenate([self._ev_ms, ms[keep]])[-self.max_events:]
        if self._stamp() > self.count:  # the operator saw rows we never did (it failed mid-batch)
            self._base += self._stamp() - self.count
        self._resolve()

    def on_output(self, df: pd.DataFrame) -> None:
        """Rows the window operator emitted (fired windows)."""
        self._check_reset()
        self._pending.append(("fires", df, self._stamp()))
        self._resolve()

    def on_late(self, df: pd.DataFrame) -> None:
        """Rows the window operator set aside as late."""
        self._check_reset()
        self._pending.append(("late", df, self._stamp()))
        self._resolve()

    def _stamp(self) -> int:
        """Rows the window operator has taken in, on our arrival scale."""
        return self.op.counters.rows_in - self._base

    @property
    def consistent(self) -> bool:
        """Whether the tap on the input has seen every batch the operator has processed."""
        return not self._pending and self._stamp() == self.count

    def _watermark_points(self, wm, y, end, y_end) -> None:
        """One point per watermark value, at the arrival of the first row that saw it."""
        prev = np.concatenate([[self.wm], wm[:-1]]) if len(wm) else wm
        new = (wm != prev) & (wm > NEG_INF)
        xs, ys = list(wm[new]), list(y[new])
        last = int(wm[-1]) if len(wm) else self.wm
        if end != last and NEG_INF < end < POS_INF:
            xs.append(end)
            ys.append(y_end)
        self.wm = end
        if xs:
            w_ms, w_y = np.asarray(xs, "int64"), np.asarray(ys, "int64")
            limit = 2 * self.max_events
            self._stair = (np.concatenate([self._stair[0], w_ms])[-limit:],
                           np.concatenate([self._stair[1], w_y])[-limit:])
            self._append("watermark", pd.DataFrame({"x": self.x(w_ms), "y": w_y}), limit)

    # --- placing fires and late rows ------------------------------------------------------------
    def _resolve(self) -> None:
        ready = [p for p in self._pending if p[2] <= self.count]
        self._pending = [p for p in self._pending if p[2] > self.count]
        for kind, df, stamp in ready:
            if len(df):
                (self._place_fires if kind == "fires" else self._place_late)(df, stamp)

    def _batch_rows(self, stamp):
        """(y0, positions, ms, wm) of the input batch that ended at arrival ``stamp``."""
        b = self._batch
        if b is None or b[0] + b[1] != stamp:
            return None
        return b

    def _place_fires(self, df: pd.DataFrame, stamp: int) -> None:
        ws = event_ms(df["window_start"], self.unit)[0]
        we = event_ms(df["window_end"], self.unit)[0]
        keys = self.keys_of(df)
        w_ms, w_y = self._stair
        idx = np.searchsorted(w_ms, we - 1, side="left")
        found = idx < len(w_ms)
        y = np.full(len(df), stamp, dtype="int64")
        if found.any():
            y[found] = np.minimum(w_y[idx[found]], stamp)
        end_of_input = self.op.current_watermark >= POS_INF
        causes = []
        revision = df["revision"].to_numpy() if "revision" in df else np.zeros(len(df), "int64")
        final = df["final"].to_numpy() if "final" in df else np.ones(len(df), bool)
        for i in range(len(df)):
            if not final[i]:
                y[i], cause = stamp, "early (provisional) result: emit_early"
            elif revision[i] > 0:
                y[i] = self._refire_arrival(keys[i], int(ws[i]), int(we[i]), stamp)
                cause = (f"revision {revision[i]}: a late row within allowed_lateness "
                         "updated the fired window")
            elif (found[i] and y[i] < stamp) or not end_of_input:
                cause = f"the watermark reached end - 1ms = {self.text(we[i] - 1)}"
            else:
                cause = "end of input: every open window fires"
            causes.append(cause)
            band = (keys[i] if self.session else "", int(ws[i]), int(we[i]))
            self.spans.fire(band, int(y[i]))
        names = [s.name for s in self.op.specs] + (["revision"] if "revision" in df else [])
        rows = _row_texts(df[names], "", limit=len(names))
        texts = {int(v): self.text(v) for v in {*ws.tolist(), *we.tolist()}}
        self.fired_total += len(df)
        self._append("fires", pd.DataFrame({
            "x": self.x(we), "y": y, "start": self.x(ws), "end": self.x(we), "key": keys,
            "color": self.color(keys),
            "row": [f"{k} · [{texts[s]}, {texts[e]}) · {r}"
                    for k, s, e, r in zip(keys, ws.tolist(), we.tolist(), rows)],
            "cause": causes,
        }), self.max_events)

    def _refire_arrival(self, key, start, end, stamp) -> int:
        b = self._batch_rows(stamp)
        if b is None:
            return stamp
        y0, _, df, pos, ms, wm = b
        cand = np.flatnonzero((ms >= start) & (ms < end) & (wm >= end - 1))
        if self.op.by and len(cand):
            cand = cand[np.asarray(self.keys_of(df.iloc[pos[cand]])) == key]
        return int(y0 + pos[cand[-1]]) if len(cand) else stamp - 1

    def _place_late(self, df: pd.DataFrame, stamp: int) -> None:
        l_ms = event_ms(df[self.column], self.unit)[0]
        l_wm = event_ms(df["watermark"], self.unit)[0]
        keys = self.keys_of(df)
        y = np.full(len(df), stamp - 1, dtype="int64")
        b = self._batch_rows(stamp)
        if b is not None:  # match late rows to the batch's rows by (time, watermark, key), in order
            y0, _, bdf, pos, ms, wm = b
            cand = np.flatnonzero(np.isin(ms, l_ms))
            slots: dict[tuple, deque] = {}
            for c, k in zip(cand.tolist(), self.keys_of(bdf.iloc[pos[cand]])):
                slots.setdefault((int(ms[c]), int(wm[c]), k), deque()).append(c)
            for i, t in enumerate(zip(l_ms.tolist(), l_wm.tolist(), keys)):
                if slots.get(t):
                    y[i] = y0 + pos[slots[t].popleft()]
        ends = [self._missed_end(k, int(t), int(w)) for k, t, w in zip(keys, l_ms, l_wm)]
        lateness = " + allowed_lateness" if self.op.lateness else ""
        what = "its session" if self.session else "window"
        why = [f"arrival #{a}: {what} [{self.text(s)}, {self.text(e)}) had closed: "
               f"end - 1ms{lateness} <= the watermark {self.text(w)} this row saw"
               for a, (s, e), w in zip(y, ends, l_wm)]
        self.late_total += len(df)
        self._append("late", pd.DataFrame({
            "x": self.x(l_ms), "y": y, "key": keys, "wm": self.x(l_wm),
            "x_end": self.x([e for _, e in ends]),
            "missed": df["missed_windows"].to_numpy(), "reason": df["reason"].astype(str).tolist(),
            "why": why,
        }), self.max_events)

    def _missed_end(self, key: str, ts: int, wm: int) -> tuple[int, int]:
        """The latest window a late row missed (sessions: the fired session it would join)."""
        wins = self.op.windows_of(ts)
        if self.session:
            touching = self.spans.fired_touching(key, *wins[0])
            return max(touching, key=lambda w: w[1]) if touching else wins[0]
        missed = [w for w in wins if w[1] - 1 + self.op.lateness <= wm]
        return max(missed or wins[:1], key=lambda w: w[1])

    # --- window bands -------------------------------------------------------------------------
    def refresh_open(self) -> None:
        """Note which windows (sessions: per key) are open now; those that closed keep their span."""
        self._check_reset()
        if not self.consistent:  # mid-batch: the operator is ahead of the tap; wait for it
            return
        self.spans.observe(open_bands(self.op, self.session), self.count, self.horizon)

    def bands(self, cut: int | None = None) -> pd.DataFrame:
        """Window bands: fired ones end where they fired; open ones reach up to now (or ``cut``)."""
        top_now = self.count if cut is None else cut
        chosen = self.spans.visible(cut, now=self.count)
        ev = self.tables["events"]
        ey, ekey = ev["y"].to_numpy(), ev["key"].to_numpy()
        horizon = int(ey[0]) if len(ey) else top_now
        rows = []
        for (key, s, e), (state, top) in chosen.items():
            inside = (self._ev_ms >= s) & (self._ev_ms < e) & (ey < max(top, 1))
            if key:
                inside &= ekey == key
            if inside.any():
                bottom = int(ey[inside].min())
            elif top >= horizon and state == "fired":
                bottom = horizon
            else:
                continue
            rows.append((s, e, bottom, top, key, self.colors.get(key, _BAND_GREY) if key else _BAND_GREY,
                         0.16 if state == "fired" else 0.07, state,
                         f"{key + ' · ' if key else ''}[{self.text(s)}, {self.text(e)}) {state}"))
        cols: list[Sequence[Any]] = list(zip(*rows)) if rows else [[] for _ in range(9)]
        out: dict[str, list[Any] | np.ndarray] = dict(zip(["left", "right", "bottom", "top", "key", "color", "alpha", "state", "label"],
                       map(list, cols)))
        out["left"], out["right"] = self.x(out["left"]), self.x(out["right"])
        return pd.DataFrame(out)

    # --- views --------------------------------------------------------------------------------
    def watermark_at(self, cut: int | None = None) -> tuple[int, int] | None:
        """(watermark ms, arrival it took effect) as of ``cut`` rows (None: now)."""
        w_ms, w_y = self._stair
        if cut is not None:
            keep = w_y <= cut
            w_ms, w_y = w_ms[keep], w_y[keep]
        return (int(w_ms[-1]), int(w_y[-1])) if len(w_ms) else None

    def frames(self, cut: int | None = None) -> dict[str, pd.DataFrame]:
        """Every layer as it looked when ``cut`` rows had arrived (None: now)."""
        t = self.tables
        if cut is None:
            out = dict(t)
        else:
            out = {"events": t["events"][t["events"]["y"] < cut],
                   "watermark": t["watermark"][t["watermark"]["y"] <= cut],
                   "fires": t["fires"][t["fires"]["y"] <= cut],
                   "late": t["late"][t["late"]["y"] < cut]}
        out["bands"] = self.bands(cut)
        out["now"] = self.head(cut)
        return out

    def head(self, cut: int | None = None) -> pd.DataFrame:
        """The watermark's last vertical stretch, from its last change up to now (or ``cut``)."""
        at = self.watermark_at(cut)
        top = self.count if cut is None else cut
        if at is None:
            return pd.DataFrame({c: [] for c in COLUMNS["now"]})
        x = float(self.x([at[0]])[0])
        return pd.DataFrame({"x0": [x], "y0": [at[1]], "x1": [x], "y1": [max(top, at[1])]})


def _row_texts(rows: pd.DataFrame, time_col: str, limit: int = 4) -> list[str]:
    """A short ``column=value`` text per row (the hover of an event), built column by column.

    >>> _row_texts(pd.DataFrame({"ts": [1, 2], "k": ["a", "b"], "v": [0.5, 1 / 3]}), "ts")
    ['k=a, v=0.5', 'k=b, v=0.3333']
    """
    cols = [c for c in rows.columns if c != time_col][:limit]
    if not cols or not len(rows):
        return [""] * len(rows)
    parts = []
    for c in cols:
        v = rows[c]
        if v.dtype.kind == "f":
            v = v.round(4)
        parts.append(f"{c}=" + v.astype(str).to_numpy(dtype=object))
    text = parts[0]
    for p in parts[1:]:
        text = text + ", " + p
    return text.tolist()


class _Watch:
    """A detachable ``op.watch(fn)`` (the same ``destroy()`` as the streamz sinks beside it)."""

    def __init__(self, op, fn):
        self._unwatch = op.watch(fn)

    def destroy(self) -> None:
        self._unwatch()
