"""Fast paths for key columns of Python objects (``object`` dtype), used by ``windows.keys``.

Hashing a column's objects one by one costs a C call per row. Two paths avoid it:

- ``AddressCache``: rows that share a few string objects (``read_csv(dtype=object)``, a
  ``names[idx]`` array, rows built from the same Python constants) are looked up by the objects'
  addresses in one int64 table, without touching the objects;
- ``joined_strings``: rows that are each their own ``str`` (``astype(object)``, JSON) are copied
  into one Arrow string array by a single C join, and looked up as Arrow strings.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import numpy as np
from pandas._libs import hashtable as _ht

SEP = "\x00"  # ends each string of an object column joined into one Arrow array
MIN_ROWS = 64  # rows below which hashing the objects one by one is cheaper than either path


def addresses(values: np.ndarray) -> np.ndarray:
    """The addresses of the objects in a contiguous object array, read from the array's pointers
    (no object is touched). The result is a view: use it while ``values`` lives.

    >>> v = np.array(["a", None], dtype=object)
    >>> addresses(v).tolist() == [id(v[0]), id(None)]
    True
    """
    buf = (ctypes.c_int64 * len(values)).from_address(values.ctypes.data)
    return np.ctypeslib.as_array(buf)


class AddressCache:
    """Key ids of the string objects (up to ``LONGEST`` characters, and None) seen lately, by address.

    The cache holds a reference to every object it has an address of, so no other object can take
    that address while it is cached. Strings cannot change, so an address keeps its key. A batch
    whose rows are mostly their own objects is not learned, and the cache pauses for ``PAUSE``
    batches, so such columns pay one int64 lookup every ``PAUSE + 1`` batches.

    >>> cache, names = AddressCache(), np.array(["x", "y"], dtype=object)
    >>> hashed = lambda v: np.array([{"x": 0, "y": 1}[s] for s in v], dtype="int64")
    >>> cache.ids_of(names[[0, 1, 0, 0, 1, 0]], hashed).tolist()
    [0, 1, 0, 0, 1, 0]
    >>> cache.ids_of(names[[1, 1, 0]], lambda v: 1 / 0).tolist()  # every row found by address
    [1, 1, 0]
    """

    LIMIT = 1 << 16  # objects cached at most; then the cache starts over
    LONGEST = 256  # longer strings are not cached (the cache holds at most ~20 MB)
    PAUSE = 32  # batches skipped after one whose rows were mostly their own objects

    __slots__ = ("table", "kept", "pause")

    def __init__(self) -> None:
        self.table = _ht.Int64HashTable(1024)  # address -> key id
        self.kept: list = []  # the cached objects, alive while cached
        self.pause = 0

    def ids_of(self, values: np.ndarray, hashed: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Key ids of ``values`` (an object array); ``hashed`` gives the ids of rows not cached."""
        if self.pause:
            self.pause -= 1
            return hashed(values)
        values = np.ascontiguousarray(values)
        ids = self.table.lookup(addresses(values))
        miss = ids < 0
        if not miss.any():
            return ids
        missed = values[miss]
        ids[miss] = hashed(missed)
        self._learn(missed, ids[miss], len(values))
        return ids

    def _learn(self, missed: np.ndarray, ids: np.ndarray, rows: int) -> None:
        where = addresses(missed)
        distinct = _ht.Int64Factorizer(max(len(where), 1))
        labels = distinct.factorize(where)
        if distinct.count * 2 > len(where) and len(where) * 4 > rows:
            self.pause = self.PAUSE  # most rows are their own objects: caching them would not pay
            return
        pick = np.empty(distinct.count, dtype="int64")
        pick[labels] = np.arange(len(where))  # a row of each object
        objects = missed[pick]
        cacheable = np.fromiter(((type(o) is str and len(o) <= self.LONGEST) or o is None for o in objects),
                                dtype=bool, count=len(objects))
        if len(self.kept) + len(pick) > self.LIMIT:
            self.table, self.kept = _ht.Int64HashTable(1024), []
        self.table.map_keys_to_values(where[pick][cacheable], ids[pick][cacheable])
        self.kept.extend(objects[cacheable].tolist())


def joined_strings(values: np.ndarray):
    """Python ``str`` objects as one Arrow string array, each string followed by ``SEP``; None when
    a value is not a ``str``, cannot be UTF-8, or holds the separator itself.

    >>> joined_strings(np.array(["a", "bc"], dtype=object)).to_pylist()
    ['a\\x00', 'bc\\x00']
    >>> joined_strings(np.array(["a", None], dtype=object)) is None
    True
    """
    import pyarrow as pa

    try:
        data = (SEP.join(values.tolist()) + SEP).encode("utf-8")
    except (TypeError, UnicodeEncodeError):
        return None
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0)
    if len(ends) != len(values):
        return None
    large = len(data) >= 2**31
    offsets = np.empty(len(values) + 1, dtype="int64" if large else "int32")
    offsets[0] = 0
    offsets[1:] = ends + 1
    kind = pa.LargeStringArray if large else pa.StringArray
    return kind.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(data))
