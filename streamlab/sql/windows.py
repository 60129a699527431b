"""The window TVFs of a plan: TUMBLE, HOP, CUMULATE and SESSION as frozen dataclasses.

Durations are ``datetime.timedelta`` values of whole milliseconds (Flink's TIMESTAMP(3)); each
class checks its own in ``__post_init__``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

MS = dt.timedelta(milliseconds=1)
ZERO = dt.timedelta(0)


def ms(duration: dt.timedelta) -> int:
    """Whole milliseconds of a plan duration.

    >>> ms(dt.timedelta(seconds=1.5)), ms(-dt.timedelta(seconds=10))
    (1500, -10000)
    """
    return duration // MS


def _duration(window: str, name: str, value: object, positive: bool = True) -> None:
    ok = isinstance(value, dt.timedelta) and value % MS == ZERO and (value > ZERO or not positive)
    if not ok:
        kind = "a positive datetime.timedelta" if positive else "a datetime.timedelta"
        raise ValueError(f"{window} {name} must be {kind} of whole milliseconds, "
                         f"e.g. {name}=timedelta(seconds=1); got {value!r}")


@dataclass(frozen=True, kw_only=True)
class BaseWindow:
    """A window TVF: ``NAME`` is Flink's function, ``ARGS`` its durations in Flink's order."""

    NAME: ClassVar[str]
    ARGS: ClassVar[tuple[str, ...]]

    def __post_init__(self) -> None:
        for name in self.ARGS:
            _duration(self.NAME, name, getattr(self, name))

    def arguments(self) -> list[str]:
        """``name=<ms>ms`` for each argument, in Flink's order."""
        return [f"{a}={ms(getattr(self, a))}ms" for a in self.ARGS]

    def describe(self) -> str:
        """Flink's argument order, e.g. ``HOP(slide=1000ms, size=10000ms)``."""
        return f"{self.NAME}({', '.join(self.arguments())})"


@dataclass(frozen=True, kw_only=True)
class AlignedWindow(BaseWindow):
    """TUMBLE, HOP and CUMULATE: epoch-aligned windows of ``size``, shifted by ``offset``."""

    size: dt.timedelta
    offset: dt.timedelta = ZERO

    def __post_init__(self) -> None:
        super().__post_init__()
        _duration(self.NAME, "offset", self.offset, positive=False)
        for name in (a for a in self.ARGS if a != "size"):  # HOP's slide, CUMULATE's step
            if ms(self.size) % ms(getattr(self, name)):
                raise ValueError(f"{self.NAME} size ({ms(self.size)} ms) is not a multiple of its "
                                 f"{name} ({ms(getattr(self, name))} ms)")

    def arguments(self) -> list[str]:
        offset = [f"offset={ms(self.offset)}ms"] if self.offset else []
        return super().arguments() + offset


@dataclass(frozen=True, kw_only=True)
class TumbleWindow(AlignedWindow):
    """``TUMBLE(data, timecol, size [, offset])``.

    >>> TumbleWindow(size=dt.timedelta(minutes=1), offset=dt.timedelta(seconds=-10)).describe()
    'TUMBLE(size=60000ms, offset=-10000ms)'
    """

    NAME: ClassVar[str] = "TUMBLE"
    ARGS: ClassVar[tuple[str, ...]] = ("size",)


@dataclass(frozen=True, kw_only=True)
class HopWindow(AlignedWindow):
    """``HOP(data, timecol, slide, size [, offset])``: ``size`` is a multiple of ``slide``.

    >>> HopWindow(slide=dt.timedelta(seconds=1), size=dt.timedelta(seconds=10)).describe()
    'HOP(slide=1000ms, size=10000ms)'
    """

    NAME: ClassVar[str] = "HOP"
    ARGS: ClassVar[tuple[str, ...]] = ("slide", "size")
    slide: dt.timedelta


@dataclass(frozen=True, kw_only=True)
class CumulateWindow(AlignedWindow):
    """``CUMULATE(data, timecol, step, size [, offset])``: ``size`` is a multiple of ``step``."""

    NAME: ClassVar[str] = "CUMULATE"
    ARGS: ClassVar[tuple[str, ...]] = ("step", "size")
    step: dt.timedelta


@dataclass(frozen=True, kw_only=True)
class SessionWindow(BaseWindow):
    """``SESSION(data [PARTITION BY keys], timecol, gap)``.

    >>> SessionWindow(gap=dt.timedelta(seconds=30), partition_by=("key",)).describe()
    'SESSION(gap=30000ms, partition_by=key)'
    """

    NAME: ClassVar[str] = "SESSION"
    ARGS: ClassVar[tuple[str, ...]] = ("gap",)
    gap: dt.timedelta
    partition_by: tuple[str, ...] = ()

    def arguments(self) -> list[str]:
        keys = [f"partition_by={','.join(self.partition_by)}"] if self.partition_by else []
        return super().arguments() + keys


Window = TumbleWindow | HopWindow | CumulateWindow | SessionWindow
#: Flink's window function name -> its plan class.
WINDOWS: dict[str, type[Window]] = {
    w.NAME: w for w in (TumbleWindow, HopWindow, CumulateWindow, SessionWindow)}
