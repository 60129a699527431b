"""A join pipeline in the live view, the graph and the inspector: both inputs, each watermark."""

from __future__ import annotations

import pandas as pd

import streamlab as sl
from streamlab.widgets import view_for
from streamlab.widgets.graph import render_svg
from streamlab.widgets.inspector import StateInspector


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
