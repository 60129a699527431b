"""Read a pipeline as the linear chain Flink SQL can express, or refuse with the step's name.

``source -> [watermark] -> where / assign ... -> window(...).agg(...) [-> SQL select list]``

Steps are numbered from the source (step 1), in the order they were written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..core.node import Node
from ..core.timecol import TimeMeta
from ..sources.base import Source
from ..transforms import assign as Assign
from ..transforms import watermark as Watermark
from ..transforms import where as Where
from ..windows.operator import WindowAgg

SCALARS = (bool, int, float, str)


@runtime_checkable
class FlinkPredicate(Protocol):
    """A where() predicate that writes itself as Flink SQL (a ``%%streamlab`` WHERE)."""

    def flink_sql(self) -> str: ...


class Output(Protocol):
    """One column of a select list: ``name`` in the result, taken from window column ``source``."""

    name: str
    source: str
    refs: Sequence


@runtime_checkable
class SelectList(Protocol):
    """A ``%%streamlab`` select list over a window result (``streamlab.sql.project.Project``)."""

    outputs: Sequence[Output]
    window: WindowAgg


class QueryPlan(Protocol):
    """The ``%%streamlab`` query a result came from (``streamlab.sql.plan.QueryPlan``)."""

    source: str

    def describe(self) -> str: ...


@dataclass
class Chain:
    """The pipeline's steps, from source to window result."""

    source: Source
    window: WindowAgg
    watermark: Watermark | None = None
    wheres: list[Where] = field(default_factory=list)
    constants: dict[str, object] = field(default_factory=dict)  # assign(c=<scalar>)
    project: SelectList | None = None
    sql_plan: QueryPlan | None = None
    window_step: int = 0

    @property
    def time_meta(self) -> TimeMeta:
        """The event-time column and unit the window uses."""
        meta = self.window.time_meta
        if meta is None:  # window() refuses streams without one
            raise ValueError(f"{self.window.label()} has no event-time column")
        return meta

    @property
    def idle_timeout(self) -> int | None:
        """The watermark's idle timeout in ms (None when it has none)."""
        return self.watermark.idle_timeout if self.watermark is not None else None


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
    if isinstance(stream, SelectList):
        project, node = stream, stream.window
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
    if isinstance(step, Watermark):
        if chain.watermark is not None:
            raise ValueError(f"{describe(i, step)} is a second watermark; Flink SQL has one "
                             "WATERMARK per source table — keep one .watermark(...)")
        if chain.wheres:
            raise ValueError(
                f"{describe(i, step)} comes after a where(): streamlab computes the watermark from "
                f"the rows that pass, Flink from every row of the source table — put "
                f".watermark(...) before .where(...)")
        chain.watermark = step
    elif isinstance(step, Where):
        if not isinstance(step.predicate, str | FlinkPredicate):
            raise ValueError(
                f"{describe(i, step)} is a Python callable; Flink SQL cannot run it — use a "
                f"query string such as where('v > 0')")
        chain.wheres.append(step)
    elif isinstance(step, Assign):
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
            f"{describe(i, step)} is a {step.kind if isinstance(step, Node) else 'streamz'} "
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
