"""Session time zones on real Apache Flink: ``to_flink_sql()`` of windows with ``tz=`` (and of a
``%%streamlab`` cell with ``SET 'table.local-time-zone'``) run on Flink give streamlab's rows.

Disordered events with late rows, written once as UTC CSV, go through TUMBLE (a day with an 8-hour
offset in Asia/Shanghai, days, hours and half hours across both Europe/Berlin DST changes), HOP
and CUMULATE. One Flink job per zone (a job has one ``table.local-time-zone``).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import streamlab as sl
from streamlab.flink import flink_export, write_csv
from tests.test_flink_export import flink_rows
from tests.test_window_timezone import events

pytestmark = pytest.mark.flink

REPO = Path(__file__).resolve().parents[1]
FLINK_PYTHON = REPO / ".venv-flink" / "bin" / "python"
RUNNER = REPO / "tests" / "flink" / "run_flink_scripts.py"
COLUMNS = ["ts", "k", "v"]

SPECS = {
    "Asia/Shanghai": {
        "sh_day_8h": lambda z: sl.Tumble("24h", offset="8h", tz=z),
        "sh_hop": lambda z: sl.Hop("24h", "6h", offset="2h", tz=z),
        "sh_cumulate": lambda z: sl.Cumulate("24h", "6h", offset="8h", tz=z),
        "sh_hour": lambda z: sl.Tumble("1h", tz=z),
        "sh_hop_hours": lambda z: sl.Hop("2h", "1h", tz=z),
    },
    "Europe/Berlin": {
        "be_day": lambda z: sl.Tumble("24h", tz=z),
        "be_hour": lambda z: sl.Tumble("1h", tz=z),
        "be_30min": lambda z: sl.Tumble("30min", tz=z),
        "be_hop": lambda z: sl.Hop("2h", "1h", tz=z),
        "be_cumulate": lambda z: sl.Cumulate("24h", "6h", tz=z),
    },
}
SQL = """SET 'table.local-time-zone' = 'Europe/Berlin';
SELECT k, window_start, window_end, COUNT(*) AS n, SUM(v) AS s
FROM TABLE(TUMBLE(TABLE tz_events, DESCRIPTOR(ts), INTERVAL '1' HOUR))
GROUP BY k, window_start, window_end"""


def _frame() -> pd.DataFrame:
    parts = [events("2024-03-27", 72, seed=1, n=1_200), events("2024-03-30", 48, seed=2, n=1_200),
             events("2024-10-26", 48, seed=3, n=1_200)]
    return pd.concat(parts, ignore_index=True)


def _local(values: pd.Series) -> list[int]:
    assert values.dt.tz is None
    return values.astype("datetime64[ms]").astype("int64").tolist()


def _rows(df: pd.DataFrame) -> set[tuple]:
    return set(zip(df.k, _local(df.window_start), _local(df.window_end), df.n.astype(int), df.s.astype(int)))


@pytest.fixture(scope="module")
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    if "streamlab" not in ip.extension_manager.loaded:
        ip.run_line_magic("load_ext", "streamlab")
    before = set(ip.user_ns)
    yield ip
    for name in set(ip.user_ns) - before:
        del ip.user_ns[name]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, shell) -> dict:
    if not FLINK_PYTHON.exists():
        msg = f"{FLINK_PYTHON} is missing: run `bash scripts/setup-flink.sh`"
        if os.environ.get("STREAMLAB_SKIP_FLINK") == "1":
            pytest.skip(msg + " (skipped: STREAMLAB_SKIP_FLINK=1)")
        pytest.fail(msg + " (or set STREAMLAB_SKIP_FLINK=1 to skip)", pytrace=False)
    work = tmp_path_factory.mktemp("flink_tz")
    path = write_csv(_frame(), work / "events.csv", COLUMNS)

    def src():
        return sl.from_csv(path, time="ts", header=None, names=COLUMNS, batch_size=101).watermark("30min")

    out: dict = {}
    for zone, specs in SPECS.items():
        results = {name: src().window(make(zone), by="k").agg(n=("v", "size"), s=("v", "sum"))
                   for name, make in specs.items()}
        if zone == "Europe/Berlin":
            shell.user_ns["tz_events"] = sl.from_csv(path, time="ts", header=None, names=COLUMNS, batch_size=101)
            try:
                results["be_sql"] = shell.run_cell_magic("streamlab", "--watermark 30min", SQL)
            finally:  # the cell's SET holds for the session: leave UTC to later tests
                shell.run_cell_magic("streamlab", "", "RESET 'table.local-time-zone';")
        exports = {name: flink_export(res, source_table=f"src_{name}", sink_table=f"sink_{name}",
                                      sink_path=str(work / "out" / name)) for name, res in results.items()}
        job = {"scripts": {name: e.script() for name, e in exports.items()},
               "summary": str(work / f"summary_{len(out)}.json")}
        job_path = work / f"job_{len(out)}.json"
        job_path.write_text(json.dumps(job, indent=2))
        proc = subprocess.run([str(FLINK_PYTHON), str(RUNNER), str(job_path)], capture_output=True,
                              text=True, timeout=900, cwd=work)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
            pytest.fail(f"the Flink job failed (exit {proc.returncode}):\n{tail}", pytrace=False)
        for name, res in results.items():
            flink = pd.DataFrame(flink_rows(work / "out" / name, exports[name].sink_columns))
            out[name] = (res.collect(), flink, exports[name], len(res.late.collect()))
    return out


#: Europe/Berlin (a zone with daylight saving time): Flink's rows, exactly; in Asia/Shanghai
#: windows of whole hours (their ends are whole hours in UTC too) are exact as well.
EXACT = [*SPECS["Europe/Berlin"], "be_sql", "sh_hour", "sh_hop_hours"]
#: Asia/Shanghai: Flink 2.3 loses rows of LTZ windows in zones without daylight saving time
#: (FLINK-38075: its window buffer is flushed on UTC-aligned watermarks and drops what it still
#: holds as late; here whole days go missing, even for sorted input). streamlab keeps Flink's
#: documented rule (TimeWindowUtil), so only the bounds of the windows Flink emits are compared.
BOUNDS_ONLY = ["sh_day_8h", "sh_hop", "sh_cumulate"]


def _theirs(flink: pd.DataFrame) -> set[tuple]:
    # Flink's TIMESTAMP(3) bounds are local wall-clock text; parse_ts reads them as ms since 1970
    return set(zip(flink.k, flink.window_start, flink.window_end, flink.n.astype(int), flink.s.astype(int)))


@pytest.mark.parametrize("name", EXACT)
def test_flink_gives_streamlabs_rows_in_the_session_time_zone(name, runs):
    mine, flink, export, late = runs[name]
    assert export.settings["table.local-time-zone"] == ("Asia/Shanghai" if name.startswith("sh") else "Europe/Berlin")
    assert "TIMESTAMP_LTZ" in export.source_ddl
    assert _rows(mine) == _theirs(flink)
    assert len(mine) > 10 and late > 0


@pytest.mark.parametrize("name", BOUNDS_ONLY)
def test_flink_window_bounds_in_a_zone_without_dst(name, runs):
    mine, flink, export, late = runs[name]
    assert export.settings["table.local-time-zone"] == "Asia/Shanghai"
    bounds = {r[:3] for r in _rows(mine)}
    theirs = {r[:3] for r in _theirs(flink)}
    assert theirs and theirs <= bounds


def test_the_shanghai_day_starts_at_08_local(runs):
    mine, flink, _, _ = runs["sh_day_8h"]
    assert (mine.window_start.dt.hour == 8).all() and (mine.window_end - mine.window_start == pd.Timedelta("1D")).all()
