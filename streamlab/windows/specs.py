"""Window specifications: small frozen dataclasses that validate themselves.

Sizes accept duration strings ("250ms", "1s", "5min"), ``pd.Timedelta`` or numbers in the
stream's unit (numbers are checked when the window is attached to a numeric-time stream).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from ..core.durations import format_ms, to_ms
from ..core.timezones import check_zone


def _ms(value, unit, name, allow_zero=False, signed=False):
    if signed and not isinstance(value, bool) and isinstance(value, numbers.Real) and value < 0:
        return -to_ms(-value, unit, name=name, allow_zero=allow_zero)
    if signed and isinstance(value, str) and value.strip().startswith("-"):
        return -to_ms(value.strip()[1:], unit, name=name, allow_zero=allow_zero)
    return to_ms(value, unit, name=name, allow_zero=allow_zero)


def _bare(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class SlicedPlan:
    """A resolved Tumble/Hop/Cumulate: windows made of ``pane``-long slices, in ms."""

    kind: str  # "tumble" | "hop" | "cumulate"
    size: int
    pane: int
    offset: int = 0
    tz: str | None = None  # session time zone: windows cut in its local time (None: UTC)

    def label(self) -> str:
        zone = f", tz={self.tz}" if self.tz else ""
        if self.kind == "tumble":
            return f"Tumble({format_ms(self.size)}{zone})"
        step = "slide" if self.kind == "hop" else "step"
        return f"{self.kind.capitalize()}({format_ms(self.size)}, {step}={format_ms(self.pane)}{zone})"


@dataclass(frozen=True)
class SessionPlan:
    """A resolved Session window: ``gap`` in ms."""

    gap: int
    kind: str = "session"

    def label(self) -> str:
        return f"Session({format_ms(self.gap)})"


class _Spec:
    def resolve(self, unit) -> SlicedPlan | SessionPlan:
        """The plan in ms for a stream whose numeric time unit is ``unit`` (None for datetimes)."""
        raise NotImplementedError

    def __post_init__(self):
        check_zone(getattr(self, "tz", None))
        for name, v in self.__dict__.items():
            if _bare(v) and name != "offset" and not v > 0:
                raise ValueError(f"{name} must be > 0, got {v!r}; pass a positive duration such as '1s' or '250ms'")
        if not any(_bare(v) and v != 0 for v in self.__dict__.values()):
            self.resolve(None)  # validate now when nothing depends on the stream's unit


@dataclass(frozen=True)
class Tumble(_Spec):
    """Fixed, non-overlapping windows ``[start, start + size)``; ``start = ts - ((ts - offset) mod size)``.

    ``tz`` (an IANA name) is the session time zone, Flink's ``table.local-time-zone`` over a
    TIMESTAMP_LTZ rowtime: windows are cut in its local time (a day runs from local midnight, plus
    ``offset``) and ``window_start``/``window_end`` are local wall-clock times (naive datetimes).

    >>> Tumble("1s").resolve(None)
    SlicedPlan(kind='tumble', size=1000, pane=1000, offset=0, tz=None)
    >>> Tumble("24h", offset="8h", tz="Asia/Shanghai").resolve(None).label()
    'Tumble(24h, tz=Asia/Shanghai)'
    >>> Tumble("0s")
    Traceback (most recent call last):
    ...
    ValueError: size must be > 0, got '0s'; pass a positive duration such as '1s' or '250ms'
    """

    size: object
    offset: object = 0
    tz: str | None = None

    def resolve(self, unit) -> SlicedPlan:
        size = _ms(self.size, unit, "size")
        return SlicedPlan("tumble", size, size, _offset(self.offset, unit) % size, check_zone(self.tz))


@dataclass(frozen=True)
class Hop(_Spec):
    """Sliding windows of ``size`` that start every ``slide``; ``size`` must be a multiple of ``slide``.

    >>> Hop("10s", "1s").resolve(None)
    SlicedPlan(kind='hop', size=10000, pane=1000, offset=0, tz=None)
    >>> Hop("10s", "3s")
    Traceback (most recent call last):
    ...
    ValueError: Hop size (10s) must be a multiple of slide (3s); e.g. Hop('9s', '3s') or Hop('10s', '2.5s')
    """

    size: object
    slide: object
    offset: object = 0
    tz: str | None = None

    def resolve(self, unit) -> SlicedPlan:
        size, slide, offset = _sliced("Hop", self.size, self.slide, "slide", self.offset, unit)
        return SlicedPlan("hop", size, slide, offset % slide, check_zone(self.tz))


@dataclass(frozen=True)
class Cumulate(_Spec):
    """Windows ``[S, S + k*step)`` growing by ``step`` up to ``size`` (S is size-aligned).

    >>> Cumulate("10s", "1s").resolve(None)
    SlicedPlan(kind='cumulate', size=10000, pane=1000, offset=0, tz=None)
    """

    size: object
    step: object
    offset: object = 0
    tz: str | None = None

    def resolve(self, unit) -> SlicedPlan:
        size, step, offset = _sliced("Cumulate", self.size, self.step, "step", self.offset, unit)
        return SlicedPlan("cumulate", size, step, offset % size, check_zone(self.tz))


@dataclass(frozen=True)
class Session(_Spec):
    """Per-key sessions: each record opens ``[ts, ts + gap)``; overlapping or touching sessions merge.

    >>> Session("50ms").resolve(None)
    SessionPlan(gap=50, kind='session')
    """

    gap: object

    def resolve(self, unit) -> SessionPlan:
        return SessionPlan(_ms(self.gap, unit, "gap"))


def _sliced(name, size, step, step_name, offset, unit) -> tuple[int, int, int]:
    """(size, step, offset) in ms for Hop/Cumulate; ``size`` must be a multiple of the step."""
    size = _ms(size, unit, "size")
    step = _ms(step, unit, step_name)
    if size % step:
        raise ValueError(
            f"{name} size ({format_ms(size)}) must be a multiple of {step_name} ({format_ms(step)}); "
            f"e.g. {name}('{format_ms(size - size % step)}', '{format_ms(step)}') or "
            f"{name}('{format_ms(size)}', '{format_ms(_divisor(size, step))}')"
        )
    return size, step, _offset(offset, unit)


def _offset(offset, unit) -> int:
    return 0 if offset == 0 else _ms(offset, unit, "offset", allow_zero=True, signed=True)


def _divisor(size: int, near: int) -> int:
    """The divisor of ``size`` closest to ``near`` (for error hints)."""
    small = [d for d in range(1, math.isqrt(size) + 1) if size % d == 0]
    divisors = small + [size // d for d in small]
    return min(divisors, key=lambda d: (abs(d - near), d))


WindowSpec = Tumble | Hop | Cumulate | Session
