"""WHERE clauses: sqlglot condition -> plan predicate (:mod:`streamlab.sql.plan`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlglot import exp

from streamlab.sql.plan import (
    And,
    Arith,
    ArithOp,
    Between,
    Col,
    Compare,
    CompareOp,
    In,
    IsNull,
    Like,
    Lit,
    Not,
    Operand,
    Or,
    Predicate,
)

_COMPARE: dict[type[exp.Expr], CompareOp] = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}
_ARITH: dict[type[exp.Expr], ArithOp] = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}
_HINT = ("WHERE supports comparisons, AND/OR/NOT, IN, BETWEEN, IS [NOT] NULL, LIKE, "
         "+ - * / % and literals")


def translate(node: exp.Expr, ctx: Any) -> Predicate:
    """Translate a WHERE condition; ``ctx`` checks columns and raises located errors."""
    result = _translate(node, ctx)
    return Not(result) if node.args.get("negate") else result  # x NOT LIKE 'a%'


def _translate(node: exp.Expr, ctx: Any) -> Predicate:
    if isinstance(node, exp.Paren):
        return translate(node.this, ctx)
    if isinstance(node, exp.And | exp.Or):
        cls = And if isinstance(node, exp.And) else Or
        args: list[Predicate] = []
        for side in (node.this, node.expression):
            sub = translate(side, ctx)
            args.extend(sub.args if isinstance(sub, cls) else (sub,))
        return cls(tuple(args))
    if isinstance(node, exp.Not):
        return Not(translate(node.this, ctx))
    op = _COMPARE.get(type(node))
    if op is not None:
        return Compare(op, operand(node.this, ctx), operand(node.expression, ctx))
    if isinstance(node, exp.In):
        if node.args.get("query") or node.args.get("unnest"):
            raise ctx.error("unsupported", "IN (subquery)", "list literal values: IN (1, 2)", node)
        values = []
        for value in node.expressions:
            lit = operand(value, ctx)
            if not isinstance(lit, Lit):
                raise ctx.error("unsupported", "IN with non-literal values",
                                "list literal values: IN ('a', 'b')", value)
            values.append(lit)
        return In(operand(node.this, ctx), tuple(values))
    if isinstance(node, exp.Between):
        if node.args.get("symmetric"):
            raise ctx.error("unsupported", "BETWEEN SYMMETRIC", "order the bounds: low AND high",
                            node)
        return Between(operand(node.this, ctx), operand(node.args["low"], ctx),
                       operand(node.args["high"], ctx))
    if isinstance(node, exp.Is):
        if not isinstance(node.expression, exp.Null):
            raise ctx.error("unsupported", f"IS {node.expression.sql()}",
                            "compare instead: flag = TRUE", node)
        return IsNull(operand(node.this, ctx))
    if isinstance(node, exp.Like):
        pattern = node.expression
        if not (isinstance(pattern, exp.Literal) and pattern.is_string) or node.args.get("escape"):
            raise ctx.error("unsupported", "LIKE with a non-literal pattern or ESCAPE",
                            "write LIKE 'prefix%'", node)
        return Like(operand(node.this, ctx), pattern.name)
    if isinstance(node, exp.Escape):
        raise ctx.error("unsupported", "LIKE ... ESCAPE", "write LIKE 'prefix%'", node)
    if isinstance(node, exp.Column | exp.Boolean):  # WHERE flag  ==  WHERE flag = TRUE
        return Compare("=", operand(node, ctx), Lit(True))
    raise _unsupported(node, ctx)


def operand(node: exp.Expr, ctx: Any) -> Operand:
    """Translate a value: column, literal, or arithmetic over them."""
    if isinstance(node, exp.Paren):
        return operand(node.this, ctx)
    if isinstance(node, exp.Column):
        return Col(ctx.column(node, "WHERE"))
    if isinstance(node, exp.Literal | exp.Boolean | exp.Null):
        value = node.to_py()  # 1.5 is a Decimal: a DOUBLE, as Flink compares it with a column
        return Lit(float(value) if isinstance(value, Decimal) else value)
    if isinstance(node, exp.Neg):
        inner = operand(node.this, ctx)
        if isinstance(inner, Lit) and isinstance(inner.value, int | float):
            return Lit(-inner.value)
        return Arith("-", Lit(0), inner)
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        if node.to.is_type("timestamp", "timestamptz", "timestampltz", "datetime"):
            return Lit(_timestamp(node, ctx))
    op = _ARITH.get(type(node))
    if op is not None:
        return Arith(op, operand(node.this, ctx), operand(node.expression, ctx))
    raise _unsupported(node, ctx)


def _timestamp(node: exp.Cast, ctx: Any) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(node.this.name)
    except ValueError:
        raise ctx.error("invalid", f"bad timestamp {node.this.sql()}",
                        "write TIMESTAMP '2024-01-31 12:00:00'", node) from None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _unsupported(node: exp.Expr, ctx: Any) -> Exception:
    if isinstance(node, exp.AggFunc):
        return ctx.error("invalid", "aggregates are not allowed in WHERE",
                         "WHERE filters rows before windowing; HAVING is not supported", node)
    if isinstance(node, exp.Anonymous):
        return ctx.error("unsupported", f"function {node.name} in WHERE", _HINT, node)
    if isinstance(node, exp.Func):
        return ctx.error("unsupported", f"{node.sql_name()} in WHERE", _HINT, node)
    return ctx.error("unsupported", f"{node.sql()} in WHERE", _HINT, node)
