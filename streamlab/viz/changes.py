"""The current table of a changelog stream, for a live view (``res.table()``, ``res.plot``).

A view made while its pipeline has already run starts from the operator's current result (its
``current()``), so the changes that follow apply to the right table. When the pipeline runs again
from the start (``collect()`` after a run, ``reset()``), the operator's ``rows_out`` counter goes
back; the view notices and starts again from an empty table with the new run's changes only.

>>> import pandas as pd, streamlab as sl
>>> df = pd.DataFrame({"ts": [0, 1, 2], "page": ["a", "b", "a"]})
>>> res = sl.from_frame(df, time="ts", unit="s", batch_size=1).groupby("page").agg(n=("page", "size"))
>>> log = res.collect()
>>> view = LiveChangelog(res)          # made after a run: starts from the current result
>>> sorted(view.rows.values.tolist())
[['a', 2], ['b', 1]]
>>> seen = res.sink(lambda df: view.update([df]))
>>> res.collect().shape[0]             # the pipeline runs again from the start
4
>>> sorted(view.rows.values.tolist()), view.restarts
([['a', 2], ['b', 1]], 1)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from ..ranking.changelog import INSERT, OP, UPDATE_AFTER, Materialized, with_op


def _rows_out(stream: Any) -> int | None:
    out = getattr(getattr(stream, "counters", None), "rows_out", None)
    return out if isinstance(out, int) else None


class LiveChangelog:
    """Apply a changelog stream's batches as they come; ``rows`` is the current table.

    A view that starts after its operator has emitted rows and cannot start from its current
    result (a SQL projection of a ``GROUP BY`` has no ``current()``) is ``partial``: it will see
    retractions of rows it never saw. It skips those (counted in ``unmatched``) instead of failing;
    every other view applies the changelog strictly.
    """

    def __init__(self, stream: Any, seed: bool = True) -> None:
        """``seed=False`` (made at the first batch): start empty; that batch is the first change."""
        out = _rows_out(stream)
        current = getattr(stream, "current", None) if seed and out else None
        rows = current() if callable(current) else None  # only once it has emitted something
        self.stream = stream
        self.table = Materialized(rows if isinstance(rows, pd.DataFrame) else None)
        self.restarts = 0
        self.unmatched = 0
        self.partial = bool(seed and out and not isinstance(rows, pd.DataFrame))
        self._changes = 0
        self._out = out if seed else None  # the operator's rows_out already in the table

    @property
    def rows(self) -> pd.DataFrame | None:
        """The current table (no ``op`` column), or None before any row."""
        return self.table.rows

    @property
    def changes(self) -> int:
        """Changelog rows applied since the view started (or the pipeline last restarted)."""
        return self._changes

    def update(self, frames: list[pd.DataFrame]) -> pd.DataFrame:
        """Apply ``frames`` (the batches received since the last update, in order)."""
        out = _rows_out(self.stream)
        pending = sum(len(f) for f in frames)
        if out is not None and self._out is not None:
            if out < self._out + pending:  # the counter went back: a new run started in between
                self.restarts += 1
                self.table.reset()
                self.partial = False  # this view sees the new run from its start
                self._changes = 0
                frames = _last_rows(frames, out)
                pending = sum(len(f) for f in frames)
        elif out is not None and out > pending:  # made at its first batch, but rows went before
            self.partial = True
        self._out = out
        self._changes += pending
        if not self.partial:
            return self.table.update(frames)
        try:
            return self.table.update(frames)
        except ValueError:
            return self._skip_unmatched(frames)

    def _skip_unmatched(self, frames: list[pd.DataFrame]) -> pd.DataFrame:
        """Apply ``frames`` row by row, skipping retractions of rows this view never saw."""
        parts = [with_op(self.table.rows, INSERT)] if self.table.rows is not None else []
        log = pd.concat([*parts, *(f for f in frames if len(f))], ignore_index=True)
        body = log.drop(columns=OP)
        held: Counter = Counter()
        keep = np.ones(len(log), dtype=bool)
        for i, (op, row) in enumerate(zip(log[OP].tolist(), body.itertuples(index=False, name=None), strict=True)):
            if op in (INSERT, UPDATE_AFTER):
                held[row] += 1
            elif held[row] > 0:
                held[row] -= 1
            else:
                keep[i] = False
        self.unmatched += int((~keep).sum())
        self.table.reset()
        return self.table.update([log[keep]])


def _last_rows(frames: list[pd.DataFrame], n: int) -> list[pd.DataFrame]:
    """The frames holding the last ``n`` rows (the new run's)."""
    keep: list[pd.DataFrame] = []
    for f in reversed(frames):
        if n <= 0:
            break
        keep.insert(0, f if len(f) <= n else f.tail(n))
        n -= len(f)
    return keep
