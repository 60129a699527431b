"""The query plan: what a ``%%streamlab`` query means, as frozen dataclasses.

A plan is pure data (no pandas, no streams). :func:`streamlab.sql.analyze.plan_query` builds it
from SQL text; :mod:`streamlab.sql.compile` turns it into the Python API's graph. Its window is
one of :mod:`streamlab.sql.windows`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from streamlab.sql.windows import Window

WINDOW_COLUMNS = ("window_start", "window_end")

AggFunc = Literal["size", "count", "sum", "mean", "min", "max"]
ArithOp = Literal["+", "-", "*", "/", "%"]
CompareOp = Literal["=", "<>", "<", "<=", ">", ">="]

#: SQL aggregate -> pandas named-aggregation function.
AGGREGATES: dict[str, AggFunc] = {"COUNT(*)": "size", "COUNT": "count", "SUM": "sum",
                                  "AVG": "mean", "MIN": "min", "MAX": "max"}


@dataclass(frozen=True)
class Aggregate:
    """One aggregate: engine column ``name`` = pandas ``func`` over ``column`` ('*' for rows).

    >>> Aggregate("cnt", "size", "*").sql()
    'COUNT(*)'
    """

    name: str
    func: AggFunc
    column: str

    def sql(self) -> str:
        """The aggregate as Flink SQL."""
        if self.func == "size":
            return "COUNT(*)"
        sql_name = {v: k for k, v in AGGREGATES.items() if k != "COUNT(*)"}[self.func]
        return f"{sql_name}({_ident(self.column)})"


@dataclass(frozen=True)
class JoinRef:
    """A qualified column of one join input, ``l.k``, as the engine holds it.

    ``source`` is the engine column (``side`` None: an unqualified column, the merged one);
    ``present`` (when given) is an engine column that is NULL
    exactly when this input is NULL-padded. A key both inputs share is one merged engine column
    (pandas ``merge``), so Flink's ``l.k`` is that column where ``present`` is not NULL.
    """

    side: Literal["left", "right"] | None
    column: str
    source: str
    present: str | None = None


@dataclass(frozen=True)
class Output:
    """One output column: ``name`` in the result, taken from engine column ``source``.

    ``refs`` (a join's select list): the value is ``COALESCE`` of these qualified columns, each
    NULL where its input is padded (one ref: the column itself), as Flink computes it.
    """

    name: str
    source: str
    refs: tuple[JoinRef, ...] = ()


# -- WHERE predicates: a small tree, evaluated with SQL's three-valued logic ----------------------


@dataclass(frozen=True)
class Col:
    """A column reference."""

    name: str


@dataclass(frozen=True)
class Lit:
    """A literal: int, float, str, bool, a naive-UTC datetime, or None (NULL)."""

    value: int | float | str | bool | dt.datetime | None


@dataclass(frozen=True)
class Arith:
    """``left op right`` for op in + - * / %."""

    op: ArithOp
    left: Operand
    right: Operand


Operand = Col | Lit | Arith


@dataclass(frozen=True)
class Compare:
    """``left op right`` for op in = <> < <= > >=."""

    op: CompareOp
    left: Operand
    right: Operand


@dataclass(frozen=True)
class And:
    """Conjunction of two or more predicates."""

    args: tuple[Predicate, ...]


@dataclass(frozen=True)
class Or:
    """Disjunction of two or more predicates."""

    args: tuple[Predicate, ...]


@dataclass(frozen=True)
class Not:
    """Negation."""

    arg: Predicate


@dataclass(frozen=True)
class In:
    """``operand IN (v1, v2, ...)``."""

    operand: Operand
    values: tuple[Lit, ...]


@dataclass(frozen=True)
class Between:
    """``operand BETWEEN low AND high`` (inclusive)."""

    operand: Operand
    low: Operand
    high: Operand


@dataclass(frozen=True)
class IsNull:
    """``operand IS NULL``."""

    operand: Operand


@dataclass(frozen=True)
class Like:
    """``operand LIKE 'pattern'`` with % and _ wildcards."""

    operand: Operand
    pattern: str


Predicate = Compare | And | Or | Not | In | Between | IsNull | Like


def _ident(name: str) -> str:
    return name if name.isidentifier() else f"`{name}`"


def _lit_sql(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def to_sql(node: Predicate | Operand) -> str:
    """Render a predicate or operand as Flink SQL.

    >>> to_sql(And((Compare(">", Col("value"), Lit(0)), Not(IsNull(Col("key"))))))
    '(value > 0 AND NOT (key IS NULL))'
    """
    if isinstance(node, Col):
        return _ident(node.name)
    if isinstance(node, Lit):
        return _lit_sql(node.value)
    if isinstance(node, Arith):
        return f"({to_sql(node.left)} {node.op} {to_sql(node.right)})"
    if isinstance(node, Compare):
        return f"{to_sql(node.left)} {node.op} {to_sql(node.right)}"
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(to_sql(a) for a in node.args) + ")"
    if isinstance(node, Not):
        return f"NOT ({to_sql(node.arg)})"
    if isinstance(node, In):
        return f"{to_sql(node.operand)} IN ({', '.join(to_sql(v) for v in node.values)})"
    if isinstance(node, Between):
        return f"{to_sql(node.operand)} BETWEEN {to_sql(node.low)} AND {to_sql(node.high)}"
    if isinstance(node, IsNull):
        return f"{to_sql(node.operand)} IS NULL"
    if isinstance(node, Like):
        return f"{to_sql(node.operand)} LIKE {_lit_sql(node.pattern)}"
    raise TypeError(f"not a predicate node: {node!r}")


@dataclass(frozen=True)
class QueryPlan:
    """A windowed aggregation over one stream.

    ``keys`` are the GROUP BY keys (without the window columns). The engine returns
    ``keys + window_start, window_end + aggregate names``; ``outputs`` says which of those the
    query selects, in the select list's order and under which names.
    """

    source: str
    time_column: str
    window: Window
    keys: tuple[str, ...]
    aggregates: tuple[Aggregate, ...]
    outputs: tuple[Output, ...]
    where: Predicate | None = None

    @property
    def engine_columns(self) -> tuple[str, ...]:
        """Columns the Python API's ``window(...).agg(...)`` returns, in order."""
        return (*self.keys, *WINDOW_COLUMNS, *(a.name for a in self.aggregates))

    @property
    def columns(self) -> tuple[str, ...]:
        """The query's output columns, in select-list order."""
        return tuple(o.name for o in self.outputs)

    @property
    def needs_projection(self) -> bool:
        """True when the select list differs from the engine's columns (order, names, omissions)."""
        return tuple((o.name, o.source) for o in self.outputs) != tuple(
            (c, c) for c in self.engine_columns)

    def describe(self) -> str:
        """A one-line summary, e.g. for ``%%streamlab --explain``."""
        aggs = ", ".join(f"{a.name}={a.sql()}" for a in self.aggregates)
        text = f"{self.source}[{self.time_column}] -> {self.window.describe()}"
        if self.where is not None:
            text += f" WHERE {to_sql(self.where)}"
        by = f" BY {', '.join(self.keys)}" if self.keys else ""
        return f"{text}{by} AGG {aggs} -> {', '.join(self.columns)}"
