"""State inspector: each window operator's open windows per key, their partial aggregates, a
bounded sample of a clicked window's rows, and the late ledger and error rows as tables. An
updating operator (continuous groupby, Top-N, deduplication, OVER) shows its state instead:
the per-key aggregate, the current top N, the rows kept, the buffer waiting for the watermark.

It renders from a pipeline snapshot (DESIGN.md §1): ``update(snapshot)`` is all it needs.
``row_source(op_id, window_start_ms, key, limit)`` may return a DataFrame (or row dicts) of a
window's rows when the engine can sample them; otherwise the partials are shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from html import escape
from typing import Any

import pandas as pd
from ipywidgets import HTML, Dropdown, Layout, Select, Tab, VBox
from traitlets import Int, validate

from ..viz.table import frame_html, scrolling
from .opstate import ROWS_FIELD, state_view

RowSource = Callable[[str, int, Any, int], Any]


def ms_text(ms: int | float | None) -> str:
    """UTC text of an epoch-milliseconds instant.

    >>> ms_text(1_500), ms_text(None)
    ('1970-01-01 00:00:01.500', '–')
    """
    if ms is None:
        return "–"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _fmt(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def window_label(w: Mapping[str, Any]) -> str:
    """One line per open window: key, bounds, rows and partial aggregates.

    >>> window_label({"key_text": "s1", "window_start": 0, "window_end": 1000, "rows": 3,
    ...               "partials": {"avg": 21.5, "cnt": 3}})
    's1 · [1970-01-01 00:00:00.000, 00:00:01.000) · 3 rows · avg=21.5 cnt=3'
    """
    start = w.get("start_text") or ms_text(w.get("window_start"))
    end = w.get("end_text") or ms_text(w.get("window_end"))
    if start[:10] == end[:10] and len(end) > 11:
        end = end[11:]
    parts = " ".join(f"{k}={_fmt(v)}" for k, v in (w.get("partials") or {}).items())
    key = w.get("key_text") if w.get("key_text") is not None else w.get("key")
    return f"{key} · [{start}, {end}) · {w.get('rows', '?')} rows · {parts}".rstrip(" ·")


def rows_html(rows: Any, limit: int) -> str:
    """An HTML table for a DataFrame or a list of row dicts, at most ``limit`` rows."""
    if rows is None:
        return ""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if df.empty:
        return "<i>no rows</i>"
    more = f"<div>first {limit} of {len(df)} rows</div>" if len(df) > limit else ""
    return more + scrolling(frame_html(df.head(limit), newest_first=False))


class StateInspector(VBox):
    """Pick a window operator, then a window: see its partials and a bounded sample of rows."""

    sample_rows = Int(20, help="Most rows shown for a window, the late ledger or the errors.")
    max_windows = Int(50, help="Most open windows listed per operator.")

    @validate("sample_rows", "max_windows")
    def _positive(self, proposal: dict[str, Any]) -> int:
        if proposal["value"] < 1:
            raise ValueError(f"{proposal['trait'].name} must be >= 1, got {proposal['value']}")
        return proposal["value"]

    def __init__(self, row_source: RowSource | None = None, **kwargs: Any) -> None:
        self.operator = Dropdown(description="operator", options=[],
                                 layout=Layout(width="auto", min_width="22em"))
        self.windows = Select(options=[], rows=8, layout=Layout(width="100%"))
        self.detail = HTML()
        self.late = HTML()
        self.errors = HTML()
        self.tabs = Tab(children=[VBox([self.windows, self.detail]), self.late, self.errors],
                        titles=("Open windows", "Late", "Errors"))
        super().__init__(children=[self.operator, self.tabs], **kwargs)
        self.add_class("streamlab-inspector")
        self.row_source = row_source
        self._ops: dict[str, dict[str, Any]] = {}
        self._windows: dict[tuple[str, int], dict[str, Any]] = {}
        self._sampled: tuple[str, tuple[str, int]] | None = None
        self._sample_html = ""
        self._updating = False
        self.operator.observe(self._on_operator, "value")
        self.windows.observe(self._on_window, "value")

    # ------------------------------------------------------------------ updates
    def update(self, snapshot: Mapping[str, Any]) -> None:
        """Refresh from a pipeline snapshot (only changed values are sent to the browser)."""
        ops = [op for op in snapshot.get("operators") or [] if op.get("state")]
        self._ops = {op["id"]: op for op in ops}
        options = [(f"{op.get('label') or op['id']} ({op['id']})", op["id"]) for op in ops]
        if list(self.operator.options) != options:
            keep = self.operator.value
            windowed = [op["id"] for op in ops if "open_windows" in op["state"]]
            updating = [op["id"] for op in ops if op.get("kind") in ROWS_FIELD]
            first = (windowed or updating or [op["id"] for op in ops] or [None])[0]
            with self._quiet(), self.operator.hold_sync():
                self.operator.options = options
                self.operator.value = keep if keep in self._ops else first
        self._render_operator()

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        """Replace options without the selection observers reacting to the transient reset."""
        self._updating = True
        try:
            yield
        finally:
            self._updating = False

    def _on_operator(self, change: dict[str, Any]) -> None:
        if not self._updating:
            self._sampled = None
            self._render_operator()

    def _render_operator(self) -> None:
        op = self._ops.get(self.operator.value)
        state = (op or {}).get("state") or {}
        wins = list(state.get("open_windows") or [])[: self.max_windows]
        self._windows = {(str(w.get("key_text")), int(w["window_start"])): w for w in wins}
        opts = [(window_label(w), ident) for ident, w in self._windows.items()]
        if opts != list(self.windows.options):
            keep = self.windows.value
            with self._quiet(), self.windows.hold_sync():
                self.windows.options = opts
                self.windows.value = keep if keep in self._windows else None
        count = state.get("open_count", len(wins))
        shown = f"{len(wins)} of {count}" if count > len(wins) else f"{count}"
        late = list(state.get("late_ledger") or [])
        errors = list(state.get("errors") or [])
        view = state_view(op) if op is not None and "open_windows" not in state else None
        first = view[0] if view is not None else f"Windows ({shown})"
        self.tabs.titles = (first, f"Late ({len(late)})", f"Errors ({len(errors)})")
        self.late.value = rows_html(late, self.sample_rows) if late else "<i>no late rows</i>"
        self.errors.value = rows_html(errors, self.sample_rows) if errors else "<i>no errors</i>"
        # an updating operator (groupby, Top-N, dedup, OVER) shows its state instead of windows
        display = "none" if view is not None else None
        if self.windows.layout.display != display:
            self.windows.layout.display = display
        if view is not None:
            self.detail.value = view[1]
            return
        self._render_detail()

    def _on_window(self, change: dict[str, Any]) -> None:
        if not self._updating:
            self._render_detail()

    def _render_detail(self) -> None:
        ident = self.windows.value
        w = self._windows.get(ident) if ident is not None else None
        if w is None:
            self.detail.value = "<i>click a window to see its partial aggregates and rows</i>"
            return
        partials = pd.DataFrame([w.get("partials") or {}])
        head = (f"<b>{escape(window_label(w))}</b>"
                f"<div>partial aggregates</div>{frame_html(partials, newest_first=False)}")
        # Sample rows once per selected window: the rows of an open window only grow.
        if self._sampled is None or self._sampled != (self.operator.value, ident):
            self._sampled = (self.operator.value, ident)
            self._sample_html = self._sample(w)
        self.detail.value = head + self._sample_html

    def _sample(self, w: Mapping[str, Any]) -> str:
        if self.row_source is None:
            return "<div><i>row samples are not available for this operator</i></div>"
        try:
            rows = self.row_source(self.operator.value, int(w["window_start"]), w.get("key"),
                                   self.sample_rows)
        except Exception as exc:
            return f"<div>rows unavailable: {escape(f'{type(exc).__name__}: {exc}')}</div>"
        if rows is None:
            return "<div><i>row samples are not available for this operator</i></div>"
        return f"<div>sample of rows</div>{rows_html(rows, self.sample_rows)}"
