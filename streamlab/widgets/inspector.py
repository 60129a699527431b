"""State inspector: each window operator's open windows per key, their partial aggregates, a
bounded sample of a clicked window's rows, and the late ledger and error rows as tables. An
updating operator (continuous groupby, Top-N, deduplication, OVER) shows its state instead:
the per-key aggregate, the current top N, the rows kept, the buffer waiting for the watermark; a
join shows both inputs (watermark, rows held, counters) and a key chooser that opens a key and
shows the rows each side holds for it.

It renders from a pipeline snapshot (DESIGN.md §1): ``update(snapshot)`` is all it needs.
``row_source(op_id, window_start_ms, key, limit)`` may return a DataFrame (or row dicts) of a
window's rows when the engine can sample them; otherwise the partials are shown.
``held_source(op_id, side, key_text, limit)`` returns the rows a join's side holds for a key.
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
HeldSource = Callable[[str, str, str, int], Any]

#: The counters a join side may have, in the order the inspector shows them.
JOIN_COUNTERS = ("rows_in", "held", "matched", "emitted_unmatched", "expired_unmatched", "late_arrivals",
                 "counted", "late", "versions", "superseded", "null_keys", "errors")


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


def join_sides_html(state: Mapping[str, Any]) -> str:
    """A table of a join's two inputs: role, watermark, then every counter either side has.

    >>> html = join_sides_html({"left": {"role": "left", "watermark_text": "1500", "rows_in": 3,
    ...                         "held": 1}, "right": {"role": "right", "watermark": None, "rows_in": 0,
    ...                         "held": 0}})
    >>> "<td>1500</td>" in html and "<td>–</td>" in html
    True
    """
    sides = [(name, state.get(name) or {}) for name in ("left", "right")]
    counters = [c for c in JOIN_COUNTERS if any(c in s for _, s in sides)]
    head = "".join(f"<th>{escape(c)}</th>" for c in ("input", "watermark", *counters))
    body = []
    for name, s in sides:
        wm = s.get("watermark_text") or (ms_text(s["watermark"]) if s.get("watermark") is not None else "–")
        role = s.get("role", name)
        cells = [f"{name} ({role})" if role != name else name, str(wm),
                 *(str(s.get(c, "")) for c in counters)]
        body.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    return f'<table class="sl-join-sides"><tr>{head}</tr>{"".join(body)}</table>'


def join_keys(state: Mapping[str, Any]) -> list[str]:
    """The keys either side of a join holds rows for (most rows first).

    >>> join_keys({"left": {"keys_held": {"a": 1, "b": 3}}, "right": {"keys_held": {"c": 2, "a": 1}}})
    ['b', 'a', 'c']
    """
    total: dict[str, int] = {}
    for name in ("left", "right"):
        for k, n in ((state.get(name) or {}).get("keys_held") or {}).items():
            total[k] = total.get(k, 0) + int(n)
    return sorted(total, key=lambda k: -total[k])


class StateInspector(VBox):
    """Pick a window operator, then a window: see its partials and a bounded sample of rows."""

    sample_rows = Int(20, help="Most rows shown for a window, the late ledger or the errors.")
    max_windows = Int(50, help="Most open windows listed per operator.")

    @validate("sample_rows", "max_windows")
    def _positive(self, proposal: dict[str, Any]) -> int:
        if proposal["value"] < 1:
            raise ValueError(f"{proposal['trait'].name} must be >= 1, got {proposal['value']}")
        return proposal["value"]

    def __init__(self, row_source: RowSource | None = None, held_source: HeldSource | None = None,
                 **kwargs: Any) -> None:
        self.operator = Dropdown(description="operator", options=[],
                                 layout=Layout(width="auto", min_width="22em"))
        self.windows = Select(options=[], rows=8, layout=Layout(width="100%"))
        self.detail = HTML()
        self.late = HTML()
        self.errors = HTML()
        # a join: both inputs, and a key chooser that opens the rows each side holds for a key
        self.join_sides = HTML()
        self.join_key = Dropdown(description="key", options=[], layout=Layout(width="auto", min_width="16em"))
        self.held = HTML()
        self.join_box = VBox([self.join_sides, self.join_key, self.held], layout=Layout(display="none"))
        self.held_source = held_source
        self.tabs = Tab(children=[VBox([self.join_box, self.windows, self.detail]), self.late, self.errors],
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
        self.join_key.observe(self._on_key, "value")

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
        is_join = "join" in state and isinstance(state.get("left"), Mapping)
        view = state_view(op) if op is not None and "open_windows" not in state and not is_join else None
        first = view[0] if view is not None else f"Windows ({shown})"
        if is_join:
            held = sum(int((state.get(n) or {}).get("held", 0) or 0) for n in ("left", "right"))
            first = f"Join ({held} held)"
        self.tabs.titles = (first, f"Late ({len(late)})", f"Errors ({len(errors)})")
        self._render_join(state if is_join else None)
        self.late.value = rows_html(late, self.sample_rows) if late else "<i>no late rows</i>"
        self.errors.value = rows_html(errors, self.sample_rows) if errors else "<i>no errors</i>"
        # an updating operator (groupby, Top-N, dedup, OVER) shows its state instead of windows
        display = "none" if view is not None or is_join else None
        if self.windows.layout.display != display:
            self.windows.layout.display = display
        if view is not None:
            self.detail.value = view[1]
            return
        self._render_detail()

    def _render_join(self, state: Mapping[str, Any] | None) -> None:
        self.join_box.layout.display = "none" if state is None else ""
        if state is None:
            return
        self.join_sides.value = join_sides_html(state)
        keys = join_keys(state)
        if list(self.join_key.options) != keys:
            keep = self.join_key.value
            with self._quiet(), self.join_key.hold_sync():
                self.join_key.options = keys
                self.join_key.value = keep if keep in keys else None
        self._render_held()

    def _on_key(self, change: dict[str, Any]) -> None:
        if not self._updating:
            self._render_held()

    def _render_held(self) -> None:
        """The rows each side of the join holds for the chosen key (fresh at every refresh)."""
        key = self.join_key.value
        if key is None:
            self.held.value = "<i>choose a key to see the rows each input holds for it</i>"
            return
        if self.held_source is None:
            self.held.value = "<i>held rows are not available for this operator</i>"
            return
        parts = []
        for side in ("left", "right"):
            try:
                rows = self.held_source(self.operator.value, side, key, self.sample_rows)
            except Exception as exc:
                parts.append(f"<div>{side}: rows unavailable: {escape(f'{type(exc).__name__}: {exc}')}</div>")
                continue
            n = 0 if rows is None else len(rows)
            parts.append(f"<div><b>{side}</b> holds {n} row{'s' if n != 1 else ''} for key "
                         f"{escape(str(key))}</div>{rows_html(rows, self.sample_rows) if n else ''}")
        self.held.value = "".join(parts)

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
