"""File sinks: ``res.to_parquet(path)``.

A path ending in ``.parquet`` becomes one file, written batch by batch with a pyarrow
``ParquetWriter`` into ``<path>.inprogress`` and moved into place when the input ends
(``flush()``). Any other path is a directory of part files (``part-00000.parquet`` ...), one per
batch, each written atomically; this is the mode to use with checkpoints. Each part records in
its Parquet metadata which sink wrote it and after which checkpoint (``streamlab.sink``,
``streamlab.epoch``, ``streamlab.part``). Restoring removes only the parts this sink wrote after
the checkpoint, so the directory holds every row exactly once; if any other file stands where the
checkpoint says the output ends, or a part before it is missing, restore refuses and touches
nothing. A single file cannot resume after rows were written: restore refuses it.

>>> import tempfile, os, pandas as pd, streamlab as sl
>>> df = pd.DataFrame({"ts": [0, 1500, 2500], "v": [1.0, 2.0, 3.0]})
>>> out = os.path.join(tempfile.mkdtemp(), "windows.parquet")
>>> res = sl.from_frame(df, time="ts", unit="ms").window(sl.Tumble(1000)).agg(s=("v", "sum"))
>>> _ = res.to_parquet(out); _ = res.collect()
>>> pd.read_parquet(out)["s"].tolist()
[1.0, 2.0, 3.0]
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any

import pandas as pd
from streamz.sinks import _global_sinks

from .core.node import Node
from .core.snapshot import OperatorSnapshot

_PART = re.compile(r"part-(\d+)\.parquet$")


def _table(df: pd.DataFrame):
    import pyarrow as pa

    plain = df.copy(deep=False)
    plain.attrs = {}
    return pa.Table.from_pandas(plain, preserve_index=False)


class SinkNode(Node):
    """Base of streamlab sinks: kept alive like streamz's own sinks (downstreams are weak refs)."""

    kind = "sink"

    def __init__(self, upstream, **kwargs):
        columns = list(upstream.columns) if isinstance(upstream, Node) and upstream.columns is not None else None
        super().__init__(upstream, columns=columns, **kwargs)
        _global_sinks.add(self)

    def destroy(self, streams=None):
        super().destroy(streams)
        _global_sinks.discard(self)


class ParquetSink(SinkNode):
    """Writes every emitted batch to Parquet; rows pass through unchanged."""

    def __init__(self, upstream, path, *, single_file=None, compression="snappy"):
        super().__init__(upstream)
        self.path = os.fspath(path)
        self.single_file = self.path.endswith(".parquet") if single_file is None else bool(single_file)
        self.compression = compression
        self._writer = None
        self.files = 0
        self.rows_written = 0
        self.next_part = self.first_part = self._first_free_part()
        self.lineage = uuid.uuid4().hex  # names this sink's parts, across restores
        self.epoch = 0  # parts written now belong after checkpoint epoch - 1
        self._stale: list[str] = []  # parts written after the restored checkpoint (removed once it stands)

    def label(self) -> str:
        return f"to_parquet({os.path.basename(self.path) or self.path})"

    def _first_free_part(self) -> int:
        if self.single_file or not os.path.isdir(self.path):
            return 0
        numbers = [int(m.group(1)) for m in map(_PART.match, os.listdir(self.path)) if m]
        return max(numbers, default=-1) + 1

    def on_batch(self, df: pd.DataFrame, port: int = 0, marks=None) -> pd.DataFrame:
        if not len(df):
            return df
        import pyarrow.parquet as pq

        table = _table(df)
        if self.single_file:
            if self._writer is None:
                os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
                self._writer = pq.ParquetWriter(self.path + ".inprogress", table.schema,
                                                compression=self.compression)
            elif table.schema != self._writer.schema:
                table = table.cast(self._writer.schema)
            self._writer.write_table(table)
        else:
            os.makedirs(self.path, exist_ok=True)
            name = os.path.join(self.path, f"part-{self.next_part:05d}.parquet")
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **_marks(
                self.lineage, self.epoch, self.next_part)})
            pq.write_table(table, name + ".tmp", compression=self.compression)
            os.replace(name + ".tmp", name)
            self.next_part += 1
            self.files += 1
        self.rows_written += len(df)
        return df

    def on_flush(self) -> None:
        """End of input: close the single file and move it into place."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            os.replace(self.path + ".inprogress", self.path)
            self.files += 1

    def reset_state(self) -> None:
        super().reset_state()
        self._stale = []
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # --- checkpoints ----------------------------------------------------------------------
    state_version = 2

    def save_state(self) -> dict:
        return {"single_file": self.single_file, "next_part": self.next_part, "first_part": self.first_part,
                "files": self.files, "rows_written": self.rows_written, "lineage": self.lineage,
                "epoch": self.epoch}

    def load_state(self, state: dict) -> None:
        """Check ``state`` against the output on disk, then take it; no file is touched here.

        The parts this sink wrote after the checkpoint are removed by ``on_checkpoint`` (a restore
        calls it once every operator has loaded). Any other file where the checkpoint says the
        output ends, or a missing part before it, is a ValueError.
        """
        st = _checked_state(state)
        if st["single_file"] != self.single_file:
            raise ValueError(f"{self.label()}: the checkpoint wrote {'one file' if st['single_file'] else 'parts'}, "
                             f"this sink writes {'one file' if self.single_file else 'parts'}")
        stale: list[str] = []
        if self.single_file and st["rows_written"] and (st["lineage"], st["rows_written"]) != (
                self.lineage, self.rows_written):
            raise ValueError(f"{self.label()}: a single Parquet file cannot resume after {st['rows_written']} rows; "
                             "write to a directory of part files (a path not ending in .parquet)")
        if not self.single_file:
            stale = _stale_parts(self.path, st)
        self.next_part, self.first_part, self.files = st["next_part"], st["first_part"], st["files"]
        self.rows_written, self.lineage, self.epoch = st["rows_written"], st["lineage"], st["epoch"]
        self._stale = stale

    def on_checkpoint(self, state: dict) -> None:
        """Parts written from now on belong after this checkpoint; after a restore, remove those
        this sink wrote after it (each checked again first)."""
        self.epoch = int(state["epoch"]) + 1
        stale, self._stale = self._stale, []
        for name in stale:
            path = os.path.join(self.path, name)
            if not _ours_after(path, self.lineage, _number(name), self.epoch - 1):
                raise ValueError(f"{self.label()}: {name} changed since the restore checked it; it was kept")
            os.remove(path)

    def snapshot_node(self, limit=50) -> OperatorSnapshot:
        snap = super().snapshot_node(limit)
        snap["state"] = {"path": self.path, "single_file": self.single_file, "files": self.files,
                         "rows_written": self.rows_written}
        return snap


_STATE: dict[str, type] = {"single_file": bool, "next_part": int, "first_part": int, "files": int,
                           "rows_written": int, "lineage": str, "epoch": int}


def _number(name: str) -> int:
    m = _PART.match(name)
    return int(m.group(1)) if m else -1


def _checked_state(state: Any) -> dict:
    """The sink's checkpoint state if every field has its type and range, else ValueError naming it."""
    if not isinstance(state, dict) or set(state) != set(_STATE):
        raise ValueError(f"Parquet sink state: expected the fields {', '.join(_STATE)}, got {state!r:.120}")
    for field, kind in _STATE.items():
        v = state[field]
        negative = isinstance(v, int) and v < 0
        if type(v) is not kind or negative:
            raise ValueError(f"Parquet sink state field {field}: expected "
                             f"{'a non-negative integer' if kind is int else kind.__name__}, got {v!r:.60}")
    if state["first_part"] > state["next_part"] or not re.fullmatch(r"[0-9a-f]{32}", state["lineage"]):
        raise ValueError(f"Parquet sink state: first_part {state['first_part']} after next_part "
                         f"{state['next_part']}, or a malformed lineage {state['lineage']!r:.60}")
    return state


_MARKS = (b"streamlab.sink", b"streamlab.part", b"streamlab.epoch")


def _marks(lineage: str, epoch: int, part: int) -> dict:
    """The Parquet metadata naming a part: its sink, its number and the epoch it was written in."""
    return dict(zip(_MARKS, (lineage.encode(), str(part).encode(), str(epoch).encode())))


def _mark(path: str) -> tuple[str, int, int] | None:
    """(sink lineage, part number, epoch) a part file records in its metadata; None if it records none."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception:  # noqa: BLE001 - not a readable Parquet file: not one of ours
        return None
    sink, part, epoch = (meta.get(k, b"").decode("latin-1") for k in _MARKS)
    return (sink, int(part), int(epoch)) if sink and part.isdigit() and epoch.isdigit() else None


def _ours_after(path: str, lineage: str, number: int, epoch: int) -> bool:
    """Whether ``path`` is part ``number`` written by sink ``lineage`` after checkpoint epoch ``epoch``."""
    mark = _mark(path)
    return mark is not None and mark[:2] == (lineage, number) and mark[2] > epoch


def _stale_parts(directory: str, st: dict) -> list[str]:
    """The parts this sink wrote after the checkpoint ``st``; ValueError (nothing touched) if the
    directory does not match it."""
    names = {}
    if os.path.isdir(directory):
        names = {int(m.group(1)): n for n in os.listdir(directory) if (m := _PART.match(n))}
    for number in range(st["first_part"], st["next_part"]):
        if number not in names:
            raise ValueError(f"the output {directory!r} does not match the checkpoint: part-{number:05d}.parquet, "
                             "written before it, is missing; nothing was deleted")
    stale = []
    for number, name in sorted(names.items()):
        if number < st["next_part"]:
            continue
        path = os.path.join(directory, name)
        if not _ours_after(path, st["lineage"], number, st["epoch"]):
            raise ValueError(f"the output {directory!r} does not match the checkpoint: {name} was not written by "
                             f"this sink after it (the checkpoint says the output ends before "
                             f"part-{st['next_part']:05d}); nothing was deleted")
        stale.append(name)
    return stale


def to_parquet(stream, path, single_file=None, compression="snappy") -> ParquetSink:
    """Write every batch ``stream`` emits to Parquet (one file for ``*.parquet``, else part files)."""
    return ParquetSink(stream, path, single_file=single_file, compression=compression)


@Node.register_api(attribute_name="to_parquet")
def _to_parquet(self, path, **options):
    """Write every emitted batch to a Parquet file (or a directory of part files)."""
    return to_parquet(self, path, **options)
