"""Pipelines: the connected graph of a source, run synchronously (``collect``) or on the running loop.

There is one event-loop policy: ``start()`` schedules tasks on the running asyncio loop (the
kernel's loop in Jupyter) and never starts a thread. Scripts use the synchronous ``collect()``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import weakref

import pandas as pd

from .core.errors import PipelineStateError
from .core.side import SideOutput, visible
from .sources.base import Source
from .core.node import Node
from .core.timecol import NEG_INF, POS_INF, format_time

_registry: weakref.WeakValueDictionary[str, Pipeline] = weakref.WeakValueDictionary()
_running: dict[str, Pipeline] = {}
_counter = itertools.count(1)
TIMER_INTERVAL_S = 0.05


def pipelines() -> dict[str, Pipeline]:
    """The named pipelines of this process (kernel), by name.

    >>> import streamlab as sl, pandas as pd
    >>> res = sl.from_frame(pd.DataFrame({"ts": [1]}), time="ts", unit="s").window(sl.Tumble(1)).agg(n=("ts", "size"))
    >>> p = res.pipeline.rename("doc-example")
    >>> "doc-example" in sl.pipelines()
    True
    """
    return dict(sorted(_registry.items()))


def graph_nodes(node) -> list:
    """All streams connected to ``node`` (upstream, downstream and side outputs)."""
    seen: dict[int, object] = {}
    todo = [node]
    while todo:
        s = todo.pop()
        if s is None or id(s) in seen:
            continue
        seen[id(s)] = s
        if not isinstance(s, Source):
            todo.extend(getattr(s, "upstreams", []))
        todo.extend(getattr(s, "downstreams", []))
        for attr in ("late", "_errors", "parent"):
            other = getattr(s, attr, None)
            if other is not None and hasattr(other, "downstreams"):
                todo.append(other)
    return list(seen.values())


def pipeline_of(node) -> Pipeline:
    sources = [s for s in graph_nodes(node) if isinstance(s, Source)]
    if not sources:
        raise ValueError(f"{node!r} has no streamlab source upstream; start from sl.from_frame(...), sl.demo...")
    for src in sources:
        pipe = getattr(src, "_pipeline", None)
        if pipe is not None:
            for other in sources:
                other._pipeline = pipe
            return pipe
    return Pipeline(sources)


class Pipeline:
    """A named, registered dataflow graph: start, pause, resume, step, stop, reset, inspect."""

    def __init__(self, sources: list[Source], name: str | None = None):
        self.sources = list(sources)
        for src in self.sources:
            src._pipeline = self
        self.name = name or f"{self.sources[0].label().split(':')[0]}-{next(_counter)}"
        _registry[self.name] = self
        self.state = "idle"
        self._tasks: list[asyncio.Task] = []
        self._resumed = None
        self._targets: list = []
        self._started_at = None

    def __repr__(self) -> str:
        return f"<Pipeline {self.name!r} {self.state}>"

    def rename(self, name: str) -> Pipeline:
        """Register under ``name`` (a running pipeline already under that name is stopped)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        old = _registry.get(name)
        if old is not None and old is not self:
            old.stop()
        _registry.pop(self.name, None)
        _running.pop(self.name, None)
        self.name = name
        _registry[name] = self
        if self.state in ("running", "paused"):
            _running[name] = self
        return self

    # --- graph ----------------------------------------------------------------------------
    def nodes(self) -> list:
        """Every stream in the graph, sources first (topological order)."""
        found = graph_nodes(self.sources[0])
        for src in self.sources[1:]:
            for n in graph_nodes(src):
                if all(n is not m for m in found):
                    found.append(n)
        order, done = [], set()

        def visit(n):
            if id(n) in done:
                return
            done.add(id(n))
            ups = [] if isinstance(n, Source) else list(getattr(n, "upstreams", []))
            if getattr(n, "parent", None) is not None:
                ups.append(n.parent)
            for u in ups:
                if any(u is f for f in found):
                    visit(u)
            order.append(n)

        for n in found:
            visit(n)
        return order

    def _call(self, method: str, *args) -> None:
        for n in self.nodes():
            fn = getattr(n, method, None)
            if fn is not None:
                fn(*args)

    @property
    def speed(self):
        """Replay speed of the sources (None: as fast as possible)."""
        return self.sources[0].speed

    @speed.setter
    def speed(self, value) -> None:
        from .sources.base import check_speed

        value = check_speed(value)
        for src in self.sources:
            src.speed = value
            src.unanchor()

    # --- synchronous running --------------------------------------------------------------
    def step(self) -> int:
        """Emit one batch from every source, synchronously. Returns the rows emitted."""
        if self.state == "stopped":
            raise PipelineStateError(f"pipeline {self.name!r} is stopped; reset() it to run again")
        checkpointer = getattr(self, "_checkpointer", None)
        if checkpointer is not None:  # a quiet point between batches: periodic checkpoints go here
            checkpointer.maybe()
        emitted = 0
        live = [s for s in self.sources if not s.exhausted]
        for src in live:
            got = src.next_batch()
            if got is not None:
                src.emit_batch(got[0])
                emitted += len(got[0])
        if all(s.exhausted for s in self.sources) and self.state != "finished":
            self.flush()
        return emitted

    def flush(self) -> None:
        """End of input: sources send what they buffer, then every open window fires."""
        self._call("flush")
        self.state = "finished"
        _running.pop(self.name, None)

    def reset(self) -> None:
        """Stop, forget all state and rewind the sources to the start."""
        self.stop()
        self._call("reset_state")
        self.state = "idle"

    def _attach(self, target):
        frames: list[pd.DataFrame] = []
        sink = target.sink(frames.append)
        sink._graphviz_shape = "none"
        return frames, sink

    def _result(self, target, frames) -> pd.DataFrame:
        frames = [f for f in frames if len(f)]
        if frames:
            return visible(pd.concat(frames, ignore_index=True))
        empty = getattr(target, "empty_output", None)
        if empty is not None:
            return empty()
        cols = getattr(target, "columns", None) or []
        return pd.DataFrame(columns=[c for c in cols])

    def collect(self, target, n: int | None = None, timeout: float | None = None) -> pd.DataFrame:
        """Run (from the start) and return what ``target`` emitted. See ``Node.collect``."""
        self._check_collect(n, timeout)
        if any(s.speed is not None for s in self.sources):
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return asyncio.run(self.acollect(target, n=n, timeout=timeout))
            raise PipelineStateError(
                "collect() with speed= set cannot block the running event loop (Jupyter); "
                "use `await res.acollect(timeout=...)`, or speed=None to run as fast as possible"
            )
        if self.state != "idle":
            self.reset()
        frames, sink = self._attach(target)
        try:
            self.state = "running"
            deadline = None if timeout is None else time.monotonic() + timeout
            while self.state == "running":
                self.step()
                if n is not None and sum(len(f) for f in frames) >= n:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
            if self.state == "running":
                self.state = "stopped"
        finally:
            sink.destroy()
        out = self._result(target, frames)
        return out.head(n) if n is not None else out

    def _check_collect(self, n, timeout):
        if self.state in ("running", "paused") and self._tasks:
            raise PipelineStateError(f"pipeline {self.name!r} is running; stop() it before collect()")
        if n is not None and (not isinstance(n, int) or n <= 0):
            raise ValueError(f"n must be a positive number of rows, got {n!r}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if n is None and timeout is None and not all(s.finite for s in self.sources):
            raise ValueError("this source is endless: pass n= (rows) or timeout= (seconds) to collect(), "
                             "or make the source finite (e.g. sl.demo.sensors(events=10_000))")

    async def acollect(self, target, n: int | None = None, timeout: float | None = None) -> pd.DataFrame:
        """Run on the running loop until the end (or ``n`` rows / ``timeout`` s) and return the rows."""
        self._check_collect(n, timeout)
        if self.state != "idle":
            self.reset()
        frames, sink = self._attach(target)
        try:
            self.start(target=target)
            deadline = None if timeout is None else time.monotonic() + timeout
            while self.state in ("running", "paused"):
                if n is not None and sum(len(f) for f in frames) >= n:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.01)
            if self.state in ("running", "paused"):
                self.stop()
        finally:
            sink.destroy()
        out = self._result(target, frames)
        return out.head(n) if n is not None else out

    # --- running on the loop --------------------------------------------------------------
    def start(self, target=None) -> Pipeline:
        """Run on the running asyncio loop (non-blocking). In Jupyter, that is the kernel's loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise PipelineStateError(
                "start() needs a running asyncio loop (Jupyter has one); in a script use collect(), "
                "or `asyncio.run(res.acollect(timeout=...))`"
            ) from None
        if self.state in ("running", "paused"):
            return self
        if self.state in ("finished", "stopped"):
            self.reset()
        if target is not None and all(t is not target for t in self._targets):
            self._targets.append(target)
        self.state = "running"
        self._started_at = time.monotonic()
        self._resumed = asyncio.Event()
        self._resumed.set()
        for src in self.sources:
            src.unanchor()
        self._tasks = [loop.create_task(self._drive(src)) for src in self.sources]
        self._tasks.append(loop.create_task(self._timers()))
        _running[self.name] = self
        return self

    async def _drive(self, src: Source) -> None:
        try:
            if src.push:  # rows arrive by themselves; run until stopped
                while self.state in ("running", "paused"):
                    await asyncio.sleep(TIMER_INTERVAL_S)
                return
            while self.state in ("running", "paused"):
                if not self._resumed.is_set():
                    await self._resumed.wait()
                    src.unanchor()
                    continue
                checkpointer = getattr(self, "_checkpointer", None)
                if checkpointer is not None:
                    checkpointer.maybe()
                got = src.next_batch()
                if got is None:
                    break
                batch, t = got
                delay = src.delay_for(t)
                await asyncio.sleep(delay)
                if not self._resumed.is_set():  # paused while waiting: emit after resuming
                    await self._resumed.wait()
                    src.unanchor()
                if self.state not in ("running", "paused"):
                    break
                src.emit_batch(batch)
            if all(s.exhausted for s in self.sources) and self.state == "running":
                self.flush()
                self._cancel(current=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - keep the kernel alive; show it in the state
            self.state = "failed"
            self.error = f"{type(exc).__name__}: {exc}"
            _running.pop(self.name, None)
            raise

    async def _timers(self) -> None:
        timed = [n for n in self.nodes() if hasattr(n, "on_timer")]
        while self.state in ("running", "paused"):
            await asyncio.sleep(TIMER_INTERVAL_S)
            if self.state != "running":
                continue
            now = time.monotonic()
            for node in timed:
                node.on_timer(now)

    def pause(self) -> Pipeline:
        """Pause: sources stop emitting; state and timers are kept."""
        if self.state == "running":
            self.state = "paused"
            if self._resumed is not None:
                self._resumed.clear()
        return self

    def resume(self) -> Pipeline:
        """Resume after ``pause()``."""
        if self.state == "paused":
            self.state = "running"
            if self._resumed is not None:
                self._resumed.set()
        return self

    def stop(self) -> Pipeline:
        """Stop running (open windows stay open; ``flush()`` fires them)."""
        was_running = self.state in ("running", "paused")
        if was_running:
            self.state = "stopped"
        self._cancel()
        _running.pop(self.name, None)
        if was_running:
            self._call("on_stop")  # e.g. sinks deliver what they queued
        return self

    def _cancel(self, current: bool = False) -> None:
        me = asyncio.current_task() if current else None
        for task in self._tasks:
            if task is not me and not task.done():
                task.cancel()
        self._tasks = []

    # --- inspection -----------------------------------------------------------------------
    def snapshot(self, limit: int | None = 50, state: bool = False) -> dict:
        """JSON-able state of the pipeline and every operator: the one source for every view.

        The view widget, the side panel, ``%streamlab inspect`` and the tests read it; with
        ``state=True`` each operator also carries its full state under ``"checkpoint"``, which is
        what ``res.checkpoint(path)`` writes.
        """
        nodes = [n for n in self.nodes() if isinstance(n, Node) and not isinstance(n, SideOutput)]
        ops = [n.snapshot_node(limit) for n in nodes]
        if state:
            from .checkpoint import operator_state

            for node, op in zip(nodes, ops):
                op["checkpoint"] = operator_state(node)
        windows = [n for n in nodes if n.kind == "window"]
        marks = [n.watermark if n.kind == "window" else n.current for n in nodes if n.kind in ("window", "watermark")]
        marks = [m for m in marks if NEG_INF < m < POS_INF]
        wm = max(marks) if marks else None
        unit = self.sources[0].time_meta.unit
        lag = None
        if wm is not None and unit is None:
            lag = int(time.time() * 1000 - wm)
        return {
            "name": self.name,
            "state": self.state,
            "watermark": wm,
            "watermark_text": format_time(wm, unit),
            "lag_ms": lag,
            "counters": {
                "in": sum(s.counters.rows_out for s in self.sources),
                "out": sum(w.counters.rows_out for w in windows),
                "late": sum(w.counters.late for w in windows),
                "errors": sum(n.counters.errors for n in nodes),
            },
            "events_per_s": round(sum(s.counters.events_per_s() for s in self.sources), 1),
            "operators": ops,
        }
