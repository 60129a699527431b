"""Teaching tools: the timeline's data after a run, what-if replay, exercises and their widgets."""

from __future__ import annotations

import asyncio
import math
import threading
import time

import jupyter_bokeh  # noqa: F401 - a missing test dependency must fail, not skip
import numpy as np
import pandas as pd
import pytest

import streamlab as sl
from streamlab.teach.problems import END
from streamlab.widgets.testing import click, dummy_comms, from_browser
from streamlab.windows.sliced import SlicedLogic


def data(tl, name):
    """A timeline layer as {column: list}."""
    return {c: list(v) for c, v in tl.sources[name].data.items()}


def small_tumble(batch_size=10_000):
    """a@100, a@1200, b@300 (late: W=1200), a@2500; Tumble(1s), watermark delay 0."""
    df = pd.DataFrame({"ts": [100, 1200, 300, 2500], "k": ["a", "a", "b", "a"]})
    return (sl.from_frame(df, time="ts", unit="ms", batch_size=batch_size).watermark(0)
            .window(sl.Tumble(1000), by="k").agg(n=("k", "size")))


# --- timeline ---------------------------------------------------------------------------------------
def test_timeline_events_are_dots_at_event_time_and_arrival_coloured_by_key():
    res = small_tumble()
    tl = res.timeline()
    res.collect()
    ev = data(tl, "events")
    assert ev["x"] == [100.0, 1200.0, 300.0, 2500.0]
    assert ev["y"] == [0, 1, 2, 3]
    assert ev["key"] == ["a", "a", "b", "a"]
    assert ev["color"][0] == ev["color"][1] == ev["color"][3] != ev["color"][2]
    assert math.isnan(ev["wm"][0]) and ev["wm"][1:] == [100.0, 1200.0, 1200.0]  # W_i per row


def test_timeline_watermark_is_one_point_per_value_at_the_first_row_that_saw_it():
    res = small_tumble()
    tl = res.timeline()
    res.collect()
    assert data(tl, "watermark") == {"x": [100.0, 1200.0, 2500.0], "y": [1, 2, 4]}
    assert data(tl, "now") == {"x0": [2500.0], "y0": [4], "x1": [2500.0], "y1": [4]}


def test_timeline_fire_markers_sit_where_the_watermark_passes_the_window_end():
    res = small_tumble()
    tl = res.timeline()
    res.collect()
    fires = data(tl, "fires")
    assert fires["x"] == [1000.0, 2000.0, 3000.0]
    assert fires["y"] == [2, 4, 4]
    assert fires["row"] == ["a · [0, 1000) · n=1", "a · [1000, 2000) · n=1", "a · [2000, 3000) · n=1"]
    assert fires["cause"][0] == "the watermark reached end - 1ms = 999"
    assert fires["cause"][2] == "end of input: every open window fires"


def test_timeline_window_bands_span_from_first_row_to_firing():
    res = small_tumble()
    tl = res.timeline()
    res.collect()
    bands = data(tl, "bands")
    assert bands["left"] == [0.0, 1000.0, 2000.0] and bands["right"] == [1000.0, 2000.0, 3000.0]
    assert bands["bottom"] == [0, 1, 3] and bands["top"] == [2, 4, 4]
    assert bands["state"] == ["fired"] * 3


def test_timeline_late_row_shows_why_it_was_late():
    res = small_tumble()
    tl = res.timeline()
    res.collect()
    late = data(tl, "late")
    assert late["x"] == [300.0] and late["y"] == [2] and late["key"] == ["b"]
    assert late["wm"] == [1200.0] and late["x_end"] == [1000.0] and late["missed"] == [1]
    assert late["reason"] == ["late for 1 of 1 windows (window end - 1ms <= watermark)"]
    assert late["why"] == ["arrival #2: window [0, 1000) had closed: end - 1ms <= the watermark "
                           "1200 this row saw"]


@pytest.mark.parametrize("batch_size", [1, 2, 3])
def test_timeline_does_not_depend_on_batching(batch_size):
    ref = small_tumble()
    tl_ref = ref.timeline()
    ref.collect()
    res = small_tumble(batch_size)
    tl = res.timeline()
    res.collect()
    for name in ("events", "watermark", "fires", "late", "bands", "now"):
        pd.testing.assert_frame_equal(pd.DataFrame(data(tl, name)), pd.DataFrame(data(tl_ref, name)),
                                      obj=name)


def test_timeline_explains_every_late_row_on_a_demo_stream():
    """On one picture: the late marker, the watermark at its arrival past the end of its window."""
    src = sl.demo.sensors(rate=500, keys=4, events=3000, disorder="300ms", late_fraction=0.03,
                          seed=2, speed=None, batch_size=250)
    res = src.watermark("200ms").window(sl.Hop("2s", "1s"), by="sensor").agg(n=("temp", "size"))
    tl = res.timeline(max_events=5000)
    res.collect()
    late, wm, bands = data(tl, "late"), data(tl, "watermark"), data(tl, "bands")
    assert len(late["x"]) == tl.data.late_total == len(res.late.ledger(10_000)) > 10
    stair_x, stair_y = np.array(wm["x"]), np.array(wm["y"])
    for x, y, w, end in zip(late["x"], late["y"], late["wm"], late["x_end"]):
        assert x < end <= w + 1  # its window ended (end - 1ms) at or before the watermark it saw
        assert stair_x[stair_y <= y][-1] == w  # the staircase at its arrival is that watermark
        fired = [t for left, right, t in zip(bands["left"], bands["right"], bands["top"])
                 if right == end]
        assert fired and fired[0] <= y  # the band of that window had already ended


def test_timeline_sessions_grow_and_merge_when_scrubbed():
    df = pd.DataFrame({"ts": [0, 300, 150, 2000], "k": ["a", "a", "a", "a"]})
    res = (sl.from_frame(df, time="ts", unit="ms", batch_size=1).watermark(1000)
           .window(sl.Session(200), by="k").agg(n=("k", "size")))
    tl = res.timeline()
    res.collect()

    def spans(cut):
        tl.scrub(cut)
        b = data(tl, "bands")
        return sorted(zip(b["left"], b["right"], b["state"]))

    assert spans(1) == [(0.0, 200.0, "open")]
    assert spans(2) == [(0.0, 200.0, "open"), (300.0, 500.0, "open")]
    assert spans(3) == [(0.0, 500.0, "open")]  # 150 bridged both sessions
    assert spans(None) == [(0.0, 500.0, "fired"), (2000.0, 2200.0, "fired")]
    assert data(tl, "fires")["y"] == [4, 4]  # only the end of input fired them


def test_timeline_scrubs_through_arrivals_with_the_slider():
    with dummy_comms():
        res = small_tumble()
        tl = res.timeline()
        res.collect()
        assert (tl.slider.min, tl.slider.max, tl.slider.value) == (0, 4, 4) and tl.following
        from_browser(tl.slider, state={"value": 2})
        assert not tl.following
        assert data(tl, "events")["y"] == [0, 1]
        assert data(tl, "fires")["y"] == [2] and data(tl, "late")["y"] == []
        assert data(tl, "now") == {"x0": [1200.0], "y0": [2], "x1": [1200.0], "y1": [2]}
        assert "scrubbing" in tl.caption.value and "watermark 1200" in tl.caption.value
        from_browser(tl.slider, state={"value": 4})
        assert tl.following and data(tl, "events")["y"] == [0, 1, 2, 3]
        assert "live" in tl.caption.value


def test_timeline_keeps_only_the_last_events():
    src = sl.demo.sensors(rate=1000, keys=8, events=3000, speed=None, batch_size=500)
    res = src.watermark("300ms").window(sl.Tumble("1s"), by="sensor").agg(n=("temp", "size"))
    tl = res.timeline(max_events=100)
    res.collect()
    ev = data(tl, "events")
    assert ev["y"] == list(range(2900, 3000))
    assert len(data(tl, "watermark")["y"]) <= 200 and len(data(tl, "late")["y"]) <= 100
    assert tl.slider.min == 2900 and tl.slider.max == 3000


def test_timeline_starts_afresh_when_the_pipeline_runs_again():
    res = small_tumble()
    tl = res.timeline()
    res.collect()
    res.collect()  # resets the pipeline and runs again
    assert data(tl, "events")["y"] == [0, 1, 2, 3] and data(tl, "fires")["y"] == [2, 4, 4]


def test_timeline_opened_mid_run_counts_arrivals_from_there():
    res = small_tumble(batch_size=1)
    pipe = res.pipeline
    pipe.step()
    pipe.step()
    tl = res.timeline()
    while pipe.state != "finished":
        pipe.step()
    assert data(tl, "events")["x"] == [300.0, 2500.0] and data(tl, "events")["y"] == [0, 1]
    assert data(tl, "late")["y"] == [0]
    assert data(tl, "fires")["x"] == [2000.0, 3000.0] and data(tl, "fires")["y"] == [2, 2]


def test_timeline_of_a_late_output_follows_its_window_and_rejects_plain_streams():
    res = small_tumble()
    assert res.late.timeline().operator is res
    with pytest.raises(TypeError, match="timeline\\(\\) draws a window operator"):
        sl.from_frame(pd.DataFrame({"ts": [1]}), time="ts", unit="s").timeline()
    with pytest.raises(ValueError, match="max_events"):
        res.timeline(max_events=0)


def test_timeline_animates_on_the_loop_coalesced_one_patch_per_redraw():
    async def run():
        with dummy_comms() as comms:
            src = sl.demo.sensors(rate=2000, keys=4, events=3000, speed=2)
            res = src.watermark("300ms").window(sl.Session("50ms"), by="sensor").agg(
                n=("temp", "size"))
            tl = res.timeline(max_events=400, max_rate=20)
            t0 = time.monotonic()
            res.start()
            seen = []
            while res.pipeline.state == "running":
                await asyncio.sleep(0.05)
                ys = tl.sources["events"].data["y"]
                seen.append(ys[-1] if len(ys) else -1)  # the latest arrival drawn
            await asyncio.sleep(0.15)
            elapsed = time.monotonic() - t0
            plot = next(c for c in comms if c.comm_id == tl.plot.comm.comm_id)
            return tl, seen, elapsed, plot, threading.active_count()

    threads = threading.active_count()
    tl, seen, elapsed, plot, during = asyncio.run(run())
    assert during == threads  # no thread of its own
    assert len(set(seen)) > 3 and seen == sorted(seen)  # it moved on while the stream ran
    assert tl.data.count == 3000 and len(tl.sources["events"].data["y"]) == 400
    assert 2 <= tl.feeder.flushes <= 20 * elapsed + 2
    patches = [m for m in plot.customs() if m.get("msg") == "patch"]
    assert len(patches) == 3 * tl.feeder.flushes  # header, metadata, content: one PATCH-DOC each


# --- compare ------------------------------------------------------------------------------------------
def known_difference():
    """Row 2 (t=900) arrives after t=1500: late with watermark delay 0, counted with delay 1s."""
    df = pd.DataFrame({"ts": [100, 1500, 900, 2600, 400], "k": ["a", "a", "a", "b", "a"],
                       "v": [1.0, 2.0, 3.0, 4.0, 5.0]})
    src = sl.from_frame(df, time="ts", unit="ms")
    return sl.teach.compare(src, {"A": dict(window=sl.Tumble(1000), watermark=0),
                                  "B": dict(window=sl.Tumble(1000), watermark=1000)},
                            by="k", agg={"n": ("v", "size"), "s": ("v", "sum")})


def test_compare_replays_the_same_events_and_finds_rows_late_only_in_a():
    cmp = known_difference()
    assert cmp.late["A"]["arrival"].tolist() == [2, 4]
    assert cmp.late["A"]["ts"].tolist() == [900, 400]
    assert cmp.late["B"]["arrival"].tolist() == [4]  # 400 is late even with a 1s delay (W=1600)
    assert cmp.late_diff[["arrival", "change"]].values.tolist() == [[2, "only A"]]
    assert cmp.diff[["k", "window_start", "change", "n_A", "n_B", "s_A", "s_B"]].values.tolist() == [
        ["a", 0, "changed", 1, 2, 1.0, 4.0]]
    assert cmp.results["B"]["n"].sum() == cmp.results["A"]["n"].sum() + 1


def test_compare_marks_windows_only_in_one_setting():
    df = pd.DataFrame({"ts": [100, 1500, 2600], "k": ["a", "a", "a"]})
    cmp = sl.teach.compare(df, {"1s": dict(window=sl.Tumble(1000)), "2s": dict(window=sl.Tumble(2000))},
                           time="ts", unit="ms", by="k")
    changes = cmp.diff[["window_start", "window_end", "change"]].values.tolist()
    assert changes == [[0, 1000, "only 1s"], [0, 2000, "only 2s"], [1000, 2000, "only 1s"],
                       [2000, 3000, "only 1s"], [2000, 4000, "only 2s"]]
    assert cmp.late_diff.empty


def test_compare_uses_the_last_revision_with_allowed_lateness():
    df = pd.DataFrame({"ts": [100, 1500, 900], "k": ["a", "a", "a"]})
    cmp = sl.teach.compare(df, {"A": dict(), "B": dict(allowed_lateness=1000)},
                           window=sl.Tumble(1000), watermark=0, time="ts", unit="ms", by="k")
    assert cmp.results["B"][["window_start", "n", "revision"]].values.tolist() == [
        [0, 1, 0], [0, 2, 1], [1000, 1, 0]]
    assert cmp.diff[["window_start", "change", "n_A", "n_B"]].values.tolist() == [[0, "changed", 1, 2]]


def test_compare_shows_both_sides_with_differences_highlighted():
    cmp = known_difference()
    html = cmp._repr_html_()
    assert "watermark delay 0ms" in html and "watermark delay 1s" in html
    assert "1 changed" in html and "0 only A" in html
    assert "background:#fef08a" in html  # a changed value
    assert html.count("<tr style='background:#dcfce7'>") == 1  # the row late only in A
    assert "late rows, A" in html and "late rows, B" in html
    assert "1 result rows differ" in repr(cmp)


def test_compare_can_draw_a_replay_on_the_timeline():
    tl = known_difference().timeline("A")
    assert data(tl, "late")["y"] == [2, 4]


def test_compare_rejects_bad_settings_with_a_hint():
    src = sl.from_frame(pd.DataFrame({"ts": [1, 2]}), time="ts", unit="s")
    with pytest.raises(ValueError, match="two labels"):
        sl.teach.compare(src, {"A": dict(window=sl.Tumble(1))})
    with pytest.raises(ValueError, match="unknown key 'delay'"):
        sl.teach.compare(src, {"A": dict(window=sl.Tumble(1)), "B": dict(delay=1)})
    with pytest.raises(ValueError, match="needs window="):
        sl.teach.compare(src, {"A": dict(watermark=0), "B": dict(watermark=1)})
    with pytest.raises(ValueError, match="pass n= \\(rows\\) or timeout="):
        sl.teach.compare(sl.demo.sensors(speed=None), {"A": {}, "B": {}}, window=sl.Tumble("1s"))


def test_compare_records_an_endless_source_once():
    cmp = sl.teach.compare(sl.demo.sensors(rate=100, keys=2, speed=None), {"A": {}, "B": {}},
                           window=sl.Tumble("1s"), watermark="100ms", n=500, by="sensor")
    assert len(cmp.events) == 500 and cmp.diff.empty and cmp.late_diff.empty


# --- exercises -------------------------------------------------------------------------------------
def test_which_windows_is_checked_right_and_wrong_with_an_explanation():
    ex = sl.teach.exercise("which_windows", window=sl.Hop("10s", "5s"), watermark="2s", seed=0)
    assert ex.question.startswith("An event has event time t = 45s. Window: Hop(10s, slide=5s).")
    assert ex.answer == [(40, 50), (45, 55)]
    ok, text = ex.check([(40, 50), (45, 55)])
    assert ok and text.startswith("Right.")
    assert ex.check("[40s, 50s), [45s, 55s)")[0] and ex.check("40, 45")[0]
    ok, text = ex.check("[35, 45), [40, 50)")
    assert not ok
    assert text.startswith("Not quite: the answer is [40s, 50s), [45s, 55s).")
    assert "Not [35s, 45s): it ends exactly at 45s, and the end is excluded." in text


@pytest.mark.parametrize("window", [sl.Tumble("10s"), sl.Hop("10s", "2s"), sl.Cumulate("12s", "4s"),
                                    sl.Tumble("5s", offset="2s")])
def test_which_windows_answers_come_from_the_engine(window):
    plan = window.resolve("s")
    for seed in range(15):
        ex = sl.teach.exercise("which_windows", window=window, seed=seed)
        t = ex.problem.facts["t"]
        brute = [(s, e) for s, e in (w for _, w in ex.problem.choices) if s <= t < e]
        assert ex.problem.answer == frozenset(SlicedLogic(plan, [], []).windows_of(t)) == frozenset(brute)


def test_which_session_is_checked_against_the_engine():
    ex = sl.teach.exercise("which_windows", window=sl.Session("3s"), seed=1)
    assert "event #4 (t = 17.25s)" in ex.question
    assert ex.answer == (16.5, 21.75)
    assert ex.check((16.5, 21.75))[0] and not ex.check("[17.25, 20.25)")[0]
    assert "0.75s (<= gap: same session)" in ex.explanation


@pytest.mark.parametrize("window", [sl.Tumble("10s"), sl.Hop("10s", "5s"), sl.Session("3s")])
def test_when_fires_matches_the_watermark_rule(window):
    for seed in range(10):
        ex = sl.teach.exercise("when_fires", window=window, watermark="2s", seed=seed)
        ts = [round(float(t[:-1]) * 1000) for t in ex.problem.events["event time"]]
        end = ex.problem.facts["window"][1]
        first = next((j + 1 for j in range(len(ts)) if max(ts[: j + 1]) - 2000 >= end - 1), END)
        assert ex.answer == first
        assert ex.check(first)[0]
        wrong = 1 if first != 1 else 2
        ok, text = ex.check(wrong)
        assert not ok and "fires once the watermark W >= end - 1ms" in text


def test_is_late_matches_the_watermark_each_row_saw():
    answers = set()
    for seed in range(20):
        ex = sl.teach.exercise("is_late", window=sl.Tumble("10s"), watermark="2s", seed=seed)
        ts = [round(float(t[:-1]) * 1000) for t in ex.problem.events["event time"]]
        k = ex.problem.target
        seen = max(ts[: k - 1]) - 2000
        start = ts[k - 1] - ts[k - 1] % 10_000
        assert ex.answer == (start + 10_000 - 1 <= seen)
        assert ex.check("yes" if ex.answer else "no")[0] and not ex.check(not ex.answer)[0]
        answers.add(ex.answer)
        assert "W = max(" in ex.explanation
    assert answers == {True, False}


def test_exercise_answers_that_cannot_be_read_raise_with_a_hint():
    with pytest.raises(ValueError, match="'yes'/'no'"):
        sl.teach.exercise("is_late", seed=0).check("maybe")
    with pytest.raises(ValueError, match="event number 1..7 or 'end'"):
        sl.teach.exercise("when_fires", seed=0).check(99)
    with pytest.raises(ValueError, match="kind must be one of"):
        sl.teach.exercise("what_time")


def test_exercise_widget_through_a_dummy_comm():
    with dummy_comms() as comms:
        ex = sl.teach.exercise("is_late", window=sl.Tumble("10s"), watermark="2s", seed=1)
        assert "6 ◀" in ex.prompt.value  # the event in question is highlighted
        click(ex.check_button)
        assert "Choose an answer first" in ex.feedback.value
        from_browser(ex.inputs[0], state={"index": 0})  # "yes, late"
        assert ex.selected() is True
        click(ex.check_button)
        assert "✓ Right." in ex.feedback.value and "24.4s" in ex.feedback.value
        feedback = next(c for c in comms if c.comm_id == ex.feedback.comm.comm_id)
        assert any("✓ Right." in str(m["state"].get("value", "")) for m in feedback.updates())
        question = ex.question
        click(ex.next_button)
        assert ex.seed == 2 and ex.question != question and ex.feedback.value == ""


def test_exercise_widget_ticks_windows():
    with dummy_comms():
        ex = sl.teach.exercise("which_windows", window=sl.Hop("10s", "5s"), seed=0)
        for box, (_, value) in zip(ex.inputs, ex.choices):
            if value == (40, 50):
                from_browser(box, state={"value": True})
        click(ex.check_button)
        assert "✗ Not quite: the answer is [40s, 50s), [45s, 55s)." in ex.feedback.value
        for box, (_, value) in zip(ex.inputs, ex.choices):
            if value == (45, 55):
                from_browser(box, state={"value": True})
        click(ex.check_button)
        assert "✓ Right." in ex.feedback.value
