"""What every join export shares: one source table per input (one when both inputs read the same
source and watermark), a view per input for its ``where`` steps, the pandas-``merge`` output
columns as SQL expressions, and the finished parts (select list, sink, header).

A join export builds a :class:`JoinQuery`; :func:`finish` turns it into the parts of a
:class:`~streamlab.flink.export.JoinExport`, keeping only a ``%%streamlab`` select list's
columns when there is one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..sources.base import Source
from ..transforms import watermark as Watermark
from ..transforms import where as Where
from .connectors import sink_options
from .options import FlinkExportOptions
from .render import columns_block, ident, with_clause
from .tvf import where_sql

HOW_SQL = {"inner": "JOIN", "left": "LEFT JOIN", "right": "RIGHT JOIN", "full": "FULL JOIN"}


@dataclass
class SideChain:
    """What the source DDL needs of one input: source, watermark, where steps."""

    source: Source
    watermark: Watermark | None
    wheres: list[Where] = field(default_factory=list)
    constants: dict = field(default_factory=dict)
    watermark_after_where: bool = False

    @property
    def time_meta(self):
        return self.source.time_meta

    idle_timeout = None


def read_side(stream) -> SideChain:
    """source -> watermark -> where ... (anything else: a ValueError naming it)."""
    steps, up = [], stream
    while not isinstance(up, Source):
        steps.append(up)
        ups = [u for u in getattr(up, "upstreams", []) if u is not None]
        if len(ups) != 1:
            raise ValueError(f"{up!r} has {len(ups)} inputs; a join input exports as one source chain "
                             "(source -> watermark -> where)")
        up = ups[0]
    chain = SideChain(up, None)
    for step in reversed(steps):
        if isinstance(step, Watermark) and chain.watermark is None:
            chain.watermark = step
            chain.watermark_after_where = bool(chain.wheres)
        elif isinstance(step, Where) and isinstance(step.predicate, str) or hasattr(
                getattr(step, "predicate", None), "flink_sql"):
            chain.wheres.append(step)
        else:
            raise ValueError(f"{step!r} cannot be exported before a join; use watermark() and "
                             "where('query string') only")
    return chain


@dataclass
class Table:
    """One join input as Flink reads it: the table or view name, its rowtime and column types."""

    name: str
    rowtime: str
    types: dict[str, str]
    chain: SideChain

    @property
    def columns(self) -> list[str]:
        """The input's own columns (the computed rowtime of numeric time is not one)."""
        return list(self.types)


@dataclass
class Column:
    """One output column: its name, SQL expression and Flink type."""

    name: str
    expr: str
    type: str

    def sql(self) -> str:
        return self.expr if self.expr == ident(self.name) else f"{self.expr} AS {ident(self.name)}"


@dataclass
class JoinQuery:
    """A join as SQL: DDL of its inputs, output columns, and the ``FROM ... ON ...`` lines."""

    kind: str
    label: str
    ddl: list[str]
    columns: list[Column]
    body: list[str]
    source: Source
    notes: list[str] = field(default_factory=list)


def side_tables(streams: Sequence, options: FlinkExportOptions, source_ddl: Callable,
                notes: list[str]) -> tuple[list[str], list[Table]]:
    """(DDL, one :class:`Table` per input) for join inputs ``source -> watermark -> where ...``.

    Inputs that read one source through one watermark share one source table (as they share one
    watermark in streamlab) with a view per input, ``<base>_l`` and ``<base>_r``; other inputs
    get their own tables ``<base>_l`` / ``<base>_r`` (files from ``paths=``).
    """
    sides = [read_side(s) for s in streams]
    base = options.source_table or "src"
    names = ["l", "r"] if len(sides) == 2 else [""]
    shared = len(sides) == 2 and sides[0].source is sides[1].source and sides[0].watermark is sides[1].watermark
    if len(sides) == 2 and not shared and sides[0].source is not sides[1].source and options.path is not None \
            and not options.paths:
        raise ValueError(f"path= names one file, but the join reads two sources; pass paths={{'{base}_l': "
                         f"'/data/left.csv', '{base}_r': '/data/right.csv'}} (one file per table)")
    ddl: list[str] = []
    tables: list[Table] = []
    made: dict[str, tuple[str, dict[str, str]]] = {}
    for side, suffix in zip(sides, names):
        if suffix:  # a merge's rows are never late: its watermark does not change them
            _check_order(side, suffix)
        table = base if shared or not suffix else f"{base}_{suffix}"
        if table not in made:
            text, rowtime, types = source_ddl(side, options, table, notes)
            ddl.append(text)
            made[table] = (rowtime, types)
        rowtime, types = made[table]
        name = table
        if shared or side.wheres:
            name = f"{base}_{suffix}" if shared else f"{table}_rows"
            cond = f" WHERE {where_sql(side, types)}" if side.wheres else ""  # type: ignore[arg-type]
            ddl.append(f"CREATE TEMPORARY VIEW {ident(name)} AS SELECT * FROM {ident(table)}{cond}")
        tables.append(Table(name, rowtime, dict(types), side))
    return ddl, tables


def _check_order(side: SideChain, suffix: str) -> None:
    """Flink computes a table's watermark from every row; streamlab from the rows that reach it."""
    if side.wheres and side.watermark is None:
        raise ValueError(f"the {'left' if suffix != 'r' else 'right'} input filters rows with where() but has "
                         "no watermark before it; Flink computes the watermark from every row of the table — "
                         "put .watermark(...) before .where(...)")
    if side.watermark_after_where:
        raise ValueError("a join input has .where(...) before .watermark(...): streamlab computes the "
                         "watermark from the rows that pass, Flink from every row of the table — put "
                         ".watermark(...) before .where(...)")


def column(alias: str, name: str, table: Table) -> str:
    """``alias.name``; a timestamp rowtime is cast (a sink takes at most one rowtime column)."""
    ref = f"{alias}.{ident(name)}"
    return f"CAST({ref} AS TIMESTAMP(3))" if name == table.rowtime else ref


def pair_columns(cols, how: str, left: Table, right: Table, la: str = "l", ra: str = "r",
                 left_types: dict[str, str] | None = None,
                 right_types: dict[str, str] | None = None) -> list[Column]:
    """The output columns of a two-input join with ``cols`` (a ``JoinColumns``): left columns,
    then right ones; a key named alike on both sides is filled from the right side when the left
    is NULL-padded (RIGHT and FULL), as streamlab does."""
    ltypes, rtypes = left_types or left.types, right_types or right.types
    out = []
    for c, name in cols.left_names.items():
        expr = column(la, c, left)
        if c in cols.shared_keys and how in ("right", "full"):
            expr = f"COALESCE({la}.{ident(c)}, {ra}.{ident(c)})"
        out.append(Column(name, expr, _type(ltypes, c)))
    for c, name in cols.right_names.items():
        out.append(Column(name, column(ra, c, right), _type(rtypes, c)))
    return out


def _type(types: dict[str, str], c: str) -> str:
    t = types.get(c)
    if t is None:
        raise ValueError(f"the Flink type of column {c!r} is unknown; pass types={{{c!r}: 'STRING'}}")
    return "TIMESTAMP(3)" if t.upper().startswith("TIMESTAMP") else t


def key_condition(left_on: Sequence[str], right_on: Sequence[str], la: str = "l", ra: str = "r") -> str:
    """``l.a = r.b AND ...``."""
    return " AND ".join(f"{la}.{ident(a)} = {ra}.{ident(b)}" for a, b in zip(left_on, right_on))


def _select_expr(output, by_name: dict[str, Column]) -> str:
    """A select-list column as the user wrote it: ``l.k`` stays ``l.k`` (NULL where the left input
    is padded) and ``COALESCE(l.k, r.k)`` stays a COALESCE; an unqualified column is the merged one.

    >>> from streamlab.sql.plan import JoinRef, Output
    >>> cols = {"k": Column("k", "COALESCE(l.k, r.k)", "STRING"), "ts_x": Column("ts_x", "l.ts", "TIMESTAMP(3)")}
    >>> _select_expr(Output("lk", "k", (JoinRef("left", "k", "k", "ts_x"),)), cols)
    'l.k'
    >>> _select_expr(Output("ck", "k", (JoinRef("right", "k", "k", "ts_y"), JoinRef(None, "k", "k"))), cols)
    'COALESCE(r.k, COALESCE(l.k, r.k))'
    """
    refs = getattr(output, "refs", ())
    if not refs:
        return by_name[output.source].expr
    for r in refs:
        if r.source not in by_name:
            raise ValueError(f"the select list names {r.source!r}, which the join does not give "
                             f"(columns: {', '.join(by_name)})")
    exprs = [f"{'l' if r.side == 'left' else 'r'}.{ident(r.column)}" if r.present is not None
             else by_name[r.source].expr for r in refs]
    return exprs[0] if len(exprs) == 1 else f"COALESCE({', '.join(exprs)})"


def finish(query: JoinQuery, options: FlinkExportOptions, outputs: Sequence | None = None) -> dict:
    """The export's parts: ``ddl``, ``sink_ddl``, ``query``, ``sink_table``, ``sink_columns``,
    ``header``. ``outputs`` (``name``/``source`` pairs of a select list) keeps those columns."""
    columns = query.columns
    if outputs is not None:
        by_name = {c.name: c for c in columns}
        missing = [o.source for o in outputs if o.source not in by_name]
        if missing:
            raise ValueError(f"the select list names {missing[0]!r}, which the {query.kind} does not give "
                             f"(columns: {', '.join(by_name)})")
        columns = [Column(o.name, _select_expr(o, by_name), by_name[o.source].type) for o in outputs]
    sql = "\n".join([f"SELECT {', '.join(c.sql() for c in columns)}", *query.body])
    sink_table = options.sink_table or "sink"
    sink = [(c.name, c.type) for c in columns]
    sink_cols = [f"{ident(n)} {t}" for n, t in sink]
    sink_ddl = f"CREATE TABLE {ident(sink_table)} {columns_block(sink_cols)} " \
               f"{with_clause(sink_options(query.source, options, sink_table))}"
    header = [f"streamlab {query.kind} export: {query.label}", *[f"NOTE: {n}" for n in query.notes],
              "Run it with: sql-client.sh -f this.sql"]
    return {"ddl": query.ddl, "sink_ddl": sink_ddl, "query": sql, "sink_table": sink_table,
            "sink_columns": sink, "header": header}
