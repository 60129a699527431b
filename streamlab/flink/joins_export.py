"""Which join export a result needs: interval, window (raw rows or two aggregations), temporal,
or a merge with a static table (lookup join), with a ``%%streamlab`` select list over any of them.

>>> import streamlab as sl, pandas as pd
>>> df = pd.DataFrame({"ts": pd.to_datetime([0], unit="ms"), "k": ["a"]})
>>> src = sl.from_frame(df, time="ts").watermark("1s")
>>> join_parts(src.where("k == 'a'"), None, None, None) is None  # not a join
True
"""

from __future__ import annotations

from ..joins.aggjoin import AggWindowJoin
from ..joins.interval import IntervalJoin
from ..joins.merge import Merge
from ..joins.temporal import TemporalJoin
from ..joins.window import WindowJoin
from .chain import SelectList
from .join_export import interval_join_query
from .join_query import finish
from .lookup_export import lookup_join_query
from .options import FlinkExportOptions
from .temporal_export import temporal_join_query
from .window_join_export import agg_window_join_query, window_join_query

JOINS = (IntervalJoin, WindowJoin, AggWindowJoin, TemporalJoin, Merge)


def join_parts(stream, options: FlinkExportOptions, source_ddl, build_export) -> dict | None:
    """The export parts of a join result (None when ``stream`` is not one)."""
    outputs = None
    if isinstance(stream, SelectList) and isinstance(stream.window, JOINS):
        stream, outputs = stream.window, stream.outputs
    if isinstance(stream, IntervalJoin):
        query = interval_join_query(stream, options, source_ddl)
    elif isinstance(stream, WindowJoin):
        query = window_join_query(stream, options, source_ddl)
    elif isinstance(stream, AggWindowJoin):
        query = agg_window_join_query(stream, options, build_export)
    elif isinstance(stream, TemporalJoin):
        query = temporal_join_query(stream, options, source_ddl)
    elif isinstance(stream, Merge):
        query = lookup_join_query(stream, options, source_ddl)
    else:
        return None
    return finish(query, options, outputs)
