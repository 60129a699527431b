"""Group keys: factorised into dense integer ids kept across batches, so state is indexed by ints.

One path for every key dtype. Each key column has a persistent hash table (pandas' incremental
factorizer) from values to column ids, which numbers every new key:

- with the compiled string table (``strtable``, built at install), Arrow strings (pandas ``str``)
  and the ``str`` rows of ``object`` columns are looked up in one C loop; only rows not found
  (new keys, NULLs, numbers) go through the factorizer, which teaches the table its new strings;
- without it, Arrow strings are looked up in one Arrow pass in the strings already known, and in
  ``object`` columns (``objectkeys``) rows sharing a few string objects are found by address, rows
  that are each their own ``str`` are joined into one Arrow string array by a single C join (NULLs
  set apart) and looked up the same way, and other objects (numbers) are hashed one by one;
- ``category`` columns look up their categories once per categories object;
- integer columns hash their int64 values; anything else is hashed as Python objects.

A NULL key (None, NaN, NA, NaT) is one group of its own. Several columns combine their column ids
pairwise through int64 tables, so a batch never builds tuples per row. ``compact`` renumbers the
ids of the keys that are still live and forgets the others, so memory and per-batch cost follow
the live keys, not every key ever seen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas._libs import hashtable as _ht

from . import strtable
from .objectkeys import MIN_ROWS, SEP, AddressCache, joined_strings


class _Null:
    """The table entry standing for NULL keys (NaN, None, NA, NaT are one group)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL"


_NULL = _Null()


class _Column:
    """Values of one key column <-> dense column ids (in order of first appearance)."""

    __slots__ = ("kind", "table", "chunks", "count", "null_id", "dtype", "_cats", "_cat_ids", "_arrow", "_joined",
                 "_addresses", "_decoded", "_framed", "_native")

    def __init__(self, kind: str = "int"):
        self.kind = kind  # "int" (int64 table) or "object" (Python objects)
        self.table = _ht.Int64Factorizer(1024) if kind == "int" else _ht.ObjectFactorizer(1024)
        self.chunks: list[np.ndarray] = []  # values of ids 0, 1, 2 ... (None at the null id)
        self.count = 0
        self.null_id: int | None = None
        self.dtype = None  # the dtype decoded columns get
        self._cats: pd.Index | None = None  # last categories seen, and their ids
        self._cat_ids: np.ndarray | None = None
        self._arrow = _Strings("")  # strings known from Arrow string columns
        self._joined = _Strings(SEP)  # and from object columns (each with the separator after it)
        self._addresses = AddressCache()  # ids of shared string objects, by address
        self._decoded: pd.Series | None = None  # every value, in the decoded dtype (made on demand)
        self._framed: tuple = (None, None)  # (that Series, its values as an output frame holds them)
        self._native = None  # the compiled table of the str keys (strtable), made on demand

    def values(self) -> np.ndarray:
        if len(self.chunks) != 1:
            dtype = "int64" if self.kind == "int" else object
            self.chunks = [np.concatenate(self.chunks) if self.chunks else np.zeros(0, dtype=dtype)]
        return self.chunks[0]

    def decoded(self) -> pd.Series:
        """The values of every id, as a Series of the decoded dtype (kept until new keys come)."""
        if self._decoded is None or len(self._decoded) != self.count:
            self._decoded = _series(self.values(), self.dtype, None)
        return self._decoded

    def framed(self):
        """The values of every id as an output frame holds them. ``pd.DataFrame`` infers the
        dtype of an object column (pandas 3: ``str`` when every value is a string), so when every
        key is a ``str`` they are inferred once here, and any subset a window takes keeps that
        dtype, as it would have on its own. Otherwise the frame infers each window's keys."""
        decoded = self.decoded()
        if self._framed[0] is not decoded:
            array = decoded.array
            values = array.to_numpy() if isinstance(array, pd.arrays.NumpyExtensionArray) else None
            if values is not None and values.dtype == object and len(values) \
                    and pd.api.types.infer_dtype(values, skipna=False) == "string":
                inferred = pd.Series(values, copy=False).array  # str (pandas 3), else object
                if not isinstance(inferred, pd.arrays.NumpyExtensionArray):
                    array = inferred
            self._framed = (decoded, array)
        return self._framed[1]

    def _note_dtype(self, dtype) -> None:
        if self.dtype is dtype:
            return
        self._decoded = None
        if self.dtype is None or self.dtype == dtype:
            self.dtype = dtype
        elif isinstance(self.dtype, np.dtype) and isinstance(dtype, np.dtype) and \
                self.dtype.kind in "iu" and dtype.kind in "iu":
            self.dtype = np.promote_types(self.dtype, dtype)
        else:
            self.dtype = np.dtype(object)

    def _to_object(self) -> None:
        """Switch an int table to Python objects (a later batch brought other types)."""
        values = self.values()
        self.kind = "object"
        self.table = _ht.ObjectFactorizer(max(1024, 2 * len(values)))
        obj = values.astype(object)
        if self.null_id is not None:
            obj[self.null_id] = _NULL
        self.table.factorize(obj)
        if self.null_id is not None:
            obj[self.null_id] = None
        self.chunks = [obj]

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """Column ids of ``values`` (int64, or objects where None, NaN, NA and NaT mean NULL)."""
        before = self.count
        null = None
        if values.dtype.kind in "iu" and self.kind == "int":
            labels = self.table.factorize(values.astype("int64", copy=False))
        else:
            if self.kind == "int":
                self._to_object()
                before = self.count
            if values.dtype != object:
                values = values.astype(object)
            labels = self.table.factorize(values, na_sentinel=-1)
            null = labels < 0
        labels = labels.astype("int64", copy=False)
        if self.table.count > before:
            vals = values[_first_rows(labels, before)]
            if self.kind == "object":
                vals = np.array(vals, dtype=object)
            self._add_values(vals, before)
        if null is not None and null.any():
            if self.null_id is None:  # NULL takes the next id, after this batch's new keys
                before = self.count
                self.null_id = int(self.table.factorize(np.array([_NULL], dtype=object))[0])
                self._add_values(np.array([None], dtype=object), before)
            labels = np.where(null, self.null_id, labels)
        return labels

    def _add_values(self, vals: np.ndarray, before: int) -> None:
        """Record the values of the new ids ``before``, ``before + 1`` ... (in that order)."""
        self.chunks.append(vals)
        self.count = self.table.count
        if self._native is not None and self.kind == "object":
            strtable.learn(self._native, vals, np.arange(before, self.count))  # it mirrors every str key

    def _native_table(self):
        """The compiled table of this column's str keys (made holding every key so far), or None
        when the extension is not in use."""
        if self._native is None and strtable.ENABLED:
            self._native = strtable.new_table()
            if self.kind == "object" and self.count:
                strtable.learn(self._native, self.values(), np.arange(self.count))
        return self._native

    def encode(self, col) -> np.ndarray:
        """Column ids of a key column (a Series, or the stored array from ``core.columns``)."""
        array = col.array if isinstance(col, pd.Series) else col
        if isinstance(array, pd.arrays.NumpyExtensionArray):
            array = array.to_numpy()
        dtype = array.dtype
        self._note_dtype(dtype)
        if isinstance(array, np.ndarray) and dtype.kind == "O":
            return self._encode_objects(array)
        if isinstance(dtype, pd.CategoricalDtype):
            cats = dtype.categories
            if self._cats is None or not (cats is self._cats or cats.equals(self._cats)):
                self._cats, self._cat_ids = cats, self.lookup(cats.to_numpy(dtype=object))
            codes = array.codes
            ids = self._cat_ids
            assert ids is not None
            if (codes < 0).any():
                ids = np.append(ids, self.lookup(np.array([None], dtype=object)))
            return ids[codes]  # code -1 (NULL) takes the last entry
        if dtype.kind in "iu" and isinstance(dtype, np.dtype):
            values = np.asarray(array)
            if dtype.kind == "u" and len(values) and values.max() > np.iinfo("int64").max:
                return self.lookup(values.astype(object))
            return self.lookup(values)
        arrow = _arrow_strings(array)
        if arrow is not None:
            ids = self._encode_native_strings(arrow) if strtable.ENABLED else None
            return ids if ids is not None else self._encode_strings(arrow, self._arrow)
        series = col if isinstance(col, pd.Series) else pd.Series(array, copy=False)
        return self._encode_objects(series.to_numpy(dtype=object))

    def _encode_objects(self, values: np.ndarray) -> np.ndarray:
        """Python objects: ``str`` rows looked up in the compiled table when it is built; else
        found by address when the rows share their objects, or, when every one is a ``str``,
        copied into one Arrow array and looked up there. Other objects are hashed one by one."""
        if len(values) < MIN_ROWS:
            return self.lookup(values)
        if strtable.ENABLED:
            ids, misses = strtable.lookup_objects(self._native_table(), values)
            if misses:  # not a str (NULL, a number), or a new key: the hash table gives its id
                miss = ids < 0
                ids[miss] = self._lookup_misses(values[miss]) if misses >= MIN_ROWS else self.lookup(values[miss])
            return ids
        return self._addresses.ids_of(values, self._encode_joined)

    def _lookup_misses(self, values: np.ndarray) -> np.ndarray:
        """``lookup`` of many rows the compiled table did not know (a first batch, say): the
        distinct strings are found in C first, so the hash table sees each new string once, with
        every row that is not a ``str``, in row order. New ids come out as ``lookup(values)``
        gives them (the order of first appearance)."""
        tmp = strtable.number_objects(values)
        is_str = tmp >= 0
        first = np.zeros(len(values), dtype=bool)
        first[_first_rows(tmp, 0)] = True
        sel = np.flatnonzero(~is_str | first)
        labels = self.lookup(values[sel])
        out = np.empty(len(values), dtype="int64")
        out[sel] = labels
        out[is_str] = labels[first[sel]][tmp[is_str]]  # the firsts come in tmp order 0, 1, 2 ...
        return out

    def _encode_native_strings(self, arr) -> np.ndarray | None:
        """Column ids of Arrow strings looked up in the compiled table (None: an Arrow type it
        does not read). Rows not found go through the hash table, which teaches it their keys."""
        found = strtable.lookup_arrow(self._native_table(), arr)
        if found is None:
            return None
        ids, misses = found
        if arr.null_count:  # NULL rows join the misses (new ids keep the order rows bring them)
            ids[arr.is_null().to_numpy(zero_copy_only=False)] = -1
        if misses or arr.null_count:  # distinct missed strings only become Python objects (a first batch: all rows)
            import pyarrow as pa
            import pyarrow.compute as pc

            miss = ids < 0
            enc = pc.dictionary_encode(arr.filter(pa.array(miss)), null_encoding="encode")
            new = self.lookup(enc.dictionary.to_numpy(zero_copy_only=False).astype(object))
            ids[miss] = new[enc.indices.to_numpy(zero_copy_only=False)]
        return ids

    def _encode_joined(self, values: np.ndarray) -> np.ndarray:
        """Strings joined into one Arrow array (NULLs among them apart); other objects hashed."""
        if len(values) < MIN_ROWS or not self._joined.worth(len(values)):
            return self.lookup(values)
        strings = joined_strings(values)
        if strings is not None:
            return self._encode_strings(strings, self._joined, values)
        null = pd.isna(values)
        if not null.any() or null.all():
            return self.lookup(values)
        rest = values[~null]
        strings = joined_strings(rest)
        if strings is None:
            return self.lookup(values)
        ids = np.empty(len(values), dtype="int64")
        ids[~null] = self._encode_strings(strings, self._joined, rest)
        ids[null] = self.lookup(values[null][:1])[0]
        return ids

    def _encode_strings(self, arr, known: _Strings, objects: np.ndarray | None = None) -> np.ndarray:
        """Column ids of Arrow strings: the rows are looked up in ``known`` in one Arrow pass, and
        only the strings not seen before go through the hash table (as ``objects``, the rows'
        Python values, when given)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if known.values is None or not known.worth(len(arr)):
            return self._encode_dictionary(arr, known)
        if arr.type != known.values.type:
            arr = arr.cast(known.values.type)
        found = pc.index_in(arr, value_set=known.values, skip_nulls=False)
        if not found.null_count:
            pos = found.to_numpy(zero_copy_only=False)
            return pos.astype("int64") if known.in_order else known.ids[pos]
        pos = found.fill_null(-1).to_numpy(zero_copy_only=False)
        miss = pos < 0
        ids = known.ids[np.where(miss, 0, pos)] if len(known.ids) else np.zeros(len(pos), dtype="int64")
        missing = arr.filter(pa.array(miss))
        ids[miss] = self.lookup(objects[miss] if objects is not None else known.objects(missing))
        new_ids, first = np.unique(ids[miss], return_index=True)
        known.learn(missing.take(pa.array(first)), new_ids)  # a NULL too: index_in matches it
        return ids

    def _encode_dictionary(self, arr, known: _Strings) -> np.ndarray:
        """Arrow's dictionary encoding of the batch, and a hash lookup of its distinct values (the
        first batch teaches ``known`` its strings)."""
        import pyarrow.compute as pc

        enc = pc.dictionary_encode(arr)
        ids = self.lookup(known.objects(enc.dictionary))
        if known.values is None:
            known.learn(enc.dictionary, ids)  # the next batches look their rows up directly
        indices = enc.indices
        if indices.null_count:
            ids = np.append(ids, self.lookup(np.array([None], dtype=object)))
            indices = pc.fill_null(indices, len(ids) - 1)
        return ids[indices.to_numpy(zero_copy_only=False)]

    def compacted(self, live: np.ndarray) -> _Column:
        """A column holding only ids ``live`` (renumbered 0, 1, 2 ... in that order)."""
        null_id = None
        if self.null_id is not None:
            where = np.flatnonzero(live == self.null_id)
            null_id = int(where[0]) if len(where) else None
        return _Column.holding(self.kind, self.values()[live], self.dtype, null_id)

    @classmethod
    def holding(cls, kind: str, values: np.ndarray, dtype, null_id: int | None) -> _Column:
        """A column whose ids are the positions of distinct ``values`` (``null_id``: the NULL's)."""
        out = cls(kind)
        out.dtype = dtype
        out.null_id = null_id
        if len(values):
            feed = values
            if null_id is not None:
                feed = values.copy()
                feed[null_id] = _NULL
            labels = out.table.factorize(feed)
            if out.table.count != len(values) or (labels < 0).any():
                raise ValueError("key values are not distinct")
        out.chunks = [values]
        out.count = len(values)
        return out


class _Strings:
    """Arrow strings whose column ids are known, so a batch is looked up in one Arrow pass.

    ``suffix`` ends every string (the separator of joined object columns); ``objects`` gives the
    Python values without it.
    """

    __slots__ = ("values", "ids", "in_order", "suffix")

    def __init__(self, suffix: str):
        self.values = None  # a pyarrow Array, or None before the first batch
        self.ids = np.zeros(0, dtype="int64")
        self.in_order = True  # ids is 0, 1, 2 ...: a string's position is its id
        self.suffix = suffix

    def worth(self, rows: int) -> bool:
        """Whether looking ``rows`` rows up here beats hashing them (the strings are few next to them)."""
        return self.values is None or len(self.values) <= 2 * rows + 4096

    def objects(self, strings) -> np.ndarray:
        """The Python values of Arrow ``strings`` (None for NULL), without the suffix."""
        if self.suffix:
            import pyarrow.compute as pc

            strings = pc.utf8_slice_codeunits(strings, 0, -len(self.suffix))
        return strings.to_numpy(zero_copy_only=False).astype(object, copy=False)

    def learn(self, strings, ids: np.ndarray) -> None:
        """Add distinct ``strings`` not known yet (NULL at most once), whose column ids are ``ids``."""
        import pyarrow as pa

        if not len(strings):
            return
        if self.values is None:
            self.values = strings
        else:
            self.values = pa.concat_arrays([self.values, strings.cast(self.values.type)])
        start = len(self.ids)
        self.in_order = self.in_order and bool(np.array_equal(ids, np.arange(start, start + len(ids))))
        self.ids = np.concatenate([self.ids, np.asarray(ids, dtype="int64")])


def _arrow_strings(array):
    """The Arrow string array behind ``array`` (a pandas array; one chunk), or None when it is not
    Arrow strings."""
    if not isinstance(array.dtype, (pd.StringDtype, pd.ArrowDtype)):
        return None
    import pyarrow as pa

    try:
        arr = array.__arrow_array__()
    except (TypeError, pa.ArrowException):
        return None
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
            or pa.types.is_string_view(arr.type)):
        return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    return arr


def _first_rows(labels: np.ndarray, before: int) -> np.ndarray:
    """Rows where the labels ``before``, ``before + 1`` ... first appear. A factorizer numbers new
    values in order of first appearance, so they are the rows where the running maximum of the
    new labels rises (one pass, no sort).

    >>> _first_rows(np.array([3, 5, 3, 6, 5, 7, -1]), 5).tolist()
    [1, 3, 5]
    """
    new = np.flatnonzero(labels >= before)
    lab = labels[new]
    rising = np.empty(len(lab), dtype=bool)
    rising[:1] = True
    np.greater(lab[1:], np.maximum.accumulate(lab)[:-1], out=rising[1:])
    return new[rising]


class KeyIndex:
    """Maps group-key values (one or several columns, or none) to dense ids 0, 1, 2, ...

    >>> ki = KeyIndex(["k"])
    >>> ki.encode(pd.DataFrame({"k": ["b", "a", "b", None]})).tolist()
    [0, 1, 0, 2]
    >>> ki.decode(np.array([1, 0]))["k"].tolist()
    ['a', 'b']
    >>> two = KeyIndex(["k", "j"])
    >>> two.encode(pd.DataFrame({"k": ["a", "a", "b"], "j": [1, 2, 1]})).tolist()
    [0, 1, 2]
    """

    def __init__(self, by: list[str]):
        self.by = list(by)
        self._reset()

    def _reset(self) -> None:
        self._cols: list[_Column | None] = [None for _ in self.by]
        # several columns: level j maps (id of columns 0..j-1, id of column j) to the id of 0..j
        self._levels: list[_ht.Int64Factorizer] = []
        self._parts = np.zeros((0, len(self.by)), dtype="int64")  # column ids of each combined id
        self._parts_chunks: list[np.ndarray] = []
        self._count = 0

    def __len__(self) -> int:
        if not self.by:
            return 1
        if len(self.by) > 1:
            return self._count
        col = self._cols[0]
        return 0 if col is None else col.count

    def _column(self, i: int, col: pd.Series) -> np.ndarray:
        state = self._cols[i]
        if state is None:
            state = self._cols[i] = _Column("int" if col.dtype.kind in "iu" and isinstance(col.dtype, np.dtype)
                                            else "object")
        return state.encode(col)

    def encode(self, df, n: int | None = None) -> np.ndarray:
        """Global key ids for each row of ``df`` (a DataFrame or a dict of columns with ``n`` rows)."""
        n = len(df) if n is None else n
        if not self.by:
            return np.zeros(n, dtype="int64")
        per_col = [self._column(i, df[c]) for i, c in enumerate(self.by)]
        if len(self.by) == 1:
            return per_col[0]
        return self._combine(per_col)

    def _combine(self, per_col: list[np.ndarray]) -> np.ndarray:
        while len(self._levels) < len(self.by) - 1:
            self._levels.append(_ht.Int64Factorizer(1024))
        gid = per_col[0]
        for j, table in enumerate(self._levels):
            gid = table.factorize((gid << 32) | per_col[j + 1]).astype("int64", copy=False)
        total = self._levels[-1].count
        if total > self._count:
            rows = _first_rows(gid, self._count)
            self._parts_chunks.append(np.stack([c[rows] for c in per_col], axis=1))
            self._count = total
        return gid

    def parts(self) -> np.ndarray:
        """Column ids of every combined id (several columns), one row per id."""
        if self._parts_chunks:
            self._parts = np.concatenate([self._parts, *self._parts_chunks])
            self._parts_chunks = []
        return self._parts

    def decode(self, ids: np.ndarray) -> dict[str, pd.Series]:
        """Key columns (with their input dtypes) for the given ids."""
        return {name: pd.Series(state.decoded().array.take(col_ids), name=name, copy=False)
                for name, state, col_ids in self._per_column(ids)}

    def decode_arrays(self, ids: np.ndarray) -> dict[str, object]:
        """Key columns for the given ids, as the arrays an output frame holds (``_Column.framed``:
        all-``str`` object keys already in the dtype ``pd.DataFrame`` would infer for them)."""
        return {name: state.framed().take(col_ids) for name, state, col_ids in self._per_column(ids)}

    def _per_column(self, ids: np.ndarray):
        """(name, column state, that column's ids) for each key column."""
        if not self.by:
            return []
        ids = np.asarray(ids, dtype="int64")
        per_col = [ids] if len(self.by) == 1 else [self.parts()[ids, i] for i in range(len(self.by))]
        out = []
        for i, name in enumerate(self.by):
            state = self._cols[i]
            if state is None:
                raise ValueError(f"KeyIndex.decode: no values of key column {name!r} have been encoded yet")
            out.append((name, state, per_col[i]))
        return out

    # --- dead keys --------------------------------------------------------------------------
    def compact(self, live: np.ndarray) -> np.ndarray:
        """Keep only the ids in ``live`` (sorted, unique) and renumber them 0, 1, 2 ... in that order.

        Returns the map from old ids to new ones (-1 for a forgotten id).

        >>> ki = KeyIndex(["k"]); _ = ki.encode(pd.DataFrame({"k": ["a", "b", "c"]}))
        >>> ki.compact(np.array([2])).tolist(), len(ki)
        ([-1, -1, 0], 1)
        >>> ki.encode(pd.DataFrame({"k": ["c", "a"]})).tolist()
        [0, 1]
        """
        live = np.asarray(live, dtype="int64")
        remap = np.full(len(self), -1, dtype="int64")
        remap[live] = np.arange(len(live))
        if not self.by:
            return np.zeros(1, dtype="int64")
        if len(self.by) == 1:
            col = self._cols[0]
            assert col is not None
            self._cols[0] = col.compacted(live)
            return remap
        parts = self.parts()[live]
        new_parts = np.empty_like(parts)
        for i, col in enumerate(self._cols):
            assert col is not None
            used = np.unique(parts[:, i])
            self._cols[i] = col.compacted(used)
            new_parts[:, i] = np.searchsorted(used, parts[:, i])
        self._levels, self._parts, self._parts_chunks, self._count = [], new_parts[:0], [], 0
        if len(live):
            self._combine([new_parts[:, i].copy() for i in range(len(self.by))])
        return remap

    # --- checkpoints ----------------------------------------------------------------------
    def export(self) -> dict:
        """Known key values and ids as plain Python (checkpoints); ``load`` restores the same ids."""
        columns: list[dict | None] = []
        for col in self._cols:
            if col is None:
                columns.append(None)
                continue
            values = _series(col.values(), col.dtype, None)
            columns.append({"dtype": str(col.dtype), "values": values.tolist()})
        return {"by": list(self.by), "columns": columns,
                "combos": self.parts().tolist() if len(self.by) > 1 else []}

    def load(self, state: dict) -> None:
        """Restore what ``export`` wrote (the same ``by`` columns are required).

        >>> ki = KeyIndex(["k"]); _ = ki.encode(pd.DataFrame({"k": ["b", "a"]}))
        >>> again = KeyIndex(["k"]); again.load(ki.export())
        >>> again.encode(pd.DataFrame({"k": ["a", "c", "b"]})).tolist()
        [1, 2, 0]
        """
        if list(state["by"]) != self.by:
            raise ValueError(f"group keys differ: checkpoint has by={state['by']}, this operator by={self.by}")
        self._reset()
        for i, saved in enumerate(state["columns"]):
            if saved is None:
                continue
            dtype = pd.api.types.pandas_dtype(saved["dtype"])
            is_int = isinstance(dtype, np.dtype) and dtype.kind in "iu"
            values = np.asarray(saved["values"], dtype="int64" if is_int else object)
            nulls = np.flatnonzero(pd.isna(values)) if not is_int else np.zeros(0, dtype="int64")
            if len(nulls):
                values[nulls] = None
            try:
                if len(nulls) > 1:
                    raise ValueError("key values are not distinct")
                self._cols[i] = _Column.holding("int" if is_int else "object", values, dtype,
                                                int(nulls[0]) if len(nulls) else None)
            except ValueError:
                raise ValueError(f"key column {self.by[i]!r}: the checkpoint's key values are not distinct") from None
        if len(self.by) > 1:
            parts = np.asarray(state["combos"], dtype="int64").reshape(-1, len(self.by))
            if len(parts):
                self._combine([parts[:, i].copy() for i in range(len(self.by))])
                if self._count != len(parts):
                    raise ValueError("group keys: the checkpoint's key combinations are not distinct")


def _series(values: np.ndarray, dtype, name) -> pd.Series:
    """Decoded key values as a Series of the input's dtype (object when that cannot hold them)."""
    if dtype is None or (isinstance(dtype, np.dtype) and dtype == values.dtype):
        return pd.Series(values, dtype=values.dtype, name=name, copy=False)
    try:
        out = pd.Series(values, dtype=dtype, name=name)
    except (TypeError, ValueError):
        return pd.Series(values, dtype=object, name=name)
    if isinstance(dtype, pd.CategoricalDtype) and out.isna().sum() != pd.isna(values).sum():
        return pd.Series(values, dtype=object, name=name)  # values outside the categories
    return out
