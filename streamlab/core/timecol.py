"""Event-time columns: conversion to integer milliseconds and back to the input's kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np
import pandas as pd

from .durations import UNIT_MS

#: The watermark before the first record (-inf), kept finite so arithmetic cannot overflow.
NEG_INF = -(2**62)
#: The watermark at the end of a finite input (+inf).
POS_INF = 2**62

VALID_UNITS = ("s", "ms", "us", "ns")
_UTC_MS = pd.DatetimeTZDtype("ms", "UTC")


@dataclass(frozen=True)
class TimeMeta:
    """Where event time lives and how it is written: datetime (unit None) or numbers in ``unit``."""

    column: str
    unit: str | None = None

    def __post_init__(self):
        if not isinstance(self.column, str) or not self.column:
            raise ValueError(f"time must be the name of the event-time column, got {self.column!r}")
        if self.unit is not None and self.unit not in VALID_UNITS:
            raise ValueError(f"unit={self.unit!r} is not supported; use one of {VALID_UNITS} or None for datetimes")

    @property
    def kind(self) -> str:
        return "datetime" if self.unit is None else "numeric"


def event_ms(col: pd.Series, unit: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Return (int64 milliseconds, valid mask) for an event-time column.

    Datetimes may be naive (taken as UTC) or tz-aware; numbers are in ``unit``. Times out of
    range (see :func:`event_ms_checked`) are not valid.

    >>> ms, ok = event_ms(pd.Series(pd.to_datetime(["1970-01-01 00:00:01.5", None])), None)
    >>> ms[0], ok.tolist()
    (np.int64(1500), [True, False])
    >>> event_ms(pd.Series([1.25, -0.0005]), "s")[0].tolist()
    [1250, -1]
    """
    ms, ok, _ = event_ms_checked(col, unit)
    return ms, ok


#: Event times must lie in ``(-MAX_EVENT_MS, MAX_EVENT_MS)`` ms (about 73 million years), so that
#: window arithmetic (``ts + size``) stays below the end-of-input watermark ``POS_INF``.
MAX_EVENT_MS = 2**61


def event_ms_checked(col: pd.Series, unit: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`event_ms`, plus the mask of times that parsed but are out of range.

    Out of range: ``|ms| >= MAX_EVENT_MS``, including numbers whose scaling to ms would overflow
    int64 (``10**16`` s). Such rows are not valid (their ms are 0).

    >>> event_ms_checked(pd.Series([1, 10**16, 2]), "s")[2].tolist()
    [False, True, False]
    """
    dtype = col.dtype
    if unit is None and isinstance(dtype, np.dtype) and dtype.kind == "M":  # naive datetimes: no parsing
        ms = np.asarray(col, dtype="datetime64[ms]").view("int64").copy()
        if len(ms) and -MAX_EVENT_MS < ms.min() and ms.max() < MAX_EVENT_MS:  # no NaT, none out of range
            return ms, np.ones(len(ms), dtype=bool), np.zeros(len(ms), dtype=bool)
    if not isinstance(col, pd.Series):  # a stored array (``core.columns``)
        col = pd.Series(col, copy=False)
    if unit is None:
        ms, ok = _datetime_ms(col)
        if len(ms) and ok.all() and -MAX_EVENT_MS < ms.min() and ms.max() < MAX_EVENT_MS:  # the common case
            return ms, ok, np.zeros(len(ms), dtype=bool)
        far = _beyond(np.where(ok, ms, 0) if not ok.all() else ms, MAX_EVENT_MS)
    else:
        values = pd.to_numeric(col, errors="coerce")
        arr = np.asarray(values, dtype="float64") if values.dtype.kind not in "iu" else values.to_numpy()
        if arr.dtype.kind in "iu":
            ok = np.ones(len(arr), dtype=bool)
            if unit in ("s", "ms"):
                far = _beyond(arr, MAX_EVENT_MS if unit == "ms" else MAX_EVENT_MS // 1000)
                if far is not None:
                    arr = np.where(far, 0, arr)
                ms = arr.astype("int64") * (1000 if unit == "s" else 1)
            else:  # dividing cannot overflow, and int64 ns or us are always in range
                ms = arr.astype("int64") // (1000 if unit == "us" else 1_000_000)
                far = None
        else:
            ok = np.isfinite(arr)
            scaled = np.where(ok, arr, 0.0) * UNIT_MS[unit]
            far = _beyond(scaled, MAX_EVENT_MS)
            if far is not None:
                scaled = np.where(far, 0.0, scaled)
            ms = np.floor(np.round(scaled, 6)).astype("int64")
    if far is None:
        return ms, ok, np.zeros(len(ms), dtype=bool)
    return np.where(far, 0, ms), ok & ~far, far


def _beyond(a: np.ndarray, limit: int) -> np.ndarray | None:
    """Mask of ``|a| >= limit``, or None when no value is (two reductions, no mask, on the fast path)."""
    if not len(a) or (a.max() < limit and a.min() > -limit):
        return None
    return (a >= limit) | (a <= -limit)


def time_reasons(column: str, far: np.ndarray) -> np.ndarray:
    """The ``errors`` reason of each invalid time: out of range (``far``), or missing/unparseable.

    >>> time_reasons("ts", np.array([True, False])).tolist()[1]
    "time column 'ts' is missing or unparseable"
    """
    return np.where(far, f"time column {column!r} is out of range (|time| >= 2**61 ms)",
                    f"time column {column!r} is missing or unparseable").astype(object)


def _datetime_ms(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(col.dtype, pd.DatetimeTZDtype) and col.dtype.kind != "M":
        col = pd.to_datetime(col, errors="coerce", utc=True, format="ISO8601")
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        col = col.dt.tz_convert("UTC").dt.tz_localize(None)
    arr = col.to_numpy(dtype="datetime64[ms]")
    ms = arr.view("int64").copy()
    if len(ms) and ms.min() > np.iinfo("int64").min:  # no NaT (the smallest int64)
        return ms, np.ones(len(ms), dtype=bool)
    return ms, ~np.isnat(arr)


def ms_to_values(ms: np.ndarray, unit: str | None):
    """Convert window bounds in ms back to the input's kind (a tz-aware UTC DatetimeArray, or numbers).

    >>> ms_to_values(np.array([1500]), "s").tolist(), ms_to_values(np.array([2000]), "s").tolist()
    ([1.5], [2])
    >>> str(ms_to_values(np.array([0]), None)[0])
    '1970-01-01 00:00:00+00:00'
    """
    ms = np.asarray(ms, dtype="int64")
    if unit is None:  # the array straight from its int64 ms (DatetimeIndex(..., tz=) costs 10x more)
        return pd.arrays.DatetimeArray._simple_new(ms.view("datetime64[ms]"), dtype=_UTC_MS)
    if unit == "ms":
        return ms
    if unit == "s":
        return ms // 1000 if np.all(ms % 1000 == 0) else ms / 1000.0
    return ms * (1000 if unit == "us" else 1_000_000)


@overload
def format_time(ms: int, unit: str | None) -> str: ...
@overload
def format_time(ms: None, unit: str | None) -> None: ...
@overload
def format_time(ms: int | None, unit: str | None) -> str | None: ...
def format_time(ms: int | None, unit: str | None) -> str | None:
    """Human text for a time in ms: ISO for datetimes, a number otherwise (None and ±inf kept readable).

    >>> format_time(1500, None), format_time(1500, "ms"), format_time(None, None)
    ('1970-01-01T00:00:01.500Z', '1500', None)
    """
    if ms is None:
        return None
    if ms <= NEG_INF:
        return "-inf"
    if ms >= POS_INF:
        return "+inf"
    if unit is None:
        return pd.Timestamp(int(ms), unit="ms").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f"{ms_to_values(np.array([ms]), unit)[0]}"
