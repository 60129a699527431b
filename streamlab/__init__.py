"""streamlab: a live stream-processing workbench for Jupyter.

Flink-exact event-time windows (tumbling, hopping, cumulating, session) over pandas
micro-batches, on a streamz dataflow graph.

>>> import streamlab as sl, pandas as pd
>>> df = pd.DataFrame({"ts": pd.to_datetime([0, 400, 1100], unit="ms"), "v": [1.0, 2.0, 3.0]})
>>> res = sl.from_frame(df, time="ts").watermark("0ms").window(sl.Tumble("1s")).agg(total=("v", "sum"))
>>> res.collect()["total"].tolist()
[3.0, 3.0]
"""

# Layers, bottom up (each imports only the ones below it; each attaches its fluent methods to Node):
# core -> operators (sources, transforms, windows) -> runtime -> production (sinks, kafka, flink,
# checkpoint) -> front ends (viz, widgets, teach) -> shell (this package, magics, sql, cli).
from . import checkpoint, demo, flink_sql, joins, kafka, ranking, sinks, teach, viz, widgets  # noqa: F401 - fluent methods
from .core.errors import PipelineStateError, StreamlabWarning
from .core.node import Node
from .core.state import PipelineState
from .ranking import apply_changelog
from .runtime import Pipeline, pipelines
from .sources import from_csv, from_frame, from_parquet, from_streamz
from .transforms import assign, watermark, where  # noqa: F401 - registers the operators
from .windows import Cumulate, Hop, Session, Tumble, WindowAgg

__version__ = "0.1.0"


def from_kafka(topic, bootstrap="127.0.0.1:9092", time="ts", unit=None, format="json", group=None, **options):
    """Stream a Kafka topic (confluent-kafka); see ``streamlab.kafka.from_kafka``."""
    return kafka.from_kafka(topic, bootstrap=bootstrap, time=time, unit=unit, format=format, group=group,
                            **options)


def restore(path, *streams, **options):
    """Resume a pipeline built by the same code from a checkpoint; see ``streamlab.checkpoint.restore``."""
    return checkpoint.restore(path, *streams, **options)

__all__ = [
    "Cumulate", "Hop", "Node", "Pipeline", "PipelineState", "PipelineStateError", "Session", "StreamlabWarning", "Tumble",
    "WindowAgg", "apply_changelog", "demo", "from_csv", "from_frame", "from_kafka", "from_parquet", "from_streamz", "pipelines",
    "load_ipython_extension", "restore", "teach", "unload_ipython_extension",
]


def load_ipython_extension(ipython):
    """``%load_ext streamlab``: magics, display hooks, the side-panel comm target and BokehJS."""
    from .extension import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):
    """``%unload_ext streamlab``."""
    from .extension import unload_ipython_extension as unload

    unload(ipython)
