"""A window's session time zone (``sl.Tumble("1d", tz="Asia/Shanghai")``) as the window
operators use it: times and watermarks in local milliseconds, bounds as local wall-clock times.

With no zone every function is the identity (UTC alignment, DESIGN §2).

>>> import numpy as np, streamlab as sl
>>> plan = sl.Tumble("24h", offset="8h", tz="Asia/Shanghai").resolve(None)
>>> ms, wm, end = to_local(plan, np.array([1711670400000]), np.array([1711670400000]), 1711670400000)
>>> bounds(plan, np.array([1711699200000]), None).astype(str).tolist()   # 08:00 local
['2024-03-29 08:00:00']
"""

from __future__ import annotations

import numpy as np

from ..core.timecol import format_time, ms_to_values
from ..core.timezones import local_datetimes, local_ms, local_watermark


def zone_of(plan) -> str | None:
    """The plan's session time zone (None: UTC)."""
    return getattr(plan, "tz", None)


def check_unit(plan, unit: str | None) -> None:
    """A session time zone needs datetime event time (an instant, Flink's TIMESTAMP_LTZ)."""
    if zone_of(plan) and unit is not None:
        raise ValueError(f"tz={zone_of(plan)!r} needs datetime event time, but the time column holds "
                         f"numbers (unit={unit!r}); convert it first, e.g. "
                         f".assign(ts=lambda df: pd.to_datetime(df.ts, unit={unit!r}, utc=True))")


def to_local(plan, ms: np.ndarray, wm: np.ndarray, end: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(row times, per-row watermarks, end watermark) in the zone's local milliseconds."""
    zone = zone_of(plan)
    if not zone:
        return ms, wm, end
    return (local_ms(ms, zone), local_watermark(wm, zone),
            int(local_watermark(np.array([end], dtype="int64"), zone)[0]))


def watermark_local(plan, wm: int) -> int:
    """One watermark in local milliseconds."""
    zone = zone_of(plan)
    return wm if not zone else int(local_watermark(np.array([wm], dtype="int64"), zone)[0])


def bounds(plan, ms: np.ndarray, unit: str | None):
    """Window bounds for output: local wall-clock datetimes (naive, like Flink's TIMESTAMP(3)
    window_start/window_end over a TIMESTAMP_LTZ rowtime) with a zone, else the input's kind."""
    if zone_of(plan):
        return local_datetimes(ms)
    return ms_to_values(ms, unit)


def bound_dtype(plan, unit: str | None) -> str:
    """The dtype of ``window_start``/``window_end``."""
    if zone_of(plan):
        return "datetime64[ms]"
    return "datetime64[ms, UTC]" if unit is None else "int64"


__all__ = ["bound_dtype", "bound_text", "bounds", "check_unit", "to_local", "watermark_local", "zone_of"]


def bound_text(plan, ms: int, unit: str | None) -> str:
    """A window bound for the inspector: ISO with ``Z`` in UTC, or local time and the zone's name.

    >>> import streamlab as sl
    >>> bound_text(sl.Tumble("1h", tz="Asia/Shanghai").resolve(None), 0, None)
    '1970-01-01T00:00:00.000 Asia/Shanghai'
    """
    text = format_time(int(ms), unit)
    zone = zone_of(plan)
    return text if not zone or not text.endswith("Z") else f"{text[:-1]} {zone}"
