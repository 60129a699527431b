"""Sources: data at rest (frame, CSV, Parquet), streamz streams, demos and Kafka."""

from .base import Source
from .frame import from_csv, from_frame, from_parquet
from .streamz_source import from_streamz

__all__ = ["Source", "from_csv", "from_frame", "from_parquet", "from_streamz"]
