"""The live pipeline view: controls, a status line, the operator graph and the state inspector.

Everything is rendered from ``pipeline.snapshot()`` by an asyncio task on the kernel's running
loop (never a thread), at most ``1 / interval`` times a second. Widgets only send values that
changed, so an idle pipeline costs no messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Mapping
from html import escape
from typing import Any

from ipywidgets import HTML, Accordion, Button, Dropdown, HBox, Layout, VBox
from traitlets import Bool, Float, Int, observe, validate

from ..core.state import PipelineState
from ..viz.feed import running_loop
from .graph import render_svg
from .inspector import StateInspector, ms_text

log = logging.getLogger(__name__)
SPEEDS = (("1x", 1.0), ("10x", 10.0), ("100x", 100.0), ("max", 0.0))  # 0 stands for None
BAD = ' class="sl-bad" style="color:#b91c1c"'
STATE_COLORS: dict[PipelineState | None, str] = {
    PipelineState.RUNNING: "#15803d", PipelineState.PAUSED: "#b45309",
    PipelineState.FAILED: "#b91c1c", PipelineState.FINISHED: "#1d4ed8"}


def pipeline_state(value: Any) -> PipelineState | None:
    """``value`` as a :class:`PipelineState`, or None when it is none of them.

    >>> pipeline_state(PipelineState.PAUSED.value) is PipelineState.PAUSED, pipeline_state("?")
    (True, None)
    """
    try:
        return PipelineState(value)
    except ValueError:
        return None


def allows(state: PipelineState | None, action: str) -> bool:
    """Whether ``state`` allows the user action ``action`` (an unknown state allows none)."""
    return state is not None and state.allows(action)


def status_html(snap: Mapping[str, Any]) -> str:
    """The one-line status: state, events in, events/s, watermark, lag, late, errors.

    >>> status_html({"state": "running", "counters": {"in": 1500, "late": 2, "errors": 0},
    ...              "events_per_s": 1000.0, "watermark": 1500, "lag_ms": 800}).split(" · ")[1:5]
    ['in 1,500', '1,000 ev/s', 'watermark 1970-01-01 00:00:01.500', 'lag 0.8 s']
    """
    c = snap.get("counters") or {}
    state = str(snap.get("state", "?"))
    wm = snap.get("watermark_text") or (ms_text(snap["watermark"]) if snap.get("watermark")
                                        is not None else "–")
    lag = snap.get("lag_ms")
    lag_text = "–" if lag is None else f"{lag / 1000:.1f} s"
    rate = snap.get("events_per_s")
    late, errors = c.get("late", 0) or 0, c.get("errors", 0) or 0
    parts = [
        f"in {int(c.get('in', 0) or 0):,}",
        f"{rate:,.0f} ev/s" if rate is not None else "– ev/s",
        f"watermark {escape(str(wm))}",
        f"lag {lag_text}",
        f"<span{BAD if late else ''}>late {late:,}</span>",
        f"<span{BAD if errors else ''}>errors {errors:,}</span>",
    ]
    color = STATE_COLORS.get(pipeline_state(state), "#475569")
    head = (f'<span class="sl-state sl-{escape(state)}" style="font-weight:600;color:{color}">'
            f"{escape(state)}</span>")
    return " · ".join([head, *parts])


class PipelineView(VBox):
    """Live view of a pipeline: play, pause, step, speed, reset; status; graph; inspector."""

    interval = Float(0.25, help="Seconds between refreshes of status, graph and inspector "
                                "(at least 0.25, so at most 4 updates a second).")
    idle_interval = Float(1.0, help="Seconds between refreshes while the pipeline is not running.")
    inspector_interval = Float(1.0, help="Seconds between refreshes of the open inspector (its "
                                         "snapshot lists every open window, which costs more).")
    sample_rows = Int(20, help="Most rows the inspector shows for a window, late rows or errors.")
    show_inspector = Bool(False, help="Start with the state inspector expanded.")

    @validate("interval", "idle_interval", "inspector_interval")
    def _at_least_quarter_second(self, proposal: dict[str, Any]) -> float:
        if proposal["value"] < 0.25:
            raise ValueError(f"{proposal['trait'].name} must be >= 0.25 s (at most 4 updates/s)")
        return proposal["value"]

    def __init__(self, pipeline: Any, **kwargs: Any) -> None:
        self.pipeline = pipeline
        button = {"layout": Layout(width="auto")}
        self.play = Button(description="Play", icon="play", tooltip="Start or resume", **button)
        self.pause = Button(description="Pause", icon="pause", tooltip="Pause", **button)
        self.step = Button(description="Step", icon="step-forward",
                           tooltip="Process one micro-batch", **button)
        self.reset = Button(description="Reset", icon="undo", tooltip="Reset to the start",
                            **button)
        speed = self._speed_value()
        options = list(SPEEDS) + ([] if speed in dict(SPEEDS).values() else [(f"{speed:g}x", speed)])
        self.speed = Dropdown(options=options, value=speed, description="speed",
                              layout=Layout(width="12em"))
        self.title = HTML(f"<b>{escape(str(getattr(pipeline, 'name', '') or 'pipeline'))}</b>")
        self.status = HTML()
        self.message = HTML()
        self.graph = HTML()
        self.inspector = StateInspector(row_source=self._window_rows, held_source=self._held_rows)
        self.details = Accordion(children=[self.inspector], titles=("State inspector",))
        controls = HBox([self.title, self.play, self.pause, self.step, self.reset, self.speed],
                        layout=Layout(align_items="center", flex_flow="row wrap"))
        super().__init__(children=[controls, self.status, self.message, self.graph, self.details],
                         **kwargs)
        self.add_class("streamlab-view")
        self.status.add_class("streamlab-status")
        self.inspector.sample_rows = self.sample_rows
        self.details.selected_index = 0 if self.show_inspector else None
        for b, action in ((self.play, self._on_play), (self.pause, self._on_pause),
                          (self.step, self._on_step), (self.reset, self._on_reset)):
            b.on_click(action)
        self.speed.observe(self._on_speed, "value")
        self.details.observe(lambda _: self.refresh(inspect=True), "selected_index")
        self.refreshes = 0
        self._syncing = False
        self._inspected = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._takes_limit = _accepts(pipeline.snapshot, "limit")
        self.refresh()
        loop = running_loop()
        if loop is not None:
            self._task = loop.create_task(self._run())

    # ------------------------------------------------------------------ refresh
    async def _run(self) -> None:
        while True:
            try:
                state = self.refresh()
            except Exception as exc:  # show it; keep the view alive
                log.exception("streamlab view refresh failed")
                self.message.value = f"<span{BAD}>refresh failed: {escape(str(exc))}</span>"
                state = None
            running = state is PipelineState.RUNNING
            await asyncio.sleep(self.interval if running else self.idle_interval)

    def refresh(self, inspect: bool = False) -> PipelineState | None:
        """Render the current snapshot now; returns the pipeline state (None if it is unknown).

        The open inspector is refreshed every ``inspector_interval`` (or now, with ``inspect``);
        otherwise the snapshot is asked for no open windows, which keeps it cheap.
        """
        now = time.monotonic()
        inspect = self.details.selected_index is not None and (
            inspect or now - self._inspected >= self.inspector_interval)
        limit = self.inspector.max_windows if inspect else 0
        snap = self.pipeline.snapshot(limit=limit) if self._takes_limit else self.pipeline.snapshot()
        self.refreshes += 1
        state = pipeline_state(snap.get("state"))
        with self.hold_sync():
            self.title.value = f"<b>{escape(str(snap.get('name') or 'pipeline'))}</b>"
            self.status.value = status_html(snap)
            self.graph.value = render_svg(snap.get("operators") or [], uid=self.model_id or "0")
            # one table decides, the same the kernel checks and the side panel reads
            self.play.disabled = not (allows(state, "start") or allows(state, "resume"))
            self.pause.disabled = not allows(state, "pause")
            self.step.disabled = not allows(state, "step")
            self.reset.disabled = not allows(state, "reset")
            self._sync_speed()
            if state is PipelineState.FAILED:
                error = escape(str(getattr(self.pipeline, "error", "") or "unknown error"))
                self.message.value = f"<span{BAD}>pipeline failed: {error}</span>"
            if inspect:
                self.inspector.update(snap)
                self._inspected = now
        return state

    @observe("sample_rows")
    def _sample_rows_changed(self, change: dict[str, Any]) -> None:
        if hasattr(self, "inspector"):
            self.inspector.sample_rows = change["new"]

    def close(self) -> None:
        """Stop refreshing and close the widget and its children."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        for w in (self.inspector, self.details, self.graph, self.status, self.message):
            w.close()
        super().close()

    # ----------------------------------------------------------------- controls
    def _act(self, name: str, *args: Any) -> None:
        """Run a pipeline method; show a failure in the view instead of losing it in a log."""
        try:
            getattr(self.pipeline, name)(*args)
            self.message.value = ""
        except Exception as exc:
            self.message.value = (f"<span{BAD}>{escape(name)} failed: "
                                  f"{escape(f'{type(exc).__name__}: {exc}')}</span>")
        try:
            self.refresh(inspect=True)  # a step should show its effect on the windows at once
        except Exception as exc:
            self.message.value = f"<span{BAD}>refresh failed: {escape(str(exc))}</span>"

    def _on_play(self, _: Any = None) -> None:
        """Resume where the state allows it, else start."""
        state = pipeline_state(getattr(self.pipeline, "state", None))
        self._act("resume" if allows(state, "resume") else "start")

    def _on_pause(self, _: Any = None) -> None:
        self._act("pause")

    def _on_step(self, _: Any = None) -> None:
        self._act("step")

    def _on_reset(self, _: Any = None) -> None:
        self._act("reset")

    def _sync_speed(self) -> None:
        """Follow a speed set elsewhere (API, magic, side panel) without setting it back."""
        speed = self._speed_value()
        if speed == self.speed.value:
            return
        values = [v for _, v in self.speed.options]
        self._syncing = True
        try:
            if speed not in values:
                self.speed.options = [*self.speed.options, (f"{speed:g}x", speed)]
            self.speed.value = speed
        finally:
            self._syncing = False

    def _on_speed(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        try:
            self.pipeline.speed = change["new"] or None
            self.message.value = ""
        except Exception as exc:
            self.message.value = f"<span{BAD}>speed: {escape(str(exc))}</span>"

    def _speed_value(self) -> float:
        speed = getattr(self.pipeline, "speed", None)
        return float(speed) if speed else 0.0

    def _window_rows(self, op_id: str, start_ms: int, key: Any, limit: int) -> Any:
        node = _find_node(self.pipeline, op_id)
        fn = getattr(node, "window_rows", None)
        return None if fn is None else fn(start_ms, key, limit)


    def _held_rows(self, op_id: str, side: str, key: str, limit: int) -> Any:
        node = _find_node(self.pipeline, op_id)
        fn = getattr(node, "held_rows", None)
        return None if fn is None else fn(side, key)


def _accepts(fn: Any, name: str) -> bool:
    """Whether ``fn`` takes a keyword argument ``name``."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _find_node(pipeline: Any, op_id: str) -> Any:
    """The operator node with this snapshot id, if the pipeline exposes its nodes."""
    for attr in ("node", "operator"):
        fn = getattr(pipeline, attr, None)
        if callable(fn):
            with contextlib.suppress(KeyError, LookupError):
                return fn(op_id)
    for attr in ("nodes", "operators"):
        nodes = getattr(pipeline, attr, None)
        if callable(nodes):
            nodes = nodes()
        if isinstance(nodes, Mapping) and op_id in nodes:
            return nodes[op_id]
        if isinstance(nodes, list | tuple):
            for n in nodes:
                if getattr(n, "op_id", getattr(n, "id", None)) == op_id:
                    return n
    return None
