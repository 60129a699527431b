"""Flink column types for a source: from its frame's dtypes where known, else from ``types=``.

A source's sample frame comes from the data itself: ``from_frame``'s DataFrame, the first rows of
a CSV or Parquet file, or the first generated batch of a demo source. Kafka and streamz sources
have no schema until data flows: pass ``types={"col": "DOUBLE", ...}`` for them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os

import numpy as np
import pandas as pd

from ..sources.frame import CsvSource, FrameSource, ParquetSource

SAMPLE_ROWS = 1_000
NUMERIC = ("TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE", "DECIMAL",
           "BOOLEAN")
_INTS = {1: "TINYINT", 2: "SMALLINT", 4: "INT", 8: "BIGINT"}
_UINTS = {1: "SMALLINT", 2: "INT", 4: "BIGINT", 8: "BIGINT"}


def flink_type(series: pd.Series) -> str | None:
    """The Flink SQL type for a pandas column (None when it cannot tell).

    >>> flink_type(pd.Series([1, 2])), flink_type(pd.Series([0.5])), flink_type(pd.Series(["a"]))
    ('BIGINT', 'DOUBLE', 'STRING')
    >>> flink_type(pd.Series(pd.to_datetime([0], unit="ms", utc=True)))
    'TIMESTAMP(3)'
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return flink_type(pd.Series(dtype.categories))
    if isinstance(dtype, pd.DatetimeTZDtype) or dtype.kind == "M":
        return "TIMESTAMP(3)"
    if dtype.kind == "b":
        return "BOOLEAN"
    if dtype.kind == "i":
        return _INTS.get(dtype.itemsize, "BIGINT")
    if dtype.kind == "u":
        return _UINTS.get(dtype.itemsize, "BIGINT")
    if dtype.kind == "f":
        return "FLOAT" if dtype.itemsize == 4 else "DOUBLE"
    if isinstance(dtype, pd.StringDtype) or dtype.kind in "OSU":
        values = series.dropna()
        return _python_type(values.iloc[0]) if len(values) else "STRING"
    return None


def _python_type(value) -> str | None:
    if isinstance(value, (bool, np.bool_)):
        return "BOOLEAN"
    if isinstance(value, (int, np.integer)):
        return "BIGINT"
    if isinstance(value, (float, np.floating)):
        return "DOUBLE"
    if isinstance(value, decimal.Decimal):
        return "DECIMAL(38, 18)"
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return "TIMESTAMP(3)"
    if isinstance(value, dt.date):
        return "DATE"
    if isinstance(value, bytes):
        return "BYTES"
    if isinstance(value, str):
        return "STRING"
    return None


def sample_frame(source) -> pd.DataFrame | None:
    """A few rows of the source's data (None for sources without data at rest)."""
    from ..demo import DemoSource

    if isinstance(source, FrameSource):
        return source.df
    if isinstance(source, ParquetSource) and os.path.exists(source.path):
        import pyarrow.parquet as pq

        batch = next(pq.ParquetFile(source.path).iter_batches(batch_size=SAMPLE_ROWS), None)
        return None if batch is None else batch.to_pandas()
    if isinstance(source, CsvSource) and os.path.exists(source.path):
        kwargs = {k: v for k, v in source.read_kwargs.items() if k != "chunksize"}
        return pd.read_csv(source.path, nrows=SAMPLE_ROWS, **kwargs)
    if isinstance(source, DemoSource):
        return next(iter(source._batches()), None)  # a fresh, seeded generator: no side effects
    return None


def source_types(source, columns: list[str], overrides: dict[str, str]) -> dict[str, str]:
    """``{column: flink type}`` for ``columns``; ``overrides`` win. Unknown types raise ValueError."""
    frame = None if all(c in overrides for c in columns) else sample_frame(source)
    types: dict[str, str] = {}
    for col in columns:
        if col in overrides:
            types[col] = str(overrides[col])
        elif frame is not None and col in frame.columns:
            found = flink_type(frame[col])
            if found is not None:
                types[col] = found
    unknown = [c for c in columns if c not in types]
    if unknown:
        example = ", ".join(f"{c!r}: 'STRING'" for c in unknown[:2])
        raise ValueError(
            f"the Flink types of column(s) {unknown} are unknown ({source!r} has no data at rest to "
            f"look at); pass types={{{example}}}"
        )
    return types


def time_type(flink: str, unit: str | None) -> str:
    """The declared type of the event-time column: TIMESTAMP(3) for datetimes, else its number type."""
    if unit is None:
        return "TIMESTAMP(3)"
    if base(flink) not in NUMERIC:
        raise ValueError(f"the time column is numeric (unit={unit!r}) but its Flink type is {flink}")
    return flink


def base(flink: str) -> str:
    """The type name without parameters or NOT NULL.

    >>> base("DECIMAL(10, 2) NOT NULL"), base("timestamp(3)")
    ('DECIMAL', 'TIMESTAMP')
    """
    return flink.split("(")[0].split()[0].upper()


def is_integer(flink: str) -> bool:
    """True for TINYINT, SMALLINT, INT and BIGINT."""
    return base(flink) in ("TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT")
