"""Vectorised helpers for OVER aggregations: range bounds, prefix sums and sparse-table min/max.

>>> import numpy as np
>>> v = np.array([3.0, np.nan, 1.0, 4.0])
>>> RangeMin(v, np.fmin).query(np.array([0, 1]), np.array([2, 4])).tolist()
[3.0, 1.0]
>>> prior_max_per_key(np.array([0, 0, 1]), np.array([5, 7, 9]), np.array([1, 3, 3]), np.array([0, 0, 1]),
...                   np.array([0, 1, 2])).tolist()   # row 1 sees key 0's event 5 (released at 1)
[-4611686018427387904, 5, -4611686018427387904]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.timecol import NEG_INF


class RangeMin:
    """O(1) min (or max, with ``np.fmax``) over ``values[lo:hi]`` after an O(n log n) build; NaN skipped."""

    def __init__(self, values: np.ndarray, op) -> None:
        self.op = op
        self.levels = [np.asarray(values, dtype="float64")]
        n, width = len(values), 1
        while width * 2 <= n:
            prev = self.levels[-1]
            self.levels.append(op(prev[:-width], prev[width:]))
            width *= 2

    def query(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Per pair, the reduction of ``values[lo:hi]`` (``hi > lo``)."""
        length = hi - lo
        if not len(length):
            return np.zeros(0)
        k = np.floor(np.log2(np.maximum(length, 1))).astype("int64")
        out = np.empty(len(lo))
        for level in np.unique(k):
            sel = k == level
            table = self.levels[level]
            out[sel] = self.op(table[lo[sel]], table[hi[sel] - (1 << int(level))])
        return out


def prior_max_per_key(ev_key: np.ndarray, ev_value: np.ndarray, ev_pos: np.ndarray,
                      q_key: np.ndarray, q_pos: np.ndarray) -> np.ndarray:
    """For each query (key, position), the max value of that key's events at positions ``<= pos``
    (``NEG_INF`` when there is none)."""
    n_ev = len(ev_key)
    key = np.concatenate([ev_key, q_key])
    pos = np.concatenate([ev_pos, q_pos])
    kind = np.concatenate([np.zeros(n_ev, "int64"), np.ones(len(q_key), "int64")])  # events first
    value = np.concatenate([np.asarray(ev_value, dtype="int64"), np.full(len(q_key), NEG_INF, dtype="int64")])
    order = np.lexsort((kind, pos, key))
    running = pd.Series(value[order]).groupby(key[order]).cummax().to_numpy()
    out = np.empty(len(key), dtype="int64")
    out[order] = running
    return out[n_ev:]


def prefix(values: np.ndarray) -> np.ndarray:
    """Prefix sums with a leading 0: ``p[hi] - p[lo]`` is the sum of ``values[lo:hi]``."""
    out = np.zeros(len(values) + 1, dtype=values.dtype)
    np.cumsum(values, out=out[1:])
    return out


def range_bounds(key: np.ndarray, ms: np.ndarray, span: int, at: np.ndarray):
    """For rows sorted by (key, ms): ``[lo, hi)`` of the rows of the same key with
    ``ms[at] - span <= ms <= ms[at]`` (Flink's RANGE ... PRECEDING AND CURRENT ROW)."""
    if not len(ms):
        return np.zeros(0, "int64"), np.zeros(0, "int64")
    base = int(ms.min())
    width = int(ms.max()) - base + span + 2
    comp = key.astype("int64") * width + (ms - base)
    lo = np.searchsorted(comp, comp[at] - span, side="left")
    hi = np.searchsorted(comp, comp[at], side="right")
    return lo, hi
