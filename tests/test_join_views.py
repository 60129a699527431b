"""A join pipeline in the live view, the graph and the inspector: both inputs, each watermark."""

from __future__ import annotations

import pandas as pd
import pytest

import streamlab as sl
from streamlab.widgets import view_for
from streamlab.widgets.graph import render_svg
from streamlab.widgets.inspector import StateInspector
from streamlab.widgets.testing import dummy_comms


@pytest.fixture
def comms():
    with dummy_comms() as created:
        yield created


def joined():
    a = sl.from_frame(pd.DataFrame({"ts": [100, 200], "k": ["a", "b"]}), time="ts", unit="ms",
                      batch_size=1).watermark(0)
    b = sl.from_frame(pd.DataFrame({"ts": [150, 900], "k": ["a", "b"]}), time="ts", unit="ms",
                      batch_size=1).watermark(0)
    return a.join(b, on="k", between=(-100, 100), how="full")


def test_the_view_graph_and_inspector_show_a_join_with_both_inputs():
    j = joined()
    pipe = j.pipeline
    pipe.step()
    v = view_for(pipe)
    v.refresh()
    snap = pipe.snapshot()
    op = next(o for o in snap["operators"] if o["kind"] == "join")
    assert len(op["upstreams"]) == 2 and [i["watermark"] for i in op["inputs"]] == [100, 150]
    svg = render_svg(snap["operators"], uid="j")
    assert "join" in svg
    insp = StateInspector()
    insp.update(snap)
    insp.operator.value = op["id"]
    assert op["state"]["left"]["keys_held"] == {"a": 1}
    assert j.held_rows("left", "a")["ts"].tolist() == [100]


def impressions_and_clicks():
    imps = pd.DataFrame({"ts": [100, 200, 300, 400, 5000], "ad": ["a", "b", "a", "c", "a"],
                         "imp": [1, 2, 3, 4, 5]})
    clicks = pd.DataFrame({"ts": [250, 450, 5100], "ad": ["a", "c", "a"], "click": [10, 11, 12]})
    a = sl.from_frame(imps, time="ts", unit="ms", batch_size=2).watermark(0)
    b = sl.from_frame(clicks, time="ts", unit="ms", batch_size=1).watermark(0)
    return imps, clicks, a.join(b, on="ad", between=(0, 1000), how="left")


def held_model(imps, clicks, wm_left, wm_right, seen_left, seen_right, upper=1000):
    """Rows each side still holds: arrived, and the joint watermark has not passed their last chance."""
    joint = min(wm_left, wm_right)
    left = imps.head(seen_left)
    right = clicks.head(seen_right)
    return left[left.ts + upper >= joint], right[right.ts - 0 >= joint]


def test_the_inspector_opens_a_key_and_shows_the_rows_each_input_holds(comms):
    imps, clicks, j = impressions_and_clicks()
    pipe = j.pipeline
    v = view_for(pipe, show_inspector=True)
    pipe.step()
    pipe.step()
    v.refresh(inspect=True)
    insp = v.inspector
    snap = pipe.snapshot()
    op = next(o for o in snap["operators"] if o["kind"] == "join")
    insp.operator.value = op["id"]
    state = op["state"]
    # what the snapshot says each side holds, against an independent count of the arrived rows
    arrived = j.snapshot_node()["state"]
    left_in, right_in = arrived["left"]["rows_in"], arrived["right"]["rows_in"]
    want_left, want_right = held_model(imps, clicks, state["left"]["watermark"], state["right"]["watermark"],
                                       left_in, right_in)
    assert state["left"]["keys_held"] == want_left.groupby("ad").size().sort_values(
        ascending=False, kind="stable").to_dict()
    assert state["right"]["held"] == len(want_right)
    # the key chooser lists the keys either side holds; choosing one shows that key's rows per side
    assert set(insp.join_key.options) == set(want_left.ad) | set(want_right.ad)
    assert insp.tabs.titles[0].startswith("Join (")
    assert insp.join_box.layout.display == "" and insp.windows.layout.display == "none"
    insp.join_key.value = "a"
    html = insp.held.value
    n_left = int((want_left.ad == "a").sum())
    assert f"<b>left</b> holds {n_left} row" in html
    for imp in want_left[want_left.ad == "a"].imp:
        assert f">{imp}<" in html
    assert "<td>" in insp.join_sides.value and str(state["left"]["rows_in"]) in insp.join_sides.value
    # the browser was told: the held rows went out over the comm
    sent = [m["state"].get("value", "") for c in comms for m in c.updates()]
    assert any("<b>left</b> holds" in s for s in sent)
    # the graph box of the join shows each side's watermark and rows held
    svg = render_svg(snap["operators"], uid="k")
    assert f"L wm {state['left']['watermark_text']} · held {state['left']['held']}" in svg
    assert f"R wm {state['right']['watermark_text']} · held {state['right']['held']}" in svg
    v.close()


def test_held_rows_by_key_text_and_tuple():
    _, _, j = impressions_and_clicks()
    j.pipeline.step()
    rows = j.held_rows("left")
    for key in set(rows.ad):
        assert j.held_rows("left", key)["imp"].tolist() == rows[rows.ad == key]["imp"].tolist()
        assert j.held_rows("left", (key,))["imp"].tolist() == rows[rows.ad == key]["imp"].tolist()
