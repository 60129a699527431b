"""Side outputs: the ``late`` and ``errors`` streams that hang off an operator."""

from __future__ import annotations

import pandas as pd

from .node import WM_COL, Node


def visible(df: pd.DataFrame) -> pd.DataFrame:
    """Drop streamlab's hidden columns."""
    return df.drop(columns=[WM_COL]) if WM_COL in df.columns else df


def error_frame(rows: pd.DataFrame, reason) -> pd.DataFrame:
    """Input columns (when known) plus ``reason``."""
    out = visible(rows).copy()
    out["reason"] = reason
    return out.reset_index(drop=True)


class SideOutput(Node):
    """A stream of rows set aside by ``parent`` (late rows, error rows)."""

    kind = "side"

    def __init__(self, parent: Node, what: str):
        super().__init__(None, time_meta=parent.time_meta, stream_name=f"{parent.label()}.{what}")
        self.parent = parent
        self.what = what
        self.recent: list[pd.DataFrame] = []
        self.max_recent_rows = 1000

    def push(self, df: pd.DataFrame) -> None:
        """Emit a frame of set-aside rows (and keep a bounded ledger for inspection)."""
        self.counters.rows_in += len(df)
        self.counters.rows_out += len(df)
        self._remember(df)
        self._emit(df)

    def update(self, x, who=None, metadata=None):  # errors of upstream operators flow in here
        self.push(x)

    def _remember(self, df: pd.DataFrame) -> None:
        self.recent.append(df)
        total = sum(len(f) for f in self.recent)
        while self.recent and total - len(self.recent[0]) >= self.max_recent_rows:
            total -= len(self.recent.pop(0))

    def ledger(self, limit: int = 100) -> pd.DataFrame:
        """The most recent rows (bounded)."""
        if not self.recent:
            return pd.DataFrame()
        return pd.concat(self.recent, ignore_index=True).tail(limit).reset_index(drop=True)

    def reset_state(self) -> None:
        super().reset_state()
        self.recent = []

    def label(self) -> str:
        return self.name
