"""Checkpoints: every operator's state and every source's position, in one JSON file.

``res.checkpoint(path)`` writes the file atomically (a temporary file, fsync, ``os.replace``);
``res.checkpoint(path, every="10s")`` keeps doing so on the running loop, between batches.
``sl.restore(path, res)`` loads it into a pipeline built by the same code; a checkpoint of a
different pipeline (another window, other aggregates, ...) is refused with a ValueError that
names the difference. Kafka offsets are committed to the consumer group only after a checkpoint
is written.

The file holds a fingerprint of the pipeline (operator kinds, labels, window specs, aggregates),
then one entry per operator (its state and counters), in the pipeline's topological order.
Plain streamz operators (``map``, ``sink`` ...) hold no checkpointed state.

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

import asyncio
import base64
import json
import os
import pickle
import time

import numpy as np
import pandas as pd

from .core.durations import to_ms
from .core.errors import PipelineStateError
from .core.side import SideOutput
from .core.node import Counters, Node

FORMAT, VERSION = "streamlab-checkpoint", 1


# --- JSON codec: numpy and pandas scalars, timestamps, tuples; anything else pickled ----------
def encode(o):
    if isinstance(o, dict):
        if all(isinstance(k, str) for k in o):
            return {k: encode(v) for k, v in o.items()}
        return {"$": "dict", "v": [[encode(k), encode(v)] for k, v in o.items()]}
    if isinstance(o, list):
        return [encode(v) for v in o]
    if isinstance(o, tuple):
        return {"$": "tuple", "v": [encode(v) for v in o]}
    if o is None or isinstance(o, (str, bool, int, float)):
        return o
    if isinstance(o, np.ndarray):
        return {"$": "nd", "dtype": o.dtype.str if o.dtype != object else "O", "v": encode(o.tolist())}
    if isinstance(o, np.generic) and not isinstance(o, (np.datetime64, np.timedelta64)):
        return o.item()
    if o is pd.NaT:
        return {"$": "nat"}
    if isinstance(o, (pd.Timestamp, np.datetime64)):
        return {"$": "ts", "v": pd.Timestamp(o).isoformat()}
    if isinstance(o, (pd.Timedelta, np.timedelta64)):
        return {"$": "td", "v": int(pd.Timedelta(o).value)}
    return {"$": "pickle", "v": base64.b64encode(pickle.dumps(o)).decode()}


def decode(o):
    if isinstance(o, list):
        return [decode(v) for v in o]
    if not isinstance(o, dict):
        return o
    tag = o.get("$") if len(o) <= 3 else None
    if tag == "dict":
        return {decode(k): decode(v) for k, v in o["v"]}
    if tag == "tuple":
        return tuple(decode(v) for v in o["v"])
    if tag == "nd":
        return np.asarray(decode(o["v"]), dtype=object if o["dtype"] == "O" else np.dtype(o["dtype"]))
    if tag == "nat":
        return pd.NaT
    if tag == "ts":
        return pd.Timestamp(o["v"])
    if tag == "td":
        return pd.Timedelta(int(o["v"]))
    if tag == "pickle":
        return pickle.loads(base64.b64decode(o["v"]))  # noqa: S301 - our own file
    return {k: decode(v) for k, v in o.items()}


# --- the pipeline's operators ------------------------------------------------------------
def operators(pipe) -> list[Node]:
    """The streamlab operators of ``pipe`` in topological order (side outputs excluded)."""
    return [n for n in pipe.nodes() if isinstance(n, Node) and not isinstance(n, SideOutput)]


def describe(node: Node) -> dict:
    """What must be equal for a checkpoint to fit: kind, label and, for windows, the spec."""
    d = {"kind": node.kind, "type": type(node).__name__, "label": node.label()}
    if node.time_meta is not None:
        d["time"] = [node.time_meta.column, node.time_meta.unit]
    plan = getattr(node, "plan", None)
    if node.kind == "window" and plan is not None:
        d.update(window=plan.label(), by=list(node.by), aggs=[s.label() for s in node.specs],
                 allowed_lateness_ms=node.lateness, emit_early_ms=node.emit_early)
    if node.kind == "watermark":
        d["delay_ms"] = node.delay
    return d


def _check_fingerprint(saved: list[dict], here: list[dict]) -> None:
    names = {"window": "window", "by": "group keys", "aggs": "aggregates", "label": "operator",
             "kind": "operator kind", "time": "time column", "delay_ms": "watermark delay (ms)",
             "allowed_lateness_ms": "allowed_lateness (ms)", "emit_early_ms": "emit_early (ms)",
             "type": "operator type"}
    for i, (a, b) in enumerate(zip(saved, here)):
        for field in ("kind", "type", "window", "by", "aggs", "allowed_lateness_ms", "emit_early_ms",
                      "delay_ms", "time", "label"):
            if a.get(field) != b.get(field):
                raise ValueError(
                    f"this checkpoint was written by a different pipeline: operator #{i + 1} "
                    f"({b['label']}) has {names[field]} {b.get(field)!r} here but {a.get(field)!r} in "
                    f"the checkpoint; rebuild the pipeline exactly as it was, or start without restoring")
    if len(saved) != len(here):
        more, fewer = ("checkpoint", "pipeline") if len(saved) > len(here) else ("pipeline", "checkpoint")
        extra = (saved if len(saved) > len(here) else here)[min(len(saved), len(here))]
        raise ValueError(f"this checkpoint was written by a different pipeline: the {more} has more "
                         f"operators than the {fewer} ({len(saved)} vs {len(here)}), starting with "
                         f"{extra['label']!r}")


def _state_of(node: Node):
    for name in ("checkpoint_state", "export_state", "export"):
        fn = getattr(node, name, None)
        if fn is not None:
            return fn()
    return None


def _load_into(node: Node, state) -> None:
    if state is None:
        return
    for name in ("restore_state", "load_state", "load"):
        fn = getattr(node, name, None)
        if fn is not None:
            fn(state)
            return


def _counters(node: Node) -> dict:
    c = node.counters
    return {"in": c.rows_in, "out": c.rows_out, "late": c.late, "errors": c.errors}


def _set_counters(node: Node, saved: dict) -> None:
    c = Counters()
    c.rows_in, c.rows_out, c.late, c.errors = saved["in"], saved["out"], saved["late"], saved["errors"]
    c._marks.clear()
    c._marks.append((time.monotonic(), c.rows_in))
    node.counters = c


def _sides(node: Node) -> dict:
    return {what: s for what, s in (("late", getattr(node, "late", None)), ("errors", node._errors))
            if isinstance(s, SideOutput)}


# --- writing -----------------------------------------------------------------------------
def operator_state(node: Node) -> dict:
    """Everything a checkpoint keeps of one operator (``Pipeline.snapshot(state=True)`` embeds it)."""
    return encode({"state": _state_of(node), "counters": _counters(node),
                   "sides": {w: _counters(s) for w, s in _sides(node).items()}})


def write_checkpoint(pipe, path) -> dict:
    """Write one checkpoint of ``pipe`` to ``path`` now (call it between batches).

    The operators' state comes from the same ``snapshot()`` that feeds the widgets and the panel.
    """
    nodes = operators(pipe)
    ident = getattr(pipe, "_checkpoint_id", 0) + 1
    snap = pipe.snapshot(limit=0, state=True)
    entries = [op["checkpoint"] for op in snap["operators"]]
    if len(entries) != len(nodes):  # pragma: no cover - both walk pipe.nodes() the same way
        raise RuntimeError("snapshot and pipeline disagree on the operators")
    doc = {"format": FORMAT, "version": VERSION, "id": ident, "pipeline": pipe.name,
           "written_at": time.time(), "fingerprint": [describe(n) for n in nodes], "operators": entries}
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(os.path.dirname(os.path.abspath(path)))
    pipe._checkpoint_id = ident
    for n, entry in zip(nodes, entries):  # only now: e.g. Kafka commits the checkpointed offsets
        hook = getattr(n, "on_checkpoint", None)
        if hook is not None:
            hook(decode(entry["state"]))
    return {"id": ident, "path": path, "operators": len(nodes)}


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Checkpointer:
    """Periodic checkpoints of one pipeline, written between batches.

    On a running loop a task checks every ``every``; Kafka sources also offer each gap between
    batches (so a synchronous ``collect()`` checkpoints too). A last checkpoint is written when a
    finite input ends. ``stop()`` ends it.
    """

    def __init__(self, pipe, path, every):
        self.pipe, self.path = pipe, os.fspath(path)
        self.interval = to_ms(every, "s", name="every") / 1000.0
        self.last = time.monotonic()
        self.written = 0
        self.last_info: dict | None = None
        self._task = None

    def __repr__(self) -> str:
        return f"<Checkpointer {self.path!r} every {self.interval}s, {self.written} written>"

    @property
    def next_id(self) -> int:
        """The id the next checkpoint will get (rows emitted now belong to it)."""
        return getattr(self.pipe, "_checkpoint_id", 0) + 1

    def start(self) -> Checkpointer:
        old = getattr(self.pipe, "_checkpointer", None)
        if old is not None:
            old.stop()
        self.pipe._checkpointer = self
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self
        self._task = loop.create_task(self._run())
        return self

    def write(self) -> dict:
        self.last_info = write_checkpoint(self.pipe, self.path)
        self.last = time.monotonic()
        self.written += 1
        return self.last_info

    def maybe(self) -> None:
        """Write a checkpoint if ``every`` has passed since the last one (call between batches)."""
        if time.monotonic() - self.last >= self.interval and self.pipe.state in ("running", "paused"):
            self.write()

    async def _run(self) -> None:
        first, ran = self.pipe.state, False
        while True:
            await asyncio.sleep(min(self.interval, 0.05))
            state = self.pipe.state
            if state in ("running", "paused"):
                ran = True
                self.maybe()
            elif state == "finished" and (ran or first != "finished"):
                self.write()
                return
            elif state in ("stopped", "failed") and (ran or first != state):
                return

    async def wait(self) -> None:
        """Wait until the periodic task ends (after the last checkpoint of a finished input)."""
        if self._task is not None:
            await asyncio.wait([self._task])

    def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        if getattr(self.pipe, "_checkpointer", None) is self:
            self.pipe._checkpointer = None


def checkpoint(stream, path, every=None):
    """Write a checkpoint of ``stream``'s pipeline now, or every ``every`` (returns a Checkpointer)."""
    pipe = stream.pipeline
    if every is not None:
        return Checkpointer(pipe, path, every).start()
    return write_checkpoint(pipe, path)


# --- restoring ---------------------------------------------------------------------------
def read_checkpoint(path) -> dict:
    """The checkpoint document (decoded)."""
    with open(path, encoding="utf-8") as f:
        doc = decode(json.load(f))
    if doc.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)!r} is not a streamlab checkpoint")
    if doc.get("version") != VERSION:
        raise ValueError(f"checkpoint version {doc.get('version')} is not supported (this streamlab writes {VERSION})")
    return doc


def restore(path, *streams):
    """Load a checkpoint into the pipeline of ``streams`` (built by the same code); returns the pipeline.

    The pipeline must not be running. Afterwards ``collect()`` or ``start()`` continue from the
    checkpoint. A checkpoint of a different pipeline raises ValueError naming the difference.
    """
    if not streams:
        raise TypeError("restore(path, res): pass the result stream(s) of the freshly built pipeline")
    pipe = streams[0].pipeline
    for s in streams[1:]:
        if s.pipeline is not pipe:
            raise ValueError(f"{s!r} belongs to another pipeline than {streams[0]!r}")
    if pipe.state in ("running", "paused"):
        raise PipelineStateError(f"pipeline {pipe.name!r} is running; stop() it before restoring")
    doc = read_checkpoint(path)
    nodes = operators(pipe)
    _check_fingerprint(doc["fingerprint"], [describe(n) for n in nodes])
    pipe.reset()
    for n, entry in zip(nodes, doc["operators"]):
        _load_into(n, entry["state"])
        _set_counters(n, entry["counters"])
        sides = _sides(n)
        for what, saved in entry.get("sides", {}).items():
            side = sides.get(what)
            if side is None and what == "errors":
                side = n.errors
            if side is not None:
                _set_counters(side, saved)
    pipe.state = "idle"
    pipe._checkpoint_id = doc["id"]
    return pipe
