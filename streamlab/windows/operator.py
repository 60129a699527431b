"""The window operator: ``stream.window(spec, by=...).agg(name=(column, func), ...)``.

It validates its input (bad rows go to ``errors``), routes late rows to ``late``, and emits one
DataFrame of fired windows per input batch: group keys, ``window_start``, ``window_end``, then the
aggregates in the order given.
"""

from __future__ import annotations

import collections
import time

import numpy as np
import pandas as pd
import streamz

from ..core.batchcheck import batch_problem, unique_names
from ..core.columns import as_series, column_values, numbers
from ..core.durations import to_ms
from ..core.frames import frame as build_frame
from ..core.node import Node, Observed, SideOutput, find_meta
from ..core.snapshot import OpenWindow, OperatorSnapshot, WindowState, preview
from ..core.timecol import (
    NEG_INF,
    POS_INF,
    event_ms_checked,
    ms_to_values,
    time_reasons,
)
from ..core.watermarks import Marks, per_row_watermark
from .aggregates import AggSpec, holistic_values, parse_aggs, partial_fields, widened
from .keys import KeyIndex
from .logic import make_logic
from .rawstore import RAW_TS
from .sliced import SlicedLogic
from .specs import Cumulate, Hop, Session, SessionPlan, Tumble
from .zone import bound_dtype, bound_text, bounds, check_unit, to_local


@streamz.Stream.register_api(attribute_name="window")
def window(self, spec, by=None, *, allowed_lateness=None, emit_early=None) -> Windowed:
    """Group the stream into event-time windows; finish with ``.agg(...)``.

    >>> import streamlab as sl, pandas as pd
    >>> df = pd.DataFrame({"ts": [0, 1, 2, 5], "k": ["a", "b", "a", "a"], "v": [1, 2, 3, 4]})
    >>> sl.from_frame(df, time="ts", unit="s").window(sl.Tumble(5), by="k").agg(n=("v", "count")).collect()
       k  window_start  window_end  n
    0  a             0           5  2
    1  b             0           5  1
    2  a             5          10  1
    """
    return Windowed(self, spec, by, allowed_lateness=allowed_lateness, emit_early=emit_early)


class Windowed:
    """A stream grouped into windows, waiting for ``.agg(...)``."""

    def __init__(self, upstream, spec, by=None, *, allowed_lateness=None, emit_early=None):
        if not isinstance(spec, (Tumble, Hop, Cumulate, Session)):
            raise TypeError(
                f"window(spec) takes sl.Tumble, sl.Hop, sl.Cumulate or sl.Session, got {spec!r}; "
                f"e.g. window(sl.Tumble('1s'), by='key')"
            )
        meta, columns = find_meta(upstream)
        if meta is None:
            raise ValueError("window() needs a streamlab source upstream that names the event-time column")
        if by is None:
            by = []
        elif isinstance(by, str):
            by = [by]
        elif isinstance(by, (list, tuple)) and all(isinstance(b, str) for b in by):
            by = list(by)
        else:
            raise TypeError(f"by= takes a column name, a list of column names or None, got {by!r}")
        clash = [b for b in by if b in ("window_start", "window_end")]
        if clash:
            raise ValueError(f"by={clash[0]!r} clashes with the {clash[0]!r} column that window() adds; "
                             f"rename that column first, e.g. .assign(my_{clash[0]}=...)")
        if columns is not None:
            _check_columns(columns, by, "by")
        self.upstream = upstream
        self.spec = spec
        self.plan = spec.resolve(meta.unit)
        check_unit(self.plan, meta.unit)
        self.by = by
        self.meta = meta
        self.columns = columns
        self.lateness = 0 if allowed_lateness is None else to_ms(
            allowed_lateness, meta.unit, name="allowed_lateness", allow_zero=True)
        self.emit_early = None if emit_early is None else to_ms(emit_early, "s", name="emit_early")

    def agg(self, **named) -> WindowAgg:
        """Aggregate each window with pandas named aggregation: ``cnt=("v", "count")``.

        Functions: count, size, sum, mean, min, max, first, last, std, var, median, or a callable
        taking a Series.
        """
        specs = parse_aggs(named)
        if self.columns is not None:
            _check_columns(self.columns, [s.column for s in specs], "agg")
        clash = {s.name for s in specs} & (set(self.by) | {"window_start", "window_end"})
        if clash:
            raise ValueError(f"agg() output names {sorted(clash)} clash with the group keys or window columns; rename them")
        return WindowAgg(self, specs)


def _check_columns(columns, wanted, param):
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise ValueError(
            f"{param}: column {missing[0]!r} not found; available columns: {', '.join(map(str, columns))}"
        )


class WindowAgg(Node):
    """The window operator node. Its side outputs are ``late`` and ``errors``."""

    kind = "window"
    result_operator = True
    #: Type results as Flink SQL does (set by the SQL magic): AVG of an integer column is an
    #: integer truncated toward zero. The Python API keeps pandas' float mean.
    sql_types = False

    def __init__(self, windowed: Windowed, specs: list[AggSpec]):
        super().__init__(windowed.upstream, time_meta=windowed.meta)
        self.plan = windowed.plan
        self.spec = windowed.spec
        self.by = windowed.by
        self.specs = specs
        self.lateness = windowed.lateness
        self.emit_early = windowed.emit_early
        self.extra = self.lateness > 0 or self.emit_early is not None
        self.columns = [*self.by, "window_start", "window_end", *(s.name for s in specs)]
        if self.extra:
            self.columns += ["revision", "final"]
        self.numeric_columns = {s.column for s in specs if s.numeric or s.func == "median"}
        self.fields = partial_fields(specs)
        self.holistic_columns = sorted({s.column for s in specs if s.holistic})
        self.value_columns = sorted({f.column for f in self.fields if f.column} | set(self.holistic_columns))
        self._needed = list(dict.fromkeys([self.meta.column, *self.by, *self.value_columns]))
        self._columns_ok: pd.Index | None = None  # the last columns found to hold every needed one
        self.late = self.side("late")
        for up in _upstream_nodes(windowed.upstream):
            up.errors.connect(self.errors)
        self.reset_state()

    def reset_state(self) -> None:
        super().reset_state()
        self.logic = make_logic(self.plan, self.fields, self.holistic_columns, self.lateness)
        self.keys = KeyIndex(self.by)
        self.seq = 0
        self.own_max = None
        self._wm = NEG_INF
        self.int_columns: frozenset = frozenset()
        self.counted = 0
        self._last_early = time.monotonic()
        self._out: list[pd.DataFrame] = []
        self._schema: dict = {}
        self._samples: collections.deque = collections.deque()
        self._sampled = 0
        self._compact_at = self.compact_min_keys

    def label(self) -> str:
        by = f" by {', '.join(self.by)}" if self.by else ""
        aggs = ", ".join(s.label() for s in self.specs)
        return f"{self.plan.label()}{by}: {aggs}"

    # --- input validation -----------------------------------------------------------------
    def _clean(self, df: pd.DataFrame, marks: Marks | None):
        """Split off malformed rows to ``errors``.

        Returns (good rows, their columns, event ms, watermark per row or None, positions of the
        good rows or None when all are good).
        """
        needed = self._needed
        columns = df.columns
        # a batch whose columns object was checked already (slices of one frame share it) skips the check
        missing = [] if columns is self._columns_ok else [c for c in needed if c not in columns]
        problem = f"missing column {missing[0]!r}" if missing else batch_problem(df, self.meta) \
            if marks is None or not columns.is_unique else None
        if problem is not None:
            if len(df):
                self.send_errors(unique_names(df), problem)
            none = np.zeros(0, dtype="int64")
            return df.iloc[:0], None, none, none, none
        if columns is not self._columns_ok and columns.is_unique:
            self._columns_ok = columns
        time_col = self.meta.column
        cols = column_values(df, [c for c in needed if c != time_col or marks is None or c in self.value_columns])
        reasons = None
        if marks is not None:
            ms, wm, ok = marks.ms, marks.wm, None
        else:
            ms, ok, far = event_ms_checked(cols[time_col], self.meta.unit)
            wm = None
            if far.any():
                reasons = time_reasons(time_col, far)
        bad = None if ok is None or ok.all() else ~ok
        for col in self.numeric_columns:
            values = cols[col]
            if values.dtype.kind in "iufb":
                continue
            values = as_series(values)
            coerced = pd.to_numeric(values, errors="coerce")
            wrong = (coerced.isna() & values.notna()).to_numpy()
            if bad is not None:
                wrong &= ~bad
            if wrong.any():
                if reasons is None:
                    reasons = np.full(len(df), None, dtype=object)
                reasons[wrong] = [f"column {col!r} is not numeric: {v!r}" for v in values[wrong]]
                bad = wrong if bad is None else bad | wrong
        if bad is not None and bad.any():
            if reasons is None:
                reasons = np.full(len(df), None, dtype=object)
            reasons[bad & (reasons == None)] = f"time column {self.meta.column!r} is missing or unparseable"  # noqa: E711
            self.send_errors(df[bad], reasons[bad])
            good = ~bad
            pos = np.flatnonzero(good)
            df, ms = df[good], ms[good]
            wm = None if wm is None else wm[good]
            cols = {c: v[good] for c, v in cols.items()}
        else:
            pos = None
        if not self._schema:
            self._schema = dict(zip(df.columns, df.dtypes))
            self.int_columns = frozenset(c for c in self.value_columns if cols[c].dtype.kind in "iu")
        elif self.int_columns and len(df):  # a column stays integer only while every batch is
            self.int_columns = frozenset(c for c in self.int_columns if cols[c].dtype.kind in "iu")
        return df, cols, ms, wm, pos

    def _values(self, cols: dict) -> dict[str, np.ndarray]:
        """The value columns as arrays: int64 (exact), float64 or object, widened to the type the
        column has had so far (int then float is float, as pandas types the whole column)."""
        out = {}
        dtypes = self.logic.value_dtypes
        for col in self.value_columns:
            raw = cols[col]
            dtype = raw.dtype
            v = None
            if isinstance(dtype, np.dtype) and dtype.kind in "iuf" and dtype != np.uint64:
                v = numbers(raw, "float64" if dtype.kind == "f" else "int64")  # plain numpy numbers
            if v is None:
                s = as_series(raw)
                kind = s.dtype.kind
                if kind == "f":
                    v = s.to_numpy(dtype="float64")
                elif kind in "iu" and isinstance(s.dtype, np.dtype) and s.dtype != np.uint64:
                    v = s.to_numpy(dtype="int64")
                elif col in self.numeric_columns or kind in "iub":
                    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
                else:
                    v = s.to_numpy(dtype=object)
            old = dtypes.get(col)
            if old is None or old != v.dtype:  # (np.dtype("float64") == None is True)
                new = widened(old, v.dtype)
                if old is None or new != old:
                    self.logic.widen(col, new)
                if v.dtype != new:
                    v = v.astype(new)
            out[col] = v
        return out

    # --- processing -----------------------------------------------------------------------
    @property
    def current_watermark(self) -> int:
        """The watermark this operator has fired up to."""
        return self._wm

    def on_batch(self, df: pd.DataFrame, port: int, marks: Marks | None):
        arrived = df
        df, cols, ms, wm, pos = self._clean(df, marks)
        if wm is not None and marks is not None:
            end = marks.end
        else:  # no watermark upstream: delay 0, computed here
            wm, self.own_max, end = per_row_watermark(ms, self.own_max, self._wm, 0)
        end = max(int(end), self._wm)
        seen = Observed(arrived, np.arange(len(ms)) if pos is None else pos, ms, wm, end) \
            if self._watchers else None
        n = len(ms)
        first = self.seq
        self.seq += n

        def seq(a=first, b=first + n):
            return np.arange(a, b, dtype="int64")

        key = self.keys.encode(cols, n) if n else np.zeros(0, dtype="int64")
        values = self._values(cols) if n else {c: np.zeros(0) for c in self.value_columns}
        lms, lwm, lend = to_local(self.plan, ms, wm, end)  # a session time zone: local ms
        missed, total = self.logic.process(lms, lwm, key, values, seq, lend, len(self.keys), self._collect)
        self._wm = end
        if missed is None or total is None:  # every row counted in all its windows (both None together)
            self.counted += n
            self._sample(df, lms, None)
        else:
            late = missed > 0
            accepted = missed < total
            self.counted += int(np.count_nonzero(accepted))
            self._sample(df, lms, accepted)
            if late.any():
                self._send_late(df[late], wm[late], missed[late], total[late])
        if seen is not None:  # teaching views: what this batch was, once it has been judged
            self._tell(seen)
        if len(self.keys) >= self._compact_at:
            self._compact()
        return self._drain()

    #: Dead keys are forgotten once this many key ids are held and at least half have no state left.
    compact_min_keys = 65_536

    def _compact(self) -> None:
        """Forget the ids of keys whose windows have all fired; renumber the live ones (amortised:
        the next check waits until the ids held have doubled)."""
        nkeys = len(self.keys)
        live = np.flatnonzero(self.logic.live_keys(nkeys))
        if 2 * len(live) <= nkeys:
            remap = self.keys.compact(live)
            self.logic.compact(live, remap, nkeys)
        self._compact_at = max(self.compact_min_keys, 2 * len(live))

    def _collect(self, starts, ends, keys, part, raw, revision, final):
        cols: dict[str, object] = self.keys.decode_arrays(keys)
        unit = self.meta.unit
        cols["window_start"] = _array(bounds(self.plan, starts, unit))
        cols["window_end"] = cols["window_start"] if ends is starts else _array(bounds(self.plan, ends, unit))
        values = part.finalize(self.specs, self.int_columns, self.sql_types)
        failed: dict[int, str] = {}
        if self.holistic_columns:
            group, raw_values = raw if raw is not None else (np.zeros(0, "int64"), {})
            values.update(holistic_values(self.specs, group, raw_values, np.arange(len(keys)), failed))
        for spec in self.specs:
            cols[spec.name] = values[spec.name]
        if self.extra:
            cols["revision"] = revision if revision is not None else np.zeros(len(keys), dtype="int64")
            cols["final"] = np.full(len(keys), final)
        out = build_frame(cols)
        if failed and final:
            out = self._fail_windows(out, failed, group, raw_values)
        self._out.append(out)

    def _fail_windows(self, out: pd.DataFrame, failed: dict[int, str], group, raw_values) -> pd.DataFrame:
        """An aggregate callable raised for some output rows: their windows' rows go to ``errors``.

        Each error row carries its event time, the group keys, the window, the aggregated columns'
        values and the reason (this operator, the aggregate's name, the exception). With one window per row
        (Tumble, Session) those rows are no longer counted, so the conservation law holds; a Hop
        or Cumulate row stays counted in its other windows, and is on ``errors`` once per window
        that failed.
        """
        rows = np.fromiter(failed, dtype="int64")
        mine = np.isin(group, rows)
        err = out.iloc[group[mine]][[*self.by, "window_start", "window_end"]].reset_index(drop=True)
        for col, v in raw_values.items():
            if col == RAW_TS:
                err.insert(0, self.meta.column, _array(ms_to_values(v[mine], self.meta.unit)))
            elif col not in err.columns:
                err[col] = v[mine]
        self.send_errors(err, [f"{self.label()}: {failed[g]}" for g in group[mine].tolist()])
        if isinstance(self.plan, SessionPlan) or self.plan.kind == "tumble":
            self.counted -= int(np.count_nonzero(mine))
        return out.drop(index=rows).reset_index(drop=True)

    def _drain(self) -> pd.DataFrame | None:
        if not self._out:
            return None
        out = self._out[0] if len(self._out) == 1 else pd.concat(self._out, ignore_index=True)
        self._out = []
        return out

    def _send_late(self, rows, wm, missed, total) -> None:
        out = rows.reset_index(drop=True)
        out.attrs.clear()
        out["watermark"] = ms_to_values(wm, self.meta.unit)
        out["missed_windows"] = missed
        if isinstance(self.plan, SessionPlan):
            reason = "late: its session had already closed (session end - 1ms <= watermark)"
            out["reason"] = reason
        else:
            out["reason"] = [
                f"late for {m} of {t} windows (window end - 1ms <= watermark"
                f"{' - allowed_lateness' if self.lateness else ''})"
                for m, t in zip(missed.tolist(), total.tolist())
            ]
        self.counters.late += len(out)
        self.late.push(out)

    def on_flush(self) -> None:
        """End of input: every open window fires."""
        self.logic.fire(POS_INF, len(self.keys), self._collect)
        self._wm = max(self._wm, POS_INF)
        out = self._drain()
        if out is not None:
            self.emit_out(out)

    def on_timer(self, now: float) -> None:
        """``emit_early``: provisional rows for open windows every ``emit_early`` of processing time."""
        if self.emit_early is None or (now - self._last_early) * 1000 < self.emit_early:
            return
        self._last_early = now
        nkeys = len(self.keys)
        for start, end, keys, part in list(self.logic.open_windows(nkeys)):
            raw = None
            if self.holistic_columns and self.logic.raw is not None:
                sel = self.logic.raw.select(lambda k, t, s=start, e=end, ks=keys: (t >= s) & (t < e) & np.isin(k, ks))
                lookup = {k: i for i, k in enumerate(keys.tolist())}
                raw = (np.array([lookup[k] for k in sel[0].tolist()], dtype="int64"), sel[2])
            self._collect(np.full(len(keys), start), np.full(len(keys), end), keys, part, raw, None, False)
        out = self._drain()
        if out is not None:
            self.emit_out(out)

    # --- inspection -----------------------------------------------------------------------
    #: Rows kept for ``window_rows`` (the most recent accepted rows; memory stays bounded).
    sample_rows = 2_000

    def _sample(self, df: pd.DataFrame, ms: np.ndarray, accepted: np.ndarray | None) -> None:
        """Keep references to the latest batches (about ``sample_rows`` rows); rows are cut on demand.

        ``accepted`` marks rows counted in a window (None: all of them).
        """
        if not len(df) or self.sample_rows <= 0:
            return
        self._samples.append((df, ms, accepted))
        self._sampled += len(ms)
        while len(self._samples) > 1 and self._sampled - len(self._samples[0][1]) >= self.sample_rows:
            self._sampled -= len(self._samples.popleft()[1])

    def window_rows(self, window_start_ms: int, key=(), limit: int = 20, window_end_ms: int | None = None) -> pd.DataFrame:
        """A bounded sample of the recent rows of one window and key (for the state inspector).

        ``key`` is the list of group-key values (as in ``snapshot()``); rows are taken from the last
        ``sample_rows`` accepted rows, so old windows may show fewer rows than they hold.
        """
        start = int(window_start_ms)
        if window_end_ms is not None:
            end = int(window_end_ms)
        elif isinstance(self.plan, SessionPlan):
            ends = [e for s_, e, _, _ in self.logic.open_windows(len(self.keys)) if s_ == start]
            end = max(ends) if ends else start + self.plan.gap
        else:
            end = start + self.plan.size
        key = list(key) if isinstance(key, (list, tuple)) else [key]
        parts = []
        for frame, ms, accepted in self._samples:
            mask = (ms >= start) & (ms < end)
            if accepted is not None:
                mask &= accepted
            for col, value in zip(self.by, key):
                mask &= (frame[col] == value).to_numpy(dtype=bool, na_value=False)
            if mask.any():
                parts.append(frame[mask])
        if not parts:
            return pd.DataFrame(columns=list(self._schema) or None)
        return pd.concat(parts, ignore_index=True).tail(limit).reset_index(drop=True)

    def empty_output(self) -> pd.DataFrame:
        """A zero-row frame with the output schema."""
        cols: dict[str, pd.Series] = {}
        for col in self.by:
            cols[col] = pd.Series([], dtype=self._schema.get(col, object))
        kind = bound_dtype(self.plan, self.meta.unit)
        cols["window_start"] = pd.Series([], dtype=kind)
        cols["window_end"] = pd.Series([], dtype=kind)
        for spec in self.specs:
            dtype = "int64" if spec.func in ("count", "size") else "float64"
            cols[spec.name] = pd.Series([], dtype=dtype)
        if self.extra:
            cols["revision"] = pd.Series([], dtype="int64")
            cols["final"] = pd.Series([], dtype=bool)
        return pd.DataFrame(cols)

    def windows_of(self, ts: int) -> list[tuple[int, int]]:
        """The windows ``[start, end)`` (ms) a row at ``ts`` (ms) belongs to; a session: its own.

        >>> import streamlab as sl, pandas as pd
        >>> src = sl.from_frame(pd.DataFrame({"ts": [0]}), time="ts", unit="ms")
        >>> src.window(sl.Hop(10, 5)).agg(n=("ts", "size")).windows_of(7)
        [(0, 10), (5, 15)]
        """
        if isinstance(self.plan, SessionPlan):
            return [(int(ts), int(ts) + self.plan.gap)]
        assert isinstance(self.logic, SlicedLogic)  # make_logic builds a SlicedLogic for every other plan
        return self.logic.windows_of(ts)

    def open_windows(self) -> list[tuple[tuple, int, int]]:
        """Every open (key values, window start ms, window end ms), for teaching views."""
        out: list[tuple[tuple, int, int]] = []
        for start, end, keys, _ in self.logic.open_windows(len(self.keys)):
            decoded = self.keys.decode(np.asarray(keys))
            rows = zip(*(decoded[c].tolist() for c in self.by)) if self.by else [()] * len(keys)
            out.extend((tuple(k), int(start), int(end)) for k in rows)
        return out

    def snapshot_node(self, limit: int | None = 50) -> OperatorSnapshot:
        snap = super().snapshot_node(limit)
        unit = self.meta.unit
        snap["watermark"] = None if self._wm <= NEG_INF else int(min(self._wm, POS_INF))
        windows: list[OpenWindow] = []
        nkeys = len(self.keys)
        total = 0
        for start, end, keys, part in self.logic.open_windows(nkeys):
            total += len(keys)
            room = len(keys) if limit is None else max(0, limit - len(windows))
            if not room:
                continue
            keys, part = keys[:room], part.take(np.arange(min(room, len(keys))))
            values = part.finalize([s for s in self.specs if not s.holistic], self.int_columns, self.sql_types)
            decoded = self.keys.decode(keys)
            key_values = [[_jsonable(v) for v in row] for row in zip(*(decoded[c].tolist() for c in self.by))] \
                if self.by else [[] for _ in range(len(keys))]
            start_text, end_text = bound_text(self.plan, int(start), unit), bound_text(self.plan, int(end), unit)
            for i in range(len(keys)):
                windows.append({
                    "key": key_values[i],
                    "key_text": ", ".join(str(v) for v in key_values[i]) if self.by else "(all)",
                    "window_start": int(start), "window_end": int(end),
                    "start_text": start_text, "end_text": end_text,
                    "rows": int(part.a["n"][i]),
                    "partials": {name: _jsonable(v[i]) for name, v in values.items()},
                })
        state: WindowState = {
            "window": self.plan.label(),
            "by": list(self.by),
            "allowed_lateness_ms": self.lateness,
            "open_windows": windows,
            "open_count": total,
            "truncated": limit is not None and total > limit,
            "keys": nkeys,
            "counted": self.counted,
            "late_ledger": _records(self.late.ledger(20)),
            "errors": _records(self.errors.ledger(20)),
        }
        snap["state"] = dict(state)
        return snap

    # --- checkpoints ----------------------------------------------------------------------
    def fingerprint(self) -> dict:
        """The spec, keys and aggregates a checkpoint of this window must match."""
        return {"window": self.plan.label(), "by": list(self.by), "aggs": [s.label() for s in self.specs],
                "allowed_lateness_ms": self.lateness, "emit_early_ms": self.emit_early}

    def save_state(self) -> dict:
        """Everything needed to resume, as plain Python: window logic, keys, watermark, sequence.

        Counters are saved by the checkpoint itself (every operator has them).
        """
        logic = self.logic
        raw = None
        if logic.raw is not None:
            key, ts, vals = logic.raw.select(lambda k, t: np.ones(len(t), dtype=bool))
            raw = {"key": key.tolist(), "ts": ts.tolist(), "values": {c: v.tolist() for c, v in vals.items()},
                   "dtypes": {c: str(v.dtype) for c, v in vals.items()}}
        return {
            "logic": logic.save(),
            "value_dtypes": {c: str(d) for c, d in logic.value_dtypes.items()},
            "raw": raw,
            "keys": self.keys.export(),
            "seq": int(self.seq),
            "own_max": None if self.own_max is None else int(self.own_max),
            "watermark": int(self._wm),
            "counted": int(self.counted),
            "int_columns": sorted(self.int_columns),
            "schema": {c: str(d) for c, d in self._schema.items()},
        }

    def load_state(self, state: dict) -> None:
        """Resume from ``save_state()`` of an operator built the same way."""
        logic = make_logic(self.plan, self.fields, self.holistic_columns, self.lateness)
        logic.value_dtypes = {c: np.dtype(d) for c, d in state["value_dtypes"].items()}
        logic.load(state["logic"])
        raw = state.get("raw")
        if raw is not None and logic.raw is not None:
            logic.raw.append(np.asarray(raw["key"], dtype="int64"), np.asarray(raw["ts"], dtype="int64"),
                             {c: np.asarray(v, dtype=raw["dtypes"][c]) for c, v in raw["values"].items()})
        self.logic = logic
        self.keys = KeyIndex(self.by)
        self.keys.load(state["keys"])
        self.seq = int(state["seq"])
        self.own_max = state["own_max"]
        self._wm = int(state["watermark"])
        self.counted = int(state["counted"])
        self.int_columns = frozenset(state["int_columns"])
        self._schema = {c: pd.api.types.pandas_dtype(d) for c, d in state["schema"].items()}
        self._compact_at = max(self.compact_min_keys, 2 * len(self.keys))


def _array(values):
    """The array behind an Index (DataFrame construction from arrays skips index alignment)."""
    return values.array if isinstance(values, pd.Index) else values


def _upstream_nodes(stream) -> list[Node]:
    """streamlab nodes upstream of ``stream`` (their errors flow into this window's ``errors``)."""
    out, todo, seen = [], [stream], set()
    while todo:
        s = todo.pop()
        if id(s) in seen or s is None:
            continue
        seen.add(id(s))
        if isinstance(s, Node) and not isinstance(s, (SideOutput, WindowAgg)):
            out.append(s)
        if isinstance(s, WindowAgg):
            continue
        todo.extend(getattr(s, "upstreams", []))
    return out


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if np.isnan(v) else float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, str):
        return preview(v)
    if v is None or isinstance(v, (int, bool)):
        return v
    return preview(str(v))


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: _jsonable(v) for k, v in row.items()} for row in df.to_dict("records")]
