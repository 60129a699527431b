"""Tumble, Hop and Cumulate windows, built from shared panes (slices) of partial aggregates.

A row is added once, to the partial of its pane. A window is the merge of the panes it
covers, so a Hop row is never copied into ``size/slide`` windows.

Semantics (DESIGN.md §2): a row with watermark ``W_i`` counts in window ``[s, e)`` only if
``e - 1 > W_i``; a window fires once ``W >= e - 1``. Within a batch, the rows are processed in
segments during which no window fires, so results do not depend on how the input is batched.
"""

from __future__ import annotations

import numpy as np

from ..core.timecol import NEG_INF
from .aggregates import Partials, reduced_rows
from .rawstore import RAW_TS, RawStore


class SlicedLogic:
    """State and logic of one Tumble/Hop/Cumulate operator (all keys)."""

    def __init__(self, plan, fields, holistic_columns, lateness: int = 0):
        self.plan = plan
        self.kind, self.size, self.pane, self.offset = plan.kind, plan.size, plan.pane, plan.offset
        self.fields = fields
        self.lateness = lateness
        self.panes: dict[int, Partials] = {}
        self.fired_until = NEG_INF  # every window with end <= fired_until has fired
        self.raw = RawStore(holistic_columns) if holistic_columns else None
        self.revisions: dict[tuple[int, int], int] = {}  # (window end, key) -> revision (lateness mode)
        self.value_dtypes: dict = {}

    def widen(self, column: str, dtype) -> None:
        """Store ``column``'s partials as ``dtype`` from now on (its type widened, e.g. int to float)."""
        self.value_dtypes[column] = dtype
        for part in self.panes.values():
            part.cast(column, dtype)

    # --- window arithmetic (all vectorised, floor mod) -------------------------------------
    def pane_of(self, ts):
        if self.offset:
            return ts - np.mod(ts - self.offset, self.pane)
        return ts - np.mod(ts, self.pane)

    def grid_floor(self, t: int) -> int:
        return t - (t - self.offset) % self.pane

    def period_start(self, t):
        return t - np.mod(t - self.offset, self.size)

    def start_of(self, end: int) -> int:
        if self.kind == "cumulate":
            return int(self.period_start(end - 1))
        return end - self.size

    def last_end(self, pane_start):
        if self.kind == "cumulate":
            return self.period_start(pane_start) + self.size
        return pane_start + self.size

    def windows_of(self, ts: int) -> list[tuple[int, int]]:
        """All windows ``[start, end)`` containing ``ts`` (for teaching and tests)."""
        p = int(self.pane_of(np.int64(ts)))
        ends = range(p + self.pane, int(self.last_end(np.int64(p))) + 1, self.pane)
        return [(self.start_of(e), e) for e in ends]

    # --- processing -----------------------------------------------------------------------
    def process(self, ts, wm, key, values, seq, wm_end, nkeys, emit):
        """Add one batch (arrival order).

        Returns (windows missed per row, windows per row), or (None, None) when no row missed any.
        ``seq`` (arrival numbers) may be a callable that makes them, called only if needed.
        """
        q = (ts - self.offset) // self.pane if self.offset else ts // self.pane  # pane number
        p = q * self.pane
        if self.offset:
            p += self.offset
        if self.kind == "tumble" and not self.lateness:
            on = p + (self.size - 1) > wm
            if on.all():
                total, kept, missed = None, None, None
            else:
                total = np.ones(len(ts), dtype="int64")
                kept = on.astype("int64")
                missed = 1 - kept
        else:
            if self.kind == "cumulate":
                total = (self.last_end(p) - p) // self.pane
            else:
                total = np.full(len(ts), self.size // self.pane, dtype="int64")
            # first kept window index j (window end p + j*pane) must satisfy p + j*pane - 1 + L > W
            jmin = (wm + (1 - self.lateness) - p) // self.pane + 1
            np.maximum(jmin, 1, out=jmin)
            kept = total - jmin + 1
            np.clip(kept, 0, total, out=kept)
            missed = total - kept
            if not missed.any():
                total, kept, missed = None, None, None
        if len(ts):
            self.fire(int(wm[0]), nkeys, emit)
            first, last = (int(wm[0]) + 1 - self.offset) // self.pane, (int(wm[-1]) + 1 - self.offset) // self.pane
            if first == last:
                bounds = [0, len(ts)]
            elif 0 < last - first <= 64 and bool((wm[1:] >= wm[:-1]).all()):
                # watermarks rise (as a watermark() makes them): the rows where a pane's last window
                # fires are found by binary search for the few pane edges the batch crosses
                edges = np.arange(first + 1, last + 1, dtype="int64") * self.pane + (self.offset - 1)
                cuts = np.unique(np.searchsorted(wm, edges, side="left"))
                bounds = [0, *cuts[(cuts > 0) & (cuts < len(ts))].tolist(), len(ts)]
            else:
                epoch = (wm + 1 - self.offset) // self.pane
                bounds = [0, *(np.flatnonzero(np.diff(epoch)) + 1).tolist(), len(ts)]
        else:
            bounds = [0, 0]
        for a, b in zip(bounds[:-1], bounds[1:]):
            rows: slice | np.ndarray
            if kept is None:  # no row missed any window (kept and missed are None together)
                rows, any_rows = slice(a, b), b > a
            else:
                picked = np.flatnonzero(kept[a:b] > 0) + a
                rows, any_rows = picked, len(picked) > 0
            if any_rows:
                seq_rows = (lambda r=rows: seq()[r]) if callable(seq) else seq[rows]
                self._add(q[rows], key[rows], ts[rows], {c: v[rows] for c, v in values.items()},
                          seq_rows, nkeys)
                if self.lateness:
                    self._refire_updated(p[rows], key[rows], wm[rows], nkeys, emit)
            self.fire(int(wm[b]) if b < len(ts) else wm_end, nkeys, emit)
        return missed, total

    def _add(self, q, key, ts, values, seq, nkeys):
        """Merge rows into the partials of their panes (``q``: pane numbers)."""
        for col, v in values.items():
            if v.dtype == object:
                self.value_dtypes[col] = np.dtype(object)
        qmin, qmax = int(q.min()), int(q.max())
        n = len(q)
        combo = key if qmin == qmax else (q - qmin) * nkeys + key
        span = qmax - qmin + 1
        upanes = (np.arange(span) + qmin) * self.pane + self.offset
        groups = span * nkeys
        if groups <= max(4 * n, 1 << 16):
            part = reduced_rows(self.fields, values, seq, n, combo, groups)
            dense = all(kind in Partials.DENSE_KINDS for _, kind, _ in self.fields)
            for i, ps in enumerate(upanes.tolist()):
                sub = part.take(slice(i * nkeys, (i + 1) * nkeys))
                if dense and groups <= 4 * n:  # few groups per row: add whole key ranges, no gather
                    if sub.a["n"].any():
                        self._pane(ps, nkeys).merge_dense(sub)
                    continue
                present = np.flatnonzero(sub.a["n"])
                if len(present):
                    self._pane(ps, nkeys).merge_into(present, sub.take(present))
        else:
            ucombo, inv = np.unique(combo, return_inverse=True)
            part = reduced_rows(self.fields, values, seq, n, inv.reshape(-1), len(ucombo))
            pane_idx, keys = ucombo // nkeys, ucombo % nkeys
            for i in np.unique(pane_idx).tolist():
                sel = np.flatnonzero(pane_idx == i)
                self._pane(int(upanes[i]), nkeys).merge_into(keys[sel], part.take(sel))
        if self.raw is not None:
            self.raw.append(key, ts, {c: values[c] for c in self.raw.columns})

    def _pane(self, start: int, nkeys: int) -> Partials:
        pane = self.panes.get(start)
        if pane is None:
            pane = Partials.empty(self.fields, nkeys, self.value_dtypes)
        elif len(pane) < nkeys:
            pane = pane.grow(nkeys, self.value_dtypes)
        self.panes[start] = pane
        return pane

    def _refire_updated(self, p, key, wm, nkeys, emit):
        """Lateness mode: windows that already fired and got rows again re-emit, revision + 1."""
        touched: dict[int, set] = {}
        for ps, k, w in zip(p.tolist(), key.tolist(), wm.tolist()):
            for e in range(ps + self.pane, int(self.last_end(np.int64(ps))) + 1, self.pane):
                if e <= self.fired_until and e - 1 + self.lateness > w:
                    touched.setdefault(e, set()).add(k)
        for e in sorted(touched):
            self._emit_window(e, nkeys, emit, only_keys=np.array(sorted(touched[e]), dtype="int64"))

    def fire(self, wm: int, nkeys: int, emit) -> None:
        """Fire every window with ``end - 1 <= wm`` that has not fired yet, then forget old panes."""
        if wm <= NEG_INF:
            return
        limit = self.grid_floor(wm + 1)
        if limit > self.fired_until:
            for e in self._ends_between(self.fired_until, limit):
                self._emit_window(e, nkeys, emit)
            self.fired_until = limit
        self._purge(wm)

    def open_ends(self) -> list[int]:
        """Ends of windows that have rows and have not fired."""
        return self._ends_between(self.fired_until, None)

    def _ends_between(self, lo: int, hi: int | None) -> list[int]:
        ends: set[int] = set()
        for ps in self.panes:
            first = max(ps + self.pane, lo + self.pane)
            last = int(self.last_end(np.int64(ps)))
            if hi is not None:
                last = min(last, hi)
            ends.update(range(first, last + 1, self.pane))
        return sorted(ends)

    def window_partials(self, end: int, nkeys: int) -> Partials | None:
        """Merged partials of the window ending at ``end`` (one row per key), or None if empty."""
        start = self.start_of(end)
        covered = [self.panes[ps] for ps in sorted(self.panes) if start <= ps < end]
        if not covered:
            return None
        if len(covered) == 1:
            return covered[0].grow(nkeys, self.value_dtypes)
        acc = Partials.empty(self.fields, nkeys, self.value_dtypes)
        for pane in covered:
            acc.merge_into(np.arange(len(pane)), pane)
        return acc

    def _emit_window(self, end: int, nkeys: int, emit, only_keys=None, final: bool = True) -> None:
        part = self.window_partials(end, nkeys)
        if part is None:
            return
        keys = np.flatnonzero(part.a["n"]) if only_keys is None else only_keys
        if not len(keys):
            return
        start = self.start_of(end)
        raw = None
        if self.raw is not None:
            rkey, rts, rvals = self.raw.select(lambda k, t: (t >= start) & (t < end))
            lookup = np.full(max(nkeys, 1), -1, dtype="int64")
            lookup[keys] = np.arange(len(keys))
            group = lookup[rkey]
            mine = group >= 0
            raw = (group[mine], {c: v[mine] for c, v in rvals.items()} | {RAW_TS: rts[mine]})
        revision = None
        if self.lateness and final:
            revision = np.array([self.revisions.get((end, k), -1) + 1 for k in keys.tolist()], dtype="int64")
            for k, r in zip(keys.tolist(), revision.tolist()):
                self.revisions[(end, k)] = r
        n = len(keys)
        emit(np.full(n, start, dtype="int64"), np.full(n, end, dtype="int64"), keys, part.take(keys),
             raw, revision, final)

    def _purge(self, wm: int) -> None:
        for ps in [ps for ps in self.panes if int(self.last_end(np.int64(ps))) - 1 + self.lateness <= wm]:
            del self.panes[ps]
        if self.lateness and self.revisions:
            self.revisions = {k: r for k, r in self.revisions.items() if k[0] - 1 + self.lateness > wm}
        if self.raw is not None:
            oldest = min(self.panes) if self.panes else None
            self.raw.drop(lambda k, t: np.ones(len(t), bool) if oldest is None else t < oldest)

    def open_windows(self, nkeys: int):
        """Yield (start, end, key ids, partials) for every open window (for snapshots)."""
        for end in self.open_ends():
            part = self.window_partials(end, nkeys)
            if part is None:
                continue
            keys = np.flatnonzero(part.a["n"])
            if len(keys):
                yield self.start_of(end), end, keys, part.take(keys)

    def state_size(self) -> int:
        return sum(len(p) for p in self.panes.values())

    # --- dead keys ------------------------------------------------------------------------
    def live_keys(self, nkeys: int) -> np.ndarray:
        """Mask of the key ids that still have state (rows in an open pane, raw rows, revisions)."""
        live = np.zeros(nkeys, dtype=bool)
        for pane in self.panes.values():
            n = pane.a["n"]
            live[:len(n)] |= n > 0
        if self.raw is not None:
            live[self.raw.keys()] = True
        for _, k in self.revisions:
            live[k] = True
        return live

    def compact(self, live: np.ndarray, remap: np.ndarray, nkeys: int) -> None:
        """Keep the rows of key ids ``live`` only, renumbered by ``remap`` (``KeyIndex.compact``)."""
        for ps, pane in list(self.panes.items()):
            self.panes[ps] = pane.grow(nkeys, self.value_dtypes).take(live)
        if self.revisions:
            self.revisions = {(e, int(remap[k])): r for (e, k), r in self.revisions.items()}
        if self.raw is not None:
            self.raw.remap_keys(remap)

    def save(self) -> dict:
        """Full state as plain Python (checkpoints)."""
        return {
            "fired_until": int(self.fired_until),
            "panes": {str(ps): {k: v.tolist() for k, v in part.a.items()} for ps, part in self.panes.items()},
            "revisions": [[e, k, r] for (e, k), r in self.revisions.items()],
        }

    def load(self, state: dict) -> None:
        self.fired_until = int(state["fired_until"])
        self.panes = {}
        for ps, arrays in state["panes"].items():
            empty = Partials.empty(self.fields, 0, self.value_dtypes)
            self.panes[int(ps)] = Partials(self.fields, {
                k: np.asarray(v, dtype=empty.a[k].dtype if k in empty.a else None) for k, v in arrays.items()})
        self.revisions = {(e, k): r for e, k, r in state.get("revisions", [])}

