"""What every join shares: build-time checks, key codes, output columns and NULL padding.

>>> import pandas as pd
>>> cols = JoinColumns(["ts", "k", "v"], ["ts", "k", "w"], ["k"], ["k"], ("_x", "_y"))
>>> cols.output
['ts_x', 'k', 'v', 'ts_y', 'w']
>>> left = pd.DataFrame({"ts": [1, 2], "k": ["a", "b"], "v": [1.0, 2.0]})
>>> right = pd.DataFrame({"ts": [5], "k": ["a"], "w": [9]})
>>> cols.build(left, np.array([0, 1]), right, np.array([0, -1]))["w"].tolist()
[9.0, nan]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.node import find_meta
from ..core.snapshot import JoinSide
from ..core.timecol import NEG_INF, POS_INF, TimeMeta, format_time
from ..core.watermarks import Marks, attach
from ..sources.base import Source
from ..transforms import assign, has_watermark, watermark
from ..windows.keys import KeyIndex

HOWS = ("inner", "left", "right", "full")


def check_how(how: str) -> str:
    """``inner``, ``left``, ``right``, ``full`` (``outer`` is pandas' name for ``full``)."""
    how = "full" if how == "outer" else how
    if how not in HOWS:
        raise ValueError(f"how={how!r}: use one of 'inner', 'left', 'right', 'full' (or 'outer')")
    return how


def key_lists(on, left_on, right_on) -> tuple[list[str], list[str]]:
    """The key columns of each side from pandas' ``on`` / ``left_on`` + ``right_on``."""
    def names(v):
        return [v] if isinstance(v, str) else list(v or [])

    if on is not None and (left_on is not None or right_on is not None):
        raise ValueError("give on= or left_on= and right_on=, not both (as in pandas.merge)")
    left, right = (names(on), names(on)) if on is not None else (names(left_on), names(right_on))
    if not left or len(left) != len(right):
        raise ValueError("a join needs keys: on='k', or left_on=[...] and right_on=[...] of the same length")
    return left, right


def meta_of(stream, side: str) -> TimeMeta:
    meta, _ = find_meta(stream)
    if meta is None:
        raise ValueError(f"the {side} input has no event-time column; start it from a streamlab source "
                         "(sl.from_frame(df, time='ts'), ...)")
    return meta


def require_watermark(stream, side: str) -> None:
    """A streaming join needs a watermark on each input (it decides when rows are freed)."""
    if has_watermark(stream):
        return
    raise ValueError(f"the {side} input has no watermark: add one before the join, "
                     f"e.g. {side}.watermark('1s') (a join frees its state by the watermark)")


def watermark_of(stream):
    """The watermark operator ``stream`` descends from through single-input steps (None if none)."""
    s, seen = stream, set()
    while s is not None and id(s) not in seen:
        seen.add(id(s))
        if isinstance(s, watermark):
            return s
        ups = [u for u in getattr(s, "upstreams", []) if u is not None]
        if len(ups) != 1:
            return None
        s = ups[0]
    return None


def one_origin(left, right) -> bool:
    """Whether both inputs come from one watermark operator (one source split in two, e.g. by
    ``where``): then each source batch reaches the join as two parts, one per input."""
    w = watermark_of(left)
    return w is not None and w is watermark_of(right)


def check_keys(columns: list[str] | None, keys: list[str], side: str) -> None:
    if columns is None:
        return
    missing = [k for k in keys if k not in columns]
    if missing:
        raise ValueError(f"join key {missing[0]!r} is not a column of the {side} input "
                         f"(columns: {', '.join(map(str, columns))}); pass {side}_on= with its name")


def known_dtype(stream, column: str):
    """The dtype of ``column`` when it comes unchanged from a DataFrame source (else None)."""
    s = stream
    while s is not None:
        if isinstance(s, assign) and column in s.new_columns:
            return None
        if isinstance(s, Source):
            df = getattr(s, "df", None)
            return df[column].dtype if isinstance(df, pd.DataFrame) and column in df.columns else None
        ups = [u for u in getattr(s, "upstreams", []) if u is not None]
        if len(ups) != 1:
            return None
        s = ups[0]
    return None


def dtype_family(dtype) -> str:
    kind = np.dtype(dtype).kind if not isinstance(dtype, pd.api.extensions.ExtensionDtype) else dtype.kind
    return {"i": "number", "u": "number", "f": "number", "b": "bool", "M": "datetime", "m": "timedelta"}.get(
        kind, "text")


def check_key_dtypes(left_dtypes, right_dtypes, left_on, right_on) -> None:
    """Keys compare equal only within one family (numbers, text, datetimes ...)."""
    for lk, rk, ld, rd in zip(left_on, right_on, left_dtypes, right_dtypes):
        if ld is None or rd is None:
            continue
        if dtype_family(ld) != dtype_family(rd):
            raise TypeError(f"join key dtypes differ: left {lk!r} is {ld}, right {rk!r} is {rd}; cast one "
                            f"side first, e.g. .assign({rk}=lambda d: d[{rk!r}].astype({str(ld)!r}))")


class JoinKeys:
    """Shared integer codes for the key values of both sides (-1: a NULL key, which never matches).

    >>> jk = JoinKeys(1)
    >>> jk.encode(pd.DataFrame({"a": ["x", None]}), ["a"]).tolist(), jk.encode(pd.DataFrame({"b": ["x"]}), ["b"]).tolist()
    ([0, -1], [0])
    """

    def __init__(self, n: int):
        self.names = [f"k{i}" for i in range(n)]
        self.index = KeyIndex(self.names)

    def encode(self, df: pd.DataFrame, keys: list[str]) -> np.ndarray:
        if not len(df):
            return np.zeros(0, dtype="int64")
        cols = {n: df[k] for n, k in zip(self.names, keys)}
        null = np.zeros(len(df), dtype=bool)
        for c in cols.values():
            null |= c.isna().to_numpy()
        codes = np.full(len(df), -1, dtype="int64")
        if (~null).any():
            good = {n: c[~null] for n, c in cols.items()}
            codes[~null] = self.index.encode(good, int((~null).sum()))
        return codes

    def __len__(self) -> int:
        return len(self.index)


class SentMarks:
    """The watermark a join has passed downstream, and its output batches marked with it.

    A join emits rows with their own marks (so a window after it needs no watermark of its own),
    and an empty batch when only its watermark moved (as Flink forwards it).

    >>> sent = SentMarks()
    >>> sent.idle(pd.DataFrame({"x": []}), 5).attrs != {}, sent.idle(pd.DataFrame({"x": []}), 5), sent.end
    (True, None, 5)
    """

    __slots__ = ("end",)

    def __init__(self) -> None:
        self.end = NEG_INF

    def rows(self, out: pd.DataFrame, ms: np.ndarray, wm: np.ndarray, end: int) -> pd.DataFrame:
        """``out`` (non-empty) with per-row times ``ms`` and watermarks ``wm``; the batch's
        watermark never goes back."""
        self.end = max(self.end, int(end), int(wm.max()))
        return attach(out, Marks(ms, wm, self.end, out.index))

    def idle(self, empty: pd.DataFrame, end: int) -> pd.DataFrame | None:
        """An empty batch carrying watermark ``end``, or None when it would not move it."""
        if end <= self.end or end <= NEG_INF:
            return None
        self.end = int(end)
        none = np.zeros(0, dtype="int64")
        return attach(empty, Marks(none, none, self.end, empty.index))


class JoinColumns:
    """pandas ``merge`` output columns: left columns, then right ones; a key named alike on both
    sides appears once (filled from whichever side has it); other shared names get ``suffixes``."""

    def __init__(self, left: list[str], right: list[str], left_on: list[str], right_on: list[str],
                 suffixes=("_x", "_y"), extra: tuple[str, ...] = ()):
        self.left, self.right = list(left), list(right)
        self.shared_keys = [lk for lk, rk in zip(left_on, right_on) if lk == rk]
        clash = (set(left) & set(right)) - set(self.shared_keys)
        self.left_names = {c: c + suffixes[0] if c in clash else c for c in left}
        self.right_names = {c: c + suffixes[1] if c in clash else c for c in right if c not in self.shared_keys}
        self.extra = list(extra)
        self.output = [*self.left_names.values(), *self.right_names.values(), *self.extra]

    def build(self, left: pd.DataFrame, lpos: np.ndarray, right: pd.DataFrame, rpos: np.ndarray,
              extra: dict | None = None) -> pd.DataFrame:
        """Rows ``left[lpos]`` beside ``right[rpos]``; position -1 is a NULL-padded side."""
        lt = _take(left, self.left, lpos)
        rt = _take(right, self.right, rpos)
        cols: dict = {}
        for c, name in self.left_names.items():
            cols[name] = lt[c].array
        for c in self.shared_keys:  # a left row padded with NULL takes the right row's key
            pad = lpos < 0
            if pad.any():
                cols[self.left_names[c]] = lt[c].where(~pad, rt[c]).array
        for c, name in self.right_names.items():
            cols[name] = rt[c].array
        out = pd.DataFrame(cols, columns=self.output[:len(cols)], copy=False)
        for name, values in (extra or {}).items():
            out[name] = values
        return out


def _take(df: pd.DataFrame, columns: list[str], pos: np.ndarray) -> pd.DataFrame:
    frame = df[columns] if len(df.columns) != len(columns) or list(df.columns) != columns else df
    frame = frame.reset_index(drop=True)
    if len(pos) and (pos < 0).any():
        return frame.reindex(pos).reset_index(drop=True)
    return frame.take(pos).reset_index(drop=True)


def range_pairs(bkey: np.ndarray, blo: np.ndarray, bhi: np.ndarray, hkey: np.ndarray,
                hts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with ``hkey[j] == bkey[i] != -1`` and ``blo[i] <= hts[j] <= bhi[i]``, by i then time.

    Vectorised: held rows sorted by (key, time) once, two ``searchsorted`` per batch row.

    >>> i, j = range_pairs(np.array([0, 1, -1]), np.array([0, 0, 0]), np.array([10, 10, 10]),
    ...                    np.array([0, 0, 1, -1]), np.array([5, 11, 3, 4]))
    >>> i.tolist(), j.tolist()
    ([0, 1], [0, 2])
    """
    empty = np.zeros(0, dtype="int64")
    if not len(bkey) or not len(hkey):
        return empty, empty
    order = np.lexsort((hts, hkey))
    sk, st = hkey[order], hts[order]
    base = min(int(st.min()), int(blo.min()))
    span = max(int(st.max()), int(bhi.max())) - base + 2
    nkeys = int(max(sk.max(), bkey.max())) + 2
    if nkeys * span >= 2**62:  # keys x time range too wide for one int64 sort key: per key
        return _pairs_by_key(bkey, blo, bhi, sk, st, order)
    comp = (sk + 1) * span + (st - base)
    valid = bkey >= 0
    lo = np.searchsorted(comp, (bkey + 1) * span + (blo - base), "left")
    hi = np.searchsorted(comp, (bkey + 1) * span + (bhi - base), "right")
    counts = np.where(valid & (hi > lo), hi - lo, 0)
    return _expand(lo, counts, order)


def _expand(lo, counts, order):
    total = int(counts.sum())
    i = np.repeat(np.arange(len(counts)), counts)
    if not total:
        return i, np.zeros(0, dtype="int64")
    starts = np.cumsum(counts) - counts
    within = np.arange(total) - np.repeat(starts, counts)
    return i, order[np.repeat(lo, counts) + within]


def _pairs_by_key(bkey, blo, bhi, sk, st, order):
    lo = np.zeros(len(bkey), dtype="int64")
    hi = np.zeros(len(bkey), dtype="int64")
    first = np.searchsorted(sk, bkey, "left")
    last = np.searchsorted(sk, bkey, "right")
    for n in range(len(bkey)):
        a, b = first[n], last[n]
        lo[n] = a + np.searchsorted(st[a:b], blo[n], "left")
        hi[n] = a + np.searchsorted(st[a:b], bhi[n], "right")
    counts = np.where((bkey >= 0) & (hi > lo), hi - lo, 0)
    return _expand(lo, counts, order)


def side_state(role: str, wm: int, unit, rows_in: int, held: int, keys_held: dict[str, int], errors: int,
               **counters: int) -> JoinSide:
    """One input of a join as the snapshot declares it (:class:`~streamlab.core.snapshot.JoinSide`).

    >>> side_state("left", 1500, "ms", 3, 1, {"a": 1}, 0, matched=2)["watermark_text"]
    '1500'
    """
    finite = NEG_INF < wm < POS_INF
    out: JoinSide = {"role": role, "watermark": int(wm) if finite else None,
                     "watermark_text": format_time(int(wm), unit) if finite else None,
                     "rows_in": int(rows_in), "held": int(held), "keys_held": keys_held, "errors": int(errors)}
    out.update({k: int(v) for k, v in counters.items()})  # type: ignore[typeddict-item]
    return out


def key_text(values) -> str:
    """The text a key is shown and chosen by (several key columns joined by ", ").

    >>> key_text(("a", 1)), key_text("a")
    ('a, 1', 'a')
    """
    return ", ".join(map(str, values if isinstance(values, tuple) else (values,)))


def rows_per_key(rows: pd.DataFrame, on: list[str], limit: int | None) -> dict[str, int]:
    """Rows per key of ``rows`` (the ``limit`` keys holding most), by the key's text.

    A cheap snapshot (``limit=0``, the live view's when the inspector is closed) still gets the
    top 3 keys, which the graph shows.
    """
    if limit == 0:
        limit = 3
    if not len(rows):
        return {}
    counts = rows.groupby(on, dropna=False).size().sort_values(ascending=False, kind="stable")
    if limit is not None:
        counts = counts.head(limit)
    return {key_text(k): int(n) for k, n in counts.items()}


def rows_of_key(rows: pd.DataFrame, on: list[str], key) -> pd.DataFrame:
    """The rows of ``rows`` whose key columns ``on`` equal ``key`` (a value, a tuple, or its text)."""
    if key is None or not len(rows):
        return rows.reset_index(drop=True)
    if isinstance(key, str) and not (len(on) == 1 and rows[on[0]].dtype == object and (rows[on[0]] == key).any()):
        mask = np.array([key_text(k) == key for k in _key_tuples(rows, on)], dtype=bool)
        return rows[mask].reset_index(drop=True)
    values = key if isinstance(key, (tuple, list)) else (key,)
    mask = np.ones(len(rows), dtype=bool)
    for col, v in zip(on, values):
        mask &= (rows[col] == v).to_numpy(dtype=bool, na_value=False)
    return rows[mask].reset_index(drop=True)


def _key_tuples(rows: pd.DataFrame, on: list[str]):
    if len(on) == 1:
        return rows[on[0]].tolist()
    return list(rows[on].itertuples(index=False, name=None))


def to_plain(df: pd.DataFrame) -> dict:
    """A frame as JSON-able plain data (checkpoints): columns, dtypes, values (None for NULL)."""
    values = {}
    for c in df.columns:
        s = df[c]
        if s.dtype.kind == "M":
            ns = s.dt.tz_convert("UTC").dt.tz_localize(None) if getattr(s.dt, "tz", None) else s
            ints = ns.astype("datetime64[ns]").to_numpy().view("int64").tolist()
            values[str(c)] = [None if na else v for v, na in zip(ints, ns.isna().tolist())]
        else:
            values[str(c)] = [None if _isna(v) else (v.item() if hasattr(v, "item") else v) for v in s.tolist()]
    return {"columns": [str(c) for c in df.columns], "dtypes": [str(d) for d in df.dtypes], "values": values}


def from_plain(plain: dict) -> pd.DataFrame:
    """The frame ``to_plain`` wrote."""
    cols = {}
    for c, d in zip(plain["columns"], plain["dtypes"]):
        v = plain["values"][c]
        if d.startswith("datetime64"):
            s = pd.Series(pd.to_datetime(v, unit="ns"))
            cols[c] = (s.dt.tz_localize("UTC") if ", " in d else s).astype(d)
        else:
            cols[c] = pd.Series(v, dtype=d if not (d.startswith("int") and None in v) else "float64")
    return pd.DataFrame(cols, columns=plain["columns"])


def _isna(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False
