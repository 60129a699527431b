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
from .core.node import Node, SideOutput
from .core.snapshot import PipelineSnapshot
from .core.state import ALLOWED_ACTIONS, PipelineState
from .core.timecol import NEG_INF, POS_INF, format_time
from .sources.base import Source, check_speed

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
        if isinstance(s, Node):
            todo.extend(s.sides.values())
            if s.parent is not None:
                todo.append(s.parent)
    return list(seen.values())


def pipeline_of(node) -> Pipeline:
    """The pipeline that runs ``node``'s graph: the one its sources already belong to, grown by
    any source the graph gained since (e.g. a join of a collected stream with a new one), or a
    new pipeline when no source has one yet.

    Sources of two earlier pipelines joined into one graph move to the first pipeline (the other
    keeps its remaining sources, or is unregistered when none remain). A pipeline that is running
    or paused cannot take a new source: that is a :class:`PipelineStateError` naming the fix.
    """
    sources = [s for s in graph_nodes(node) if isinstance(s, Source)]
    if not sources:
        raise ValueError(f"{node!r} has no streamlab source upstream; start from sl.from_frame(...), sl.demo...")
    owners: list[Pipeline] = []
    for src in sources:
        if isinstance(src.owner, Pipeline) and all(src.owner is not p for p in owners):
            owners.append(src.owner)
    if not owners:
        return Pipeline(sources)
    pipe = owners[0]
    new = [s for s in sources if all(s is not t for t in pipe.sources)]
    if new:
        busy = [p for p in owners if p.state.active]
        if busy:
            names = ", ".join(s.label() for s in new)
            raise PipelineStateError(
                f"pipeline {busy[0].name!r} is {busy[0].state} and this graph adds source(s) {names} to it; "
                f"stop it first (pipeline.stop() or res.stop()), then collect() or start() again")
        for other in owners[1:]:
            other._release(new)
        pipe._adopt(new)
    return pipe


class Pipeline:
    """A named, registered dataflow graph: start, pause, resume, step, stop, reset, inspect."""

    def __init__(self, sources: list[Source], name: str | None = None):
        self.sources = list(sources)
        for src in self.sources:
            src.owner = self
        self.name = name or f"{self.sources[0].label().split(':')[0]}-{next(_counter)}"
        _registry[self.name] = self
        self._state = PipelineState.IDLE
        self.error: str | None = None
        #: Id of the last checkpoint written or restored (0: none).
        self.checkpoint_id = 0
        self._quiet_hooks: list = []
        self._tasks: list[asyncio.Task] = []
        self._resumed: asyncio.Event | None = None
        self._done: asyncio.Future | None = None
        self._targets: list = []
        self._started_at: float | None = None

    def __repr__(self) -> str:
        return f"<Pipeline {self.name!r} {self.state}>"

    def _adopt(self, sources: list[Source]) -> None:
        """Take ``sources`` into this (not running) pipeline: the graph grew, e.g. by a join."""
        for src in sources:
            self.sources.append(src)
            src.owner = self
        if self._state != PipelineState.IDLE:
            self.reset()  # its operators' state and sources rewind with the new ones (collect() would too)

    def _release(self, sources: list[Source]) -> None:
        """Give ``sources`` up to another pipeline; unregister when none remain."""
        self.sources = [s for s in self.sources if all(s is not t for t in sources)]
        if not self.sources and _registry.get(self.name) is self:
            del _registry[self.name]

    # --- state ------------------------------------------------------------------------------
    @property
    def state(self) -> PipelineState:
        """Where the pipeline is (:class:`~streamlab.core.state.PipelineState`; compares equal to its text)."""
        return self._state

    def _become(self, new: PipelineState) -> None:
        old = self._state
        if not old.can_become(new):  # pragma: no cover - a runtime bug, not a user mistake
            raise PipelineStateError(f"pipeline {self.name!r} cannot go from {old} to {new}")
        self._state = new
        if new.active:
            _running[self.name] = self
        else:
            _running.pop(self.name, None)
        if new.terminal and self._done is not None and not self._done.done():
            self._done.set_result(new)

    def _refuse(self, action: str) -> None:
        if not self._state.allows(action):
            allowed = ", ".join(sorted(a + "()" for a in ALLOWED_ACTIONS[self._state]))
            raise PipelineStateError(f"pipeline {self.name!r} is {self._state}: {action}() is not allowed; "
                                     f"allowed now: {allowed}")

    async def wait(self) -> PipelineState:
        """Wait (on the running loop) until the pipeline stops, finishes or fails; returns that state.

        On an idle pipeline it waits for the next run to start and end.
        """
        if self._state.terminal:
            return self._state
        if self._done is None or self._done.done():
            self._done = asyncio.get_running_loop().create_future()
        return await asyncio.shield(self._done)

    # --- quiet points (between batches) --------------------------------------------------------
    def add_quiet_hook(self, fn) -> None:
        """Call ``fn()`` at every quiet point between batches (periodic checkpoints go here)."""
        if fn not in self._quiet_hooks:
            self._quiet_hooks.append(fn)

    def remove_quiet_hook(self, fn) -> None:
        """Stop calling ``fn`` at quiet points."""
        if fn in self._quiet_hooks:
            self._quiet_hooks.remove(fn)

    def quiet_point(self) -> None:
        """No batch is in flight: run the quiet hooks (sources that pause between batches call it too)."""
        for fn in list(self._quiet_hooks):
            fn()

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
        if self.state.active:
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
            if isinstance(n, Node) and n.parent is not None:
                ups.append(n.parent)
            for u in ups:
                if any(u is f for f in found):
                    visit(u)
            order.append(n)

        for n in found:
            visit(n)
        return order

    def operators(self) -> list[Node]:
        """The streamlab operators of the graph in topological order (plain streamz nodes left out)."""
        return [n for n in self.nodes() if isinstance(n, Node)]

    @property
    def speed(self):
        """Replay speed of the sources (None: as fast as possible)."""
        return self.sources[0].speed

    @speed.setter
    def speed(self, value) -> None:
        value = check_speed(value)
        for src in self.sources:
            src.speed = value
            src.unanchor()

    # --- synchronous running --------------------------------------------------------------
    def step(self) -> int:
        """Emit one batch from every source, synchronously. Returns the rows emitted."""
        self._refuse("step")
        return self._step_batch()

    def flush(self) -> None:
        """End of input: sources send what they buffer, then every open window fires."""
        for n in self.operators():
            n.on_flush()
        self._become(PipelineState.FINISHED)

    def reset(self) -> None:
        """Stop, forget all state and rewind the sources to the start."""
        self.stop()
        for n in self.operators():
            n.reset_state()
        self.error = None
        self._become(PipelineState.IDLE)

    def _attach(self, target):
        frames: list[pd.DataFrame] = []
        sink = target.sink(frames.append)
        return frames, sink

    def _result(self, target, frames) -> pd.DataFrame:
        frames = [f for f in frames if len(f)]
        if frames:
            out = pd.concat(frames, ignore_index=True)
            out.attrs.clear()
            return out
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
        if self.state != PipelineState.IDLE:
            self.reset()
        frames, sink = self._attach(target)
        try:
            self._become(PipelineState.RUNNING)
            deadline = None if timeout is None else time.monotonic() + timeout
            while self.state == PipelineState.RUNNING:
                self._step_batch()
                if n is not None and sum(len(f) for f in frames) >= n:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
            if self.state == PipelineState.RUNNING:
                self._become(PipelineState.STOPPED)
        except Exception as exc:
            self._fail(exc)
            raise
        finally:
            sink.destroy()
        out = self._result(target, frames)
        return out.head(n) if n is not None else out

    def _check_collect(self, n, timeout):
        if self.state.active and self._tasks:
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
        if self.state != PipelineState.IDLE:
            self.reset()
        frames, sink = self._attach(target)
        enough = asyncio.Event()
        if n is not None:
            watcher = target.sink(lambda _df: enough.set() if sum(len(f) for f in frames) >= n else None)
        try:
            self.start(target=target)
            waits = [asyncio.ensure_future(self.wait()), asyncio.ensure_future(enough.wait())]
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
            if self.state.active:
                self.stop()
        finally:
            sink.destroy()
            if n is not None:
                watcher.destroy()
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
        if self.state.active:
            return self
        self._refuse("start")
        if target is not None and all(t is not target for t in self._targets):
            self._targets.append(target)
        if self._done is None or self._done.done():
            self._done = loop.create_future()
        self._become(PipelineState.RUNNING)
        self._started_at = time.monotonic()
        self._resumed = asyncio.Event()
        self._resumed.set()
        for src in self.sources:
            src.unanchor()
        self._tasks = [loop.create_task(self._drive(src)) for src in self.sources]
        self._tasks.append(loop.create_task(self._timers()))
        return self

    async def _drive(self, src: Source) -> None:
        try:
            if src.push:  # rows arrive by themselves; run until stopped
                await self.wait()
                return
            resumed = self._resumed
            assert resumed is not None
            while self.state.active:
                if not resumed.is_set():
                    await resumed.wait()
                    src.unanchor()
                    continue
                self.quiet_point()
                got = src.held if src.held is not None else src.next_batch()
                if got is None:
                    break
                src.held = got  # until emitted: a stop while it waits keeps it for the next start
                batch, t = got
                delay = src.delay_for(t)
                await asyncio.sleep(delay)
                if not resumed.is_set():  # paused while waiting: emit after resuming
                    await resumed.wait()
                    src.unanchor()
                if not self.state.active:
                    break
                src.held = None
                src.emit_batch(batch)
            if all(s.exhausted for s in self.sources) and self.state == PipelineState.RUNNING:
                self.flush()
                self._cancel(current=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - keep the kernel alive; show it in the state
            self._fail(exc)
            raise

    def _fail(self, exc: BaseException) -> None:
        if self.state != PipelineState.FAILED:
            self.error = f"{type(exc).__name__}: {exc}"
            self._become(PipelineState.FAILED)
            self._cancel(current=True)

    def _step_batch(self) -> int:
        """One batch from every live source (the body of ``step`` and ``collect``)."""
        self.quiet_point()
        emitted = 0
        for src in [s for s in self.sources if not s.exhausted]:
            got = src.held if src.held is not None else src.next_batch()
            src.held = None
            if got is not None:
                src.emit_batch(got[0])
                emitted += len(got[0])
        if all(s.exhausted for s in self.sources) and self.state != PipelineState.FINISHED:
            self.flush()
        return emitted

    async def _timers(self) -> None:
        timed = self.operators()
        try:
            while self.state.active:
                await asyncio.sleep(TIMER_INTERVAL_S)
                if self.state != PipelineState.RUNNING:
                    continue
                now = time.monotonic()
                for node in timed:
                    node.on_timer(now)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a timer hook raised: fail visibly
            self._fail(exc)
            raise

    def pause(self) -> Pipeline:
        """Pause: sources stop emitting; state and timers are kept."""
        if self.state == PipelineState.RUNNING:
            self._become(PipelineState.PAUSED)
            if self._resumed is not None:
                self._resumed.clear()
        return self

    def resume(self) -> Pipeline:
        """Resume after ``pause()``."""
        if self.state == PipelineState.PAUSED:
            self._become(PipelineState.RUNNING)
            if self._resumed is not None:
                self._resumed.set()
        return self

    def stop(self) -> Pipeline:
        """Stop running (open windows stay open; ``flush()`` fires them)."""
        was_running = self.state.active
        if was_running:
            self._become(PipelineState.STOPPED)
        self._cancel()
        if was_running:
            for n in self.operators():
                n.on_stop()  # e.g. sinks deliver what they queued
        return self

    def _cancel(self, current: bool = False) -> None:
        me = None
        if current:
            try:
                me = asyncio.current_task()
            except RuntimeError:  # no running loop: a synchronous collect() failed
                me = None
        for task in self._tasks:
            if task is not me and not task.done():
                task.cancel()
        self._tasks = []

    # --- inspection -----------------------------------------------------------------------
    def snapshot(self, limit: int | None = 50, state: bool = False) -> PipelineSnapshot:
        """JSON-able state of the pipeline and every operator: the one source for every view.

        The view widget, the side panel, ``%streamlab inspect`` and the tests read it; with
        ``state=True`` each operator also carries its full state under ``"checkpoint"``
        (``save_state()``, ``state_version``, counters and side-output counters), which is what
        ``res.checkpoint(path)`` writes.
        """
        nodes = [n for n in self.operators() if not isinstance(n, SideOutput)]
        ops = [n.snapshot_node(limit) for n in nodes]
        if state:
            for node, op in zip(nodes, ops):
                op["checkpoint"] = operator_state(node)
        results = [n for n in nodes if n.result_operator]
        marks = [n.current_watermark for n in nodes]
        marks = [m for m in marks if NEG_INF < m < POS_INF]
        wm = max(marks) if marks else None
        unit = self.sources[0].meta.unit
        lag = None
        if wm is not None and unit is None:
            lag = int(time.time() * 1000 - wm)
        return {
            "name": self.name,
            "state": self.state.value,
            "watermark": wm,
            "watermark_text": format_time(wm, unit),
            "lag_ms": lag,
            "counters": {
                "in": sum(s.counters.rows_out for s in self.sources),
                "out": sum(w.counters.rows_out for w in results),
                "late": sum(w.counters.late for w in results),
                "errors": sum(n.counters.errors for n in nodes),
            },
            "events_per_s": round(sum(s.counters.events_per_s() for s in self.sources), 1),
            "operators": ops,
        }


def operator_state(node: Node) -> dict:
    """What a checkpoint keeps of one operator: its state, counters and side outputs' counters."""
    sides = {what: side.counters.as_dict() for what, side in side_outputs(node).items()}
    return {"state": node.save_state(), "state_version": node.state_version,
            "counters": node.counters.as_dict(), "sides": sides}


def side_outputs(node: Node) -> dict[str, SideOutput]:
    """The side outputs hanging off ``node`` (``late`` and ``errors``), by name."""
    return dict(node.sides)


# --- the runtime's fluent methods on every node -------------------------------------------------
@Node.register_api(modifier=property)
def pipeline(self) -> Pipeline:
    """The :class:`Pipeline` this node belongs to."""
    return pipeline_of(self)


@Node.register_api()
def collect(self, n: int | None = None, timeout: float | None = None) -> pd.DataFrame:
    """Run the pipeline and return everything this stream emitted, as one DataFrame.

    A finite source runs to its end; an infinite one needs ``n=`` (rows) or ``timeout=`` (s).

    >>> import streamlab as sl, pandas as pd
    >>> df = pd.DataFrame({"ts": [0, 400, 1200], "v": [1.0, 2.0, 3.0]})
    >>> sl.from_frame(df, time="ts", unit="ms").window(sl.Tumble(1000)).agg(s=("v", "sum")).collect()
       window_start  window_end    s
    0             0        1000  3.0
    1          1000        2000  3.0
    """
    return pipeline_of(self).collect(self, n=n, timeout=timeout)


@Node.register_api()
async def acollect(self, n: int | None = None, timeout: float | None = None) -> pd.DataFrame:
    """``collect()`` for a running event loop (``await res.acollect(timeout=5)`` in Jupyter)."""
    return await pipeline_of(self).acollect(self, n=n, timeout=timeout)


@Node.register_api()
def start(self, name: str | None = None) -> Pipeline:
    """Start the pipeline on the running asyncio loop (non-blocking). Returns the pipeline."""
    pipe = pipeline_of(self)
    if name is not None:
        pipe.rename(name)
    return pipe.start(target=self)


@Node.register_api()
def pause(self) -> Pipeline:
    """Pause the pipeline (sources stop emitting; state is kept)."""
    return pipeline_of(self).pause()


@Node.register_api()
def resume(self) -> Pipeline:
    """Resume a paused pipeline."""
    return pipeline_of(self).resume()


@Node.register_api()
def step(self) -> int:
    """Emit one batch from each source, synchronously. Returns the rows emitted."""
    return pipeline_of(self).step()


@Node.register_api()
def stop(self) -> Pipeline:
    """Stop the pipeline (open windows stay open; ``start()`` continues, ``reset()`` rewinds)."""
    return pipeline_of(self).stop()


@Node.register_api()
def reset(self) -> Pipeline:
    """Stop the pipeline, forget its state and rewind its sources."""
    pipe = pipeline_of(self)
    pipe.reset()
    return pipe


@Node.register_api()
def snapshot(self, limit: int | None = 50) -> PipelineSnapshot:
    """JSON-able state of every operator of the pipeline (see ``Pipeline.snapshot``)."""
    return pipeline_of(self).snapshot(limit=limit)
