"""Plan -> the same graph the Python API builds (no second engine).

``compile_plan(plan, src)`` is exactly::

    src[.watermark(w)][.where(SQLPredicate(plan.where))]
       .window(spec, by=keys).agg(name=(column, func), ...)[ -> Project(outputs)]

WHERE compiles to :class:`SQLPredicate`, a vectorised ``df -> bool mask`` with SQL's
three-valued logic (a comparison with NULL is unknown, and unknown rows are dropped).
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from typing import Any

import numpy as np
import pandas as pd

from streamlab.sql.errors import SQLError
from streamlab.sql.plan import (
    And,
    Between,
    Col,
    Compare,
    In,
    IsNull,
    Like,
    Lit,
    Not,
    Operand,
    Or,
    Predicate,
    QueryPlan,
    to_sql,
)
from streamlab.sql.session import current_time_zone
from streamlab.sql.windows import CumulateWindow, HopWindow, SessionWindow, TumbleWindow, Window
from streamlab.transforms import has_watermark

_CMP = {"=": operator.eq, "<>": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}


def _is_int(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    if dtype is not None:
        return pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


def _align(value: Any, other: Any) -> Any:
    """A naive timestamp literal compared with a tz-aware column is taken as UTC."""
    if isinstance(value, pd.Timestamp) and value.tz is None:
        tz = getattr(getattr(other, "dtype", None), "tz", None)
        if tz is not None:
            return value.tz_localize("UTC")
    return value


def _mask(x: Any, n: int) -> np.ndarray:
    """Bool array of length n from a scalar, numpy array or (nullable) Series; NA -> False."""
    if isinstance(x, pd.Series | pd.Index):
        x = x.to_numpy(dtype=bool, na_value=False)
    return np.broadcast_to(np.asarray(x, dtype=bool), (n,))


def _operand(node: Operand, df: pd.DataFrame) -> tuple[Any, np.ndarray]:
    """(values, known) of an operand; ``known`` is False where the value is NULL."""
    n = len(df)
    if isinstance(node, Col):
        values = df[node.name]
        return values, _mask(values.notna(), n)
    if isinstance(node, Lit):
        value = pd.Timestamp(node.value) if isinstance(node.value, dt.datetime) else node.value
        return value, np.full(n, value is not None)
    left, lk = _operand(node.left, df)
    right, rk = _operand(node.right, df)
    with np.errstate(all="ignore"):
        if node.op == "/" and _is_int(left) and _is_int(right):  # SQL: integer division truncates
            values = np.trunc(left / right)
        elif node.op == "%":  # SQL MOD takes the dividend's sign
            values = np.fmod(left, right)
        else:
            values = {"+": operator.add, "-": operator.sub, "*": operator.mul,
                      "/": operator.truediv}[node.op](left, right)
    return values, lk & rk


def _truth(node: Predicate, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(definitely true, definitely false) masks: SQL's three-valued logic."""
    n = len(df)
    if isinstance(node, Compare):
        left, lk = _operand(node.left, df)
        right, rk = _operand(node.right, df)
        known = lk & rk
        if not known.any():
            return known, known
        result = _mask(_CMP[node.op](_align(left, right), _align(right, left)), n)
        return known & result, known & ~result
    if isinstance(node, Not):
        true, false = _truth(node.arg, df)
        return false, true
    if isinstance(node, And | Or):
        parts = [_truth(a, df) for a in node.args]
        trues, falses = np.array([p[0] for p in parts]), np.array([p[1] for p in parts])
        if isinstance(node, And):
            return np.asarray(trues.all(axis=0)), np.asarray(falses.any(axis=0))
        return np.asarray(trues.any(axis=0)), np.asarray(falses.all(axis=0))
    if isinstance(node, Between):
        return _truth(And((Compare(">=", node.operand, node.low),
                           Compare("<=", node.operand, node.high))), df)
    if isinstance(node, IsNull):
        _, known = _operand(node.operand, df)
        return ~known, known.copy()
    values, known = _operand(node.operand, df)
    series = values if isinstance(values, pd.Series) else pd.Series(np.broadcast_to(values, (n,)))
    if isinstance(node, In):
        wanted = [_align(pd.Timestamp(v.value) if isinstance(v.value, dt.datetime) else v.value,
                         series) for v in node.values if v.value is not None]
        hit = known & _mask(series.isin(wanted), n)
        has_null = any(v.value is None for v in node.values)
        return hit, (known & ~hit) if not has_null else np.zeros(n, dtype=bool)
    if isinstance(node, Like):
        hit = known & _mask(series.astype("string").str.fullmatch(like_regex(node.pattern)), n)
        return hit, known & ~hit
    raise TypeError(f"not a predicate: {node!r}")


def like_regex(pattern: str) -> str:
    """SQL LIKE pattern -> regex (``%`` any run, ``_`` one character).

    >>> like_regex("a_c%")
    'a.c.*'
    """
    return "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)


class SQLPredicate:
    """A WHERE clause as a vectorised callable ``df -> bool mask`` (for ``stream.where``).

    >>> from streamlab.sql.plan import Compare, Col, Lit
    >>> p = SQLPredicate(Compare("<>", Col("v"), Lit(1)))
    >>> p(pd.DataFrame({"v": [1.0, 2.0, None]})).tolist()   # NULL <> 1 is unknown: dropped
    [False, True, False]
    >>> p
    SQLPredicate('v <> 1')
    """

    def __init__(self, predicate: Predicate):
        self.predicate = predicate
        self.sql = to_sql(predicate)
        self.__name__ = self.sql  # the where() operator's label shows the SQL

    def __call__(self, df: pd.DataFrame) -> np.ndarray:
        true, _ = _truth(self.predicate, df)
        return np.asarray(true, dtype=bool).copy()

    def flink_sql(self) -> str:
        """The condition as Flink SQL, with Flink's quoting (what ``to_flink_sql`` writes)."""
        from streamlab.sql.to_flink import plan_to_sql

        return plan_to_sql(self.predicate)

    def __repr__(self) -> str:
        return f"SQLPredicate({self.sql!r})"


def window_spec(window: Window) -> Any:
    """The Python API's window spec (``sl.Tumble`` ...) for a plan window.

    Durations are passed as ``pd.Timedelta``, e.g. ``sl.Hop(pd.Timedelta("10s"), pd.Timedelta("1s"))``.
    A negative offset is given as ``offset mod size``: the same windows (the specs take offsets
    >= 0; HOP's slide divides its size, so the specs' own ``mod slide`` agrees).

    >>> window_spec(HopWindow(slide=dt.timedelta(seconds=1), size=dt.timedelta(seconds=10),
    ...                       offset=dt.timedelta(seconds=-3))).resolve(None)
    SlicedPlan(kind='hop', size=10000, pane=1000, offset=0, tz=None)

    Under ``SET 'table.local-time-zone'`` (:mod:`streamlab.sql.session`) TUMBLE, HOP and
    CUMULATE are cut in that zone (``tz=``).
    """
    from streamlab.windows import Cumulate, Hop, Session, Tumble

    zone = current_time_zone()
    if isinstance(window, SessionWindow):
        if zone:
            raise SQLError("unsupported", f"SESSION windows in the session time zone {zone} are not "
                           "supported", "RESET 'table.local-time-zone' (SESSION windows run in UTC)",
                           None, None)
        return Session(pd.Timedelta(window.gap))
    size, offset = pd.Timedelta(window.size), pd.Timedelta(window.offset % window.size)
    aligned: dict[str, Any] = {"offset": offset} if offset else {}
    if zone:
        aligned["tz"] = zone
    if isinstance(window, TumbleWindow):
        return Tumble(size, **aligned)
    if isinstance(window, HopWindow):
        return Hop(size, pd.Timedelta(window.slide), **aligned)
    if isinstance(window, CumulateWindow):
        return Cumulate(size, pd.Timedelta(window.step), **aligned)
    raise TypeError(f"not a plan window: {window!r}")


def agg_kwargs(plan: QueryPlan) -> dict[str, tuple[str, str]]:
    """``agg(**kwargs)`` for the plan: COUNT(*) counts rows via the time column ('size')."""
    return {a.name: (plan.time_column if a.column == "*" else a.column, a.func)
            for a in plan.aggregates}




def compile_plan(plan: QueryPlan, stream: Any, watermark: Any = None) -> Any:
    """Build the plan on ``stream`` with the Python API; return the result stream.

    ``watermark`` (a delay: ``pd.Timedelta``, or text such as ``"500ms"`` from ``--watermark``)
    adds ``.watermark(...)``; without it, the stream's own watermark is used, or delay 0 if it
    has none (Flink's ``WATERMARK FOR ts AS ts``).
    """
    if watermark is not None:
        stream = stream.watermark(watermark)
    elif not has_watermark(stream):
        # Flink computes the watermark over every row, before WHERE: do the same (delay 0)
        stream = stream.watermark(pd.Timedelta(0))
    if plan.where is not None:
        stream = stream.where(SQLPredicate(plan.where))
    by = None if not plan.keys else plan.keys[0] if len(plan.keys) == 1 else list(plan.keys)
    result = stream.window(window_spec(plan.window), by=by).agg(**agg_kwargs(plan))
    result.sql_types = True  # Flink's result types: AVG of an INT column is an INT
    if plan.needs_projection:
        from streamlab.sql.project import Project

        result = Project(result, plan.outputs)
    return result
