"""Column values of a micro-batch without building a pandas Series per column.

``df[name]`` builds a Series (and deep-copies the frame's ``attrs``, where the watermark marks
travel); ``series.to_numpy(dtype)`` then costs as much again. On a 10k-row batch that is tens of
microseconds per column, more than the arithmetic done with the values, so per-batch paths read
the stored array directly: a read-only numpy array, or the pandas ExtensionArray (Arrow strings,
categoricals, datetimes, nullable numbers) as the frame holds it.

>>> import pandas as pd
>>> vals = column_values(pd.DataFrame({"k": ["a", "b"], "v": [1.5, 2.0]}), ["v"])
>>> vals["v"].tolist(), vals["v"].flags.writeable
([1.5, 2.0], False)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def column_values(df: pd.DataFrame, names) -> dict[str, Any]:
    """The stored values of columns ``names`` (unique column names), read-only when numpy."""
    out: dict[str, Any] = {}
    getter = getattr(df, "_get_column_array", None)  # pandas' own accessor (no Series, no attrs copy)
    columns = df.columns
    for name in names:
        loc = columns.get_loc(name)
        if getter is not None and isinstance(loc, (int, np.integer)):
            values = getter(int(loc))
        else:  # pragma: no cover - a pandas without the accessor
            values = df[name].array
        if isinstance(values, np.ndarray):
            values = values.view()
            values.flags.writeable = False
        out[name] = values
    return out


def as_series(values) -> pd.Series:
    """``values`` (from :func:`column_values`, or a Series) as a Series, for the less common paths."""
    return values if isinstance(values, pd.Series) else pd.Series(values, copy=False)


def numbers(values, dtype: str) -> np.ndarray | None:
    """``values`` as a numpy array of ``dtype`` when they are plain numpy numbers, else None.

    >>> numbers(np.array([1, 2]), "float64").tolist(), numbers(pd.array([1, None]), "float64")
    ([1.0, 2.0], None)
    """
    if isinstance(values, pd.Series):
        values = values.array
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        return np.asarray(values, dtype=dtype)
    if isinstance(values, pd.arrays.NumpyExtensionArray) and values.dtype.kind in "iuf":
        return np.asarray(values.to_numpy(), dtype=dtype)
    return None
