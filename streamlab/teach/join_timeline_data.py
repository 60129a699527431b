"""What the timeline of an interval join draws, as bounded pandas tables (no Bokeh here).

:class:`JoinTimelineData` follows an interval join through taps on its two inputs and its output.
Every input row gets an *arrival number* (its position in the order the join received rows from
either input), its lane (``left`` on top, ``right`` below; within a lane one slot per key) and
the watermark of its own input after it. The join's watermark is the minimum of the two.
``frames(cut)`` gives every layer as it was when ``cut`` rows had arrived, and
``bound(side, i)`` the time bound of the ``i``-th row of a side: the interval of the other
input's times it matches, whose right end is its last chance (the row is freed once the join's
watermark passes it).

>>> import pandas as pd, streamlab as sl
>>> a = sl.from_frame(pd.DataFrame({"ts": [10, 20], "k": ["x", "y"]}), time="ts", unit="ms").watermark(0)
>>> b = sl.from_frame(pd.DataFrame({"ts": [12, 40], "k": ["x", "y"]}), time="ts", unit="ms").watermark(0)
>>> j = a.join(b, on="k", between=(0, 5))
>>> data = JoinTimelineData(j)
>>> sinks = data.attach()
>>> _ = j.collect()
>>> sorted(data.tables["events"][["side", "x", "key"]].values.tolist())
[['left', 10.0, 'x'], ['left', 20.0, 'y'], ['right', 12.0, 'x'], ['right', 40.0, 'y']]
>>> data.tables["matches"][["x0", "x1", "key"]].values.tolist()
[[10.0, 12.0, 'x']]
>>> data.bound("left", 0)["left"], data.bound("left", 0)["right"]
(10.0, 15.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from bokeh.palettes import Category10_10

from ..core.durations import UNIT_MS
from ..core.timecol import NEG_INF, POS_INF, event_ms, format_time
from ..core.watermarks import marks_of
from ..joins.common import key_text

PALETTE = Category10_10
SIDES = ("left", "right")
#: The y of each lane's bottom and top (left on top).
LANES = {"left": (1.1, 2.0), "right": (0.0, 0.9)}
COLUMNS = {
    "events": ["x", "y", "side", "key", "color", "n", "wm", "row"],
    "matches": ["x0", "y0", "x1", "y1", "key", "color", "n"],
    "unmatched": ["x", "y", "side", "key", "n"],
}


class JoinTimelineData:
    """Bounded tables of one interval join's input rows, matches and unmatched (padded) rows,
    with each input's watermark after every arrival."""

    def __init__(self, join, max_events: int = 2000):
        from ..joins.interval import IntervalJoin

        if not isinstance(join, IntervalJoin):
            raise TypeError("JoinTimelineData follows an interval join: a.join(b, on=..., between=...)")
        self.join = join
        self.max_events = int(max_events)
        self.unit = join.metas[0].unit
        self.scale = UNIT_MS[self.unit] if self.unit not in (None, "ms") else 1.0
        self.on = (list(join.left_on), list(join.right_on))
        self.time = (join.metas[0].column, join.metas[1].column)
        cols = join.cols
        self.out_time = (cols.left_names[self.time[0]], cols.right_names.get(self.time[1], self.time[1]))
        self.out_key = [cols.left_names[k] for k in join.left_on]
        self.names = tuple(getattr(u, "name", None) or s for u, s in zip(join.upstreams, SIDES))
        self.reset()

    # --- state ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything (the join was reset, or a new run started)."""
        self._counters = self.join.counters
        self._base = self.join.counters.rows_in
        self.count = 0
        self.keys: dict[str, int] = {}
        self.tables = {n: pd.DataFrame({c: [] for c in cols}) for n, cols in COLUMNS.items()}
        # each input's watermark after arrival n: (arrival, watermark) steps
        self.steps: dict[str, list[tuple[int, int]]] = {s: [] for s in SIDES}
        self.version = getattr(self, "version", 0) + 1

    def _check_reset(self) -> None:
        if self.join.counters is not self._counters:
            self.reset()

    def attach(self, then=None) -> list:
        """Follow the join: both inputs (rows and their watermarks) and its output; ``then()``
        runs after each batch. Returns handles whose ``destroy()`` detaches."""
        def tap(handle, *args):
            def on_batch(item) -> None:
                if isinstance(item, pd.DataFrame):
                    handle(item, *args)
                    if then is not None:
                        then()
            return on_batch

        left, right = self.join.upstreams
        return [left.sink(tap(self.on_input, 0)), right.sink(tap(self.on_input, 1)),
                self.join.sink(tap(self.on_output))]

    # --- taps -------------------------------------------------------------------------------
    def x(self, ms) -> np.ndarray:
        """Event time in the unit of the x axis (the time column's unit; datetimes in ms)."""
        return np.asarray(ms, dtype="float64") / self.scale

    def slot(self, key: str) -> int:
        if key not in self.keys:
            self.keys[key] = len(self.keys)
        return self.keys[key]

    def y(self, side: str, keys) -> np.ndarray:
        """Lane height of each key: one slot per key, spread over the side's lane."""
        lo, hi = LANES[side]
        slots = np.array([self.slot(k) for k in keys], dtype="float64")
        n = max(len(self.keys), 1)
        return lo + (hi - lo) * (slots + 0.5) / n

    def color(self, keys) -> list[str]:
        return [PALETTE[self.slot(k) % len(PALETTE)] for k in keys]

    def _key_texts(self, df: pd.DataFrame, on: list[str]) -> list[str]:
        if len(on) == 1:
            return [key_text(v) for v in df[on[0]].tolist()]
        return [key_text(t) for t in df[on].itertuples(index=False, name=None)]

    def on_input(self, df: pd.DataFrame, port: int) -> None:
        """A batch on input ``port`` (0 left, 1 right), with its marks."""
        self._check_reset()
        marks = marks_of(df)
        if marks is None or not len(df):
            if marks is not None and marks.end > NEG_INF:
                self._step(SIDES[port], self.count, int(marks.end))
            return
        side = SIDES[port]
        keys = self._key_texts(df, self.on[port])
        n = self.count + np.arange(len(df))
        after = np.append(marks.wm[1:], marks.end)  # the watermark after each row
        rows = [", ".join(f"{c}={v}" for c, v in zip(df.columns[:4], r))
                for r in df.iloc[:, :4].itertuples(index=False, name=None)]
        frame = pd.DataFrame({"x": self.x(marks.ms), "y": 0.0, "side": side, "key": keys, "color": "",
                              "n": n, "wm": after.astype("float64"), "row": rows})
        self.count += len(df)
        self._append("events", frame)
        for i, w in zip(n.tolist(), after.tolist()):
            self._step(side, i, int(w))

    def _step(self, side: str, n: int, wm: int) -> None:
        steps = self.steps[side]
        if not steps or wm > steps[-1][1]:
            steps.append((n, wm))

    def on_output(self, df: pd.DataFrame) -> None:
        """Rows the join emitted: a pair is a match, a row padded with NULL an unmatched row."""
        self._check_reset()
        if not len(df):
            return
        n = int(self.join.counters.rows_in - self._base) - 1  # emitted once this arrival was in
        lt = df[self.out_time[0]]
        rt = df[self.out_time[1]]
        lms = _ms(lt, self.unit)
        rms = _ms(rt, self.unit)
        both = ~np.isnan(lms) & ~np.isnan(rms)
        keys = self._key_texts(df, self.out_key)
        if both.any():
            k = [k for k, b in zip(keys, both) if b]
            self._append("matches", pd.DataFrame({
                "x0": self.x(lms[both]), "y0": 0.0, "x1": self.x(rms[both]), "y1": 0.0, "key": k,
                "color": "", "n": n}))
        for side, ms in (("left", lms), ("right", rms)):
            alone = ~both & ~np.isnan(ms)
            if alone.any():
                self._append("unmatched", pd.DataFrame({
                    "x": self.x(ms[alone]), "y": 0.0, "side": side,
                    "key": [k for k, a in zip(keys, alone) if a], "n": n}))

    def _append(self, name: str, df: pd.DataFrame) -> None:
        old = self.tables[name]
        self.tables[name] = (pd.concat([old, df], ignore_index=True) if len(old) else df).tail(
            self.max_events).reset_index(drop=True)
        self.version += 1

    # --- reading ----------------------------------------------------------------------------
    def watermark(self, side: str, cut: int | None = None) -> int:
        """Input ``side``'s watermark once ``cut`` rows had arrived (None: now); ``NEG_INF`` before any."""
        wm = NEG_INF
        for n, w in self.steps[side]:
            if cut is not None and n >= cut:
                break
            wm = w
        return wm

    def joint(self, cut: int | None = None) -> int:
        """The join's watermark: the minimum of its inputs' (``NEG_INF`` until both have one)."""
        return min(self.watermark("left", cut), self.watermark("right", cut))

    def row(self, side: str, i: int) -> pd.Series:
        """The ``i``-th row of ``side`` in arrival order (negative counts from the latest)."""
        if side not in SIDES:
            raise ValueError(f"side={side!r}: use 'left' or 'right'")
        ev = self.tables["events"]
        mine = ev[ev.side == side]
        if not len(mine):
            raise IndexError(f"no {side} row has arrived yet")
        if not -len(mine) <= i < len(mine):
            raise IndexError(f"row={i}: the {side} input has {len(mine)} rows drawn (0 to {len(mine) - 1})")
        return mine.iloc[i]

    def bound(self, side: str, i: int) -> dict[str, Any]:
        """The time bound of the ``i``-th ``side`` row: the other input's times it matches
        (``left``..``right`` on the x axis), drawn on the other lane; ``right`` is its last chance."""
        r = self.row(side, i)
        lo, hi = self.join.lower / self.scale, self.join.upper / self.scale
        left, right = (r.x + lo, r.x + hi) if side == "left" else (r.x - hi, r.x - lo)
        other = SIDES[1 - SIDES.index(side)]
        bottom, top = LANES[other]
        return {"left": float(left), "right": float(right), "bottom": bottom, "top": top,
                "side": side, "x": float(r.x), "n": int(r.n), "key": r.key,
                "last_chance": self.text(int(right * self.scale)), "row": r.row}

    def text(self, ms: int) -> str:
        return "–" if ms <= NEG_INF or ms >= POS_INF else str(format_time(int(ms), self.unit))

    def frames(self, cut: int | None = None) -> dict[str, pd.DataFrame]:
        """Every layer as seen once ``cut`` rows had arrived (None: now), with lane heights and colours."""
        out = {}
        for name, df in self.tables.items():
            df = df if cut is None else df[df.n < cut]
            df = df.copy()
            if name == "events" or name == "unmatched":
                for side in SIDES:
                    m = (df.side == side).to_numpy()
                    if m.any():
                        df.loc[m, "y"] = self.y(side, df.key[m].tolist())
                if name == "events":
                    df["color"] = self.color(df.key.tolist())
            elif name == "matches":
                df["y0"] = self.y("left", df.key.tolist())
                df["y1"] = self.y("right", df.key.tolist())
                df["color"] = self.color(df.key.tolist())
            out[name] = df
        out["watermarks"] = self.watermark_lines(cut)
        return out

    def watermark_lines(self, cut: int | None = None) -> pd.DataFrame:
        """Vertical lines: each input's watermark across its lane, the join's across both."""
        rows = []
        for side in SIDES:
            w = self.watermark(side, cut)
            if NEG_INF < w < POS_INF:
                lo, hi = LANES[side]
                rows.append({"x0": w / self.scale, "y0": lo, "x1": w / self.scale, "y1": hi,
                             "label": f"{side} watermark {self.text(w)}", "dash": "solid"})
        j = self.joint(cut)
        if NEG_INF < j < POS_INF:
            rows.append({"x0": j / self.scale, "y0": LANES["right"][0], "x1": j / self.scale,
                         "y1": LANES["left"][1], "label": f"join watermark {self.text(j)}", "dash": "dashed"})
        return pd.DataFrame(rows, columns=["x0", "y0", "x1", "y1", "label", "dash"])


def _ms(values: pd.Series, unit) -> np.ndarray:
    """Event times in ms as floats, NaN for NULL (a side padded with NULL)."""
    if values.isna().all():
        return np.full(len(values), np.nan)
    out = np.full(len(values), np.nan)
    ok = values.notna().to_numpy()
    out[ok] = event_ms(values[ok], unit)[0] if unit is None else event_ms(values[ok].astype("int64"), unit)[0]
    return out
