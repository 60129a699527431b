"""Source nodes: they own their input position and hand out micro-batches when the runtime asks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from ..core.node import Node
from ..core.snapshot import OperatorSnapshot, SourceState
from ..core.timecol import TimeMeta, event_ms

#: With ``speed`` set, batches are cut so that each covers at most this much wall time.
PACE_SLICE_S = 0.05


def running_loop_kwargs() -> dict:
    """Inside a running loop (Jupyter), bind the graph to it, so that streamz operators such as
    ``buffer`` and ``rate_limit`` use the kernel's loop instead of starting a thread of their own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return {}
    from tornado.ioloop import IOLoop

    return {"loop": IOLoop.current(), "asynchronous": True}


def check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer such as 10_000, got {batch_size!r}")
    return int(batch_size)


def check_speed(speed):
    if speed is None:
        return None
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not speed > 0:
        raise ValueError(f"speed must be None (as fast as possible) or a positive number such as 1 or 10, got {speed!r}")
    return float(speed)


class Source(Node):
    """Base of pull sources. Subclasses implement ``_batches()`` (a generator from the start)."""

    kind = "source"
    finite = True
    push = False  # push sources (from_streamz) receive rows instead of being asked for them

    def __init__(self, *, time: str, unit: str | None, columns, batch_size: int, speed, name: str):
        super().__init__(None, time_meta=TimeMeta(time, unit), columns=columns, stream_name=name,
                         **running_loop_kwargs())
        self.batch_size = check_batch_size(batch_size)
        self.speed = check_speed(speed)
        #: The pipeline that runs this source (set by the runtime when it builds the pipeline).
        self.owner: Any = None
        self._replaying = False
        self._reset_position()

    def _reset_position(self) -> None:
        self._it: Iterator[pd.DataFrame] | None = None
        # the rest of a paced batch and its running max event time (ms) per row
        self._pending: tuple[pd.DataFrame, np.ndarray] | None = None
        self.position = 0  # rows handed out so far
        self.emitted = 0  # rows emitted downstream so far (a paced batch may be handed out, not sent)
        self.exhausted = False
        self._anchor: tuple[float, int] | None = None
        #: A batch handed out by ``next_batch`` and not yet emitted (the runtime was stopped while
        #: it waited): the next run emits it first, so stop then start neither loses nor repeats rows.
        self.held: tuple[pd.DataFrame, int | None] | None = None

    def reset_state(self) -> None:
        super().reset_state()
        self._reset_position()

    def _batches(self) -> Iterator[pd.DataFrame]:  # pragma: no cover - abstract
        raise NotImplementedError

    def next_batch(self) -> tuple[pd.DataFrame, int | None] | None:
        """The next micro-batch and its pacing time (ms), or None at the end of a finite input."""
        if self._pending is None or not len(self._pending[0]):
            if self._it is None:
                self._it = self._batches()
            try:
                batch = next(self._it)
            except StopIteration:
                self.exhausted = True
                return None
            if self.speed is None:
                self.position += len(batch)
                return batch, None
            ms, ok = event_ms(batch[self.meta.column], self.meta.unit)
            self._pending = batch, np.maximum.accumulate(np.where(ok, ms, np.iinfo("int64").min))
        batch, ms = self._pending
        width = int(self.speed * PACE_SLICE_S * 1000) or 1
        cut = int(np.searchsorted(ms, ms[0] + width, side="left")) if len(ms) else 0
        cut = max(cut, 1)
        chunk, t = batch.iloc[:cut], int(ms[0])
        self._pending = batch.iloc[cut:], ms[cut:]
        self.position += len(chunk)
        return chunk, t

    def delay_for(self, t: int | None) -> float:
        """Seconds to wait before emitting a chunk whose event time is ``t`` (speed pacing)."""
        if self.speed is None or t is None or t < -(2**62):
            return 0.0
        now = time.monotonic()
        if self._anchor is None:
            self._anchor = (now, t)
            return 0.0
        wall0, t0 = self._anchor
        return max(0.0, wall0 + (t - t0) / 1000.0 / self.speed - now)

    def unanchor(self) -> None:
        """Forget the pacing anchor (after a pause, so the stream does not burst)."""
        self._anchor = None

    def emit_batch(self, batch: pd.DataFrame) -> None:
        """Send one batch downstream (counted)."""
        n = len(batch)
        self.counters.rows_in += n
        self.counters.rows_out += n
        self.emitted += n
        self._emit(batch)

    def snapshot_node(self, limit=50) -> OperatorSnapshot:
        snap = super().snapshot_node(limit)
        state: SourceState = {"position": self.position, "exhausted": self.exhausted, "speed": self.speed,
                              "finite": self.finite, "batch_size": self.batch_size}
        snap["state"] = dict(state)
        return snap

    def _seek(self, position: int) -> None:
        """Resume from a position: skip the rows already handed out."""
        self._reset_position()
        skip = int(position)
        it = self._batches()
        while skip > 0:
            batch = next(it)
            if len(batch) > skip:
                rest = batch.iloc[skip:]
                self._it = _chain(rest, it)
                break
            skip -= len(batch)
        else:
            self._it = it
        self.position = int(position)

    # --- checkpoints ----------------------------------------------------------------------
    def save_state(self) -> dict:
        """Position for a checkpoint: the rows *emitted* so far.

        A batch handed out by ``next_batch`` but still waiting (speed pacing) is not counted, so a
        checkpoint taken between batches on the loop is consistent with the operators' state.
        """
        return {"position": int(self.emitted), "replayable": not self.push}

    def load_state(self, state: dict) -> None:
        """Resume after ``state["position"]`` rows (a push source cannot replay; it starts afresh)."""
        if self.push:
            self.emitted = int(state["position"])
            return
        self._replaying = True
        try:
            self._seek(state["position"])
        except StopIteration:
            raise ValueError(f"{self.label()}: the checkpoint is at row {state['position']}, "
                             f"past the end of this input; is it the same data?") from None
        finally:
            self._replaying = False
        self.emitted = int(state["position"])

    def send_errors(self, rows, reason) -> None:
        if not self._replaying:  # rows skipped on restore were reported already
            super().send_errors(rows, reason)


def _chain(first, rest):
    yield first
    yield from rest
