"""Live Bokeh plots of a stream of window-result DataFrames, shown through jupyter_bokeh.

``res.plot.line(x="window_end", y="avg", by="sensor")`` returns a :class:`LivePlot`: an
ipywidget (a ``jupyter_bokeh.BokehModel``) whose data sources grow with
``ColumnDataSource.stream(rows, rollover)``. Rows arrive through a streamz ``sink`` into a
:class:`~streamlab.viz.feed.Feeder`, which flushes them on the kernel's loop at most
``max_rate`` times a second, so only new rows cross the wire.

>>> import pandas as pd, streamz
>>> s = streamz.Stream()
>>> p = PlotAccessor(s).line(x="window_end", y="avg", by="key")
>>> s.emit(pd.DataFrame({"key": ["a", "b"], "window_end": [1.0, 1.0], "avg": [2.0, 3.0]}))
>>> p.n_rows, sorted(p.sources)
(2, ['a', 'b'])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from bokeh.core.properties import value
from bokeh.models import (
    BasicTicker,
    BasicTickFormatter,
    ColumnDataSource,
    DatetimeTicker,
    DatetimeTickFormatter,
    FactorRange,
    FixedTicker,
    HoverTool,
    Line,
    LinearColorMapper,
    NumeralTickFormatter,
    Scatter,
    Step,
    VBar,
)
from bokeh.models.annotations import ColorBar, Legend, LegendItem  # these 3 lines: mypy can't
from bokeh.models.glyph import Glyph  # see them through bokeh.models (its __all__ is computed)
from bokeh.models.renderers import GlyphRenderer
from bokeh.palettes import Category10_10, Viridis256
from bokeh.plotting import figure
from traitlets import Float, Int, List, Unicode, validate

from ..ranking.changelog import OP
from .batched import BatchedBokehModel
from .cap import OTHER, choose, summed, weights
from .changes import LiveChangelog
from .columns import key_text, known_columns, time_axis_guess, to_plot_array
from .feed import Feeder
from .wire import ensure_bokehjs, refresh_bokeh, wire

KINDS = ("line", "bar", "scatter", "step", "heatmap")
PALETTE = Category10_10
MAX_LABELS = 100  # most labelled positions on a text x axis (a changelog plot)
_TIME_FMT = "%F %H:%M:%S.%3N"


class LivePlot(BatchedBokehModel):
    """A Bokeh figure that follows a stream of window rows (one colour and series per ``by``).

    A changelog (rows with an ``op`` column: continuous ``groupby``, Top-N, keep-last
    deduplication) is applied instead, as ``res.table()`` does (Zeppelin's "update" mode): the
    plot shows the current table, replaced at each update, so a retracted row disappears and an
    updated one changes. A text ``x`` column (``x="page"``) gives one labelled position per row;
    bars are then ordered by ``y``, largest first, so a Top-N chart reorders as ranks change.
    The whole current table is shown (``rollover`` does not apply); ``max_series`` still caps the
    ``by`` series. A plot made after a run starts from the operator's current result, and a run
    from the start starts it again (:mod:`streamlab.viz.changes`).
    """

    kind = Unicode("line", help="Plot kind: line, bar, scatter, step or heatmap.")
    x = Unicode("window_end", help="Column for the x axis (datetime columns give a time axis).")
    y = Unicode("", help="Column for y values (heatmap: the colour value).")
    by = List(Unicode(), help="Group columns: one series and colour per value (heatmap: rows).")
    rollover = Int(1000, help="Rows kept per series in the browser (heatmap: cells in total).")
    max_rate = Float(20.0, help="Most data updates sent to the browser per second.")
    max_series = Int(20, help="Most series of their own; further `by` values are summed as 'other'.")

    @validate("kind")
    def _valid_kind(self, proposal: dict[str, Any]) -> str:
        if proposal["value"] not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {proposal['value']!r}")
        return proposal["value"]

    @validate("rollover")
    def _valid_rollover(self, proposal: dict[str, Any]) -> int:
        if proposal["value"] < 1:
            raise ValueError(f"rollover must be >= 1, got {proposal['value']}")
        return proposal["value"]

    def __init__(
        self,
        stream: Any,
        kind: str = "line",
        x: str = "window_end",
        y: str | None = None,
        by: str | list[str] | None = None,
        rollover: int = 1000,
        max_rate: float = 20.0,
        title: str | None = None,
        height: int = 320,
        width: int | None = None,
        max_series: int = 20,
    ) -> None:
        if not y:
            raise TypeError(f"plot.{kind}() needs y=<column>, for example y='avg'")
        by_cols = [by] if isinstance(by, str) else list(by or [])
        known = known_columns(stream)
        for col in [x, y, *by_cols]:
            if known is not None and col not in known:
                raise KeyError(f"no column {col!r}; the stream has {', '.join(known)}")
        self.sources: dict[str, ColumnDataSource] = {}
        self.rows_streamed = 0
        self._step = np.inf
        self._last_x = np.nan
        self._time_x: bool | None = None
        self._lo, self._hi = np.inf, -np.inf
        self._slots = 0
        self.changelog: LiveChangelog | None = None  # set by the first changelog batch
        self.changes_applied = 0
        self.labels: list[str] | None = None  # text x values, in axis order (a changelog's text x)
        self.keys_seen: set[str] = set()  # every ``by`` value so far (the title says how many)
        self.max_series = max_series
        self.kind, self.x, self.y, self.by = kind, x, y, by_cols
        self.rollover, self.max_rate = rollover, max_rate
        self.figure = self._build(kind, x, y, by_cols, title, height, width)
        # A guess until the first rows arrive; they switch the axis if it was wrong.
        self._set_time_axis(time_axis_guess(stream, x))
        super().__init__(self.figure)
        self.feeder = Feeder(self._ingest, max_rate=max_rate)
        self._stream = stream
        self.feeder.follow(stream)
        if known is not None and OP in known:  # a changelog: start from the operator's current result
            self.changelog = LiveChangelog(stream)
            if self.changelog.rows is not None:
                with self.batched():
                    self._stream_rows(self.changelog.rows, replace=True)

    # ----------------------------------------------------------------- building
    def _build(self, kind, x, y, by_cols, title, height, width) -> Any:
        size = {"sizing_mode": "stretch_width"} if width is None else {"width": width}
        label = title or (f"{y} by {', '.join(by_cols)}" if by_cols else y)
        opts: dict[str, Any] = dict(
            title=label, height=height, tools="pan,wheel_zoom,box_zoom,reset,save", **size
        )
        if kind == "heatmap":
            fig = figure(y_range=FactorRange(factors=[]), **opts)
            self._mapper = LinearColorMapper(palette=Viridis256)
            src = self._new_source(kind)
            self.sources["cells"] = src
            fig.rect(x="xc", y="key", width="w", height=0.95, source=src, line_color=None,
                     fill_color={"field": "y", "transform": self._mapper})
            fig.add_layout(ColorBar(color_mapper=self._mapper, title=y), "right")
        else:
            fig = figure(**opts)
            self._legend = Legend(items=[], click_policy="hide", visible=False)
            fig.add_layout(self._legend, "right")
            fig.yaxis.formatter = NumeralTickFormatter(format="0.[00]a")
        fig.xaxis.axis_label = x
        fig.yaxis.axis_label = ", ".join(by_cols) if kind == "heatmap" else y
        self._hover = HoverTool(mode="vline" if kind in ("line", "step") else "mouse")
        fig.add_tools(self._hover)
        return fig

    def _new_source(self, kind: str) -> ColumnDataSource:
        names = ["x", "y", "ws", "we", "key"]
        names += ["w", "xd", "wd"] if kind == "bar" else ["w", "xc"] if kind == "heatmap" else []
        return ColumnDataSource(data={c: [] for c in names})

    def _glyphs(self, src: ColumnDataSource, color: str) -> list[GlyphRenderer]:
        """Renderers of one series (built directly: ``figure.line`` re-indexes the document)."""
        kind = self.kind
        glyphs: list[Glyph]
        if kind == "line":
            glyphs = [Line(x="x", y="y", line_color=color, line_width=2),
                      Scatter(x="x", y="y", fill_color=color, line_color=color, size=4)]
        elif kind == "step":
            glyphs = [Step(x="x", y="y", line_color=color, line_width=2, mode="after")]
        elif kind == "scatter":
            glyphs = [Scatter(x="x", y="y", fill_color=color, line_color=color, size=7,
                              fill_alpha=0.8)]
        else:
            glyphs = [VBar(x="xd", top="y", width="wd", fill_color=color, line_color=color,
                           fill_alpha=0.7)]
        return [GlyphRenderer(data_source=src, glyph=g) for g in glyphs]

    def _add_series(self, keys: list[str]) -> None:
        """Create a data source, renderers and a legend entry for each new ``by`` value."""
        renderers, items = [], []
        for key in keys:
            src = self.sources[key] = self._new_source(self.kind)
            color = PALETTE[(len(self.sources) - 1) % len(PALETTE)]
            glyphs = self._glyphs(src, color)
            renderers += glyphs
            if self.by:
                items.append(LegendItem(label=key, renderers=glyphs))
        self.figure.renderers = [*self.figure.renderers, *renderers]
        if items:
            self._legend.items = [*self._legend.items, *items]
            self._legend.visible = True

    def _set_time_axis(self, time_x: bool) -> None:
        """Switch the x axis and hover between datetime and plain numbers."""
        if time_x == self._time_x:
            return
        self._time_x = time_x
        axis = self.figure.xaxis[0]
        axis.ticker = DatetimeTicker() if time_x else BasicTicker()
        axis.formatter = DatetimeTickFormatter() if time_x else BasicTickFormatter()
        fmt = "{" + _TIME_FMT + "}" if time_x else ""
        tips = [("key", "@key")] if self.by else []
        tips += [("window", f"[@ws{fmt}, @we{fmt})"), (self.x, f"@x{fmt}"), (self.y, "@y")]
        self._hover.tooltips = tips
        self._hover.formatters = (
            {"@ws": "datetime", "@we": "datetime", "@x": "datetime"} if time_x else {}
        )

    # ------------------------------------------------------------------ feeding
    def _ingest(self, frames: list[Any]) -> None:
        frames = [f for f in frames if isinstance(f, pd.DataFrame) and len(f)]
        if not frames:
            return
        df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        try:
            with self.batched():
                if OP in df.columns or self.changelog is not None:
                    self._show_table(frames)
                else:
                    self._stream_rows(df)
        except Exception as exc:
            self.figure.title.text = f"streamlab plot error: {exc}"
            raise

    def _show_table(self, frames: list[pd.DataFrame]) -> None:
        """Apply changelog ``frames`` and show the current table in place of the old one."""
        if self.changelog is None:
            self.changelog = LiveChangelog(self._stream, seed=False)
        table = self.changelog.update(frames)
        self.changes_applied = self.changelog.changes
        self._stream_rows(table, replace=True)

    def _table_x(self, df: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, bool]:
        """A changelog's current table in plot order, its x values and whether they are times.

        Numeric or time x: sorted by x. Text x: one position per row, labelled on the axis; bars
        are ordered by y (largest first, then by label), other kinds keep the table's order.
        """
        try:
            x, time_x = to_plot_array(df[self.x])
            self.labels = None
            order = np.argsort(x, kind="stable")
            return df.iloc[order], x[order], time_x
        except TypeError:
            pass
        texts = [key_text(v) for v in df[self.x].tolist()]
        order = np.arange(len(df))
        if self.kind == "bar":
            y = np.nan_to_num(to_plot_array(df[self.y])[0], nan=-np.inf)
            order = np.lexsort((np.asarray(texts, dtype=object).astype(str), -y)) if len(df) else order
        seen: dict[str, int] = {}
        labels = []
        for i in order:  # equal texts (two rows of one key) get a number: "AAPL (2)"
            seen[texts[i]] = seen.get(texts[i], 0) + 1
            labels.append(texts[i] if seen[texts[i]] == 1 else f"{texts[i]} ({seen[texts[i]]})")
        self.labels = labels
        return df.iloc[order], np.arange(len(labels), dtype="float64"), False

    def _label_axis(self, labels: list[str]) -> None:
        """Ticks at the positions 0..n-1 labelled with ``labels`` (only what changed is sent).

        Only the first ``MAX_LABELS`` positions get a tick and a label (more cannot be read, and
        each one is a Bokeh property value to validate and send); the hover names every bar.
        """
        axis = self.figure.xaxis[0]
        labels = labels[:MAX_LABELS]
        ticks = list(range(len(labels)))
        if not isinstance(axis.ticker, FixedTicker):
            axis.ticker = FixedTicker(ticks=ticks)
            self._hover.tooltips = [("key", "@key")] * bool(self.by) + [(self.x, "@xl"), (self.y, "@y")]
            self._hover.formatters = {}
        elif list(axis.ticker.ticks) != ticks:
            axis.ticker.ticks = ticks
        overrides = dict(enumerate(labels))
        if dict(axis.major_label_overrides) != overrides:
            axis.major_label_overrides = overrides
        orientation = 0.8 if len(labels) > 8 else "horizontal"
        if axis.major_label_orientation != orientation:
            axis.major_label_orientation = orientation

    def _stream_rows(self, df: pd.DataFrame, replace: bool = False) -> None:
        missing = [c for c in [self.x, self.y, *self.by] if c not in df.columns]
        if missing:
            raise KeyError(f"no column {missing[0]!r}; the rows have {', '.join(df.columns)}")
        if replace:
            df, x, time_x = self._table_x(df)
        else:
            df = df.sort_values(self.x, kind="stable")
            x, time_x = to_plot_array(df[self.x])
        self._set_time_axis(time_x)
        if self.labels is not None:  # the labels of the positions, in order
            self._label_axis(self.labels)
        cols: dict[str, Any] = {"x": x, "y": to_plot_array(df[self.y])[0]}
        nan = np.full(len(df), np.nan)
        cols["ws"] = to_plot_array(df["window_start"])[0] if "window_start" in df else nan
        cols["we"] = to_plot_array(df["window_end"])[0] if "window_end" in df else nan
        keys = self._keys(df)
        cols["key"] = keys
        if self.labels is not None:
            cols["xl"] = list(self.labels)
            cols["w"] = np.full(len(df), 0.8)
            if self.kind == "heatmap":
                cols["xc"] = x
        else:
            self._update_step(x)
            if self.kind in ("bar", "heatmap"):
                self._add_widths(cols)
        if self.kind == "heatmap":
            self._stream_cells(cols, replace)
        else:
            self._stream_series(cols, keys, replace)
        if not replace:
            self.rows_streamed += len(df)

    def _stream_series(self, cols: dict[str, Any], keys: list[str], replace: bool = False) -> None:
        codes, uniques = pd.factorize(np.asarray(keys, dtype=object))
        uniques = [str(k) for k in uniques]
        self.keys_seen.update(uniques)
        new = [k for k in uniques if k not in self.sources]
        room = self.max_series - len(self.sources) + (OTHER in self.sources)
        if len(new) > room:  # the largest new ones (by sum of |y| in this batch) get the room left
            new = choose(new, weights(codes, cols["y"], len(uniques)), uniques, room)
            new += [OTHER] * (OTHER not in self.sources)
        if new:
            self._slots = self._slots or min(len(uniques), self.max_series + 1)  # bars side by side
            self._add_series(new)
        parts: dict[str, dict[str, Any]] = {}
        named = [i for i, key in enumerate(uniques) if key != OTHER and key in self.sources]  # <= max_series
        for i in named:
            idx = np.flatnonzero(codes == i)
            parts[uniques[i]] = {c: (v[idx] if isinstance(v, np.ndarray) else [v[j] for j in idx])
                                 for c, v in cols.items()}
        if len(named) < len(uniques):
            parts[OTHER] = summed(cols, np.flatnonzero(~np.isin(codes, named)))
            self._say_capped()
        for key, part in parts.items():
            if self.kind == "bar" and self.labels is not None:  # one bar per labelled position
                part["wd"], part["xd"] = part["w"], part["x"]
            elif self.kind == "bar":
                slot = (list(self.sources).index(key) % self._slots) - (self._slots - 1) / 2
                part["wd"] = part["w"] / self._slots
                part["xd"] = part["x"] + slot * part["wd"]
            if replace:
                self.sources[key].data = wire(part)
            else:
                self.sources[key].stream(wire(part), rollover=self.rollover)
        if replace:  # series with no row in the current table are emptied, and leave the legend
            for key in set(self.sources) - set(parts):
                names = [*cols, *(["wd", "xd"] if self.kind == "bar" else [])]
                self.sources[key].data = {c: [] for c in names}
            for item in self._legend.items:
                if not isinstance(item, LegendItem):
                    continue
                label = str(getattr(item.label, "value", item.label))
                shown = label in parts or (label.startswith(f"{OTHER} (") and OTHER in parts)
                if item.visible != shown:
                    item.visible = shown

    def _say_capped(self) -> None:
        """Title and legend say that the plot shows only ``max_series`` of the ``by`` values."""
        n = len(self.keys_seen)
        named = len(self.sources) - 1
        base = self.figure.title.text.split(" (top ")[0]
        self.figure.title.text = f"{base} (top {named} of {n} keys; the rest summed as '{OTHER}')"
        for item in self._legend.items:
            if not isinstance(item, LegendItem):
                continue
            text = str(getattr(item.label, "value", item.label))
            if text == OTHER or text.startswith(f"{OTHER} ("):
                item.label = value(f"{OTHER} ({n - named} keys)")

    def _keys(self, df: pd.DataFrame) -> list[str]:
        if not self.by:
            return [""] * len(df)
        if len(self.by) == 1:
            return [key_text(v) for v in df[self.by[0]].tolist()]
        return [key_text(t) for t in df[self.by].itertuples(index=False, name=None)]

    def _update_step(self, x: np.ndarray) -> None:
        """Smallest spacing between distinct x values seen so far (bar and cell width)."""
        u = np.unique(np.concatenate([[self._last_x], x])[~np.isnan(np.r_[self._last_x, x])])
        if len(u) > 1:
            self._step = min(self._step, float(np.diff(u).min()))
        if len(x):
            self._last_x = float(np.nanmax(x)) if not np.isnan(x).all() else self._last_x

    def _add_widths(self, cols: dict[str, Any]) -> None:
        span = cols["we"] - cols["ws"]
        w = np.where(np.isnan(span), self._step, np.fmin(span, self._step))
        w = np.where(np.isfinite(w) & (w > 0), w, 1.0)
        if self.kind == "bar":
            cols["w"] = w * 0.8
            return
        left = cols["x"] - w if self.x == "window_end" else cols["x"]
        cols["w"], cols["xc"] = w, left + w / 2

    def _stream_cells(self, cols: dict[str, Any], replace: bool = False) -> None:
        rng = self.figure.y_range
        if replace:  # the rows and colour range of the current table only
            rng.factors = []
            self._lo, self._hi = np.inf, -np.inf
        codes, uniques = pd.factorize(np.asarray(cols["key"], dtype=object))
        uniques = [str(k) for k in uniques]
        self.keys_seen.update(uniques)
        rows = set(rng.factors)
        new = [k for k in uniques if k not in rows]
        room = self.max_series - len(rows) + (OTHER in rows)
        if len(new) > room:  # heatmap rows are capped like series: the rest is one 'other' row
            new = choose(new, weights(codes, cols["y"], len(uniques)), uniques, room)
            new += [OTHER] * (OTHER not in rows)
        if new:
            rng.factors = sorted([*rng.factors, *new])
        named = [i for i, k in enumerate(uniques) if k != OTHER and k in rng.factors]
        if len(named) < len(uniques):
            keep = np.flatnonzero(np.isin(codes, named))
            other = summed(cols, np.flatnonzero(~np.isin(codes, named)))
            cols = {c: (np.concatenate([v[keep], other[c]]) if isinstance(v, np.ndarray)
                        else [v[j] for j in keep] + list(other[c])) for c, v in cols.items()}
            self.figure.title.text = (f"{self.figure.title.text.split(' (top ')[0]} (top {len(rng.factors) - 1} "
                                      f"of {len(self.keys_seen)} keys; the rest summed as '{OTHER}')")
        y = cols["y"][~np.isnan(cols["y"])]
        if len(y):
            self._lo, self._hi = min(self._lo, float(y.min())), max(self._hi, float(y.max()))
            self._mapper.low, self._mapper.high = self._lo, self._hi
        if replace:
            self.sources["cells"].data = wire(cols)
        else:
            self.sources["cells"].stream(wire(cols), rollover=self.rollover)

    # ------------------------------------------------------------------- public
    @property
    def stream(self) -> Any:
        """The stream this plot follows."""
        return self._stream

    @property
    def n_rows(self) -> int:
        """Rows currently held by the plot's data sources (what the browser shows)."""
        return sum(len(src.data["x"]) for src in self.sources.values())

    def flush(self) -> None:
        """Send pending rows now instead of waiting for the next throttled update."""
        self.feeder.flush()

    def detach(self) -> None:
        """Stop following the stream (the figure stays as it is)."""
        if hasattr(self, "feeder"):
            self.feeder.close()

    def close(self) -> None:
        """Detach from the stream and close the widget."""
        self.detach()
        super().close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        ensure_bokehjs()
        refresh_bokeh(self)  # rows fed before this display are in the document the view starts from
        return super()._repr_mimebundle_(**kwargs)


class PlotAccessor:
    """``stream.plot``: live Bokeh plots of a stream of window-result DataFrames.

    ``rollover`` is the number of rows kept per series; ``by`` gives one coloured series per value.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def __call__(self, kind: str = "line", **kwargs: Any) -> LivePlot:
        """``stream.plot(kind="bar", y=...)``: the same as ``stream.plot.bar(y=...)``."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        return getattr(self, kind)(**kwargs)

    def line(self, x: str = "window_end", y: str | None = None, by: str | list[str] | None = None,
             rollover: int = 1000, **opts: Any) -> LivePlot:
        """A line per ``by`` value, with point markers."""
        return LivePlot(self._stream, "line", x, y, by, rollover, **opts)

    def step(self, x: str = "window_end", y: str | None = None, by: str | list[str] | None = None,
             rollover: int = 1000, **opts: Any) -> LivePlot:
        """A step line per ``by`` value."""
        return LivePlot(self._stream, "step", x, y, by, rollover, **opts)

    def scatter(self, x: str = "window_end", y: str | None = None,
                by: str | list[str] | None = None, rollover: int = 1000,
                **opts: Any) -> LivePlot:
        """Points, one colour per ``by`` value."""
        return LivePlot(self._stream, "scatter", x, y, by, rollover, **opts)

    def bar(self, x: str = "window_end", y: str | None = None, by: str | list[str] | None = None,
            rollover: int = 1000, **opts: Any) -> LivePlot:
        """Bars at ``x`` (width: the spacing of windows), one colour per ``by`` value."""
        return LivePlot(self._stream, "bar", x, y, by, rollover, **opts)

    def heatmap(self, x: str = "window_start", y: str | None = None,
                by: str | list[str] | None = None, rollover: int = 5000,
                **opts: Any) -> LivePlot:
        """Cells at (window, ``by`` value) coloured by ``y``."""
        return LivePlot(self._stream, "heatmap", x, y, by, rollover, **opts)
