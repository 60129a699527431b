"""Small Flink SQL text helpers: identifiers, literals, intervals and WITH clauses."""

from __future__ import annotations

import re

from ._reserved import RESERVED

_PLAIN = re.compile(r"^[a-z_][a-z0-9_]*$")
_UNITS = (("DAY", 86_400_000), ("HOUR", 3_600_000), ("MINUTE", 60_000), ("SECOND", 1_000))


def ident(name: str) -> str:
    """A column or table name as Flink SQL: bare when plain, else in backticks.

    >>> ident("key"), ident("value"), ident("Temp"), ident("a b"), ident("x`y")
    ('key', '`value`', '`Temp`', '`a b`', '`x``y`')
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"column names must be non-empty strings, got {name!r}")
    if _PLAIN.match(name) and name.upper() not in RESERVED:
        return name
    return "`" + name.replace("`", "``") + "`"


def string(text: object) -> str:
    """A SQL string literal.

    >>> string("it's")
    "'it''s'"
    """
    return "'" + str(text).replace("'", "''") + "'"


def interval(ms: int) -> str:
    """A Flink ``INTERVAL`` literal for a whole number of milliseconds (>= 0).

    The largest unit that divides ``ms`` exactly is used; Flink's default leading precision is two
    digits, so longer counts carry an explicit one (``SECOND(3)``).

    >>> interval(50), interval(1500), interval(10_000), interval(300_000), interval(86_400_000)
    ("INTERVAL '0.050' SECOND", "INTERVAL '1.500' SECOND", "INTERVAL '10' SECOND", "INTERVAL '5' MINUTE", "INTERVAL '1' DAY")
    >>> interval(250_500), interval(120 * 86_400_000)
    ("INTERVAL '250.500' SECOND(3, 3)", "INTERVAL '120' DAY(3)")
    """
    ms = int(ms)
    if ms < 0:
        raise ValueError(f"intervals must be >= 0 ms, got {ms}")
    if ms == 0:
        return "INTERVAL '0' SECOND"
    for unit, size in _UNITS:
        if ms % size == 0:
            n = ms // size
            return f"INTERVAL '{n}' {unit}{_precision(n)}"
    seconds, millis = divmod(ms, 1000)
    precision = f"({len(str(seconds))}, 3)" if seconds >= 100 else ""
    return f"INTERVAL '{seconds}.{millis:03d}' SECOND{precision}"


def _precision(n: int) -> str:
    digits = len(str(n))
    return f"({digits})" if digits > 2 else ""


def literal(value: object, fail) -> str:
    """A SQL literal for a Python scalar; ``raise fail()`` for anything else (NaN, inf, ...).

    >>> literal(True, None), literal(-3, None), literal(0.5, None), literal("a", None)
    ('TRUE', '-3', '0.5', "'a'")
    """
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise fail()
        return repr(value).upper()
    if isinstance(value, str):
        return string(value)
    raise fail()


def with_clause(options: dict[str, object]) -> str:
    """``WITH ('k' = 'v', ...)``, one option a line.

    >>> print(with_clause({"connector": "filesystem", "format": "csv"}))
    WITH (
      'connector' = 'filesystem',
      'format' = 'csv'
    )
    """
    lines = [f"  {string(k)} = {string(v)}" for k, v in options.items() if v is not None]
    return "WITH (\n" + ",\n".join(lines) + "\n)"


def columns_block(lines: list[str]) -> str:
    """The parenthesised column list of a ``CREATE TABLE``."""
    return "(\n" + ",\n".join(f"  {line}" for line in lines) + "\n)"
