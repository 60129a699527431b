"""Durations: strings ("250ms", "1s", "5min"), ``pd.Timedelta`` or numbers in the stream's unit.

All window arithmetic is done in integer milliseconds (Flink's TIMESTAMP(3)).
"""

from __future__ import annotations

import numbers

import pandas as pd

UNIT_MS = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}


def to_ms(value, unit: str | None = None, *, name: str = "duration", allow_zero: bool = False) -> int:
    """Convert a duration to whole milliseconds, failing with a message that names ``name``.

    >>> to_ms("1s"), to_ms("250ms"), to_ms(pd.Timedelta(minutes=5)), to_ms(2, unit="s")
    (1000, 250, 300000, 2000)
    >>> to_ms("-1s", name="size")
    Traceback (most recent call last):
    ...
    ValueError: size must be > 0, got '-1s'; pass a positive duration such as '1s' or '250ms'
    """
    if isinstance(value, bool) or value is None:
        raise TypeError(f"{name} must be a duration such as '1s', '250ms' or pd.Timedelta, got {value!r}")
    if isinstance(value, str):
        try:
            ns = pd.Timedelta(value.strip()).value
        except (ValueError, TypeError):
            raise ValueError(
                f"{name}={value!r} is not a duration; write e.g. '250ms', '1s', '5min' or '1h'"
            ) from None
        ms = ns / 1e6
    elif isinstance(value, pd.Timedelta):
        ms = value.value / 1e6
    elif hasattr(value, "total_seconds"):  # datetime.timedelta, np.timedelta64 via pandas
        ms = pd.Timedelta(value).value / 1e6
    elif isinstance(value, numbers.Real):
        if unit is None:
            raise ValueError(
                f"{name}={value!r} is a bare number, but the stream's time column is a datetime; "
                f"write a duration string such as '{value}s' or '{value}ms'"
            )
        ms = float(value) * UNIT_MS[unit]
    else:
        raise TypeError(f"{name} must be a duration such as '1s', '250ms' or pd.Timedelta, got {value!r}")
    if ms != int(ms):
        raise ValueError(f"{name}={value!r} is not a whole number of milliseconds; window times are in ms")
    ms = int(ms)
    if ms < 0 or (ms == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value!r}; pass a positive duration such as '1s' or '250ms'")
    return ms


def format_ms(ms: int) -> str:
    """Short human form of a duration in ms.

    >>> format_ms(1500), format_ms(60000), format_ms(250)
    ('1.5s', '1min', '250ms')
    """
    if ms % 3_600_000 == 0 and ms:
        return f"{ms // 3_600_000}h"
    if ms % 60_000 == 0 and ms:
        return f"{ms // 60_000}min"
    if ms >= 1000:
        return f"{ms / 1000:g}s"
    return f"{ms}ms"
