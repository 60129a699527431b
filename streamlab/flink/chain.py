"""Read a pipeline as the linear chain Flink SQL can express, or refuse with the step's name.

``source -> [watermark] -> where / assign ... -> window(...).agg(...) [-> SQL select list]``

Steps are numbered from the source (step 1), in the order they were written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..sources.base import Source
from ..core.node import Node
from ..windows.operator import WindowAgg

SCALARS = (bool, int, float, str)


@dataclass
class Chain:
    """The pipeline's steps, from source to window result."""

    source: Source
    window: WindowAgg
    watermark: Node | None = None
    wheres: list[Node] = field(default_factory=list)
    constants: dict[str, object] = field(default_factory=dict)  # assign(c=<scalar>)
    project: Node | None = None  # a %%streamlab select list
    sql_plan: object = None
    window_step: int = 0

    @property
    def idle_timeout(self) -> int | None:
        """The watermark's idle timeout in ms (None when it has none)."""
        return getattr(self.watermark, "idle_timeout", None)


def describe(i: int, node) -> str:
    """``step 3 where(<lambda>)``, for messages."""
    if isinstance(node, Node):
        return f"step {i} {node.label()}"
    func = getattr(node, "func", None)
    name = getattr(func, "__name__", None)
    return f"step {i} {type(node).__name__}({name or ''})"


def read_chain(stream) -> Chain:
    """The :class:`Chain` ending at ``stream``; ValueError naming the first step Flink cannot run.

    >>> import streamlab as sl, pandas as pd
    >>> src = sl.from_frame(pd.DataFrame({"ts": [0, 1], "v": [1.0, 2.0]}), time="ts", unit="ms")
    >>> chain = read_chain(src.watermark(5).where("v > 0").window(sl.Tumble(10)).agg(s=("v", "sum")))
    >>> chain.watermark.delay, [w.predicate for w in chain.wheres], chain.window_step
    (5, ['v > 0'], 4)
    >>> read_chain(src.watermark(5).map(lambda df: df).window(sl.Tumble(10)).agg(s=("v", "sum")))
    Traceback (most recent call last):
    ...
    ValueError: step 3 map(<lambda>) is a streamz operator; Flink SQL cannot run Python code between the source and the window — use where('query string') or move the step after the window
    """
    project, node = None, stream
    if getattr(stream, "kind", None) == "select" and hasattr(stream, "outputs"):
        project, node = stream, stream.upstreams[0]
    if not isinstance(node, WindowAgg):
        raise ValueError(
            f"to_flink_sql exports a window result (src.watermark(...).window(...).agg(...)); "
            f"{stream!r} is not one"
        )
    steps = []
    up = node
    while not isinstance(up, Source):
        ups = [u for u in getattr(up, "upstreams", []) if u is not None]
        if len(ups) != 1:
            raise ValueError(f"{up!r} has {len(ups)} inputs; Flink export follows a single chain "
                             "from one source")
        up = ups[0]
        steps.append(up)
    steps.reverse()  # source first
    chain = Chain(source=steps[0], window=node, project=project)
    chain.sql_plan = getattr(stream, "sql_plan", None) or getattr(node, "sql_plan", None)
    for i, step in enumerate(steps[1:], start=2):
        _add_step(chain, i, step)
    chain.window_step = len(steps) + 1
    _check_window(chain, chain.window_step)
    return chain


def _add_step(chain: Chain, i: int, step) -> None:
    kind = getattr(step, "kind", None) if isinstance(step, Node) else None
    if kind == "watermark":
        if chain.watermark is not None:
            raise ValueError(f"{describe(i, step)} is a second watermark; Flink SQL has one "
                             "WATERMARK per source table — keep one .watermark(...)")
        if chain.wheres:
            raise ValueError(
                f"{describe(i, step)} comes after a where(): streamlab computes the watermark from "
                f"the rows that pass, Flink from every row of the source table — put "
                f".watermark(...) before .where(...)")
        chain.watermark = step
    elif kind == "where":
        pred = step.predicate
        if not isinstance(pred, str) and not hasattr(pred, "predicate"):  # SQLPredicate is fine
            raise ValueError(
                f"{describe(i, step)} is a Python callable; Flink SQL cannot run it — use a "
                f"query string such as where('v > 0')")
        chain.wheres.append(step)
    elif kind == "assign":
        for name, value in step.new_columns.items():
            if callable(value) or not isinstance(value, SCALARS):
                raise ValueError(
                    f"{describe(i, step)}: column {name!r} is computed by Python "
                    f"({type(value).__name__}); Flink SQL cannot run it — compute it before the "
                    f"source (a column of the file or topic), or assign a constant")
            if name in (chain.source.columns or []) or name in chain.constants:
                raise ValueError(f"{describe(i, step)} replaces column {name!r}; Flink export "
                                 "only adds new constant columns")
            chain.constants[name] = value
    else:
        raise ValueError(
            f"{describe(i, step)} is a {'streamz' if not isinstance(step, Node) else kind} "
            f"operator; Flink SQL cannot run Python code between the source and the window — "
            f"use where('query string') or move the step after the window")


def _check_window(chain: Chain, i: int) -> None:
    window = chain.window
    where = f"step {i} {window.label()}"
    if chain.wheres and chain.watermark is None:
        raise ValueError(
            f"{where}: the where() before it filters rows before any watermark, so streamlab "
            f"computes the watermark from the rows that pass, but Flink computes it on the source "
            f"table, from every row — add .watermark('0ms') (or the delay you want) before .where()")
    if window.lateness:
        raise ValueError(f"{where} has allowed_lateness: Flink SQL window TVFs drop every late "
                         "row (no allowed lateness) — export without allowed_lateness")
    if window.emit_early is not None:
        raise ValueError(f"{where} has emit_early: Flink SQL window TVFs emit only final rows "
                         "— export without emit_early")
