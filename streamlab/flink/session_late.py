"""Late rows of a SESSION window on Flink: the input rows Flink's session aggregation did not count.

Whether a session row is late depends on its key's open sessions (DESIGN §2b), which no per-row
predicate can see, so the Tumble/Hop/Cumulate companion (:func:`streamlab.flink.job.late_part`)
does not apply. Instead the job reads a second copy of the input with a row number ``__row`` and
runs two more branches on it:

- ``q0:session-rows``: the same SESSION aggregation (same WHERE, same gap, same key), giving
  ``LISTAGG(__row)`` per session, i.e. which rows Flink counted;
- ``q0:session-marks``: every row that passes the WHERE, with ``CURRENT_WATERMARK`` as it arrives.

When the job has ended, the rows that passed the WHERE but are in no session are the late ones;
they go to ``run.late`` with the watermark Flink had when they arrived, as the kernel gives them.
The second copy is read in the same order with the same watermark rule, so Flink sees the same
per-row watermarks in both scans (parallelism 1, ``pipeline.auto-watermark-interval = 0``).

>>> rows = pd.DataFrame({"ts": [0, 900, 100], "k": ["a", "a", "a"]})
>>> c = SessionLate(rows, ["ts", "k"], "ms")
>>> c.add_sessions(pd.DataFrame({"counted_rows": ["0,1"]}))           # Flink's sessions
>>> c.add_marks(pd.DataFrame({"__row": [0, 1, 2], "watermark": [None, 0, 800]}))
>>> c.late_frame()[["ts", "watermark", "missed_windows"]].to_dict("records")
[{'ts': 100, 'watermark': 800, 'missed_windows': 1}]
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from .connectors import file_uri
from .files import write_csv
from .render import ident

ROW = "__row"
REASON = "late: its session had already closed (session end - 1ms <= watermark)"
_UNIT_MS = {"s": 1000, "ms": 1, "us": 0.001, "ns": 0.000001}


class SessionLate:
    """Collects the two branches' rows of one pipeline and gives its late rows at the end."""

    def __init__(self, frame: pd.DataFrame, columns: list[str], unit: str | None):
        self.frame = frame.reset_index(drop=True)[columns]
        self.unit = unit
        self.counted: set[int] = set()
        self.marks: dict[int, object] = {}

    def add_sessions(self, frame: pd.DataFrame) -> None:
        for text in frame["counted_rows"]:
            self.counted.update(int(r) for r in str(text).split(",") if r != "")

    def add_marks(self, frame: pd.DataFrame) -> None:
        self.marks.update(zip(frame[ROW].astype("int64"), frame["watermark"]))

    def late_frame(self) -> pd.DataFrame:
        """Input rows (in arrival order) that passed the WHERE and are in no session."""
        rows = sorted(r for r in self.marks if r not in self.counted)
        out = self.frame.iloc[rows].reset_index(drop=True)
        marks = pd.Series([self.marks[r] for r in rows], dtype=object)
        if self.unit is None:
            out["watermark"] = pd.to_datetime(marks, utc=True)
        else:
            ms = marks.astype("int64")
            out["watermark"] = ms if self.unit == "ms" else (
                ms // _UNIT_MS[self.unit] if self.unit == "s" else ms / _UNIT_MS[self.unit])
        out["missed_windows"] = np.ones(len(out), dtype=np.int64)
        out["reason"] = pd.Series([REASON] * len(out), dtype=object)
        return out


def session_late_parts(export, i: int, frame: pd.DataFrame, columns: list[str], folder: str,
                       rowtime: str, unit: str | None, watermark_ms: str, part_cls):
    """(statements, parts, collector) for the late rows of the session pipeline ``q{i}``.

    ``export`` is the pipeline's :class:`~streamlab.flink.export.FlinkExport` (its source DDL
    and query are reused with the table renamed), ``frame`` its input rows written to ``folder``.
    """
    src, rows_table = f"q{i}_src", f"q{i}_rows"
    numbered = frame.reset_index(drop=True)[columns].copy()
    numbered[ROW] = np.arange(len(numbered), dtype=np.int64)
    write_csv(numbered, os.path.join(folder, "part-0.csv"), columns=[*columns, ROW])
    ddl = _numbered_ddl(export.source_ddl, src, rows_table, columns[-1], folder)
    lines = export.query.splitlines()
    sessions = "\n".join([f"SELECT LISTAGG(CAST({ident(ROW)} AS STRING), ',') AS counted_rows",
                          *(ln.replace(f"TABLE {ident(src)}", f"TABLE {ident(rows_table)}") for ln in lines[1:])])
    where = [ln[6:] for ln in lines if ln.startswith("WHERE ")]
    mark = (watermark_ms if unit is not None
            else f"CAST(CURRENT_WATERMARK({ident(rowtime)}) AS TIMESTAMP(3))")
    marks = (f"SELECT {ident(ROW)}, {mark} AS `watermark`\nFROM {ident(rows_table)}"
             + (f"\nWHERE {where[0]}" if where else ""))
    wm_type = "BIGINT" if unit is not None else "TIMESTAMP(3)"
    parts = [part_cls(f"q{i}:session-rows", sessions, [("counted_rows", "STRING")]),
             part_cls(f"q{i}:session-marks", marks, [(ROW, "BIGINT"), ("watermark", wm_type)])]
    return [ddl], parts, SessionLate(frame, columns, unit)


def _numbered_ddl(ddl: str, src: str, table: str, last_column: str, folder: str) -> str:
    """The source's DDL for the numbered copy: renamed, ``__row BIGINT`` after the last physical
    column, reading ``folder``."""
    head = f"CREATE TABLE {ident(src)} "
    if not ddl.startswith(head):
        raise ValueError(f"unexpected source DDL: {ddl[:80]!r}")
    out, added = [], False
    for line in ddl.splitlines():
        out.append(line)
        if not added and line.strip().startswith(f"{ident(last_column)} "):
            out.append(f"  {ident(ROW)} BIGINT,")
            added = True
    if not added:
        raise ValueError(f"no column {last_column!r} in the source DDL")
    text = "\n".join(out).replace(head, f"CREATE TABLE {ident(table)} ", 1)
    return repath(text, folder)


def repath(ddl: str, folder: str) -> str:
    """``ddl`` of a filesystem table reading ``folder`` instead."""
    start = ddl.index("'path' = '") + len("'path' = '")
    end = ddl.index("'", start)
    return ddl[:start] + file_uri(folder) + ddl[end:]

