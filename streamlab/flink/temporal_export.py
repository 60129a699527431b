"""``to_flink_sql`` for the event-time temporal join ``probe.join_asof(versioned, on=...)``:
Flink's versioned view of the build input (a keep-last deduplication,
``ROW_NUMBER() OVER (PARTITION BY key ORDER BY ts DESC) = 1``, whose key is the view's primary key)
and ``JOIN ... FOR SYSTEM_TIME AS OF`` the probe row's event time.

>>> import streamlab as sl, pandas as pd
>>> df = pd.DataFrame({"ts": pd.to_datetime([0], unit="ms"), "side": ["L"], "k": ["a"]})
>>> src = sl.from_frame(df, time="ts").watermark("200ms")
>>> j = src.where("side == 'L'").join_asof(src.where("side == 'R'"), on="k", how="left")
>>> parts = sl.flink.to_flink_sql(j, path="/data/rows.csv", parts=True)
>>> print(parts.more_ddl[-1])
CREATE TEMPORARY VIEW src_r_versions AS
SELECT ts, side, k FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) AS rownum FROM src_r
) WHERE rownum = 1
>>> print(parts.query)
SELECT CAST(l.ts AS TIMESTAMP(3)) AS ts_x, l.side AS side_x, l.k AS k, CAST(r.ts AS TIMESTAMP(3)) AS ts_y, r.side AS side_y
FROM src_l AS l LEFT JOIN src_r_versions FOR SYSTEM_TIME AS OF l.ts AS r
ON l.k = r.k
"""

from __future__ import annotations

from ..joins.temporal import TemporalJoin
from .join_query import HOW_SQL, JoinQuery, finish, key_condition, pair_columns, side_tables
from .options import FlinkExportOptions
from .render import ident


def _fresh(name: str, taken) -> str:
    while name in taken:
        name += "_"
    return name


def versioned_view(name: str, table: str, columns: list[str], keys: list[str], rowtime: str) -> str:
    """Flink's versioned view of ``table``: the newest row per key by event time (keep-last)."""
    rownum = _fresh("rownum", columns)
    cols = ", ".join(ident(c) for c in dict.fromkeys([*columns, rowtime]))
    return (f"CREATE TEMPORARY VIEW {ident(name)} AS\nSELECT {cols} FROM (\n"
            f"  SELECT *, ROW_NUMBER() OVER (PARTITION BY {', '.join(ident(k) for k in keys)} "
            f"ORDER BY {ident(rowtime)} DESC) AS {rownum} FROM {ident(table)}\n) WHERE {rownum} = 1")


def temporal_join_query(join: TemporalJoin, options: FlinkExportOptions, source_ddl) -> JoinQuery:
    """The :class:`JoinQuery` of an event-time temporal join."""
    notes: list[str] = []
    ddl, (left, right) = side_tables(join.upstreams, options, source_ddl, notes)
    versions = _fresh(f"{right.name}_versions", [left.name, right.name])
    ddl.append(versioned_view(versions, right.name, right.columns, join.right_on, right.rowtime))
    body = [f"FROM {ident(left.name)} AS l {HOW_SQL[join.how]} {ident(versions)} "
            f"FOR SYSTEM_TIME AS OF l.{ident(left.rowtime)} AS r",
            f"ON {key_condition(join.left_on, join.right_on)}"]
    return JoinQuery("temporal join", join.label(), ddl, pair_columns(join.cols, join.how, left, right), body,
                     left.chain.source, notes)


def temporal_join_export(join: TemporalJoin, options: FlinkExportOptions, source_ddl) -> dict:
    """The parts of the export of an event-time temporal join."""
    return finish(temporal_join_query(join, options, source_ddl), options)
