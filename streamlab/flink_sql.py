"""``res.to_flink_sql()`` lives in :mod:`streamlab.flink`; this module is its stable import path."""

from .flink import (
    FlinkExport,
    FlinkExportOptions,
    build_export,
    flink_export,
    query_to_sql,
    to_flink_sql,
    write_csv,
)

__all__ = ["FlinkExport", "FlinkExportOptions", "build_export", "flink_export", "query_to_sql",
           "to_flink_sql", "write_csv"]

from .core.node import Node


@Node.register_api(attribute_name="to_flink_sql")
def _to_flink_sql(self, connector: str = "filesystem", **options) -> str:
    """Runnable Flink SQL (DDL, windowing TVF query and sink) giving the same rows."""
    return to_flink_sql(self, connector=connector, **options)
