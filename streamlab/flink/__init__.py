"""Flink SQL export: a streamlab window pipeline as a runnable Flink SQL script.

>>> import streamlab as sl, pandas as pd
>>> df = pd.DataFrame({"ts": [0, 1500], "key": ["a", "b"], "v": [1, 2]})
>>> res = sl.from_frame(df, time="ts", unit="ms").window(sl.Tumble("1s"), by="key").agg(s=("v", "sum"))
>>> "TO_TIMESTAMP_LTZ(ts, 3)" in to_flink_sql(res, path="/data/in.csv")
True
"""

from .cluster import FlinkCluster, FlinkError, LocalCluster, cluster, connect
from .export import SETTINGS, FlinkExport, build_export, flink_export, to_flink_sql
from .files import write_csv
from .job import Job, Part, build_job
from .options import FlinkExportOptions
from .query import query_to_sql
from .run import FlinkRun, runs, submit, submit_job

__all__ = ["SETTINGS", "FlinkExport", "FlinkExportOptions", "build_export", "flink_export",
           "query_to_sql", "to_flink_sql", "write_csv"]
# Running on a cluster (issue 12): sl.flink.cluster(), sl.flink.connect(), res.on_flink(...).
__all__ += ["FlinkCluster", "FlinkError", "FlinkRun", "LocalCluster", "cluster", "connect", "submit"]
# The panel's list of runs, and jobs with hand-written parts (e.g. a changelog: Part(changelog=True)).
__all__ += ["Job", "Part", "build_job", "runs", "submit_job"]
