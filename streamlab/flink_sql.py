"""``res.to_flink_sql()`` lives in :mod:`streamlab.flink`; this module is its stable import path."""

from .flink import FlinkExport, flink_export, query_to_sql, to_flink_sql, write_csv

__all__ = ["FlinkExport", "flink_export", "query_to_sql", "to_flink_sql", "write_csv"]
