"""Differential tests: streamlab's event-time windows against real Apache Flink SQL.

One seeded, disordered event stream (with late events) is written to CSV and run through Flink's
TUMBLE, HOP, CUMULATE and SESSION window TVFs in a single PyFlink job (``tests/flink/``). The same
rows go through streamlab's public API at several micro-batch sizes, and both result sets must be
identical row for row. A small plain-Python model of DESIGN.md §2 is checked against Flink too, and
it also gives the expected late rows (which Flink drops silently).

Needs ``.venv-flink`` (``bash scripts/setup-flink.sh``). Without it the tests fail, unless
``STREAMLAB_SKIP_FLINK=1`` is set, which turns them into skips.
"""

from __future__ import annotations

import calendar
import csv
import json
import math
import os
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.flink.events import lagged_times

pytestmark = pytest.mark.flink

REPO = Path(__file__).resolve().parents[1]
FLINK_PYTHON = REPO / ".venv-flink" / "bin" / "python"
RUNNER = REPO / "tests" / "flink" / "run_flink_sql.py"
FLINK_TIMEOUT_S = 600

SEED = 20240310
N_ROWS = 4000
BASE_MS = 1_710_028_800_000  # 2024-03-10 00:00:00 UTC
DELAY_MS = 120
GAP_MS = 40  # session gap
KEYS = ("alpha", "beta", "gamma", "delta", "eps")
KEY_P = (0.35, 0.25, 0.2, 0.15, 0.05)
BATCH_SIZES = (1, 37, 10_000)
AGG_COLUMNS = ["cnt", "s", "mn", "mx", "avg"]


# ----------------------------------------------------------------------------------------------
# The cases: one window spec each, expressed for Flink SQL, for streamlab and for the model.


@dataclass(frozen=True)
class Case:
    """One window query: kind, sizes in ms (``size`` is the gap for sessions), keyed or global."""

    name: str
    kind: str
    size: int
    step: int = 0
    offset: int = 0
    keyed: bool = True
    delay: int = DELAY_MS

    @property
    def source(self) -> str:
        """Name of the Flink source table with this case's watermark delay."""
        return "src" if self.delay == DELAY_MS else f"src_d{self.delay}"

    def windows(self, ts: int) -> list[tuple[int, int]]:
        """Return the ``[start, end)`` windows (ms) that contain ``ts``, per DESIGN §2."""
        if self.kind == "tumble":
            start = ts - (ts - self.offset) % self.size  # Python's % is a floor mod
            return [(start, start + self.size)]
        if self.kind == "hop":
            start = ts - (ts - self.offset) % self.step
            out = []
            while start > ts - self.size:
                out.append((start, start + self.size))
                start -= self.step
            return out
        if self.kind == "cumulate":
            start = ts - ts % self.size
            ends = range(start + self.step, start + self.size + 1, self.step)
            return [(start, end) for end in ends if end > ts]
        if self.kind == "session":
            return [(ts, ts + self.size)]
        raise ValueError(self.kind)

    def flink_sql(self) -> str:
        """Return the Flink SQL query (over ``self.source``) for this case."""
        data = f"TABLE {self.source}"
        if self.kind == "session" and self.keyed:
            data += " PARTITION BY key"
        args = [data, "DESCRIPTOR(ts)"]
        if self.kind == "tumble":
            args += [interval(self.size)] + ([interval(self.offset)] if self.offset else [])
        elif self.kind == "hop":
            args += [interval(self.step), interval(self.size)]
            args += [interval(self.offset)] if self.offset else []
        elif self.kind == "cumulate":
            args += [interval(self.step), interval(self.size)]
        else:
            args += [interval(self.size)]
        keys = "key, " if self.keyed else ""
        return (
            f"SELECT {keys}window_start, window_end, COUNT(*) AS cnt, SUM(v) AS s, "
            "MIN(v) AS mn, MAX(v) AS mx, AVG(v) AS `avg` "
            f"FROM TABLE({self.kind.upper()}({', '.join(args)})) "
            f"GROUP BY {keys}window_start, window_end"
        )

    def streamlab_spec(self, sl):
        """Return the streamlab window spec for this case."""
        ms = f"{self.size}ms"
        if self.kind == "tumble":
            return sl.Tumble(ms, offset=f"{self.offset}ms") if self.offset else sl.Tumble(ms)
        if self.kind == "hop":
            if self.offset:
                return sl.Hop(ms, f"{self.step}ms", offset=f"{self.offset}ms")
            return sl.Hop(ms, f"{self.step}ms")
        if self.kind == "cumulate":
            return sl.Cumulate(ms, f"{self.step}ms")
        return sl.Session(ms)


def interval(ms: int) -> str:
    """Return a Flink SQL ``INTERVAL 'x.yyy' SECOND`` literal for ``ms`` milliseconds."""
    sign = "-" if ms < 0 else ""
    return f"INTERVAL '{sign}{abs(ms) // 1000}.{abs(ms) % 1000:03d}' SECOND"


CASES = [
    Case("tumble", "tumble", 100),
    Case("tumble_offset", "tumble", 100, offset=30),
    Case("tumble_global", "tumble", 100, keyed=False),
    Case("hop", "hop", 200, step=50),
    Case("hop_offset", "hop", 150, step=50, offset=-20),
    Case("cumulate", "cumulate", 400, step=100),
    Case("session", "session", GAP_MS),
    Case("session_global", "session", GAP_MS, keyed=False),
    Case("tumble_nodelay", "tumble", 100, delay=0),
    Case("session_nodelay", "session", GAP_MS, delay=0),
]
CASE_IDS = [c.name for c in CASES]


# ----------------------------------------------------------------------------------------------
# Data


def make_events(seed: int = SEED, n: int = N_ROWS) -> pd.DataFrame:
    """Return ``n`` seeded events ``id, key, ts_ms, v`` in arrival order, disordered and with late ones.

    Arrival follows a clock with exponential gaps and occasional pauses (which end sessions).
    Most events lag the clock by less than the watermark delay (on time); some lag by exactly the
    delay or one ms less, some by up to four delays (late for some or all of their windows). Some
    timestamps are snapped to 50 ms boundaries. Probe blocks put events exactly on the lateness
    boundary (see ``_add_boundary_probes``). Values are multiples of 0.25, so sums are exact.
    """
    rng = np.random.default_rng(seed)
    ts = lagged_times(rng, n, BASE_MS, DELAY_MS)
    snap = rng.random(n) < 0.03
    ts[snap] -= ts[snap] % 50
    keys = rng.choice(np.array(KEYS, dtype=object), n, p=KEY_P)
    _add_boundary_probes(rng, ts, keys)
    return pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64),
            "key": keys,
            "ts_ms": ts.astype(np.int64),
            "v": rng.integers(-400, 401, n) * 0.25,
        }
    )


def _add_boundary_probes(rng, ts: np.ndarray, keys: np.ndarray, every: int = 60) -> None:
    """Overwrite blocks of five rows (in place) so that records land exactly on ``e - 1 == W``.

    The block's first row becomes a new maximum whose watermark ``W`` is the last ms of a
    100 ms window (``W % 100 == 99``, or ``== 29`` for the 30/-20 ms offset cases). Then, for one
    key, rows at ``W`` (late: that window ends at ``W + 1``), ``W + 1`` (on time), and
    ``W - GAP + 1`` / ``W - GAP + 2`` (a session ending exactly at / just after the watermark).
    """
    for n_block, i in enumerate(range(every, len(ts) - 5, every)):
        residue = (99, 29)[n_block % 2]
        top = int(ts[: i + 1].max())
        wm = top - DELAY_MS
        wm += (residue - wm) % 100
        ts[i] = wm + DELAY_MS
        ts[i + 1 : i + 5] = [wm, wm + 1, wm - GAP_MS + 1, wm - GAP_MS + 2]
        keys[i + 1 : i + 5] = rng.choice(np.array(KEYS, dtype=object))


def format_ts(ms: int) -> str:
    """Format epoch ms as Flink's ``TIMESTAMP(3)`` text ``YYYY-MM-DD HH:MM:SS.mmm`` (UTC)."""
    sec, milli = divmod(int(ms), 1000)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec)) + f".{milli:03d}"


def parse_ts(text: str) -> int:
    """Parse Flink's zone-less ``TIMESTAMP(3)`` text (meaning UTC) into epoch ms."""
    whole, _, frac = text.partition(".")
    sec = calendar.timegm(datetime.strptime(whole, "%Y-%m-%d %H:%M:%S").timetuple())
    return sec * 1000 + int((frac + "000")[:3])


# ----------------------------------------------------------------------------------------------
# The plain-Python model of DESIGN.md §2 (row at a time, independent of Flink and streamlab)


@dataclass
class ModelResult:
    """Model output: window rows, late rows ``(id, watermark_ms, missed)`` and some statistics."""

    rows: list[tuple]
    late: list[tuple[int, int, int]]
    stats: Counter


def _final_row(group: tuple, start: int, end: int, values: list[float]) -> tuple:
    total = math.fsum(values)
    return (*group, start, end, len(values), total, min(values), max(values), total / len(values))


def model(case: Case, events: pd.DataFrame) -> ModelResult:
    """Run ``case`` over ``events`` row by row, following DESIGN.md §2 literally."""
    delay = case.delay
    max_ts = None
    acc: dict[tuple, list[float]] = {}
    late, stats, rows = [], Counter(), []
    open_sessions: dict[tuple, list[list]] = {}  # group -> [[start, end, values], ...]
    for rid, key, ts, v in events[["id", "key", "ts_ms", "v"]].itertuples(index=False):
        rid, key, ts, v = int(rid), str(key), int(ts), float(v)
        wm = -math.inf if max_ts is None else max_ts - delay
        group = (key,) if case.keyed else ()
        if case.kind == "session":
            # Fire every session the watermark has passed, then merge the record in.
            for g, sessions in open_sessions.items():
                for s in [s for s in sessions if s[1] - 1 <= wm]:
                    rows.append(_final_row(g, s[0], s[1], s[2]))
                    sessions.remove(s)
            start, end = ts, ts + case.size
            sessions = open_sessions.setdefault(group, [])
            touching = [s for s in sessions if s[0] <= end and start <= s[1]]
            m_start = min([start] + [s[0] for s in touching])
            m_end = max([end] + [s[1] for s in touching])
            if m_end - 1 <= wm:
                late.append((rid, wm, 1))
                stats["late_all"] += 1
            else:
                if end - 1 <= wm:
                    stats["late_record_merged_into_open_session"] += 1
                if len(touching) > 1:
                    stats["sessions_bridged"] += 1
                values = [v] + [x for s in touching for x in s[2]]
                for s in touching:
                    sessions.remove(s)
                sessions.append([m_start, m_end, values])
        else:
            windows = case.windows(ts)
            missed = [w for w in windows if w[1] - 1 <= wm]
            for w in windows:
                if w not in missed:
                    acc.setdefault((*group, *w), []).append(v)
            if missed:
                late.append((rid, wm, len(missed)))
                stats["late_all" if len(missed) == len(windows) else "late_some"] += 1
        max_ts = ts if max_ts is None else max(max_ts, ts)
    for g, sessions in open_sessions.items():
        rows += [_final_row(g, s[0], s[1], s[2]) for s in sessions]
    rows += [_final_row(k[:-2], k[-2], k[-1], vals) for k, vals in acc.items()]
    return ModelResult(sorted(rows), sorted(late), stats)


# ----------------------------------------------------------------------------------------------
# Comparison helpers


def assert_same_rows(expected: list[tuple], got: list[tuple], what: str) -> None:
    """Assert two row multisets are equal; on failure show counts and the first differences."""
    exp, act = Counter(expected), Counter(got)
    if exp == act:
        return
    missing = sorted((exp - act).elements())
    extra = sorted((act - exp).elements())
    lines = [
        f"{what}: {len(expected)} expected rows, {len(got)} got; "
        f"{len(missing)} missing, {len(extra)} unexpected",
        "missing (expected, not got):",
        *(f"  - {r}" for r in missing[:15]),
        "unexpected (got, not expected):",
        *(f"  + {r}" for r in extra[:15]),
    ]
    pytest.fail("\n".join(lines), pytrace=False)


def to_ms(col: pd.Series) -> list[int]:
    """Convert datetimes (tz-aware or naive UTC) or numbers in ms to a list of int ms."""
    if isinstance(col.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(col):
        utc = col.dt.tz_localize("UTC") if col.dt.tz is None else col.dt.tz_convert("UTC")
        return [int(x) for x in (utc - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)]
    return [int(x) for x in col]


def frame_rows(df: pd.DataFrame, keyed: bool) -> list[tuple]:
    """Normalise a streamlab result frame to plain tuples like the model's and Flink's rows."""
    cols = [to_ms(df["window_start"]), to_ms(df["window_end"])]
    cols += [[int(x) for x in df["cnt"]]]
    cols += [[float(x) for x in df[c]] for c in AGG_COLUMNS[1:]]
    if keyed:
        cols.insert(0, [str(x) for x in df["key"]])
    return list(zip(*cols))


def read_flink_rows(out_dir: Path, name: str) -> list[tuple]:
    """Read one query's Flink CSV output into tuples, converting by the recorded column types."""
    schema = json.loads((out_dir / f"{name}.schema.json").read_text())
    convert = []
    for _, flink_type in schema:
        t = flink_type.split("(")[0].split()[0].upper()
        convert.append(
            {"TIMESTAMP": parse_ts, "BIGINT": int, "INT": int, "DOUBLE": float}.get(t, str)
        )
    rows = []
    for part in sorted((out_dir / name).iterdir()):
        if part.name.startswith((".", "_")):
            continue
        with part.open(newline="") as fh:
            for rec in csv.reader(fh):
                assert len(rec) == len(schema), f"{part}: {rec!r} does not match {schema}"
                rows.append(tuple(f(x) for f, x in zip(convert, rec)))
    return rows


# ----------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    """The seeded test events, in arrival order."""
    return make_events()


@pytest.fixture(scope="module")
def flink(events, tmp_path_factory) -> dict[str, list[tuple]]:
    """Run every case in one Flink job; return ``{case name: rows}``."""
    if not FLINK_PYTHON.exists():
        msg = f"{FLINK_PYTHON} is missing: run `bash scripts/setup-flink.sh`"
        if os.environ.get("STREAMLAB_SKIP_FLINK") == "1":
            pytest.skip(msg + " (skipped: STREAMLAB_SKIP_FLINK=1)")
        pytest.fail(msg + " (or set STREAMLAB_SKIP_FLINK=1 to skip)", pytrace=False)
    work = tmp_path_factory.mktemp("flink")
    csv_path = work / "events.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        for rid, key, ts, v in events[["id", "key", "ts_ms", "v"]].itertuples(index=False):
            w.writerow([rid, key, format_ts(ts), repr(float(v))])
    job = {
        "input_csv": str(csv_path),
        "columns": [["id", "BIGINT"], ["key", "STRING"], ["ts", "TIMESTAMP(3)"], ["v", "DOUBLE"]],
        "time_column": "ts",
        "watermark_delay_ms": DELAY_MS,
        "queries": {c.name: c.flink_sql() for c in CASES},
        "output_dir": str(work / "out"),
        "extra_sources": {c.source: c.delay for c in CASES if c.source != "src"},
    }
    job_path = work / "job.json"
    job_path.write_text(json.dumps(job, indent=2))
    started = time.monotonic()
    proc = subprocess.run(
        [str(FLINK_PYTHON), str(RUNNER), str(job_path)],
        capture_output=True,
        text=True,
        timeout=FLINK_TIMEOUT_S,
        cwd=work,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        pytest.fail(f"the Flink job failed (exit {proc.returncode}):\n{tail}", pytrace=False)
    print(f"Flink job: {time.monotonic() - started:.1f} s wall; {proc.stdout.strip()}")
    return {c.name: read_flink_rows(work / "out", c.name) for c in CASES}


@pytest.fixture(scope="module")
def sl():
    """The streamlab package (imported lazily, so the model-vs-Flink test runs without it)."""
    import streamlab

    return streamlab


def build_pipeline(sl, events: pd.DataFrame, case: Case, batch_size: int, numeric: bool = False):
    """Return streamlab's result stream for ``case`` (datetime time column, or numeric ms)."""
    df = events.rename(columns={"ts_ms": "ts"})
    if numeric:
        src = sl.from_frame(df, time="ts", unit="ms", batch_size=batch_size)
    else:
        df["ts"] = pd.to_datetime(df["ts"], unit="ms")
        src = sl.from_frame(df, time="ts", batch_size=batch_size)
    return (
        src.watermark(f"{case.delay}ms")
        .window(case.streamlab_spec(sl), by="key" if case.keyed else None)
        .agg(cnt=("v", "size"), s=("v", "sum"), mn=("v", "min"), mx=("v", "max"), avg=("v", "mean"))
    )


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate the non-empty frames (an empty frame if there are none)."""
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


@pytest.fixture(scope="module")
def run_streamlab(sl, events):
    """Return ``run(case, batch_size, numeric)`` -> (rows, late, errors), memoised per argument.

    ``collect()`` runs the pipeline from the start, so the side outputs are gathered during the
    same run with plain streamz sinks (``test_late_collect_matches_side_sink`` checks that this
    equals ``res.late.collect()``).
    """
    cache = {}

    def run(case: Case, batch_size: int, numeric: bool = False):
        arg = (case.name, batch_size, numeric)
        if arg not in cache:
            res = build_pipeline(sl, events, case, batch_size, numeric)
            late, errors = [], []
            sinks = [res.late.sink(late.append), res.errors.sink(errors.append)]
            try:
                out = res.collect()
            finally:
                for sink in sinks:
                    sink.destroy()
            cache[arg] = (out, concat(late), concat(errors))
        return cache[arg]

    return run


# ----------------------------------------------------------------------------------------------
# Tests


def test_data_is_disordered(events):
    """The input really is out of order, with ties, and spans the intended keys."""
    ts = events["ts_ms"].to_numpy()
    assert (np.diff(ts) < 0).mean() > 0.2
    assert (np.diff(ts) == 0).any()
    assert set(events["key"]) == set(KEYS)
    assert (events["v"] * 4 == (events["v"] * 4).round()).all()


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_model_matches_flink(case, events, flink):
    """The DESIGN §2 model gives exactly Flink's rows, and the data exercises late records."""
    expected = model(case, events)
    assert_same_rows(flink[case.name], expected.rows, f"{case.name}: model vs Flink")
    assert expected.stats["late_all"] > 0, expected.stats
    if case.kind in ("hop", "cumulate"):
        assert expected.stats["late_some"] > 0, expected.stats
    if case.kind == "session":
        assert expected.stats["late_record_merged_into_open_session"] > 0, expected.stats


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_streamlab_matches_flink(case, batch_size, flink, run_streamlab):
    """streamlab's window rows equal Flink's, whatever the micro-batch size."""
    out, _, _ = run_streamlab(case, batch_size)
    keys = ["key"] if case.keyed else []
    assert list(out.columns) == [*keys, "window_start", "window_end", *AGG_COLUMNS]
    for col in ("window_start", "window_end"):
        assert isinstance(out[col].dtype, pd.DatetimeTZDtype), out[col].dtype
        assert str(out[col].dt.tz) == "UTC", out[col].dt.tz
    assert_same_rows(
        flink[case.name],
        frame_rows(out, case.keyed),
        f"{case.name}, batch_size={batch_size}: streamlab vs Flink",
    )


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_streamlab_numeric_time_matches_flink(case, flink, run_streamlab):
    """With numeric ms time, window bounds come back as ms numbers and the rows still match."""
    out, _, _ = run_streamlab(case, 37, numeric=True)
    for col in ("window_start", "window_end"):
        assert pd.api.types.is_numeric_dtype(out[col]), out[col].dtype
    assert_same_rows(flink[case.name], frame_rows(out, case.keyed), f"{case.name}, numeric ms")


@pytest.mark.parametrize("batch_size", BATCH_SIZES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_streamlab_late_rows(case, batch_size, events, run_streamlab):
    """Late rows are the model's (id, watermark, missed windows), and no row is lost."""
    out, late, errors = run_streamlab(case, batch_size)
    assert len(errors) == 0, errors.head()
    for col in ("id", "key", "ts", "v", "watermark", "missed_windows", "reason"):
        assert col in late.columns, list(late.columns)
    assert late["id"].is_unique
    expected = model(case, events)
    got = list(
        zip(late["id"].astype(int), to_ms(late["watermark"]), late["missed_windows"].astype(int))
    )
    assert_same_rows(expected.late, got, f"{case.name}, batch_size={batch_size}: late rows")

    # The late rows carry the input columns unchanged.
    by_id = events.set_index("id")
    src = by_id.loc[late["id"].astype(int)]
    assert list(late["key"]) == list(src["key"])
    assert to_ms(late["ts"]) == list(src["ts_ms"])
    assert list(late["v"].astype(float)) == list(src["v"])
    assert late["reason"].astype(str).str.len().gt(0).all()

    # Conservation: every (row, window) pair is counted in a window or missed on `late`.
    n_windows = {rid: len(case.windows(ts)) for rid, ts in zip(events["id"], events["ts_ms"])}
    missed = dict(zip(late["id"].astype(int), late["missed_windows"].astype(int)))
    assert all(1 <= m <= n_windows[rid] for rid, m in missed.items())
    assert int(out["cnt"].sum()) == sum(n_windows.values()) - sum(missed.values())


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.name in ("hop", "session")], ids=lambda c: c.name
)
def test_late_collect_matches_side_sink(case, sl, events, run_streamlab):
    """``res.late.collect()`` and ``res.errors.collect()`` give what the side sinks saw."""
    res = build_pipeline(sl, events, case, 37)
    _, late, errors = run_streamlab(case, 37)
    collected = res.late.collect()
    assert len(collected) == len(late) > 0
    pd.testing.assert_frame_equal(collected, late[list(collected.columns)])
    assert len(res.errors.collect()) == len(errors) == 0
