"""A REAL standalone Flink session cluster (issue 12): start, submit, same rows, late rows, failures.

One cluster (127.0.0.1, free ports, private conf) serves the module and is stopped at its end. The
window queries are batched: four TVFs per job (``sl.flink.submit``), one job at parallelism 1
(datetime input) and one at parallelism 2 (numeric input), running at the same time.

Needs ``.venv-flink`` (``bash scripts/setup-flink.sh``).
"""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pandas as pd
import pytest

import streamlab as sl
from streamlab.core.state import PipelineState
from streamlab.flink.cluster import FlinkError, LocalCluster, _default, flink_home
from streamlab.flink.job import Job, Part
from streamlab.flink.run import FlinkRun
from streamlab.flink.submission import Submission

pytestmark = pytest.mark.flink

SPECS = {"tumble": sl.Tumble("1s"), "hop": sl.Hop("2s", "500ms"),
         "cumulate": sl.Cumulate("2s", "500ms"), "session": sl.Session("300ms")}


@pytest.fixture(scope="module")
def cluster():
    t0 = time.monotonic()
    c = sl.flink.cluster(slots=6, new=True)
    c.started_in = time.monotonic() - t0  # type: ignore[attr-defined]
    yield c
    c.stop()
    assert not c.alive


def events(n=400, seed=0, datetime=False) -> pd.DataFrame:
    """Disordered keyed events (some late); values are multiples of 0.25 so sums are exact."""
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(0, 20_000, n)) + rng.integers(-600, 0, n)
    df = pd.DataFrame({"ts": ts, "k": rng.choice(["a", "b", "c", "d"], n),
                       "v": rng.integers(0, 8, n) * 0.25})
    if datetime:
        df["ts"] = pd.to_datetime(df["ts"] + 1_710_028_800_000, unit="ms", utc=True)
    return df


def pipeline(df, spec, delay="100ms"):
    unit = None if isinstance(df["ts"].dtype, pd.DatetimeTZDtype) else "ms"
    return (sl.from_frame(df, time="ts", unit=unit).watermark(delay)
            .window(spec, by="k").agg(n=("v", "size"), s=("v", "sum"), mx=("v", "max")))


def same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    cols = list(want.columns)
    assert list(got.columns) == cols
    a = got.sort_values(cols).reset_index(drop=True)
    b = want.sort_values(cols).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_cluster_handle_shows_link_slots_and_jobs(cluster):
    assert cluster.started_in < 60
    assert cluster.host == "127.0.0.1" and cluster.port != 8081
    ov = cluster.overview()
    assert ov["taskmanagers"] == 1 and ov["slots-total"] == 6
    text = repr(cluster)
    assert cluster.web_url in text and "task slots" in text and "running job" in text
    assert cluster.web_url in cluster._repr_html_()
    assert sl.flink.cluster() is cluster  # the running one, not a second cluster
    other = sl.flink.connect(f"127.0.0.1:{cluster.port}")
    assert other.overview()["slots-total"] == 6 and other.jobs() == cluster.jobs()
    assert (cluster.conf_dir / "config.yaml").read_text().count(str(cluster.port)) == 1
    _default[:] = [cluster]  # connect() made the attached handle the current one


def test_private_conf_binds_loopback_on_distinct_free_ports():
    c = LocalCluster(flink_home(), slots=2)
    conf = (c.conf_dir / "config.yaml").read_text()
    for key in ("jobmanager.bind-host", "taskmanager.bind-host", "rest.bind-address", "rest.address"):
        assert f'{key}: "127.0.0.1"' in conf
    ports = [int(line.split(":")[1]) for line in conf.splitlines()
             if line.split(":")[0].endswith((".port", "rpc.port"))]
    assert len(ports) == len(set(ports)) == 5 and c.port in ports
    assert "--add-opens" in conf and "taskmanager.numberOfTaskSlots: 2" in conf
    assert c.conf_dir.parent != flink_home() and not c.running
    c.stop()  # nothing started: nothing to do


def test_same_rows_and_late_rows_at_parallelism_1_and_2(cluster):
    """TUMBLE, HOP, CUMULATE, SESSION, keyed: the cluster's rows equal the kernel's.

    Parallelism 1: datetime and numeric input, with late rows (they equal the kernel's ``late``).
    Parallelism 2: a watermark delay that leaves no row late. (The file source has one split, so
    one of its two subtasks reads nothing; until that subtask ends, Flink holds the watermark
    back, and a row the kernel drops as late could still be counted: with late data, exact rows
    at parallelism > 1 are not guaranteed. See README "From notebook to production".)
    """
    cases = {1: [pipeline(df, spec) for df in (events(seed=1, datetime=True), events(seed=2))
                 for spec in SPECS.values()],
             2: [pipeline(events(seed=3), spec, delay="1s") for spec in SPECS.values()]}
    inputs = {2: events(seed=3)}
    t0 = time.monotonic()
    runs = {p: sl.flink.submit(cases[p], cluster, parallelism=p) for p in cases}
    for p in cases:
        for i, (res, run) in enumerate(zip(cases[p], runs[p])):
            name = list(SPECS)[i % len(SPECS)]
            got = run.collect(timeout=150)
            assert run.state == PipelineState.FINISHED, (p, name, run.snapshot())
            same(got, res.collect())
            want_late = res.late.collect()
            got_late = run.collect_late()
            if p == 2:
                assert len(want_late) == len(got_late) == 0
            else:  # sessions: the rows Flink's sessions did not count (flink/session_late.py)
                assert len(want_late) > 0, "the data must have late rows"
                same(got_late, want_late)
    elapsed = time.monotonic() - t0
    full = runs[2][0].snapshot()
    snap = full["flink"]
    # Flink's own counts, for the whole job (4 queries and their late companions)
    assert snap["records_in"] >= len(inputs[2]) and snap["records_out"] >= snap["rows"]
    assert full["state"] == "finished" and snap["job_state"] == "FINISHED"
    assert snap["job_id"] and snap["web_url"] == f"{cluster.web_url}/#/job/completed/{snap['job_id']}/overview"
    assert snap["rows"] == len(runs[2][0].collect()) == full["counters"]["out"]
    assert snap["late"] == len(runs[2][0].collect_late())
    assert runs[1][0].job_id != runs[2][0].job_id
    assert runs[2][0].job_id == runs[2][3].job_id  # one submission, one job
    print(f"two jobs (8 and 4 queries): {elapsed:.1f} s; snapshot: {snap}")


def test_live_rows_on_the_loop_feed_plots_sinks_and_the_magic(cluster):
    """On a running loop (as in Jupyter) rows arrive by themselves: plot, table and sinks get
    them. A ``%%streamlab --flink`` cell runs on the same cluster at the same time."""
    from IPython.core.interactiveshell import InteractiveShell


    res = pipeline(events(seed=3), sl.Tumble("1s"))
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "streamlab")
    saved_ns = dict(ip.user_ns)
    ip.user_ns["src"] = sl.from_frame(events(seed=6), time="ts", unit="ms").watermark("100ms")
    body = ("SELECT k, window_start, window_end, COUNT(*) AS n, SUM(v) AS s\n"
            "FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))\n"
            "GROUP BY k, window_start, window_end")

    async def main():
        run = res.on_flink(cluster, parallelism=1, late=False)
        magic = ip.run_cell_magic("streamlab", "--flink --name on_cluster", body)
        seen = run.sink_to_list()
        plot = run.plot.line(x="window_end", y="s", by="k")
        table = run.table()
        out = await run.acollect(timeout=150)
        await magic.acollect(timeout=150)
        return run, magic, seen, plot, table, out

    try:
        local = ip.run_cell_magic("streamlab", "--collect", body)
        run, magic, seen, plot, table, out = asyncio.run(main())
        assert isinstance(magic, FlinkRun) and ip.user_ns["on_cluster"] is magic
        assert magic.state == PipelineState.FINISHED
        same(magic.collect(), local)
    finally:
        ip.run_line_magic("unload_ext", "streamlab")  # the extension manager forgets it too
        ip.user_ns.clear()  # the shell is shared by later test modules: leave its namespace as found
        ip.user_ns.update(saved_ns)
    assert run.state == PipelineState.FINISHED
    same(out, res.collect())
    assert sum(len(f) for f in seen) == len(out)
    assert plot.n_rows == len(out)
    assert table is not None
    assert "Flink job" in run._repr_html_() and run.job_id in run._repr_html_()


def keyed_sides(n=300, seed=7, late=6) -> pd.DataFrame:
    """Rows of two sides (L, R) of one source for interval joins: disordered by less than the
    watermark delay (200 ms), and a few rows a minute late. A join's two inputs reach Flink's join
    operator on two channels whose interleaving varies; this data gives the same rows under any
    interleaving (see tests/test_flink_joins.py)."""
    rng = np.random.default_rng(seed)
    ts = 60_000 + np.arange(n) * 40 + rng.integers(0, 150, n)
    ts[rng.choice(np.arange(n // 2, n), size=late, replace=False)] -= 60_000
    return pd.DataFrame({"ts": ts, "side": rng.choice(["L", "R"], n), "k": rng.choice(["a", "b", "c"], n),
                         "v": rng.integers(0, 8, n) * 0.25})


def as_float(df: pd.DataFrame) -> pd.DataFrame:
    """Numbers as float64: a NULL-padded integer column is float64 NaN in the kernel, Int64 <NA> here."""
    return df.apply(lambda c: c.astype("float64") if pd.api.types.is_numeric_dtype(c) else c)


def same_as_kernel(res, run) -> None:
    """The run finished with the kernel's rows; a changelog (``op``) compared as its final table."""
    got = run.collect(timeout=150)
    assert run.state == PipelineState.FINISHED, run.snapshot()
    want = res.collect()
    assert len(want) > 0
    if "op" in want.columns:
        assert run.snapshot()["flink"]["changelog"] and {"+I", "-U", "+U"} & set(got["op"])
        same(as_float(sl.apply_changelog(got)), as_float(sl.apply_changelog(want)))
    else:
        same(as_float(got), as_float(want))


def test_interval_joins_and_a_changelog_on_flink(cluster):
    """Two jobs at once: interval joins (inner and left on one source, left on two), a window join
    of raw rows and of two aggregations, a temporal join and a merge with a DataFrame via
    ``sl.flink.submit`` (as ``on_flink``); a window result and a
    continuous GROUP BY in hand-written SQL (Flink's RowKind becomes the ``op`` column), compared
    with the kernel's changelog as a materialised final state."""
    src = sl.from_frame(keyed_sides(), time="ts", unit="ms").watermark("200ms")
    left, right = src.where("side == 'L'"), src.where("side == 'R'")
    joins = [left.join(right, on="k", between=("-300ms", "200ms"), how=how) for how in ("inner", "left")]
    # two sources: each input's own table and folder. No late rows here: how far one source has
    # read when the other's late row comes decides whether it is late, in Flink as in the kernel
    on_time = keyed_sides(seed=9, late=0)
    l2, r2 = (sl.from_frame(on_time[on_time["side"] == s].drop(columns="side"), time="ts", unit="ms")
              .watermark("200ms") for s in "LR")
    joins.append(l2.join(r2, on="k", between=("-300ms", "200ms"), how="left"))
    # every other join kind in the same job: window (raw rows, two aggregations), temporal, merge
    tumble = sl.Tumble("1s")
    joins.append(left.window(tumble).join(right.window(tumble), on="k", how="full"))
    joins.append(left.window(tumble, by="k").agg(n=("v", "size"))
                 .join(right.window(tumble, by="k").agg(s=("v", "sum")), on="k", how="full"))
    joins.append(left.join_asof(right, on="k", how="left"))
    joins.append(left.merge(pd.DataFrame({"k": ["a", "b"], "label": ["A", "B"]}), on="k", how="left"))
    join_runs = sl.flink.submit(joins, cluster)
    # updating results in one more job: changelogs (GROUP BY, Top-N, keep-last) compared as the
    # materialised table, append-only ones (window Top-N, OVER) as rows. Disorder (600 ms) stays
    # within the watermark delay: no late rows, whose handling by Flink 2.3's OVER differs (§2b)
    # (times shifted to be positive: Flink 2.3's OVER drops rows at times <= 0 as late)
    upd = sl.from_frame(events(seed=11).assign(ts=lambda d: d.ts + 1_000), time="ts", unit="ms")
    updating = [upd.groupby("k").agg(n=("v", "size"), s=("v", "sum")),
                upd.nlargest(2, "v", by="k"),
                upd.drop_duplicates("k", keep="last"),
                upd.watermark("700ms").window(sl.Tumble("1s"), by="k").nlargest(1, "v"),
                upd.watermark("700ms").rolling("1s", by="k").agg(s=("v", "sum"), n=("v", "count"))]
    updating_runs = sl.flink.submit(updating, cluster, name="updating")

    df = events(seed=8)
    window = pipeline(df, sl.Tumble("1s"))
    job = sl.flink.build_job([window], cluster.workdir / f"job-changelog-{time.time_ns()}", late=False)
    job.parts.append(Part("q1:out", "SELECT k, COUNT(*) AS n, SUM(v) AS s FROM q0_src GROUP BY k",
                          [("k", "STRING"), ("n", "BIGINT"), ("s", "DOUBLE")], changelog=True))
    window_run, group_run = sl.flink.submit_job(job, cluster, name="changelog")

    for res, run in zip(joins, join_runs):
        same_as_kernel(res, run)
    assert join_runs[1].snapshot()["flink"]["changelog"] is False
    for res, run in zip(updating, updating_runs):
        same_as_kernel(res, run)

    changes = group_run.collect(timeout=150)
    assert group_run.state == PipelineState.FINISHED, group_run.snapshot()
    assert list(changes.columns) == ["op", "k", "n", "s"] and group_run.snapshot()["flink"]["changelog"]
    assert {"+I", "-U", "+U"} <= set(changes["op"])  # Flink's RowKind, passed through
    kernel = sl.from_frame(df, time="ts", unit="ms").groupby("k").agg(n=("v", "size"), s=("v", "sum"))
    same(sl.apply_changelog(changes), sl.apply_changelog(kernel.collect()))
    same(window_run.collect(), window.collect())  # an append-only part of a changelog job: no op
    assert "op" not in window_run.collect().columns


def test_joins_and_updating_results_at_parallelism_2(cluster):
    """Parallelism 2, keyed: the same rows as the kernel for joins (compared as rows) and updating
    results (a changelog compared as its materialised table). On-time data (disorder within the
    watermark delay), so the interleaving of the parallel channels cannot change a result."""
    on_time = keyed_sides(seed=12, late=0)
    src = sl.from_frame(on_time, time="ts", unit="ms").watermark("200ms")
    left, right = src.where("side == 'L'"), src.where("side == 'R'")
    tumble = sl.Tumble("1s")
    upd = sl.from_frame(events(seed=13).assign(ts=lambda d: d.ts + 1_000), time="ts", unit="ms")
    results = [left.join(right, on="k", between=("-300ms", "200ms"), how="full"),
               left.window(tumble).join(right.window(tumble), on="k", how="left"),
               left.join_asof(right, on="k", how="inner"),
               upd.groupby("k").agg(n=("v", "size"), s=("v", "sum")),
               upd.nlargest(2, "v", by="k"),
               upd.watermark("700ms").rolling("1s", by="k").agg(s=("v", "sum"))]
    runs = sl.flink.submit(results, cluster, parallelism=2, name="p2")
    for res, run in zip(results, runs):
        same_as_kernel(res, run)


def _raw_run(cluster, query: str, statements=()) -> FlinkRun:
    part = Part("q0:out", query, [("x", "STRING")])
    run = FlinkRun("raw", part, None)
    sub = Submission(cluster, Job(list(statements), [part], {"pipeline.auto-watermark-interval": "0 ms"}),
                     "streamlab: raw", lambda tag, rows: None)
    run.submission = sub
    sub.on_change(run._failed)
    return run


def test_failures_are_visible(cluster):
    """A rejected query shows Flink's message; a failing job shows its root cause in .errors."""
    rejected = _raw_run(cluster, "SELECT nope FROM no_such_table")
    failing = _raw_run(cluster, "SELECT CAST(1 / (v - v) AS STRING) AS x FROM (VALUES (1), (2)) AS t(v)")
    t0 = time.monotonic()
    for run in (rejected, failing):
        run.collect(timeout=120)
        assert run.state == PipelineState.FAILED, run.snapshot()
    errs = rejected.errors.ledger()
    assert "no_such_table" in errs["reason"][0] and "not found" in errs["reason"][0]
    assert "no_such_table" in rejected.snapshot()["error"]
    reason = failing.errors.ledger()["reason"][0]
    assert "ArithmeticException" in reason or "by zero" in reason, failing.snapshot()
    print(f"failures reported in {time.monotonic() - t0:.1f} s")


def test_kafka_source_fails_fast_naming_the_jar(cluster):
    res = (sl.from_kafka("events", bootstrap="127.0.0.1:1", time="ts", unit="ms", columns=["ts", "k", "v"])
           .window(sl.Tumble("1s"), by="k").agg(n=("v", "size")))
    with pytest.raises(FlinkError, match="flink-sql-connector-kafka"):
        res.on_flink(cluster)


class RecordingComm:
    """The comm of a panel session: records what the kernel sends (strict JSON, as on the wire)."""

    def __init__(self):
        self.sent = []

    def on_msg(self, callback):
        pass

    def on_close(self, callback):
        pass

    def send(self, data):
        self.sent.append(json.loads(json.dumps(data, allow_nan=False)))


def _panel_lists_the_job_and_stop_cancels_it(cluster, run, n_input):
    """The side panel's kernel end (comm handler) with a real run: listed as NAME@flink with the
    job id, Flink's state, records in/out from the REST metrics and the web UI link; the job view
    shows the same; the panel's Stop cancels the job and nothing else is allowed."""
    from streamlab.comm import PROTOCOL_VERSION, PanelSession
    from streamlab.widgets import view_for
    from streamlab.widgets.flink_view import FlinkJobView

    comm = RecordingComm()
    session = PanelSession(comm)
    listed = session.receive({"id": 1, "kind": "list", "version": PROTOCOL_VERSION})["pipelines"]
    assert {"name": run.panel_name, "state": "running"} in listed
    deadline = time.monotonic() + 30  # Flink's metrics lag the rows a little
    while time.monotonic() < deadline:
        run.collect(timeout=1)  # reads rows and polls the REST API
        assert session.push_now() or comm.sent
        pushed = {p["name"]: p for p in [m for m in comm.sent if m["kind"] == "snapshots"][-1]["pipelines"]}
        job = pushed[run.panel_name]["flink"]
        if job["records_in"] == n_input and job["records_out"] > 0:
            break
    rest = cluster.rest(f"/jobs/{run.job_id}")
    assert job["job_id"] == run.job_id and job["job_state"] == rest["state"] == "RUNNING"
    assert job["web_url"] == f"{cluster.web_url}/#/job/running/{run.job_id}/overview"
    # every input row was read by the source; the sink's vertex received records (Flink's
    # "Records Received"; the sink is chained behind the window aggregate here)
    assert job["records_in"] == n_input, job
    sink = [v for v in rest["vertices"] if "Sink:" in v["name"]]
    assert 0 < job["records_out"] <= sum(v["metrics"]["read-records"] for v in sink)
    assert job["actions"] == ["stop"]
    view = view_for(run)
    assert isinstance(view, FlinkJobView) and run.job_id in view.job.value
    assert run.web_url in view.job.value and not view.stop.disabled

    refused = session.receive({"id": 2, "kind": "command", "version": PROTOCOL_VERSION,
                               "pipeline": run.panel_name, "action": "pause"})
    assert refused["code"] == "command_failed" and "allows stop" in refused["message"]
    done = session.receive({"id": 3, "kind": "command", "version": PROTOCOL_VERSION,
                            "pipeline": run.panel_name, "action": "stop"})
    assert done["state"] == "stopped" and done["snapshot"]["flink"]["actions"] == []
    assert done["snapshot"]["flink"]["job_state"] == cluster.rest(f"/jobs/{run.job_id}")["state"] == "CANCELED"
    assert done["snapshot"]["flink"]["web_url"] == f"{cluster.web_url}/#/job/completed/{run.job_id}/overview"
    view.refresh()
    assert view.stop.disabled
    view.close()
    session.close()


def test_stop_cancels_the_job_and_a_killed_cluster_fails_the_run_within_seconds(cluster):
    """Last test of the module: two unbounded jobs; one is stopped, then the cluster is killed
    (SIGKILL) under the other."""
    stopped, killed = (pipeline(events(seed=s), sl.Tumble("1s")).on_flink(cluster, continuous=True, late=False)
                       for s in (4, 5))
    for run in (stopped, killed):
        run.wait_submitted(timeout=120)
        assert run.job_id and run.state == PipelineState.RUNNING, run.snapshot()
    assert {stopped.job_id, killed.job_id} <= {j["jid"] for j in cluster.running_jobs()}
    assert len(stopped.collect(n=1, timeout=60)) == 1  # rows flow while the job runs
    _panel_lists_the_job_and_stop_cancels_it(cluster, stopped, len(events(seed=4)))
    assert stopped.state == PipelineState.STOPPED
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = cluster.rest(f"/jobs/{stopped.job_id}")["state"]
        if state == "CANCELED":
            break
        time.sleep(0.5)
    assert state == "CANCELED"

    assert killed.state == PipelineState.RUNNING
    cluster.kill()
    t0 = time.monotonic()
    killed.collect(timeout=30)
    took = time.monotonic() - t0
    assert killed.state == PipelineState.FAILED
    assert took < 10, took
    assert "unreachable" in killed.snapshot()["error"]
    assert "unreachable" in killed.errors.ledger()["reason"][0]
    print(f"killed cluster noticed in {took:.1f} s: {killed.snapshot()['error']}")
