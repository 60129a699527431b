"""``res.timeline()``: a live event-time diagram of one window operator (Bokeh, via jupyter_bokeh).

x is **event time**; y is **arrival**: the position in which each row reached the window operator
(0, 1, 2, ...). An arrival counter rather than wall time makes a clear picture at any replay
speed: a replay with ``speed=None`` delivers thousands of rows in the same millisecond, which on a
wall-clock axis would pile up on one line; with the counter each row has its own height, the
picture does not depend on batching, and the same data always gives the same diagram.

On that picture:

- every event is a dot at (event time, arrival), coloured by group key;
- the watermark is a red staircase: at height *i* it sits at the watermark row *i* saw;
- each window is a band over its interval ``[start, end)``, from its first row up to the arrival
  at which it fired (a down-pointing triangle at its end; hover shows the result row). Open
  windows reach up to now; session bands grow and merge as rows arrive;
- a late row is a red ✕, with a dotted line from the end of the window it missed to the watermark
  it saw: the band ended before the watermark had passed, which is why the row was dropped.

It animates while the stream runs (taps on the window's input, output and ``late`` output feed a
:class:`~streamlab.viz.feed.Feeder` that redraws at most ``max_rate`` times a second on the
kernel's loop) and keeps only the last ``max_events`` events. The slider scrubs back through
arrivals; at its right end the diagram follows the stream again.

>>> import pandas as pd, streamlab as sl
>>> df = pd.DataFrame({"ts": [100, 1200, 300, 2500], "k": ["a", "a", "b", "a"]})
>>> res = sl.from_frame(df, time="ts", unit="ms").watermark(0).window(sl.Tumble(1000), by="k").agg(
...     n=("k", "size"))
>>> tl = res.timeline(max_events=100)
>>> out = res.collect()
>>> len(tl.sources["events"].data["x"]), tl.sources["late"].data["y"], tl.sources["fires"].data["y"]
(4, [2], [2, 4, 4])
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import pandas as pd
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.models.annotations import Legend  # not via bokeh.models: its computed __all__ hides it
from bokeh.plotting import figure

from ..core.node import SideOutput
from .diagram import LiveDiagram, check_rates, wire_columns
from .timeline_data import COLUMNS, STREAMED, TimelineData

if TYPE_CHECKING:  # bokeh's type aliases (stubs only)
    from bokeh.core.enums import TooltipFieldFormatterType
    from bokeh.models import CustomJSHover

WM_COLOR = "#dc2626"
_FMT = "{%F %H:%M:%S.%3N}"


def nearest_upstream(stream: Any, kinds: tuple[type, ...]) -> Any:
    """The first node of one of ``kinds`` at or upstream of ``stream`` (breadth first; a side
    output leads to its operator), or None."""
    todo, seen = [stream], set()
    while todo:
        s = todo.pop(0)
        if s is None or id(s) in seen:
            continue
        seen.add(id(s))
        if isinstance(s, kinds):
            return s
        if isinstance(s, SideOutput) and s.parent is not None:
            todo.append(s.parent)
        todo.extend(getattr(s, "upstreams", []))
    return None


def window_operator(stream: Any):
    """The window operator a timeline follows: ``stream`` itself, its parent, or the nearest upstream."""
    from ..windows.operator import WindowAgg

    op = nearest_upstream(stream, (WindowAgg,))
    if op is None:
        raise TypeError("timeline() draws a window operator: call it on "
                        "`src.watermark(...).window(sl.Tumble('1s'), by=...).agg(...)` (or downstream of it)")
    return op


class Timeline(LiveDiagram):
    """The live teaching diagram of a window operator: a Bokeh figure, an arrival slider, a caption.

    ``sources`` holds the figure's ColumnDataSources: ``events``, ``bands``, ``watermark``,
    ``fires``, ``late`` and ``now`` (the watermark's last stretch up to the latest arrival).
    """

    def __init__(self, stream: Any, max_events: int = 2000, max_rate: float = 20.0,
                 height: int = 440, width: int | None = None, title: str | None = None) -> None:
        check_rates(max_events, max_rate)
        self.operator = op = window_operator(stream)
        self.data = TimelineData(op, max_events)
        self.sources = {name: ColumnDataSource(data={c: [] for c in cols})
                        for name, cols in COLUMNS.items()}
        self._version = self.data.version
        self._start(self._build(op, height, width, title), max_events, max_rate)

    # ----------------------------------------------------------------- building
    def _build(self, op, height, width, title) -> Any:
        size = {"sizing_mode": "stretch_width"} if width is None else {"width": width}
        datetime_x = op.time_meta.unit is None
        fig = figure(title=title or f"{op.label()} · watermark and late rows",
                     height=height, tools="pan,wheel_zoom,box_zoom,reset,save",
                     x_axis_type="datetime" if datetime_x else "linear", **size)
        unit = "" if datetime_x else f" ({op.time_meta.unit})"
        fig.xaxis.axis_label = f"event time{unit}: {op.time_meta.column}"
        fig.yaxis.axis_label = "arrival (row # into the window)"
        src = self.sources
        fig.add_layout(Legend(click_policy="hide", location="top_left"), "right")
        fig.quad(left="left", right="right", bottom="bottom", top="top", source=src["bands"],
                 fill_color="color", fill_alpha="alpha", line_color="color", line_alpha=0.6,
                 legend_label="window")
        fig.step(x="x", y="y", source=src["watermark"], mode="before", line_color=WM_COLOR,
                 line_width=2, legend_label="watermark")
        fig.segment(x0="x0", y0="y0", x1="x1", y1="y1", source=src["now"], line_color=WM_COLOR,
                    line_width=2, line_dash="dashed", legend_label="watermark")
        events = fig.scatter(x="x", y="y", source=src["events"], size=6, fill_color="color",
                             line_color="color", fill_alpha=0.8, legend_field="key")
        fig.segment(x0="x_end", y0="y", x1="wm", y1="y", source=src["late"], line_color=WM_COLOR,
                    line_dash="dotted", line_width=1.5, legend_label="late row")
        late = fig.scatter(x="x", y="y", source=src["late"], marker="x", size=13, line_width=3,
                           line_color=WM_COLOR, legend_label="late row")
        fires = fig.scatter(x="x", y="y", source=src["fires"], marker="inverted_triangle",
                            size=12, fill_color="color", line_color="black",
                            legend_label="window fired")
        t = _FMT if datetime_x else ""
        fmts: dict[str, TooltipFieldFormatterType | CustomJSHover] = (
            {"@x": "datetime", "@wm": "datetime", "@start": "datetime", "@end": "datetime"}
            if datetime_x else {})
        fig.add_tools(
            HoverTool(renderers=[events], formatters=fmts, tooltips=[
                ("key", "@key"), ("event time", f"@x{t}"), ("arrival", "@y"),
                ("watermark seen", f"@wm{t}"), ("row", "@row")]),
            HoverTool(renderers=[late], tooltips=[("LATE", "@why"), ("reason", "@reason")]),
            HoverTool(renderers=[fires], formatters=fmts, tooltips=[
                ("fired", "@row"), ("arrival", "@y"), ("why", "@cause")]),
        )
        return fig

    # ------------------------------------------------------------------ feeding
    def _redraw(self, _ticks: list[Any]) -> None:
        """Send what changed to the browser (on the kernel's loop, at most ``max_rate`` a second)."""
        data = self.data
        if not data.consistent:  # mid-batch (no event loop): the tap on the input comes next
            return
        data.refresh_open()
        with self.plot.batched():
            if self.following:
                if self._version != data.version:
                    self._version = data.version
                    data.take_fresh()
                    self._show(data.frames())
                else:
                    for name, df in data.take_fresh().items():
                        limit = 2 * self.max_events if name == "watermark" else self.max_events
                        self.sources[name].stream(wire_columns(df, COLUMNS[name]), rollover=limit)
                    self._show({"bands": data.bands(), "now": data.head()})
        self._sync_slider()

    def _show(self, frames: dict[str, pd.DataFrame]) -> None:
        for name, df in frames.items():
            new = wire_columns(df, COLUMNS[name])
            if name in STREAMED or new != self.sources[name].data:
                self.sources[name].data = new

    def _sync_slider(self) -> None:
        data = self.data
        self._syncing = True
        try:
            with self.hold_sync():
                self.slider.max = max(data.count, self.slider.min)
                self.slider.min = min(data.horizon, data.count)
                if self.following:
                    self.slider.value = data.count
        finally:
            self._syncing = False
        self.caption.value = self._caption()

    def _caption(self) -> str:
        d = self.data
        wm = d.watermark_at(None if self.following else self.slider.value)
        wm_text = d.text(wm[0]) if wm else "–"
        where = ("live" if self.following
                 else f"scrubbing: as of {self.slider.value:,} arrivals (drag right to follow)")
        return (f"<span style='font-size:12px'>{d.count:,} rows in · watermark {escape(wm_text)} · "
                f"{d.fired_total:,} results · <span style='color:{WM_COLOR}'>{d.late_total:,} late"
                f"</span> · last {len(d.tables['events']):,} events shown · {escape(where)}</span>")

    def _scrubbed(self) -> None:
        self.data.take_fresh()  # every frame was just redrawn: nothing left to stream


def timeline(stream: Any, max_events: int = 2000, max_rate: float = 20.0, **options: Any) -> Any:
    """``res.timeline()``: the live event-time diagram of ``res``'s window operator, or of its
    interval join (the nearer of the two upstream): see :mod:`~streamlab.teach.join_timeline`.

    ``options``: ``height``, ``width`` and ``title`` of the figure; for a join also ``row=`` and
    ``side=`` (the row whose time bound is drawn).
    """
    join = interval_join_of(stream)
    if join is not None:
        from .join_timeline import JoinTimeline

        return JoinTimeline(join, max_events=max_events, max_rate=max_rate, **options)
    if "row" in options or "side" in options:
        raise TypeError("timeline(row=..., side=...) selects a row of an interval join; this stream has none "
                        "upstream")
    return Timeline(stream, max_events=max_events, max_rate=max_rate, **options)


def interval_join_of(stream: Any):
    """The interval join a timeline follows, when one is nearer upstream than any window operator."""
    from ..joins.interval import IntervalJoin
    from ..windows.operator import WindowAgg

    op = nearest_upstream(stream, (IntervalJoin, WindowAgg))
    return op if isinstance(op, IntervalJoin) else None
