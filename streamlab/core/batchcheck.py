"""Checks of a batch's shape that do not depend on its rows: unique column names, and a time
column whose dtype agrees with ``unit=``.

Sources run them at build time, when the columns and dtypes are known (a DataFrame, a Parquet
schema, the first rows of a CSV), and raise. The ``watermark`` and window operators run them on
every batch, cheaply, and send a batch that fails to ``errors`` (the schema changed mid-stream).

>>> import pandas as pd
>>> time_dtype_problem(pd.Series([1500]).dtype, None, "ts")
"time column 'ts' holds numbers (int64) but unit= is not set: pass unit='s', 'ms', 'us' or 'ns'"
>>> time_dtype_problem(pd.Series([1500]).dtype, "ms", "ts") is None
True
"""

from __future__ import annotations

import pandas as pd

from .timecol import TimeMeta


def _is_datetime(dtype) -> bool:
    return isinstance(dtype, pd.DatetimeTZDtype) or getattr(dtype, "kind", "") == "M"


def time_dtype_problem(dtype, unit: str | None, column: str) -> str | None:
    """Why a time column of ``dtype`` contradicts ``unit`` (None when it does not).

    Datetimes need ``unit=None``; numbers (integers, floats) need a ``unit``. Text and objects
    are parsed row by row (bad rows go to ``errors``), so they pass here.
    """
    if unit is not None and _is_datetime(dtype):
        return (f"time column {column!r} holds datetimes ({dtype}) but unit={unit!r} says numbers: "
                "drop unit= (unit=None) for a datetime column")
    if unit is None and not _is_datetime(dtype) and getattr(dtype, "kind", "O") in "iuf":
        return (f"time column {column!r} holds numbers ({dtype}) but unit= is not set: "
                "pass unit='s', 'ms', 'us' or 'ns'")
    return None


def duplicated_problem(columns) -> str | None:
    """Why ``columns`` cannot be processed: a duplicated name (None when all are unique).

    >>> duplicated_problem(["ts", "v", "v"])
    "duplicated column name 'v': rename the columns so that each name appears once"
    """
    seen: set = set()
    for c in columns:
        if c in seen:
            return f"duplicated column name {c!r}: rename the columns so that each name appears once"
        seen.add(c)
    return None


def check_build(columns, dtypes: dict | None, meta: TimeMeta) -> None:
    """Raise ``ValueError`` at build time for duplicated names or a time dtype contradicting ``unit=``."""
    problem = duplicated_problem(columns)
    if problem is None and dtypes is not None and meta.column in dtypes:
        problem = time_dtype_problem(dtypes[meta.column], meta.unit, meta.column)
    if problem is not None:
        raise ValueError(problem)


def batch_problem(df: pd.DataFrame, meta: TimeMeta) -> str | None:
    """Why a whole batch must go to ``errors`` (None for a good batch); cheap, no row is read."""
    if not df.columns.is_unique:
        return duplicated_problem(df.columns)
    if meta.column in df.columns:
        return time_dtype_problem(df[meta.column].dtype, meta.unit, meta.column)
    return None


def unique_names(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with duplicated column names made unique (``v``, ``v.1``), so that it can be concatenated.

    >>> list(unique_names(pd.DataFrame([[1, 2, 3]], columns=["ts", "v", "v"])).columns)
    ['ts', 'v', 'v.1']
    """
    if df.columns.is_unique:
        return df
    seen: dict = {}
    names = []
    for c in df.columns:
        n = seen.get(c, 0)
        seen[c] = n + 1
        names.append(c if n == 0 else f"{c}.{n}")
    return df.set_axis(names, axis=1)
