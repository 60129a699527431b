"""Live plots and tables for streams of window-result DataFrames (Bokeh, ipywidgets).

The submodules import Bokeh and ipywidgets, so import them only when plotting:
``streamlab.viz.plot.PlotAccessor`` (``stream.plot``) and ``streamlab.viz.table.live_table``
(``stream.table()``). ``streamlab.viz.feed.Feeder`` coalesces updates on the kernel's loop.
"""

from ..core.node import Node


@Node.register_api(modifier=property)
def plot(self):
    """Live Bokeh plots: ``res.plot.line(x="window_end", y="avg", by="key")``."""
    from .plot import PlotAccessor

    return PlotAccessor(self)


@Node.register_api()
def table(self, **kwargs):
    """A live table of the latest rows."""
    from .table import live_table

    return live_table(self, **kwargs)
