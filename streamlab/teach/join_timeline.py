"""``res.timeline()`` of an interval join: both inputs as two lanes on one event-time axis.

x is **event time**. The left input is the upper lane, the right input the lower one; within a
lane each key has its own height (and colour). On that picture:

- every input row is a dot; a match is a line from its left row to its right row;
- a row the join emitted padded with NULL (outer joins) is a hollow ring;
- each input's watermark is a vertical line across its lane, the join's watermark (the minimum)
  a dashed line across both;
- the **time bound** of a selected row (``row=``, ``side=``) is a band on the other lane: the
  times it matches. Its right end is the row's last chance: once the join's watermark passes it,
  the row is freed (and, in an outer join, emitted padded if it never matched).

It follows the stream live (redrawn at most ``max_rate`` times a second on the kernel's loop);
the slider scrubs back through arrivals.

>>> import pandas as pd, streamlab as sl
>>> a = sl.from_frame(pd.DataFrame({"ts": [10, 20], "k": ["x", "y"]}), time="ts", unit="ms").watermark(0)
>>> b = sl.from_frame(pd.DataFrame({"ts": [12, 40], "k": ["x", "y"]}), time="ts", unit="ms").watermark(0)
>>> j = a.join(b, on="k", between=(0, 5), how="left")
>>> tl = j.timeline(row=0)
>>> _ = j.collect()
>>> tl.flush()
>>> len(tl.sources["events"].data["x"]), tl.sources["matches"].data["x1"], tl.sources["bound"].data["right"]
(4, [12.0], [15.0])
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import pandas as pd
from bokeh.models import ColumnDataSource, HoverTool, Range1d
from bokeh.models.annotations import Legend
from bokeh.plotting import figure

from .diagram import LiveDiagram, check_rates, wire_columns
from .join_timeline_data import COLUMNS, LANES, SIDES, JoinTimelineData

WM_COLOR = "#dc2626"
BOUND_COLOR = "#f59e0b"
LAYERS = {**COLUMNS, "watermarks": ["x0", "y0", "x1", "y1", "label", "dash"],
          "bound": ["left", "right", "bottom", "top", "label"], "selected": ["x", "y"]}


class JoinTimeline(LiveDiagram):
    """The live teaching diagram of an interval join (see the module docstring).

    ``sources`` holds the figure's ColumnDataSources: ``events``, ``matches``, ``unmatched``,
    ``watermarks``, ``bound`` and ``selected``.
    """

    def __init__(self, join: Any, max_events: int = 2000, max_rate: float = 20.0, row: int | None = None,
                 side: str = "left", height: int = 360, width: int | None = None, title: str | None = None):
        check_rates(max_events, max_rate)
        if side not in SIDES:
            raise ValueError(f"side={side!r}: the selected row is a 'left' or a 'right' row")
        if row is not None and (isinstance(row, bool) or not isinstance(row, (int, np.integer))):
            raise ValueError(f"row= takes the number of a row of the {side} input (0 = first, -1 = latest), "
                             f"got {row!r}")
        self.operator = join
        self.data = JoinTimelineData(join, max_events)
        self.selected: tuple[str, int] | None = None if row is None else (side, int(row))
        self.sources = {name: ColumnDataSource(data={c: [] for c in cols}) for name, cols in LAYERS.items()}
        self._start(self._build(join, height, width, title), max_events, max_rate)

    def _build(self, join, height, width, title) -> Any:
        size = {"sizing_mode": "stretch_width"} if width is None else {"width": width}
        d = self.data
        datetime_x = d.unit is None
        fig = figure(title=title or join.label(), height=height, tools="pan,wheel_zoom,box_zoom,reset,save",
                     x_axis_type="datetime" if datetime_x else "linear", y_range=Range1d(start=-0.1, end=2.1), **size)
        fig.xaxis.axis_label = "event time" + ("" if datetime_x else f" ({d.unit})")
        centre = {side: sum(LANES[side]) / 2 for side in SIDES}
        fig.yaxis.ticker = list(centre.values())
        fig.yaxis.major_label_overrides = {v: f"{side}: {name}" for (side, v), name in zip(centre.items(), d.names)}
        fig.ygrid.grid_line_color = None
        src = self.sources
        fig.add_layout(Legend(click_policy="hide", location="top_left"), "right")
        fig.quad(left="left", right="right", bottom="bottom", top="top", source=src["bound"],
                 fill_color=BOUND_COLOR, fill_alpha=0.2, line_color=BOUND_COLOR, legend_label="time bound")
        fig.segment(x0="x0", y0="y0", x1="x1", y1="y1", source=src["matches"], line_color="color",
                    line_alpha=0.6, line_width=1.5, legend_label="match")
        fig.segment(x0="x0", y0="y0", x1="x1", y1="y1", source=src["watermarks"], line_color=WM_COLOR,
                    line_width=2, line_dash="dash", legend_label="watermark")
        events = fig.scatter(x="x", y="y", source=src["events"], size=7, fill_color="color",
                             line_color="color", legend_field="key")
        fig.scatter(x="x", y="y", source=src["unmatched"], size=13, fill_alpha=0, line_color="black",
                    line_width=1.5, legend_label="emitted unmatched")
        fig.scatter(x="x", y="y", source=src["selected"], size=16, fill_alpha=0, line_color=BOUND_COLOR,
                    line_width=3, legend_label="selected row")
        t = "{%F %H:%M:%S.%3N}" if datetime_x else ""
        fmts: Any = {"@x": "datetime", "@wm": "datetime"} if datetime_x else {}
        fig.add_tools(HoverTool(renderers=[events], formatters=fmts, tooltips=[
            ("input", "@side"), ("key", "@key"), ("event time", f"@x{t}"), ("arrival", "@n"),
            ("its input's watermark after it", f"@wm{t}"), ("row", "@row")]))
        return fig

    # ------------------------------------------------------------------ drawing
    def _redraw(self, _ticks: list[Any]) -> None:
        if self.following:
            with self.plot.batched():
                self._show(self.data.frames())
        self._sync_slider()

    def _show(self, frames: dict[str, pd.DataFrame]) -> None:
        frames = dict(frames)
        frames["bound"], frames["selected"] = self._bound_frames()
        for name, df in frames.items():
            new = wire_columns(df, LAYERS[name])
            if new != self.sources[name].data:
                self.sources[name].data = new

    def _bound_frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        none = (pd.DataFrame(columns=LAYERS["bound"]), pd.DataFrame(columns=LAYERS["selected"]))
        if self.selected is None:
            return none
        try:
            b = self.data.bound(*self.selected)
        except IndexError:
            return none
        label = f"{b['side']} row {b['row']}: matches in [{b['left']:g}, {b['right']:g}]"
        y = float(self.data.y(b["side"], [b["key"]])[0])
        return (pd.DataFrame([{**{k: b[k] for k in ("left", "right", "bottom", "top")}, "label": label}]),
                pd.DataFrame([{"x": b["x"], "y": y}]))

    def _sync_slider(self) -> None:
        d = self.data
        self._syncing = True
        try:
            with self.hold_sync():
                self.slider.max = d.count
                if self.following:
                    self.slider.value = d.count
        finally:
            self._syncing = False
        self.caption.value = self._caption()

    def _caption(self) -> str:
        d = self.data
        cut = None if self.following else self.slider.value
        wms = " · ".join(f"{s} watermark {escape(d.text(d.watermark(s, cut)))}" for s in SIDES)
        sel = ""
        if self.selected is not None:
            try:
                b = d.bound(*self.selected)
                sel = (f" · selected {b['side']} row: last chance {escape(b['last_chance'])} (freed once the "
                       f"join's watermark passes it)")
            except IndexError:
                sel = " · the selected row has not arrived yet"
        return (f"<span style='font-size:12px'>{d.count:,} rows in · {wms} · join watermark "
                f"{escape(d.text(d.joint(cut)))} · {len(d.tables['matches']):,} matches{sel}</span>")

    # ------------------------------------------------------------------- public
    def select(self, row: int | None, side: str = "left") -> None:
        """Draw the time bound of the ``row``-th row of ``side`` (None: no row)."""
        if side not in SIDES:
            raise ValueError(f"side={side!r}: use 'left' or 'right'")
        self.selected = None if row is None else (side, int(row))
        self._redraw([])
