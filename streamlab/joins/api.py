"""The fluent join methods, attached to :class:`~streamlab.core.node.Node` by this layer."""

from __future__ import annotations

from ..core.node import Node
from ..windows.operator import WindowAgg, Windowed
from .aggjoin import AggWindowJoin
from .common import key_lists
from .interval import IntervalJoin
from .merge import Merge
from .temporal import TemporalJoin
from .window import WindowJoin


@Node.register_api()
def join(self, other, on=None, *, left_on=None, right_on=None, between=None, how="inner",
         suffixes=("_x", "_y"), inclusive="both"):
    """Join two streams: an interval join with ``between=(lower, upper)``, or, on two window
    aggregations, a window join on the keys plus ``window_start`` and ``window_end``.

    >>> import streamlab as sl, pandas as pd
    >>> a = sl.from_frame(pd.DataFrame({"ts": [0], "k": [1]}), time="ts", unit="s").watermark(0)
    >>> a.join(a, on="k")
    Traceback (most recent call last):
    ...
    ValueError: a join of two streams needs a time bound (Flink refuses an unbounded regular join ...
    """
    keys = key_lists(on, left_on, right_on)
    if between is None and isinstance(self, WindowAgg) and isinstance(other, WindowAgg):
        return AggWindowJoin(self, other, keys=keys, how=how, suffixes=suffixes)
    if between is None:
        raise ValueError("a join of two streams needs a time bound (Flink refuses an unbounded regular join "
                         "in this setting): an interval join a.join(b, on=..., between=('-2s', '5s')), or a "
                         "window join a.window(spec).join(b.window(spec), on=...)")
    return IntervalJoin(self, other, keys=keys, between=between, how=how, suffixes=suffixes,
                        inclusive=inclusive)


@Node.register_api()
def join_asof(self, versioned, on=None, *, left_on=None, right_on=None, how="inner", suffixes=("_x", "_y")):
    """Event-time temporal join: each row joins the version of ``versioned`` (a stream, keep-last
    per key) valid at its time, once the watermark passes it. See ``streamlab.joins.temporal``."""
    return TemporalJoin(self, versioned, keys=key_lists(on, left_on, right_on), how=how, suffixes=suffixes)


@Node.register_api()
def merge(self, table, on=None, *, left_on=None, right_on=None, how="left", suffixes=("_x", "_y")):
    """Enrich every batch with a static DataFrame (pandas ``merge`` semantics, ``how`` inner or left)."""
    return Merge(self, table, keys=key_lists(on, left_on, right_on), how=how, suffixes=suffixes)


def window_join(self, other, on=None, *, left_on=None, right_on=None, how="inner", suffixes=("_x", "_y")):
    """Window join: ``a.window(spec).join(b.window(spec), on=..., how=...)`` (same TUMBLE, HOP or
    CUMULATE on both); rows join on the keys plus ``window_start`` and ``window_end``."""
    return WindowJoin(self, other, keys=key_lists(on, left_on, right_on), how=how, suffixes=suffixes)


Windowed.join = window_join  # type: ignore[attr-defined]
