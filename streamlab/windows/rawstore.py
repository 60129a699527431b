"""Raw rows kept for holistic aggregates (median, callables): bounded by open windows, not by history."""

from __future__ import annotations

import numpy as np

#: Key of the rows' event times (ms) next to the values a window's raw rows are handed out with.
RAW_TS = "\x00ts"


class RawStore:
    """Columns of (key id, event ms, values...) for rows inside still-open windows.

    >>> rs = RawStore(["v"])
    >>> rs.append(np.array([0, 1]), np.array([5, 7]), {"v": np.array([1.0, 2.0])})
    >>> rs.select(lambda k, t: t >= 6)[2]["v"].tolist()
    [2.0]
    """

    def __init__(self, columns: list[str]):
        self.columns = list(columns)
        self._chunks: list[tuple] = []
        self._key = np.zeros(0, dtype="int64")
        self._ts = np.zeros(0, dtype="int64")
        self._vals: dict[str, np.ndarray] = {c: np.zeros(0) for c in self.columns}

    def __len__(self) -> int:
        self._consolidate()
        return len(self._key)

    def append(self, key: np.ndarray, ts: np.ndarray, values: dict[str, np.ndarray]) -> None:
        if len(key):
            self._chunks.append((key, ts, {c: values[c] for c in self.columns}))

    def _consolidate(self) -> None:
        if not self._chunks:
            return
        keys = [self._key] + [c[0] for c in self._chunks]
        tss = [self._ts] + [c[1] for c in self._chunks]
        self._key = np.concatenate(keys)
        self._ts = np.concatenate(tss)
        for col in self.columns:
            parts = [self._vals[col]] + [c[2][col] for c in self._chunks]
            if any(p.dtype == object for p in parts):
                parts = [p.astype(object) for p in parts]
            self._vals[col] = np.concatenate(parts)
        self._chunks = []

    def select(self, predicate) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Rows where ``predicate(key, ts)`` is true, as (keys, ts, values)."""
        self._consolidate()
        mask = predicate(self._key, self._ts)
        return self._key[mask], self._ts[mask], {c: v[mask] for c, v in self._vals.items()}

    def drop(self, predicate) -> None:
        """Forget rows where ``predicate(key, ts)`` is true."""
        self._consolidate()
        keep = ~predicate(self._key, self._ts)
        self._key, self._ts = self._key[keep], self._ts[keep]
        self._vals = {c: v[keep] for c, v in self._vals.items()}

    def keys(self) -> np.ndarray:
        """Key ids of the rows held."""
        self._consolidate()
        return self._key

    def remap_keys(self, remap: np.ndarray) -> None:
        """Renumber key ids (``remap[old] = new``; every key held must be kept)."""
        self._consolidate()
        self._key = remap[self._key]
