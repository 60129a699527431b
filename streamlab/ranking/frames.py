"""Helpers shared by the ranking operators: event times with their watermarks, and frames as plain data.

>>> import pandas as pd
>>> state = frame_state(pd.DataFrame({"k": ["a", None], "v": [1.5, float("nan")]}))
>>> state["data"]
{'k': ['a', None], 'v': [1.5, None]}
>>> frame_from_state(state)["v"].isna().tolist()
[False, True]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..core.node import Node
from ..core.timecol import NEG_INF, event_ms, ms_to_values
from ..core.watermarks import Marks, per_row_watermark


class EventClock:
    """Each row's event time and the watermark it saw: from the batch's marks, or (no
    ``watermark()`` upstream) a delay-0 watermark kept here, as the window operator does."""

    def __init__(self) -> None:
        self.max_ts: int | None = None
        self.wm = NEG_INF

    def read(self, node: Node, df: pd.DataFrame, marks: Marks | None):
        """(good rows, event ms, watermark per row, watermark after the batch); bad times go to errors."""
        if marks is not None:
            ms, wm, end = marks.ms, marks.wm, int(marks.end)
        else:
            ms, ok = event_ms(df[node.meta.column], node.meta.unit)
            if not ok.all():
                node.send_errors(df[~ok], f"time column {node.meta.column!r} is missing or unparseable")
                df, ms = df[ok], ms[ok]
            wm, self.max_ts, end = per_row_watermark(ms, self.max_ts, self.wm, 0)
        self.wm = max(self.wm, end)
        return df, np.asarray(ms, dtype="int64"), np.asarray(wm, dtype="int64"), self.wm

    def save(self) -> dict:
        return {"max_ts": self.max_ts, "wm": int(self.wm)}

    def load(self, state: dict) -> None:
        self.max_ts = None if state["max_ts"] is None else int(state["max_ts"])
        self.wm = int(state["wm"])


def late_frame(rows: pd.DataFrame, wm: np.ndarray, unit: str | None, missed, reason) -> pd.DataFrame:
    """Late rows as DESIGN §3 wants them: the input columns plus ``watermark``, ``missed_windows``, ``reason``."""
    out = rows.reset_index(drop=True)
    out.attrs.clear()
    out["watermark"] = ms_to_values(np.asarray(wm, dtype="int64"), unit)
    out["missed_windows"] = missed
    out["reason"] = reason
    return out


def jsonable(v: Any) -> Any:
    """A plain Python value (numpy scalars unwrapped, NaN as None, timestamps as ISO text)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v != v:
        return None
    if v is None or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


def records(df: pd.DataFrame, limit: int | None = 50) -> list[dict]:
    """Rows of ``df`` (at most ``limit``) as JSON-able dicts, for snapshots."""
    if limit is not None:
        df = df.head(limit)
    return [{str(k): jsonable(v) for k, v in row.items()} for row in df.to_dict("records")]


def frame_state(df: pd.DataFrame) -> dict:
    """A frame as plain data (checkpoints): column order, dtypes, values (datetimes as int ns)."""
    data: dict[str, list] = {}
    for col in df.columns:
        s = df[col]
        if s.dtype.kind == "M":
            values = s.to_numpy(dtype="datetime64[ns]").view("int64").tolist()
            data[str(col)] = [None if v == np.iinfo("int64").min else v for v in values]
        else:
            data[str(col)] = [jsonable(v) for v in s.tolist()]
    return {"columns": [str(c) for c in df.columns], "dtypes": [str(d) for d in df.dtypes], "data": data}


def frame_from_state(state: dict) -> pd.DataFrame:
    """The frame :func:`frame_state` saved."""
    cols = {}
    for col, dtype in zip(state["columns"], state["dtypes"]):
        values = state["data"][col]
        kind = pd.api.types.pandas_dtype(dtype)
        if kind.kind == "M":
            raw = np.array([np.iinfo("int64").min if v is None else v for v in values], dtype="int64")
            s = pd.Series(raw.view("datetime64[ns]"))
            tz = getattr(kind, "tz", None)
            if tz is not None:
                s = s.dt.tz_localize("UTC").dt.tz_convert(tz)
            cols[col] = s.astype(kind)
        else:
            s = pd.Series(values, dtype=object)
            try:
                cols[col] = s.astype(kind)
            except (TypeError, ValueError):
                cols[col] = s
    return pd.DataFrame(cols, columns=state["columns"]) if cols else pd.DataFrame(columns=state["columns"])
