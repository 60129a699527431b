"""Named aggregations and their partial (mergeable) state.

Every decomposable aggregate is kept as a few partial fields per group. Partials are merged
pane by pane (Hop, Cumulate) or session by session, never by copying rows. Holistic
aggregates (``median`` and custom callables) keep their raw values instead (see ``rawstore``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..core.native import load

_count_sum = load("streamlab.windows._groupsums", "count_sum")  # None: numpy's bincount

FUNCS = ("count", "size", "sum", "mean", "min", "max", "first", "last", "std", "var", "median")
ALIASES = {"avg": "mean", "average": "mean", "nunique": None}
_NUMPY_NAMES = {np.sum: "sum", np.mean: "mean", np.min: "min", np.max: "max", np.median: "median",
                sum: "sum", min: "min", max: "max", len: "size"}

SEQ_NONE = np.iinfo("int64").max


@dataclass(frozen=True)
class AggSpec:
    """One output column: ``name=(column, func)`` in pandas' named-aggregation style.

    >>> AggSpec.parse("avg", ("temp", "mean"))
    AggSpec(name='avg', column='temp', func='mean')
    """

    name: str
    column: str
    func: str | Callable

    @classmethod
    def parse(cls, name: str, value) -> AggSpec:
        if isinstance(value, pd.NamedAgg):
            column, func = value.column, value.aggfunc
        elif isinstance(value, tuple) and len(value) == 2:
            column, func = value
        else:
            raise TypeError(
                f"agg({name}=...) must be a (column, function) pair like {name}=('value', 'mean'), got {value!r}"
            )
        if not isinstance(column, str):
            raise TypeError(f"agg({name}=...): the column must be a column name string, got {column!r}")
        if isinstance(func, str):
            canonical = ALIASES.get(func, func)
            if canonical not in FUNCS:
                raise ValueError(
                    f"agg({name}=({column!r}, {func!r})): unknown aggregation {func!r}; "
                    f"use one of {', '.join(FUNCS)} or a callable"
                )
            func = canonical
        elif func in _NUMPY_NAMES:
            func = _NUMPY_NAMES[func]
        elif not callable(func):
            raise TypeError(f"agg({name}=...): the function must be a name such as 'mean' or a callable, got {func!r}")
        return cls(name, column, func)

    @property
    def holistic(self) -> bool:
        """True when the aggregate needs the raw values (median, callables)."""
        return not isinstance(self.func, str) or self.func == "median"

    @property
    def numeric(self) -> bool:
        """True when the input column must be numeric."""
        return isinstance(self.func, str) and self.func not in ("count", "size", "first", "last")

    def label(self) -> str:
        func = self.func if isinstance(self.func, str) else getattr(self.func, "__name__", "callable")
        return f"{self.name}={func}({self.column})"


def parse_aggs(named: dict) -> list[AggSpec]:
    """Parse ``agg(**named)`` keyword arguments, failing on the first bad one."""
    if not named:
        raise ValueError("agg() needs at least one named aggregation, e.g. agg(cnt=('value', 'count'))")
    return [AggSpec.parse(name, value) for name, value in named.items()]


class PartialField(NamedTuple):
    """One partial aggregate kept per group: ``kind`` of ``column`` stored under ``name``.

    Kinds: ``n`` (rows), ``c`` (non-null count), ``s`` (sum), ``min``, ``max``, ``first``,
    ``last``, ``mu``/``m2`` (Welford mean and squared deviations).
    """

    name: str
    kind: str
    column: str


def partial_fields(specs: list[AggSpec]) -> list[PartialField]:
    """The partial fields needed. ``n`` (rows) is always present.

    >>> [f.name for f in partial_fields(parse_aggs({"m": ("v", "mean")}))]
    ['n', 'c:v', 's:v']
    """
    fields: dict[str, PartialField] = {"n": PartialField("n", "n", "")}

    def need(kind: str, column: str):
        field = f"{kind}:{column}"
        fields.setdefault(field, PartialField(field, kind, column))

    for spec in specs:
        if spec.holistic or spec.func == "size":
            continue
        col = spec.column
        need("c", col)
        if spec.func in ("sum", "mean"):
            need("s", col)
        elif spec.func in ("min", "max", "first", "last"):
            need(spec.func, col)
        elif spec.func in ("std", "var"):
            need("mu", col)
            need("m2", col)
    return list(fields.values())


_INIT = {"n": 0, "c": 0, "s": 0.0, "min": np.inf, "max": -np.inf, "mu": 0.0, "m2": 0.0}
_INT = np.iinfo("int64")
#: Identities of the value-typed partials of an int64 column (kept exact, never through float64).
_INIT_INT = {"s": 0, "min": _INT.max, "max": _INT.min}
#: Partial kinds stored in the column's own dtype (int64, float64 or object); the rest are fixed.
VALUE_KINDS = ("s", "min", "max", "first", "last")


def widened(old: np.dtype | None, new: np.dtype) -> np.dtype:
    """The dtype holding both ``old`` and ``new`` values, as pandas types a whole column.

    >>> str(widened(np.dtype("int64"), np.dtype("float64"))), str(widened(None, np.dtype("int64")))
    ('float64', 'int64')
    """
    if old is None or old == new:  # (np.dtype("float64") == None is True: test None first)
        return new
    if old.kind == "O" or new.kind == "O":
        return np.dtype(object)
    return np.dtype("float64")


def _identity(kind: str, dtype: np.dtype):
    if dtype.kind in "iu":
        return _INIT_INT.get(kind, 0)
    if kind in ("first", "last"):
        return np.nan if dtype.kind == "f" else None
    return _INIT[kind]


def _no_nulls(v: np.ndarray) -> bool:
    """Whether ``v`` holds no NULL (NaN, None, NA). A float column is summed first: a NaN anywhere
    makes the sum NaN (a NaN sum without one, from inf - inf, only means the full check runs).

    >>> _no_nulls(np.array([1.0, 2.0])), _no_nulls(np.array([1.0, np.nan])), _no_nulls(np.array(["a", None], dtype=object))
    (True, False, False)
    """
    if v.dtype.kind == "f":
        return not np.isnan(v.sum()) or not np.isnan(v).any()
    if v.dtype.kind in "iub":
        return True
    return not pd.isna(v).any()


class Partials:
    """A table of partial aggregates: one row per group (pane×key, window×key or session)."""

    def __init__(self, fields, arrays: dict[str, np.ndarray], rows: bool = False):
        self.fields = fields
        self.a = arrays
        self._rows = rows  # one partial per input row (so "n" is all ones)

    def __len__(self) -> int:
        return len(self.a["n"])

    @classmethod
    def empty(cls, fields, size: int, value_dtypes: dict[str, np.dtype] | None = None) -> Partials:
        arrays: dict[str, np.ndarray] = {}
        for field, kind, column in fields:
            if kind in VALUE_KINDS:
                dtype = (value_dtypes or {}).get(column, np.dtype("float64"))
                arrays[field] = np.full(size, _identity(kind, dtype), dtype=dtype)
                if kind in ("first", "last"):
                    arrays[field + "#seq"] = np.full(size, SEQ_NONE if kind == "first" else -1, dtype="int64")
            else:
                arrays[field] = np.full(size, _INIT[kind], dtype="int64" if kind in ("n", "c") else "float64")
        return cls(fields, arrays)

    def cast(self, column: str, dtype: np.dtype) -> None:
        """In place: store ``column``'s value-typed partials as ``dtype`` (a widening, see :func:`widened`).

        Rows with no value (count 0) get ``dtype``'s identity, never a cast sentinel.
        """
        empty = None
        for field, kind, col in self.fields:
            if col != column or kind not in VALUE_KINDS or self.a[field].dtype == dtype:
                continue
            if empty is None:
                empty = self.a[f"c:{column}"] == 0
            with np.errstate(invalid="ignore"):  # inf/NaN identities are replaced just below
                v = self.a[field].astype(dtype)
            if empty.any():
                v[empty] = _identity(kind, dtype)
            self.a[field] = v

    @classmethod
    def from_rows(cls, fields, values: dict[str, np.ndarray], seq, n: int) -> Partials:
        """One partial row per input row (numeric values are int64 or float64, as the column).

        ``seq`` holds arrival numbers (for first/last), or is a callable that makes them.
        """
        if callable(seq):
            seq = seq() if any(kind in ("first", "last") for _, kind, _ in fields) else None
        arrays: dict[str, np.ndarray] = {}
        clean = {col: _no_nulls(v) for col, v in values.items()}
        notnull: dict[str, Any] = {col: True if clean[col] else (~np.isnan(v) if v.dtype.kind == "f" else ~pd.isna(v))
                   for col, v in values.items()}
        for field, kind, column in fields:
            if kind == "n":
                arrays[field] = np.ones(n, dtype="int64")
                continue
            v, ok = values[column], notnull[column]
            if kind == "c":
                arrays[field] = arrays["n"] if clean[column] else ok.astype("int64")
            elif kind == "s":
                arrays[field] = v if clean[column] else np.where(ok, v, 0.0)
            elif kind in ("min", "max"):
                arrays[field] = v if clean[column] else np.where(ok, v, _INIT[kind])
            elif kind == "mu":
                arrays[field] = np.where(ok, v, 0.0)
            elif kind == "m2":
                arrays[field] = np.zeros(n)
            elif kind in ("first", "last"):
                arrays[field] = v
                arrays[field + "#seq"] = np.where(ok, seq, SEQ_NONE if kind == "first" else -1)
        return cls(fields, arrays, rows=True)

    def take(self, idx) -> Partials:
        return Partials(self.fields, {k: v[idx] for k, v in self.a.items()})

    def grow(self, size: int, value_dtypes=None) -> Partials:
        """Return partials padded with identity rows up to ``size``."""
        if size <= len(self):
            return self
        pad = Partials.empty(self.fields, size - len(self), value_dtypes)
        return concat([self, pad])

    def reduce(self, gid: np.ndarray, groups: int) -> Partials:
        """Combine rows with the same group id (0..groups-1) into one row per group."""
        out: dict[str, np.ndarray] = {}
        order = None
        for field, kind, column in self.fields:
            v = self.a[field]
            if kind == "c" and v is self.a["n"] and "n" in out:
                out[field] = out["n"]
            elif kind == "n" and self._rows:
                out[field] = np.bincount(gid, minlength=groups).astype("int64", copy=False)
            elif kind in ("n", "c"):
                out[field] = np.bincount(gid, weights=v, minlength=groups).astype("int64")
            elif kind == "s" and v.dtype.kind == "f":
                out[field] = np.bincount(gid, weights=v, minlength=groups)
            elif kind in VALUE_KINDS:  # and exact integer sums (bincount's weights are float64)
                if order is None:
                    order = np.argsort(gid, kind="stable")
                    counts = np.bincount(gid, minlength=groups)
                    nonempty = np.flatnonzero(counts)
                    starts = (np.cumsum(counts) - counts)[nonempty]
                    ends = starts + counts[nonempty]
                res = Partials.empty([(field, kind, column)], groups, {column: v.dtype}).a
                if kind == "s":
                    res[field][nonempty] = np.add.reduceat(v[order], starts)
                elif kind in ("min", "max"):
                    ufunc = np.minimum if kind == "min" else np.maximum
                    res[field][nonempty] = ufunc.reduceat(v[order], starts)
                else:
                    s = self.a[field + "#seq"]
                    o = np.lexsort((s, gid))
                    pos = starts if kind == "first" else ends - 1
                    res[field][nonempty] = v[o[pos]]
                    res[field + "#seq"][nonempty] = s[o[pos]]
                out.update(res)
        for field, kind, column in self.fields:  # Welford/Chan merge of (count, mean, M2)
            if kind != "mu":
                continue
            c = self.a[f"c:{column}"].astype("float64")
            total = np.bincount(gid, weights=c, minlength=groups)
            safe = np.where(total > 0, total, 1.0)
            mu = np.bincount(gid, weights=c * self.a[field], minlength=groups) / safe
            dev = self.a[field] - mu[gid]
            m2 = np.bincount(gid, weights=self.a[f"m2:{column}"] + c * dev * dev, minlength=groups)
            out[field] = mu
            out[f"m2:{column}"] = m2
        return Partials(self.fields, out)

    #: Partial kinds ``merge_dense`` can add without an index (the additive ones).
    DENSE_KINDS = frozenset({"n", "c", "s"})

    def merge_dense(self, other: Partials) -> None:
        """In place: ``self[:len(other)] += other`` for tables whose kinds are all ``DENSE_KINDS``
        (a row of ``other`` with no input is zero, so it leaves ``self`` unchanged)."""
        a, b = self.a, other.a
        m = len(other)
        for field, _kind, _column in self.fields:
            a[field][:m] += b[field]

    def merge_into(self, idx: np.ndarray, other: Partials) -> None:
        """In place: ``self[idx] ⊕= other`` (``idx`` unique, ``len(idx) == len(other)``)."""
        a, b = self.a, other.a
        for field, kind, column in self.fields:  # Welford first: it reads the old counts
            if kind != "mu":
                continue
            ca = a[f"c:{column}"][idx].astype("float64")
            cb = b[f"c:{column}"].astype("float64")
            total = ca + cb
            safe = np.where(total > 0, total, 1.0)
            delta = b[field] - a[field][idx]
            a[f"m2:{column}"][idx] = a[f"m2:{column}"][idx] + b[f"m2:{column}"] + delta * delta * ca * cb / safe
            a[field][idx] = a[field][idx] + delta * cb / safe
        for field, kind, _column in self.fields:
            if kind in ("n", "c", "s"):
                a[field][idx] += b[field]
            elif kind == "min":
                a[field][idx] = np.minimum(a[field][idx], b[field])
            elif kind == "max":
                a[field][idx] = np.maximum(a[field][idx], b[field])
            elif kind in ("first", "last"):
                sa, sb = a[field + "#seq"][idx], b[field + "#seq"]
                better = sb < sa if kind == "first" else sb > sa
                sel = idx[better]
                a[field][sel] = b[field][better]
                a[field + "#seq"][sel] = sb[better]

    def finalize(self, specs: list[AggSpec], int_columns: frozenset,
                 sql_types: bool = False) -> dict[str, np.ndarray]:
        """Output columns for the decomposable aggregates, in spec order.

        ``sql_types``: a mean of an integer column is typed as Flink's AVG, an integer truncated
        toward zero (pandas gives a float mean).
        """
        out: dict[str, np.ndarray] = {}
        for spec in specs:
            if spec.holistic:
                continue
            col, func = spec.column, spec.func
            if func == "size":
                out[spec.name] = self.a["n"].copy()
                continue
            c = self.a[f"c:{col}"]
            if func == "count":
                out[spec.name] = c.copy()
            elif func in ("sum", "min", "max"):
                v = self.a[f"s:{col}" if func == "sum" else f"{func}:{col}"]
                if (v.dtype.kind in "iu" or col in int_columns) and np.all(c > 0):
                    out[spec.name] = v.astype("int64")
                else:
                    out[spec.name] = np.where(c > 0, v, np.nan)
            elif func == "mean":
                s = self.a[f"s:{col}"]
                if sql_types and (s.dtype.kind in "iu" or col in int_columns):
                    out[spec.name] = int_mean(s, c)
                    continue
                with np.errstate(invalid="ignore", divide="ignore"):
                    out[spec.name] = np.where(c > 0, s / np.maximum(c, 1), np.nan)
            elif func in ("var", "std"):
                with np.errstate(invalid="ignore", divide="ignore"):
                    var = np.where(c > 1, self.a[f"m2:{col}"] / np.maximum(c - 1, 1), np.nan)
                out[spec.name] = np.sqrt(np.maximum(var, 0)) if func == "std" else np.maximum(var, 0)
            elif func in ("first", "last"):
                v = self.a[f"{func}:{col}"]
                if col in int_columns and v.dtype.kind == "f" and np.all(c > 0):
                    v = v.astype("int64")
                elif v.dtype.kind in "iu" and not np.all(c > 0):
                    v = np.where(c > 0, v, np.nan)
                out[spec.name] = v.copy()
        return out


def int_mean(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Flink's AVG of an integer column: ``total / count`` truncated toward zero, as an integer
    (exact for int64 sums); NULL (NaN, float) where ``count`` is 0.

    >>> int_mean(np.array([15, -7]), np.array([4, 2])).tolist(), int_mean(np.array([3.0, 0.0]), np.array([1, 0])).tolist()
    ([3, -3], [3.0, nan])
    """
    c = np.maximum(count, 1)
    if total.dtype.kind in "iu":
        q = np.abs(total) // c * np.sign(total)
    else:
        q = np.trunc(total / c)
    if np.all(count > 0):
        return q.astype("int64")
    return np.where(count > 0, q, np.nan)


def reduced_rows(fields, values: dict[str, np.ndarray], seq, n: int, gid: np.ndarray, groups: int) -> Partials:
    """``Partials.from_rows(fields, values, seq, n).reduce(gid, groups)``: one C pass per column
    when every field is additive (rows, counts, sums) over float64 columns, with the same sums to
    the last bit (rows are added in order, as ``bincount`` does).

    >>> f = partial_fields(parse_aggs({"m": ("v", "mean")}))
    >>> p = reduced_rows(f, {"v": np.array([1.0, np.nan, 3.0])}, None, 3, np.array([0, 0, 1]), 2)
    >>> p.a["n"].tolist(), p.a["c:v"].tolist(), p.a["s:v"].tolist()
    ([2, 1], [1, 1], [1.0, 3.0])
    """
    if _count_sum is None or not all(kind in Partials.DENSE_KINDS and (kind == "n" or values[col].dtype == np.float64)
                                     for _, kind, col in fields):
        return Partials.from_rows(fields, values, seq, n).reduce(gid, groups)
    gid = np.ascontiguousarray(gid, dtype=np.int64)
    out = {"n": np.zeros(groups, dtype="int64")}
    rows: np.ndarray | None = out["n"]  # counted along with the first column
    for col in dict.fromkeys(col for _, kind, col in fields if kind != "n"):
        out[f"c:{col}"], out[f"s:{col}"] = np.zeros(groups, dtype="int64"), np.zeros(groups)
        _count_sum(gid, rows, np.ascontiguousarray(values[col]), out[f"c:{col}"], out[f"s:{col}"])
        rows = None
    if rows is not None:
        _count_sum(gid, rows, None, None, None)
    return Partials(fields, {field: out[field] for field, _, _ in fields})


def concat(parts: list[Partials]) -> Partials:
    """Stack partial tables with the same fields."""
    first = parts[0]
    return Partials(first.fields, {k: np.concatenate([p.a[k] for p in parts]) for k in first.a})


def holistic_values(specs: list[AggSpec], keys: np.ndarray, values: dict[str, np.ndarray],
                    out_keys: np.ndarray, failed: dict[int, str] | None = None) -> dict[str, np.ndarray]:
    """Compute holistic aggregates (median, callables) of ``values`` grouped by ``keys``.

    Returns one array per holistic spec, aligned with ``out_keys``. A callable that raises for
    a group gives NaN there, and ``failed[group] = "aggregate 'name' (func) raised ..."``; the
    other groups are computed one by one.

    >>> bad = lambda s: s.sum() if s.max() < 9 else 1 / 0
    >>> failed = {}
    >>> spec = AggSpec("p", "v", bad)
    >>> holistic_values([spec], np.array([0, 1]), {"v": np.array([1, 9])}, np.arange(2), failed)["p"].tolist()
    [1.0, nan]
    >>> failed
    {1: "aggregate 'p' (<lambda>) raised ZeroDivisionError: division by zero"}
    """
    out: dict[str, np.ndarray] = {}
    for spec in specs:
        if not spec.holistic:
            continue
        series = pd.Series(values[spec.column])
        if spec.func == "median":
            series = pd.to_numeric(series, errors="coerce")
        grouped = series.groupby(keys, sort=False)
        if spec.func == "median":
            result = grouped.median()
        else:
            try:
                result = grouped.agg(spec.func)
            except Exception:  # noqa: BLE001 - user code: find the failing groups, keep the rest
                result = _one_by_one(spec, grouped, failed if failed is not None else {})
        out[spec.name] = result.reindex(out_keys).to_numpy()
    return out


def _one_by_one(spec: AggSpec, grouped, failed: dict[int, str]) -> pd.Series:
    """``grouped.agg(spec.func)`` group by group; failing groups are left out and noted."""
    done: dict = {}
    func = spec.func
    assert callable(func)  # median, the only holistic name, never raises
    name = getattr(func, "__name__", "callable")
    for group, sub in grouped:
        try:
            done[group] = func(sub)
        except Exception as exc:  # noqa: BLE001 - user code
            failed.setdefault(int(group), f"aggregate {spec.name!r} ({name}) raised {type(exc).__name__}: {exc}")
    return pd.Series(done, dtype=None if done else "float64")
