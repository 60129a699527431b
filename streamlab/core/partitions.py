"""Per-partition watermarks for partitioned sources (Kafka).

A partitioned source puts a :class:`PartitionMarks` on each batch: the partition of every row and
the partitions that are *active* (assigned, not finished, not idle). The ``watermark`` node then
follows Flink's rule: each partition has its own ``max(event time) - delay``, the stream's
watermark is the minimum over active partitions, and it never goes back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .timecol import NEG_INF, POS_INF

#: ``DataFrame.attrs`` key carrying :class:`PartitionMarks`.
PARTS_ATTR = "streamlab.core.partitions"


class PartitionMarks:
    """Partition of each row, the active partitions, and source bookkeeping for one batch.

    Like :class:`~streamlab.core.node.RowMarks`, it copies as itself, so pandas can carry it in
    ``attrs`` for free. ``extra`` is the source's own bookkeeping (offsets, error rows).
    """

    __slots__ = ("part", "index", "active", "extra")

    def __init__(self, part: np.ndarray, index: pd.Index, active: tuple, extra=None):
        self.part, self.index, self.active, self.extra = part, index, tuple(active), extra

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self

    def partitions_of(self, df: pd.DataFrame) -> np.ndarray:
        """Partition of each row of ``df`` (rows may have been filtered since the source)."""
        if len(df) == len(self.part) and (df.index is self.index or df.index.equals(self.index)):
            return self.part
        return pd.Series(self.part, index=self.index).reindex(df.index).to_numpy(dtype="int64")


def partition_marks(df: pd.DataFrame) -> PartitionMarks | None:
    """The batch's :class:`PartitionMarks`, if a partitioned source made it."""
    marks = df.attrs.get(PARTS_ATTR)
    return marks if isinstance(marks, PartitionMarks) else None


def per_partition_watermark(ms: np.ndarray, part: np.ndarray, active, pmax: dict, current: int,
                            delay: int) -> tuple[np.ndarray, int]:
    """Watermark seen by each row under the per-partition rule; updates ``pmax`` in place.

    ``W_i = max(current, min over active partitions p of (max ts of p among rows before i) - delay)``;
    a partition that has sent nothing yet holds the watermark at -inf. Returns (W per row, new
    watermark after the batch).

    >>> pmax = {}
    >>> wm, cur = per_partition_watermark(np.array([10, 50, 20, 60]), np.array([0, 1, 0, 1]),
    ...                                   (0, 1), pmax, NEG_INF, 5)
    >>> [w if w > NEG_INF else None for w in wm.tolist()], cur, pmax
    ([None, None, 5, 15], 15, {0: 20, 1: 60})
    """
    n = len(ms)
    active = set(active)
    present = np.unique(part).tolist() if n else []
    active.update(present)
    lowest = np.full(n, min((pmax.get(p, NEG_INF) for p in active if p not in present), default=POS_INF),
                     dtype="int64")
    for p in present:
        sel = part == p
        running = np.maximum.accumulate(np.where(sel, ms, NEG_INF))
        before = np.empty(n, dtype="int64")
        before[0] = NEG_INF
        before[1:] = running[:-1]
        np.maximum(before, pmax.get(p, NEG_INF), out=before)
        np.minimum(lowest, before, out=lowest)
        pmax[p] = max(pmax.get(p, NEG_INF), int(running[-1]))
    wm = np.where(lowest >= POS_INF, current, np.where(lowest <= NEG_INF, NEG_INF, lowest - delay))
    np.maximum(wm, current, out=wm)
    after = min((pmax.get(p, NEG_INF) for p in active), default=None)
    if after is not None and after > NEG_INF:
        current = max(current, after - delay)
    return wm.astype("int64", copy=False), current
