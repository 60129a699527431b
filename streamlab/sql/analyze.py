"""Turn a parsed query into a :class:`~streamlab.sql.plan.QueryPlan`, checking it against a catalog.

The catalog maps each stream in scope to its :class:`TableInfo` (columns and event-time column).
Every mistake is a :class:`~streamlab.sql.errors.SQLError` located at line and column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from streamlab.sql import predicates
from streamlab.sql.errors import ErrorKind, SQLError, did_you_mean, listing
from streamlab.sql.intervals import duration
from streamlab.sql.parse import (
    TVF_NAMES,
    Descriptor,
    TVFArg,
    TVFTable,
    WindowTVF,
    node_position,
    parse,
)
from streamlab.sql.plan import AGGREGATES, WINDOW_COLUMNS, AggFunc, Aggregate, Output, QueryPlan
from streamlab.sql.windows import WINDOWS, SessionWindow, Window, ms

#: Flink's parameter names, in positional order, and how many are required.
SIGNATURES = {
    "TUMBLE": (("DATA", "TIMECOL", "SIZE", "OFFSET"), 3),
    "HOP": (("DATA", "TIMECOL", "SLIDE", "SIZE", "OFFSET"), 4),
    "CUMULATE": (("DATA", "TIMECOL", "STEP", "SIZE", "OFFSET"), 4),
    "SESSION": (("DATA", "TIMECOL", "GAP"), 3),
}
USAGE = {
    "TUMBLE": "TUMBLE(TABLE src, DESCRIPTOR(ts), size [, offset])",
    "HOP": "HOP(TABLE src, DESCRIPTOR(ts), slide, size [, offset])",
    "CUMULATE": "CUMULATE(TABLE src, DESCRIPTOR(ts), step, size [, offset])",
    "SESSION": "SESSION(TABLE src [PARTITION BY key], DESCRIPTOR(ts), gap)",
}
_SQL_AGGS = {exp.Count: "COUNT", exp.Sum: "SUM", exp.Avg: "AVG", exp.Min: "MIN", exp.Max: "MAX"}
_CLAUSES = {  # Select arg -> (construct, where to find it in the text)
    "with_": ("WITH (common table expressions)", r"\bWITH\b"),
    "distinct": ("SELECT DISTINCT", r"\bDISTINCT\b"),
    "joins": ("JOIN", r"\bJOIN\b|,"),
    "laterals": ("LATERAL", r"\bLATERAL\b"),
    "having": ("HAVING", r"\bHAVING\b"),
    "qualify": ("QUALIFY", r"\bQUALIFY\b"),
    "windows": ("a WINDOW clause", r"\bWINDOW\b"),
    "order": ("ORDER BY", r"\bORDER\s+BY\b"),
    "limit": ("LIMIT", r"\bLIMIT\b|\bFETCH\b"),
    "offset": ("OFFSET", r"\bOFFSET\b"),
    "connect": ("CONNECT BY", r"\bCONNECT\b"),
}
_CLAUSE_HINTS = {
    "having": "filter the result stream in Python, e.g. res.filter(...)",
    "order": "results arrive in window order; sort a collected frame with sort_values",
    "limit": "use res.collect(n=...) or the live table to look at a few rows",
    "joins": "streamlab runs one windowed aggregation per cell; join collected frames in pandas",
}


@dataclass(frozen=True)
class TableInfo:
    """What the planner knows about a stream: its columns (None: unknown) and event-time column."""

    columns: tuple[str, ...] | None = None
    time_column: str | None = None

    @classmethod
    def of(cls, stream: object) -> TableInfo:
        """Read ``stream.columns`` and ``stream.time_column`` (either may be unknown)."""
        columns = getattr(stream, "columns", None)
        time_column = getattr(stream, "time_column", None)
        return cls(tuple(columns) if isinstance(columns, list | tuple) else None,
                   time_column if isinstance(time_column, str) else None)


def catalog_of(streams: Mapping[str, object]) -> dict[str, TableInfo]:
    """The planner's catalog for streams bound by name."""
    return {name: TableInfo.of(stream) for name, stream in streams.items()}


class _Analyzer:
    def __init__(self, sql: str, catalog: Mapping[str, TableInfo]):
        self.sql = sql
        self.catalog = catalog
        self.source = ""
        self.qualifiers: set[str] = set()
        self.info = TableInfo()

    def error(self, kind: ErrorKind, what: str, hint: str, node: exp.Expr | None = None,
              pattern: str | None = None) -> SQLError:
        line, column = node_position(self.sql, node)
        if (line, column) == (1, 1) and pattern:
            match = re.search(pattern, self.sql, re.IGNORECASE)
            if match:
                line = self.sql.count("\n", 0, match.start()) + 1
                column = match.start() - (self.sql.rfind("\n", 0, match.start()) + 1) + 1
        return SQLError(kind, what, hint, line, column)

    # -- FROM ---------------------------------------------------------------------------------

    def check_shape(self, tree: exp.Expr) -> exp.Select:
        if not isinstance(tree, exp.Select):
            kind = type(tree).__name__.upper()
            raise self.error("unsupported", f"{kind} statements are not supported",
                             "a %%streamlab cell holds one SELECT window query", tree)
        for key, (construct, pattern) in _CLAUSES.items():
            if tree.args.get(key):
                node = tree.args[key]
                node = node[0] if isinstance(node, list) else node
                hint = _CLAUSE_HINTS.get(key, "streamlab runs one windowed aggregation per cell")
                raise self.error("unsupported", f"{construct} is not supported", hint,
                                 node if key in ("joins",) else None, pattern)
        for sub in tree.find_all(exp.Subquery, exp.Union, exp.Except, exp.Intersect):
            raise self.error("unsupported", "subqueries are not supported",
                             "streamlab runs one windowed aggregation per cell", sub,
                             r"\(\s*SELECT\b")
        for sub in tree.find_all(exp.Select):
            if sub is not tree:
                raise self.error("unsupported", "subqueries are not supported",
                                 "streamlab runs one windowed aggregation per cell", sub,
                                 r"\(\s*SELECT\b")
        for win in tree.find_all(exp.Window):
            raise self.error("unsupported", "window functions (OVER ...) are not supported",
                             "use a window TVF in FROM with GROUP BY window_start, window_end",
                             win, r"\bOVER\b")
        return tree

    def window_from(self, select: exp.Select) -> tuple[Window, str]:
        from_ = select.args.get("from_")
        if from_ is None:
            raise self.error("invalid", "the query has no FROM clause",
                             "FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))",
                             select)
        table = from_.this
        tvf = table.this if isinstance(table, exp.Table) else None
        if isinstance(table, exp.Table) and table.alias:
            self.qualifiers.add(table.alias)
        if not isinstance(tvf, WindowTVF):
            name = table.name if isinstance(table, exp.Table) else "src"
            if isinstance(table, exp.Table) and isinstance(table.this, exp.Identifier):
                self.lookup(name, table)
            raise self.error(
                "unsupported", "FROM needs a window table-valued function",
                f"write FROM TABLE(TUMBLE(TABLE {name}, DESCRIPTOR(ts), INTERVAL '1' SECOND))",
                table)
        return self.window_tvf(tvf)

    def lookup(self, name: str, node: exp.Expr) -> TableInfo:
        if name in self.catalog:
            return self.catalog[name]
        guess = did_you_mean(name, self.catalog)
        hint = listing("streams in scope", sorted(self.catalog))
        if guess:
            hint = f"did you mean {guess}? {hint}"
        raise self.error("unknown_stream", f"unknown stream {name!r}", hint, node)

    def window_tvf(self, tvf: WindowTVF) -> tuple[Window, str]:
        name = tvf.name
        if name not in TVF_NAMES:
            guess = did_you_mean(name, TVF_NAMES)
            hint = f"did you mean {guess}?" if guess else "window functions: " + ", ".join(TVF_NAMES)
            raise self.error("unknown_function", f"unknown window function {name}", hint, tvf)
        args = self.bind(tvf)
        data = args["DATA"].this
        if not isinstance(data, TVFTable):
            raise self.error("invalid", f"the first argument of {name} must be TABLE <stream>",
                             USAGE[name], args["DATA"])
        self.source = data.this.name
        self.qualifiers.add(self.source)
        self.info = self.lookup(self.source, data.this)
        partition = tuple(self.column(c, "PARTITION BY") for c in data.args.get("partition_by") or [])
        if partition and name != "SESSION":
            raise self.error("unsupported", f"PARTITION BY in {name}",
                             "only SESSION takes PARTITION BY; group keys go in GROUP BY", data)
        time_column = self.descriptor(args["TIMECOL"])
        lengths = {p.lower(): duration(args[p].this, self.sql, f"{name} {p.lower()}",
                                       allow_negative=p == "OFFSET")
                   for p in ("SIZE", "SLIDE", "STEP", "GAP", "OFFSET") if p in args}
        for part in ("slide", "step"):
            if part in lengths and lengths["size"] % lengths[part]:
                raise self.error(
                    "invalid", f"{name} size ({ms(lengths['size'])} ms) is not a multiple of its "
                    f"{part} ({ms(lengths[part])} ms)", f"{USAGE[name]}: note the {part} "
                    f"comes before the size", args[part.upper()])
        arguments: dict[str, Any] = dict(lengths)
        if partition:  # only SESSION gets here with one
            arguments["partition_by"] = partition
        return WINDOWS[name](**arguments), time_column

    def bind(self, tvf: WindowTVF) -> dict[str, TVFArg]:
        params, required = SIGNATURES[tvf.name]
        bound: dict[str, TVFArg] = {}
        for i, arg in enumerate(tvf.expressions):
            param = arg.args.get("name")
            if param is None:
                if any(a.args.get("name") for a in tvf.expressions[:i]):
                    raise self.error("syntax", "positional argument after a named one",
                                     USAGE[tvf.name], arg)
                if i >= len(params):
                    raise self.error("invalid", f"too many arguments for {tvf.name}",
                                     USAGE[tvf.name], arg)
                param = params[i]
            elif param not in params:
                raise self.error("invalid", f"{tvf.name} has no parameter {param}",
                                 f"parameters: {', '.join(params)}", arg)
            if param in bound:
                raise self.error("invalid", f"{param} is given twice", USAGE[tvf.name], arg)
            bound[param] = arg
        missing = [p for p in params[:required] if p not in bound]
        if missing:
            raise self.error("invalid", f"{tvf.name} is missing {', '.join(missing)}",
                             USAGE[tvf.name], tvf)
        return bound

    def descriptor(self, arg: TVFArg) -> str:
        node = arg.this
        if isinstance(node, exp.Anonymous) and did_you_mean(node.name, ["DESCRIPTOR"]):
            raise self.error("unknown_function", f"unknown function {node.name}",
                             "did you mean DESCRIPTOR?", node)
        if not isinstance(node, Descriptor) or len(node.expressions) != 1:
            raise self.error("invalid", "the time argument must be DESCRIPTOR(<time column>)",
                             f"write DESCRIPTOR({self.info.time_column or 'ts'})", arg)
        name = self.column(node.expressions[0], "DESCRIPTOR")
        if self.info.time_column and name != self.info.time_column:
            raise self.error(
                "invalid", f"{name!r} is not the event-time column of {self.source}",
                f"write DESCRIPTOR({self.info.time_column}), or build the stream with "
                f"time={name!r}", node.expressions[0])
        return name

    # -- columns ------------------------------------------------------------------------------

    def column(self, node: exp.Expr, where: str, window_ok: bool = False) -> str:
        if not isinstance(node, exp.Column) or isinstance(node.this, exp.Star):
            raise self.error("unsupported", f"expressions in {where}",
                             f"{where} takes plain column names", node)
        if node.table and node.table not in self.qualifiers:
            raise self.error("unknown_column", f"unknown qualifier {node.table!r}",
                             listing("qualify columns with", sorted(self.qualifiers)), node)
        name = node.name
        if name in WINDOW_COLUMNS + ("window_time",):
            if window_ok:
                return name
            raise self.error("unknown_column", f"{name} is not available in {where}",
                             "window_start and window_end exist only after windowing", node)
        columns = self.info.columns
        if columns is not None and name not in columns:
            guess = did_you_mean(name, columns)
            hint = listing(f"columns of {self.source}", columns)
            raise self.error("unknown_column", f"unknown column {name!r}",
                             f"did you mean {guess}? {hint}" if guess else hint, node)
        return name

    def group_keys(self, select: exp.Select, window: Window) -> tuple[str, ...]:
        group = select.args.get("group")
        needed = "GROUP BY window_start, window_end"
        if group is None:
            raise self.error("invalid", "a window aggregation needs GROUP BY", needed, select,
                             r"\bFROM\b")
        for key in ("grouping_sets", "cube", "rollup"):
            if group.args.get(key):
                raise self.error("unsupported", f"GROUP BY {key.replace('_', ' ').upper()}",
                                 needed + " plus plain keys", group, r"\bGROUP\s+BY\b")
        names = [self.column(e, "GROUP BY", window_ok=True) for e in group.expressions]
        missing = [c for c in WINDOW_COLUMNS if c not in names]
        if missing:
            raise self.error("invalid", f"GROUP BY lacks {' and '.join(missing)}",
                             f"add {', '.join(missing)} to GROUP BY", group, r"\bGROUP\s+BY\b")
        keys = tuple(dict.fromkeys(n for n in names if n not in WINDOW_COLUMNS + ("window_time",)))
        if isinstance(window, SessionWindow) and set(window.partition_by) != set(keys):
            hint = (f"write SESSION(TABLE {self.source} PARTITION BY "
                    f"{', '.join(keys) if len(keys) < 2 else '(' + ', '.join(keys) + ')'}, ...)"
                    if keys else "drop PARTITION BY, or add its keys to GROUP BY")
            raise self.error("unsupported", "SESSION sessions are per PARTITION BY key, so "
                             "PARTITION BY and the GROUP BY keys must match", hint, group,
                             r"\bGROUP\s+BY\b")
        return keys

    # -- SELECT -------------------------------------------------------------------------------

    def select_list(self, select: exp.Select, keys: tuple[str, ...]
                    ) -> tuple[tuple[Aggregate, ...], tuple[Output, ...]]:
        aggs: list[tuple[str, AggFunc, str]] = []  # (output name, func, column)
        outputs: list[tuple[str, str | int]] = []  # (output name, key/window column or agg index)
        for item in select.expressions:
            inner = item.this if isinstance(item, exp.Alias) else item
            alias = item.alias if isinstance(item, exp.Alias) else None
            if isinstance(inner, exp.Star) or (isinstance(inner, exp.Column)
                                               and isinstance(inner.this, exp.Star)):
                raise self.error("unsupported", "SELECT *", "name the output columns: "
                                 + ", ".join([*keys, *WINDOW_COLUMNS, "COUNT(*) AS cnt"]),
                                 item, r"\*")
            if isinstance(inner, exp.Column):
                name = self.column(inner, "SELECT", window_ok=True)
                if name == "window_time":
                    raise self.error("unsupported", "window_time in SELECT",
                                     "select window_end (window_time = window_end - 1 ms)", inner)
                if name not in WINDOW_COLUMNS and name not in keys:
                    raise self.error("invalid", f"{name!r} is neither grouped nor aggregated",
                                     f"add {name} to GROUP BY or aggregate it, e.g. MAX({name})",
                                     inner)
                outputs.append((alias or name, name))
                continue
            func, column = self.aggregate(inner)
            aggs.append((alias or _default_name(func, column), func, column))
            outputs.append((aggs[-1][0], len(aggs) - 1))
        if not aggs:  # SELECT key, window_start ... GROUP BY ...: distinct groups
            aggs.append(("_rows", "size", "*"))
        names = [name for name, _ in outputs]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise self.error("invalid", f"duplicate output column {name!r}",
                                 "give one of them another name with AS",
                                 select.expressions[i])
        taken = set(keys) | set(WINDOW_COLUMNS)
        engine_names = []
        for i, (name, _, _) in enumerate(aggs):  # an aggregate may not shadow a key in the engine
            engine = name if name not in taken else f"_agg{i}_{name}"
            taken.add(engine)
            engine_names.append(engine)
        aggregates = tuple(Aggregate(engine, func, col)
                           for engine, (_, func, col) in zip(engine_names, aggs))
        result = tuple(Output(name, engine_names[src] if isinstance(src, int) else src)
                       for name, src in outputs)
        return aggregates, result

    def aggregate(self, node: exp.Expr) -> tuple[AggFunc, str]:
        sql_name = next((n for cls, n in _SQL_AGGS.items() if type(node) is cls), None)
        if sql_name is None:
            if isinstance(node, exp.Anonymous):
                guess = did_you_mean(node.name, list(AGGREGATES)[1:])
                hint = f"did you mean {guess}?" if guess else "aggregates: COUNT, SUM, AVG, MIN, MAX"
                raise self.error("unknown_function", f"unknown function {node.name}", hint, node)
            what = f"{type(node).__name__.upper()} in SELECT"
            if isinstance(node, exp.AggFunc):
                what = f"aggregate {node.sql_name() if hasattr(node, 'sql_name') else what}"
            raise self.error("unsupported", what, "select group keys, window_start, window_end "
                             "and COUNT/SUM/AVG/MIN/MAX of a column", node)
        arg = node.this
        extra = [k for k, v in node.args.items() if k not in ("this", "big_int") and v]
        if extra or isinstance(arg, exp.Distinct):
            raise self.error("unsupported", f"{sql_name}({node.this.sql() if arg else ''}"
                             f"{', ...' if extra else ''})", f"write {sql_name}(column)", node)
        if sql_name == "COUNT" and (isinstance(arg, exp.Star) or (
                isinstance(arg, exp.Literal) and not arg.is_string)):
            return "size", "*"
        if isinstance(arg, exp.Star):
            raise self.error("invalid", f"{sql_name}(*)", f"write {sql_name}(column)", node)
        column = self.column(arg, f"{sql_name}(...)")
        return AGGREGATES[sql_name], column

    def where(self, select: exp.Select):
        where = select.args.get("where")
        if where is None:
            return None
        return predicates.translate(where.this, self)


def _default_name(func: str, column: str) -> str:
    if func == "size":
        return "count"
    sql = {"count": "count", "sum": "sum", "mean": "avg", "min": "min", "max": "max"}[func]
    return f"{sql}_{column}"


def plan_query(sql: str, catalog: Mapping[str, TableInfo]) -> QueryPlan:
    """Parse and check ``sql`` against ``catalog``; return its plan or raise SQLError.

    >>> plan = plan_query(
    ...     "SELECT key, window_end, AVG(v) AS avg_v FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), "
    ...     "INTERVAL '0.250' SECOND)) GROUP BY key, window_start, window_end",
    ...     {"src": TableInfo(("ts", "key", "v"), "ts")})
    >>> plan.window.describe(), plan.keys, plan.columns
    ('TUMBLE(size=250ms)', ('key',), ('key', 'window_end', 'avg_v'))
    """
    analyzer = _Analyzer(sql, catalog)
    select = analyzer.check_shape(parse(sql))
    window, time_column = analyzer.window_from(select)
    keys = analyzer.group_keys(select, window)
    aggregates, outputs = analyzer.select_list(select, keys)
    where = analyzer.where(select)
    return QueryPlan(source=analyzer.source, time_column=time_column, window=window, keys=keys,
                     aggregates=aggregates, outputs=outputs, where=where)
