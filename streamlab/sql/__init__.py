"""Flink SQL over streamlab streams: parse, plan, and compile to the Python API's graph.

>>> plan = plan_query(
...     "SELECT window_start, window_end, COUNT(*) AS n "
...     "FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
...     "GROUP BY window_start, window_end",
...     {"src": TableInfo(("ts", "v"), "ts")})
>>> plan.window, plan.aggregates
(TumbleWindow(size=datetime.timedelta(seconds=1), offset=datetime.timedelta(0)), (Aggregate(name='n', func='size', column='*'),))
"""

from __future__ import annotations

from typing import Any

from streamlab.sql.analyze import TableInfo, catalog_of, plan_query
from streamlab.sql.errors import SQLError
from streamlab.sql.parse import parse
from streamlab.sql.plan import Aggregate, Output, QueryPlan
from streamlab.sql.windows import CumulateWindow, HopWindow, SessionWindow, TumbleWindow, Window

__all__ = ["Aggregate", "CumulateWindow", "HopWindow", "Output", "QueryPlan", "SQLError",
           "SessionWindow", "TableInfo", "TumbleWindow", "Window", "parse", "plan_query", "query"]


def query(sql: str, **streams: Any) -> Any:
    """Build a SQL window query over ``streams`` with the Python API; return the result stream.

    ``sl.sql.query("SELECT ... FROM TABLE(TUMBLE(TABLE src, ...)) ...", src=src).collect()``
    """
    from streamlab.sql.compile import compile_plan
    from streamlab.sql.ranking import build, is_updating

    if is_updating(sql):  # Top-N, deduplication, OVER, continuous GROUP BY
        return build(sql, streams)
    plan = plan_query(sql, catalog_of(streams))
    return compile_plan(plan, streams[plan.source])

