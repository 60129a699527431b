"""Session settings of the ``%%streamlab`` magic: Flink's ``SET 'key' = 'value';`` statements.

The one setting that changes results is ``table.local-time-zone``: windows over datetime event
time (streamlab's datetimes are instants, Flink's TIMESTAMP_LTZ) are cut in that zone's local
time, and ``window_start``/``window_end`` are its wall-clock times. It holds for the rest of the
session, as in Flink's SQL client, until ``RESET 'table.local-time-zone';``.

>>> settings = {}
>>> apply_statement("SET 'table.local-time-zone' = 'Asia/Shanghai'", settings), settings
(True, {'table.local-time-zone': 'Asia/Shanghai'})
>>> apply_statement("SELECT 1", settings)
False
>>> with session_time_zone(time_zone(settings)):
...     current_time_zone()
'Asia/Shanghai'
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from streamlab.core.timezones import check_zone
from streamlab.sql.errors import SQLError

TIME_ZONE = "table.local-time-zone"
#: Keys that are accepted and only echo Flink's settings (streamlab already behaves so).
KNOWN = (TIME_ZONE, "execution.runtime-mode", "parallelism.default", "pipeline.auto-watermark-interval",
         "table.exec.resource.default-parallelism")
_SET = re.compile(r"^\s*SET\s+'([^']*)'\s*=\s*'([^']*)'\s*$", re.I | re.S)
_RESET = re.compile(r"^\s*RESET(?:\s+'([^']*)')?\s*$", re.I | re.S)
_ZONE: ContextVar[str | None] = ContextVar("streamlab_session_time_zone", default=None)


def apply_statement(text: str, settings: dict[str, str]) -> bool:
    """Apply ``text`` if it is a ``SET``/``RESET`` statement (True), else leave it (False)."""
    m = _SET.match(text)
    if m:
        key, value = m.group(1).strip(), m.group(2).strip()
        if key not in KNOWN:
            raise SQLError("unsupported", f"SET {key!r} is not a setting streamlab uses",
                           f"settings: {', '.join(repr(k) for k in KNOWN)}", None, None)
        if key == TIME_ZONE:
            try:
                check_zone(value)
            except (TypeError, ValueError) as error:
                raise SQLError("invalid", f"SET '{TIME_ZONE}' = {value!r}: not a time zone",
                               "use an IANA name such as 'Asia/Shanghai', 'Europe/Berlin' or 'UTC'",
                               None, None) from error
        settings[key] = value
        return True
    m = _RESET.match(text)
    if m:
        if m.group(1) is None:
            settings.clear()
        else:
            settings.pop(m.group(1).strip(), None)
        return True
    return False


def time_zone(settings: dict[str, str]) -> str | None:
    """The session time zone of ``settings`` (None: UTC)."""
    return check_zone(settings.get(TIME_ZONE))


@contextmanager
def session_time_zone(zone: str | None) -> Iterator[None]:
    """Windows planned inside use ``zone`` (see :func:`current_time_zone`)."""
    token = _ZONE.set(zone)
    try:
        yield
    finally:
        _ZONE.reset(token)


def current_time_zone() -> str | None:
    """The session time zone of the statement being planned (None: UTC)."""
    return _ZONE.get()


def take_settings(cell: str, settings: dict[str, str]) -> str:
    """Apply the cell's ``SET``/``RESET`` statements to ``settings``; return the cell with them
    blanked out (lines and columns of the rest unchanged).

    >>> s = {}
    >>> take_settings("SET 'table.local-time-zone' = 'UTC';\\nSELECT 1", s).strip(), s
    ('SELECT 1', {'table.local-time-zone': 'UTC'})
    """
    out = list(cell)
    start, quote = 0, None
    for i, ch in enumerate([*cell, ";"]):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch == ";":
            if apply_statement(cell[start:i], settings):
                for j in range(start, min(i + 1, len(cell))):
                    if out[j] != "\n":
                        out[j] = " "
            start = i + 1
    return "".join(out)
