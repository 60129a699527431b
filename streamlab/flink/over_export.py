"""``to_flink_sql`` of an OVER aggregation (``rolling("10s", by=...)`` / ``rolling(5, by=...)``):
Flink's documented form, one named window shared by every aggregate::

    SELECT id, k, ts, v, SUM(v) OVER w AS s
    FROM src
    WINDOW w AS (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '10' SECOND PRECEDING AND CURRENT ROW)

``rolling(n)`` counts the row itself, as pandas does: ``ROWS BETWEEN n - 1 PRECEDING``.

>>> import streamlab as sl, pandas as pd
>>> df = pd.DataFrame({"ts": pd.to_datetime([0], unit="ms"), "k": ["a"], "v": [1.0]})
>>> res = sl.from_frame(df, time="ts").watermark("50ms").rolling(5, by="k").agg(s=("v", "sum"))
>>> print(sl.flink.to_flink_sql(res, path="/data/in.csv", parts=True).query)
SELECT ts, k, v, SUM(v) OVER w AS s
FROM src
WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 4 PRECEDING AND CURRENT ROW)
"""

from __future__ import annotations

from .render import ident, interval
from .rows import aggregate_sql


def over_window(node, rowtime: str) -> str:
    """The ``WINDOW w AS (...)`` definition of an OVER operator."""
    part = f"PARTITION BY {', '.join(ident(k) for k in node.by)} " if node.by else ""
    frame = f"RANGE BETWEEN {interval(node.range_ms)}" if node.rows is None else f"ROWS BETWEEN {node.rows}"
    return f"WINDOW w AS ({part}ORDER BY {ident(rowtime)} {frame} PRECEDING AND CURRENT ROW)"


def over_query(node, table: str, rowtime: str, types: dict[str, str],
               exprs: dict[str, tuple[str, str]]) -> list[str]:
    """Adds each aggregate to ``exprs``; returns the query's FROM and WINDOW lines."""
    where = node.label()
    for spec in node.specs:
        expr, flink = aggregate_sql(spec, types, node.flink_types, where)
        exprs[spec.name] = (f"{expr} OVER w", flink)
    return [f"FROM {ident(table)}", over_window(node, rowtime)]
