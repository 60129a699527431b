"""``Project``: reorder and rename a window result's columns to match a SQL select list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from streamlab.core.node import Node
from streamlab.sql.plan import JoinRef, Output


def joined_value(df: pd.DataFrame, refs: Sequence[JoinRef]) -> pd.Series:
    """``COALESCE`` of qualified join columns, each NULL where its input is NULL-padded.

    >>> df = pd.DataFrame({"k": ["a", "b"], "ts_x": [1.0, None], "ts_y": [2.0, 3.0]})
    >>> joined_value(df, [JoinRef("left", "k", "k", "ts_x")]).tolist()
    ['a', nan]
    >>> joined_value(df, [JoinRef("left", "k", "k", "ts_x"), JoinRef("right", "k", "k", "ts_y")]).tolist()
    ['a', 'b']
    """
    out: pd.Series | None = None
    for ref in refs:
        value = df[ref.source]
        if ref.present is not None:
            value = value.where(df[ref.present].notna())
        out = value if out is None else out.where(out.notna(), value)
    assert out is not None, "a join column needs at least one reference"
    return out


class Project(Node):
    """Keep ``outputs`` (engine column -> output name) in the given order.

    It forwards ``late`` and ``errors`` to the window operator above it, so ``res.late`` works
    on a SQL result just as on the Python API's.
    """

    kind = "select"

    def __init__(self, upstream: Any, outputs: Sequence[Output], **kwargs: Any):
        super().__init__(upstream, columns=[o.name for o in outputs], **kwargs)
        self.outputs = tuple(outputs)
        self._sources = [o.source for o in self.outputs]
        self._names = [o.name for o in self.outputs]

    def label(self) -> str:
        return f"select({', '.join(self._names)})"

    def on_batch(self, df: pd.DataFrame, port: int = 0, marks=None) -> pd.DataFrame:
        out = df[self._sources].copy()
        out.columns = self._names
        for i, o in enumerate(self.outputs):
            if o.refs:
                out.isetitem(i, joined_value(df, o.refs))
        out.attrs.update(df.attrs)
        return out

    def empty_output(self) -> pd.DataFrame:
        """A zero-row frame with the output schema (what ``collect()`` returns for no rows)."""
        return self.on_batch(self.window.empty_output())

    @property
    def window(self) -> Any:
        """The window operator whose result this projects."""
        return self.upstreams[0]

    @property
    def late(self) -> Any:
        """The window operator's late rows."""
        return self.window.late

    @property
    def errors(self) -> Any:
        """The window operator's error rows."""
        return self.window.errors

