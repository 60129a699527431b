"""Continuous GROUP BY (no window): ``stream.groupby("page").agg(n=("user", "size"))``.

Every batch updates the per-key aggregate and emits a changelog: ``+I`` for a new key, ``-U`` and
``+U`` for a key whose aggregate changed. Applying it in order gives, at every batch boundary, the
aggregate of all rows seen so far. Every row counts, late or not (Flink's rule).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.node import Node, find_meta
from ..core.snapshot import GroupByState
from ..windows.aggregates import AggSpec, parse_aggs
from ..windows.keys import KeyIndex
from .changelog import INSERT, OP, UPDATE_AFTER, UPDATE_BEFORE
from .frames import frame_from_state, frame_state, records

#: Aggregates a continuous GROUP BY supports.
GROUP_FUNCS = ("count", "size", "sum", "mean", "min", "max")


@Node.register_api()
def groupby(self, by) -> Grouped:
    """Group the stream by key columns for a continuous aggregate; finish with ``.agg(...)``.

    >>> import streamlab as sl, pandas as pd
    >>> df = pd.DataFrame({"ts": [0, 1, 2], "page": ["a", "b", "a"], "v": [1, 2, 3]})
    >>> sl.from_frame(df, time="ts", unit="s", batch_size=2).groupby("page").agg(s=("v", "sum")).collect()
       op page  s
    0  +I    a  1
    1  +I    b  2
    2  -U    a  1
    3  +U    a  4
    """
    return Grouped(self, by)


def key_list(by, what: str = "by") -> list[str]:
    """``by`` as a list of column names."""
    if isinstance(by, str):
        return [by]
    if isinstance(by, (list, tuple)) and by and all(isinstance(b, str) for b in by):
        return list(by)
    raise TypeError(f"{what}= takes a column name or a list of column names, got {by!r}")


def check_columns(columns: list[str] | None, wanted: list[str], what: str) -> None:
    """Fail clearly when a named column is not in the (known) input columns."""
    if columns is None:
        return
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise ValueError(f"{what}: column {missing[0]!r} not found; available columns: {', '.join(map(str, columns))}")


def sql_mean(mean: np.ndarray, truncate: bool) -> np.ndarray:
    """A mean as SQL types it: of an integer column, an integer truncated toward zero (Flink).

    >>> sql_mean(np.array([3.75, -1.5]), True).tolist(), sql_mean(np.array([3.75]), False).tolist()
    ([3, -1], [3.75])
    """
    if not truncate or np.isnan(mean).any():
        return np.trunc(mean) if truncate else mean
    return np.trunc(mean).astype("int64")


class Grouped:
    """A stream grouped by keys, waiting for ``.agg(...)``."""

    def __init__(self, upstream: Node, by):
        self.upstream = upstream
        self.by = key_list(by)
        _, self.columns = find_meta(upstream)
        check_columns(self.columns, self.by, "groupby")

    def agg(self, **named) -> GroupAgg:
        """Continuous aggregate with pandas named aggregation: count, size, sum, mean, min, max."""
        specs = parse_aggs(named)
        for s in specs:
            if s.func not in GROUP_FUNCS:
                raise ValueError(f"agg({s.name}=...): a continuous groupby supports {', '.join(GROUP_FUNCS)}, "
                                 f"not {s.func!r}")
        check_columns(self.columns, [s.column for s in specs], "agg")
        clash = {s.name for s in specs} & (set(self.by) | {OP})
        if clash:
            raise ValueError(f"agg() output names {sorted(clash)} clash with the group keys or 'op'; rename them")
        return GroupAgg(self.upstream, self.by, specs)


class GroupAgg(Node):
    """The continuous aggregate: one row per key, kept up to date through a changelog."""

    kind = "groupby"
    result_operator = True
    #: SQL result types (set by ``%%streamlab``): AVG of an integer column is an integer, truncated.
    flink_types = False

    def __init__(self, upstream: Node, by: list[str], specs: list[AggSpec]):
        super().__init__(upstream)
        self.by = by
        self.specs = specs
        self.value_columns = sorted({s.column for s in specs})
        self.numeric = sorted({s.column for s in specs if s.func not in ("count", "size")})
        self.columns = [OP, *by, *(s.name for s in specs)]
        self.reset_state()

    def reset_state(self) -> None:
        super().reset_state()
        self.keys = KeyIndex(self.by)
        self.n = np.zeros(0, dtype="int64")
        self.part: dict[str, np.ndarray] = {}  # "c:v", "s:v", "min:v", "max:v" -> per key id
        self.int_columns: list[str] = []
        self.key_dtypes: dict[str, str] = {}

    def label(self) -> str:
        return f"groupby {', '.join(self.by)}: {', '.join(s.label() for s in self.specs)}"

    def _grow(self, nkeys: int) -> None:
        extra = nkeys - len(self.n)
        if extra <= 0:
            return
        self.n = np.concatenate([self.n, np.zeros(extra, dtype="int64")])
        for col in self.value_columns:
            for kind, fill in (("c", 0.0), ("s", 0.0), ("min", np.nan), ("max", np.nan)):
                name = f"{kind}:{col}"
                self.part[name] = np.concatenate([self.part.get(name, np.zeros(0)), np.full(extra, fill)])

    def on_batch(self, df: pd.DataFrame, port: int, marks):
        missing = [c for c in [*self.by, *self.value_columns] if c not in df.columns]
        if missing:
            self.send_errors(df, f"missing column {missing[0]!r}")
            return None
        values = {}
        bad = np.zeros(len(df), dtype=bool)
        for col in self.value_columns:
            s = df[col]
            if col in self.numeric and s.dtype.kind not in "iufb":
                num = pd.to_numeric(s, errors="coerce")
                bad |= (num.isna() & s.notna()).to_numpy()
                s = num
            values[col] = s
        if bad.any():
            self.send_errors(df[bad], "a value column is not numeric")
            df = df[~bad]
            values = {c: v[~bad] for c, v in values.items()}
        if not len(df):
            return None
        if not self.key_dtypes:
            self.key_dtypes = {c: str(df[c].dtype) for c in self.by}
            self.int_columns = [c for c in self.numeric if df[c].dtype.kind in "iub"]
        key = self.keys.encode(df)
        touched, first = np.unique(key, return_index=True)
        touched = touched[np.argsort(first, kind="stable")]
        self._grow(len(self.keys))
        existed = self.n[touched] > 0
        before = self._rows(touched[existed])
        self.n += np.bincount(key, minlength=len(self.n))
        for col, s in values.items():
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan) \
                if col in self.numeric else np.where(s.isna().to_numpy(), np.nan, 0.0)
            ok = ~np.isnan(v)
            self.part[f"c:{col}"] += np.bincount(key[ok], minlength=len(self.n))
            self.part[f"s:{col}"] += np.bincount(key[ok], weights=v[ok], minlength=len(self.n))
            np.fmin.at(self.part[f"min:{col}"], key[ok], v[ok])
            np.fmax.at(self.part[f"max:{col}"], key[ok], v[ok])
        after = self._rows(touched)
        # per touched key (in order of first appearance): -U old, +U new; or +I for a new key
        pos_after = np.arange(len(touched)) * 2 + 1
        pos_before = np.flatnonzero(existed) * 2
        out = pd.concat([before.assign(**{OP: UPDATE_BEFORE}), after.assign(
            **{OP: np.where(existed, UPDATE_AFTER, INSERT)})], ignore_index=True)
        order = np.argsort(np.concatenate([pos_before, pos_after]), kind="stable")
        out = out.iloc[order].reset_index(drop=True)
        return out[self.columns]

    def _rows(self, ids: np.ndarray) -> pd.DataFrame:
        """The current result rows (keys and aggregates) of key ids ``ids``."""
        cols: dict[str, object] = {}
        for c, s in self.keys.decode(ids).items():
            cols[c] = s.to_numpy() if len(ids) else pd.Series([], dtype=self.key_dtypes.get(c, object))
        for spec in self.specs:
            col = spec.column
            cnt = self.part[f"c:{col}"][ids] if f"c:{col}" in self.part else np.zeros(len(ids))
            if spec.func == "size":
                cols[spec.name] = self.n[ids].astype("int64")
            elif spec.func == "count":
                cols[spec.name] = cnt.astype("int64")
            else:
                raw = {"sum": self.part[f"s:{col}"][ids], "min": self.part[f"min:{col}"][ids],
                       "max": self.part[f"max:{col}"][ids]}
                if spec.func == "mean":
                    with np.errstate(invalid="ignore", divide="ignore"):
                        mean = np.where(cnt > 0, raw["sum"] / np.maximum(cnt, 1), np.nan)
                    cols[spec.name] = sql_mean(mean, self.flink_types and col in self.int_columns)
                    continue
                value = np.where(cnt > 0, raw[str(spec.func)], np.nan)
                if col in self.int_columns and (cnt > 0).all():
                    value = value.astype("int64")
                cols[spec.name] = value
        return pd.DataFrame(cols, columns=[*self.by, *(s.name for s in self.specs)])

    def current(self) -> pd.DataFrame:
        """The current aggregate of every key (the materialised result)."""
        ids = np.flatnonzero(self.n > 0) if len(self.n) else np.zeros(0, dtype="int64")
        return self._rows(ids)

    def empty_output(self) -> pd.DataFrame:
        """A zero-row frame with the output schema."""
        out = {OP: pd.Series([], dtype=object)}
        for c in self.by:
            out[c] = pd.Series([], dtype=self.key_dtypes.get(c, object))
        for s in self.specs:
            out[s.name] = pd.Series([], dtype="int64" if s.func in ("count", "size") else "float64")
        return pd.DataFrame(out)

    def snapshot_node(self, limit: int | None = 50):
        snap = super().snapshot_node(limit)
        table = self.current()
        state: GroupByState = {"by": list(self.by), "keys": int((self.n > 0).sum()),
                               "aggregates": [s.label() for s in self.specs], "table": records(table, limit),
                               "truncated": limit is not None and len(table) > limit}
        snap["state"] = dict(state)
        return snap

    def save_state(self) -> dict:
        return {"keys": self.keys.export(), "n": self.n.tolist(),
                "part": {k: [None if np.isnan(x) else float(x) for x in v.tolist()] for k, v in self.part.items()},
                "int_columns": list(self.int_columns), "key_dtypes": dict(self.key_dtypes)}

    def load_state(self, state: dict) -> None:
        self.keys = KeyIndex(self.by)
        self.keys.load(state["keys"])
        self.n = np.asarray(state["n"], dtype="int64")
        self.part = {k: np.array([np.nan if x is None else x for x in v], dtype="float64")
                     for k, v in state["part"].items()}
        self.int_columns = list(state["int_columns"])
        self.key_dtypes = dict(state["key_dtypes"])


__all__ = ["GroupAgg", "Grouped", "frame_from_state", "frame_state", "groupby"]
