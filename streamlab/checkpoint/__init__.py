"""Checkpoints: every operator's state and every source's position, in one checked JSON file.

``res.checkpoint(path)`` writes the file atomically (a temporary file, fsync, ``os.replace``);
``res.checkpoint(path, every="10s")`` keeps doing so between batches. ``sl.restore(path, res)``
loads it into a pipeline built by the same code, all or nothing. A checkpoint of a different
pipeline, a damaged file or a crafted one is refused with a ValueError naming the field; the file
is data only (no pickle: nothing in it can run code). Kafka offsets are committed to the consumer
group only after a checkpoint is written.

Modules: :mod:`.format` (the file, version 2), :mod:`.codec` (tagged JSON for state),
:mod:`.validate` (every field checked), :mod:`.fit` (same pipeline?), :mod:`.io` (files),
:mod:`.write`, :mod:`.restore` and :mod:`.periodic`.

>>> import os, tempfile, pandas as pd, streamlab as sl
>>> df = pd.DataFrame({"ts": [0, 400, 1200, 2100], "v": [1.0, 2.0, 3.0, 4.0]})
>>> def build():
...     return sl.from_frame(df, time="ts", unit="ms", batch_size=2).window(sl.Tumble(1000)).agg(s=("v", "sum"))
>>> res = build(); seen = res.sink_to_list()
>>> _ = res.step()                      # first two rows: no window has fired yet
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.json")
>>> res.checkpoint(path)["id"]
1
>>> again = build(); _ = sl.restore(path, again)
>>> again.collect()["s"].tolist()       # the rest: nothing lost, nothing twice
[3.0, 3.0, 4.0]
"""

from __future__ import annotations

from ..core.node import Node
from .periodic import Checkpointer
from .restore import read_checkpoint, restore
from .write import write_checkpoint

__all__ = ["Checkpointer", "checkpoint", "read_checkpoint", "restore", "write_checkpoint"]


def checkpoint(stream, path, every=None):
    """Write a checkpoint of ``stream``'s pipeline now (returns its id, path and operator count), or
    every ``every`` (returns the started :class:`Checkpointer`)."""
    pipe = stream.pipeline
    if every is not None:
        return Checkpointer(pipe, path, every).start()
    return write_checkpoint(pipe, path)


@Node.register_api(attribute_name="checkpoint")
def _checkpoint(self, path, every=None):
    """Atomically write every operator's state and every source's position to ``path``
    (``every="10s"``: keep doing so between batches); ``sl.restore(path, res)`` resumes."""
    return checkpoint(self, path, every=every)
