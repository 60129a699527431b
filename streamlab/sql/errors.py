"""One error type for every mistake in a streamlab SQL query.

The notebook magic turns a :class:`SQLError` into an IPython ``UsageError`` with the same
``kind``, ``hint``, ``line`` and ``column``, so a user sees one line and never a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Literal, get_args

#: Every ``kind`` the SQL layer raises.
ErrorKind = Literal[
    "syntax",  # the text does not parse
    "unknown_stream",  # FROM names no stream in scope
    "unknown_column",  # a column the stream does not have
    "unknown_function",  # a misspelt TVF or aggregate
    "unsupported",  # valid Flink SQL that streamlab does not run (JOIN, ORDER BY, ...)
    "invalid",  # parses, but means nothing (bad interval, ungrouped column, ...)
    # %streamlab and %%streamlab options (no position in a query):
    "usage",  # a bad option or subcommand
    "unknown_pipeline",  # NAME is neither a pipeline nor a stream in scope
    "not_yet",  # a feature that lands with a later issue (Flink export)
    "unavailable",  # the engine or an optional part (plots, late ledger) is missing
    "engine",  # the engine rejected what the query asked for
]
KINDS: tuple[ErrorKind, ...] = get_args(ErrorKind)


class SQLError(Exception):
    """A mistake in a query, located at ``line``/``column`` (1-based), with a ``hint``.

    >>> str(SQLError("unknown_stream", "unknown stream 'srx'", "streams in scope: src", 1, 42))
    "line 1, column 42: unknown stream 'srx' — hint: streams in scope: src"
    """

    def __init__(self, kind: ErrorKind, what: str, hint: str = "", line: int | None = 1,
                 column: int | None = 1):
        self.kind = kind
        self.what = what
        self.hint = hint
        self.line = line
        self.column = column
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The one-line message: ``line L, column C: <what> — hint: <hint>``.

        Errors that are not about a query's text (``line`` None) drop the position.
        """
        text = self.what if self.line is None else (
            f"line {self.line}, column {self.column}: {self.what}")
        return f"{text} — hint: {self.hint}" if self.hint else text

    def __str__(self) -> str:
        return self.message


def position(sql: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a 0-based character ``offset`` in ``sql``.

    >>> position("SELECT a\\nFROM t", 9)
    (2, 1)
    """
    offset = max(0, min(offset, len(sql)))
    line = sql.count("\n", 0, offset) + 1
    column = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return line, column


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word`` (case-insensitive), or None.

    >>> did_you_mean("HOOP", ["TUMBLE", "HOP", "CUMULATE", "SESSION"])
    'HOP'
    >>> did_you_mean("Value", ["ts", "value"])
    'value'
    """
    choices = list(choices)
    exact = [c for c in choices if c.lower() == word.lower()]
    if exact:
        return exact[0]
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def listing(label: str, names: Iterable[str]) -> str:
    """``label: a, b, c`` (or ``label: none``) for a hint.

    >>> listing("streams in scope", ["src", "clicks"])
    'streams in scope: src, clicks'
    """
    names = list(names)
    return f"{label}: {', '.join(names) if names else 'none'}"
