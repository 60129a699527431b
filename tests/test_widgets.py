"""The live pipeline view, driven like the browser drives it: through a dummy comm."""

from __future__ import annotations

import asyncio
import copy
import threading

import pandas as pd
import pytest

from streamlab.core.state import ALLOWED_ACTIONS, PipelineState
from streamlab.widgets import view_for
from streamlab.widgets.graph import layout, render_svg  # noqa: E402
from streamlab.widgets.inspector import StateInspector  # noqa: E402
from streamlab.widgets.testing import click, dummy_comms, from_browser  # noqa: E402
from streamlab.widgets.view import PipelineView  # noqa: E402

WINDOWS = [
    {"key": ["s1"], "key_text": "s1", "window_start": 0, "window_end": 10_000,
     "start_text": "1970-01-01T00:00:00.000Z", "end_text": "1970-01-01T00:00:10.000Z",
     "rows": 3, "partials": {"avg": 21.5, "cnt": 3}},
    {"key": ["s2"], "key_text": "s2", "window_start": 1000, "window_end": 11_000,
     "rows": 1, "partials": {"avg": 19.0, "cnt": 1}},
]


def snapshot(state: str = "running", n_in: int = 1500) -> dict:
    return {
        "name": "demo", "state": state, "watermark": 9_500,
        "watermark_text": "1970-01-01T00:00:09.500Z", "lag_ms": 800,
        "counters": {"in": n_in, "out": 2, "late": 1, "errors": 0}, "events_per_s": 1000.0,
        "operators": [
            {"id": "op-1", "kind": "source", "label": "sensors", "upstreams": [],
             "counters": {"in": 0, "out": n_in}, "events_per_s": 1000.0, "watermark": None},
            {"id": "op-2", "kind": "watermark", "label": "watermark(500ms)",
             "upstreams": ["op-1"], "counters": {"in": n_in, "out": n_in}},
            {"id": "op-3", "kind": "window", "label": "Hop(10s, 1s) by <sensor>",
             "upstreams": ["op-2"], "counters": {"in": n_in, "out": 2, "late": 1, "errors": 0},
             "state": {"open_windows": WINDOWS, "open_count": 2, "truncated": False,
                       "late_ledger": [{"sensor": "s1", "temp": 1.0, "watermark": 9000,
                                        "missed_windows": 10, "reason": "late"}],
                       "errors": []}},
        ],
    }


class FakeNode:
    def __init__(self):
        self.asked = []

    def window_rows(self, start_ms, key, limit):
        self.asked.append((start_ms, key, limit))
        return pd.DataFrame({"sensor": ["s1"] * 100, "temp": range(100)}).head(limit)


class FakePipeline:
    """The Pipeline contract of DESIGN.md §3, with canned snapshots."""

    name = "demo"

    def __init__(self, state="running"):
        self.state = state
        self.speed = 1
        self.calls = []
        self.n_in = 1500
        self.node3 = FakeNode()
        self.snapshots = 0

    def snapshot(self):
        self.snapshots += 1
        return copy.deepcopy(snapshot(self.state, self.n_in))

    def node(self, op_id):
        if op_id != "op-3":
            raise KeyError(op_id)
        return self.node3

    def _to(self, name, state):
        self.calls.append(name)
        self.state = state

    def start(self):
        self._to("start", "running")

    def pause(self):
        self._to("pause", "paused")

    def resume(self):
        self._to("resume", "running")

    def reset(self):
        self._to("reset", "idle")

    def stop(self):
        self._to("stop", "stopped")

    def step(self):
        self.calls.append("step")
        self.n_in += 10


class FakeStream:
    def __init__(self, pipeline):
        self.pipeline = pipeline


@pytest.fixture
def comms():
    with dummy_comms() as created:
        yield created


def last_state(widget, name):
    """The last value of trait ``name`` this widget sent to the browser."""
    for msg in reversed(widget.comm.messages):
        if msg.get("method") == "update" and name in msg["state"]:
            return msg["state"][name]
    raise AssertionError(f"{name} was never sent")


def test_view_of_a_stream_shows_status_graph_and_controls(comms):
    p = FakePipeline()
    v = view_for(FakeStream(p))
    assert isinstance(v, PipelineView) and "streamlab-view" in v._dom_classes
    status = v.status.value
    for text in ("running", "in 1,500", "1,000 ev/s", "watermark 1970-01-01T00:00:09.500Z",
                 "lag 0.8 s", "late 1", "errors 0"):
        assert text in status
    assert "Hop(10s, 1s) by &lt;sensor&gt;" in v.graph.value and "<sensor>" not in v.graph.value
    assert [b.description for b in (v.play, v.pause, v.step, v.reset)] == [
        "Play", "Pause", "Step", "Reset"]
    assert (v.play.disabled, v.pause.disabled) == (True, False)


def test_pause_click_from_the_browser_pauses_and_updates_the_buttons(comms):
    p = FakePipeline()
    v = view_for(p)
    for w in (v.status, v.play, v.pause):
        w.comm.messages.clear()
    click(v.pause)
    assert p.calls == ["pause"]
    assert "paused" in last_state(v.status, "value")
    assert last_state(v.pause, "disabled") is True and last_state(v.play, "disabled") is False
    click(v.play)
    assert p.calls == ["pause", "resume"]


def test_play_starts_an_idle_pipeline_and_step_advances_it(comms):
    p = FakePipeline(state="idle")
    v = view_for(p)
    click(v.step)
    assert p.calls == ["step"] and "in 1,510" in last_state(v.status, "value")
    click(v.play)
    assert p.calls == ["step", "start"] and p.state == "running"
    click(v.reset)
    assert p.calls[-1] == "reset"


def enabled(v):
    return [b.description for b in (v.play, v.pause, v.step, v.reset) if not b.disabled]


@pytest.mark.parametrize(("state", "buttons"), [
    ("idle", ["Play", "Step", "Reset"]),
    ("running", ["Pause", "Reset"]),
    ("paused", ["Play", "Step", "Reset"]),
    ("stopped", ["Play", "Step", "Reset"]),
    ("finished", ["Reset"]),
    ("failed", ["Reset"]),
    ("confused", []),
])
def test_buttons_are_enabled_from_the_declared_table(comms, state, buttons):
    v = view_for(FakePipeline(state=state))
    assert enabled(v) == buttons


def test_each_button_follows_its_actions_in_every_state(comms):
    """Play is start or resume; the others are their own action: one table decides."""
    for state in PipelineState:
        v = view_for(FakePipeline(state=state.value))
        allowed = ALLOWED_ACTIONS[state]
        assert v.play.disabled is not bool({"start", "resume"} & allowed), state
        assert v.pause.disabled is ("pause" not in allowed), state
        assert v.step.disabled is ("step" not in allowed), state
        assert v.reset.disabled is ("reset" not in allowed), state


def test_a_failed_pipeline_can_only_be_reset_and_then_started(comms):
    p = FakePipeline(state="failed")
    p.error = "ZeroDivisionError: boom"
    v = view_for(p)
    assert "pipeline failed: ZeroDivisionError: boom" in v.message.value
    assert enabled(v) == ["Reset"]
    click(v.reset)
    assert p.calls == ["reset"] and p.state == "idle"
    assert enabled(v) == ["Play", "Step", "Reset"]
    click(v.play)
    assert p.calls == ["reset", "start"] and p.state == "running"


def test_play_on_a_stopped_pipeline_starts_it_again_without_a_reset(comms):
    p = FakePipeline(state="stopped")
    v = view_for(p)
    click(v.play)
    assert p.calls == ["start"] and p.state == "running"


def test_speed_dropdown_sets_the_pipeline_speed_with_max_as_none(comms):
    p = FakePipeline()
    v = view_for(p)
    labels = [label for label, _ in v.speed.options]
    assert labels == ["1x", "10x", "100x", "max"] and v.speed.value == 1.0
    from_browser(v.speed, state={"index": labels.index("100x")})
    assert p.speed == 100.0
    from_browser(v.speed, state={"index": labels.index("max")})
    assert p.speed is None
    p.speed = 5  # set elsewhere: the view follows, and does not set it back
    v.refresh()
    assert v.speed.value == 5.0 and v.speed.label == "5x" and p.speed == 5


def test_a_failing_control_is_shown_not_lost(comms):
    p = FakePipeline()

    def boom():
        raise RuntimeError("cannot pause a finished pipeline")

    p.pause = boom
    v = view_for(p)
    click(v.pause)
    assert "cannot pause a finished pipeline" in last_state(v.message, "value")


def test_an_unchanged_snapshot_sends_nothing(comms):
    v = view_for(FakePipeline())
    sent = sum(len(c.messages) for c in comms)
    v.refresh()
    v.refresh()
    assert sum(len(c.messages) for c in comms) == sent


def test_inspector_lists_open_windows_and_a_click_shows_partials_and_bounded_rows(comms):
    p = FakePipeline()
    v = view_for(p, sample_rows=5)
    assert v.inspector.operator.options == ()  # collapsed: the inspector does no work
    from_browser(v.details, state={"selected_index": 0})
    ins = v.inspector
    assert ins.operator.value == "op-3"
    labels = list(ins.windows.options)
    assert labels[0][0].startswith("s1 · [1970-01-01T00:00:00.000Z") and "avg=21.5" in labels[0][0]
    assert ins.tabs.titles == ("Windows (2)", "Late (1)", "Errors (0)")
    assert "missed_windows" in ins.late.value and "<td>late</td>" in ins.late.value
    from_browser(ins.windows, state={"index": 0})
    detail = last_state(ins.detail, "value")
    assert "partial aggregates" in detail and "<td>21.5</td>" in detail
    assert p.node3.asked == [(0, ["s1"], 5)]
    assert detail.count("<tr>") == 1 + 1 + 1 + 5  # partials head+row, sample head + 5 rows
    v.refresh()  # the selection survives refreshes, and rows are not sampled again
    assert ins.windows.value == ("s1", 0) and len(p.node3.asked) == 1


def test_inspector_without_row_sampling_shows_the_partials():
    ins = StateInspector()
    ins.update(snapshot())
    ins.windows.value = ("s2", 1000)
    assert "<td>19</td>" in ins.detail.value or "<td>19.0</td>" in ins.detail.value
    assert "not available" in ins.detail.value


def test_refresh_runs_on_the_loop_at_most_four_times_a_second(comms):
    threads = set()

    async def main():
        p = FakePipeline()
        real = p.snapshot
        p.snapshot = lambda: threads.add(threading.get_ident()) or real()
        v = view_for(p)
        loop = asyncio.get_running_loop()
        start = loop.time()
        while v.refreshes < 5:
            await asyncio.sleep(0.02)
        elapsed = loop.time() - start
        v.close()
        return v, elapsed

    v, elapsed = asyncio.run(main())
    assert threads == {threading.get_ident()}
    assert elapsed >= 3 * 0.25 * 0.9  # refreshes 2..5 each waited one interval
    assert v._task is None


def test_interval_is_validated():
    with dummy_comms():
        v = view_for(FakePipeline())
        with pytest.raises(Exception, match="at most 4 updates"):
            v.interval = 0.1


def test_view_for_rejects_objects_without_a_pipeline():
    with pytest.raises(TypeError, match="not a streamlab stream or pipeline"):
        view_for(object())


def test_graph_layout_is_by_depth_and_marks_late_counts():
    ops = snapshot()["operators"]
    assert layout(ops) == {"op-1": (0, 0), "op-2": (1, 0), "op-3": (2, 0)}
    svg = render_svg(ops, uid="x")
    assert svg.count("<path d=") == 2 + 1  # two edges and the arrow head
    assert 'fill="#b91c1c">late 1 · errors 0' in svg


def test_view_options_are_traitlets_with_help_and_defaults():
    for cls in (PipelineView, StateInspector):
        own = cls.class_own_traits()
        assert own
        for name, trait in own.items():
            assert trait.help, f"{cls.__name__}.{name} has no help"
            assert trait.default_value is not None


def engine_result():
    import streamlab as sl

    df = pd.DataFrame({
        "ts": pd.to_datetime([0, 400, 1100, 1500, 2100, 2600], unit="ms", utc=True),
        "key": ["a", "b", "a", "b", "a", "b"],
        "v": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    })
    return (sl.from_frame(df, time="ts", batch_size=2).watermark("0ms")
            .window(sl.Tumble("1s"), by="key").agg(total=("v", "sum")))


def test_view_of_a_real_pipeline_steps_through_the_comm(comms):
    res = engine_result()
    v = view_for(res, show_inspector=True)
    assert v.pipeline is res.pipeline and "idle" in v.status.value
    click(v.step)
    assert "in 2" in last_state(v.status, "value")
    click(v.step)
    assert "in 4" in v.status.value
    assert v.inspector.operator.value is not None
    window_op = v.inspector._ops[v.inspector.operator.value]
    assert window_op["kind"] == "window" and v.inspector.windows.options
    assert "total=" in v.inspector.windows.options[0][0]


def test_display_hooks_show_a_pipeline_as_a_live_view(comms, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    import streamlab.widgets as widgets

    shown = []
    real = widgets.view_for
    monkeypatch.setattr(widgets, "view_for", lambda obj: shown.append(real(obj)) or shown[-1])
    shell = InteractiveShell.instance()
    widgets.register_display_hooks(shell)
    pipeline = engine_result().pipeline
    assert shell.display_formatter.ipython_display_formatter(pipeline) is True
    assert len(shown) == 1 and shown[0].pipeline is pipeline
