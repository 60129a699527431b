"""Write a DataFrame as the headerless CSV that Flink's ``csv`` format reads."""

from __future__ import annotations

import os

import pandas as pd


def write_csv(df: pd.DataFrame, path, columns: list[str] | None = None) -> str:
    """Write ``df`` (or its ``columns``) for Flink: no header, no index, timestamps in UTC as
    ``YYYY-MM-DD HH:MM:SS.mmm``, missing values as empty fields. Returns the path.

    >>> import tempfile, os
    >>> df = pd.DataFrame({"ts": pd.to_datetime([1500], unit="ms", utc=True), "k": ["a"], "v": [0.25]})
    >>> p = write_csv(df, os.path.join(tempfile.mkdtemp(), "in.csv"))
    >>> open(p).read()
    '1970-01-01 00:00:01.500,a,0.25\\n'
    """
    out = df[columns] if columns is not None else df
    out = out.copy()
    for col in out.columns:
        values = out[col]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        if values.dtype.kind == "M":
            text = values.dt.strftime("%Y-%m-%d %H:%M:%S.%f").str[:-3]
            out[col] = text.where(values.notna(), None)
    os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
    out.to_csv(path, header=False, index=False, lineterminator="\n")
    return os.fspath(path)
