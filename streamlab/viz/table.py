"""A live HTML table of the latest rows of a stream of DataFrames.

>>> import pandas as pd, streamz
>>> s = streamz.Stream()
>>> t = live_table(s, max_rows=2)
>>> for i in range(3):
...     s.emit(pd.DataFrame({"key": ["a"], "cnt": [i]}))
>>> t.rows["cnt"].tolist(), t.received
([1, 2], 3)
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
from ipywidgets import HTML
from traitlets import Float, Int, validate

from ..ranking.changelog import OP
from .changes import LiveChangelog
from .columns import is_time_dtype, known_columns
from .feed import Feeder

TABLE_CSS = (
    "<style>.streamlab-table{border-collapse:collapse;font-size:12px;margin:2px 0}"
    ".streamlab-table th,.streamlab-table td{padding:1px 8px;white-space:nowrap;"
    "text-align:right}.streamlab-table th{border-bottom:1px solid #bbb}"
    ".streamlab-scroll{max-height:22em;overflow:auto}</style>"
)


def scrolling(html_text: str) -> str:
    """Wrap table HTML in a bounded, scrolling box with streamlab's table style."""
    return f'{TABLE_CSS}<div class="streamlab-scroll">{html_text}</div>'


def frame_html(df: pd.DataFrame, newest_first: bool = True) -> str:
    """Escaped HTML for a small frame: datetimes to the millisecond, floats to 6 digits.

    >>> frame_html(pd.DataFrame({"a": [1.5]}))
    '<table class="streamlab-table"><thead><tr><th>a</th></tr></thead><tbody><tr><td>1.5</td></tr></tbody></table>'
    """
    shown = df.iloc[::-1] if newest_first else df
    cols = {c: _texts(shown[c]) for c in shown.columns}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cols[c][i])}</td>" for c in shown.columns) + "</tr>"
        for i in range(len(shown))
    )
    return (f'<table class="streamlab-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _texts(s: pd.Series) -> list[str]:
    if is_time_dtype(s.dtype):
        return ["" if pd.isna(v) else v.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] for v in s]
    if pd.api.types.is_float_dtype(s.dtype):
        return ["" if pd.isna(v) else f"{v:.6g}" for v in s]
    return ["" if v is None else str(v) for v in s.tolist()]


class LiveTable(HTML):
    """The latest ``max_rows`` rows of a stream, newest first, refreshed on the kernel's loop.

    A changelog (rows with an ``op`` column) is applied instead: the table shows the current
    result, updated in place (Zeppelin's "update" mode).
    """

    max_rows = Int(20, help="How many of the latest rows are kept and shown.")
    max_rate = Float(4.0, help="Most refreshes sent to the browser per second.")

    @validate("max_rows")
    def _valid_max_rows(self, proposal: dict[str, Any]) -> int:
        if proposal["value"] < 1:
            raise ValueError(f"max_rows must be >= 1, got {proposal['value']}")
        return proposal["value"]

    def __init__(self, stream: Any, max_rows: int = 20, max_rate: float = 4.0) -> None:
        super().__init__(value="<i>waiting for rows…</i>", max_rows=max_rows, max_rate=max_rate)
        self.add_class("streamlab-live-table")
        self.rows: pd.DataFrame | None = None
        self.received = 0
        # a changelog's current table (the plots use the same), from the operator's current result
        self.changelog = LiveChangelog(stream) if OP in (known_columns(stream) or []) else None
        self._stream = stream
        self.feeder = Feeder(self._ingest, max_rate=max_rate)
        self.feeder.follow(stream)
        if self.changelog is not None and self.changelog.rows is not None:
            self.rows = self.changelog.rows
            self._show_changelog()

    def _ingest(self, frames: list[Any]) -> None:
        frames = [f for f in frames if isinstance(f, pd.DataFrame) and len(f)]
        if not frames:
            return
        self.received += sum(len(f) for f in frames)
        if OP in frames[0].columns:  # a changelog: keep the table it describes, updated in place
            if self.changelog is None:
                self.changelog = LiveChangelog(self._stream, seed=False)
            self.rows = self.changelog.update(frames)
            self._show_changelog()
            return
        keep = [self.rows] if self.rows is not None else []
        self.rows = pd.concat([*keep, *frames], ignore_index=True).tail(self.max_rows)
        self.rows = self.rows.reset_index(drop=True)
        caption = (f'<div class="streamlab-caption">{self.received:,} rows received; '
                   f"latest {len(self.rows)} shown, newest first</div>")
        self.value = caption + scrolling(frame_html(self.rows))

    def _show_changelog(self) -> None:
        """Render the changelog's current table."""
        if self.rows is None:
            return
        caption = (f'<div class="streamlab-caption">{self.received:,} changes applied; '
                   f"{len(self.rows)} rows, updated in place</div>")
        self.value = caption + scrolling(frame_html(self.rows.head(self.max_rows), newest_first=False))

    def detach(self) -> None:
        """Stop following the stream."""
        if hasattr(self, "feeder"):
            self.feeder.close()

    def close(self) -> None:
        """Detach from the stream and close the widget."""
        self.detach()
        super().close()


def live_table(stream: Any, max_rows: int = 20, max_rate: float = 4.0) -> LiveTable:
    """``stream.table()``: a live table of the latest window rows."""
    return LiveTable(stream, max_rows=max_rows, max_rate=max_rate)
