"""Output frames built from finished column arrays, without pandas' per-column checks.

An operator that fires emits a small frame (one row per key) for every window, so building it is
a fixed cost per window. ``pd.DataFrame(dict)`` sanitises, aligns and infers each column; when the
columns are already final arrays, the frame can be assembled from them as they are.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

try:  # pandas >= 3.0
    from pandas.api.internals import create_dataframe_from_blocks
except ImportError:  # pragma: no cover - older pandas builds frames the usual way
    create_dataframe_from_blocks = None

_NUMERIC = frozenset("biuf")


def frame(cols: dict[str, object]) -> pd.DataFrame:
    """The DataFrame ``pd.DataFrame(cols, copy=False)`` gives, built without its per-column work.

    Numeric numpy arrays and pandas arrays (Arrow strings, categoricals, tz-aware datetimes, masked
    numbers) are taken as they are, one block each, without a copy. Other columns (object arrays,
    lists) first go through ``pd.Series``, which infers their dtype as the DataFrame constructor
    does. All columns must have the same length.

    >>> out = frame({"k": pd.array(["a", "b"], dtype="str"), "n": np.array([1, 2])})
    >>> out.equals(pd.DataFrame({"k": ["a", "b"], "n": [1, 2]})), out.dtypes.tolist()
    (True, [<StringDtype(na_value=nan)>, dtype('int64')])
    """
    if create_dataframe_from_blocks is None or not cols:
        return pd.DataFrame(cols, copy=False)
    blocks = []
    n = -1
    for i, values in enumerate(cols.values()):
        arr = _final(values)
        if n < 0:
            n = len(arr)
        elif len(arr) != n:
            raise ValueError(f"frame: column {list(cols)[i]!r} has {len(arr)} rows, the others {n}")
        blocks.append((arr.reshape(1, -1) if isinstance(arr, np.ndarray) else arr, _PLACES[i] if i < len(_PLACES)
                       else np.array([i])))
    return create_dataframe_from_blocks(blocks, pd.RangeIndex(n), _columns(tuple(cols)))


def _final(values):
    """The column as a 1-D numeric numpy array or a pandas array, exactly as pandas would store it."""
    if isinstance(values, np.ndarray):
        if values.ndim == 1 and values.dtype.kind in _NUMERIC:
            return values
    elif isinstance(values, pd.api.extensions.ExtensionArray) and \
            not isinstance(values, pd.arrays.NumpyExtensionArray):
        return values
    arr = pd.Series(values, copy=False).array  # pandas' own inference (object -> str, datetime64 ...)
    return arr.to_numpy() if isinstance(arr, pd.arrays.NumpyExtensionArray) else arr


_PLACES = tuple(np.array([i]) for i in range(64))


@functools.lru_cache(maxsize=512)
def _columns(names: tuple) -> pd.Index:
    """The column Index for these names (Indexes are immutable, so frames may share one)."""
    return pd.DataFrame(columns=list(names)).columns


__all__ = ["frame"]
