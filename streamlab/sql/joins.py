"""Flink's JOIN syntax in ``%%streamlab``: interval, window and temporal joins, views, several
statements per cell.

- ``FROM a [AS x] [INNER|LEFT|RIGHT|FULL] JOIN b [AS y] ON ...`` and the comma form
  ``FROM a x, b y WHERE ...`` (inner); qualified columns ``x.k``.
- An interval join's ON holds key equalities and a time bound such as
  ``y.ts BETWEEN x.ts - INTERVAL '1' SECOND AND x.ts + INTERVAL '2' SECOND`` (or ``>=``/``>``/
  ``<=``/``<``). A window join joins two window TVFs on the keys, ``window_start`` and
  ``window_end``. ``JOIN v FOR SYSTEM_TIME AS OF x.ts AS y ON x.k = y.k`` is a temporal join.
- ``CREATE [TEMPORARY] VIEW name AS SELECT ...``: plain views (``SELECT * FROM s WHERE ...``),
  Flink's versioned view (``ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) = 1``) and
  joins; later statements and cells see them.

>>> import streamlab as sl, pandas as pd
>>> a = sl.from_frame(pd.DataFrame({"ts": [1000], "k": ["x"], "v": [1]}), time="ts", unit="ms")
>>> b = sl.from_frame(pd.DataFrame({"ts": [1500], "k": ["x"], "w": [2]}), time="ts", unit="ms")
>>> res = run_statements("SELECT a.v, b.w FROM a JOIN b ON a.k = b.k AND "
...                      "b.ts BETWEEN a.ts AND a.ts + INTERVAL '1' SECOND", {"a": a, "b": b}, {})
>>> res.collect()
   v  w
0  1  2
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from sqlglot import exp

from streamlab.sql.analyze import catalog_of, plan_query
from streamlab.sql.compile import SQLPredicate, compile_plan, window_spec
from streamlab.sql.errors import SQLError
from streamlab.sql.intervals import duration
from streamlab.sql.parse import WindowTVF, node_position, parse
from streamlab.sql.plan import JoinRef, Output

_VIEW = re.compile(r"^\s*CREATE\s+(?:TEMPORARY\s+)?VIEW\s+([A-Za-z_]\w*)\s+AS\s+(.*)$", re.I | re.S)
_HOWS = {None: "inner", "": "inner", "LEFT": "left", "RIGHT": "right", "FULL": "full"}
INTERVAL_HINT = ("an interval join: JOIN b ON a.k = b.k AND b.ts BETWEEN a.ts - INTERVAL '1' SECOND AND "
                 "a.ts + INTERVAL '1' SECOND; a window join of two window TVFs ON keys, window_start and "
                 "window_end; or a temporal join: JOIN v FOR SYSTEM_TIME AS OF a.ts AS v ON a.k = v.k")


def statements(cell: str) -> list[str]:
    """The statements of a cell, split at ``;`` outside quotes.

    >>> statements("SELECT ';' FROM a; SELECT 1")
    ["SELECT ';' FROM a", 'SELECT 1']
    """
    out: list[str] = []
    cur: list[str] = []
    quote = None
    for ch in cell:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch == ";":
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return [s.strip() for s in out if s.strip()]


def needs_joins(cell: str) -> bool:
    """Whether a cell needs this module (several statements, a view or a JOIN, comma form too).

    >>> needs_joins("SELECT * FROM a, b WHERE a.k = b.k"), needs_joins("SELECT k, COUNT(*) FROM t GROUP BY k, w")
    (True, False)
    """
    parts = statements(cell)
    if len(parts) != 1:
        return len(parts) > 1
    if _VIEW.match(parts[0]):
        return True
    try:
        tree = parse(parts[0])
    except SQLError:
        return False
    return isinstance(tree, exp.Select) and bool(tree.args.get("joins"))


def run_statements(cell: str, streams: dict[str, Any], views: dict[str, Any], watermark: Any = None) -> Any:
    """Run every statement; views go into ``views``; return the last SELECT's stream (or None).

    A stream with no watermark gets ``watermark`` (default 0, Flink's ``WATERMARK FOR ts AS ts``).
    """
    result = None
    for text in statements(cell):
        m = _VIEW.match(text)
        scope = _Scope({**streams, **views}, set(views), watermark)
        if m:
            views[m.group(1)] = select(m.group(2), scope)
        else:
            result = select(text, scope)
    return result


class _Scope(dict):
    """Streams and views by name; a stream used in a join gets a watermark if it has none
    (``watermark``, or 0: Flink's ``WATERMARK FOR ts AS ts``), once per statement."""

    def __init__(self, items: dict[str, Any], views: set[str], watermark: Any):
        super().__init__(items)
        self.views, self.watermark = views, watermark
        self.made: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        from streamlab.transforms import has_watermark

        stream = super().__getitem__(name)
        if name in self.views or getattr(stream, "time_meta", None) is None:
            return stream
        if self.watermark is None and has_watermark(stream):
            return stream
        if name not in self.made:
            self.made[name] = stream.watermark(self.watermark if self.watermark is not None else pd.Timedelta(0))
        return self.made[name]


def run_cell(cell: str, streams: dict[str, Any], views: dict[str, Any], watermark: Any = None,
             explain: bool = False) -> Any:
    """``run_statements`` for the magic: mistakes the Python API finds become SQLErrors."""
    try:
        result = run_statements(cell, streams, views, watermark)
    except (ValueError, TypeError) as error:
        raise SQLError("engine", str(error).split("; ")[0], "; ".join(str(error).split("; ")[1:]), None) from None
    if explain and result is not None:
        print(result.label() if hasattr(result, "label") else repr(result))
        return None
    return result


def _err(sql: str, kind, what: str, hint: str, node=None) -> SQLError:
    line, column = node_position(sql, node)
    return SQLError(kind, what, hint, line, column)


def select(sql: str, scope: dict[str, Any]) -> Any:
    """One SELECT over ``scope`` (streams and views): a join, a view shape, or a window query."""
    tree = parse(sql)
    if not isinstance(tree, exp.Select):
        raise _err(sql, "unsupported", f"{type(tree).__name__.upper()} statements are not supported",
                   "write SELECT ... or CREATE TEMPORARY VIEW name AS SELECT ...", tree)
    if tree.args.get("joins"):
        return _join(sql, tree, scope)
    versioned = _versioned(tree)
    if versioned is not None:
        return _source(sql, versioned, scope)
    from_ = tree.args.get("from_")
    table = from_.this if from_ is not None else None
    if isinstance(table, exp.Table) and isinstance(table.this, exp.Identifier) and not tree.args.get("group"):
        stream = _source(sql, table, scope)
        where = tree.args.get("where")
        if where is not None:
            from streamlab.sql import predicates

            stream = stream.where(SQLPredicate(predicates.translate(where.this, _Ctx(sql, stream))))
        return _project(sql, tree, stream, {})
    plan = plan_query(sql, catalog_of(scope))
    return compile_plan(plan, scope[plan.source])


class _Ctx:
    """What ``predicates.translate`` asks of its caller: resolve a column of one stream."""

    def __init__(self, sql: str, stream: Any):
        self.sql, self.columns = sql, list(getattr(stream, "columns", None) or [])

    def column(self, node: exp.Expr, where: str, window_ok: bool = False) -> str:
        name = node.name
        if self.columns and name not in self.columns:
            raise _err(self.sql, "unknown_column", f"unknown column {name!r} in {where}",
                       "columns: " + ", ".join(self.columns), node)
        return name

    def error(self, kind, what, hint, node=None, pattern=None) -> SQLError:
        return _err(self.sql, kind, what, hint, node)


def _source(sql: str, table: exp.Expr, scope: dict[str, Any]) -> Any:
    name = table.name
    if name not in scope:
        raise _err(sql, "unknown_stream", f"unknown stream or view {name!r}",
                   "in scope: " + ", ".join(sorted(scope)), table)
    return scope[name]


def _versioned(tree: exp.Select) -> exp.Table | None:
    """The source table of Flink's versioned view (keep-last by ``ts DESC``), else None."""
    from_ = tree.args.get("from_")
    sub = from_.this if from_ is not None else None
    where = tree.args.get("where")
    if not isinstance(sub, exp.Subquery) or where is None or not isinstance(sub.this, exp.Select):
        return None
    win = next(sub.this.find_all(exp.Window), None)
    if win is None or not isinstance(win.this, exp.RowNumber):
        return None
    order = win.args.get("order")
    if order is None or not all(o.args.get("desc") for o in order.expressions):
        raise SQLError("unsupported", "only the keep-last versioned view (ORDER BY ts DESC) is supported here",
                       "ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) AS rownum ... WHERE rownum = 1")
    inner = sub.this.args["from_"].this
    return inner if isinstance(inner, exp.Table) else None


class _Side:
    def __init__(self, sql: str, node: exp.Expr, scope: dict[str, Any]):
        self.alias = node.alias_or_name if isinstance(node, (exp.Table, exp.Subquery)) else ""
        self.window = None
        tvf = node.this if isinstance(node, exp.Table) and isinstance(node.this, WindowTVF) else None
        if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select):
            inner = node.this.args["from_"].this
            tvf = inner.this if isinstance(inner, exp.Table) and isinstance(inner.this, WindowTVF) else None
            if tvf is None:
                raise _err(sql, "unsupported", "a subquery in a join must be SELECT * FROM TABLE(<window TVF>)",
                           "put other subqueries in a CREATE TEMPORARY VIEW", node)
        if tvf is not None:
            text = tvf.sql(dialect=_dialect())
            text = text if text.upper().startswith("TABLE(") else f"TABLE({text})"
            plan = plan_query(f"SELECT window_start, window_end, COUNT(*) AS n FROM {text} "
                              "GROUP BY window_start, window_end", catalog_of(scope))
            self.window, self.stream = window_spec(plan.window), scope[plan.source]
            self.alias = node.alias_or_name if node.alias else plan.source
        else:
            self.stream = _source(sql, node, scope)
        self.columns = list(getattr(self.stream, "columns", None) or [])
        self.time = self.stream.time_column if hasattr(self.stream, "time_column") else None


def _dialect():
    from streamlab.sql.parse import Flink

    return Flink


def _join(sql: str, tree: exp.Select, scope: dict[str, Any]) -> Any:
    joins = tree.args["joins"]
    if len(joins) > 1:
        raise _err(sql, "unsupported", "one JOIN per statement",
                   "put the first join in CREATE TEMPORARY VIEW v AS ... and join v", joins[1])
    j = joins[0]
    left, right = _Side(sql, tree.args["from_"].this, scope), _Side(sql, j.this, scope)
    side = (j.side or "").upper() or None
    if (j.kind or "").upper() == "CROSS":
        raise _err(sql, "unsupported", "CROSS JOIN of two streams", INTERVAL_HINT, j)
    how = _HOWS.get(side, "inner")
    cond = j.args.get("on")
    if cond is None:
        where = tree.args.get("where")
        if where is None:
            raise _err(sql, "unsupported", "a join needs a condition", INTERVAL_HINT, j)
        if side:
            raise _err(sql, "invalid", f"{side} JOIN needs ON", "write ... JOIN b ON a.k = b.k AND ...", j)
        cond = where.this
    keys, bounds, windows = _conditions(sql, cond, left, right)
    version = j.this.args.get("version") if isinstance(j.this, exp.Table) else None
    if version is not None:
        probe_time = version.expression
        if not isinstance(probe_time, exp.Column) or probe_time.name != left.time:
            raise _err(sql, "unsupported", "only event-time temporal joins are supported",
                       f"write FOR SYSTEM_TIME AS OF {left.alias}.{left.time} (a processing-time join has no "
                       "Flink-exact result)", version)
        if how not in ("inner", "left"):
            raise _err(sql, "invalid", "a temporal join is INNER or LEFT", "write LEFT JOIN v FOR SYSTEM_TIME ...", j)
        result = left.stream.join_asof(right.stream, left_on=[k for k, _ in keys], right_on=[k for _, k in keys],
                                       how=how)
    elif left.window is not None and right.window is not None:
        if windows != {"window_start", "window_end"}:
            raise _err(sql, "invalid", "a window join joins on window_start and window_end too",
                       f"add AND {left.alias}.window_start = {right.alias}.window_start AND "
                       f"{left.alias}.window_end = {right.alias}.window_end", cond)
        result = left.stream.window(left.window).join(
            right.stream.window(right.window), left_on=[k for k, _ in keys], right_on=[k for _, k in keys], how=how)
    elif bounds is not None:
        lo, hi = bounds
        result = left.stream.join(right.stream, left_on=[k for k, _ in keys], right_on=[k for _, k in keys],
                                  between=(pd.Timedelta(milliseconds=lo), pd.Timedelta(milliseconds=hi))
                                  if left.stream.meta.unit is None else _in_unit(lo, hi, left.stream.meta.unit),
                                  how=how)
    else:
        raise _err(sql, "unsupported", "a regular join of two streams (no time bound) is not supported",
                   INTERVAL_HINT, cond)
    return _project(sql, tree, result, {left.alias: ("left", left), right.alias: ("right", right)})


def _in_unit(lo: int, hi: int, unit: str) -> tuple:
    per = {"s": 1000, "ms": 1, "us": 0.001, "ns": 0.000001}[unit]
    return (lo / per, hi / per) if unit == "s" else (int(lo / per), int(hi / per))


def _conjuncts(node: exp.Expr) -> list[exp.Expr]:
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    if isinstance(node, exp.Paren):
        return _conjuncts(node.this)
    return [node]


def _conditions(sql, cond, left: _Side, right: _Side):
    """(key pairs, (lower, upper) ms of right.ts - left.ts or None, window columns joined)."""
    keys: list[tuple[str, str]] = []
    lo, hi, windows = None, None, set()

    def owner(col: exp.Column) -> str | None:
        q = col.table
        if q == left.alias:
            return "l"
        if q == right.alias:
            return "r"
        if not q:
            raise _err(sql, "invalid", f"column {col.name!r} in a join condition needs its table",
                       f"write {left.alias}.{col.name} or {right.alias}.{col.name}", col)
        raise _err(sql, "unknown_stream", f"unknown table alias {q!r}", f"aliases: {left.alias}, {right.alias}", col)

    def offset(node) -> tuple[str | None, int] | None:
        """(side, ms) for ``x.ts``, ``x.ts + INTERVAL``, ``x.ts - INTERVAL``."""
        if isinstance(node, exp.Column) and node.name in (left.time, right.time):
            return owner(node), 0
        if isinstance(node, (exp.Add, exp.Sub)) and isinstance(node.this, exp.Column):
            base = offset(node.this)
            if base is not None:
                ms = int(duration(node.expression, sql, "time bound") / pd.Timedelta(milliseconds=1))
                return base[0], base[1] + (ms if isinstance(node, exp.Add) else -ms)
        return None

    def bound(a, b, op) -> None:  # a op b, with a/b time expressions: bound right.ts - left.ts
        nonlocal lo, hi
        x, y = offset(a), offset(b)
        if x is None or y is None or x[0] == y[0]:
            raise _err(sql, "unsupported", f"condition {a.sql()} {op} {b.sql()}",
                       "a join condition holds key equalities and a time bound on both time columns", a)
        if x[0] == "l":  # flip to r.ts ... l.ts
            x, y, op = y, x, {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
        d = y[1] - x[1]  # r.ts + x1 op l.ts + y1  ->  r.ts - l.ts op y1 - x1
        if op in (">", ">="):
            v = d + (op == ">")
            lo = v if lo is None else max(lo, v)
        else:
            v = d - (op == "<")
            hi = v if hi is None else min(hi, v)

    for term in _conjuncts(cond):
        if isinstance(term, exp.EQ) and isinstance(term.this, exp.Column) and isinstance(term.expression, exp.Column):
            a, b = term.this, term.expression
            if owner(a) == "r":
                a, b = b, a
            if a.name in ("window_start", "window_end") and a.name == b.name:
                windows.add(a.name)
            else:
                keys.append((a.name, b.name))
        elif isinstance(term, exp.Between):
            bound(term.this, term.args["low"], ">=")
            bound(term.this, term.args["high"], "<=")
        elif isinstance(term, (exp.GT, exp.GTE, exp.LT, exp.LTE)):
            op = {exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}[type(term)]
            bound(term.this, term.expression, op)
        else:
            raise _err(sql, "unsupported", f"join condition {term.sql()}",
                       "key equalities (a.k = b.k) and a time bound; filter rows in a view first", term)
    if not keys:
        raise _err(sql, "invalid", "a join needs at least one key equality", "add ON a.k = b.k", cond)
    if (lo is None) != (hi is None):
        raise _err(sql, "invalid", "the time bound needs a lower and an upper side",
                   "b.ts BETWEEN a.ts - INTERVAL '1' SECOND AND a.ts + INTERVAL '1' SECOND", cond)
    return keys, (None if lo is None else (lo, hi)), windows


def _project(sql: str, tree: exp.Select, stream: Any, sides: dict[str, tuple[str, _Side]]) -> Any:
    """SELECT * keeps the stream; a list of (qualified) columns becomes a projection.

    In a join, a qualified key both inputs share (``l.k``) and a qualified ``window_start`` /
    ``window_end`` are NULL where that input is NULL-padded, as in Flink; ``COALESCE(l.k, r.k)``
    gives the merged value, and so does the unqualified ``k`` (pandas ``merge``'s one key column).
    """
    exprs = tree.expressions
    if len(exprs) == 1 and isinstance(exprs[0], exp.Star):
        return stream
    from streamlab.sql.project import Project

    cols = getattr(stream, "cols", None)  # a join's output naming
    outputs = []
    for e in exprs:
        node, name = (e.this, e.alias) if isinstance(e, exp.Alias) else (e, None)
        if isinstance(node, exp.Coalesce) and sides:
            args = [node.this, *node.expressions]
            if not all(isinstance(a, exp.Column) for a in args):
                raise _err(sql, "unsupported", f"{node.sql()}: COALESCE takes columns here",
                           "write COALESCE(a.k, b.k) AS k", node)
            if not name:
                raise _err(sql, "invalid", f"{node.sql()} needs a name", f"write {node.sql()} AS {args[0].name}", node)
            refs = tuple(_ref(a, cols, sides) for a in args)
            outputs.append(Output(name, refs[0].source, refs))
            continue
        if not isinstance(node, exp.Column):
            raise _err(sql, "unsupported", f"{node.sql()} in the select list of a join or view",
                       "select columns (a.k, b.v AS w) or COALESCE(a.k, b.k) AS k; compute in a later window "
                       "query", node)
        ref = _ref(node, cols, sides)
        outputs.append(Output(name or node.name, ref.source, (ref,) if ref.present is not None else ()))
    known = list(getattr(stream, "columns", None) or [])
    for o in outputs:
        for source in [o.source, *(r.source for r in o.refs)]:
            if known and source not in known:
                raise _err(sql, "unknown_column", f"unknown column {source!r}", "columns: " + ", ".join(known), tree)
    return Project(stream, outputs)


def _ref(node: exp.Column, cols: Any, sides: dict[str, tuple[str, _Side]]) -> JoinRef:
    """A select-list column of a join as the engine holds it (see :class:`JoinRef`)."""
    if not (node.table and cols is not None and node.table in sides):
        return JoinRef(None, node.name, node.name)
    which, side = sides[node.table]
    names = cols.left_names if which == "left" else cols.right_names
    source = names.get(node.name, cols.left_names.get(node.name, node.name))
    merged = node.name in cols.shared_keys or node.name in getattr(cols, "extra", ())
    if not merged:
        return JoinRef(which, node.name, source)  # type: ignore[arg-type]
    time = side.time if side.time not in cols.shared_keys else None
    present = names.get(time) if time is not None else None
    return JoinRef(which, node.name, source, present)  # type: ignore[arg-type]
