"""pandas query strings (``where("v > 0 and key != 'a'")``) as Flink SQL predicates.

Supported: comparisons (also chained, ``0 < v <= 5``), ``and``/``or``/``not`` (and pandas' ``&``,
``|``, ``~``), ``in``/``not in`` and ``== [list]``, ``+ - * /``, numbers, strings, True/False,
backtick-quoted names and ``col.isna()``/``col.notna()``.

NULLs: pandas compares a missing value as False, except ``!=`` and ``not in``, which are True; SQL
gives UNKNOWN. Where the two would keep different rows the comparison is wrapped in ``COALESCE``
(e.g. ``COALESCE(v <> 1, TRUE)``), so the rows are the same in both.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

from .render import ident, literal

_BACKTICK = re.compile(r"`([^`]*)`")
_CMP = {ast.Eq: "=", ast.NotEq: "<>", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}
_NULL_CHECKS = {"isna": "IS NULL", "isnull": "IS NULL", "notna": "IS NOT NULL",
                "notnull": "IS NOT NULL"}


def query_to_sql(text: str, columns: list[str] | None = None) -> str:
    """Translate a pandas query string into a Flink SQL condition; ValueError if it cannot.

    >>> query_to_sql("v > 0.5 and key in ['a', 'b']")
    "(v > 0.5 AND key IN ('a', 'b'))"
    >>> query_to_sql("`my col` != 1 | ~(value < -2)")
    '(COALESCE(`my col` <> 1, TRUE) OR NOT (COALESCE(`value` < -2, FALSE)))'
    >>> query_to_sql("0 <= v < 10")
    '(0 <= v AND v < 10)'
    """
    names: dict[str, str] = {}

    def hide(match: re.Match) -> str:
        token = f"__bt{len(names)}__"
        names[token] = match.group(1)
        return token

    source = _BACKTICK.sub(hide, text)
    try:
        tree = ast.parse(_pandas_operators(source).strip(), mode="eval")
    except (SyntaxError, tokenize.TokenError):
        raise ValueError(f"cannot read {text!r} as a pandas query; hint: write e.g. \"v > 0 and key == 'a'\""
                         + ("; @variables are not supported: write the value" if "@" in text else "")
                         ) from None
    return _Translator(text, names, columns).predicate(tree.body, True)


def _pandas_operators(text: str) -> str:
    """Rewrite ``&``, ``|``, ``~`` as and/or/not, with their precedence, as pandas does."""
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.OP and tok.string in ("&", "|", "~"):
            out.append((tokenize.NAME, {"&": "and", "|": "or", "~": "not"}[tok.string]))
        else:
            out.append((tok.type, tok.string))
    return tokenize.untokenize(out)


class _Translator:
    def __init__(self, text: str, names: dict[str, str], columns: list[str] | None):
        self.text, self.names, self.columns = text, names, columns

    def fail(self, node: ast.AST, what: str) -> ValueError:
        piece = ast.unparse(node)
        for token, name in self.names.items():
            piece = piece.replace(token, f"`{name}`")
        return ValueError(f"{what} in where({self.text!r}): {piece!r}; Flink export supports "
                          "comparisons, and/or/not, in, + - * / and literals")

    # -- predicates: ``positive`` is False under an odd number of NOTs ----------------------------
    def predicate(self, node: ast.AST, positive: bool) -> str:
        if isinstance(node, ast.BoolOp):
            joiner = " AND " if isinstance(node.op, ast.And) else " OR "
            return "(" + joiner.join(self.predicate(v, positive) for v in node.values) + ")"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return f"NOT ({self.predicate(node.operand, not positive)})"
        if isinstance(node, ast.Compare):
            parts, left = [], node.left
            for op, right in zip(node.ops, node.comparators):
                parts.append(self.compare(op, left, right, positive))
                left = right
            return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"
        if isinstance(node, ast.Call):
            return self.null_check(node)
        if isinstance(node, ast.Name) or (isinstance(node, ast.Constant) and isinstance(node.value, bool)):
            return self.operand(node)  # a boolean column, or TRUE/FALSE
        raise self.fail(node, "not a condition")

    def compare(self, op: ast.cmpop, left: ast.AST, right: ast.AST, positive: bool) -> str:
        lhs = self.operand(left)
        if isinstance(op, (ast.In, ast.NotIn)) or (
                isinstance(op, (ast.Eq, ast.NotEq)) and isinstance(right, (ast.List, ast.Tuple))):
            if not isinstance(right, (ast.List, ast.Tuple, ast.Set)):
                raise self.fail(right, "`in` needs a list of values")
            negated = isinstance(op, (ast.NotIn, ast.NotEq))
            sql = f"{lhs} {'NOT IN' if negated else 'IN'} ({', '.join(self.operand(v) for v in right.elts)})"
        elif type(op) in _CMP:
            negated = isinstance(op, ast.NotEq)
            sql = f"{lhs} {_CMP[type(op)]} {self.operand(right)}"
        else:
            raise self.fail(op, f"operator {type(op).__name__}")
        # pandas: a NULL operand makes ==, <, in ... False and !=, not in True.
        # SQL: UNKNOWN, which drops the row at the top and stays UNKNOWN under NOT.
        if negated and positive:
            return f"COALESCE({sql}, TRUE)"
        if not negated and not positive:
            return f"COALESCE({sql}, FALSE)"
        return sql

    def null_check(self, node: ast.Call) -> str:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _NULL_CHECKS and not node.args:
            return f"{self.operand(func.value)} {_NULL_CHECKS[func.attr]}"
        raise self.fail(node, "function calls other than col.isna()/col.notna()")

    # -- operands ------------------------------------------------------------------------------
    def operand(self, node: ast.AST) -> str:
        if isinstance(node, ast.Name):
            name = self.names.get(node.id, node.id)
            if self.columns is not None and name not in self.columns:
                raise self.fail(node, f"unknown column {name!r} (columns: {', '.join(self.columns)})")
            return ident(name)
        if isinstance(node, ast.Constant):
            return literal(node.value, lambda: self.fail(node, "unsupported literal"))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.operand(node.operand)
            sign = "-" if isinstance(node.op, ast.USub) else ""
            return f"{sign}{inner}" if isinstance(node.operand, ast.Constant) else f"{sign}({inner})"
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            return f"({self.operand(node.left)} {_ARITH[type(node.op)]} {self.operand(node.right)})"
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):  # pandas: true division
            return f"(CAST({self.operand(node.left)} AS DOUBLE) / {self.operand(node.right)})"
        if isinstance(node, ast.BinOp):
            raise self.fail(node, f"operator {type(node.op).__name__} (its sign rules differ in SQL)")
        raise self.fail(node, "unsupported expression")
