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
from .core.errors import PipelineStateError, StreamlabWarning
from .runtime import Pipeline, pipelines
from .sources import from_csv, from_frame, from_parquet, from_streamz
from .core.node import Node
from .transforms import assign, watermark, where  # noqa: F401 - registers the operators
from .windows import Cumulate, Hop, Session, Tumble, WindowAgg

__version__ = "0.1.0"


def from_kafka(topic, bootstrap="127.0.0.1:9092", time="ts", unit=None, format="json", group=None, **options):
    """Stream a Kafka topic (confluent-kafka); see ``streamlab.kafka.from_kafka``."""
    from .kafka import from_kafka as make

    return make(topic, bootstrap=bootstrap, time=time, unit=unit, format=format, group=group, **options)


def restore(path, *streams, **options):
    """Resume a pipeline built by the same code from a checkpoint; see ``streamlab.checkpoint.restore``."""
    from .checkpoint import restore as load

    return load(path, *streams, **options)

__all__ = [
    "Cumulate", "Hop", "Node", "Pipeline", "PipelineStateError", "Session", "StreamlabWarning", "Tumble",
    "WindowAgg", "demo", "from_csv", "from_frame", "from_kafka", "from_parquet", "from_streamz", "pipelines",
    "load_ipython_extension", "restore", "teach", "unload_ipython_extension",
]


def __getattr__(name):
    if name == "teach":  # imported on first use: it pulls in the widget libraries
        import importlib

        return importlib.import_module(".teach", __name__)
    raise AttributeError(f"module 'streamlab' has no attribute {name!r}")


def load_ipython_extension(ipython):
    """``%load_ext streamlab``: magics, display hooks, the side-panel comm target and BokehJS."""
    from .extension import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):
    """``%unload_ext streamlab``."""
    from .extension import unload_ipython_extension as unload

    unload(ipython)
