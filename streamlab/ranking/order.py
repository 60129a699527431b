"""Ordering rows within partitions: the one sort every Top-N and deduplication uses.

Rows are ordered by one value, ascending or descending; equal values go by arrival (``seq``),
first arrival first, or last arrival first for keep-last deduplication. NaN values sort last.

>>> import numpy as np
>>> part = np.array([0, 0, 0, 1]); value = np.array([3.0, 5.0, 5.0, 1.0]); seq = np.arange(4)
>>> top_positions(part, value, seq, n=2, descending=True).tolist()  # 5 (seq 1), 5 (seq 2); then 1
[1, 2, 3]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Order:
    """How a Top-N or a deduplication ranks: ``column``, direction, and which arrival wins a tie."""

    column: str
    descending: bool
    tie_last: bool = False  # keep-last deduplication: among equal values the later arrival ranks first
    n: int = 1
    by_time: bool = False  # the column is the event time (deduplication)

    def label(self) -> str:
        return f"{'top' if self.descending else 'bottom'} {self.n} by {self.column}"


def sorted_positions(part: np.ndarray, value: np.ndarray, seq: np.ndarray, descending: bool,
                     tie_last: bool = False) -> np.ndarray:
    """Positions sorted by partition, then value (NaN last), then arrival."""
    v = np.asarray(value, dtype="float64")
    primary = -v if descending else v
    nan = np.isnan(primary)
    primary = np.where(nan, 0.0, primary)
    secondary = -seq if tie_last else seq
    return np.lexsort((secondary, primary, nan, part))


def ranks_in_order(part_sorted: np.ndarray) -> np.ndarray:
    """1-based rank of each row of a partition-sorted array within its partition."""
    n = len(part_sorted)
    if not n:
        return np.zeros(0, dtype="int64")
    start = np.r_[True, part_sorted[1:] != part_sorted[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    return np.arange(n) - first + 1


def top_positions(part: np.ndarray, value: np.ndarray, seq: np.ndarray, n: int, descending: bool,
                  tie_last: bool = False) -> np.ndarray:
    """Positions of the first ``n`` rows of every partition, in partition and rank order."""
    order = sorted_positions(part, value, seq, descending, tie_last)
    rank = ranks_in_order(part[order])
    return order[rank <= n]


def top_candidates(part: np.ndarray, value: np.ndarray, n: int, descending: bool) -> np.ndarray:
    """Mask of the rows that may be among the first ``n`` of their partition, found without sorting.

    A superset: every row whose value is at least as good as its partition's ``n``-th best distinct
    value (so all ties and, in partitions with fewer than ``n`` distinct values, every row, NaN
    included). ``part`` holds dense ids ``0 … P-1``. ``n`` passes of a per-partition minimum.

    >>> top_candidates(np.array([0, 0, 0, 0, 1]), np.array([1.0, 5.0, 5.0, 3.0, 2.0]), 1, True).tolist()
    [False, True, True, False, True]
    """
    v = np.asarray(value, dtype="float64")
    primary = -v if descending else v
    primary = np.where(np.isnan(primary), np.inf, primary)
    parts = int(part.max()) + 1 if len(part) else 0
    left, best = primary, np.full(parts, np.inf)
    for _ in range(n):
        best = np.full(parts, np.inf)
        np.minimum.at(best, part, left)
        left = np.where(left == best[part], np.inf, left)
    return primary <= best[part]


def order_values(values, by_time_ms: np.ndarray | None = None) -> np.ndarray:
    """The float64 values to order by (event time in ms when ordering by time)."""
    if by_time_ms is not None:
        return by_time_ms.astype("float64")
    import pandas as pd

    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
