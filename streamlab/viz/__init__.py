"""Live plots and tables for streams of window-result DataFrames (Bokeh, ipywidgets).

The submodules import Bokeh and ipywidgets, so import them only when plotting:
``streamlab.viz.plot.PlotAccessor`` (``stream.plot``) and ``streamlab.viz.table.live_table``
(``stream.table()``). ``streamlab.viz.feed.Feeder`` coalesces updates on the kernel's loop.
"""
