"""A cap on the series of a plot split ``by`` a many-valued key: the top keys get a series (or a
heatmap row) of their own, every other key is summed into one ``"other"`` series.

The work per batch is vectorised over rows, and at most ``max_series + 1`` series ever exist, so
3,000 or 10,000 keys cost one data source each only up to the cap.

>>> cols = {"x": np.array([1.0, 1.0, 2.0]), "y": np.array([1.0, 2.0, 4.0]), "key": ["a", "b", "c"]}
>>> summed(cols, np.array([0, 1, 2]))["y"].tolist()
[3.0, 4.0]
>>> choose(["a", "b", "c"], np.array([1.0, 5.0, 3.0]), ["a", "b", "c"], room=2)
['b', 'c']
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The series that sums every ``by`` value beyond the cap.
OTHER = "other"


def choose(new: list[str], weight: np.ndarray, uniques: list[str], room: int) -> list[str]:
    """The ``room`` keys of ``new`` with the largest ``weight`` (aligned with ``uniques``)."""
    if len(new) <= room:
        return new
    rank = {k: -weight[i] for i, k in enumerate(uniques)}
    return sorted(new, key=lambda k: rank[k])[:max(room, 0)]


def weights(codes: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """The measure that ranks keys: the sum of ``|y|`` per key code."""
    return np.bincount(codes, weights=np.nan_to_num(np.abs(y)), minlength=n)


def summed(cols: dict[str, Any], idx: np.ndarray) -> dict[str, Any]:
    """The rows ``idx`` summed per x value: one point of the 'other' series per window."""
    x = cols["x"][idx]
    order = np.argsort(x, kind="stable")
    idx, x = idx[order], x[order]
    first = np.flatnonzero(np.r_[True, x[1:] != x[:-1]]) if len(x) else np.zeros(0, dtype="int64")
    y = np.nan_to_num(cols["y"][idx])
    out: dict[str, Any] = {c: (v[idx[first]] if isinstance(v, np.ndarray) else [v[j] for j in idx[first]])
                           for c, v in cols.items()}
    out["y"] = np.add.reduceat(y, first) if len(first) else y[:0]
    out["key"] = [OTHER] * len(first)
    return out
