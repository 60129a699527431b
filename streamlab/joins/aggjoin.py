"""Window join of two window aggregations: ``res_a.join(res_b, on=...)`` where both are
``window(spec).agg(...)`` results with the same window. Rows join on the keys plus
``window_start`` and ``window_end`` once both aggregations have fired the window.

>>> import streamlab as sl, pandas as pd
>>> df = pd.DataFrame({"ts": [1, 2, 12], "k": ["a", "a", "b"], "v": [1, 2, 3]})
>>> src = sl.from_frame(df, time="ts", unit="ms").watermark(0)
>>> n = src.window(sl.Tumble(10), by="k").agg(n=("v", "count"))
>>> s = src.window(sl.Tumble(10), by="k").agg(s=("v", "sum"))
>>> n.join(s, on="k").collect()
   k  window_start  window_end  n  s
0  a             0          10  2  3
1  b            10          20  1  3

The output carries marks as the raw-row window join's do (``streamlab.joins.window``): each
row's ``window_time`` (end - 1) and the joint watermark before the one that fired it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..core.node import Node, concat_frames
from ..core.snapshot import JoinState
from ..core.timecol import NEG_INF, POS_INF, event_ms
from ..core.watermarks import Marks
from ..windows.operator import WindowAgg
from .common import (
    JoinColumns,
    JoinKeys,
    SentMarks,
    check_how,
    check_keys,
    from_plain,
    rows_of_key,
    rows_per_key,
    side_state,
    to_plain,
)
from .window import pair_groups, window_marks

WINDOW = ["window_start", "window_end"]


class AggWindowJoin(Node):
    """Joins the fired rows of two window aggregations (see the module docstring)."""

    kind = "join"
    result_operator = True

    def __init__(self, left: WindowAgg, right: WindowAgg, *, keys: tuple[list[str], list[str]], how="inner",
                 suffixes=("_x", "_y")):
        if left.plan != right.plan:
            raise ValueError(f"a window join needs the same window on both sides, got {left.plan.label()} and "
                             f"{right.plan.label()}")
        self.left_on, self.right_on = [*keys[0], *WINDOW], [*keys[1], *WINDOW]
        check_keys(left.columns, keys[0], "left")
        check_keys(right.columns, keys[1], "right")
        self.how, self.unit = check_how(how), left.meta.unit
        self.cols = JoinColumns(list(left.columns or []), list(right.columns or []), self.left_on,
                                self.right_on, suffixes)
        super().__init__(upstreams=[left, right], columns=self.cols.output, time_meta=left.meta)
        self.reset_state()

    def label(self) -> str:
        return f"{self.how} window join of aggregations on {', '.join(self.left_on[:-2]) or '(window)'}"

    def reset_state(self) -> None:
        super().reset_state()
        self.keys = JoinKeys(len(self.left_on))
        self.rows = [pd.DataFrame(columns=self.cols.left), pd.DataFrame(columns=self.cols.right)]
        self._out: list[tuple[pd.DataFrame, np.ndarray, np.ndarray]] = []
        self.rows_in = [0, 0]
        self._wm = NEG_INF
        self.sent = SentMarks()

    def joint_watermark(self) -> int:
        """How far both aggregations have fired (the minimum of their watermarks)."""
        return min(int(u.current_watermark) for u in self.upstreams)

    def on_batch(self, df: pd.DataFrame, port: int, marks: Marks | None):
        self.rows_in[port] += len(df)
        if len(df):
            df = df.reset_index(drop=True)
            df.attrs.clear()
            held = self.rows[port]
            self.rows[port] = df if not len(held) else pd.concat([held, df], ignore_index=True)
        wm = self.joint_watermark()
        self._fire(wm)
        return self._drain(wm)

    def _fire(self, wm: int) -> None:
        before, self._wm = self._wm, max(self._wm, wm)
        ends = [event_ms(r["window_end"], self.unit)[0] if len(r) else np.zeros(0, dtype="int64")
                for r in self.rows]
        fired = [e - 1 <= wm for e in ends]
        if not any(f.any() for f in fired):
            return
        left, right = (r[f].reset_index(drop=True) for r, f in zip(self.rows, fired))
        self.rows = [r[~f].reset_index(drop=True) for r, f in zip(self.rows, fired)]
        lk, rk = self.keys.encode(left, self.left_on), self.keys.encode(right, self.right_on)
        lk[lk < 0] = -1 - np.arange(int((lk < 0).sum()))  # a NULL key never matches
        rk[rk < 0] = -1_000_000_000 - np.arange(int((rk < 0).sum()))
        li, ri = pair_groups(lk, rk, self.how)
        out = self.cols.build(left, li, right, ri)
        out = out.sort_values(WINDOW[::-1], kind="stable").reset_index(drop=True)
        end = event_ms(out["window_end"], self.unit)[0].astype("int64")
        self._out.append((out, *window_marks(end, np.array([before, wm], dtype="int64"))))

    def _drain(self, end: int) -> pd.DataFrame | None:
        """The rows fired so far with their marks; an empty frame with marks when only the joint
        watermark moved."""
        pieces, self._out = self._out, []
        out = concat_frames([p[0] for p in pieces])
        if out is None:
            return self.sent.idle(self.empty_output(), end)
        return self.sent.rows(out.reset_index(drop=True), np.concatenate([p[1] for p in pieces]),
                              np.concatenate([p[2] for p in pieces]), end)

    def on_timer(self, now: float) -> None:
        """An aggregation advanced without emitting: fire what both sides have completed."""
        wm = self.joint_watermark()
        self._fire(wm)
        out = self._drain(wm)
        if out is not None:
            self.emit_out(out)

    def on_flush(self) -> None:
        """End of input (the aggregations have fired everything)."""
        self._fire(POS_INF)
        out = self._drain(POS_INF)
        if out is not None:
            self.emit_out(out)

    def empty_output(self) -> pd.DataFrame:
        none = np.zeros(0, dtype="int64")
        left, right = self.upstreams
        return self.cols.build(left.empty_output(), none, right.empty_output(), none)

    def held_rows(self, side: str, key=None) -> pd.DataFrame:
        """The result rows of one aggregation (``side`` 'left' or 'right') waiting for the other's
        window to fire, all or one key's (a value, a tuple, or the key's text)."""
        if side not in ("left", "right"):
            raise ValueError(f"held_rows(side={side!r}): use 'left' or 'right'")
        port = ("left", "right").index(side)
        on = (self.left_on if port == 0 else self.right_on)[:-2]
        return rows_of_key(self.rows[port], on, key) if on else self.rows[port].reset_index(drop=True)

    def snapshot_node(self, limit: int | None = 50):
        snap = super().snapshot_node(limit)
        sides = []
        for port, side in enumerate(("left", "right")):
            rows = self.rows[port]
            on = (self.left_on if port == 0 else self.right_on)[:-2]
            w = int(self.upstreams[port].current_watermark)
            per_key = rows_per_key(rows, on, limit) if on else ({"(all)": len(rows)} if len(rows) else {})
            sides.append(side_state(side, w, self.unit, self.rows_in[port], len(rows), per_key, 0,
                                    matched=self.rows_in[port] - len(rows)))
        state: JoinState = {"join": "window (aggregations)", "how": self.how,
                            "on": [list(self.left_on[:-2]), list(self.right_on[:-2])], "watermark_text": None,
                            "left": sides[0], "right": sides[1]}
        snap["state"] = dict(state)
        return snap

    def save_state(self) -> dict[str, Any]:
        return {"keys": self.keys.index.export(), "rows": [to_plain(r) for r in self.rows]}

    def load_state(self, state: dict[str, Any]) -> None:
        self.keys = JoinKeys(len(self.left_on))
        self.keys.index.load(state["keys"])
        self.rows = [from_plain(r) for r in state["rows"]]
