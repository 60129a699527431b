"""Parse Flink SQL window queries with sqlglot.

sqlglot has no Flink dialect. :class:`Flink` extends its default dialect with Flink's windowing
table-valued functions, so that::

    TABLE(HOP(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '10' SECOND))
    TABLE(SESSION(TABLE src PARTITION BY key, DESCRIPTOR(ts), INTERVAL '50' SECOND))
    TABLE(TUMBLE(DATA => TABLE src, TIMECOL => DESCRIPTOR(ts), SIZE => INTERVAL '1' MINUTES))

parse into a :class:`WindowTVF` node. The call inside ``TABLE(...)`` is parsed with the TVF
grammar whatever its name, so a misspelt ``HOOP`` reaches the planner, which says "did you mean
HOP?". Every failure is a :class:`~streamlab.sql.errors.SQLError` of kind ``"syntax"``.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.generator import Generator
from sqlglot.parsers.base import BaseParser
from sqlglot.tokens import Token, Tokenizer, TokenType

from streamlab.sql.errors import SQLError, position

#: The windowing table-valued functions streamlab runs.
TVF_NAMES = ("TUMBLE", "HOP", "CUMULATE", "SESSION")

QUERY_SHAPE = (
    "a window query looks like SELECT key, window_start, window_end, COUNT(*) AS cnt "
    "FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
    "GROUP BY key, window_start, window_end"
)


class TVFTable(exp.Expression):
    """``TABLE name [PARTITION BY col, ...]``: the data argument of a window TVF."""

    arg_types = {"this": True, "partition_by": False}


class Descriptor(exp.Expression):
    """``DESCRIPTOR(col)``: the time-attribute argument of a window TVF."""

    arg_types = {"expressions": True}


class TVFArg(exp.Expression):
    """One TVF argument, positional or named (``SIZE => INTERVAL '1' SECOND``)."""

    arg_types = {"this": True, "name": False}


class WindowTVF(exp.Expression):
    """A window TVF call: ``this`` is the upper-cased name, ``expressions`` its TVFArgs."""

    arg_types = {"this": True, "expressions": False, "wrapped": False}

    @property
    def name(self) -> str:
        return self.this


def _tvf_sql(gen: Generator, node: WindowTVF) -> str:
    call = f"{node.this}({', '.join(gen.sql(a) for a in node.expressions)})"
    return f"TABLE({call})" if node.args.get("wrapped") else call


def _tvf_table_sql(gen: Generator, node: TVFTable) -> str:
    text = f"TABLE {gen.sql(node, 'this')}"
    keys = node.args.get("partition_by") or []
    return f"{text} PARTITION BY {', '.join(gen.sql(k) for k in keys)}" if keys else text


def _tvf_arg_sql(gen: Generator, node: TVFArg) -> str:
    name = node.args.get("name")
    return f"{name} => {gen.sql(node, 'this')}" if name else gen.sql(node, "this")


def _descriptor_sql(gen: Generator, node: Descriptor) -> str:
    return f"DESCRIPTOR({', '.join(gen.sql(c) for c in node.expressions)})"


class FlinkParser(BaseParser):
    """sqlglot's parser plus Flink's window TVFs (and ``TABLE(...)`` around them)."""

    FUNCTION_PARSERS = {
        **BaseParser.FUNCTION_PARSERS,
        "TABLE": lambda self: self._parse_table_call(),
        **{name: (lambda self: self._parse_tvf_or_call()) for name in TVF_NAMES},
    }

    def raise_error(self, message: str, token: Token | None = None) -> None:
        """Like sqlglot's, but remembers the offending token's start offset."""
        token = token or self._curr or self._prev or Token.string("")
        error = ParseError.new(message, description=message, line=token.line, col=token.col)
        error.errors[0]["start"] = token.start
        error.errors[0]["at_end"] = not self._curr
        error.errors[0]["token"] = token.text
        if self.error_level == ErrorLevel.IMMEDIATE:
            raise error
        self.errors.append(error)

    def _name_token(self) -> Token:
        # called right after "NAME(" was consumed
        return self._tokens[self._index - 2]

    def _parse_table_call(self) -> exp.Expr | None:
        name = self._curr
        if not (name and self._next and self._next.token_type == TokenType.L_PAREN):
            self.raise_error("Expected a window function such as TUMBLE(...) inside TABLE(...)")
            return None
        self._advance(2)
        tvf = self._parse_tvf_args(name, wrapped=True)
        self._match_r_paren(tvf)
        if not self._match(TokenType.R_PAREN, advance=False):
            self.raise_error("Expecting )")
        return tvf

    def _parse_tvf_or_call(self) -> exp.Expr | None:
        name = self._name_token()
        starts_tvf = self._curr and (
            (self._curr.token_type == TokenType.TABLE and self._next.token_type != TokenType.L_PAREN)
            or self._next.token_type == TokenType.FARROW
        )
        if not starts_tvf:  # e.g. the legacy GROUP BY TUMBLE(ts, INTERVAL ...): the planner names it
            args = self._parse_function_args(alias=False)
            return exp.Anonymous(this=name.text, expressions=args).update_positions(name)
        tvf = self._parse_tvf_args(name, wrapped=False)
        if not self._match(TokenType.R_PAREN, advance=False):
            self.raise_error("Expecting )")
        return tvf

    def _parse_tvf_args(self, name: Token, wrapped: bool) -> WindowTVF:
        args: list[exp.Expr] = []
        while True:
            first = self._curr
            param = None
            if first and self._next.token_type == TokenType.FARROW:
                param = first.text.upper()
                self._advance(2)
            args.append(TVFArg(this=self._parse_tvf_value(), name=param).update_positions(first))
            if not self._match(TokenType.COMMA):
                break
        tvf = WindowTVF(this=name.text.upper(), expressions=args, wrapped=wrapped)
        return tvf.update_positions(name)

    def _parse_partition_keys(self) -> list[exp.Expr]:
        # Calcite: PARTITION BY key | PARTITION BY (key1, key2)
        if self._match(TokenType.L_PAREN, advance=False):
            return self._parse_wrapped_csv(self._parse_column)
        key = self._parse_column()
        if key is None:
            self.raise_error("Expected a column after PARTITION BY")
            return []
        return [key]

    def _parse_tvf_value(self) -> exp.Expr | None:
        token = self._curr
        if token and token.token_type == TokenType.TABLE and self._next.token_type != TokenType.L_PAREN:
            self._advance()
            table = self._parse_table_parts()
            keys = self._parse_partition_keys() if self._match(TokenType.PARTITION_BY) else []
            return TVFTable(this=table, partition_by=keys).update_positions(token)
        if token and token.text.upper() == "DESCRIPTOR" and self._next.token_type == TokenType.L_PAREN:
            self._advance()
            columns = self._parse_wrapped_csv(self._parse_column)
            return Descriptor(expressions=columns).update_positions(token)
        value = self._parse_assignment()
        if value is None:
            self.raise_error("Expected a window function argument")
        return value


class Flink(Dialect):
    """A Flink-ish sqlglot dialect: backtick identifiers and window TVFs.

    >>> tree = sqlglot.parse_one(
    ...     "SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))"
    ...     " GROUP BY window_start, window_end", read=Flink)
    >>> tree.find(WindowTVF).sql(dialect=Flink)
    "TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))"
    """

    class Tokenizer(Tokenizer):
        IDENTIFIERS = ["`", '"']

    Parser = FlinkParser

    class Generator(Generator):
        TRANSFORMS = {
            **Generator.TRANSFORMS,
            WindowTVF: _tvf_sql,
            TVFTable: _tvf_table_sql,
            TVFArg: _tvf_arg_sql,
            Descriptor: _descriptor_sql,
        }


_HINTS = {
    "Expecting )": "a parenthesis is not closed",
    "Expecting (": "a function call or DESCRIPTOR needs parentheses",
    "Expected a window function such as": "write FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))",
    "Expected a window function argument": "TVF arguments are TABLE src, DESCRIPTOR(ts) and INTERVALs",
}


def _syntax_error(sql: str, error: ParseError) -> SQLError:
    info = error.errors[0] if error.errors else {}
    description = info.get("description") or str(error).splitlines()[0]
    description = re.sub(r"<Token token_type: [^,]*, text: (.*?), line: .*?>", r"'\1'", description)
    if "start" in info:
        line, column = position(sql, info["start"])
        if info.get("at_end"):  # point just past the last token
            line, column = position(sql, len(sql.rstrip()))
    else:
        line, column = info.get("line") or 1, info.get("col") or 1
    if info.get("at_end"):
        what = "unexpected end of query"
        if description.startswith("Expecting "):
            what += f": expected {description.split(' ', 1)[1]!r}"
    elif description.startswith("Expecting "):
        what = f"expected {description.split(' ', 1)[1]!r}"
    elif description.startswith("Invalid expression / Unexpected token"):
        what = f"unexpected {info.get('token', '')!r}"
    elif description.startswith("Required keyword"):
        what = "incomplete clause"
    else:
        what = description[0].lower() + description[1:]
    hint = next((h for prefix, h in _HINTS.items() if description.startswith(prefix)), QUERY_SHAPE)
    return SQLError("syntax", what, hint, line, column)


def parse(sql: str) -> exp.Expr:
    """Parse one Flink SQL query into a sqlglot tree (a trailing ``;`` is fine).

    >>> parse("SELECT window_start, SUM(v) AS s "
    ...       "FROM TABLE(HOP(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '5' SECOND)) "
    ...       "GROUP BY window_start, window_end").find(WindowTVF).name
    'HOP'
    """
    if not sql.strip():
        raise SQLError("syntax", "empty query", QUERY_SHAPE)
    try:
        trees = [t for t in sqlglot.parse(sql, read=Flink) if t is not None]
    except ParseError as error:
        raise _syntax_error(sql, error) from None
    except TokenError as error:
        start = _unclosed_quote(sql)
        line, column = position(sql, error.start or 0 if start is None else start)
        raise SQLError("syntax", "cannot read the query text (unclosed quote?)",
                       "string literals use single quotes, identifiers backticks", line, column) from None
    if not trees:
        raise SQLError("syntax", "empty query", QUERY_SHAPE)
    if len(trees) > 1:
        line, column = _node_position(sql, trees[1])
        raise SQLError("unsupported", "more than one statement",
                       "put one query in each %%streamlab cell", line, column)
    return trees[0]


def _unclosed_quote(sql: str) -> int | None:
    """Offset of the quote that opens a never-closed string or identifier, if any."""
    i, n = 0, len(sql)
    while i < n:
        two = sql[i:i + 2]
        if two == "--":
            i = sql.find("\n", i)
            i = n if i < 0 else i
        elif two == "/*":
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        elif sql[i] in "'`\"":
            quote, start = sql[i], i
            i += 1
            while i < n and not (sql[i] == quote and sql[i + 1:i + 2] != quote):
                i += 2 if sql[i] == quote else 1
            if i >= n:
                return start
        i += 1
    return None


def _node_position(sql: str, node: exp.Expr) -> tuple[int, int]:
    for sub in node.walk():
        if "start" in sub.meta:
            return position(sql, sub.meta["start"])
    return 1, 1


def node_position(sql: str, node: exp.Expr | None) -> tuple[int, int]:
    """1-based (line, column) of the first located token in ``node`` (else 1, 1)."""
    return (1, 1) if node is None else _node_position(sql, node)
