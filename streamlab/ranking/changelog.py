"""Changelog results: an ``op`` column with Flink's row kinds, and applying it to get the table.

A result that can change (continuous GROUP BY, continuous Top-N, keep-last deduplication) carries
an ``op`` column first, with ``+I`` (insert), ``-U`` (the row before an update), ``+U`` (the row
after it) and ``-D`` (delete), as Flink's ``TableResult.collect()`` shows them. ``collect()`` returns
that changelog; ``res.materialize()`` returns the table it describes now.

>>> import pandas as pd
>>> log = pd.DataFrame({"op": ["+I", "+I", "-U", "+U"], "page": ["a", "b", "a", "a"], "n": [1, 1, 1, 2]})
>>> apply_changelog(log)
  page  n
0    b  1
1    a  2
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.node import Node

#: The changelog column and Flink's row kinds.
OP = "op"
INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE = "+I", "-U", "+U", "-D"
ROW_KINDS = (INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE)


def is_changelog(df: pd.DataFrame) -> bool:
    """Whether ``df`` is a changelog (has an ``op`` column)."""
    return OP in df.columns


def apply_changelog(changes: pd.DataFrame) -> pd.DataFrame:
    """The table a changelog describes (rows as a multiset: ``+I``/``+U`` add a row, ``-U``/``-D``
    remove an equal one), in the order the rows got their current values. An append-only frame
    (no ``op``) is returned as it is.

    Raises ``ValueError`` for an unknown row kind or a retraction of a row that is not there.
    """
    if not is_changelog(changes):
        return changes.reset_index(drop=True)
    cols = [c for c in changes.columns if c != OP]
    ops = changes[OP].astype(object)
    bad = ~ops.isin(ROW_KINDS)
    if bad.any():
        raise ValueError(f"unknown row kind {ops[bad].iloc[0]!r} in the op column; expected one of {ROW_KINDS}")
    if not len(changes):
        return changes[cols].reset_index(drop=True)
    body = changes[cols].reset_index(drop=True)
    if not cols:
        raise ValueError("a changelog needs columns besides op")
    group = body.groupby(cols, dropna=False, sort=False).ngroup().to_numpy()
    sign = np.where(ops.isin((INSERT, UPDATE_AFTER)).to_numpy(), 1, -1)  # +I/+U add an equal row, -U/-D remove one
    n_groups = int(group.max()) + 1
    by_group = np.argsort(group, kind="stable")  # each group's rows in changelog order
    csum = np.cumsum(sign[by_group])
    starts = np.r_[0, np.flatnonzero(np.diff(group[by_group])) + 1]
    lengths = np.diff(np.r_[starts, len(by_group)])
    running = np.empty(len(body), dtype="int64")
    running[by_group] = csum - np.repeat(np.r_[0, csum[starts[1:] - 1]], lengths)
    if (running < 0).any():
        at = int(np.flatnonzero(running < 0)[0])
        raise ValueError(f"invalid changelog: row {at} retracts {body.iloc[at].to_dict()} which is not in the table")
    net = np.bincount(group, weights=sign, minlength=n_groups).astype("int64")
    first = by_group[starts]  # ngroup numbers groups by first appearance; the first row of each
    keep = np.flatnonzero(net > 0)
    keep = keep[np.argsort(first[keep], kind="stable")]
    rows = np.repeat(first[keep], net[keep])
    return body.iloc[rows].reset_index(drop=True)


def with_op(df: pd.DataFrame, ops) -> pd.DataFrame:
    """``df`` with an ``op`` column in front."""
    out = df.reset_index(drop=True)
    out.insert(0, OP, pd.Series(ops, dtype=object) if not isinstance(ops, str) else ops)
    if not len(out):
        out[OP] = out[OP].astype(object)
    return out


class Materialized:
    """A changelog applied batch by batch, as a live view needs it: ``update(frames)`` applies the
    new changes to the table kept so far and returns the current table (``apply_changelog`` of
    everything seen). ``res.table()`` and the live plots share it.

    >>> m = Materialized()
    >>> m.update([pd.DataFrame({"op": ["+I", "+I"], "k": ["a", "b"], "n": [1, 1]})])["n"].tolist()
    [1, 1]
    >>> m.update([pd.DataFrame({"op": ["-U", "+U", "-D"], "k": ["a", "a", "b"], "n": [1, 2, 1]})])
       k  n
    0  a  2
    >>> m.changes
    5
    """

    def __init__(self, rows: pd.DataFrame | None = None) -> None:
        #: The current table (no ``op`` column), or None before the first change.
        self.rows: pd.DataFrame | None = None
        #: Changelog rows applied so far.
        self.changes = 0
        self.reset(rows)

    def reset(self, rows: pd.DataFrame | None = None) -> None:
        """Start again from ``rows`` (a table without ``op``), or from nothing."""
        self.rows = None if rows is None or not len(rows) else rows.drop(columns=OP, errors="ignore").reset_index(drop=True)
        self.changes = 0

    def update(self, frames: list[pd.DataFrame]) -> pd.DataFrame:
        """Apply the changelog ``frames`` (in order) and return the current table."""
        parts = [f for f in frames if len(f)]
        if self.rows is not None:
            parts.insert(0, with_op(self.rows, INSERT))
        if parts:
            self.rows = apply_changelog(pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0])
        self.changes += sum(len(f) for f in frames)
        return self.rows if self.rows is not None else pd.DataFrame()


@Node.register_api()
def materialize(self, n: int | None = None, timeout: float | None = None) -> pd.DataFrame:
    """Run like ``collect()`` and return the current table: the changelog applied (an
    append-only result is returned as ``collect()`` gives it).

    >>> import streamlab as sl, pandas as pd
    >>> df = pd.DataFrame({"ts": [0, 1, 2], "page": ["a", "b", "a"]})
    >>> res = sl.from_frame(df, time="ts", unit="s", batch_size=1).groupby("page").agg(n=("page", "size"))
    >>> res.collect()["op"].tolist()
    ['+I', '+I', '-U', '+U']
    >>> res.materialize()
      page  n
    0    b  1
    1    a  2
    """
    return apply_changelog(self.collect(n=n, timeout=timeout))
