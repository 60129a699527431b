"""Session time zones: windows aligned in local time, as Flink does for a TIMESTAMP_LTZ rowtime
under ``table.local-time-zone``.

Flink (``TimeWindowUtil``) works on *local milliseconds*: an instant's wall-clock time in the zone,
counted from 1970-01-01 00:00 as if it were UTC. Windows are cut there (so a day is local
midnight to local midnight, 23 or 25 hours long on DST days), and a window ``[s, e)`` of local
milliseconds fires once the watermark (an instant) reaches ``timer(e - 1)``, Flink's
``toEpochMillsForTimer``. streamlab maps each row's time to local milliseconds and each watermark
``W`` to the largest local time ``x`` with ``timer(x) <= W`` (:func:`local_watermark`); then the
usual rule ``W_local >= e - 1`` fires exactly when Flink does (``timer`` never decreases).

>>> import numpy as np
>>> ms = np.array([1711670400000])                   # 2024-03-29 00:00:00 UTC
>>> (local_ms(ms, "Asia/Shanghai") - ms).tolist()    # 08:00 in Shanghai
[28800000]
>>> check_zone("Mars/Olympus")
Traceback (most recent call last):
...
ValueError: tz='Mars/Olympus' is not a time zone name; use an IANA name such as 'Asia/Shanghai', 'Europe/Berlin' or 'UTC'
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

HOUR = 3_600_000
#: Times beyond this (the watermark's -inf/+inf markers) pass through unshifted.
_LIMIT = 2**61


def check_zone(tz) -> str | None:
    """The IANA name of ``tz`` (a name or a ``zoneinfo.ZoneInfo``); None for UTC (no shift).

    >>> check_zone("Europe/Berlin"), check_zone("UTC"), check_zone(None)
    ('Europe/Berlin', None, None)
    """
    if tz is None:
        return None
    name = getattr(tz, "key", tz)
    hint = "use an IANA name such as 'Asia/Shanghai', 'Europe/Berlin' or 'UTC'"
    if not isinstance(name, str):
        raise TypeError(f"tz must be a time zone name, got {tz!r}; {hint}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"tz={name!r} is not a time zone name; {hint}") from None
    return None if name in ("UTC", "Etc/UTC", "Z") else name


@lru_cache(maxsize=64)
def uses_dst(zone: str) -> bool:
    """Whether the zone still changes its clocks (Java's ``TimeZone.useDaylightTime()``): its
    offsets in January and July of a year past the explicit tables differ."""
    z = ZoneInfo(zone)
    jan, jul = dt.datetime(2200, 1, 15, tzinfo=z), dt.datetime(2200, 7, 15, tzinfo=z)
    return jan.utcoffset() != jul.utcoffset()


def _safe(ms: np.ndarray) -> np.ndarray:
    return np.abs(ms) < _LIMIT


def local_ms(ms: np.ndarray, zone: str | None) -> np.ndarray:
    """Flink's ``toUtcTimestampMills``: each instant's wall-clock time in ``zone`` (ms).

    >>> local_ms(np.array([1729990800000]), "Europe/Berlin").tolist()  # 2024-10-27 01:00 UTC
    [1729994400000]
    """
    ms = np.asarray(ms, dtype="int64")
    if zone is None or not len(ms):
        return ms
    ok = _safe(ms)
    idx = pd.DatetimeIndex(np.where(ok, ms, 0).astype("datetime64[ms]"), tz="UTC").tz_convert(zone)
    out = idx.tz_localize(None).as_unit("ms").asi8
    return np.where(ok, out, ms)


def _at_zone(local: np.ndarray, zone: str) -> np.ndarray:
    """Java's ``LocalDateTime.atZone(zone).toInstant()``: a repeated wall-clock time takes the
    earlier instant; a skipped one is read with the offset from before the gap."""
    idx = pd.DatetimeIndex(local.astype("datetime64[ms]"))
    dst = idx.tz_localize(zone, ambiguous=np.ones(len(idx), bool), nonexistent="NaT").as_unit("ms")
    std = idx.tz_localize(zone, ambiguous=np.zeros(len(idx), bool), nonexistent="NaT").as_unit("ms")
    gap = dst.isna()
    out = np.minimum(dst.asi8, std.asi8)
    if gap.any():
        after = idx[gap].tz_localize(zone, nonexistent="shift_forward").as_unit("ms").asi8  # the change
        before = local_ms(after - 1, zone) - (after - 1)  # the offset before it
        out[gap] = local[gap] - before
    return out


def timer_ms(local: np.ndarray, zone: str | None) -> np.ndarray:
    """Flink's ``toEpochMillsForTimer``: the instant at which local time ``local`` has passed.

    >>> timer_ms(np.array([1729997999999]), "Europe/Berlin").tolist()  # 02:59:59.999 on 27 Oct 2024:
    [1729994399999]
    >>> # the second 02:59:59.999 (CET, 01:59:59.999 UTC), as the hour 02:00-03:00 happens twice
    """
    local = np.asarray(local, dtype="int64")
    if zone is None or not len(local):
        return local
    ok = _safe(local)
    x = np.where(ok, local, 0)
    t1 = _at_zone(x, zone)
    if uses_dst(zone):
        t2 = _at_zone(x + HOUR, zone)
        t1 = np.where(t1 == t2, t1 - np.fmod(t1, HOUR), np.where(t2 - t1 > HOUR, t1 + HOUR, t1))
    return np.where(ok, t1, local)


def local_watermark(wm: np.ndarray, zone: str | None) -> np.ndarray:
    """Each watermark as the largest local time ``x`` with ``timer_ms(x) <= wm``: a window
    ``[s, e)`` of local times has fired once this reaches ``e - 1``.

    >>> first = 1729989000000  # 2024-10-27 00:30 UTC: 02:30 for the first time in Berlin
    >>> local_watermark(np.array([first]), "Europe/Berlin").tolist()  # held at 01:59:59.999 local
    [1729994399999]
    """
    wm = np.asarray(wm, dtype="int64")
    if zone is None or not len(wm):
        return wm
    uniq, inv = np.unique(wm, return_inverse=True)
    x = local_ms(uniq, zone)
    ok = ~_safe(uniq) | ((timer_ms(x, zone) <= uniq) & (timer_ms(x + 1, zone) > uniq))
    bad = np.flatnonzero(~ok)
    if len(bad):  # next to a clock change: search [x - 3h, x + 3h] (timer never decreases)
        lo, hi, w = x[bad] - 3 * HOUR, x[bad] + 3 * HOUR, uniq[bad]
        while np.any(hi - lo > 1):
            mid = (lo + hi) // 2
            fits = timer_ms(mid, zone) <= w
            lo, hi = np.where(fits, mid, lo), np.where(fits, hi, mid)
        x[bad] = lo
    return x[inv.reshape(-1)]


def local_datetimes(ms: np.ndarray) -> pd.DatetimeIndex:
    """Local milliseconds as naive wall-clock datetimes (Flink's TIMESTAMP(3) window bounds)."""
    return pd.DatetimeIndex(np.asarray(ms, dtype="int64").astype("datetime64[ms]"))
