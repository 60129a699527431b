"""The one watermark channel (per-row marks on the batch) and multi-input watermarks (Flink's minimum)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import streamlab as sl
from streamlab.core.node import Node
from streamlab.core.timecol import NEG_INF
from streamlab.core.watermarks import InputWatermarks, Marks, attach, marks_of, row_watermarks


class Recorder(Node):
    """A two-input test operator: records, per arriving batch, its port and the W each row saw."""

    kind = "recorder"

    def __init__(self, a, b):
        super().__init__(upstreams=[a, b])
        self.seen: list[tuple[int, list[int], list[int]]] = []

    def on_batch(self, df, port, marks):
        if marks is not None and len(marks):
            self.seen.append((port, marks.ms.tolist(), marks.wm.tolist()))
        return None


def frame(ts):
    return pd.DataFrame({"ts": ts, "v": np.arange(len(ts), dtype="float64")})


def test_a_foreign_streamz_filter_keeps_every_rows_watermark():
    df = frame([1000, 3000, 2000, 500, 4000, 2500])
    df["v"] = [1.0, -1.0, 2.0, 3.0, -2.0, 4.0]
    via_map = sl.from_frame(df, time="ts", unit="ms", batch_size=3).watermark("500ms").map(
        lambda d: d[d.v > 0]).window(sl.Tumble(1000)).agg(s=("v", "sum"))
    via_where = sl.from_frame(df, time="ts", unit="ms", batch_size=3).watermark("500ms").where(
        "v > 0").window(sl.Tumble(1000)).agg(s=("v", "sum"))
    pd.testing.assert_frame_equal(via_map.collect(), via_where.collect())
    assert len(via_map.late.collect()) == len(via_where.late.collect()) == 2  # 2000 and 500 are late


def test_batches_carry_no_hidden_column_and_marks_say_what_each_row_saw():
    got = []
    wm = sl.from_frame(frame([1000, 3000, 2000]), time="ts", unit="ms").watermark("500ms")
    wm.sink(got.append)
    wm.collect()
    assert list(got[0].columns) == ["ts", "v"]
    assert row_watermarks(got[0]).tolist() == [NEG_INF, 500, 2500]
    assert marks_of(got[0]).end == 2500


def test_marks_are_dropped_when_rows_cannot_be_found():
    df = attach(pd.DataFrame({"v": [1, 2]}), Marks(np.array([1, 2]), np.array([0, 1]), 1, pd.RangeIndex(2)))
    assert marks_of(df.reset_index(drop=True)) is not None  # an equal index is the same rows
    assert marks_of(df.set_axis([7, 8])) is None


def test_two_inputs_hold_the_minimum_per_row_and_a_silent_input_holds_it_at_minus_infinity():
    a = sl.from_frame(frame([]), time="ts", unit="ms").watermark(0)
    b = sl.from_frame(frame([]), time="ts", unit="ms").watermark(0)
    rec = Recorder(a, b)
    send_a, send_b = a.upstreams[0].emit_batch, b.upstreams[0].emit_batch
    send_a(frame([1000, 2000]))  # b silent: -inf for every row
    assert rec.seen[-1] == (0, [1000, 2000], [NEG_INF, NEG_INF])
    send_b(frame([1500]))  # b's first row saw nothing of its own yet
    assert rec.seen[-1] == (1, [1500], [NEG_INF])
    send_a(frame([3000, 4000]))  # own W 2000, 3000, each capped by b's 1500
    assert rec.seen[-1] == (0, [3000, 4000], [1500, 1500])
    send_b(frame([2500, 5000]))  # own W 1500, 2500, capped by a's 4000: unchanged
    assert rec.seen[-1] == (1, [2500, 5000], [1500, 2500])
    snap = rec.snapshot_node()
    assert [i["watermark"] for i in snap["inputs"]] == [4000, 5000]
    assert snap["watermark"] == 4000


def test_an_idle_input_stops_holding_the_minimum_after_idle_timeout():
    a = sl.from_frame(frame([1000, 2000, 3000]), time="ts", unit="ms").watermark(0)
    b = sl.from_frame(frame([]), time="ts", unit="ms").watermark(0, idle_timeout="1s")
    rec = Recorder(a, b)
    b.on_timer(100.0)  # first tick: b has sent nothing since 100 s
    b.on_timer(100.5)
    a.upstreams[0].emit_batch(frame([1000, 2000]))
    assert rec.seen[-1][2] == [NEG_INF, NEG_INF]  # b still holds it at -inf
    b.on_timer(101.0)  # idle_timeout passed: b declares itself idle
    a.upstreams[0].emit_batch(frame([3000]))
    assert rec.seen[-1][2] == [2000]  # now a's own watermark alone
    assert rec.watermarks.idle == {1}


def test_input_watermarks_never_go_back():
    w = InputWatermarks()
    assert w.advance(0, 500) == 500
    assert w.advance(0, 300) == 500


def test_the_window_tells_watchers_what_it_judged():
    res = sl.from_frame(frame([1000, 3000, 2000]), time="ts", unit="ms").watermark("500ms").window(
        sl.Tumble(1000)).agg(n=("v", "size"))
    seen = []
    unwatch = res.watch(seen.append)
    res.collect()
    unwatch()
    assert seen[0].ms.tolist() == [1000, 3000, 2000]
    assert seen[0].wm.tolist() == [NEG_INF, 500, 2500]
    assert seen[0].end == 2500
