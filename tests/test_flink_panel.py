"""Runs on Flink in the side panel's registry and the job view, without a cluster (issue 12).

The cluster half (a real job listed, its metrics, Stop cancelling it) is in
tests/test_flink_cluster.py and tests/ui/test_flink_panel_browser.py.
"""

from __future__ import annotations

import gc

from streamlab.comm import PROTOCOL_VERSION, RequestHandler
from streamlab.core.snapshot import FlinkJobSnapshot, PipelineSnapshot
from streamlab.flink.job import Part
from streamlab.flink.run import FlinkRun, runs
from streamlab.widgets import view_for
from streamlab.widgets.flink_view import FlinkJobView, job_html


def make_run(name: str = "panel-test", changelog: bool = False) -> FlinkRun:
    return FlinkRun(name, Part("q0:out", "SELECT 1", [("x", "BIGINT")], changelog=changelog), None)


def test_a_run_is_listed_as_name_at_flink_with_a_typed_snapshot():
    run, other = make_run(), make_run()
    assert run.panel_name == "panel-test@flink" and other.panel_name == "panel-test@flink#2"
    assert runs()[run.panel_name] is run and runs()[other.panel_name] is other
    snap = run.snapshot()
    assert set(snap) == set(PipelineSnapshot.__annotations__) - {"error"}
    assert set(snap["flink"]) == set(FlinkJobSnapshot.__annotations__)
    assert snap["flink"]["actions"] == [] and snap["flink"]["job_id"] is None  # not submitted
    listed = RequestHandler().handle({"id": 1, "kind": "list", "version": PROTOCOL_VERSION})["pipelines"]
    assert {"name": run.panel_name, "state": "idle"} in listed
    del other
    gc.collect()
    assert "panel-test@flink#2" not in runs()  # a run nobody holds leaves the panel


def test_the_panel_offers_a_run_only_stop():
    run = make_run("only-stop")
    reply = RequestHandler().handle({"id": 2, "kind": "command", "version": PROTOCOL_VERSION,
                                     "pipeline": run.panel_name, "action": "start"})
    assert reply["code"] == "command_failed" and "runs on Flink, which allows stop" in reply["message"]


def test_a_changelog_run_has_op_first_and_the_view_shows_the_job():
    run = make_run("view-test", changelog=True)
    assert run.columns == ["op", "x"] and run.snapshot()["flink"]["changelog"] is True
    view = view_for(run)
    assert isinstance(view, FlinkJobView)
    assert "not submitted yet" in view.job.value and view.stop.disabled
    view.close()
    job = {**run.snapshot()["flink"], "job_id": "ab<b>", "web_url": "http://h:1/#/job/running/x/overview"}
    text = job_html(job)
    assert "ab&lt;b&gt;</a>" in text and 'href="http://h:1/#/job/running/x/overview"' in text


def test_streamlab_list_shows_runs_on_flink_beside_the_kernels_pipelines():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()  # the one shell the other modules' tests use
    run = make_run("list-test")
    loaded = "streamlab" in ip.extension_manager.loaded
    if not loaded:
        ip.run_line_magic("load_ext", "streamlab")
    try:
        table = ip.run_line_magic("streamlab", "list")
    finally:
        if not loaded:
            ip.run_line_magic("unload_ext", "streamlab")
    row = table[table["name"] == run.panel_name]
    assert len(row) == 1 and row["state"].iloc[0] == "idle"
    assert row[["events_in", "late", "errors"]].iloc[0].tolist() == [0, 0, 0]
