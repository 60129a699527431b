"""SQL ``INTERVAL`` literals to ``timedelta`` values of whole milliseconds (Flink's TIMESTAMP(3))."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from sqlglot import exp

from streamlab.sql.errors import SQLError
from streamlab.sql.parse import node_position

#: Milliseconds per day-time unit (plural spellings are accepted too).
UNIT_MS = {"MILLISECOND": 1, "SECOND": 1_000, "MINUTE": 60_000, "HOUR": 3_600_000,
           "DAY": 86_400_000}
HINT = "write INTERVAL '10' SECOND (units: SECOND, MINUTE, HOUR, DAY; '0.050' SECOND is 50 ms)"


def _unit_name(unit: exp.Expr | None) -> str | None:
    if unit is None:
        return None
    if isinstance(unit, exp.Var | exp.Anonymous):
        name = unit.name
    elif isinstance(unit, exp.Func):  # SECOND(3): a precision, which Flink allows
        name = unit.key
    else:
        return None
    name = name.upper()
    return name[:-1] if name.endswith("S") and name[:-1] in UNIT_MS else name


def duration(node: exp.Expr, sql: str, what: str = "interval",
             allow_negative: bool = False) -> dt.timedelta:
    """The length of an INTERVAL expression; SQLError (kind "invalid") if it is not one.

    >>> import sqlglot
    >>> duration(sqlglot.parse_one("INTERVAL '0.050' SECOND"), "")
    datetime.timedelta(microseconds=50000)
    >>> duration(sqlglot.parse_one("INTERVAL '10' MINUTES"), "")
    datetime.timedelta(seconds=600)
    """

    def fail(message: str, hint: str = HINT) -> SQLError:
        line, column = node_position(sql, node)
        return SQLError("invalid", message, hint, line, column)

    if isinstance(node, exp.Neg):
        if not allow_negative:
            raise fail(f"{what} must be positive")
        return -duration(node.this, sql, what)
    if isinstance(node, exp.Add) and isinstance(node.this, exp.Interval):
        return (duration(node.this, sql, what, allow_negative)
                + duration(node.expression, sql, what, allow_negative))
    if not isinstance(node, exp.Interval):
        raise fail(f"{what} must be an INTERVAL, got {node.sql()}")
    unit = node.args.get("unit")
    if isinstance(unit, exp.IntervalSpan):
        raise fail(f"{what}: interval spans such as {node.sql()} are not supported",
                   "write a single unit, e.g. INTERVAL '90' SECOND")
    name = _unit_name(unit)
    if name is None:
        raise fail(f"{what} {node.sql()} has no unit")
    if name not in UNIT_MS:
        raise fail(f"{what}: unit {name} is not supported",
                   "calendar units (MONTH, YEAR) have no fixed length; " + HINT)
    try:
        value = Decimal(str(node.this.name if isinstance(node.this, exp.Literal) else "x"))
    except InvalidOperation:
        raise fail(f"{what}: {node.this.sql()} is not a number") from None
    ms = value * UNIT_MS[name]
    if ms != ms.to_integral_value():
        raise fail(f"{what} {node.sql()} is not a whole number of milliseconds",
                   "windows are computed in milliseconds (Flink's TIMESTAMP(3))")
    if ms < 0 and not allow_negative:
        raise fail(f"{what} must be positive")
    if ms == 0 and not allow_negative:
        raise fail(f"{what} must be positive, got {node.sql()}")
    try:
        return dt.timedelta(milliseconds=int(ms))
    except OverflowError:
        raise fail(f"{what} {node.sql()} is too long", "keep intervals under a million days"
                   ) from None
