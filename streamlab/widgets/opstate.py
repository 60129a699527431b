"""What the inspector shows of an updating operator's state (DESIGN §2b): the per-key aggregate of
a continuous ``groupby``, the current top N per key, the rows kept for deduplication, the OVER
buffer waiting for the watermark, and the rows a window Top-N keeps until its window fires.

It reads only the operator's snapshot (``snapshot_node``), so it works from any snapshot.

>>> op = {"kind": "groupby", "state": {"by": ["page"], "keys": 2, "aggregates": ["n=size(user)"],
...       "table": [{"page": "/a", "n": 3}, {"page": "/b", "n": 1}], "truncated": False}}
>>> title, body = state_view(op)
>>> title, "<td>/a</td><td>3</td>" in body, "keys: 2" in body
('Per-key aggregate (2)', True, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

import pandas as pd

from ..viz.table import frame_html, scrolling

#: Operator kind -> the state field holding its rows.
ROWS_FIELD = {"groupby": "table", "rank": "kept", "dedup": "kept", "over": "waiting", "window_rank": "kept"}
#: State fields shown as tables elsewhere (the Late tab), not in the summary line.
_NOT_SUMMARY = {"late_ledger", "errors"}


def _title(kind: str, state: Mapping[str, Any]) -> str:
    if kind == "groupby":
        return f"Per-key aggregate ({state.get('keys', len(state.get('table') or []))})"
    if kind == "rank":
        per = " per key" if state.get("by") else ""
        if state.get("keep_last"):
            return f"Last row{per}, kept for deduplication ({state.get('kept_rows', 0)})"
        return f"Current top {state.get('n', '?')}{per} ({state.get('kept_rows', 0)} rows)"
    if kind == "dedup":
        return f"Rows kept for deduplication ({state.get('kept_rows', 0)})"
    if kind == "over":
        return f"Waiting for the watermark ({state.get('waiting_rows', 0)})"
    return f"Kept until the window fires ({state.get('kept_rows', 0)})"


_CAPTION = {
    "groupby": "the current aggregate of every key (what the changelog has made of the table so far)",
    "rank": "the rows each key keeps, in rank order; a better row pushes the last one out (-D/+I)",
    "dedup": "each key's earliest row, held until the watermark passes it; then it is emitted once",
    "over": "rows held until the watermark passes their time; then each is emitted with its aggregate",
    "window_rank": "rows ranked per window; the best are emitted when the window fires",
}


def state_view(op: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(tab title, HTML)`` for an updating operator's snapshot, or None for other operators."""
    kind = str(op.get("kind"))
    state = op.get("state") or {}
    field = ROWS_FIELD.get(kind)
    if field is None or field not in state:
        return None
    rows = list(state.get(field) or [])
    summary = " · ".join(f"{escape(str(k))}: {escape(_text(v))}" for k, v in state.items()
                         if k != field and k not in _NOT_SUMMARY)
    shown = len(rows)
    total = {"groupby": state.get("keys"), "over": state.get("waiting_rows")}.get(kind, state.get("kept_rows"))
    more = f" (first {shown} of {total})" if isinstance(total, int) and total > shown else ""
    table = (scrolling(frame_html(pd.DataFrame(rows), newest_first=False)) if rows
             else "<i>nothing held now</i>")
    body = (f'<div class="streamlab-caption">{escape(_CAPTION.get(kind, ""))}{more}</div>'
            f"<div>{summary}</div>{table}")
    return _title(kind, state), body


def _text(v: Any) -> str:
    if isinstance(v, list | tuple):
        return ", ".join(map(str, v)) or "–"
    return f"{v:.6g}" if isinstance(v, float) else str(v)
