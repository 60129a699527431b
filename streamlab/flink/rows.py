"""What the exports of updating and ranking results share: the row chain before the operator
(``source -> [watermark] -> where / assign ...``), its table, aggregates and result columns.

The rows an operator reads become one table: the source table itself, or a view over it when
there are ``where`` steps or constant columns, so that a windowing TVF, a ``ROW_NUMBER()`` or an
``OVER`` reads it directly, as in Flink's documented forms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from ..core.timecol import TimeMeta
from ..sources.base import Source
from .chain import Chain, _add_step
from .render import ident, literal
from .schema import NUMERIC, base, is_integer
from .tvf import where_sql

#: pandas-named aggregate -> Flink function, for continuous GROUP BY and OVER.
_FUNCS = {"count": "COUNT", "sum": "SUM", "mean": "AVG", "min": "MIN", "max": "MAX"}


@dataclass
class RowChain:
    """The steps between the source and an updating operator (the fields ``_source_ddl`` reads)."""

    source: Source
    time_meta: TimeMeta
    watermark: Any = None
    wheres: list = field(default_factory=list)
    constants: dict[str, object] = field(default_factory=dict)
    idle_timeout: int | None = None


def read_rows(node, what: str, needs_watermark: bool) -> RowChain:
    """The :class:`RowChain` feeding ``node`` (an operator, or its upstream stream).

    ``needs_watermark``: the operator's result depends on the watermark (window, OVER, keep-first),
    so a ``where`` before any watermark is refused as for windows.

    >>> import streamlab as sl, pandas as pd
    >>> src = sl.from_frame(pd.DataFrame({"ts": [0], "v": [1.0]}), time="ts", unit="ms")
    >>> chain = read_rows(src.watermark(5).where("v > 0"), "the OVER", True)
    >>> chain.watermark.delay, [w.predicate for w in chain.wheres]
    (5, ['v > 0'])
    """
    steps, up = [], node
    while not isinstance(up, Source):
        steps.append(up)
        ups = [u for u in getattr(up, "upstreams", []) if u is not None]
        if len(ups) != 1:
            raise ValueError(f"{up!r} has {len(ups)} inputs; Flink export follows a single chain from one source")
        up = ups[0]
    steps.reverse()
    meta = getattr(node, "meta", None) or up.time_meta
    if meta is None:
        raise ValueError(f"{what}: the stream has no event-time column; Flink needs one for its WATERMARK")
    chain = RowChain(source=up, time_meta=meta)
    for i, step in enumerate(steps, start=2):
        try:
            _add_step(cast(Chain, chain), i, step)
        except ValueError as error:
            raise ValueError(str(error).replace("the window", what)) from None
    if needs_watermark and chain.wheres and chain.watermark is None:
        raise ValueError(
            f"{what}: the where() before it filters rows before any watermark, so streamlab computes the "
            f"watermark from the rows that pass, Flink from every row of the source table — add "
            f".watermark('0ms') (or the delay you want) before .where()")
    if chain.watermark is not None:
        chain.idle_timeout = chain.watermark.idle_timeout
    return chain


def rows_table(chain: RowChain, table: str, types: dict[str, str]) -> tuple[str, str | None]:
    """(the table the operator reads, the ``CREATE TEMPORARY VIEW`` making it, or None)."""
    if not chain.wheres and not chain.constants:
        return table, None
    name = f"{table}_rows"
    extra = "".join(f", {literal(v, _no_literal(k))} AS {ident(k)}" for k, v in chain.constants.items())
    types.update({k: _constant_type(v) for k, v in chain.constants.items()})
    cond = f" WHERE {where_sql(cast(Chain, chain), types)}" if chain.wheres else ""
    return name, f"CREATE TEMPORARY VIEW {ident(name)} AS SELECT *{extra} FROM {ident(table)}{cond}"


def _constant_type(value: object) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    return {int: "BIGINT", float: "DOUBLE"}.get(type(value), "STRING")


def _no_literal(name: str):
    return lambda: ValueError(f"assign({name}=...) has no Flink SQL literal; assign a finite number or a string")


def aggregate_sql(spec, types: dict[str, str], flink_types: bool, where: str) -> tuple[str, str]:
    """(SQL expression, Flink result type) of one ``name=(column, func)`` of a GROUP BY or OVER.

    pandas' types (the Python API): ``mean`` is DOUBLE, ``sum``/``min``/``max`` BIGINT over
    integers. ``flink_types`` (a ``%%streamlab`` query): AVG keeps the column's type, as Flink's.

    >>> from streamlab.windows.aggregates import parse_aggs
    >>> [aggregate_sql(s, {"v": "INT"}, False, "x") for s in parse_aggs({"a": ("v", "mean"), "s": ("v", "sum")})]
    [('AVG(CAST(v AS DOUBLE))', 'DOUBLE'), ('SUM(CAST(v AS BIGINT))', 'BIGINT')]
    """
    if spec.func == "size":
        return "COUNT(*)", "BIGINT"
    col, flink = ident(spec.column), types[spec.column]
    if spec.func == "count":
        return f"COUNT({col})", "BIGINT"
    if base(flink) not in NUMERIC:
        raise ValueError(f"{where}: agg {spec.label()} needs a numeric column; {spec.column!r} is {flink}")
    if spec.func == "mean":
        if flink_types:
            return f"AVG({col})", flink
        return f"AVG({_cast(col, flink, 'DOUBLE')})", "DOUBLE"
    target = "BIGINT" if is_integer(flink) else "DOUBLE"
    return f"{_FUNCS[spec.func]}({_cast(col, flink, target)})", target


def _cast(col: str, flink: str, target: str) -> str:
    return col if base(flink) == target else f"CAST({col} AS {target})"


def outputs(stream, node, exprs: dict[str, tuple[str, str]]) -> tuple[list[str], list[tuple[str, str]]]:
    """The select list and sink columns: ``node``'s columns (``exprs`` gives each one's SQL and
    type), renamed and reordered by a ``%%streamlab`` select list when ``stream`` has one. The
    changelog's ``op`` column is Flink's row kind, not a column.
    """
    pairs = [(o.name, o.source) for o in stream.outputs] if stream is not node \
        else [(c, c) for c in node.columns or []]
    select, sink = [], []
    for name, src in pairs:
        if src == "op":
            continue
        expr, flink = exprs[src]
        select.append(expr if expr == ident(name) else f"{expr} AS {ident(name)}")
        sink.append((name, flink))
    return select, sink


def header(chain: RowChain, node, notes: list[str]) -> list[str]:
    """The script's comment lines: the steps exported and the notes."""
    steps = [chain.source.label()]
    steps += [chain.watermark.label()] if chain.watermark is not None else []
    steps += [w.label() for w in chain.wheres]
    steps += [f"assign({', '.join(chain.constants)})"] if chain.constants else []
    steps.append(node.label())
    plan = getattr(node, "sql_plan", None)
    lines = ["Flink SQL exported by streamlab from:", "  " + " -> ".join(steps)]
    lines += [f"  (%%streamlab query: {plan.describe()})"] if plan is not None else []
    return lines + [f"NOTE: {n}" for n in notes] + ["Run it with: sql-client.sh -f this.sql"]


def no_columns(node) -> ValueError:
    """The error for an operator whose input columns are unknown."""
    return ValueError(f"{node.label()}: its input columns are unknown, so the Flink "
                      "tables cannot be declared — read the source with known columns (from_frame, "
                      "from_csv with names=, or columns=)")
