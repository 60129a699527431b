"""Periodic checkpoints: written at the pipeline's quiet points between batches, and at the end.

>>> import os, tempfile, time, pandas as pd, streamlab as sl
>>> res = sl.from_frame(pd.DataFrame({"ts": range(6)}), time="ts", unit="ms", batch_size=2)
>>> _ = res.sink(lambda df: time.sleep(0.002))          # slow batches: 1 ms passes between them
>>> ck = Checkpointer(res.pipeline, os.path.join(tempfile.mkdtemp(), "c.json"), every="1ms").start()
>>> _ = res.collect(); ck.written >= 1
True
>>> ck.stop(); ck  # doctest: +ELLIPSIS
<Checkpointer ... every 0.001s, ... written>
"""

from __future__ import annotations

import asyncio
import os
import time
import weakref

from ..core.durations import to_ms
from ..core.state import PipelineState
from .write import write_checkpoint

_current: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # pipeline -> its Checkpointer


class Checkpointer:
    """Periodic checkpoints of one pipeline.

    It registers with the pipeline's quiet points (between batches, also inside a synchronous
    ``collect()``) and writes when ``every`` has passed. On a running loop a task also checks while
    the pipeline is paused, and writes a last checkpoint when a finite input ends. ``stop()`` ends it;
    a new Checkpointer of the same pipeline stops the previous one.
    """

    def __init__(self, pipe, path, every):
        self.pipe, self.path = pipe, os.fspath(path)
        self.interval = to_ms(every, "s", name="every") / 1000.0
        self.last = time.monotonic()
        self.written = 0
        self.last_info: dict | None = None
        self._task: asyncio.Task | None = None

    def __repr__(self) -> str:
        return f"<Checkpointer {self.path!r} every {self.interval}s, {self.written} written>"

    @property
    def next_id(self) -> int:
        """The id the next checkpoint will get (rows emitted now belong to it)."""
        return self.pipe.checkpoint_id + 1

    def start(self) -> Checkpointer:
        old = _current.get(self.pipe)
        if old is not None:
            old.stop()
        _current[self.pipe] = self
        self.pipe.add_quiet_hook(self.maybe)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self
        self._task = loop.create_task(self._run())
        return self

    def write(self) -> dict:
        """Write a checkpoint now."""
        self.last_info = write_checkpoint(self.pipe, self.path)
        self.last = time.monotonic()
        self.written += 1
        return self.last_info

    def maybe(self) -> None:
        """Write a checkpoint if ``every`` has passed since the last one (a quiet point between batches)."""
        if time.monotonic() - self.last >= self.interval and self.pipe.state.active:
            self.write()

    async def _run(self) -> None:
        if self.pipe.state.terminal:  # nothing runs: nothing to checkpoint until a reset
            return
        while True:
            try:  # the run's end is awaited; the interval only paces the checks in between
                state = await asyncio.wait_for(self.pipe.wait(), timeout=self.interval)
            except TimeoutError:
                self.maybe()  # also while paused (no quiet points then)
                continue
            if state == PipelineState.FINISHED:
                self.write()
            return

    async def wait(self) -> None:
        """Wait until the periodic task ends (after the last checkpoint of a finished input)."""
        if self._task is not None:
            await asyncio.wait([self._task])

    def stop(self) -> None:
        """No more checkpoints from this Checkpointer."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        self.pipe.remove_quiet_hook(self.maybe)
        if _current.get(self.pipe) is self:
            del _current[self.pipe]
