"""Session windows, per group key, merged on overlap or touch (DESIGN.md §2).

Rows are merged in bulk (sort by key and start, split where a start passes the running end).
That bulk result equals the record-by-record semantics unless a row would reach a session that
fires before it arrives, or the row is behind the watermark. Such keys are checked link by link
and, when needed, replayed record by record, exactly, with the per-row watermarks.
"""

from __future__ import annotations

import numpy as np

from ..core.timecol import NEG_INF
from .aggregates import Partials, concat
from .rawstore import RAW_TS, RawStore


class SessionLogic:
    """State and logic of one Session operator: open sessions as columns (key, start, end, partials)."""

    def __init__(self, plan, fields, holistic_columns, lateness: int = 0):
        self.plan = plan
        self.gap = plan.gap
        self.fields = fields
        self.lateness = lateness
        self.key = np.zeros(0, dtype="int64")
        self.start = np.zeros(0, dtype="int64")
        self.end = np.zeros(0, dtype="int64")
        self.fired = np.zeros(0, dtype=bool)
        self.dirty = np.zeros(0, dtype=bool)
        self.rev = np.zeros(0, dtype="int64")
        self.part = Partials.empty(fields, 0)
        self.raw = RawStore(holistic_columns) if holistic_columns else None
        self.value_dtypes: dict = {}

    def __len__(self) -> int:
        return len(self.key)

    def widen(self, column: str, dtype) -> None:
        """Store ``column``'s partials as ``dtype`` from now on (its type widened, e.g. int to float)."""
        self.value_dtypes[column] = dtype
        self.part.cast(column, dtype)

    # --- bulk path ------------------------------------------------------------------------
    def process(self, ts, wm, key, values, seq, wm_end, nkeys, emit):
        """Add one batch (arrival order). Returns (windows missed per row, windows per row)."""
        n = len(ts)
        missed = np.zeros(n, dtype="int64")
        if n:
            self.fire(int(wm[0]), nkeys, emit)
        for col, v in values.items():
            if v.dtype == object:
                self.value_dtypes[col] = np.dtype(object)
        rows = Partials.from_rows(self.fields, values, seq, n)
        own_late = ts + self.gap - 1 + self.lateness <= wm
        slow = np.zeros(max(nkeys, 1), dtype=bool)
        slow[key[own_late]] = True
        fast_rows = np.flatnonzero(~slow[key])
        fast_state = np.flatnonzero(~slow[self.key]) if len(self.key) else np.zeros(0, dtype="int64")
        items = self._items(ts, key, fast_rows, fast_state)
        broken = self._bad_links(wm, *items)
        if len(broken):
            slow[broken] = True
            keep = ~slow[items[0]]
            items = tuple(a[keep] for a in items)
            fast_rows = fast_rows[~slow[key[fast_rows]]]
        slow_state = np.flatnonzero(slow[self.key]) if len(self.key) else np.zeros(0, dtype="int64")
        slow_rows = np.flatnonzero(slow[key])
        kept = self._merge_bulk(rows, items, fast_state, slow_state)
        self._keep_raw(fast_rows, key, ts, values)
        if len(slow_rows):
            missed[slow_rows] = self._replay(ts, wm, key, rows, values, slow_rows, kept, emit)
        self.fire(wm_end, nkeys, emit)
        return missed, np.ones(n, dtype="int64")

    def _items(self, ts, key, fast_rows, fast_state):
        """State sessions and rows as intervals, sorted by (key, start).

        Returns (key, start, end, arrival, source) where arrival is the row index (-1 for a state
        session) and source indexes the concatenation [state sessions, rows].
        """
        k = np.concatenate([self.key[fast_state], key[fast_rows]])
        s = np.concatenate([self.start[fast_state], ts[fast_rows]])
        e = np.concatenate([self.end[fast_state], ts[fast_rows] + self.gap])
        arr = np.concatenate([np.full(len(fast_state), -1, dtype="int64"), fast_rows])
        if len(k):
            lo = int(s.min())
            span = int(s.max()) - lo + 1
            if span * (int(k.max()) + 1) < 2**62:
                order = np.argsort(k * span + (s - lo))
            else:
                order = np.lexsort((s, k))
        else:
            order = np.zeros(0, dtype="int64")
        return k[order], s[order], e[order], arr[order], order

    @staticmethod
    def _running_end(k, e):
        """Running max of ``e`` that restarts at each key (input sorted by key)."""
        if not len(k):
            return e.copy()
        lo = e.min()
        span = int(e.max() - lo) + 1
        rank = np.concatenate(([0], np.cumsum(k[1:] != k[:-1])))
        if span * (int(rank[-1]) + 1) < 2**62:
            adj = rank * span + (e - lo)
            return np.maximum.accumulate(adj) - rank * span + lo
        out = e.copy()
        for r0, r1 in _runs(rank):
            out[r0:r1] = np.maximum.accumulate(e[r0:r1])
        return out

    def _groups(self, k, s, e):
        run = self._running_end(k, e)
        new = np.ones(len(k), dtype=bool)
        if len(k) > 1:
            new[1:] = (k[1:] != k[:-1]) | (s[1:] > run[:-1])
        return np.cumsum(new) - 1, new, run

    def _bad_links(self, wm, k, s, e, arr, order):
        """Keys whose bulk merge would join a session that fires before the joining row arrives."""
        if len(k) < 2:
            return np.zeros(0, dtype="int64")
        gid, new, run = self._groups(k, s, e)
        j = np.flatnonzero(~new)
        if not len(j):
            return np.zeros(0, dtype="int64")
        idx = np.arange(len(k))
        setter = np.maximum.accumulate(np.where(e == run, idx, -1))
        h = setter[j - 1]
        later = np.maximum(arr[j], arr[h])
        earlier_end = np.where(arr[j] < arr[h], e[j], e[h])
        bad = wm[later] >= earlier_end - 1 + self.lateness
        return np.unique(k[j[bad]]) if bad.any() else np.zeros(0, dtype="int64")

    def _merge_bulk(self, rows, items, fast_state, slow_state):
        """Merge fast rows into fast state sessions; keep slow-key sessions aside. Returns those."""
        slow_part = self.part.take(slow_state)
        slow_cols = (self.key[slow_state], self.start[slow_state], self.end[slow_state],
                     self.fired[slow_state], self.dirty[slow_state], self.rev[slow_state])
        k, s, e, arr, order = items
        nstate = len(fast_state)
        gid, new, _ = self._groups(k, s, e)
        groups = int(gid[-1]) + 1 if len(gid) else 0
        from_state = order < nstate
        src_state = fast_state[order[from_state]]
        row_idx = arr[~from_state]
        if len(src_state):
            items_part = concat([self.part.take(src_state), rows.take(row_idx)])
            item_gid = np.concatenate([gid[from_state], gid[~from_state]])
        else:
            items_part = rows.take(row_idx)
            item_gid = gid
        merged = items_part.reduce(item_gid, groups) if groups else Partials.empty(self.fields, 0, self.value_dtypes)
        g_fired = np.zeros(groups, dtype=bool)
        g_dirty = np.zeros(groups, dtype=bool)
        g_rev = np.full(groups, -1, dtype="int64")
        if len(src_state):
            sg = gid[from_state]
            g_fired[sg[self.fired[src_state]]] = True
            g_dirty[sg[self.dirty[src_state]]] = True
            np.maximum.at(g_rev, sg, self.rev[src_state])
        g_rows = np.zeros(groups, dtype=bool)
        g_rows[gid[~from_state]] = True
        self.key = k[new]
        self.start = s[new]
        self.end = np.maximum.reduceat(e, np.flatnonzero(new)) if groups else e[:0]
        self.fired = g_fired
        self.dirty = g_dirty | (g_fired & g_rows)
        self.rev = g_rev
        self.part = merged
        return slow_part, slow_cols

    # --- exact record-by-record path for the few keys that need it ------------------------
    def _keep_raw(self, idx, key, ts, values):
        if self.raw is not None and len(idx):
            self.raw.append(key[idx], ts[idx], {c: values[c][idx] for c in self.raw.columns})

    def _replay(self, ts, wm, key, rows, values, slow_rows, kept, emit):
        slow_part, (sk, ss, se, sf, sd, sr) = kept
        by_key: dict[int, list] = {}
        for i in range(len(sk)):
            by_key.setdefault(int(sk[i]), []).append(
                [int(ss[i]), int(se[i]), slow_part.take([i]), bool(sf[i]), bool(sd[i]), int(sr[i])])
        missed = np.zeros(len(slow_rows), dtype="int64")
        gap, late = self.gap, self.lateness
        for pos, i in enumerate(slow_rows.tolist()):
            k, t, w = int(key[i]), int(ts[i]), int(wm[i])
            sessions = by_key.setdefault(k, [])
            sessions[:] = self._fire_list(k, sessions, w, emit)
            touching = [x for x in sessions if t <= x[1] and x[0] <= t + gap]
            start = min([t] + [x[0] for x in touching])
            end = max([t + gap] + [x[1] for x in touching])
            if end - 1 + late <= w:
                missed[pos] = 1
                continue
            part = rows.take([i])
            self._keep_raw(np.array([i]), key, ts, values)
            for x in touching:
                x[2].merge_into(np.array([0]), part)
                part = x[2]
            was_fired = any(x[3] for x in touching)
            rev = max([x[5] for x in touching], default=-1)
            rest = [x for x in sessions if not any(x is y for y in touching)]
            sessions[:] = rest + [[start, end, part, was_fired, was_fired, rev]]
        for k, sessions in by_key.items():
            for x in sessions:
                self._append(k, *x)
        return missed

    def _fire_list(self, k, sessions, wm, emit):
        keep = []
        for x in sessions:
            start, end, part, fired, dirty, rev = x
            if end - 1 <= wm and (not fired or dirty):
                x[5] = rev + 1
                x[3], x[4] = True, False
                self._emit(np.array([start]), np.array([end]), np.array([k]), part,
                           np.array([x[5]]), emit)
            if end - 1 + self.lateness > wm:
                keep.append(x)
            elif self.raw is not None:  # forgotten: so are its raw rows (else they outlive the key)
                self._drop_raw(self.raw, np.array([k]), np.array([start]), np.array([end]))
        return keep

    def _append(self, k, start, end, part, fired, dirty, rev):
        self.key = np.append(self.key, k)
        self.start = np.append(self.start, start)
        self.end = np.append(self.end, end)
        self.fired = np.append(self.fired, fired)
        self.dirty = np.append(self.dirty, dirty)
        self.rev = np.append(self.rev, rev)
        self.part = concat([self.part, part]) if len(self.part) else part

    # --- firing ---------------------------------------------------------------------------
    def fire(self, wm: int, nkeys: int, emit) -> None:
        """Emit sessions with ``end - 1 <= wm`` (and updated ones, in lateness mode); forget old ones."""
        if wm <= NEG_INF or not len(self.key):
            return
        due = (self.end - 1 <= wm) & (~self.fired | self.dirty)
        if due.any():
            idx = np.flatnonzero(due)
            order = idx[np.lexsort((self.key[idx], self.start[idx]))]
            self.rev[order] += 1
            self._emit(self.start[order], self.end[order], self.key[order], self.part.take(order),
                       self.rev[order], emit)
            self.fired[order] = True
            self.dirty[order] = False
        keep = self.end - 1 + self.lateness > wm
        if not keep.all():
            gone = ~keep
            if self.raw is not None:
                self._drop_raw(self.raw, self.key[gone], self.start[gone], self.end[gone])
            for name in ("key", "start", "end", "fired", "dirty", "rev"):
                setattr(self, name, getattr(self, name)[keep])
            self.part = self.part.take(np.flatnonzero(keep))

    @staticmethod
    def _raw_groups(raw: RawStore, keys, starts, ends):
        rk, rt, rv = raw.select(lambda k, t: np.isin(k, keys))
        group = np.full(len(rk), -1, dtype="int64")
        for g, (k, s, e) in enumerate(zip(keys.tolist(), starts.tolist(), ends.tolist())):
            group[(rk == k) & (rt >= s) & (rt < e)] = g
        mine = group >= 0
        return group[mine], {c: v[mine] for c, v in rv.items()} | {RAW_TS: rt[mine]}

    @staticmethod
    def _drop_raw(raw: RawStore, keys, starts, ends):
        def gone(k, t):
            mask = np.zeros(len(k), dtype=bool)
            for kk, s, e in zip(keys.tolist(), starts.tolist(), ends.tolist()):
                mask |= (k == kk) & (t >= s) & (t < e)
            return mask
        raw.drop(gone)

    def _emit(self, starts, ends, keys, part, rev, emit, final=True):
        raw = self._raw_groups(self.raw, keys, starts, ends) if self.raw is not None else None
        emit(starts, ends, keys, part, raw, rev if self.lateness else None, final)

    def open_windows(self, nkeys: int):
        """Yield (start, end, key ids, partials) per open session (for snapshots)."""
        for i in np.flatnonzero(~self.fired).tolist():
            yield int(self.start[i]), int(self.end[i]), self.key[i:i + 1], self.part.take([i])

    def state_size(self) -> int:
        return len(self.key)

    # --- dead keys ------------------------------------------------------------------------
    def live_keys(self, nkeys: int) -> np.ndarray:
        """Mask of the key ids that still have a session (or raw rows)."""
        live = np.zeros(nkeys, dtype=bool)
        live[self.key] = True
        if self.raw is not None:
            live[self.raw.keys()] = True
        return live

    def compact(self, live: np.ndarray, remap: np.ndarray, nkeys: int) -> None:
        """Renumber key ids by ``remap`` (``KeyIndex.compact``); every session's key is live."""
        self.key = remap[self.key]
        if self.raw is not None:
            self.raw.remap_keys(remap)

    def save(self) -> dict:
        return {name: getattr(self, name).tolist() for name in ("key", "start", "end", "fired", "dirty", "rev")} | {
            "part": {k: v.tolist() for k, v in self.part.a.items()}}

    def load(self, state: dict) -> None:
        for name, dtype in (("key", "int64"), ("start", "int64"), ("end", "int64"), ("fired", bool),
                            ("dirty", bool), ("rev", "int64")):
            setattr(self, name, np.asarray(state[name], dtype=dtype))
        empty = Partials.empty(self.fields, 0, self.value_dtypes)
        self.part = Partials(self.fields, {k: np.asarray(v, dtype=empty.a[k].dtype) for k, v in state["part"].items()})


def _runs(rank):
    cuts = np.flatnonzero(np.diff(rank)) + 1
    bounds = [0, *cuts.tolist(), len(rank)]
    return list(zip(bounds[:-1], bounds[1:]))
