"""Flink SQL's updating and ranking forms, verbatim, compiled to the Python API:

- Top-N and deduplication: ``SELECT … FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY …
  ORDER BY … [ASC|DESC]) AS rownum FROM src | TABLE(TUMBLE(…)) | (window aggregation)) WHERE
  rownum <= N`` (``= 1`` ordered by the time column is a deduplication);
- OVER aggregations: ``SELECT …, AVG(v) OVER w AS a FROM src WINDOW w AS (PARTITION BY k ORDER BY
  ts RANGE BETWEEN INTERVAL '10' SECOND PRECEDING AND CURRENT ROW)`` (or ``ROWS BETWEEN n
  PRECEDING``), or ``OVER (…)`` inline;
- continuous GROUP BY: ``SELECT page, COUNT(*) AS n FROM clicks GROUP BY page``.

Result types follow Flink's: AVG of an integer column is an integer (truncated).

>>> import streamlab as sl, pandas as pd
>>> src = sl.from_frame(pd.DataFrame({"ts": [0, 1, 2], "k": ["a", "b", "a"], "v": [1, 2, 4]}), time="ts", unit="s")
>>> build("SELECT k, COUNT(*) AS n, AVG(v) AS m FROM src GROUP BY k", {"src": src}).materialize()
   k  n  m
0  a  2  2
1  b  1  2
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlglot import exp

from streamlab.ranking.order import Order
from streamlab.ranking.windowrank import WindowRank
from streamlab.sql.analyze import _Analyzer, catalog_of
from streamlab.sql.compile import window_spec
from streamlab.sql.errors import SQLError
from streamlab.sql.intervals import duration
from streamlab.sql.parse import Flink, WindowTVF, node_position, parse
from streamlab.sql.plan import Output
from streamlab.sql.project import Project
from streamlab.transforms import has_watermark

_FUNCS = {exp.Count: "count", exp.Sum: "sum", exp.Avg: "mean", exp.Min: "min", exp.Max: "max"}


def is_updating(sql: str) -> bool:
    """Whether ``sql`` is one of this module's forms (window functions, or GROUP BY without a window TVF)."""
    try:
        tree = parse(sql)
    except SQLError:
        return False
    if not isinstance(tree, exp.Select):
        return False
    if any(True for _ in tree.find_all(exp.Window)) or tree.args.get("windows"):
        return True
    from_ = tree.args.get("from_")
    return bool(tree.args.get("group")) and from_ is not None and isinstance(from_.this, exp.Table) \
        and isinstance(from_.this.this, exp.Identifier)


def build(sql: str, streams: dict[str, Any], watermark: Any = None) -> Any:
    """Compile one of the forms over ``streams``; returns the result stream. It carries
    ``sql_plan`` (an :class:`UpdatingPlan`), so ``to_flink_sql()`` names the source as the query does."""
    builder = _Builder(sql, streams, watermark)
    result = builder.build(parse(sql))
    if builder.source is not None:
        result.sql_plan = UpdatingPlan(builder.source, sql)
    return result


@dataclass(frozen=True)
class UpdatingPlan:
    """What the export needs of an updating query: its source table's name and its text.

    >>> UpdatingPlan("clicks", "SELECT page, COUNT(*) AS n   FROM clicks GROUP BY page").describe()
    'SELECT page, COUNT(*) AS n FROM clicks GROUP BY page'
    """

    source: str
    sql: str

    def describe(self) -> str:
        text = " ".join(self.sql.split())
        return text if len(text) <= 160 else text[:157] + "..."


class _Builder:
    def __init__(self, sql: str, streams: dict[str, Any], watermark: Any):
        self.sql, self.streams, self.watermark = sql, streams, watermark
        self.analyzer = _Analyzer(sql, catalog_of(streams))
        self.source: str | None = None  # the FROM table's name

    def error(self, kind, what: str, hint: str, node: exp.Expr | None) -> SQLError:
        line, column = node_position(self.sql, node)
        return SQLError(kind, what, hint, line, column)

    def stream(self, table: exp.Expr) -> tuple[Any, str]:
        """(the stream with its watermark, its time column) for a FROM table name."""
        name = table.name
        self.analyzer.lookup(name, table)
        self.source = name
        stream = self.streams[name]
        if self.watermark is not None:
            stream = stream.watermark(self.watermark)
        elif not has_watermark(stream):
            stream = stream.watermark(pd.Timedelta(0))
        return stream, stream.meta.column

    def column(self, node: exp.Expr, columns: list[str] | None, where: str) -> str:
        if not isinstance(node, exp.Column):
            raise self.error("unsupported", f"expressions in {where}", "name a column", node)
        if columns is not None and node.name not in columns:
            raise self.error("unknown_column", f"unknown column {node.name!r} in {where}",
                             "columns: " + ", ".join(columns), node)
        return node.name

    def build(self, tree: exp.Expr) -> Any:
        if not isinstance(tree, exp.Select):
            raise self.error("unsupported", "only SELECT queries", "", tree)
        from_ = tree.args["from_"].this
        if isinstance(from_, exp.Subquery):
            return self.ranking(tree, from_.this)
        if any(True for _ in tree.find_all(exp.Window)):
            return self.over(tree)
        return self.group_by(tree)

    # -- continuous GROUP BY -------------------------------------------------------------------
    def group_by(self, tree: exp.Select) -> Any:
        stream, time_col = self.stream(tree.args["from_"].this)
        cols = stream.columns
        keys = [self.column(k, cols, "GROUP BY") for k in tree.args["group"].expressions]
        aggs, outputs = self.aggregates(tree, cols, time_col, keys)
        result = stream.groupby(keys).agg(**aggs)
        result.flink_types = True
        return Project(result, [Output("op", "op"), *outputs])

    def aggregates(self, tree: exp.Select, cols, time_col: str, plain: list[str], over: bool = False):
        aggs: dict[str, tuple[str, str]] = {}
        outputs: list[Output] = []
        for item in tree.expressions:
            name = item.alias_or_name
            node = item.this if isinstance(item, exp.Alias) else item
            if isinstance(node, exp.Window):
                node = node.this
            if isinstance(node, exp.Column):
                col = self.column(node, cols, "SELECT")
                if not over and col not in plain:
                    raise self.error("invalid", f"column {col!r} is neither grouped nor aggregated",
                                     f"add it to GROUP BY or aggregate it, e.g. MAX({col})", node)
                outputs.append(Output(name, col))
                continue
            func = _FUNCS.get(type(node))
            if func is None:
                raise self.error("unsupported", f"{node.sql()} in SELECT",
                                 "aggregates: COUNT, SUM, AVG, MIN, MAX", node)
            arg = node.this
            if isinstance(arg, exp.Star) or arg is None:
                column, func = time_col, "size"
            else:
                column = self.column(arg, cols, node.key.upper())
            aggs[name] = (column, func)
            outputs.append(Output(name, name))
        if not aggs:
            raise self.error("invalid", "no aggregate in SELECT", "e.g. COUNT(*) AS n", tree)
        return aggs, outputs

    # -- OVER ----------------------------------------------------------------------------------
    def over(self, tree: exp.Select) -> Any:
        stream, time_col = self.stream(tree.args["from_"].this)
        cols = stream.columns
        named = {w.this.name: w for w in tree.args.get("windows") or []}
        specs = []
        for win in tree.find_all(exp.Window):
            if win.parent_select is not tree or isinstance(win.this, exp.Identifier):
                continue
            ref = win.args.get("alias")
            if ref is not None and not win.args.get("order"):
                if ref.name not in named:
                    raise self.error("invalid", f"unknown window {ref.name!r}", "define it: WINDOW w AS (...)", win)
                win = named[ref.name]
            specs.append(win)
        first = specs[0]
        if any(s.sql() != first.sql() for s in specs[1:]):
            raise self.error("unsupported", "OVER windows that differ", "use one WINDOW w AS (...) for every aggregate", specs[1])
        keys = [self.column(p, cols, "PARTITION BY") for p in first.args.get("partition_by") or []]
        order = first.args.get("order")
        ordered = order.expressions if order is not None else []
        if len(ordered) != 1 or not isinstance(ordered[0].this, exp.Column) or ordered[0].this.name != time_col \
                or ordered[0].args.get("desc"):
            raise self.error("invalid", f"an OVER window must be ORDER BY {time_col} (ascending)",
                             "Flink orders OVER windows by the event-time attribute", order or first)
        spec = first.args.get("spec")
        if spec is None or spec.args.get("end") != "CURRENT ROW" or spec.args.get("start_side") != "PRECEDING":
            raise self.error("invalid", "the OVER frame must be RANGE BETWEEN INTERVAL '…' PRECEDING AND CURRENT ROW"
                             " or ROWS BETWEEN n PRECEDING AND CURRENT ROW", "", spec or first)
        start = spec.args.get("start")
        if spec.args.get("kind") == "RANGE":
            if not isinstance(start, exp.Interval):
                raise self.error("invalid", f"an OVER RANGE must be a literal interval, got {start.sql() if isinstance(start, exp.Expr) else start}",
                                 "write RANGE BETWEEN INTERVAL '10' SECOND PRECEDING AND CURRENT ROW", spec)
            window: Any = pd.Timedelta(duration(start, self.sql, "OVER range"))
        else:
            if not (isinstance(start, exp.Literal) and not start.is_string and start.name.isdigit()):
                raise self.error("invalid", "ROWS needs a whole number of preceding rows",
                                 "write ROWS BETWEEN 5 PRECEDING AND CURRENT ROW", spec)
            window = int(start.name) + 1
        aggs, outputs = self.aggregates(tree, cols, time_col, [], over=True)
        result = stream.rolling(window, by=keys or None).agg(**aggs)
        result.flink_types = True
        return Project(result, outputs)

    # -- Top-N and deduplication -----------------------------------------------------------------
    def ranking(self, tree: exp.Select, inner: exp.Expr) -> Any:
        if not isinstance(inner, exp.Select):
            raise self.error("unsupported", "this subquery", "use the ROW_NUMBER() Top-N form", inner)
        rank = [e for e in inner.expressions if isinstance(e, exp.Alias) and isinstance(e.this, exp.Window)
                and isinstance(e.this.this, exp.RowNumber)]
        if len(rank) != 1:
            raise self.error("unsupported", "a subquery without ROW_NUMBER() OVER (...)",
                             "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (...) AS rownum FROM src) WHERE rownum <= 3",
                             inner)
        rownum, win = rank[0].alias, rank[0].this
        n = self.limit(tree.args.get("where"), rownum)
        source = inner.args["from_"].this
        partition = [p.name for p in win.args.get("partition_by") or []]
        order = win.args.get("order")
        ordered = order.expressions if order is not None else []
        if len(ordered) != 1 or not isinstance(ordered[0].this, exp.Column):
            raise self.error("invalid", "ROW_NUMBER() needs ORDER BY one column", "", win)
        column, desc = ordered[0].this.name, bool(ordered[0].args.get("desc"))
        if isinstance(source, exp.Subquery):  # Top-N after a window aggregation
            from streamlab.sql import query

            agg = query(source.this.sql(dialect=Flink), **self.streams)
            agg = agg.window if isinstance(agg, Project) else agg
            by = [p for p in partition if p not in ("window_start", "window_end")]
            result = agg.nlargest(n, column, by=by or None) if desc else agg.nsmallest(n, column, by=by or None)
        elif isinstance(source, exp.Table) and isinstance(source.this, WindowTVF):
            window, time_col = self.analyzer.window_tvf(source.this)
            stream, _ = self.stream(exp.to_table(self.analyzer.source))
            if not {"window_start", "window_end"} <= set(partition):
                raise self.error("invalid", "a window Top-N must PARTITION BY window_start, window_end",
                                 "PARTITION BY window_start, window_end[, keys]", win)
            keys = [p for p in partition if p not in ("window_start", "window_end")]
            windowed = stream.window(window_spec(window), by=keys or None)
            if column == time_col and n == 1:  # window deduplication, with its rownum (always 1)
                result = WindowRank(windowed, Order(time_col, desc, tie_last=desc, by_time=True), rank_column=True)
            else:
                result = windowed.nlargest(n, column) if desc else windowed.nsmallest(n, column)
        else:  # continuous: a rownum column when the outer query selects it (or *), as Flink's
            stream, time_col = self.stream(source)
            wants = any(isinstance(i, exp.Star) or (isinstance(i, exp.Column) and i.name == rownum) or
                        (isinstance(i, exp.Alias) and isinstance(i.this, exp.Column) and i.this.name == rownum)
                        for i in tree.expressions)
            if column == time_col and n == 1:
                result = stream.drop_duplicates(partition or None, keep="last" if desc else "first", rownum=wants)
            else:
                result = stream.nlargest(n, column, by=partition or None, rownum=wants) if desc else \
                    stream.nsmallest(n, column, by=partition or None, rownum=wants)
        return self.select(tree, result, rownum)

    def limit(self, where: exp.Expr | None, rownum: str) -> int:
        cond = where.this if where is not None else None
        ops = {exp.LTE: 0, exp.LT: -1, exp.EQ: 0}
        if cond is None or type(cond) not in ops or not isinstance(cond.this, exp.Column) \
                or cond.this.name != rownum:
            raise self.error("invalid", f"the outer query needs WHERE {rownum} <= N (or = 1)", "", where or cond)
        value = cond.expression
        if not (isinstance(value, exp.Literal) and not value.is_string and value.name.isdigit()):
            raise self.error("invalid", f"{rownum} must be compared with a constant, got {value.sql()}",
                             f"write WHERE {rownum} <= 3", value)
        n = int(value.name) + ops[type(cond)]
        if isinstance(cond, exp.EQ) and n != 1:
            raise self.error("unsupported", f"{rownum} = {n}", f"use {rownum} <= {n} or {rownum} = 1", cond)
        if n < 1:
            raise self.error("invalid", f"{rownum} keeps no rows", f"write WHERE {rownum} <= 1 or more", cond)
        return n

    def select(self, tree: exp.Select, result: Any, rownum: str) -> Any:
        items = tree.expressions
        if len(items) == 1 and isinstance(items[0], exp.Star) and rownum == "rownum":
            return result
        cols = result.columns or []
        outputs = [Output("op", "op")] if "op" in cols else []
        for item in items:
            if isinstance(item, exp.Star):  # the subquery's columns, rownum included (Flink's *)
                outputs += [Output(rownum if c == "rownum" else c, c) for c in cols if c != "op"]
                continue
            node = item.this if isinstance(item, exp.Alias) else item
            name = self.column(node, [*cols, rownum], "SELECT")
            source = "rownum" if name == rownum else name
            if source not in cols:
                raise self.error("unsupported", f"{name} in this SELECT",
                                 "the window deduplication of the Python API has no rownum column", node)
            outputs.append(Output(item.alias_or_name, source))
        return Project(result, outputs)
