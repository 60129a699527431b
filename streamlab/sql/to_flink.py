"""A ``%%streamlab`` WHERE as Flink SQL text, with Flink's quoting (for ``to_flink_sql``)."""

from __future__ import annotations

import datetime as dt

from streamlab.flink.render import ident, literal, string
from streamlab.sql.plan import (
    And,
    Arith,
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
)


def plan_to_sql(node: Predicate | Operand) -> str:
    """A WHERE predicate (or operand) of a plan as Flink SQL.

    It already has SQL's NULL rules, so it is rendered as written, with Flink's quoting.

    >>> plan_to_sql(And((Compare(">", Col("value"), Lit(0)), Not(IsNull(Col("key"))))))
    '(`value` > 0 AND NOT (key IS NULL))'
    """
    if isinstance(node, Col):
        return ident(node.name)
    if isinstance(node, Lit):
        value = node.value
        if value is None:
            return "NULL"
        if isinstance(value, dt.datetime):
            return f"TIMESTAMP {string(value.isoformat(sep=' '))}"
        return literal(value, lambda: ValueError(f"unsupported literal {value!r}"))
    if isinstance(node, Arith):
        if node.op == "%":
            return f"MOD({plan_to_sql(node.left)}, {plan_to_sql(node.right)})"
        return f"({plan_to_sql(node.left)} {node.op} {plan_to_sql(node.right)})"
    if isinstance(node, Compare):
        return f"{plan_to_sql(node.left)} {node.op} {plan_to_sql(node.right)}"
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(plan_to_sql(a) for a in node.args) + ")"
    if isinstance(node, Not):
        return f"NOT ({plan_to_sql(node.arg)})"
    if isinstance(node, In):
        return f"{plan_to_sql(node.operand)} IN ({', '.join(plan_to_sql(v) for v in node.values)})"
    if isinstance(node, Between):
        low, high = plan_to_sql(node.low), plan_to_sql(node.high)
        return f"{plan_to_sql(node.operand)} BETWEEN {low} AND {high}"
    if isinstance(node, IsNull):
        return f"{plan_to_sql(node.operand)} IS NULL"
    if isinstance(node, Like):
        return f"{plan_to_sql(node.operand)} LIKE {string(node.pattern)}"
    raise ValueError(f"not a WHERE predicate: {node!r}")
