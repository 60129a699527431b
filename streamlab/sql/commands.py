"""What the magics ask of the engine: build a plan, run, inspect and export pipelines.

Kept apart from :mod:`streamlab.magics` so the IPython layer only parses options. Every
failure is an :class:`~streamlab.sql.errors.SQLError` without a position (``line=None``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from streamlab.sql.compile import compile_plan
from streamlab.sql.errors import ErrorKind, SQLError
from streamlab.sql.plan import QueryPlan
from streamlab.sql.windows import AlignedWindow

COMMANDS = ("list", "start", "pause", "resume", "step", "stop", "inspect", "late", "graph",
            "export")
RUN_COMMANDS = ("start", "pause", "resume", "step", "stop")
LIST_COLUMNS = ["name", "state", "events_in", "late", "errors"]


def _fail(kind: ErrorKind, what: str, hint: str = "") -> SQLError:
    return SQLError(kind, what, hint, None, None)


def pipelines() -> dict[str, Any]:
    """``streamlab.pipelines()``, or ``{}`` while the engine offers no registry."""
    try:
        import streamlab
    except ImportError:
        return {}
    registry = getattr(streamlab, "pipelines", None)
    return dict(registry()) if callable(registry) else {}


def pipeline_of(stream: Any) -> Any:
    """The pipeline a stream belongs to, or None."""
    try:
        return getattr(stream, "pipeline", None)
    except (ImportError, LookupError, ValueError):  # ValueError: no streamlab source upstream
        return None


def stream_of(pipeline: Any, results: dict[str, Any]) -> Any:
    """A ``%%streamlab --name`` result that runs in ``pipeline``, if any."""
    for stream in results.values():
        if pipeline_of(stream) is pipeline:
            return stream
    return None


def build(plan: QueryPlan, stream: Any, watermark: Any = None) -> Any:
    """``compile_plan`` with the engine's refusals turned into SQLErrors.

    The result carries its plan as ``result.sql_plan`` (e.g. for a later Flink export).
    """
    try:
        result = compile_plan(plan, stream, watermark)
    except (ImportError, AttributeError) as error:
        raise _fail("unavailable", f"the streamlab engine cannot build this query ({error})",
                    "reinstall streamlab; the SQL layer needs sl.Tumble/Hop/Cumulate/Session") from None
    except TypeError as error:
        if isinstance(plan.window, AlignedWindow) and plan.window.offset and "offset" in str(error):
            raise _fail("unsupported", f"{plan.window.NAME} with an offset",
                        "drop the offset argument") from None
        raise
    except ValueError as error:
        raise _fail("engine", str(error).splitlines()[0],
                    f"the query is valid SQL, but streamlab refused: {plan.describe()}") from None
    result.sql_plan = plan
    return result


def rename(result: Any, name: str) -> None:
    """Give the result's pipeline the ``--name`` (when the engine can rename pipelines)."""
    pipeline = pipeline_of(result)
    if pipeline is not None and callable(getattr(pipeline, "rename", None)):
        pipeline.rename(name)


def show_plot(result: Any, kind: str, options: dict[str, Any]) -> Any:
    """Display ``result.plot.<kind>(**options)``; SQLError "unavailable" if there is no plot."""
    try:
        accessor = getattr(result, "plot", None)
    except ImportError as error:
        accessor, reason = None, str(error)
    else:
        reason = "the result stream has no .plot"
    method = getattr(accessor, kind, None)
    if method is None:
        raise _fail("unavailable", f"res.plot.{kind} is not available ({reason})",
                    "install the notebook extras: pip install 'streamlab[notebook]'")
    figure = method(**options)
    from IPython.display import display

    display(figure)
    return figure


def collect(result: Any) -> pd.DataFrame:
    """``result.collect()``; an infinite source gives a usage error instead of hanging."""
    try:
        return result.collect()
    except ValueError as error:
        raise _fail("usage", str(error).splitlines()[0],
                    "--collect runs finite sources; use --start for live ones") from None


def run(target: Any, command: str) -> None:
    """Call ``start|pause|resume|step|stop`` on a stream or pipeline and print its new state."""
    method = getattr(target, command, None)
    if not callable(method):
        raise _fail("unavailable", f"{command} is not available on {target!r}")
    try:
        method()
    except RuntimeError as error:  # e.g. PipelineStateError: start while running
        raise _fail("usage", str(error).splitlines()[0], "see %streamlab list") from None
    pipeline = pipeline_of(target) or target
    name, state = getattr(pipeline, "name", "?"), getattr(pipeline, "state", "?")
    print(f"{name}: {state}")


def _snapshot(target: Any, limit: int | None = None) -> dict:
    try:
        return target.snapshot(limit=limit)
    except TypeError:
        return target.snapshot()


def totals(snapshot: dict) -> dict[str, int]:
    """Events in (rows the sources emitted), late and error rows of a pipeline snapshot.

    The snapshot's own ``counters`` are used when present, else the operators' are summed.

    >>> totals({"counters": {"in": 10, "out": 2, "late": 3, "errors": 1}})
    {'events_in': 10, 'late': 3, 'errors': 1}
    >>> totals({"operators": [
    ...     {"kind": "source", "counters": {"in": 0, "out": 10, "late": 0, "errors": 0}},
    ...     {"kind": "window", "counters": {"in": 10, "out": 2, "late": 3, "errors": 1}}]})
    {'events_in': 10, 'late': 3, 'errors': 1}
    """
    counters = snapshot.get("counters")
    if counters:
        return {"events_in": int(counters.get("in") or 0), "late": int(counters.get("late") or 0),
                "errors": int(counters.get("errors") or 0)}
    ops = [op for op in snapshot.get("operators", []) if op.get("kind") != "side"]
    count = lambda op, key: int((op.get("counters") or {}).get(key) or 0)  # noqa: E731
    return {"events_in": sum(count(op, "out") for op in ops if op.get("kind") == "source"),
            "late": sum(count(op, "late") for op in ops),
            "errors": sum(count(op, "errors") for op in ops)}


def pipeline_table(pipes: dict[str, Any]) -> pd.DataFrame:
    """``%streamlab list``: one row per pipeline (name, state, events in, late, errors)."""
    rows = []
    for name, pipeline in pipes.items():
        snap = _snapshot(pipeline, 0)
        rows.append({"name": name, "state": getattr(pipeline, "state", snap.get("state")),
                     **totals(snap)})
    return pd.DataFrame(rows, columns=LIST_COLUMNS)


def snapshot(stream: Any, pipeline: Any, limit: int) -> dict:
    """``%streamlab inspect``: the JSON-able snapshot of every operator."""
    return _snapshot(stream if stream is not None else pipeline, limit)


def late_rows(stream: Any, pipeline: Any, limit: int) -> pd.DataFrame:
    """``%streamlab late``: the late rows the window operator kept so far (bounded)."""
    late = getattr(stream, "late", None) if stream is not None else None
    if late is None:
        windows = _windows(pipeline)
        late = windows[0].late if windows else None
    ledger = getattr(late, "ledger", None)
    if not callable(ledger):
        raise _fail("unavailable", "no late-row ledger for this name",
                    "name a window result (res = ...window(...).agg(...)) or a %%streamlab --name")
    return ledger(limit)


class OperatorGraph:
    """``%streamlab graph``: the operator graph, SVG in a notebook and text elsewhere."""

    def __init__(self, operators: list[Mapping[str, Any]]):
        self.operators = operators

    def __repr__(self) -> str:
        names = {op["id"]: op.get("label", op["id"]) for op in self.operators}
        lines = []
        for op in self.operators:
            c = op.get("counters") or {}
            ups = ", ".join(names.get(u, u) for u in op.get("upstreams") or []) or "-"
            lines.append(f"{op.get('label', op['id'])} [{op.get('kind')}] <- {ups}: "
                         f"in {c.get('in', 0)} out {c.get('out', 0)} late {c.get('late', 0)} "
                         f"errors {c.get('errors', 0)}")
        return "\n".join(lines)

    def _repr_svg_(self) -> str | None:
        try:
            from streamlab.widgets.graph import render_svg
        except ImportError:
            return None
        return render_svg(self.operators)


def graph(stream: Any, pipeline: Any) -> OperatorGraph:
    """The operator graph from the snapshot."""
    return OperatorGraph(list(snapshot(stream, pipeline, 0).get("operators", [])))


def export_flink(stream: Any, pipeline: Any, connector: str | None = None, **options: Any) -> str:
    """``%streamlab export NAME --flink``: runnable Flink SQL for a window or join result.

    A streamlab stream goes to :func:`streamlab.flink_sql.to_flink_sql` (so a ``%%streamlab``
    select list is kept); a pipeline name exports its window operator. A pipeline Flink SQL
    cannot express gives SQLError "unsupported" naming the step.
    """
    from streamlab.core.node import Node

    target = stream if stream is not None else _window_of(pipeline)
    if isinstance(target, Node):
        from streamlab.flink_sql import to_flink_sql

        try:
            return to_flink_sql(target, connector or "filesystem", **options)
        except (ValueError, TypeError) as error:
            what = str(error).splitlines()[0]
            hint = "see help(streamlab.flink.to_flink_sql) for what Flink SQL can express"
            if "lookup_table=" in what:  # a merge with a DataFrame: the magic's option for it
                hint = "add --lookup-table TABLE (the Flink lookup table holding the DataFrame's rows)"
            raise _fail("unsupported", what, hint) from None
    method = getattr(target, "to_flink_sql", None)
    if not callable(method):
        raise _fail("unsupported", f"{target!r} is not a streamlab window result",
                    "export res = src.watermark(...).window(...).agg(...) or a %%streamlab --name")
    return method() if connector is None else method(connector=connector)


def _windows(pipeline: Any) -> list[Any]:
    """The window operators of a pipeline (none for None)."""
    from streamlab.windows import WindowAgg

    nodes = pipeline.nodes() if callable(getattr(pipeline, "nodes", None)) else []
    return [n for n in nodes if isinstance(n, WindowAgg)]


def _window_of(pipeline: Any) -> Any:
    """The (last) window operator of a pipeline, or the pipeline itself when it has none."""
    windows = _windows(pipeline)
    return windows[-1] if windows else pipeline
