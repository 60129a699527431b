"""File sinks: ``res.to_parquet(path)``.

A path ending in ``.parquet`` becomes one file, written batch by batch with a pyarrow
``ParquetWriter`` into ``<path>.inprogress`` and moved into place when the input ends
(``flush()``). Any other path is a directory of part files (``part-00000.parquet`` ...), one per
batch, each written atomically; this is the mode to use with checkpoints: restoring deletes the
parts written after the checkpoint, so the directory holds every row exactly once.

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

import pandas as pd
from streamz.sinks import _global_sinks

from .core.node import Node

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
        self.next_part = self._first_free_part()

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
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # --- checkpoints ----------------------------------------------------------------------
    def save_state(self) -> dict:
        return {"next_part": self.next_part, "single_file": self.single_file}

    def load_state(self, state: dict) -> None:
        """Parts mode: delete the parts written after the checkpoint, then continue after it."""
        if self.single_file:
            return
        self.next_part = int(state["next_part"])
        if os.path.isdir(self.path):
            for name in os.listdir(self.path):
                m = _PART.match(name)
                if m and int(m.group(1)) >= self.next_part:
                    os.remove(os.path.join(self.path, name))

    def snapshot_node(self, limit=50) -> dict:
        snap = super().snapshot_node(limit)
        snap["state"] = {"path": self.path, "single_file": self.single_file, "files": self.files,
                         "rows_written": self.rows_written}
        return snap


def to_parquet(stream, path, single_file=None, compression="snappy") -> ParquetSink:
    """Write every batch ``stream`` emits to Parquet (one file for ``*.parquet``, else part files)."""
    return ParquetSink(stream, path, single_file=single_file, compression=compression)


@Node.register_api(attribute_name="to_parquet")
def _to_parquet(self, path, **options):
    """Write every emitted batch to a Parquet file (or a directory of part files)."""
    return to_parquet(self, path, **options)
