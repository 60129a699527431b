"""Flink SQL export: the exported script, run on real Apache Flink, gives streamlab's rows.

One seeded, disordered event stream (with late rows) is written once as a headerless CSV with
datetime times and once with epoch-ms times. Several pipelines read those same files with
``sl.from_csv``; each is exported with ``to_flink_sql`` and all the scripts run in ONE PyFlink
job (``tests/flink/run_flink_scripts.py``). Flink's sink files must hold exactly the rows of
``collect()``: TUMBLE, HOP, CUMULATE and SESSION, keyed and global, with WHERE clauses and
every exportable aggregate, plus a ``%%streamlab`` query with a select list.

The refusal tests and the magic tests need no Flink. Without ``.venv-flink`` the Flink tests fail,
unless ``STREAMLAB_SKIP_FLINK=1`` turns them into skips.
"""

from __future__ import annotations

import calendar
import csv
import dataclasses
import json
import math
import os
import re
import subprocess
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import streamlab as sl
from streamlab.flink import (
    FlinkExportOptions,
    build_export,
    flink_export,
    query_to_sql,
    to_flink_sql,
    write_csv,
)
from tests.flink.events import lagged_times

REPO = Path(__file__).resolve().parents[1]
FLINK_PYTHON = REPO / ".venv-flink" / "bin" / "python"
RUNNER = REPO / "tests" / "flink" / "run_flink_scripts.py"
BASE_MS = 1_710_028_800_000  # 2024-03-10 00:00:00 UTC
DELAY_MS = 120
COLUMNS = ["id", "key", "grp", "ts", "v", "i"]
INEXACT = ("sd", "va")  # STDDEV_SAMP / VAR_SAMP: Flink uses sums of squares, streamlab Welford
QUERY = """
SELECT window_end, key, COUNT(*) AS cnt, AVG(v) AS mean_v, MAX(v) AS hi, SUM(i) AS si
FROM TABLE(HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '0.05' SECOND, INTERVAL '0.2' SECOND))
WHERE v > 0 OR i = 3
GROUP BY key, window_start, window_end
"""


def make_events(seed: int = 11, n: int = 3000) -> pd.DataFrame:
    """``n`` events in arrival order: disordered, some exactly on the lateness edge, some late."""
    rng = np.random.default_rng(seed)
    ts = lagged_times(rng, n, BASE_MS, DELAY_MS)
    return pd.DataFrame({
        "id": np.arange(n),
        "key": rng.choice(["alpha", "beta", "gamma", "delta"], n, p=[0.4, 0.3, 0.2, 0.1]),
        "grp": rng.choice(["x", "y"], n),
        "ts": ts,
        # multiples of 0.25: sums are exact in any order; 3% missing (empty CSV fields)
        "v": np.where(rng.random(n) < 0.03, np.nan, rng.integers(-8, 24, n) / 4),
        "i": rng.integers(0, 10, n),
    })


def pipelines(dt_csv: str, ms_csv: str) -> dict:
    """name -> result stream; every one reads one of the two CSV files."""
    def src(delay=f"{DELAY_MS}ms", numeric=False):
        path, unit = (ms_csv, "ms") if numeric else (dt_csv, None)
        s = sl.from_csv(path, time="ts", unit=unit, header=None, names=COLUMNS, batch_size=97)
        return s if delay is None else s.watermark(delay)

    every = dict(cnt=("v", "size"), n=("v", "count"), s=("v", "sum"), avg=("v", "mean"),
                 mn=("v", "min"), mx=("v", "max"), sd=("v", "std"), va=("v", "var"),
                 si=("i", "sum"), ai=("i", "mean"), mi=("i", "max"))
    return {
        "tumble": src().where("v > -1 and key != 'delta'")
        .window(sl.Tumble("100ms", offset="30ms"), by="key")
        .agg(**every, f=("v", "first"), l=("v", "last"), fi=("i", "first"), lk=("grp", "last")),
        "hop": src().where("(v >= 1 or i in [1, 2, 3]) and not key == 'beta'")
        .window(sl.Hop("200ms", "50ms", offset="-20ms"), by=["key", "grp"]).agg(**every),
        "cumulate": src("80ms").window(sl.Cumulate("400ms", "100ms")).agg(**every),
        "cumulate_offset": src().where("i != 4")
        .window(sl.Cumulate("400ms", "100ms", offset="30ms"), by="grp").agg(**every),
        "session": src().where("i > 1").window(sl.Session("40ms"), by="key").agg(**every),
        "session_global": src("0ms").window(sl.Session("40ms")).agg(cnt=("v", "size"), s=("v", "sum")),
        "tumble_ms": src(numeric=True).where("v != 0").window(sl.Tumble("100ms"), by="grp")
        .agg(cnt=("v", "size"), s=("v", "sum"), avg=("v", "mean"), f=("v", "first"), l=("i", "last")),
        "hop_ms_nowm": src(None, numeric=True).window(sl.Hop("300ms", "100ms"), by="key")
        .agg(cnt=("v", "size"), s=("v", "sum"), mn=("i", "min")),
    }


# ----------------------------------------------------------------------------------------------
# Normalising rows of both sides


def parse_ts(text: str) -> int:
    """Flink's zone-less ``TIMESTAMP(3)`` text (UTC) -> epoch ms."""
    whole, _, frac = text.partition(".")
    sec = calendar.timegm(datetime.strptime(whole, "%Y-%m-%d %H:%M:%S").timetuple())
    return sec * 1000 + int((frac + "000")[:3])


def _value(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    if isinstance(x, pd.Timestamp):
        return int(x.tz_convert("UTC").value // 1_000_000)
    if isinstance(x, (np.integer, int)) and not isinstance(x, bool):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return float(x)
    return str(x)


def streamlab_rows(df: pd.DataFrame) -> list[dict]:
    """collect() rows with window bounds as epoch ms and NaN as None."""
    return [{c: _value(v) for c, v in row.items()} for row in df.to_dict("records")]


def flink_rows(directory: Path, columns: list[tuple[str, str]]) -> list[dict]:
    """Rows of a Flink filesystem CSV sink, converted by the sink's declared column types."""
    convert = {"TIMESTAMP": parse_ts, "BIGINT": int, "INT": int, "DOUBLE": float}
    funcs = [convert.get(t.split("(")[0].upper(), str) for _, t in columns]
    rows = []
    for part in sorted(directory.iterdir()):
        if part.name.startswith((".", "_")):
            continue
        with part.open(newline="") as fh:
            for rec in csv.reader(fh):
                assert len(rec) == len(columns), (part, rec)
                rows.append({name: (f(x) if x != "" else None)
                             for (name, _), f, x in zip(columns, funcs, rec)})
    return rows


def assert_same(expected: list[dict], got: list[dict], group: list[str], what: str) -> None:
    """Same rows by group (keys + window bounds); floats exact except std/var (rel 1e-9)."""
    exp = {tuple(r[c] for c in group): r for r in expected}
    act = {tuple(r[c] for c in group): r for r in got}
    assert len(exp) == len(expected) and len(act) == len(got), f"{what}: duplicate windows"
    missing, extra = sorted(set(exp) - set(act)), sorted(set(act) - set(exp))
    assert not missing and not extra, (
        f"{what}: {len(expected)} streamlab rows, {len(got)} Flink rows; "
        f"only in streamlab {missing[:5]}, only in Flink {extra[:5]}")
    for k, row in exp.items():
        for col, want in row.items():
            have = act[k][col]
            if col in INEXACT and want is not None and have is not None:
                assert math.isclose(want, have, rel_tol=1e-9, abs_tol=1e-12), (what, k, col, want, have)
            else:
                assert want == have, f"{what}: window {k}, column {col}: streamlab {want!r}, Flink {have!r}"


# ----------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """The two input files (same rows): datetime and epoch-ms event times."""
    work = tmp_path_factory.mktemp("flink_export")
    df = make_events()
    dt_csv, ms_csv = work / "events.csv", work / "events_ms.csv"
    write_csv(df.assign(ts=pd.to_datetime(df["ts"], unit="ms")), dt_csv, COLUMNS)
    write_csv(df, ms_csv, COLUMNS)
    return {"work": work, "df": df, "dt": str(dt_csv), "ms": str(ms_csv)}


@pytest.fixture(scope="module")
def shell():
    """IPython's shell with ``%load_ext streamlab``; the names bound here are removed after.

    The extension stays loaded: other modules use the same singleton shell.
    """
    import gc

    from IPython.core.interactiveshell import InteractiveShell

    from streamlab.magics import StreamlabMagics

    ip = InteractiveShell.instance()
    if "streamlab" not in ip.extension_manager.loaded:
        ip.run_line_magic("load_ext", "streamlab")
    before = set(ip.user_ns)
    yield ip
    for name in set(ip.user_ns) - before:
        del ip.user_ns[name]
    for magics in (c for c in ip.configurables if isinstance(c, StreamlabMagics)):
        magics.results.pop("q_sql", None)
    gc.collect()  # named pipelines are weakly registered


@pytest.fixture(scope="module")
def results(files, shell) -> dict:
    """name -> (result stream, collect() frame); includes a %%streamlab query (``sql``)."""
    streams = pipelines(files["dt"], files["ms"])
    shell.user_ns["events"] = sl.from_csv(files["dt"], time="ts", header=None, names=COLUMNS,
                                          batch_size=97)
    streams["sql"] = shell.run_cell_magic("streamlab", f"--name q_sql --watermark {DELAY_MS}ms",
                                          QUERY)
    return {name: (res, res.collect()) for name, res in streams.items()}


@pytest.fixture(scope="module")
def flink(files, results) -> dict:
    """Run every export in one Flink job; return {name: (FlinkExport, Flink rows)}."""
    if not FLINK_PYTHON.exists():
        msg = f"{FLINK_PYTHON} is missing: run `bash scripts/setup-flink.sh`"
        if os.environ.get("STREAMLAB_SKIP_FLINK") == "1":
            pytest.skip(msg + " (skipped: STREAMLAB_SKIP_FLINK=1)")
        pytest.fail(msg + " (or set STREAMLAB_SKIP_FLINK=1 to skip)", pytrace=False)
    out = files["work"] / "out"
    exports = {name: flink_export(res, source_table=f"src_{name}", sink_table=f"sink_{name}",
                                  sink_path=str(out / name))
               for name, (res, _) in results.items()}
    job = {"scripts": {name: e.script() for name, e in exports.items()},
           "validate": {name: e.script() for name, e in kafka_exports(results).items()},
           "summary": str(files["work"] / "summary.json")}
    job_path = files["work"] / "job.json"
    job_path.write_text(json.dumps(job, indent=2))
    started = time.monotonic()
    proc = subprocess.run([str(FLINK_PYTHON), str(RUNNER), str(job_path)], capture_output=True,
                          text=True, timeout=900, cwd=files["work"])
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        pytest.fail(f"the Flink job failed (exit {proc.returncode}):\n{tail}", pytrace=False)
    print(f"Flink job: {time.monotonic() - started:.1f} s wall; {proc.stdout.strip()}")
    rows = {name: (e, flink_rows(out / name, e.sink_columns)) for name, e in exports.items()}
    rows["validated"] = json.loads(Path(job["summary"]).read_text())["validated"]
    return rows


def kafka_exports(results) -> dict:
    """Kafka-connector exports, checked by Flink's validator (PyFlink ships no Kafka connector)."""
    meta = sl.from_kafka("readings", time="kafka_timestamp", metadata=True, idle_timeout="2s",
                         columns=["sensor", "temp"], group="g")
    raw = sl.from_kafka("lines", time="kafka_timestamp", format="raw")
    pipes = {
        "kafka_hop": (results["hop"][0], {}),
        "kafka_ms": (results["tumble_ms"][0], {}),
        "kafka_sql": (results["sql"][0], {}),
        "kafka_meta": (meta.watermark("1s").where("temp > 20 and partition == 0")
                       .window(sl.Session("5s"), by="sensor").agg(n=("temp", "count")),
                       {"types": {"sensor": "STRING", "temp": "DOUBLE"}}),
        "kafka_raw": (raw.watermark("1s").window(sl.Tumble("1min"), by="key")
                      .agg(n=("value", "count")), {}),
    }
    return {name: flink_export(res, "kafka", topic=f"t_{name}", source_table=f"src_{name}",
                               sink_table=f"sink_{name}", **opts)
            for name, (res, opts) in pipes.items()}


# ----------------------------------------------------------------------------------------------
# The key test: Flink runs the exported SQL and gives streamlab's rows


CASES = ["tumble", "hop", "cumulate", "cumulate_offset", "session", "session_global", "tumble_ms",
         "hop_ms_nowm", "sql"]


@pytest.mark.flink
@pytest.mark.parametrize("name", CASES)
def test_flink_runs_the_export_and_gives_streamlab_rows(name, results, flink):
    res, out = results[name]
    export, got = flink[name]
    assert [c for c, _ in export.sink_columns] == list(out.columns)
    expected = streamlab_rows(out)
    assert len(expected) > 20
    window = res.window if hasattr(res, "outputs") else res
    assert window.counters.late > 0, "the data must exercise late rows"
    if name in ("cumulate", "cumulate_offset", "session"):  # no WHERE on v: its NULLs reach the window
        assert (out["n"] < out["cnt"]).any()
    group = [c for c in out.columns if c in (*window.by, "window_start", "window_end")]
    assert_same(expected, got, group, name)


@pytest.mark.flink
def test_kafka_exports_pass_flinks_validator(results, flink):
    exports = kafka_exports(results)
    assert set(flink["validated"]) == set(exports)
    for name, export in exports.items():
        got = [c.split("`")[1] for c in flink["validated"][name]]
        assert got == [c for c, _ in export.sink_columns], name


def test_data_is_disordered(files):
    ts = files["df"]["ts"].to_numpy()
    assert (np.diff(ts) < 0).mean() > 0.2


# ----------------------------------------------------------------------------------------------
# What the script says


def test_script_parts(results, files):
    res, _ = results["tumble_ms"]
    export = flink_export(res)
    script = export.script()
    for text in ("SET 'pipeline.auto-watermark-interval' = '0 ms';",
                 "SET 'table.local-time-zone' = 'UTC';", "SET 'parallelism.default' = '1';",
                 "  ts BIGINT,\n  v DOUBLE,\n  i BIGINT,\n  ts_time AS TO_TIMESTAMP_LTZ(ts, 3),\n"
                 "  WATERMARK FOR ts_time AS ts_time - INTERVAL '0.120' SECOND\n)",
                 f"'path' = 'file://{files['ms']}'",
                 "FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts_time), INTERVAL '0.100' SECOND))",
                 "WHERE COALESCE(v <> 0, TRUE)", "FIRST_VALUE(v) AS f", "LAST_VALUE(i) AS l",
                 "window_start / window_end are TIMESTAMP(3) in UTC"):
        assert text in script, text
    assert script.index("CREATE TABLE src") < script.index("CREATE TABLE sink") \
        < script.index("INSERT INTO sink")
    assert export.statements()[-1] == export.insert and ";" not in export.insert
    assert str(export) == script == res.to_flink_sql()


def test_sql_magic_export_keeps_the_select_list_and_table_name(results):
    res, _ = results["sql"]
    insert = flink_export(res).insert
    assert insert.startswith("INSERT INTO sink\nSELECT window_end, key, COUNT(*) AS cnt, "
                             "AVG(v) AS mean_v, MAX(v) AS hi, SUM(i) AS si\n"
                             "FROM TABLE(HOP(TABLE events, ")
    assert "WHERE (v > 0 OR i = 3)" in insert


def test_kafka_connector(results):
    res, _ = results["hop"]
    script = to_flink_sql(res, connector="kafka", topic="events", bootstrap="10.0.0.1:9092",
                          group="g1", start="committed")
    for text in ("'connector' = 'kafka'", "'topic' = 'events'",
                 "'properties.bootstrap.servers' = '10.0.0.1:9092'", "'properties.group.id' = 'g1'",
                 "'scan.startup.mode' = 'group-offsets'", "'format' = 'json'",
                 "'topic' = 'events-windows'"):
        assert text in script, text
    assert "'connector' = 'filesystem'" not in script
    mixed = to_flink_sql(res, connector="kafka", topic="events", sink_connector="filesystem",
                         sink_path="/tmp/w")
    assert "'path' = 'file:///tmp/w'" in mixed


def test_types_override_and_unknown_types():
    src = sl.from_streamz(__import__("streamz").Stream(), time="ts", unit="ms", columns=["ts", "v"])
    res = src.window(sl.Tumble("1s")).agg(s=("v", "sum"))
    with pytest.raises(ValueError, match=r"Flink types of column\(s\) \['ts', 'v'\] are unknown"):
        to_flink_sql(res, connector="kafka", topic="t")
    script = to_flink_sql(res, connector="kafka", topic="t", types={"ts": "BIGINT", "v": "DECIMAL(10, 2)"})
    assert "v DECIMAL(10, 2)" in script and "SUM(CAST(v AS DOUBLE)) AS s" in script


@pytest.mark.parametrize(("query", "sql"), [
    ("v > 0", "v > 0"),
    ("v > 0 & key == 'a' | i < 3", "((v > 0 AND key = 'a') OR i < 3)"),
    ("key in ['a', 'b'] and i not in (1, 2)", "(key IN ('a', 'b') AND COALESCE(i NOT IN (1, 2), TRUE))"),
    ("key == ['a']", "key IN ('a')"),
    ("not (v >= 1.5)", "NOT (COALESCE(v >= 1.5, FALSE))"),
    ("~(key != 'a')", "NOT (key <> 'a')"),
    ("(v + 1) / 2 > i * 3", "(CAST((v + 1) AS DOUBLE) / 2) > (i * 3)"),
    ("v.isna() or `my col` == -1", "(v IS NULL OR `my col` = -1)"),
    ("flag", "flag"),
])
def test_pandas_query_translation(query, sql):
    assert query_to_sql(query) == sql


def test_pandas_query_translation_matches_pandas_with_nulls():
    """The COALESCE wrapping keeps exactly the rows pandas keeps, NULLs included (via sqlite)."""
    import sqlite3

    df = pd.DataFrame({"v": [1.0, None, 3.0, -1.0, None], "key": ["a", "b", None, "a", "c"]})
    con = sqlite3.connect(":memory:")
    df.reset_index().to_sql("t", con)
    for q in ("v != 1", "not (v > 0)", "key not in ['a']", "not (key in ['a'] or v < 0)",
              "~(v != 3) | key == 'c'", "v > 0 and key != 'b'"):
        sql = query_to_sql(q).replace("COALESCE", "IFNULL")
        kept = [r[0] for r in con.execute(f"SELECT \"index\" FROM t WHERE {sql} ORDER BY 1")]
        assert kept == list(df.query(q).index), (q, sql)


# ----------------------------------------------------------------------------------------------
# Refusals name the step


def _src(df=None):
    df = df if df is not None else pd.DataFrame({"ts": [0, 5, 9], "k": list("aab"), "v": [1.0, 2.0, 3.0]})
    return sl.from_frame(df, time="ts", unit="ms")


@pytest.mark.parametrize(("build", "message"), [
    (lambda: _src().watermark("0ms").where(lambda d: d.v > 0).window(sl.Tumble(5)).agg(n=("v", "size")),
     "step 3 where(<lambda>) is a Python callable; Flink SQL cannot run it — use a query string "
     "such as where('v > 0')"),
    (lambda: _src().watermark(1).window(sl.Tumble(5), by="k").agg(m=("v", "median")),
     "step 3 Tumble(5ms) by k: m=median(v): agg m=median(v) has no Flink SQL window aggregate"),
    (lambda: _src().window(sl.Tumble(5)).agg(r=("v", np.ptp)),
     "agg r=ptp(v) is a Python callable; Flink SQL cannot run it"),
    (lambda: _src().watermark(0).assign(w=lambda d: d.v * 2).window(sl.Tumble(5)).agg(s=("w", "sum")),
     "step 3 assign(w): column 'w' is computed by Python (function)"),
    (lambda: _src().watermark(0).map(lambda d: d).window(sl.Tumble(5)).agg(s=("v", "sum")),
     "step 3 map(<lambda>) is a streamz operator; Flink SQL cannot run Python code"),
    (lambda: _src().watermark(0).window(sl.Tumble(5), allowed_lateness=3).agg(s=("v", "sum")),
     "has allowed_lateness: Flink SQL window TVFs drop every late row"),
    (lambda: _src().watermark(0).window(sl.Tumble(5), emit_early="1s").agg(s=("v", "sum")),
     "has emit_early"),
    (lambda: _src().watermark(0).window(sl.Hop(10, 5)).agg(f=("v", "first")),
     "agg f=first(v): Flink's FIRST_VALUE cannot merge partial results"),
    (lambda: _src().where("v > 0").window(sl.Tumble(5)).agg(s=("v", "sum")),
     "add .watermark('0ms') (or the delay you want) before .where()"),
    (lambda: _src().where("v > 0").watermark(0).window(sl.Tumble(5)).agg(s=("v", "sum")),
     "step 3 watermark(0ms) comes after a where()"),
    (lambda: _src().watermark(0).where("v > @limit").window(sl.Tumble(5)).agg(s=("v", "sum")),
     "@variables are not supported"),
    (lambda: _src().watermark(0).where("v % 2 == 1").window(sl.Tumble(5)).agg(s=("v", "sum")),
     "operator Mod"),
    (lambda: _src().watermark(0).where("w > 1").window(sl.Tumble(5)).agg(s=("v", "sum")),
     "unknown column 'w'"),
    (lambda: _src().watermark(0).window(sl.Tumble(5)).agg(s=("k", "max")),
     "needs a numeric column; 'k' is STRING"),
    (lambda: _src().watermark(0), "to_flink_sql exports a window result"),
])
def test_refusals_name_the_step(build, message):
    res = build()
    with pytest.raises(ValueError) as info:
        res.to_flink_sql()
    assert message in str(info.value)


def test_option_mistakes():
    res = _src().window(sl.Tumble(5)).agg(s=("v", "sum"))
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['sinkpath'\] \(did you mean "
                                        r"sink_path\?\); options are: connector, .*, settings\b"):
        res.to_flink_sql(sinkpath="/x")
    with pytest.raises(ValueError, match="connector='jdbc'"):
        res.to_flink_sql(connector="jdbc")
    assert "NOTE: topic 'src' is the table name: pass topic=" in res.to_flink_sql(connector="kafka")


@pytest.mark.parametrize(("options", "error", "message"), [
    ({"sink_connector": "s3"}, ValueError, "sink_connector='s3'; use one of filesystem, kafka"),
    ({"start": "newest"}, ValueError, "start='newest'; use one of earliest, latest, committed"),
    ({"topic": ""}, TypeError, "topic= takes a non-empty string, got ''"),
    ({"sink_table": 3}, TypeError, "sink_table= takes a non-empty string, got 3"),
    ({"path": 1.5}, TypeError, "path= takes a file path or URI, got 1.5"),
    ({"types": {"v": float}}, TypeError, "types= takes a dict {column: Flink type}"),
    ({"sink_options": [("k", "v")]}, TypeError, "sink_options= takes a dict {WITH option: value}"),
    ({"settings": "no"}, TypeError, "settings= takes True or False, got 'no'"),
])
def test_options_are_checked_by_name(options, error, message):
    with pytest.raises(error, match=re.escape(message)):
        FlinkExportOptions(**options)
    res = _src().window(sl.Tumble(5)).agg(s=("v", "sum"))
    with pytest.raises(error, match=re.escape(message)):
        res.to_flink_sql(**options)


def test_options_are_a_frozen_copy():
    types = {"v": "DOUBLE"}
    options = FlinkExportOptions(connector="kafka", topic="t", types=types, sink_connector=None)
    types["v"] = "INT"
    assert options.types == {"v": "DOUBLE"} and options.sink == "kafka"
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.topic = "u"  # type: ignore[misc]
    res = _src().watermark(0).window(sl.Tumble(5)).agg(s=("v", "sum"))
    assert build_export(res, options).script() == to_flink_sql(res, "kafka", topic="t",
                                                               types={"v": "DOUBLE"})


def test_constant_assign_becomes_a_view():
    res = _src().watermark(0).assign(tag="x", w=2).window(sl.Tumble(5), by="tag").agg(s=("w", "sum"))
    export = flink_export(res)
    assert export.view_ddl == "CREATE TEMPORARY VIEW src_input AS SELECT *, 'x' AS tag, 2 AS w FROM src"
    assert "TUMBLE(TABLE src_input, DESCRIPTOR(ts_time)" in export.query
    assert export.sink_columns[0] == ("tag", "STRING")


# ----------------------------------------------------------------------------------------------
# The magic


def test_magic_export_equals_to_flink_sql(shell, results, capsys, tmp_path):
    res, _ = results["sql"]
    assert shell.run_line_magic("streamlab", "export q_sql --flink") is None
    printed = capsys.readouterr().out
    assert printed == to_flink_sql(res)
    assert "SELECT window_end, key, COUNT(*) AS cnt" in printed
    shell.run_line_magic("streamlab", "export q_sql --flink --connector kafka --out "
                         + str(tmp_path / "job.sql"))
    assert "written to" in capsys.readouterr().out
    assert (tmp_path / "job.sql").read_text() == to_flink_sql(res, connector="kafka")


def test_magic_export_refusal_is_one_line(shell):
    from streamlab.magics import StreamlabUsageError

    shell.user_ns["lam"] = _src().watermark(0).where(lambda d: d.v > 0).window(sl.Tumble(5)).agg(
        s=("v", "sum"))
    with pytest.raises(StreamlabUsageError) as info:
        shell.run_line_magic("streamlab", "export lam --flink")
    assert info.value.kind == "unsupported"
    assert "step 3 where(<lambda>) is a Python callable" in info.value.what
