"""``to_flink_sql`` for window joins: both inputs through the same window TVF (TUMBLE, HOP,
CUMULATE), joined on the keys plus ``window_start`` and ``window_end`` — Flink's window join of two
TVF subqueries. The join of two window aggregations joins the two aggregation queries the same way
(Flink keeps their window attributes, so it is a window join too: append-only, emitted when the
window fires).

>>> import streamlab as sl, pandas as pd
>>> df = pd.DataFrame({"ts": pd.to_datetime([0], unit="ms"), "side": ["L"], "k": ["a"]})
>>> src = sl.from_frame(df, time="ts").watermark("200ms")
>>> a, b = src.where("side == 'L'"), src.where("side == 'R'")
>>> j = a.window(sl.Hop("2s", "1s")).join(b.window(sl.Hop("2s", "1s")), on="k", how="full")
>>> print(sl.flink.to_flink_sql(j, path="/data/rows.csv", parts=True).query)  # doctest: +NORMALIZE_WHITESPACE
SELECT CAST(l.ts AS TIMESTAMP(3)) AS ts_x, l.side AS side_x, COALESCE(l.k, r.k) AS k,
  CAST(r.ts AS TIMESTAMP(3)) AS ts_y, r.side AS side_y,
  COALESCE(l.window_start, r.window_start) AS window_start, COALESCE(l.window_end, r.window_end) AS window_end
FROM (SELECT * FROM TABLE(HOP(TABLE src_l, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND))) AS l
FULL JOIN (SELECT * FROM TABLE(HOP(TABLE src_r, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND))) AS r
ON l.k = r.k AND l.window_start = r.window_start AND l.window_end = r.window_end
"""

from __future__ import annotations

from dataclasses import replace

from ..joins.aggjoin import AggWindowJoin
from ..joins.window import WindowJoin
from ..windows.specs import SlicedPlan
from .chain import read_chain
from .join_query import (
    HOW_SQL,
    Column,
    JoinQuery,
    Table,
    finish,
    key_condition,
    pair_columns,
    side_tables,
)
from .options import FlinkExportOptions
from .render import ident, interval

WINDOW = ("window_start", "window_end")


def window_tvf(plan: SlicedPlan, table: str, rowtime: str) -> str:
    """``TUMBLE(TABLE t, DESCRIPTOR(ts), size)``, ``HOP(..., slide, size)``, ``CUMULATE(..., step, size)``.

    >>> import streamlab as sl
    >>> window_tvf(sl.Cumulate("2s", "500ms").resolve(None), "src", "ts")
    "CUMULATE(TABLE src, DESCRIPTOR(ts), INTERVAL '0.500' SECOND, INTERVAL '2' SECOND)"
    """
    args = [f"TABLE {ident(table)}", f"DESCRIPTOR({ident(rowtime)})"]
    args += [interval(plan.size)] if plan.kind == "tumble" else [interval(plan.pane), interval(plan.size)]
    if plan.offset:
        args.append(interval(plan.offset))
    return f"{plan.kind.upper()}({', '.join(args)})"


def _window_columns(how: str) -> list[Column]:
    out = []
    for c in WINDOW:
        expr = f"COALESCE(l.{c}, r.{c})" if how in ("right", "full") else f"l.{c}"
        out.append(Column(c, expr, "TIMESTAMP(3)"))
    return out


def _on(left_on, right_on) -> str:
    keys = [key_condition(left_on, right_on)] if len(left_on) else []
    return "ON " + " AND ".join([*keys, *(f"l.{c} = r.{c}" for c in WINDOW)])


def window_join_query(join: WindowJoin, options: FlinkExportOptions, source_ddl) -> JoinQuery:
    """The :class:`JoinQuery` of a window join of raw rows."""
    notes: list[str] = []
    ddl, (left, right) = side_tables(join.upstreams, options, source_ddl, notes)
    if join.metas[0].unit is not None:
        notes.append(f"window_start / window_end are TIMESTAMP(3) in UTC here (streamlab gives them as numbers "
                     f"in {join.metas[0].unit!r})")
    subquery = "(SELECT * FROM TABLE({}))"
    body = [f"FROM {subquery.format(window_tvf(join.plan, left.name, left.rowtime))} AS l",
            f"{HOW_SQL[join.how]} {subquery.format(window_tvf(join.plan, right.name, right.rowtime))} AS r",
            _on(join.left_on, join.right_on)]
    columns = pair_columns(join.cols, join.how, left, right) + _window_columns(join.how)
    return JoinQuery("window join", join.label(), ddl, columns, body, left.chain.source, notes)


def agg_window_join_query(join: AggWindowJoin, options: FlinkExportOptions, build_export) -> JoinQuery:
    """The :class:`JoinQuery` of the window join of two window aggregations: each aggregation is
    exported as its own query (``build_export``) and the two are joined as subqueries."""
    base = options.source_table or "src"
    left_agg, right_agg = join.upstreams
    sources = [_source_of(a) for a in (left_agg, right_agg)]
    shared = sources[0] is sources[1] and _watermark_of(left_agg) is _watermark_of(right_agg)
    if not shared and sources[0] is not sources[1] and options.path is not None and not options.paths:
        raise ValueError(f"path= names one file, but the join reads two sources; pass paths={{'{base}_l': "
                         f"'/data/left.csv', '{base}_r': '/data/right.csv'}} (one file per table)")
    ddl: list[str] = []
    sides, notes = [], []
    for agg, suffix in ((left_agg, "l"), (right_agg, "r")):
        table = base if shared else f"{base}_{suffix}"
        part = build_export(agg, replace(options, source_table=table, sink_table=f"{table}_unused", settings=False))
        for text in part.ddl[:-1]:  # the source table (and constants view), not the sink
            if text not in ddl:
                ddl.append(text)
        notes += [h[len("NOTE: "):] for h in part.header if h.startswith("NOTE: ") and h[6:] not in notes]
        sides.append(part)
    tables = [Table(f"({p.query})", "", dict(p.sink_columns), None) for p in sides]  # type: ignore[arg-type]
    left, right = tables
    body = [f"FROM (\n{_indent(sides[0].query)}\n) AS l", f"{HOW_SQL[join.how]} (\n{_indent(sides[1].query)}\n) AS r",
            _on(join.left_on[:-2], join.right_on[:-2])]
    columns = pair_columns(join.cols, join.how, left, right)
    return JoinQuery("window join of aggregations", join.label(), ddl, columns, body, sources[0], notes)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _source_of(agg):
    return read_chain(agg).source


def _watermark_of(agg):
    return read_chain(agg).watermark


def window_join_export(join, options: FlinkExportOptions, source_ddl, build_export) -> dict:
    """The parts of the export of a window join (raw rows or two aggregations)."""
    if isinstance(join, AggWindowJoin):
        return finish(agg_window_join_query(join, options, build_export), options)
    return finish(window_join_query(join, options, source_ddl), options)
