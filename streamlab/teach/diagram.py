"""``LiveDiagram``: what the teaching diagrams share (``res.timeline()`` of a window operator and
of an interval join): a Bokeh figure fed live on the kernel's loop, an arrival slider that scrubs
back, and a caption.

A subclass builds its ``sources`` and figure, then calls :meth:`LiveDiagram._start`; it supplies
``_redraw`` (live update), ``_show`` (draw frames), ``_sync_slider`` and ``_caption``.

>>> wire_columns(pd.DataFrame({"n": [1, 2], "x": [0.5, float("nan")], "k": ["a", None]}), ["n", "x", "k", "y"])
{'n': [1, 2], 'x': [0.5, nan], 'k': ['a', 'nan'], 'y': []}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from ipywidgets import HTML, HBox, IntSlider, Layout, VBox
from traitlets import Float, Int

from ..viz.batched import BatchedBokehModel
from ..viz.feed import Feeder
from ..viz.wire import ensure_bokehjs, refresh_bokeh

if TYPE_CHECKING:
    from bokeh.models.sources import DataDict


def check_rates(max_events: Any, max_rate: Any) -> None:
    """Refuse a ``max_events`` that is not a positive integer or a ``max_rate`` that is not > 0."""
    if isinstance(max_events, bool) or not isinstance(max_events, int) or max_events < 1:
        raise ValueError(f"max_events must be a positive integer such as 2000, got {max_events!r}")
    if not max_rate > 0:
        raise ValueError(f"max_rate must be > 0 redraws per second, got {max_rate!r}")


def wire_columns(df: pd.DataFrame, columns: list[str]) -> DataDict:
    """Plain lists of ``columns`` for the wire (NaN stays NaN: Bokeh draws nothing there)."""
    out: DataDict = {}
    for c in columns:
        values = df[c] if c in df else pd.Series([], dtype=float)
        if values.dtype.kind in "iu":
            out[c] = [int(v) for v in values.tolist()]
        elif values.dtype.kind == "f":
            out[c] = np.asarray(values, dtype="float64").tolist()
        else:
            out[c] = [str(v) for v in values.tolist()]
    return out


class LiveDiagram(VBox):
    """A live teaching diagram: figure, arrival slider and caption (see the module docstring)."""

    max_events = Int(2000, help="Input rows kept and drawn (the latest); older ones roll off.")
    max_rate = Float(20.0, help="Most redraws sent to the browser per second.")

    data: Any

    def _start(self, figure: Any, max_events: int, max_rate: float) -> None:
        """Lay out ``figure`` with the slider and caption, and follow ``self.data`` live."""
        self.figure = figure
        self.plot = BatchedBokehModel(figure)
        self.slider = IntSlider(value=0, min=0, max=0, description="arrival", continuous_update=True,
                                layout=Layout(width="60%"))
        self.caption = HTML()
        super().__init__(children=[self.plot, HBox([self.slider, self.caption])],
                         max_events=max_events, max_rate=max_rate)
        self.add_class("streamlab-timeline")
        self.following = True
        self._syncing = False
        self.slider.observe(self._on_slide, "value")
        self.feeder = Feeder(self._redraw, max_rate=max_rate)
        self._sinks = self.data.attach(then=lambda: self.feeder.push(None))
        self._redraw([])

    def _redraw(self, _ticks: list[Any]) -> None:
        raise NotImplementedError

    def _show(self, frames: dict[str, pd.DataFrame]) -> None:
        raise NotImplementedError

    def _caption(self) -> str:
        raise NotImplementedError

    def _scrubbed(self) -> None:
        """After a scrub redrew every frame (a subclass drops what it would stream next)."""

    def _on_slide(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self.scrub(None if change["new"] >= self.slider.max else change["new"])

    def scrub(self, arrival: int | None) -> None:
        """Show the diagram as it was when ``arrival`` rows had arrived (None: follow live)."""
        self.following = arrival is None
        with self.plot.batched():
            self._show(self.data.frames(arrival))
        self._scrubbed()
        self._syncing = True
        try:
            self.slider.value = self.data.count if arrival is None else int(arrival)
        finally:
            self._syncing = False
        self.caption.value = self._caption()

    def flush(self) -> None:
        """Redraw now instead of waiting for the next throttled update."""
        self.feeder.flush()

    def detach(self) -> None:
        """Stop following the stream (the diagram stays as it is)."""
        for sink in getattr(self, "_sinks", []):
            sink.destroy()
        self._sinks = []
        if hasattr(self, "feeder"):
            self.feeder.close()

    def close(self) -> None:
        """Detach from the stream and close the widget and its parts."""
        self.detach()
        for name in ("plot", "slider", "caption"):  # absent if __init__ failed early
            part = getattr(self, name, None)
            if part is not None:
                part.close()
        super().close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        ensure_bokehjs()
        refresh_bokeh(self)  # data drawn before this display is in the document the view starts from
        return super()._repr_mimebundle_(**kwargs)
