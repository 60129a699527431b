"""``to_flink_sql()`` of updating and ranking results, run on real Apache Flink (one process).

Every form of issue 11 — continuous GROUP BY, window Top-N and deduplication (raw TVF rows and after
a window aggregation), continuous Top-N and deduplication (keep first / keep last), OVER RANGE and
ROWS — is exported from the Python API and from ``%%streamlab`` SQL (``sl.sql.query``). Flink runs
each EXPORTED script: append-only ones into their filesystem sinks (one StatementSet job), changelog
ones by collecting the exported query with its row kinds (Flink's filesystem sink takes no updates;
the export's own sink is ``print``). streamlab runs at batch sizes 1 and 10 000; the export is the
same text for both. Windowed forms: identical rows. Continuous forms: a valid changelog on both
sides and the identical final state. OVER RANGE: identical except Flink 2.3's known difference for
rows behind the watermark (see ``tests/test_flink_ranking.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from streamlab.flink import flink_export, write_csv
from streamlab.ranking.changelog import apply_changelog
from tests.test_flink_export import flink_rows
from tests.test_flink_ranking import (
    APPEND,
    CHANGELOG,
    DELAY_MS,
    FLINK_PYTHON,
    behind_watermark,
    make_events,
)

REPO = Path(__file__).resolve().parents[1]
RUNNER = REPO / "tests" / "flink" / "run_flink_exports.py"
BATCHES = (1, 10_000)
COLUMNS = ["id", "k", "g", "ts", "v"]
AGGS = dict(c=("v", "count"), s=("v", "sum"), lo=("v", "min"), hi=("v", "max"), m=("v", "mean"))
#: Continuous forms selecting rownum: Flink's ``*`` holds it (Top-N: per-rank updates; dedup: always 1).
ROWNUM_SQL = {
    "sql_topn_rownum": "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rownum "
                       "FROM src) WHERE rownum <= 3",
    "sql_bottom_rn": "SELECT id, rn, v FROM (SELECT *, ROW_NUMBER() OVER (ORDER BY v ASC) AS rn FROM src) "
                     "WHERE rn <= 4",
    "sql_dedup_first_star": "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY g ORDER BY ts ASC) AS rownum "
                            "FROM src) WHERE rownum = 1",
    "sql_dedup_last_rownum": "SELECT k, id, rownum FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) "
                             "AS rownum FROM src) WHERE rownum = 1",
}


def python_forms(sl) -> dict:
    """name -> (stream -> result) in the Python API."""
    tumble, hop = sl.Tumble("200ms"), sl.Hop("200ms", "100ms")
    return {
        "groupby": lambda s: s.groupby("k").agg(n=("v", "size"), **AGGS),
        "groupby_where": lambda s: s.where("v > 2").groupby(["k", "g"]).agg(n=("v", "size"), s=("v", "sum")),
        "wtopn": lambda s: s.window(tumble, by="k").nlargest(2, "v"),
        "wbottom_hop": lambda s: s.window(hop).nsmallest(3, "v"),
        "wfirst": lambda s: s.window(tumble, by="k").drop_duplicates("first"),
        "wlast": lambda s: s.window(sl.Cumulate("400ms", "100ms"), by="k").drop_duplicates("last"),
        "aggtop": lambda s: s.window(tumble, by="k").agg(s=("v", "sum"), n=("v", "size")).nlargest(2, "s"),
        "topn": lambda s: s.nlargest(3, "v", by="k"),
        "topn_rownum": lambda s: s.nlargest(2, "v", by="g", rownum=True),
        "bottom_where": lambda s: s.where("v > 1").nsmallest(2, "v", by="k"),
        "dedup_last": lambda s: s.drop_duplicates("k", keep="last"),
        "dedup_first": lambda s: s.drop_duplicates("g"),
        "over_range": lambda s: s.rolling("60ms", by="k").agg(**AGGS),
        "over_rows": lambda s: s.rolling(4, by="k").agg(**AGGS),
        "over_rows_global": lambda s: s.where("v < 8").rolling(3).agg(s=("v", "sum"), n=("v", "size")),
    }


def sql_forms(sl) -> dict:
    """name -> (stream -> result) through ``sl.sql.query`` (what ``%%streamlab`` runs)."""
    import streamlab.sql  # noqa: F401 - sl.sql

    queries = {f"sql_{n}": q for n, q in {**APPEND, **CHANGELOG}.items()}
    queries.update(ROWNUM_SQL)
    return {name: (lambda s, q=q: sl.sql.query(q, src=s)) for name, q in queries.items()}


def ms_forms(sl) -> dict:
    """Forms over epoch-ms numbers (``unit="ms"``): the export orders by a computed rowtime."""
    return {
        "ms_wtopn": lambda s: s.window(sl.Tumble("200ms"), by="k").nlargest(2, "v"),
        "ms_dedup_first": lambda s: s.drop_duplicates("g"),
        "ms_dedup_last": lambda s: s.drop_duplicates("k", keep="last"),
        "ms_over_range": lambda s: s.rolling("60ms", by="k").agg(s=("v", "sum"), n=("v", "size")),
        "ms_over_rows": lambda s: s.rolling(2, by="g").agg(s=("v", "sum"), hi=("v", "max")),
    }


def forms(sl) -> dict:
    return {**python_forms(sl), **sql_forms(sl), **ms_forms(sl)}


#: name -> how to compare: "rows" (identical rows), "ranked" (window bounds, rownum and the ranked
#: value: equal values may belong to other keys), "range" (OVER RANGE), "changelog" (final state).
KINDS = {"groupby": "changelog", "groupby_where": "changelog", "topn": "changelog", "bottom_where": "changelog",
         "dedup_last": "changelog", "aggtop": "ranked", "over_range": "range",
         "sql_groupby": "changelog", "sql_topn": "changelog", "sql_dedup_last": "changelog",
         "topn_rownum": "changelog", "sql_topn_rownum": "changelog", "sql_bottom_rn": "changelog", "sql_dedup_last_rownum": "changelog",
         "sql_aggtop": "ranked", "sql_over_range": "range", "ms_dedup_last": "changelog", "ms_over_range": "range"}


def source(sl, path: str, batch: int, unit: str | None = None):
    return sl.from_csv(path, time="ts", unit=unit, header=None, names=COLUMNS,
                       batch_size=batch).watermark(f"{DELAY_MS}ms")


def export(res, name: str, out: Path):
    return flink_export(res, source_table=f"src_{name}", sink_table=f"sink_{name}", sink_path=str(out / name))


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> dict:
    import streamlab as sl

    base = tmp_path_factory.mktemp("flink-ranking-export")
    events = make_events()
    path = write_csv(events.assign(ts=pd.to_datetime(events["ts_ms"], unit="ms")), base / "events.csv", COLUMNS)
    path_ms = write_csv(events.assign(ts=events["ts_ms"]), base / "events_ms.csv", COLUMNS)
    return {"sl": sl, "base": base, "events": events, "path": path, "path_ms": path_ms}


def form(work, name: str, batch: int):
    """The result ``name`` over a fresh source (a collect() runs only its own pipeline)."""
    numeric = name.startswith("ms_")
    src = source(work["sl"], work["path_ms" if numeric else "path"], batch, "ms" if numeric else None)
    return forms(work["sl"])[name](src)


def all_forms(work, batch: int) -> dict:
    return {name: form(work, name, batch) for name in forms(work["sl"])}


def is_changelog(export) -> bool:
    return "'connector' = 'print'" in export.sink_ddl


@pytest.fixture(scope="module")
def flink(work) -> dict:
    """Run every export in one Flink process; {name: export}; rows under ``base/out``."""
    if not FLINK_PYTHON.exists():
        msg = f"{FLINK_PYTHON} is missing: run `bash scripts/setup-flink.sh`"
        if os.environ.get("STREAMLAB_SKIP_FLINK") == "1":
            pytest.skip(msg)
        pytest.fail(msg, pytrace=False)
    out = work["base"] / "out"
    exports = {name: export(res, name, out) for name, res in all_forms(work, 1).items()}
    job = {"scripts": {n: e.script() for n, e in exports.items() if not is_changelog(e)},
           "collect": {n: e.script() for n, e in exports.items() if is_changelog(e)},
           "validate": {n: e.script() for n, e in kafka_exports(work).items()}, "out": str(out)}
    (work["base"] / "job.json").write_text(json.dumps(job, indent=2))
    started = time.monotonic()
    proc = subprocess.run([str(FLINK_PYTHON), str(RUNNER), str(work["base"] / "job.json")], capture_output=True,
                          text=True, timeout=900, cwd=work["base"])
    if proc.returncode:
        pytest.fail("the Flink job failed:\n" + "\n".join((proc.stdout + proc.stderr).splitlines()[-40:]),
                    pytrace=False)
    print(f"Flink: {time.monotonic() - started:.1f} s; {proc.stdout.strip()}")
    return exports


def kafka_exports(work) -> dict:
    """Kafka source and upsert-kafka / kafka sinks: checked by Flink's validator (no broker here)."""
    names = {"groupby": {}, "sql_topn_rownum": {}, "dedup_last": {}, "over_rows": {}}
    return {f"kafka_{n}": flink_export(form(work, n, 1000), "kafka", topic=f"t_{n}", source_table=f"ksrc_{n}",
                                       sink_table=f"ksink_{n}", **opts) for n, opts in names.items()}


def normal(df: pd.DataFrame) -> pd.DataFrame:
    """Datetimes as epoch ms (UTC), the rest as they are."""
    df = df.copy()
    for col in df.columns:
        values = df[col]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        if values.dtype.kind == "M":
            df[col] = values.astype("datetime64[ms]").astype("int64")
    return df


def flink_frame(export, out: Path, name: str) -> pd.DataFrame:
    cols = [c for c, _ in export.sink_columns]
    if is_changelog(export):
        lines = [json.loads(x) for x in (out / f"{name}.changelog.jsonl").read_text().splitlines()]
        df = pd.DataFrame([[x["op"], *x["values"]] for x in lines], columns=["op", *cols])
        for col, typ in export.sink_columns:
            if typ.startswith("TIMESTAMP"):
                df[col] = pd.to_datetime(df[col], format="ISO8601")
        return normal(df)
    return pd.DataFrame(flink_rows(out / name, export.sink_columns), columns=cols)


def same(got: pd.DataFrame, want: pd.DataFrame, cols: list[str], what: str) -> None:
    g = got[cols].sort_values(cols).reset_index(drop=True)
    w = want[cols].sort_values(cols).reset_index(drop=True)
    assert len(g) == len(w), f"{what}: streamlab {len(g)} rows, Flink {len(w)}"
    pd.testing.assert_frame_equal(g, w, check_dtype=False, obj=what)


def touched_by_behind_rows(events: pd.DataFrame, got_ids: set, span_ms: int) -> set:
    """Rows behind the watermark (not late by the per-key rule) and the RANGE windows holding them."""
    touched = behind_watermark(events) & got_ids
    for k, t in events[events["id"].isin(list(touched))][["k", "ts_ms"]].itertuples(index=False):
        near = events[(events["k"] == k) & (events["ts_ms"] >= t) & (events["ts_ms"] <= t + span_ms)]
        touched |= set(near["id"])
    return touched


def cases() -> list[tuple[str, int]]:
    """Every form at the large batch size; at batch size 1 every Python API form and the SQL forms
    that build operators the Python ones do not (rownum selections); the other SQL forms compile to
    the same operators as their Python twins, which run at both sizes."""
    import streamlab as sl

    names = list(forms(sl))
    once = {**python_forms(sl), **ROWNUM_SQL, **ms_forms(sl)}
    return [(n, BATCHES[1]) for n in names] + [(n, 1) for n in names if n in once]


@pytest.mark.flink
@pytest.mark.parametrize("name, batch", cases())
def test_flink_runs_the_export_and_gives_streamlabs_rows(work, flink, name, batch):
    out = work["base"] / "out"
    res = form(work, name, batch)
    exported = export(res, name, out)
    assert exported.script() == flink[name].script(), "the export must not depend on the batch size"
    kind = KINDS.get(name, "rows")
    got, want = normal(res.collect()), flink_frame(exported, out, name)
    cols = [c for c, _ in exported.sink_columns]
    assert len(want) > 20
    if kind == "changelog":
        assert list(got.columns) == ["op", *cols]
        assert set(got["op"]) <= {"+I", "-U", "+U", "-D"}
        assert batch > 1 or set(got["op"]) != {"+I"}  # one batch of everything: inserts only
        assert set(want["op"]) != {"+I"}
        same(apply_changelog(got), apply_changelog(want), cols, name)  # both must be valid changelogs
    elif kind == "ranked":
        same(got, want, ["window_start", "window_end", "rownum", "s"], name)
    elif kind == "range":
        ids = set(got["id"])
        assert not set(want["id"]) - ids and set(ids) - set(want["id"]) <= behind_watermark(work["events"])
        touched = touched_by_behind_rows(work["events"], ids, 60)
        assert (~got["id"].isin(list(touched))).sum() > 0.9 * len(want)
        same(got[~got["id"].isin(list(touched))], want[~want["id"].isin(list(touched))], cols, name)
    else:
        assert "op" not in got.columns
        same(got, want, cols, name)


def test_exports_use_flinks_documented_forms(work):
    forms = all_forms(work, 1000)
    text = {name: export(res, name, work["base"]).insert for name, res in forms.items()}
    assert "GROUP BY k\n" in text["groupby"] + "\n" and "TUMBLE" not in text["groupby"]
    assert "PARTITION BY window_start, window_end, k ORDER BY v DESC" in text["wtopn"]
    assert "ORDER BY ts DESC) AS rownum" in text["dedup_last"] and "rownum = 1" in text["dedup_last"]
    assert "ORDER BY ts ASC) AS rownum" in text["dedup_first"]
    assert "WINDOW w AS (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '0.060' SECOND PRECEDING AND " \
           "CURRENT ROW)" in text["over_range"]
    assert "ROWS BETWEEN 3 PRECEDING AND CURRENT ROW" in text["over_rows"]
    assert "SUM(v) OVER w AS s" in text["over_rows"]
    assert text["sql_topn_rownum"].splitlines()[1].endswith(", rownum")


def test_changelog_exports_refuse_the_filesystem_sink_and_name_the_way_out(work):
    res = all_forms(work, 1000)["groupby"]
    with pytest.raises(ValueError, match="filesystem sink accepts only inserts.*sink_connector='print'"):
        flink_export(res, sink_connector="filesystem")
    text = flink_export(res, sink_connector="kafka", topic="clicks").sink_ddl
    assert "'connector' = 'upsert-kafka'" in text and "PRIMARY KEY (k) NOT ENFORCED" in text
    topn = all_forms(work, 1000)["topn"]
    with pytest.raises(ValueError, match="upsert-kafka needs the result's unique key"):
        flink_export(topn, sink_connector="kafka")
    assert "PRIMARY KEY (k, rownum)" in flink_export(all_forms(work, 1000)["sql_topn_rownum"],
                                                    sink_connector="kafka").sink_ddl


def test_python_steps_flink_cannot_run_are_refused_by_name(work):
    src = source(work["sl"], work["path"], 100)
    with pytest.raises(ValueError, match="Python callable"):
        flink_export(src.where(lambda df: df["v"] > 0).nlargest(2, "v", by="k"))
    with pytest.raises(ValueError, match="computed by Python"):
        flink_export(src.assign(w=lambda d: d.v * 2).rolling(3).agg(s=("w", "sum")))
    const = flink_export(src.assign(tag="x").groupby("tag").agg(n=("v", "size")))
    assert "SELECT *, 'x' AS tag FROM src WHERE" not in const.ddl[1] and "'x' AS tag" in const.ddl[1]
    nowm = work["sl"].from_csv(work["path"], time="ts", header=None, names=COLUMNS)
    with pytest.raises(ValueError, match="comes after a where"):
        flink_export(nowm.where("v > 0").watermark("1ms").drop_duplicates("k"))
    with pytest.raises(ValueError, match=r"add \.watermark\('0ms'\)"):
        flink_export(nowm.where("v > 0").rolling(2).agg(s=("v", "sum")))


def test_magic_export_prints_flink_sql_for_updating_results(work, tmp_path):
    """``%%streamlab --name`` then ``%streamlab export NAME --flink``: the same SQL as to_flink_sql()."""
    from IPython.core.interactiveshell import InteractiveShell

    from streamlab.magics import StreamlabMagics

    sl, ip = work["sl"], InteractiveShell.instance()
    saved, loaded = dict(ip.user_ns), "streamlab" in ip.extension_manager.loaded
    if not loaded:
        ip.run_line_magic("load_ext", "streamlab")
    queries = {"q_top": ROWNUM_SQL["sql_topn_rownum"].replace("FROM src", "FROM clicks"),
               "q_count": CHANGELOG["groupby"].replace("FROM src", "FROM clicks"),
               "q_over": APPEND["over_rows"].replace("FROM src", "FROM clicks"),
               "q_wtop": APPEND["wtopn"].replace("TABLE src", "TABLE clicks")}
    try:
        ip.user_ns["clicks"] = source(sl, work["path"], 500)
        for name, query in queries.items():
            res = ip.run_cell_magic("streamlab", f"--name {name}", query)
            path = tmp_path / f"{name}.sql"
            ip.run_line_magic("streamlab", f"export {name} --flink --out {path}")
            text = path.read_text()
            assert text == sl.flink.to_flink_sql(res), name
            assert "CREATE TABLE clicks" in text and "INSERT INTO sink" in text, name
        assert "'connector' = 'print'" in (tmp_path / "q_count.sql").read_text()
        assert "SELECT id, k, g, ts, v, rownum\n" in (tmp_path / "q_top.sql").read_text()
        assert "WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 3 PRECEDING" in (tmp_path / "q_over.sql").read_text()
    finally:
        for magics in (c for c in ip.configurables if isinstance(c, StreamlabMagics)):
            for name in queries:
                magics.results.pop(name, None)
        if not loaded:
            ip.run_line_magic("unload_ext", "streamlab")
        ip.user_ns.clear()
        ip.user_ns.update(saved)


@pytest.mark.flink
def test_kafka_exports_pass_flinks_validator(work, flink):
    validated = json.loads((work["base"] / "out" / "validated.json").read_text())
    exports = kafka_exports(work)
    assert set(validated) == set(exports)
    for name, export_ in exports.items():
        assert [c.split("`")[1] for c in validated[name]] == [c for c, _ in export_.sink_columns], name
    assert "'connector' = 'upsert-kafka'" in exports["kafka_groupby"].sink_ddl
    assert "PRIMARY KEY (k, rownum) NOT ENFORCED" in exports["kafka_sql_topn_rownum"].sink_ddl
    assert "'connector' = 'kafka'" in exports["kafka_over_rows"].sink_ddl
