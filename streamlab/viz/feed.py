"""Coalescing feeder: buffer items from a stream, flush them on the running loop, throttled.

A streamz ``sink`` pushes every micro-batch into a :class:`Feeder`. The feeder hands the
accumulated batches to its ``flush`` callback at most ``max_rate`` times per second, always on
the asyncio loop that runs the kernel (never a thread). While the kernel is busy the loop cannot
run the callback, so batches coalesce by themselves.

>>> out = []
>>> f = Feeder(out.append, max_rate=20)
>>> f.push(1); f.push(2)          # no running loop: flushed synchronously
>>> out
[[1], [2]]
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The running asyncio loop of this thread, or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Feeder:
    """Buffer pushed items and flush them as one list, at most ``max_rate`` times a second.

    ``max_pending`` bounds memory: when more items wait than that, the oldest are dropped and
    counted in ``dropped`` (a live view only ever shows the latest rows anyway).
    Without a running loop (scripts, synchronous tests) every push flushes immediately.
    """

    def __init__(
        self,
        flush: Callable[[list[Any]], None],
        max_rate: float = 20.0,
        max_pending: int = 10_000,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if max_rate <= 0:
            raise ValueError(f"max_rate must be > 0, got {max_rate!r}")
        self._flush_fn = flush
        self.interval = 1.0 / max_rate
        self._pending: deque[Any] = deque(maxlen=max_pending)
        self._loop = loop or running_loop()
        self._thread = threading.get_ident()
        self._handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self._last = float("-inf")
        self.flushes = 0
        self.pushed = 0
        self.dropped = 0
        self.errors = 0
        self.last_error: BaseException | None = None
        self.closed = False
        self._sink = None

    @property
    def pending(self) -> int:
        """Number of items waiting for the next flush."""
        return len(self._pending)

    def push(self, item: Any) -> None:
        """Add one item; schedule a flush on the loop (or flush now if there is no loop)."""
        if self.closed:
            return
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
        self._pending.append(item)
        self.pushed += 1
        loop = self._loop if self._loop is not None and not self._loop.is_closed() else None
        if loop is None:
            loop = self._loop = running_loop()
        if loop is None:
            self.flush()
        elif threading.get_ident() != self._thread:
            # Never touch widgets from a foreign thread: hand over to the loop's thread.
            loop.call_soon_threadsafe(self._schedule, loop)
        else:
            self._schedule(loop)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._handle is not None or self.closed:
            return
        delay = max(0.0, self._last + self.interval - time.monotonic())
        self._handle = loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._handle = None
        self.flush()

    def flush(self) -> None:
        """Hand all pending items to the flush callback now."""
        if not self._pending:
            return
        items = list(self._pending)
        self._pending.clear()
        self._last = time.monotonic()
        self.flushes += 1
        try:
            self._flush_fn(items)
        except Exception as exc:  # keep the feed alive, but never hide the failure
            self.errors += 1
            self.last_error = exc
            log.exception("streamlab live view: flush failed")

    def follow(self, stream: Any) -> Feeder:
        """Push every element ``stream`` emits (until ``close()``)."""
        self._sink = stream.sink(self.push)
        return self

    def close(self) -> None:
        """Stop following the stream, cancel a scheduled flush and drop pending items."""
        sink, self._sink = self._sink, None
        if sink is not None:
            sink.destroy()
        self.closed = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._pending.clear()
