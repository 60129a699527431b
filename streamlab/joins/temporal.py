"""Event-time temporal join (``FOR SYSTEM_TIME AS OF``) with a versioned stream (DESIGN §2b).

The build side is Flink's versioned view, a keep-last deduplication per key: a build row older
than its key's newest so far never becomes a version; among equal times the later arrival wins.
Each probe row is held until the joint watermark passes its time, then joins the newest version
at or before its own time (LEFT: NULL-padded when there is none). Probe rows are never dropped as
late; when the watermark fires probe rows of a key, versions older than the newest one at or
before the watermark are freed (as Flink does), so a very late probe row may find none.

The output carries marks: each row's probe time and the watermark before the one that fired it
(Flink emits fired rows before it forwards the watermark), so a window after the join needs no
``.watermark()`` of its own.

The state is small per key (versions), and this operator works row by row in Python.

>>> import streamlab as sl, pandas as pd
>>> orders = sl.from_frame(pd.DataFrame({"ts": [5, 15], "cur": ["EUR", "EUR"]}), time="ts", unit="s").watermark(0)
>>> rates = sl.from_frame(pd.DataFrame({"ts": [0, 10], "cur": ["EUR", "EUR"], "rate": [1.1, 1.2]}),
...                       time="ts", unit="s").watermark(0)
>>> orders.join_asof(rates, on="cur").collect()
   ts_x  cur  ts_y  rate
0     5  EUR     0   1.1
1    15  EUR    10   1.2
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np
import pandas as pd

from ..core.node import Node
from ..core.snapshot import JoinState
from ..core.timecol import NEG_INF, POS_INF, TimeMeta, format_time
from ..core.watermarks import Marks
from ..transforms import find_columns
from .common import (
    JoinColumns,
    JoinKeys,
    SentMarks,
    check_key_dtypes,
    check_keys,
    known_dtype,
    meta_of,
    require_watermark,
    rows_of_key,
    rows_per_key,
    side_state,
)

SIDES = ("probe", "build")


class TemporalJoin(Node):
    """``probe.join_asof(versioned, on=..., how="inner"|"left")``: see the module docstring."""

    kind = "join"
    result_operator = True

    def __init__(self, probe, build, *, keys: tuple[list[str], list[str]], how="inner", suffixes=("_x", "_y")):
        if how not in ("inner", "left"):
            raise ValueError(f"join_asof(how={how!r}): a temporal join is 'inner' or 'left' (Flink has no other)")
        pmeta, bmeta = meta_of(probe, "probe"), meta_of(build, "versioned")
        self.left_on, self.right_on = keys
        for stream, side, k in ((probe, "left", self.left_on), (build, "right", self.right_on)):
            require_watermark(stream, side)
            check_keys(find_columns(stream), k, side)
        check_key_dtypes([known_dtype(probe, k) for k in self.left_on],
                         [known_dtype(build, k) for k in self.right_on], self.left_on, self.right_on)
        self.how = how
        lcols, rcols = find_columns(probe) or [pmeta.column], find_columns(build) or [bmeta.column]
        self.cols = JoinColumns(lcols, rcols, self.left_on, self.right_on, suffixes)
        super().__init__(upstreams=[probe, build], columns=self.cols.output,
                         time_meta=TimeMeta(self.cols.left_names[pmeta.column], pmeta.unit))
        self.reset_state()

    def label(self) -> str:
        return f"{self.how} temporal join on {', '.join(self.left_on)} (FOR SYSTEM_TIME AS OF)"

    def reset_state(self) -> None:
        super().reset_state()
        self.keys = JoinKeys(len(self.left_on))
        self.newest: dict[int, int] = {}
        self.versions: dict[int, list[tuple[int, int, tuple]]] = {}  # key -> [(ts, seq, row)] sorted
        self.probes: list[tuple[int, int, tuple]] = []  # (ts, key, row) in arrival order
        self.fired = NEG_INF
        self.seq = 0
        self.schema = [pd.DataFrame(columns=self.cols.left), pd.DataFrame(columns=self.cols.right)]
        self.counts = {"probe": dict.fromkeys(("rows_in", "matched", "emitted_unmatched", "expired_unmatched",
                                               "late_arrivals", "errors"), 0),
                       "build": dict.fromkeys(("rows_in", "versions", "superseded", "null_keys", "errors"), 0)}
        self._out: list[tuple[tuple, tuple | None, int, int]] = []  # (probe, version, ts, output watermark)
        self.sent = SentMarks()

    def on_batch(self, df: pd.DataFrame, port: int, marks: Marks | None):
        counts = self.counts[SIDES[port]]
        counts["rows_in"] += len(df)
        if marks is None:
            if len(df):
                counts["errors"] += len(df)
                self.send_errors(df, f"no event-time marks on the {SIDES[port]} input: put .watermark(...) "
                                     "right before the join")
            return None
        if len(df):
            cols = self.cols.left if port == 0 else self.cols.right
            if list(self.schema[port].dtypes) != list(df[cols].dtypes):
                self.schema[port] = df[cols].iloc[:0].copy()
                self.schema[port].attrs.clear()
            key = self.keys.encode(df, self.left_on if port == 0 else self.right_on).tolist()
            rows = list(df[cols].itertuples(index=False, name=None))
            for t, w, k, row in zip(marks.ms.tolist(), marks.wm.tolist(), key, rows):
                if w > self.fired:
                    self._fire(w)
                if port == 0:
                    counts["late_arrivals"] += t <= w
                    self.probes.append((t, k, row))
                else:
                    self._version(t, k, row)
        if marks.end > self.fired:
            self._fire(int(marks.end))
        return self._drain(self.fired)

    def _version(self, t: int, k: int, row: tuple) -> None:
        counts = self.counts["build"]
        if k < 0:
            counts["null_keys"] += 1
            return
        if k in self.newest and t < self.newest[k]:
            counts["superseded"] += 1  # keep-last: older than its key's newest, never a version
            return
        self.newest[k] = t
        self.seq += 1
        bisect.insort(self.versions.setdefault(k, []), (t, self.seq, row))
        counts["versions"] += 1

    def _fire(self, wm: int) -> None:
        before, self.fired = self.fired, wm  # rows fired now go out before the watermark moves on
        ready = [p for p in self.probes if p[0] <= wm]
        if not ready:
            return
        self.probes = [p for p in self.probes if p[0] > wm]
        counts = self.counts["probe"]
        touched = set()
        for t, k, row in ready:
            versions = self.versions.get(k, [])
            i = bisect.bisect_right(versions, (t, POS_INF, ()))
            touched.add(k)
            if i:
                counts["matched"] += 1
                self._out.append((row, versions[i - 1][2], t, before))
            elif self.how == "left":
                counts["emitted_unmatched"] += 1
                self._out.append((row, None, t, before))
            else:
                counts["expired_unmatched"] += 1
        for k in touched:  # free versions older than the newest one at or before the watermark
            kept = self.versions.get(k, [])
            i = bisect.bisect_right(kept, (wm, POS_INF, ()))
            if i > 1:
                del kept[:i - 1]

    def _drain(self, end: int) -> pd.DataFrame | None:
        """The rows fired so far with their marks: each probe row's time, and the watermark before
        the one that fired it (Flink emits them before forwarding the watermark), so a window after
        the join needs no watermark of its own."""
        if not self._out:
            return self.sent.idle(self.empty_output(), end)
        pairs, self._out = self._out, []
        left = pd.DataFrame.from_records([p for p, _, _, _ in pairs], columns=self.cols.left)
        matched = [b for _, b, _, _ in pairs if b is not None]
        right = pd.DataFrame.from_records(matched, columns=self.cols.right) if matched else self.schema[1]
        rpos = np.cumsum([b is not None for _, b, _, _ in pairs]) - 1
        rpos[[b is None for _, b, _, _ in pairs]] = -1
        out = self.cols.build(_typed(left, self.schema[0]), np.arange(len(pairs)), _typed(right, self.schema[1]),
                              rpos.astype("int64"))
        ms = np.array([t for _, _, t, _ in pairs], dtype="int64")
        wm = np.array([w for _, _, _, w in pairs], dtype="int64")
        return self.sent.rows(out, ms, wm, end)

    def on_flush(self) -> None:
        """End of input: every held probe row joins (or is padded)."""
        self._fire(POS_INF)
        out = self._drain(POS_INF)
        if out is not None:
            self.emit_out(out)

    def empty_output(self) -> pd.DataFrame:
        none = np.zeros(0, dtype="int64")
        return self.cols.build(self.schema[0], none, self.schema[1], none)

    def held_rows(self, side: str, key=None) -> pd.DataFrame:
        """What one side holds, all or one key's (a value, a tuple, or the key's text): ``"left"``
        the probe rows waiting for the watermark, ``"right"`` the versions kept (the inspector)."""
        if side not in ("left", "right"):
            raise ValueError(f"held_rows(side={side!r}): use 'left' (probe rows) or 'right' (versions)")
        if side == "left":
            rows = _typed(pd.DataFrame.from_records([r for _t, _k, r in self.probes], columns=self.cols.left),
                          self.schema[0])
            return rows_of_key(rows, self.left_on, key)
        kept = [r for v in self.versions.values() for _t, _s, r in v]
        rows = _typed(pd.DataFrame.from_records(kept, columns=self.cols.right), self.schema[1])
        return rows_of_key(rows, self.right_on, key)

    def snapshot_node(self, limit: int | None = 50):
        snap = super().snapshot_node(limit)
        ports = self.watermarks.ports + [NEG_INF, NEG_INF]
        unit = self.time_meta.unit if self.time_meta else None
        p, b = self.counts["probe"], self.counts["build"]
        probes = self.held_rows("left") if self.probes else pd.DataFrame()
        versions = self.held_rows("right") if self.versions else pd.DataFrame()
        state: JoinState = {
            "join": "temporal", "how": self.how, "on": [list(self.left_on), list(self.right_on)],
            "watermark_text": format_time(self.fired, unit) if NEG_INF < self.fired < POS_INF else None,
            "left": side_state("probe", ports[0], unit, p["rows_in"], len(self.probes),
                               rows_per_key(probes, self.left_on, limit), p["errors"], matched=p["matched"],
                               emitted_unmatched=p["emitted_unmatched"], expired_unmatched=p["expired_unmatched"],
                               late_arrivals=p["late_arrivals"]),
            "right": side_state("versioned", ports[1], unit, b["rows_in"], len(versions),
                                rows_per_key(versions, self.right_on, limit), b["errors"], versions=b["versions"],
                                superseded=b["superseded"], null_keys=b["null_keys"])}
        snap["state"] = dict(state)
        return snap

    def save_state(self) -> dict[str, Any]:
        def plain(row):
            return [_plain(v) for v in row]

        return {"keys": self.keys.index.export(), "newest": [[k, t] for k, t in self.newest.items()],
                "versions": [[k, [[t, s, plain(r)] for t, s, r in v]] for k, v in self.versions.items()],
                "probes": [[t, k, plain(r)] for t, k, r in self.probes], "fired": int(self.fired),
                "seq": self.seq, "counts": {s: dict(c) for s, c in self.counts.items()}}

    def load_state(self, state: dict[str, Any]) -> None:
        self.keys = JoinKeys(len(self.left_on))
        self.keys.index.load(state["keys"])
        self.newest = {int(k): int(t) for k, t in state["newest"]}
        self.versions = {int(k): [(int(t), int(s), tuple(r)) for t, s, r in v] for k, v in state["versions"]}
        self.probes = [(int(t), int(k), tuple(r)) for t, k, r in state["probes"]]
        self.fired, self.seq = int(state["fired"]), int(state["seq"])
        self.counts = {s: dict(c) for s, c in state["counts"].items()}


def _typed(df: pd.DataFrame, schema: pd.DataFrame) -> pd.DataFrame:
    if not len(schema.columns) or list(schema.columns) != list(df.columns):
        return df
    try:
        return df.astype(dict(schema.dtypes))
    except (TypeError, ValueError):
        return df


def _plain(v):
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return None if isinstance(v, float) and v != v else v
