"""streamlab: a live stream-processing workbench for Jupyter.

Flink-exact event-time windows (tumbling, hopping, cumulating, session) over pandas
micro-batches, on a streamz dataflow graph.

>>> import streamlab as sl, pandas as pd
>>> df = pd.DataFrame({"ts": pd.to_datetime([0, 400, 1100], unit="ms"), "v": [1.0, 2.0, 3.0]})
>>> res = sl.from_frame(df, time="ts").watermark("0ms").window(sl.Tumble("1s")).agg(total=("v", "sum"))
>>> res.collect()["total"].tolist()
[3.0, 3.0]
"""

from . import demo
from .errors import PipelineStateError, StreamlabWarning
from .runtime import Pipeline, pipelines
from .sources import from_csv, from_frame, from_parquet, from_streamz
from .stream import Node
from .transforms import assign, watermark, where  # noqa: F401 - registers the operators
from .windows import Cumulate, Hop, Session, Tumble, WindowAgg

__version__ = "0.1.0"

__all__ = [
    "Cumulate", "Hop", "Node", "Pipeline", "PipelineStateError", "Session", "StreamlabWarning", "Tumble",
    "WindowAgg", "demo", "from_csv", "from_frame", "from_parquet", "from_streamz", "pipelines",
    "load_ipython_extension",
]


def load_ipython_extension(ipython):
    """``%load_ext streamlab``: magics, display hooks, the side-panel comm target and BokehJS."""
    from .extension import load_ipython_extension as load

    load(ipython)
