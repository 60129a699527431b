"""The streamlab node and its operator protocol: a ``streamz.Stream`` that carries pandas micro-batches.

Every operator (sources, watermark, where, assign, windows, sinks) subclasses :class:`Node` and
implements some of the hooks below; each hook is declared here once, with a default, and the
runtime and checkpoints call them directly:

================================  ===========================================================
``on_batch(df, port, marks)``     a batch arrived on input ``port``; return the batch to emit
``on_watermark(port, wm)``        input ``port``'s watermark advanced (after its batch)
``on_timer(now)``                 processing time passed (idle timeouts, early firing)
``on_flush()``                    end of a finite input: emit whatever is still held
``on_stop()``                     the pipeline stops: deliver what is queued
``reset_state()``                 forget everything (``Pipeline.reset``)
``snapshot_node(limit)``          a typed, JSON-able picture (:class:`~.snapshot.OperatorSnapshot`)
``save_state()``/``load_state``   plain, versioned state for checkpoints (``state_version``)
``fingerprint()``                 the settings a checkpoint must match (a window's spec ...)
``on_checkpoint(state)``          a checkpoint holding ``state`` is durable now
================================  ===========================================================

streamz's own operators (``map``, ``sink``, ``rate_limit``, ``buffer`` ...) keep working on a
node unchanged. The layers above attach their fluent methods to :class:`Node` (``collect``,
``start``, ``plot``, ``to_kafka`` ...), so this module imports nothing from them.
"""

from __future__ import annotations

import collections
import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd
import streamz

from .snapshot import CountersSnapshot, InputSnapshot, OperatorSnapshot
from .timecol import NEG_INF, POS_INF, TimeMeta
from .watermarks import InputWatermarks, Marks, marks_of

_ids = itertools.count(1)

#: Columns a side output adds to the input's (DESIGN §3: late rows carry the watermark they saw).
SIDE_COLUMNS: dict[str, tuple[str, ...]] = {
    "late": ("watermark", "missed_windows", "reason"),
    "errors": ("reason",),
}


class Counters:
    """Rows in/out/late/errors of one operator, plus events per second over the last second."""

    __slots__ = ("rows_in", "rows_out", "late", "errors", "_rate")

    def __init__(self) -> None:
        self.rows_in = self.rows_out = self.late = self.errors = 0
        self._rate: collections.deque = collections.deque([(time.monotonic(), 0)], maxlen=64)

    def events_per_s(self) -> float:
        """Rows in per second, measured over about the last second (0 when nothing flows)."""
        now = time.monotonic()
        marks = self._rate
        if now - marks[-1][0] >= 0.05:
            marks.append((now, self.rows_in))
        while len(marks) > 2 and now - marks[1][0] >= 1.0:
            marks.popleft()
        t0, n0 = marks[0]
        dt = now - t0
        return round((self.rows_in - n0) / dt, 1) if dt > 0 else 0.0

    def as_dict(self) -> CountersSnapshot:
        """The wire form: ``{"in", "out", "late", "errors"}``."""
        return {"in": self.rows_in, "out": self.rows_out, "late": self.late, "errors": self.errors}

    def restore(self, saved: CountersSnapshot) -> None:
        """Set the counts from :meth:`as_dict` output (a checkpoint); the rate starts afresh.

        >>> c = Counters(); c.restore({"in": 5, "out": 4, "late": 1, "errors": 0}); c.as_dict()["in"]
        5
        """
        self.rows_in, self.rows_out = int(saved["in"]), int(saved["out"])
        self.late, self.errors = int(saved["late"]), int(saved["errors"])
        self._rate.clear()
        self._rate.append((time.monotonic(), self.rows_in))


def find_meta(stream) -> tuple[TimeMeta | None, list[str] | None]:
    """The time metadata and known columns of the nearest streamlab node upstream of ``stream``."""
    seen = set()
    todo = [stream]
    while todo:
        s = todo.pop(0)
        if id(s) in seen:
            continue
        seen.add(id(s))
        if isinstance(s, Node) and s.time_meta is not None:
            return s.time_meta, (s.columns if s is stream else None)
        todo.extend(u for u in getattr(s, "upstreams", []) if u is not None)
    return None, None


class Observed:
    """What an operator saw of one input batch, as it judged it (for teaching views and tests).

    ``frame`` is the batch as it arrived (``rows`` of it), ``pos`` the positions of the rows it
    accepted as valid, ``ms``/``wm`` their event times and the watermarks they saw, and ``end``
    the operator's watermark after the batch.
    """

    __slots__ = ("frame", "pos", "ms", "wm", "end")

    def __init__(self, frame, pos, ms, wm, end: int):
        self.frame, self.pos, self.ms, self.wm, self.end = frame, pos, ms, wm, int(end)


class Node(streamz.Stream):
    """Base class of streamlab operators: micro-batches in, micro-batches out, with counters.

    Subclasses implement the hooks of the protocol (see the module docstring); the default
    ``on_batch`` passes the batch through.
    """

    #: What the views call this operator ("source", "watermark", "window", "sink" ...).
    kind: ClassVar[str] = "node"
    #: Version of this operator's ``save_state()`` layout; checkpoints refuse other versions.
    state_version: ClassVar[int] = 1
    #: Whether its output rows are the pipeline's results (the snapshot's ``out`` and ``late``).
    result_operator: ClassVar[bool] = False

    # Attached by the layers above (runtime, production, front ends); declared for type checkers.
    if TYPE_CHECKING:
        pipeline: Any
        collect: Callable[..., pd.DataFrame]
        acollect: Callable[..., Any]
        start: Callable[..., Any]
        pause: Callable[..., Any]
        resume: Callable[..., Any]
        step: Callable[..., Any]
        stop: Callable[..., Any]
        snapshot: Callable[..., Any]

    def __init__(self, upstream=None, *, upstreams=None, time_meta: TimeMeta | None = None,
                 columns: list[str] | None = None, stream_name: str | None = None, **kwargs):
        super().__init__(upstream, upstreams=upstreams, stream_name=stream_name, **kwargs)
        if time_meta is None:
            for up in self.upstreams:
                time_meta, _ = find_meta(up)
                if time_meta is not None:
                    break
        self.time_meta = time_meta
        self.columns = list(columns) if columns is not None else None
        self.counters = Counters()
        self.watermarks = InputWatermarks()
        self.op_id = f"op-{next(_ids)}"
        self.parent: Node | None = None  # the operator a side output hangs off
        #: Side outputs hanging off this operator (``late``, ``errors``), by name.
        self.sides: dict[str, SideOutput] = {}
        self._watchers: list[Callable[[Observed], None]] = []

    # --- identity -------------------------------------------------------------------------
    @property
    def meta(self) -> TimeMeta:
        """The event-time metadata (an error for a node with no streamlab source upstream)."""
        if self.time_meta is None:
            raise ValueError(f"{self!r} does not know the event-time column; start from a streamlab source "
                             "(sl.from_frame(df, time='ts'), sl.from_streamz(stream, time='ts'), ...)")
        return self.time_meta

    @property
    def time_column(self) -> str | None:
        """Name of the event-time column."""
        return self.time_meta.column if self.time_meta else None

    def label(self) -> str:
        return self.name or type(self).__name__.lower()

    def __repr__(self) -> str:
        return f"<streamlab.{type(self).__name__} {self.label()} [{self.op_id}]>"

    def __str__(self) -> str:
        return self.__repr__()

    def port_of(self, who) -> int:
        """The input number of upstream ``who`` (0 for a single input or an unknown sender)."""
        for i, up in enumerate(self.upstreams):
            if up is who:
                return i
        return 0

    # --- data path (not overridden: operators implement the hooks) ---------------------------
    def update(self, x, who=None, metadata=None):
        if not isinstance(x, pd.DataFrame):
            raise TypeError(f"{self!r} expects pandas DataFrame micro-batches, got {type(x).__name__}")
        port = self.port_of(who)
        self.counters.rows_in += len(x)
        before = self.watermarks.current
        marks = self.watermarks.receive(port, marks_of(x), len(self.upstreams))
        out = self.on_batch(x, port, marks)
        if self.watermarks.current > before:
            self.on_watermark(port, self.watermarks.current)
        if out is None:
            return None
        self.counters.rows_out += len(out)
        return self._emit(out, metadata=metadata)

    def emit_out(self, df: pd.DataFrame) -> None:
        """Send rows produced outside ``on_batch`` (timers, end of input), counted."""
        self.counters.rows_out += len(df)
        self._emit(df)

    # --- the operator protocol (defaults) ---------------------------------------------------
    def on_batch(self, df: pd.DataFrame, port: int, marks: Marks | None) -> pd.DataFrame | None:
        """A batch arrived on input ``port`` with its (multi-input combined) marks."""
        return df

    def on_watermark(self, port: int, wm: int) -> None:
        """The operator's watermark (the minimum over its inputs) advanced to ``wm``."""

    def on_timer(self, now: float) -> None:
        """Processing time is ``now`` (``time.monotonic()``); called every timer tick while running."""

    def on_flush(self) -> None:
        """End of a finite input: emit whatever is still held (windows fire everything)."""

    def on_stop(self) -> None:
        """The pipeline stops: deliver what is queued (sinks), without blocking the loop."""

    def reset_state(self) -> None:
        """Forget all state (``Pipeline.reset``)."""
        self.counters = Counters()
        self.watermarks.reset()

    def save_state(self) -> dict[str, Any]:
        """Everything needed to resume, as plain data (lists, numbers, strings); see ``state_version``."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        """Resume from ``save_state()`` of an operator built the same way."""

    def fingerprint(self) -> dict[str, Any]:
        """Settings that must be equal for a checkpoint of this operator to fit (plain values)."""
        return {}

    def on_checkpoint(self, state: dict[str, Any]) -> None:
        """A checkpoint holding ``state`` (this operator's ``save_state()``) is durable now."""

    @property
    def current_watermark(self) -> int:
        """The watermark this operator has reached (``NEG_INF`` before the first one)."""
        return self.watermarks.current

    def snapshot_node(self, limit: int | None = 50) -> OperatorSnapshot:
        """JSON-able picture of this operator (see :class:`~.snapshot.OperatorSnapshot`)."""
        ups = list(self.upstreams)
        inputs: list[InputSnapshot] = [
            {"port": i, "upstream": u.op_id if isinstance(u, Node) else None,
             "watermark": _finite(w)}
            for i, (u, w) in enumerate(zip(ups, self.watermarks.ports + [NEG_INF] * len(ups)))]
        return {
            "id": self.op_id,
            "kind": self.kind,
            "label": self.label(),
            "upstreams": [u.op_id for u in ups if isinstance(u, Node)],
            "inputs": inputs,
            "counters": self.counters.as_dict(),
            "events_per_s": self.counters.events_per_s(),
            "watermark": _finite(self.current_watermark),
            "state": {},
        }

    # --- observers (teaching views) --------------------------------------------------------------
    def watch(self, fn: Callable[[Observed], None]) -> Callable[[], None]:
        """Call ``fn(Observed)`` for every input batch this operator judged; returns ``unwatch``."""
        self._watchers.append(fn)
        return lambda: self._watchers.remove(fn) if fn in self._watchers else None

    def _tell(self, seen: Observed) -> None:
        for fn in list(self._watchers):
            fn(seen)

    # --- side outputs -----------------------------------------------------------------------
    def input_columns(self) -> list[str] | None:
        """The known columns of this operator's first input (None when a streamz step hides them)."""
        for up in self.upstreams:
            return list(up.columns) if isinstance(up, Node) and up.columns is not None else None
        return None

    def side_columns(self, what: str) -> list[str]:
        """Columns of side output ``what``: the input's, then ``SIDE_COLUMNS[what]``."""
        return [*(self.input_columns() or []), *SIDE_COLUMNS.get(what, ())]

    def side(self, what: str) -> SideOutput:
        """The side output ``what`` of this operator (made on first use)."""
        out = self.sides.get(what)
        if out is None:
            out = self.sides[what] = SideOutput(self, what)
        return out

    @property
    def errors(self) -> SideOutput:
        """Rows this operator (and, for windows, those upstream) could not process, with ``reason``."""
        return self.side("errors")

    def send_errors(self, rows: pd.DataFrame, reason) -> None:
        """Set ``rows`` aside on ``errors`` with ``reason`` (a text, or one per row)."""
        if len(rows):
            self.counters.errors += len(rows)
            self.errors.push(error_frame(rows, reason))


def concat_frames(frames: list[pd.DataFrame]) -> pd.DataFrame | None:
    """The non-empty ``frames`` as one frame, or None when there are none (an operator's pending output).

    >>> concat_frames([pd.DataFrame({"a": [1]}), pd.DataFrame({"a": []}), pd.DataFrame({"a": [2]})])["a"].tolist()
    [1, 2]
    """
    out = [f for f in frames if len(f)]
    if not out:
        return None
    return out[0] if len(out) == 1 else pd.concat(out, ignore_index=True)


def _finite(w: int) -> int | None:
    return int(w) if NEG_INF < w < POS_INF else None


def error_frame(rows: pd.DataFrame, reason) -> pd.DataFrame:
    """Input columns (when known) plus ``reason``."""
    out = rows.copy()
    out.attrs.clear()
    out["reason"] = reason
    return out.reset_index(drop=True)


class SideOutput(Node):
    """A stream of rows set aside by ``parent`` (late rows, error rows)."""

    kind = "side"

    def __init__(self, parent: Node, what: str):
        super().__init__(None, time_meta=parent.time_meta, stream_name=f"{parent.label()}.{what}")
        self.parent = parent
        self.what = what
        self.recent: list[pd.DataFrame] = []
        self.max_recent_rows = 1000

    def push(self, df: pd.DataFrame) -> None:
        """Emit a frame of set-aside rows (and keep a bounded ledger for inspection)."""
        self.counters.rows_in += len(df)
        self.counters.rows_out += len(df)
        self._remember(df)
        self._emit(df)

    def update(self, x, who=None, metadata=None):  # errors of upstream operators flow in here
        self.push(x)

    def _remember(self, df: pd.DataFrame) -> None:
        """Keep the last ``max_recent_rows`` rows, as copies of those rows only: a ledger frame never
        pins the batch it was cut from (its other rows, its marks)."""
        if not len(df) or self.max_recent_rows <= 0:
            return
        if len(df) > self.max_recent_rows:
            df = df.iloc[len(df) - self.max_recent_rows:]
        df = df.copy()  # the rows alone (a slice or a frame with attrs may hold a whole batch)
        df.attrs.clear()
        self.recent.append(df)
        total = sum(len(f) for f in self.recent)
        while self.recent and total - len(self.recent[0]) >= self.max_recent_rows:
            total -= len(self.recent.pop(0))
        extra = total - self.max_recent_rows
        if extra > 0:
            self.recent[0] = self.recent[0].iloc[extra:].copy()

    def ledger(self, limit: int = 100) -> pd.DataFrame:
        """The most recent rows (bounded)."""
        if not self.recent:
            return pd.DataFrame()
        return pd.concat(self.recent, ignore_index=True).tail(limit).reset_index(drop=True)

    def reset_state(self) -> None:
        super().reset_state()
        self.recent = []

    def label(self) -> str:
        return self.name

    def empty_output(self) -> pd.DataFrame:
        """A zero-row frame with this side output's columns (the parent's input plus its own)."""
        assert self.parent is not None
        return pd.DataFrame(columns=self.parent.side_columns(self.what))
