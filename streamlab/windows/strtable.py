"""The compiled table of string keys (``_strtable.c``), used by ``windows.keys`` when it was built.

``StrTable`` maps UTF-8 strings to key ids in C, so a batch of Python ``str`` objects or of Arrow
strings is looked up in one loop with no Python call per row. ``hatch_build.py`` compiles it at
install (``core.native``); without a compiler (or with ``STREAMLAB_PURE_PYTHON=1``) ``ENABLED``
is False and the key columns take their pure-Python paths, which give the same ids.
"""

from __future__ import annotations

import os

import numpy as np

from ..core.native import load
from .objectkeys import addresses

StrTable = load("streamlab.windows._strtable", "StrTable")  # None: the pure-Python paths
ENABLED = StrTable is not None

#: A batch of this many rows or more is looked up on two threads (the C loops run without the
#: GIL). Below it, starting a thread costs more than it saves (benchmarks/RESULTS.md).
PARALLEL_ROWS = 50_000
#: Threads for such a batch: two when this process may run on two cores or more.
THREADS = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _threads(rows: int) -> int:
    """Threads for a lookup of ``rows`` rows."""
    return THREADS if rows >= PARALLEL_ROWS else 1


def new_table():
    """An empty table with a random seed, or None when the extension is not in use."""
    if not ENABLED:
        return None
    return StrTable(seed=int.from_bytes(os.urandom(8), "little"))


def learn(table, values: np.ndarray, ids: np.ndarray) -> None:
    """Add the ``str`` among ``values`` (an object array) with their ``ids``; others are skipped.

    >>> t = new_table()
    >>> t is None or (learn(t, np.array(["a", None], dtype=object), np.array([0, 1])), len(t))[1] == 1
    True
    """
    table.learn(values.tolist(), np.ascontiguousarray(ids, dtype="int64"))


def lookup_objects(table, values: np.ndarray) -> tuple[np.ndarray, int]:
    """Ids of an object array's rows, and how many rows were not found (their id is -1: not a
    ``str``, or not known).

    >>> t = new_table()
    >>> t is None or (learn(t, np.array(["a"], dtype=object), np.array([7])),
    ...               lookup_objects(t, np.array(["a", "b", 1], dtype=object))[0].tolist())[1] == [7, -1, -1]
    True
    """
    values = np.ascontiguousarray(values)
    ids = np.empty(len(values), dtype="int64")
    return ids, table.lookup_objects(addresses(values), ids, _threads(len(values)))


def number_objects(values: np.ndarray) -> np.ndarray:
    """The distinct ``str`` among an object array's rows numbered 0, 1, 2 ... in order of first
    appearance (in a scratch table); rows that are not a ``str`` get -1.

    >>> rows = np.array(["b", "a", None, "b", 3], dtype=object)
    >>> ENABLED is False or number_objects(rows).tolist() == [0, 1, -1, 0, -1]
    True
    """
    values = np.ascontiguousarray(values)
    out = np.empty(len(values), dtype="int64")
    new_table().number_objects(addresses(values), out)
    return out


def lookup_arrow(table, arr) -> tuple[np.ndarray, int] | None:
    """Ids of an Arrow ``string`` or ``large_string`` array's rows (NULL rows get any id: the
    caller sets them), and how many were not found; None for other Arrow types. A batch of
    ``PARALLEL_ROWS`` rows or more is split over ``THREADS`` threads, with the same result."""
    import pyarrow as pa

    if pa.types.is_string(arr.type):
        wide = False
    elif pa.types.is_large_string(arr.type):
        wide = True
    else:
        return None
    ids = np.empty(len(arr), dtype="int64")
    if not len(arr):
        return ids, 0
    _, offsets, data = arr.buffers()
    misses = table.lookup_utf8(offsets, data if data is not None else b"", arr.offset, ids, wide, _threads(len(arr)))
    return ids, misses
