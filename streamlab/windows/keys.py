"""Group keys: factorised once into stable integer ids, so state is indexed by ints."""

from __future__ import annotations

import numpy as np
import pandas as pd


class _NA:
    """Stand-in for a missing key value (NaN is not equal to itself, so it cannot be a dict key)."""

    def __repr__(self) -> str:
        return "NA"


NA = _NA()


class KeyIndex:
    """Maps group-key values (one or several columns, or none) to dense ids 0, 1, 2, ...

    >>> ki = KeyIndex(["k"])
    >>> ki.encode(pd.DataFrame({"k": ["b", "a", "b"]})).tolist()
    [0, 1, 0]
    >>> ki.decode(np.array([1, 0]))["k"].tolist()
    ['a', 'b']
    """

    def __init__(self, by: list[str]):
        self.by = list(by)
        self._col_ids: list[dict] = [{} for _ in self.by]
        self._col_values: list[list] = [[] for _ in self.by]
        self._col_dtypes: list = [None for _ in self.by]
        self._combo: dict[tuple, int] = {}
        self._combo_parts: list[tuple] = []

    def __len__(self) -> int:
        return len(self._combo_parts) if len(self.by) > 1 else (len(self._col_values[0]) if self.by else 1)

    def _encode_column(self, i: int, col: pd.Series) -> np.ndarray:
        if self._col_dtypes[i] is None:
            self._col_dtypes[i] = col.dtype
        codes, uniques = pd.factorize(col, use_na_sentinel=False)
        ids = self._col_ids[i]
        values = self._col_values[i]
        mapped = np.empty(len(uniques), dtype="int64")
        for j, u in enumerate(uniques):
            token = NA if (u is None or (not isinstance(u, str) and pd.isna(u))) else u
            gid = ids.get(token)
            if gid is None:
                gid = ids[token] = len(values)
                values.append(None if token is NA else u)
            mapped[j] = gid
        return mapped[codes] if len(codes) else np.zeros(0, dtype="int64")

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        """Global key ids for each row of ``df``."""
        n = len(df)
        if not self.by:
            return np.zeros(n, dtype="int64")
        per_col = [self._encode_column(i, df[c]) for i, c in enumerate(self.by)]
        if len(self.by) == 1:
            return per_col[0]
        stacked = np.stack(per_col, axis=1)
        uniq, inverse = np.unique(stacked, axis=0, return_inverse=True)
        mapped = np.empty(len(uniq), dtype="int64")
        for j, row in enumerate(map(tuple, uniq.tolist())):
            gid = self._combo.get(row)
            if gid is None:
                gid = self._combo[row] = len(self._combo_parts)
                self._combo_parts.append(row)
            mapped[j] = gid
        return mapped[inverse.reshape(-1)]

    def decode(self, ids: np.ndarray) -> dict[str, pd.Series]:
        """Key columns (with their input dtypes) for the given ids."""
        out: dict[str, pd.Series] = {}
        if not self.by:
            return out
        if len(self.by) == 1:
            per_col = [ids]
        else:
            parts = np.array(self._combo_parts, dtype="int64").reshape(-1, len(self.by))
            per_col = [parts[ids, i] for i in range(len(self.by))]
        for i, col in enumerate(self.by):
            values = np.empty(len(self._col_values[i]), dtype=object)
            values[:] = self._col_values[i]
            series = pd.Series(values[per_col[i]], name=col)
            dtype = self._col_dtypes[i]
            if dtype is not None:
                try:
                    series = series.astype(dtype)
                except (TypeError, ValueError):
                    pass
            out[col] = series
        return out

    def values(self, gid: int) -> tuple:
        """The key values of one id, as a tuple (empty without ``by``)."""
        cols = self.decode(np.array([gid], dtype="int64"))
        return tuple(cols[c].iloc[0] for c in self.by)

    def text(self, gid: int) -> str:
        """A short text for one key (for inspectors and panels)."""
        vals = self.values(gid)
        return ", ".join(str(v) for v in vals) if vals else "(all)"
