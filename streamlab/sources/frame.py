"""Sources over data at rest: ``from_frame``, ``from_csv`` and ``from_parquet``."""

from __future__ import annotations

import os

import pandas as pd

from ..core.batchcheck import check_build
from ..core.timecol import TimeMeta
from .base import Source


def _check_time(columns, time, what):
    if not isinstance(time, str):
        raise TypeError(f"time= must be the name of the event-time column, got {time!r}")
    if columns is not None and time not in columns:
        raise ValueError(f"time={time!r} is not a column of {what}; columns are: {', '.join(map(str, columns))}")


class FrameSource(Source):
    """Replays a DataFrame in arrival (row) order, ``batch_size`` rows at a time."""

    def __init__(self, df: pd.DataFrame, *, time, unit=None, batch_size=10_000, speed=None, name="frame"):
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"from_frame(df) takes a pandas DataFrame, got {type(df).__name__}")
        _check_time(list(df.columns), time, "the frame")
        check_build(list(df.columns), dict(zip(df.columns, df.dtypes)), TimeMeta(time, unit))
        super().__init__(time=time, unit=unit, columns=list(df.columns), batch_size=batch_size,
                         speed=speed, name=name)
        self.df = df.reset_index(drop=True)

    def _batches(self):
        for i in range(0, len(self.df), self.batch_size):
            yield self.df.iloc[i:i + self.batch_size]


class CsvSource(Source):
    """Reads a CSV file in chunks; the time column is parsed as datetimes unless ``unit`` is given."""

    def __init__(self, path, *, time, unit=None, batch_size=10_000, speed=None, name=None, **read_kwargs):
        if not os.path.exists(path):
            raise FileNotFoundError(f"from_csv: no such file {path!r}")
        head = pd.read_csv(path, nrows=100, **read_kwargs)
        columns = list(head.columns)
        _check_time(columns, time, f"{path!r}")
        check_build(columns, dict(zip(head.columns, head.dtypes)) if len(head) else None, TimeMeta(time, unit))
        super().__init__(time=time, unit=unit, columns=columns, batch_size=batch_size, speed=speed,
                         name=name or f"csv:{os.path.basename(path)}")
        self.path = path
        self.read_kwargs = read_kwargs

    def _batches(self):
        col = self.meta.column
        dtype = {col: str} if self.meta.unit is None else None
        with pd.read_csv(self.path, chunksize=self.batch_size, dtype=dtype, **self.read_kwargs) as reader:
            for chunk in reader:
                if self.meta.unit is None:
                    parsed = pd.to_datetime(chunk[col], errors="coerce", utc=True, format="ISO8601")
                    bad = parsed.isna() & chunk[col].notna()
                    if bad.any():
                        self.send_errors(chunk[bad], [f"time column {col!r} is unparseable: {v!r}" for v in chunk[col][bad]])
                        chunk, parsed = chunk[~bad], parsed[~bad]
                    chunk = chunk.assign(**{col: parsed})
                yield chunk


class ParquetSource(Source):
    """Reads a Parquet file batch by batch (pyarrow)."""

    def __init__(self, path, *, time, unit=None, batch_size=10_000, speed=None, name=None):
        import pyarrow.parquet as pq

        if not os.path.exists(path):
            raise FileNotFoundError(f"from_parquet: no such file {path!r}")
        self._file = pq.ParquetFile(path)
        schema = self._file.schema_arrow
        columns = list(schema.names)
        _check_time(columns, time, f"{path!r}")
        dtypes = {f.name: pd.api.types.pandas_dtype(f.type.to_pandas_dtype()) for f in schema if f.name == time}
        check_build(columns, dtypes, TimeMeta(time, unit))
        super().__init__(time=time, unit=unit, columns=columns, batch_size=batch_size, speed=speed,
                         name=name or f"parquet:{os.path.basename(path)}")
        self.path = path

    def _batches(self):
        for batch in self._file.iter_batches(batch_size=self.batch_size):
            yield batch.to_pandas()


def from_frame(df, time="ts", unit=None, batch_size=10_000, speed=None, name="frame") -> FrameSource:
    """Stream a DataFrame in row order as micro-batches.

    ``unit`` is None for datetime times, else "s", "ms", "us" or "ns". ``speed=None`` replays as fast
    as possible; ``speed=10`` replays event time at 10x real time on the running loop.

    >>> import pandas as pd
    >>> src = from_frame(pd.DataFrame({"ts": [1, 2, 3]}), time="ts", unit="s", batch_size=2)
    >>> [len(b) for b in src._batches()]
    [2, 1]
    """
    return FrameSource(df, time=time, unit=unit, batch_size=batch_size, speed=speed, name=name)


def from_csv(path, time="ts", unit=None, batch_size=10_000, speed=None, name=None, **read_kwargs) -> CsvSource:
    """Stream a CSV file in chunks (see ``from_frame`` for the parameters)."""
    return CsvSource(path, time=time, unit=unit, batch_size=batch_size, speed=speed, name=name, **read_kwargs)


def from_parquet(path, time="ts", unit=None, batch_size=10_000, speed=None, name=None) -> ParquetSource:
    """Stream a Parquet file batch by batch (see ``from_frame`` for the parameters)."""
    return ParquetSource(path, time=time, unit=unit, batch_size=batch_size, speed=speed, name=name)
