"""The query's pieces: windowing TVF call, aggregates (with pandas' result types) and WHERE."""

from __future__ import annotations

from ..windows.specs import Cumulate, Hop, Session, Tumble
from .chain import Chain
from .query import query_to_sql
from .render import ident, interval
from .schema import NUMERIC, base, is_integer

#: Aggregates whose Flink function cannot merge partial results (HOP, CUMULATE and SESSION
#: windows need merging); Flink 2.3 rejects them there.
TUMBLE_ONLY = ("first", "last")
_SIMPLE = {"count": "COUNT", "first": "FIRST_VALUE", "last": "LAST_VALUE"}
_DOUBLE = {"mean": "AVG", "std": "STDDEV_SAMP", "var": "VAR_SAMP"}
SUPPORTED = ("count", "size", "sum", "mean", "min", "max", "first", "last", "std", "var")
#: Window spec -> Flink window TVF (SESSION has its own argument order).
TVFS = {Tumble: "TUMBLE", Hop: "HOP", Cumulate: "CUMULATE", Session: "SESSION"}


def tvf_call(window, table: str, rowtime: str) -> str:
    """``TUMBLE(TABLE src, DESCRIPTOR(ts), size[, offset])`` and friends (Flink's argument order).

    >>> import streamlab as sl, pandas as pd
    >>> src = sl.from_frame(pd.DataFrame({"ts": [0], "k": ["a"]}), time="ts", unit="ms")
    >>> tvf_call(src.window(sl.Hop("10s", "1s", offset="250ms")).agg(n=("k", "size")), "src", "ts")
    "HOP(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '10' SECOND, INTERVAL '0.250' SECOND)"
    >>> tvf_call(src.window(sl.Session("30s"), by="k").agg(n=("k", "size")), "src", "ts")
    "SESSION(TABLE src PARTITION BY k, DESCRIPTOR(ts), INTERVAL '30' SECOND)"
    """
    spec, plan = window.spec, window.plan
    data = f"TABLE {ident(table)}"
    if isinstance(spec, Session):
        if window.by:
            data += f" PARTITION BY {', '.join(ident(k) for k in window.by)}"
        return f"SESSION({data}, DESCRIPTOR({ident(rowtime)}), {interval(plan.gap)})"
    args = [data, f"DESCRIPTOR({ident(rowtime)})"]
    if isinstance(spec, Tumble):
        args.append(interval(plan.size))
    else:  # HOP(slide, size), CUMULATE(step, size)
        args += [interval(plan.pane), interval(plan.size)]
    if plan.offset:
        args.append(interval(plan.offset))
    return f"{TVFS[type(spec)]}({', '.join(args)})"


def aggregate(spec, types: dict[str, str], chain: Chain) -> tuple[str, str]:
    """(SQL expression, Flink result type) of one ``name=(column, func)`` aggregate.

    Result types follow what streamlab gives: ``mean``, ``std`` and ``var`` are DOUBLE even over
    integers (``AVG(CAST(v AS DOUBLE))``), and ``sum``/``min``/``max`` are BIGINT over integers and
    DOUBLE otherwise.
    """
    func, where = spec.func, f"step {chain.window_step} {chain.window.label()}"
    if not isinstance(func, str):
        raise ValueError(f"{where}: agg {spec.label()} is a Python callable; Flink SQL cannot run "
                         f"it — use one of {', '.join(SUPPORTED)}")
    if func not in SUPPORTED:
        raise ValueError(f"{where}: agg {spec.label()} has no Flink SQL window aggregate with "
                         f"pandas' result (no exact median) — use one of {', '.join(SUPPORTED)}")
    if func == "size":
        return "COUNT(*)", "BIGINT"
    col, flink = ident(spec.column), types[spec.column]
    if func in TUMBLE_ONLY and not isinstance(chain.window.spec, Tumble):
        raise ValueError(f"{where}: agg {spec.label()}: Flink's {_SIMPLE[func]} cannot merge "
                         "partial results, which HOP, CUMULATE and SESSION windows need — "
                         "use it with Tumble only")
    if func in _SIMPLE:
        return f"{_SIMPLE[func]}({col})", "BIGINT" if func == "count" else flink
    if base(flink) not in NUMERIC:
        raise ValueError(f"{where}: agg {spec.label()} needs a numeric column; {spec.column!r} "
                         f"is {flink}")
    if func in _DOUBLE:
        return f"{_DOUBLE[func]}({_cast(col, flink, 'DOUBLE')})", "DOUBLE"
    target = "BIGINT" if is_integer(flink) else "DOUBLE"
    return f"{func.upper()}({_cast(col, flink, target)})", target


def _cast(col: str, flink: str, target: str) -> str:
    if base(flink) == target:
        return col
    if base(flink) == "BOOLEAN":
        col = f"CAST({col} AS INT)"
    return f"CAST({col} AS {target})"


def where_sql(chain: Chain, types: dict[str, str]) -> str:
    """The WHERE condition: every where() step, AND-ed, in order."""
    parts = []
    for step in chain.wheres:
        pred = step.predicate
        if isinstance(pred, str):
            parts.append(query_to_sql(pred, list(types)))
        else:  # a %%streamlab WHERE (a FlinkPredicate): already SQL
            parts.append(pred.flink_sql())
    return parts[0] if len(parts) == 1 else " AND ".join(f"({p})" for p in parts)
