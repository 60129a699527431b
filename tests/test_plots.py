"""Live plots and tables, fed from a plain streamz.Stream of window-row DataFrames."""

from __future__ import annotations

import asyncio
import json
import threading

import jupyter_bokeh  # noqa: F401 - a missing test dependency must fail, not skip
import numpy as np
import pandas as pd
import pytest
import streamz
from bokeh.models import BasicTicker, DatetimeTicker

from streamlab.viz.feed import Feeder
from streamlab.viz.plot import LivePlot, PlotAccessor
from streamlab.viz.table import LiveTable, live_table
from streamlab.widgets.testing import dummy_comms

T0 = pd.Timestamp("2024-01-01T00:00:00Z")


def windows(end_s: int, keys=("s1", "s2"), size_s: int = 10, value: float = 20.0) -> pd.DataFrame:
    """Rows of a Hop(10s, 1s) result whose windows end at ``end_s`` seconds."""
    end = T0 + pd.Timedelta(seconds=end_s)
    return pd.DataFrame({
        "sensor": list(keys),
        "window_start": [end - pd.Timedelta(seconds=size_s)] * len(keys),
        "window_end": [end] * len(keys),
        "avg": [value + i for i in range(len(keys))],
        "cnt": [3] * len(keys),
    })


def streamed_events(comm) -> list[dict]:
    """The Bokeh document events a BokehModel sent as PATCH-DOC content."""
    events = []
    for content in comm.customs():
        payload = content.get("payload") if isinstance(content, dict) else None
        if isinstance(payload, str) and payload.startswith("{") and '"events"' in payload:
            events.extend(json.loads(payload)["events"])
    return events


def test_line_plot_has_one_series_colour_and_legend_entry_per_key():
    s = streamz.Stream()
    p = PlotAccessor(s).line(x="window_end", y="avg", by="sensor", rollover=100)
    s.emit(windows(1))
    s.emit(windows(2, keys=("s1", "s3")))
    assert sorted(p.sources) == ["s1", "s2", "s3"]
    assert p.n_rows == 4 and p.rows_streamed == 4
    assert list(p.sources["s1"].data["y"]) == [20.0, 20.0]
    legend = p.figure.legend[0]
    assert [item.label.value for item in legend.items] == ["s1", "s2", "s3"]
    colours = {r.glyph.line_color for r in p.figure.renderers if hasattr(r.glyph, "line_color")}
    assert len(colours) == 3


def test_datetime_windows_give_a_datetime_axis_and_hover_with_window_bounds():
    s = streamz.Stream()
    p = PlotAccessor(s).line(y="avg", by="sensor")
    s.emit(windows(5))
    assert isinstance(p.figure.xaxis[0].ticker, DatetimeTicker)
    x = p.sources["s1"].data["x"]
    assert x[0] == (T0 + pd.Timedelta(seconds=5)).value / 1e6  # epoch milliseconds
    assert p.sources["s1"].data["ws"][0] == x[0] - 10_000
    tips = dict(p._hover.tooltips)
    assert "@ws" in tips["window"] and "@we" in tips["window"] and tips["avg"] == "@y"
    assert p._hover.formatters["@ws"] == "datetime"


def test_numeric_windows_switch_the_axis_back_to_numbers():
    s = streamz.Stream()
    p = PlotAccessor(s).scatter(x="window_end", y="cnt")
    assert isinstance(p.figure.xaxis[0].ticker, DatetimeTicker)  # a guess from the name
    s.emit(pd.DataFrame({"window_start": [0, 10], "window_end": [10, 20], "cnt": [1, 2]}))
    assert isinstance(p.figure.xaxis[0].ticker, BasicTicker)
    assert list(p.sources[""].data["x"]) == [10.0, 20.0]
    assert p._hover.formatters == {}


def test_rollover_bounds_the_rows_kept_per_series():
    s = streamz.Stream()
    p = PlotAccessor(s).step(y="avg", by="sensor", rollover=3)
    for i in range(10):
        s.emit(windows(i))
    assert p.rows_streamed == 20
    assert {k: len(src.data["x"]) for k, src in p.sources.items()} == {"s1": 3, "s2": 3}
    assert list(p.sources["s1"].data["x"]) == [
        (T0 + pd.Timedelta(seconds=i)).value / 1e6 for i in (7, 8, 9)]


def test_only_new_rows_cross_the_wire_as_columns_streamed_patches():
    with dummy_comms() as comms:
        s = streamz.Stream()
        p = PlotAccessor(s).line(y="avg", by="sensor", rollover=50)
    comm = comms[-1]
    assert p.comm is comm and "render_bundle" in comm.open_data["state"]
    comm.messages.clear()
    s.emit(windows(1))
    comm.messages.clear()  # the first rows also add renderers and legend items
    s.emit(windows(2))
    events = streamed_events(comm)
    assert [e["kind"] for e in events] == ["ColumnsStreamed", "ColumnsStreamed"]
    assert {e["rollover"] for e in events} == {50}
    assert not comm.updates(), "the document must not be re-sent"


def test_heatmap_cells_span_one_slide_and_colour_by_value():
    s = streamz.Stream()
    p = PlotAccessor(s).heatmap(x="window_start", y="avg", by="sensor")
    s.emit(windows(10, value=1.0))
    s.emit(windows(11, value=5.0))
    assert list(p.figure.y_range.factors) == ["s1", "s2"]
    cells = p.sources["cells"].data
    # the first column cannot know the slide yet: it spans the window, later cells draw over it
    assert list(cells["w"]) == [10_000.0] * 2 + [1000.0] * 2
    assert cells["xc"][-1] == cells["x"][-1] + cells["w"][-1] / 2
    assert (p._mapper.low, p._mapper.high) == (1.0, 6.0)


def test_bar_width_follows_the_spacing_of_windows():
    s = streamz.Stream()
    p = PlotAccessor(s).bar(y="cnt", by="sensor")
    s.emit(pd.concat([windows(1), windows(3)]))
    assert list(p.sources["s1"].data["w"]) == [0.8 * 2000.0] * 2
    # two keys share each slot side by side
    s1, s2 = p.sources["s1"].data, p.sources["s2"].data
    assert s1["wd"][0] == s2["wd"][0] == 800.0
    assert (s1["xd"][0], s2["xd"][0]) == (s1["x"][0] - 400.0, s1["x"][0] + 400.0)


def test_missing_column_is_reported_in_the_plot_and_counted():
    s = streamz.Stream()
    p = PlotAccessor(s).line(y="nope", by="sensor")
    s.emit(windows(1))
    assert p.feeder.errors == 1 and "nope" in str(p.feeder.last_error)
    assert "nope" in p.figure.title.text


def test_y_is_required_and_kind_is_checked():
    s = streamz.Stream()
    with pytest.raises(TypeError, match="needs y="):
        PlotAccessor(s).line()
    with pytest.raises(ValueError, match="kind must be one of"):
        PlotAccessor(s)(kind="pie", y="avg")


def test_detach_stops_following_the_stream():
    s = streamz.Stream()
    p = PlotAccessor(s).line(y="avg", by="sensor")
    s.emit(windows(1))
    p.detach()
    s.emit(windows(2))
    assert p.rows_streamed == 2 and not s.downstreams


def test_updates_are_coalesced_to_at_most_max_rate_per_second():
    async def main():
        s = streamz.Stream()
        p = PlotAccessor(s).line(y="avg", by="sensor", max_rate=20, rollover=10_000)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(200):  # 200 batches over ~1 s, each on the loop
            s.emit(windows(i))
            await asyncio.sleep(0.005)
        elapsed = loop.time() - start
        while p.feeder.pending:
            await asyncio.sleep(0.01)
        return p, elapsed

    p, elapsed = asyncio.run(main())
    assert p.rows_streamed == 400 and p.n_rows == 400
    assert 2 <= p.feeder.flushes <= 20 * elapsed + 2


def test_feeder_hands_pushes_from_a_thread_to_the_loop_thread():
    seen = []

    async def main():
        f = Feeder(lambda items: seen.append((threading.get_ident(), items)), max_rate=50)
        t = threading.Thread(target=lambda: [f.push(i) for i in range(5)])
        t.start()
        t.join()
        while f.pending or not seen:
            await asyncio.sleep(0.01)
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert {tid for tid, _ in seen} == {loop_thread}
    assert [i for _, items in seen for i in items] == list(range(5))


def test_feeder_bounds_pending_items_and_counts_drops():
    flushed = []

    async def main():
        f = Feeder(flushed.append, max_rate=1, max_pending=10)
        for i in range(25):  # the loop gets no chance to flush in between
            f.push(i)
        assert (f.pending, f.dropped, flushed) == (10, 15, [])
        while not flushed:
            await asyncio.sleep(0.01)
        return f

    f = asyncio.run(main())
    assert flushed == [list(range(15, 25))] and f.pending == 0


def test_live_table_keeps_the_latest_rows_newest_first_and_escapes():
    with dummy_comms() as comms:
        s = streamz.Stream()
        t = live_table(s, max_rows=3)
    assert isinstance(t, LiveTable)
    for i in range(5):
        s.emit(pd.DataFrame({"sensor": ["<b>x</b>"], "window_end": [T0], "cnt": [i],
                             "avg": [np.float64(i) / 3]}))
    assert t.rows["cnt"].tolist() == [2, 3, 4] and t.received == 5
    html = comms[-1].updates()[-1]["state"]["value"]
    assert html.index("<td>4</td>") < html.index("<td>2</td>")
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert "2024-01-01 00:00:00.000" in html and "1.33333" in html


def test_plot_and_table_options_are_traitlets_with_help_and_defaults():
    for cls in (LivePlot, LiveTable):
        own = set(cls.class_own_traits())
        assert own, cls
        for name in own:
            trait = cls.class_traits()[name]
            assert trait.help, f"{cls.__name__}.{name} has no help"
            assert trait.default_value is not None


def test_plot_of_a_real_result_follows_collect_and_knows_its_columns():
    import streamlab as sl

    df = pd.DataFrame({"ts": pd.to_datetime(range(0, 5000, 250), unit="ms", utc=True),
                       "key": ["a", "b"] * 10, "v": [float(i) for i in range(20)]})
    res = (sl.from_frame(df, time="ts").watermark("0ms")
           .window(sl.Hop("2s", "1s"), by="key").agg(avg=("v", "mean")))
    with pytest.raises(KeyError, match="no column 'nope'"):
        res.plot.line(y="nope")
    p = res.plot.bar(y="avg", by="key")
    t = res.table(max_rows=4)
    out = res.collect()
    assert p.n_rows == len(out) == t.received
    assert isinstance(p.figure.xaxis[0].ticker, DatetimeTicker)
    assert sorted(p.sources) == ["a", "b"]


def test_numeric_event_time_gives_a_numeric_axis_from_the_start():
    import streamlab as sl

    df = pd.DataFrame({"ts": [0.0, 0.5, 1.2], "v": [1.0, 2.0, 3.0]})
    res = sl.from_frame(df, time="ts", unit="s").watermark(0).window(sl.Tumble(1)).agg(n=("v", "count"))
    p = res.plot.line(y="n")
    assert isinstance(p.figure.xaxis[0].ticker, BasicTicker)
    res.collect()
    assert list(p.sources[""].data["x"]) == [1.0, 2.0]


def test_a_plot_fed_before_it_is_displayed_shows_all_rows_when_displayed():
    """Rows streamed before any view exists must be in the document a new view starts from."""
    import json

    import pandas as pd
    import streamz

    from streamlab.viz.plot import PlotAccessor

    s = streamz.Stream()
    plot = PlotAccessor(s).line(x="window_end", y="avg", by="key")
    s.emit(pd.DataFrame({"key": ["a", "b"], "window_end": [1.0, 1.0], "avg": [2.0, 3.0]}))
    plot.feeder.flush()
    plot._repr_mimebundle_()
    bundle = json.dumps(plot.render_bundle["docs_json"])
    assert "3.0" in bundle and '"b"' in bundle
