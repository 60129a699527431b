"""Turn DataFrame columns into plain float arrays for Bokeh, remembering whether they were times.

>>> import pandas as pd
>>> values, is_time = to_plot_array(pd.Series(pd.to_datetime([0, 1000], unit="ms", utc=True)))
>>> values.tolist(), is_time
([0.0, 1000.0], True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TIME_NAMES = frozenset({"window_start", "window_end", "ts", "time", "timestamp", "event_time"})


def is_time_dtype(dtype: object) -> bool:
    """True for naive or tz-aware datetime64 dtypes."""
    return isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype)


def to_plot_array(s: pd.Series) -> tuple[np.ndarray, bool]:
    """Float array for Bokeh (epoch milliseconds for datetimes, NaN for missing) and a time flag."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(s.dtype):
        out = s.to_numpy(dtype="datetime64[ms]").astype("int64").astype("float64")
        out[s.isna().to_numpy()] = np.nan
        return out, True
    if pd.api.types.is_timedelta64_dtype(s.dtype):
        return s.dt.total_seconds().to_numpy(dtype="float64", na_value=np.nan) * 1000.0, False
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype="float64", na_value=np.nan), False
    raise TypeError(
        f"column {s.name!r} has dtype {s.dtype}; live plots need numeric or datetime columns"
    )


def key_text(value: object) -> str:
    """Display text of a group key (tuples are joined with '/').

    >>> key_text(("s1", 3)), key_text("s2")
    ('s1/3', 's2')
    """
    if isinstance(value, tuple):
        return "/".join(str(v) for v in value)
    return str(value)


def known_columns(stream: object) -> list[str] | None:
    """Column names a stream declares before any data arrives (streamlab nodes do), or None."""
    cols = getattr(stream, "columns", None)
    if isinstance(cols, list | tuple) and cols and all(isinstance(c, str) for c in cols):
        return list(cols)
    return None


def time_axis_guess(stream: object, x: str) -> bool:
    """Whether column ``x`` will hold datetimes, judged before any data arrives.

    Window bounds and the event-time column follow the stream's time kind (``time_meta.unit``
    None means datetimes); other columns are guessed from their name.
    """
    meta = getattr(stream, "time_meta", None)
    if meta is not None and x in ("window_start", "window_end", getattr(meta, "column", None)):
        return getattr(meta, "unit", None) is None
    return x in TIME_NAMES
