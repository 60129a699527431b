"""Group keys: factorised once into stable integer ids, so state is indexed by ints."""

from __future__ import annotations

import numpy as np
import pandas as pd


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
        self._index: list[pd.Index | None] = [None for _ in self.by]
        self._value_set: list = [None for _ in self.by]
        self._combo: dict[tuple, int] = {}
        self._combo_parts: list[tuple] = []

    def __len__(self) -> int:
        if not self.by:
            return 1
        if len(self.by) > 1:
            return len(self._combo_parts)
        return 0 if self._index[0] is None else len(self._index[0])

    def _encode_column(self, i: int, col: pd.Series) -> np.ndarray:
        fast = self._encode_arrow(i, col)
        if fast is not None:
            return fast
        codes, uniques = pd.factorize(col, use_na_sentinel=False)
        index = self._index[i]
        if index is None:
            self._index[i] = pd.Index(uniques, tupleize_cols=False)
            mapped = np.arange(len(uniques), dtype="int64")
        else:
            mapped = index.get_indexer(uniques).astype("int64")
            new = mapped < 0
            if new.any():
                mapped[new] = np.arange(len(index), len(index) + int(new.sum()))
                self._index[i] = index.append(pd.Index(uniques[new], tupleize_cols=False))
        if self._index[i] is not index or index is None:
            self._value_set[i] = None
        return mapped[codes] if len(codes) else np.zeros(0, dtype="int64")

    def _encode_arrow(self, i: int, col: pd.Series) -> np.ndarray | None:
        """Fast path for Arrow-backed strings: look every row up in the known keys in one pass."""
        index = self._index[i]
        if index is None or not hasattr(col.array, "__arrow_array__"):
            return None
        import pyarrow as pa
        import pyarrow.compute as pc

        if self._value_set[i] is None:
            if index.hasnans or index.dtype.kind not in "OUT" and str(index.dtype) not in ("str", "string"):
                return None
            try:
                arr_type = col.array.__arrow_array__().type
                if not (pa.types.is_string(arr_type) or pa.types.is_large_string(arr_type)):
                    return None
                self._value_set[i] = pa.array(index.to_numpy(dtype=object), type=arr_type)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                return None
        try:
            arr = col.array.__arrow_array__()
            value_set = self._value_set[i]
            if arr.type != value_set.type:
                arr = arr.cast(value_set.type)
            found = pc.index_in(arr, value_set=value_set)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return None
        if found.null_count:
            return None  # a new or missing key: take the general path (which extends the index)
        return found.to_numpy().astype("int64", copy=False)

    def encode(self, df, n: int | None = None) -> np.ndarray:
        """Global key ids for each row of ``df`` (a DataFrame or a dict of columns with ``n`` rows)."""
        n = len(df) if n is None else n
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
            index = self._index[i]
            if index is None:
                raise ValueError(f"KeyIndex.decode: no values of key column {col!r} have been encoded yet")
            out[col] = pd.Series(index.take(per_col[i]), name=col)
        return out

    # --- checkpoints ----------------------------------------------------------------------
    def export(self) -> dict:
        """Known key values and ids as plain Python (checkpoints); ``load`` restores the same ids."""
        return {
            "by": list(self.by),
            "columns": [None if ix is None else {"dtype": str(ix.dtype), "values": ix.tolist()}
                        for ix in self._index],
            "combos": [list(parts) for parts in self._combo_parts],
        }

    def load(self, state: dict) -> None:
        """Restore what ``export`` wrote (the same ``by`` columns are required).

        >>> ki = KeyIndex(["k"]); _ = ki.encode(pd.DataFrame({"k": ["b", "a"]}))
        >>> again = KeyIndex(["k"]); again.load(ki.export())
        >>> again.encode(pd.DataFrame({"k": ["a", "c", "b"]})).tolist()
        [1, 2, 0]
        """
        if list(state["by"]) != self.by:
            raise ValueError(f"group keys differ: checkpoint has by={state['by']}, this operator by={self.by}")
        self._index = [None if col is None else pd.Index(col["values"], dtype=pd.api.types.pandas_dtype(col["dtype"]),
                                                         tupleize_cols=False)
                       for col in state["columns"]]
        self._value_set = [None for _ in self.by]
        self._combo_parts = [tuple(int(v) for v in parts) for parts in state["combos"]]
        self._combo = {parts: gid for gid, parts in enumerate(self._combo_parts)}
