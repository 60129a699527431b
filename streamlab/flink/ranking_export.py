"""``to_flink_sql`` for updating and ranking results, in the SQL forms Flink documents:

- continuous ``groupby(...).agg(...)``: ``SELECT k, COUNT(*) AS n FROM src GROUP BY k`` — a changelog;
- window Top-N / deduplication (on raw rows: ``window(...).nlargest(3, "v")``,
  ``window(..., by=).drop_duplicates(keep)``; after ``window(...).agg(...)``): ``ROW_NUMBER() OVER
  (PARTITION BY window_start, window_end[, keys] ORDER BY …) AS rownum … WHERE rownum <= N`` over the
  windowing TVF or the window aggregation — append-only;
- continuous Top-N (``nlargest(3, "v", by=)``) and deduplication (``drop_duplicates(keys, keep)``):
  the same without a window, deduplication ordered by the time attribute (``rownum = 1``); keep-last
  and Top-N are changelogs, keep-first is append-only (as in Flink);
- OVER aggregations: :mod:`streamlab.flink.over_export`.

A changelog goes to the sink of :mod:`streamlab.flink.changelog_sink` (``print`` by default, or
``upsert-kafka``): Flink's filesystem sink takes only inserts.

>>> import streamlab as sl, pandas as pd
>>> df = pd.DataFrame({"ts": pd.to_datetime([0], unit="ms"), "k": ["a"], "v": [1.0]})
>>> src = sl.from_frame(df, time="ts").watermark("50ms")
>>> print(sl.flink.to_flink_sql(src.groupby("k").agg(n=("v", "size")), path="/data/in.csv", parts=True).query)
SELECT k, COUNT(*) AS n
FROM src
GROUP BY k
>>> print(sl.flink.to_flink_sql(src.drop_duplicates("k", keep="last"), path="/data/in.csv", parts=True).query)
SELECT ts, k, v
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) AS rownum
  FROM src
) WHERE rownum = 1
"""

from __future__ import annotations

from collections.abc import Callable

from ..ranking.continuous import ContinuousRank, FirstByTime
from ..ranking.groupby import GroupAgg
from ..ranking.over import OverAgg
from ..ranking.windowrank import RANK, AggRank, WindowRank
from ..sources.base import Source
from .changelog_sink import changelog_sink_ddl
from .connectors import sink_options
from .options import FlinkExportOptions
from .over_export import over_query
from .render import columns_block, ident, interval, with_clause
from .rows import aggregate_sql, header, no_columns, outputs, read_rows, rows_table

#: The operators exported here.
UPDATING = (GroupAgg, WindowRank, AggRank, ContinuousRank, FirstByTime, OverAgg)


def operator_of(stream):
    """The updating or ranking operator ``stream`` is (or a ``%%streamlab`` select list over), or None."""
    node = stream.upstreams[0] if hasattr(stream, "outputs") and getattr(stream, "upstreams", None) else stream
    return node if isinstance(node, UPDATING) else None


def is_updating(stream) -> bool:
    """Whether :func:`updating_export` exports ``stream``."""
    return operator_of(stream) is not None


def tvf_of(plan, table: str, rowtime: str) -> str:
    """The windowing TVF of a Tumble/Hop/Cumulate plan (Flink's argument order).

    >>> import streamlab as sl
    >>> tvf_of(sl.Hop("10s", "1s").resolve(None), "src", "ts")
    "HOP(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '10' SECOND)"
    """
    args = [f"TABLE {ident(table)}", f"DESCRIPTOR({ident(rowtime)})"]
    args += [interval(plan.size)] if plan.kind == "tumble" else [interval(plan.pane), interval(plan.size)]
    args += [interval(plan.offset)] if plan.offset else []
    return f"{plan.kind.upper()}({', '.join(args)})"


def ranked(source: str, partition: list[str], order: str, descending: bool, cond: str) -> list[str]:
    """The lines after SELECT: ``FROM (SELECT *, ROW_NUMBER() OVER (…) AS rownum FROM source) WHERE cond``."""
    part = f"PARTITION BY {', '.join(partition)} " if partition else ""
    return ["FROM (",
            f"  SELECT *, ROW_NUMBER() OVER ({part}ORDER BY {order} {'DESC' if descending else 'ASC'}) AS {RANK}",
            f"  FROM {source}", f") WHERE {cond}"]


def _limit(n: int) -> str:
    return f"{RANK} = 1" if n == 1 else f"{RANK} <= {n}"


def updating_export(stream, options: FlinkExportOptions, source_ddl: Callable, build_export: Callable) -> dict:
    """The parts of the export of an updating or ranking result (``source_ddl`` and
    ``build_export`` are the window export's, passed in to keep imports one way)."""
    node = operator_of(stream)
    sink_table = options.sink_table or "sink"
    if isinstance(node, AggRank):
        return _agg_rank(stream, node, options, build_export, sink_table)
    upstream = node.upstreams[0]
    time_bound = isinstance(node, (WindowRank, FirstByTime, OverAgg))
    chain = read_rows(upstream, f"step {node.label()}", needs_watermark=time_bound)
    plan = getattr(stream, "sql_plan", None) or getattr(node, "sql_plan", None)
    src_table = options.source_table or getattr(plan, "source", None) or "src"
    notes: list[str] = []
    ddl, rowtime, types = source_ddl(chain, options, src_table, notes)
    table, view = rows_table(chain, src_table, types)
    if upstream.columns is None:
        raise no_columns(node)
    exprs = {c: (ident(c), types[c]) for c in upstream.columns}
    key: list[str] | None = None
    if isinstance(node, GroupAgg):
        for spec in node.specs:
            exprs[spec.name] = aggregate_sql(spec, types, node.flink_types, node.label())
        body = [f"FROM {ident(table)}", f"GROUP BY {', '.join(ident(k) for k in node.by)}"]
        key = list(node.by)
    elif isinstance(node, OverAgg):
        body = over_query(node, table, rowtime, types, exprs)
    elif isinstance(node, WindowRank):
        exprs.update(window_start=("window_start", "TIMESTAMP(3)"), window_end=("window_end", "TIMESTAMP(3)"),
                     **{RANK: (RANK, "BIGINT")})
        order = ident(rowtime) if node.order.by_time else ident(node.order.column)
        body = ranked(f"TABLE({tvf_of(node.plan, table, rowtime)})",
                      ["window_start", "window_end", *(ident(k) for k in node.by)], order,
                      node.order.descending, _limit(node.order.n))
    else:  # ContinuousRank, FirstByTime
        exprs[RANK] = (RANK, "BIGINT")
        order = ident(rowtime) if node.order.by_time else ident(node.order.column)
        body = ranked(ident(table), [ident(k) for k in node.by], order, node.order.descending,
                      _limit(node.order.n))
        key = list(node.by) if node.order.n == 1 else [*node.by, RANK]
    select, sink = outputs(stream, node, exprs)
    query = "\n".join([f"SELECT {', '.join(select)}", *body])
    if isinstance(node, (GroupAgg, ContinuousRank)):
        rename = {o.source: o.name for o in stream.outputs} if stream is not node else {}
        sink_ddl = changelog_sink_ddl(options, chain.source, sink_table, sink, [rename.get(k, k) for k in key or []])
        notes.append("the result is a changelog (+I/-U/+U/-D): Flink's filesystem sink takes only inserts, so it "
                     "goes to a 'print' sink (sink_connector='print') or upsert-kafka (sink_connector='kafka')")
    else:
        cols = [f"{ident(n)} {t}" for n, t in sink]
        sink_ddl = f"CREATE TABLE {ident(sink_table)} {columns_block(cols)} " \
                   f"{with_clause(sink_options(chain.source, options, sink_table))}"
    return {"ddl": [ddl, *([view] if view else [])], "sink_ddl": sink_ddl, "query": query,
            "sink_table": sink_table, "sink_columns": sink, "header": header(chain, node, notes)}


def _agg_rank(stream, node: AggRank, options: FlinkExportOptions, build_export: Callable, sink_table: str) -> dict:
    """Top-N after a window aggregation: ROW_NUMBER() over the window aggregation's query."""
    inner = build_export(node.upstream_agg, options)
    exprs = {n: (ident(n), t) for n, t in inner.sink_columns}
    exprs[RANK] = (RANK, "BIGINT")
    select, sink = outputs(stream, node, exprs)
    indented = "\n".join("    " + line for line in inner.query.splitlines())
    body = ranked(f"(\n{indented}\n  )", ["window_start", "window_end", *(ident(k) for k in node.by)],
                  ident(node.order.column), node.order.descending, _limit(node.order.n))
    cols = [f"{ident(n)} {t}" for n, t in sink]
    sink_ddl = f"CREATE TABLE {ident(sink_table)} {columns_block(cols)} " \
               f"{with_clause(sink_options(inner_source(node), options, sink_table))}"
    head = [line for line in inner.header if not line.startswith("Run it")]
    head += [f"  -> {node.label()}", "Run it with: sql-client.sh -f this.sql"]
    return {"ddl": [inner.source_ddl, *([inner.view_ddl] if inner.view_ddl else [])], "sink_ddl": sink_ddl,
            "query": "\n".join([f"SELECT {', '.join(select)}", *body]), "sink_table": sink_table, "sink_columns": sink, "header": head}


def inner_source(node):
    """The source at the top of ``node``'s chain."""
    up = node
    while not isinstance(up, Source):
        up = up.upstreams[0]
    return up
