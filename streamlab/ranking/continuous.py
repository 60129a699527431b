"""Continuous Top-N and deduplication (no window): ``s.nlargest(3, "price", by="k")``,
``s.drop_duplicates("user", keep="last")`` give changelogs; ``s.drop_duplicates("user")``
(keep first, by event time) is append-only.

- Top-N and keep-last: every row counts, late or not; the result's final state equals Flink's.
  Only the best ``n`` rows per key are kept. A changed Top-N emits ``-D`` for the row that left
  and ``+I`` for the row that entered; a replaced keep-last row emits ``-U`` and ``+U``.
- Keep-first (DESIGN §2b): a row with ``ts < W_i`` is late; the earliest row per key (first
  arrival among equal times) is emitted once the watermark reaches it and never changes; later
  rows of that key are duplicates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.node import Node
from ..core.snapshot import DedupState, RankState
from ..core.timecol import POS_INF
from ..core.watermarks import Marks
from ..windows.keys import KeyIndex
from .changelog import DELETE, INSERT, OP, UPDATE_AFTER, UPDATE_BEFORE
from .frames import EventClock, frame_from_state, frame_state, late_frame, records
from .groupby import check_columns, key_list
from .order import Order, order_values, ranks_in_order, sorted_positions, top_positions
from .windowrank import RANK

_INTERNAL = ["__key", "__seq", "__ord"]


class KeyedRank(Node):
    """Shared by the continuous rank operators: key ids, arrival numbers, the kept rows."""

    result_operator = True

    def __init__(self, upstream: Node, by: list[str], order: Order, rank_column: bool = False):
        super().__init__(upstream)
        self.by = by
        self.order = order
        self.rank_column = rank_column  # a rownum column, as Flink gives when the query selects it
        self.reset_state()

    def reset_state(self) -> None:
        super().reset_state()
        self.keys = KeyIndex(self.by)
        self.seq = 0
        self.kept = pd.DataFrame()
        self.schema: dict[str, str] = {}

    def _tag(self, df: pd.DataFrame, ms: np.ndarray | None) -> pd.DataFrame:
        """``df`` with key ids, arrival numbers and order values in front."""
        n = len(df)
        if not self.schema:
            self.schema = {str(c): str(t) for c, t in df.dtypes.items()}
        seq = np.arange(self.seq, self.seq + n, dtype="int64")
        self.seq += n
        ordv = order_values(None if self.order.by_time else df[self.order.column], ms if self.order.by_time else None)
        body = df.reset_index(drop=True)
        body.attrs.clear()
        tags = pd.DataFrame({"__key": self.keys.encode(df), "__seq": seq, "__ord": ordv})
        return pd.concat([tags, body], axis=1)

    def _missing(self, df: pd.DataFrame) -> bool:
        need = [*self.by, *([] if self.order.by_time else [self.order.column])]
        missing = [c for c in need if c not in df.columns]
        if missing:
            self.send_errors(df, f"missing column {missing[0]!r}")
        return bool(missing)

    def body_columns(self) -> list[str]:
        return list(self.schema) or list(self.input_columns() or [])

    def ranks(self, rows: pd.DataFrame) -> np.ndarray:
        """The 1-based rank of each tagged row within its key (as ``rownum``)."""
        key = rows["__key"].to_numpy()
        order = sorted_positions(key, rows["__ord"].to_numpy(), rows["__seq"].to_numpy(), self.order.descending,
                                 self.order.tie_last)
        rank = np.empty(len(rows), dtype="int64")
        rank[order] = ranks_in_order(key[order])
        return rank

    def _with_rank(self, rows: pd.DataFrame, rank) -> pd.DataFrame:
        return rows.assign(**{RANK: rank}) if self.rank_column else rows

    def snapshot_node(self, limit: int | None = 50):
        """State: the kept rows per key in rank order (``rank`` 1 first), how many, how many keys."""
        snap = super().snapshot_node(limit)
        kept = self.kept
        if len(kept):
            pos = sorted_positions(kept["__key"].to_numpy(), kept["__ord"].to_numpy(), kept["__seq"].to_numpy(),
                                   self.order.descending, self.order.tie_last)
            kept = kept.iloc[pos].reset_index(drop=True)
            first = np.r_[True, kept["__key"].to_numpy()[1:] != kept["__key"].to_numpy()[:-1]]
            start = np.maximum.accumulate(np.where(first, np.arange(len(kept)), 0))
            kept.insert(0, "rank", np.arange(len(kept)) - start + 1)
        kept = kept.drop(columns=_INTERNAL, errors="ignore")
        state: RankState = {"by": list(self.by), "order": self.order.label(), "n": self.order.n,
                            "keep_last": bool(self.order.tie_last), "kept_rows": len(self.kept),
                            "kept": records(kept, limit), "keys": len(self.keys) if self.by else 1}
        snap["state"] = dict(state)
        return snap

    def save_state(self) -> dict:
        return {"keys": self.keys.export(), "seq": int(self.seq), "kept": frame_state(self.kept),
                "schema": dict(self.schema)}

    def load_state(self, state: dict) -> None:
        self.keys = KeyIndex(self.by)
        self.keys.load(state["keys"])
        self.seq = int(state["seq"])
        self.kept = frame_from_state(state["kept"])
        self.schema = dict(state["schema"])


class ContinuousRank(KeyedRank):
    """Top-N per key, or keep-last deduplication (``n=1``, latest time): a changelog."""

    kind = "rank"

    def __init__(self, upstream: Node, by: list[str], order: Order, rank_column: bool = False):
        super().__init__(upstream, by, order, rank_column)
        cols = upstream.columns if isinstance(upstream, Node) else None
        self.columns = None if cols is None else [OP, *cols, *([RANK] if rank_column else [])]

    def label(self) -> str:
        by = f" per {', '.join(self.by)}" if self.by else ""
        what = "last row" if self.order.tie_last else self.order.label()
        return f"{what}{by}"

    def on_batch(self, df: pd.DataFrame, port: int, marks: Marks | None):
        if self._missing(df) or not len(df):
            return None
        ms = None
        if self.order.by_time:
            ms = marks.ms if marks is not None else None
            if ms is None:
                from ..core.timecol import event_ms

                ms, ok = event_ms(df[self.meta.column], self.meta.unit)
                if not ok.all():
                    self.send_errors(df[~ok], f"time column {self.meta.column!r} is missing or unparseable")
                    df, ms = df[ok], ms[ok]
        new = self._tag(df, ms)
        both = new if not len(self.kept) else pd.concat([self.kept, new], ignore_index=True)
        top = top_positions(both["__key"].to_numpy(), both["__ord"].to_numpy(), both["__seq"].to_numpy(),
                            self.order.n, self.order.descending, self.order.tie_last)
        kept = both.iloc[np.sort(top)].reset_index(drop=True)
        old_seq = self.kept["__seq"].to_numpy() if len(self.kept) else np.zeros(0, dtype="int64")
        gone = self.kept[~np.isin(old_seq, kept["__seq"].to_numpy())] if len(self.kept) else new.iloc[:0]
        came = kept[~np.isin(kept["__seq"].to_numpy(), old_seq)]
        old = self.kept
        self.kept = kept
        if not len(came) and not len(gone):
            return None
        if self.rank_column and self.order.n > 1:
            return self._slot_changes(old, kept)
        if self.order.n == 1:  # one row per key: a replacement is an update
            replaced = np.isin(came["__key"].to_numpy(), gone["__key"].to_numpy())
            before = gone.assign(**{OP: UPDATE_BEFORE, "__pos": gone["__key"].map(
                dict(zip(came["__key"], range(len(came))))).to_numpy(dtype="float64") * 2})
            after = came.assign(**{OP: np.where(replaced, UPDATE_AFTER, INSERT), "__pos": np.arange(len(came)) * 2 + 1.0})
            out = pd.concat([before, after], ignore_index=True).sort_values("__pos", kind="stable")
        else:
            out = pd.concat([gone.assign(**{OP: DELETE}), came.assign(**{OP: INSERT})], ignore_index=True)
        return self._with_rank(out, 1)[self.out_columns()].reset_index(drop=True)

    def out_columns(self) -> list[str]:
        return [OP, *self.body_columns(), *([RANK] if self.rank_column else [])]

    def _slot_changes(self, old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
        """Top-N with ``rownum``, as Flink emits it: per (key, rownum) slot whose row changed, ``-U``
        of the row it held and ``+U`` of its new row, or ``+I`` for a slot that was empty."""
        before = old.assign(**{RANK: self.ranks(old)}) if len(old) else new.iloc[:0].assign(**{RANK: 0})
        after = new.assign(**{RANK: self.ranks(new)}).sort_values(["__key", RANK], kind="stable")
        both = after.merge(before[["__key", RANK, "__seq"]], on=["__key", RANK], how="left", suffixes=("", "__old"))
        changed = both["__seq"].to_numpy() != both["__seq__old"].to_numpy(dtype="float64", na_value=-1)
        after = after.reset_index(drop=True)
        after, held = after[changed], both["__seq__old"][changed].notna().to_numpy()
        slots = before.set_index(["__key", RANK])
        retract = slots.loc[list(zip(after["__key"][held], after[RANK][held]))].reset_index() if held.any() \
            else before.iloc[:0]
        parts = [retract.assign(**{OP: UPDATE_BEFORE, "__pos": np.flatnonzero(held) * 2.0}),
                 after.assign(**{OP: np.where(held, UPDATE_AFTER, INSERT), "__pos": np.arange(len(after)) * 2.0 + 1})]
        out = pd.concat(parts, ignore_index=True).sort_values("__pos", kind="stable")
        return out[self.out_columns()].reset_index(drop=True)

    def current(self) -> pd.DataFrame:
        """The current result: the kept rows."""
        if not len(self.kept):
            return self.empty_output().drop(columns=OP)
        return self._with_rank(self.kept, self.ranks(self.kept))[self.out_columns()[1:]].reset_index(drop=True)

    def empty_output(self) -> pd.DataFrame:
        out = pd.DataFrame({OP: pd.Series([], dtype=object)})
        for c in self.body_columns():
            out[c] = pd.Series([], dtype=self.schema.get(c, "object"))
        if self.rank_column:
            out[RANK] = pd.Series([], dtype="int64")
        return out


class FirstByTime(KeyedRank):
    """Keep-first deduplication by event time: append-only, late rows to ``late``."""

    kind = "dedup"

    def __init__(self, upstream: Node, by: list[str], rank_column: bool = False):
        super().__init__(upstream, by, Order(upstream.meta.column, False, by_time=True), rank_column)
        self.columns = None if upstream.columns is None else [*upstream.columns, *([RANK] if rank_column else [])]
        self.late = self.side("late")

    def reset_state(self) -> None:
        super().reset_state()
        self.clock = EventClock()
        self.done: set[int] = set()
        self.duplicates = 0

    def label(self) -> str:
        return f"first row per {', '.join(self.by) or '(all)'} by {self.order.column}"

    def on_batch(self, df: pd.DataFrame, port: int, marks: Marks | None):
        if self._missing(df):
            return None
        df, ms, wm, end = self.clock.read(self, df, marks)
        if len(df):
            late = ms < wm
            if late.any():
                self.counters.late += int(late.sum())
                self.late.push(late_frame(df[late], wm[late], self.meta.unit, 1,
                                          "late: event time before the watermark (keep-first deduplication)"))
                df, ms = df[~late], ms[~late]
            new = self._tag(df, ms)
            fresh = ~np.isin(new["__key"].to_numpy(), list(self.done))
            self.duplicates += int((~fresh).sum())
            new = new[fresh]
            both = new if not len(self.kept) else pd.concat([self.kept, new], ignore_index=True)
            top = top_positions(both["__key"].to_numpy(), both["__ord"].to_numpy(), both["__seq"].to_numpy(), 1, False)
            self.duplicates += len(both) - len(top)  # rows that lost to an earlier one of their key
            self.kept = both.iloc[np.sort(top)].reset_index(drop=True)
        return self._release(end)

    def _release(self, wm: int) -> pd.DataFrame | None:
        if not len(self.kept):
            return None
        due = self.kept["__ord"].to_numpy() <= wm
        if not due.any():
            return None
        out = self.kept[due].sort_values(["__ord", "__seq"], kind="stable")
        self.kept = self.kept[~due].reset_index(drop=True)
        self.done.update(out["__key"].tolist())
        return self._with_rank(out, 1)[self.out_columns()].reset_index(drop=True)

    def on_flush(self) -> None:
        out = self._release(POS_INF)
        if out is not None:
            self.emit_out(out)

    def out_columns(self) -> list[str]:
        return [*self.body_columns(), *([RANK] if self.rank_column else [])]

    def empty_output(self) -> pd.DataFrame:
        out = pd.DataFrame({c: pd.Series([], dtype=self.schema.get(c, "object")) for c in self.body_columns()})
        if self.rank_column:
            out[RANK] = pd.Series([], dtype="int64")
        return out

    def snapshot_node(self, limit: int | None = 50):
        snap = super().snapshot_node(limit)
        rank = snap["state"]
        state: DedupState = {"by": rank["by"], "order": rank["order"], "n": rank["n"], "keep_last": rank["keep_last"],
                             "kept_rows": rank["kept_rows"], "kept": rank["kept"], "keys": rank["keys"],
                             "emitted_keys": len(self.done), "duplicates": self.duplicates,
                             "late_ledger": records(self.late.ledger(20))}
        snap["state"] = dict(state)
        return snap

    def save_state(self) -> dict:
        return {**super().save_state(), "clock": self.clock.save(), "done": sorted(int(k) for k in self.done),
                "duplicates": int(self.duplicates)}

    def load_state(self, state: dict) -> None:
        super().load_state(state)
        self.clock.load(state["clock"])
        self.done = set(state["done"])
        self.duplicates = int(state["duplicates"])


def _by(self, by) -> list[str]:
    keys = [] if by is None else key_list(by)
    check_columns(self.columns, keys, "by")
    return keys


def _rank(self, n, column, by, descending: bool, rownum: bool = False) -> ContinuousRank:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive whole number of rows, got {n!r}")
    if not isinstance(column, str):
        raise TypeError(f"the column to rank by must be a column name, got {column!r}")
    check_columns(self.columns, [column], "nlargest" if descending else "nsmallest")
    return ContinuousRank(self, _by(self, by), Order(column, descending, n=n), rank_column=_flag(rownum))


def _flag(rownum) -> bool:
    if not isinstance(rownum, bool):
        raise TypeError(f"rownum= takes True or False, got {rownum!r}")
    return rownum


@Node.register_api()
def nlargest(self, n: int, columns: str, by=None, rownum: bool = False) -> ContinuousRank:
    """Continuous Top-N: the ``n`` rows with the largest ``columns`` per ``by`` key, as a changelog.
    ``rownum=True`` adds each row's rank, and a row whose rank changes is updated (Flink's Top-N
    when the query selects ``rownum``).

    >>> import streamlab as sl, pandas as pd
    >>> df = pd.DataFrame({"ts": [0, 1, 2], "k": ["a", "a", "a"], "p": [5, 9, 7]})
    >>> sl.from_frame(df, time="ts", unit="s", batch_size=1).nlargest(1, "p", by="k").collect()
       op  ts  k  p
    0  +I   0  a  5
    1  -U   0  a  5
    2  +U   1  a  9
    """
    return _rank(self, n, columns, by, True, rownum)


@Node.register_api()
def nsmallest(self, n: int, columns: str, by=None, rownum: bool = False) -> ContinuousRank:
    """Continuous Top-N by the smallest values (see ``nlargest``)."""
    return _rank(self, n, columns, by, False, rownum)


@Node.register_api()
def drop_duplicates(self, subset=None, keep: str = "first", rownum: bool = False) -> Node:
    """Deduplicate per ``subset`` key by event time: ``keep="first"`` is append-only (late rows to
    ``late``), ``keep="last"`` a changelog. ``subset=None`` means every column but the time.
    ``rownum=True`` adds a ``rownum`` column, always 1 (as Flink when the query selects it).

    >>> import streamlab as sl, pandas as pd
    >>> df = pd.DataFrame({"ts": [0, 1, 2], "user": ["a", "b", "a"]})
    >>> sl.from_frame(df, time="ts", unit="s").drop_duplicates("user").collect()
       ts user
    0   0    a
    1   1    b
    """
    if keep not in ("first", "last"):
        raise ValueError(f"keep must be 'first' or 'last', got {keep!r}")
    if subset is None:
        if self.columns is None:
            raise ValueError("drop_duplicates() needs subset= when the columns are not known")
        subset = [c for c in self.columns if c != self.meta.column]
    keys = _by(self, subset)
    if keep == "first":
        return FirstByTime(self, keys, rank_column=_flag(rownum))
    return ContinuousRank(self, keys, Order(self.meta.column, True, tie_last=True, by_time=True),
                          rank_column=_flag(rownum))
