"""``to_flink_sql`` for an interval join: source DDL (one table when both inputs read the same
source, as in streamlab's graph), a view per input for its ``where`` steps, and the join query.

>>> import streamlab as sl, pandas as pd
>>> df = pd.DataFrame({"ts": pd.to_datetime([0], unit="ms"), "side": ["L"], "k": ["a"]})
>>> src = sl.from_frame(df, time="ts").watermark("200ms")
>>> j = src.where("side == 'L'").join(src.where("side == 'R'"), on="k", between=("-1s", "2s"), how="left")
>>> print(sl.flink.to_flink_sql(j, path="/data/rows.csv", parts=True).query)
SELECT CAST(l.ts AS TIMESTAMP(3)) AS ts_x, l.side AS side_x, l.k AS k, CAST(r.ts AS TIMESTAMP(3)) AS ts_y, r.side AS side_y
FROM src_l AS l LEFT JOIN src_r AS r
ON l.k = r.k AND r.ts BETWEEN l.ts - INTERVAL '1' SECOND AND l.ts + INTERVAL '2' SECOND
"""

from __future__ import annotations

from ..joins.interval import IntervalJoin
from .join_query import (
    HOW_SQL,
    JoinQuery,
    SideChain,
    finish,
    key_condition,
    pair_columns,
    read_side,
    side_tables,
)
from .options import FlinkExportOptions
from .render import ident, interval


def _bound(col: str, ms: int) -> str:
    return col if not ms else f"{col} {'-' if ms < 0 else '+'} {interval(abs(ms))}"


def interval_join_query(join: IntervalJoin, options: FlinkExportOptions, source_ddl) -> JoinQuery:
    """The :class:`JoinQuery` of an interval join (``source_ddl`` makes one table's DDL)."""
    notes: list[str] = []
    ddl, (left, right) = side_tables(join.upstreams, options, source_ddl, notes)
    lt, rt = f"l.{ident(left.rowtime)}", f"r.{ident(right.rowtime)}"
    body = [f"FROM {ident(left.name)} AS l {HOW_SQL[join.how]} {ident(right.name)} AS r",
            f"ON {key_condition(join.left_on, join.right_on)} AND "
            f"{rt} BETWEEN {_bound(lt, join.lower)} AND {_bound(lt, join.upper)}"]
    return JoinQuery("interval join", join.label(), ddl, pair_columns(join.cols, join.how, left, right), body,
                     left.chain.source, notes)


def interval_join_export(join: IntervalJoin, options: FlinkExportOptions, source_ddl) -> dict:
    """The parts of the export of an interval join (``source_ddl`` makes one table's DDL)."""
    return finish(interval_join_query(join, options, source_ddl), options)


__all__ = ["SideChain", "interval_join_export", "interval_join_query", "read_side"]
