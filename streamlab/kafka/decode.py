"""Kafka messages to a micro-batch: JSON objects, CSV lines or raw values, plus the error rows.

Works on plain tuples ``(partition, offset, timestamp_ms, key, value)`` so it can be tested
without a broker.
"""

from __future__ import annotations

import csv
import json
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..core.timecol import event_ms_checked

#: ``time=`` value meaning "use the Kafka message timestamp" (a column of that name is added).
KAFKA_TIME = "kafka_timestamp"
FORMATS = ("json", "csv", "raw")
ERROR_COLUMNS = ["partition", "offset", "key", "value"]


class Decoded(NamedTuple):
    frame: pd.DataFrame  # good rows, fresh RangeIndex
    part: np.ndarray  # partition of each good row
    errors: pd.DataFrame | None  # partition, offset, key, value (text) and reason
    offsets: dict  # partition -> next offset (over good and bad messages)


def _str(b) -> str:
    return b.decode("utf-8", errors="replace") if isinstance(b, (bytes, bytearray)) else str(b)


def _text(b) -> str | None:
    return None if b is None else _str(b)


def _record(fmt: str, key, value, columns):
    """One message as a dict, or raise ValueError with the reason."""
    if fmt == "raw":
        return {"key": _text(key), "value": _text(value)}
    if value is None:
        raise ValueError("empty message (null value)")
    if fmt == "json":
        try:
            obj = json.loads(value)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise ValueError(f"JSON value is a {type(obj).__name__}, not an object")
        return obj
    fields = next(csv.reader([_str(value)]), [])
    if len(fields) != len(columns):
        raise ValueError(f"CSV line has {len(fields)} fields, expected {len(columns)} ({', '.join(columns)})")
    return dict(zip(columns, fields))


def _infer(frame: pd.DataFrame, skip: str) -> pd.DataFrame:
    """CSV fields arrive as text: make numeric columns numeric (like ``read_csv``)."""
    for col in frame.columns:
        if col == skip:
            continue
        try:
            frame[col] = pd.to_numeric(frame[col])
        except (ValueError, TypeError):
            pass
    return frame


def decode(messages, *, fmt: str, columns, time: str, unit, metadata: bool = False) -> Decoded:
    """Decode ``(partition, offset, timestamp_ms, key, value)`` tuples into a batch.

    >>> msgs = [(0, 5, 1000, None, b'{"ts": 7, "v": 1.5}'), (0, 6, 1001, None, b'oops')]
    >>> d = decode(msgs, fmt="json", columns=None, time="ts", unit="ms")
    >>> d.frame.to_dict("records"), d.errors[["partition", "offset"]].values.tolist(), d.offsets
    ([{'ts': 7, 'v': 1.5}], [[0, 6]], {0: 7})
    """
    records, good, bad, reasons = [], [], [], []
    offsets: dict[int, int] = {}
    for i, (p, off, _ts, key, value) in enumerate(messages):
        offsets[p] = max(offsets.get(p, -1), off + 1)
        try:
            records.append(_record(fmt, key, value, columns))
            good.append(i)
        except ValueError as exc:
            bad.append(i)
            reasons.append(str(exc))
    if fmt == "json":
        frame = pd.DataFrame.from_records(records, columns=columns) if records else pd.DataFrame(columns=columns)
    else:
        names = ["key", "value"] if fmt == "raw" else list(columns)
        frame = pd.DataFrame.from_records(records, columns=names) if records else pd.DataFrame(columns=names)
        if fmt == "csv":
            frame = _infer(frame, time if unit is None else "")
    meta = [messages[i] for i in good]
    if time == KAFKA_TIME or metadata:
        stamps = np.array([m[2] if m[2] is not None else -1 for m in meta], dtype="int64")
        frame[KAFKA_TIME] = stamps if unit == "ms" else pd.to_datetime(stamps, unit="ms", utc=True)
        if time == KAFKA_TIME and (stamps < 0).any():
            frame.loc[stamps < 0, KAFKA_TIME] = None
    if metadata:
        frame["partition"] = np.array([m[0] for m in meta], dtype="int64")
        frame["offset"] = np.array([m[1] for m in meta], dtype="int64")
    part = np.array([m[0] for m in meta], dtype="int64")
    if len(frame) and time not in frame.columns:
        bad.extend(good)
        reasons.extend([f"no time field {time!r}"] * len(good))
        frame, part, good = frame.iloc[:0], part[:0], []
    elif len(frame):
        ms, ok, far = event_ms_checked(frame[time], unit)
        if unit is None:
            frame[time] = pd.to_datetime(frame[time], errors="coerce", utc=True, format="ISO8601") \
                if frame[time].dtype.kind != "M" and not isinstance(frame[time].dtype, pd.DatetimeTZDtype) \
                else frame[time]
        if not ok.all():
            for j in np.flatnonzero(~ok).tolist():
                bad.append(good[j])
                if time == KAFKA_TIME:
                    reasons.append("the message has no Kafka timestamp")
                elif time not in records[j]:
                    reasons.append(f"no time field {time!r}")
                elif far[j]:
                    reasons.append(f"time field {time!r} is out of range: {records[j][time]!r}")
                else:
                    reasons.append(f"time field {time!r} is unparseable: {records[j][time]!r}")
            frame, part = frame[ok].reset_index(drop=True), part[ok]
    errors = None
    if bad:
        order = np.argsort(bad, kind="stable")
        rows = [messages[bad[k]] for k in order]
        errors = pd.DataFrame({
            "partition": np.array([m[0] for m in rows], dtype="int64"),
            "offset": np.array([m[1] for m in rows], dtype="int64"),
            # object, not pandas' string dtype: a null key or value stays None (JSON null), not NaN
            "key": pd.Series([_text(m[3]) for m in rows], dtype=object),
            "value": pd.Series([_text(m[4]) for m in rows], dtype=object),
            "reason": [reasons[k] for k in order],
        })
    return Decoded(frame.reset_index(drop=True), part, errors, offsets)
