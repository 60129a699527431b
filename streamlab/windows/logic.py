"""One window-logic interface: what the window operator asks of Tumble/Hop/Cumulate and Session logic.

:class:`~streamlab.windows.sliced.SlicedLogic` (pane-shared Tumble, Hop, Cumulate) and
:class:`~streamlab.windows.session.SessionLogic` both implement :class:`WindowLogic`, with one
``fire`` signature; :func:`make_logic` picks the class from the resolved plan's type.

>>> import streamlab as sl
>>> type(make_logic(sl.Session("1s").resolve("ms"), [], [])).__name__
'SessionLogic'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np

from .aggregates import PartialField, Partials
from .rawstore import RawStore
from .session import SessionLogic
from .sliced import SlicedLogic
from .specs import SessionPlan, SlicedPlan

#: ``emit(starts, ends, key ids, partials, raw rows or None, revisions or None, final)``
Emit = Callable[..., None]


class WindowLogic(Protocol):
    """State and logic of one window operator, for all keys."""

    raw: RawStore | None
    value_dtypes: dict[str, Any]

    def process(self, ts: np.ndarray, wm: np.ndarray, key: np.ndarray, values: dict[str, np.ndarray],
                seq: Any, wm_end: int, nkeys: int, emit: Emit) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
        """Add one batch in arrival order, firing as the per-row watermarks pass window ends.

        Returns (windows missed per row, windows per row), or (None, None) when no row missed any.
        """
        ...

    def widen(self, column: str, dtype: Any) -> None:
        """Store ``column``'s partials as ``dtype`` from now on (see ``aggregates.widened``)."""
        ...

    def fire(self, wm: int, nkeys: int, emit: Emit) -> None:
        """Emit every window with ``end - 1 <= wm`` that has not fired yet."""
        ...

    def open_windows(self, nkeys: int) -> Iterator[tuple[int, int, np.ndarray, Partials]]:
        """Yield (start, end, key ids, partials) of every open window."""
        ...

    def live_keys(self, nkeys: int) -> np.ndarray:
        """Mask (``nkeys`` long) of the key ids that still hold state."""
        ...

    def compact(self, live: np.ndarray, remap: np.ndarray, nkeys: int) -> None:
        """Keep only key ids ``live`` (sorted), renumbered by ``remap`` (old id -> new id)."""
        ...

    def save(self) -> dict[str, Any]:
        """Full state as plain Python (checkpoints)."""
        ...

    def load(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`save`."""
        ...


def make_logic(plan: SlicedPlan | SessionPlan, fields: list[PartialField], holistic_columns: list[str],
               lateness: int = 0) -> WindowLogic:
    """The logic for a resolved window plan."""
    if isinstance(plan, SessionPlan):
        return SessionLogic(plan, fields, holistic_columns, lateness)
    return SlicedLogic(plan, fields, holistic_columns, lateness)
