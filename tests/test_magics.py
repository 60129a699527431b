"""``%%streamlab`` and ``%streamlab`` in a real IPython InteractiveShell.

The key check: for every window kind, the SQL magic's result equals the Python API's, row for row.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import types
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import streamz
from IPython.core.interactiveshell import InteractiveShell

import streamlab as sl
from streamlab import extension
from streamlab import sql as sl_sql
from streamlab.magics import StreamlabMagics, StreamlabUsageError
from streamlab.sql.compile import window_spec


def events(n: int = 3_000, seed: int = 7) -> pd.DataFrame:
    """Disordered events over ~6 s with NULLs and a few very late rows."""
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(0, 6_000, n)) + rng.integers(-150, 150, n)
    ts[rng.choice(n, 20, replace=False)] -= 2_000  # late for most windows
    value = rng.normal(10, 5, n).round(3)
    value[rng.choice(n, 30, replace=False)] = np.nan
    return pd.DataFrame({
        "ts": pd.to_datetime(ts, unit="ms"),
        "key": rng.choice(["a", "b", "c", "d"], n),
        "region": rng.choice(["eu", "us"], n),
        "value": value,
    })


@pytest.fixture(scope="module")
def shell():
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "streamlab")
    # settings of earlier cells hold for the session (Flink's SET): these tests are in UTC
    ip.run_cell_magic("streamlab", "", "RESET 'table.local-time-zone';")
    yield ip
    ip.run_line_magic("unload_ext", "streamlab")  # the extension manager forgets it too


@pytest.fixture
def ns(shell):
    """A fresh user namespace with two bound streams and a plain DataFrame."""
    saved = dict(shell.user_ns)
    df = events()
    shell.user_ns.update(
        df=df,
        src=sl.from_frame(df, time="ts", batch_size=256).watermark("300ms"),
        clicks=sl.from_frame(pd.DataFrame({"ts": pd.to_datetime([0, 1], unit="s"),
                                           "user": ["u", "v"], "page": ["/", "/a"]}), time="ts"),
        _hidden=streamz.Stream(),
    )
    yield shell.user_ns
    shell.user_ns.clear()
    shell.user_ns.update(saved)


def sql(shell, body: str, line: str = ""):
    return shell.run_cell_magic("streamlab", line, body)


def usage_error(call, *args) -> StreamlabUsageError:
    with pytest.raises(StreamlabUsageError) as info:
        call(*args)
    assert "\n" not in str(info.value)
    return info.value


def api_source(df: pd.DataFrame, delay: str = "300ms"):
    return sl.from_frame(df, time="ts", batch_size=256).watermark(delay)


# -- the magic gives the Python API's rows ------------------------------------------------------

KINDS = {
    "tumble": ("TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND)", sl.Tumble("1s")),
    "tumble-offset": ("TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND, "
                      "INTERVAL '0.250' SECOND)", sl.Tumble("1s", offset="250ms")),
    "hop": ("HOP(TABLE src, DESCRIPTOR(ts), INTERVAL '0.250' SECOND, INTERVAL '1' SECOND)",
            sl.Hop("1s", "250ms")),
    "cumulate": ("CUMULATE(TABLE src, DESCRIPTOR(ts), INTERVAL '0.5' SECOND, INTERVAL '2' SECOND)",
                 sl.Cumulate("2s", "500ms")),
    "session": ("SESSION(TABLE src PARTITION BY key, DESCRIPTOR(ts), INTERVAL '0.040' SECOND)",
                sl.Session("40ms")),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_magic_equals_python_api_row_for_row(shell, ns, kind):
    tvf, spec = KINDS[kind]
    res = sql(shell, f"""
        SELECT key, window_start, window_end, COUNT(*) AS cnt, COUNT(value) AS nv,
               SUM(value) AS s, AVG(value) AS avg_v, MIN(value) AS lo, MAX(value) AS hi
        FROM TABLE({tvf})
        WHERE value > 5 OR value IS NULL
        GROUP BY key, window_start, window_end""", f"--name q_{kind.replace('-', '_')}")
    api = (api_source(ns["df"]).where(lambda d: (d.value > 5) | d.value.isna())
           .window(spec, by="key")
           .agg(cnt=("ts", "size"), nv=("value", "count"), s=("value", "sum"),
                avg_v=("value", "mean"), lo=("value", "min"), hi=("value", "max")))
    got, want = res.collect(), api.collect()
    assert len(want) > 20
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    pd.testing.assert_frame_equal(res.late.collect(), api.late.collect(), check_exact=True)
    assert ns[f"q_{kind.replace('-', '_')}"] is res


@pytest.mark.parametrize("kind", ["tumble", "hop", "cumulate", "session"])
def test_projection_reorders_and_renames_like_pandas(shell, ns, kind):
    tvf, spec = KINDS[kind]
    tvf = tvf.replace("PARTITION BY key", "PARTITION BY (key, region)")
    res = sql(shell, f"SELECT AVG(value) AS mean_v, window_end AS until, region, key, "
                     f"COUNT(*) AS n FROM TABLE({tvf}) GROUP BY key, region, window_start, "
                     f"window_end")
    want = (api_source(ns["df"]).window(spec, by=["key", "region"])
            .agg(mean_v=("value", "mean"), n=("ts", "size")).collect())
    want = want[["mean_v", "window_end", "region", "key", "n"]].rename(
        columns={"window_end": "until"})
    pd.testing.assert_frame_equal(res.collect(), want, check_exact=True)
    assert list(res.late.collect().columns)[-3:] == ["watermark", "missed_windows", "reason"]


def window_plan(tvf: str):
    return sl_sql.plan_query(f"SELECT window_end, COUNT(*) AS n FROM TABLE({tvf}) "
                             "GROUP BY key, window_start, window_end",
                             {"src": sl_sql.TableInfo(("ts", "key"), "ts")}).window


@pytest.mark.parametrize("kind", list(KINDS))
def test_sql_durations_reach_the_specs_as_timedeltas(kind):
    tvf, spec = KINDS[kind]
    got = window_spec(window_plan(tvf))
    assert type(got) is type(spec) and got.resolve(None) == spec.resolve(None)
    for f in dataclasses.fields(got):
        value = getattr(got, f.name)
        assert isinstance(value, pd.Timedelta) or (f.name == "offset" and value == 0) \
            or (f.name == "tz" and value is None), f.name  # no SET 'table.local-time-zone': UTC


@pytest.mark.parametrize(("tvf", "spec"), [
    ("TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' MINUTE, -INTERVAL '10' SECOND)",
     sl.Tumble("1min", offset="-10s")),
    ("HOP(TABLE src, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND, "
     "-INTERVAL '0.5' SECOND)", sl.Hop("10s", "2s", offset="-500ms")),
    ("CUMULATE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '4' SECOND, "
     "-INTERVAL '1.25' SECOND)", sl.Cumulate("4s", "1s", offset="-1250ms")),
])
def test_negative_offsets_give_the_same_windows(tvf, spec):
    assert window_spec(window_plan(tvf)).resolve(None) == spec.resolve(None)


def test_global_session_without_keys(shell, ns):
    res = sql(shell, "SELECT window_start, window_end, COUNT(*) AS n, MAX(value) AS hi "
                     "FROM TABLE(SESSION(TABLE src, DESCRIPTOR(ts), INTERVAL '0.005' SECOND)) "
                     "GROUP BY window_start, window_end")
    want = (api_source(ns["df"]).window(sl.Session("5ms"))
            .agg(n=("ts", "size"), hi=("value", "max")).collect())
    assert len(want) > 10
    pd.testing.assert_frame_equal(res.collect(), want, check_exact=True)


def test_python_entry_point_builds_the_same_graph(shell, ns):
    text = ("SELECT key, window_start, window_end, SUM(value) AS s FROM TABLE(TUMBLE(TABLE src, "
            "DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY key, window_start, window_end")
    via_magic = sql(shell, text).collect()
    via_python = sl_sql.query(text, src=api_source(ns["df"])).collect()
    pd.testing.assert_frame_equal(via_magic, via_python, check_exact=True)


def test_default_watermark_is_configurable(shell, ns):
    df = pd.DataFrame({"t": [0, 1_500, 700], "v": [1, 2, 3]})
    ns["nums"] = sl.from_frame(df, time="t", unit="ms")
    text = ("SELECT window_end, SUM(v) AS s FROM TABLE(TUMBLE(TABLE nums, DESCRIPTOR(t), "
            "INTERVAL '1' SECOND)) GROUP BY window_start, window_end")
    assert sql(shell, text, "--collect")["s"].tolist() == [1, 2]  # delay 0: 700 is late
    shell.run_line_magic("config", "StreamlabMagics.default_watermark = '1s'")
    try:
        assert sql(shell, text, "--collect")["s"].tolist() == [4, 2]
    finally:
        shell.run_line_magic("config", "StreamlabMagics.default_watermark = ''")


def test_global_window_numeric_time_and_watermark_option(shell, ns):
    df = pd.DataFrame({"t": [0, 1_500, 700, 3_100, 2_000, 200], "v": [1, 2, 3, 4, 5, 6]})
    ns["nums"] = sl.from_frame(df, time="t", unit="ms", batch_size=2)
    res = sql(shell, "SELECT window_start, window_end, SUM(v) AS total FROM TABLE(TUMBLE("
                     "TABLE nums, DESCRIPTOR(t), INTERVAL '1' SECOND)) "
                     "GROUP BY window_start, window_end", "--watermark 500ms")
    want = (sl.from_frame(df, time="t", unit="ms", batch_size=2).watermark("500ms")
            .window(sl.Tumble("1s")).agg(total=("v", "sum")).collect())
    pd.testing.assert_frame_equal(res.collect(), want, check_exact=True)
    # 700 arrives at W = 1500 - 500 = 1000, after [0, 1s) fired; 200 arrives at W = 2600
    assert res.collect()["total"].tolist() == [1, 2, 5, 4]
    assert res.late.collect()["t"].tolist() == [700, 200]


def test_stream_without_watermark_uses_delay_zero(shell, ns):
    df = ns["df"]
    ns["raw"] = sl.from_frame(df, time="ts", batch_size=256)
    res = sql(shell, "SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE("
                     "TABLE raw, DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
                     "GROUP BY window_start, window_end")
    want = (sl.from_frame(df, time="ts", batch_size=256).watermark("0ms")
            .window(sl.Tumble("1s")).agg(n=("ts", "size")).collect())
    pd.testing.assert_frame_equal(res.collect(), want, check_exact=True)


def test_collect_option_returns_a_frame_and_run_cell_displays_it(shell, ns):
    out = sql(shell, "SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE clicks, "
                     "DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end",
              "--collect")
    assert out.to_dict("list") == {"window_end": list(pd.to_datetime([1000, 2000], unit="ms",
                                                                     utc=True)), "n": [1, 1]}


def test_explain_prints_the_plan(shell, ns, capsys):
    assert sql(shell, "SELECT key, window_end, MAX(value) AS m FROM TABLE(HOP(TABLE src, "
                      "DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '5' SECOND)) "
                      "GROUP BY key, window_start, window_end", "--explain") is None
    assert capsys.readouterr().out == (
        "src[ts] -> HOP(slide=1000ms, size=5000ms) BY key AGG m=MAX(value) -> key, window_end, m\n")


def test_where_becomes_a_where_operator_labelled_with_sql(shell, ns):
    res = sql(shell, "SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE src, "
                     "DESCRIPTOR(ts), INTERVAL '1' SECOND)) WHERE key IN ('a', 'b') AND "
                     "value BETWEEN 0 AND 12 GROUP BY window_start, window_end")
    assert res.sql_plan.where is not None and res.sql_plan.columns == ("window_end", "n")
    labels = [op["label"] for op in res.snapshot()["operators"]]
    assert "where((key IN ('a', 'b') AND value BETWEEN 0 AND 12))" in labels
    assert labels[-1] == "select(window_end, n)"


# -- errors: UsageError with kind and hint, never a traceback ------------------------------------


def test_unknown_stream_lists_streams_in_scope(shell, ns):
    e = usage_error(sql, shell, "SELECT window_end, COUNT(*) AS n\nFROM TABLE(TUMBLE(TABLE srcs, "
                                "DESCRIPTOR(ts), INTERVAL '1' SECOND))\n"
                                "GROUP BY window_start, window_end")
    assert (e.kind, e.line, e.column) == ("unknown_stream", 2, 25)
    assert e.hint == "did you mean src? streams in scope: clicks, src"
    assert str(e) == ("line 2, column 25: unknown stream 'srcs' — hint: did you mean src? "
                      "streams in scope: clicks, src")


def test_unknown_column_lists_the_stream_columns(shell, ns):
    e = usage_error(sql, shell, "SELECT window_end, AVG(temp) AS t FROM TABLE(TUMBLE(TABLE src, "
                                "DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
                                "GROUP BY window_start, window_end")
    assert (e.kind, e.hint) == ("unknown_column", "columns of src: ts, key, region, value")


def test_misspelt_tvf_and_unsupported_construct(shell, ns):
    e = usage_error(sql, shell, "SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBEL(TABLE src, "
                                "DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
                                "GROUP BY window_start, window_end")
    assert (e.kind, e.hint) == ("unknown_function", "did you mean TUMBLE?")
    e = usage_error(sql, shell, "SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE src, "
                                "DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
                                "GROUP BY window_start, window_end ORDER BY n")
    assert (e.kind, e.what) == ("unsupported", "ORDER BY is not supported")


def test_engine_refusal_is_a_usage_error(shell, ns, monkeypatch):
    def refuse(*args):
        raise ValueError("size must be > 0\nmore detail")

    monkeypatch.setattr("streamlab.sql.commands.compile_plan", refuse)
    e = usage_error(sql, shell, "SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE src, "
                                "DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
                                "GROUP BY window_start, window_end")
    assert (e.kind, e.what) == ("engine", "size must be > 0")
    assert e.hint.startswith("the query is valid SQL, but streamlab refused: src[ts] -> TUMBLE")


def test_infinite_source_with_collect_is_a_usage_error(shell, ns):
    ns["live"] = sl.demo.sensors(rate=1000, seed=0)
    e = usage_error(sql, shell, "SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE live, "
                                "DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
                                "GROUP BY window_start, window_end", "--collect")
    assert (e.kind, e.hint) == ("usage", "--collect runs finite sources; use --start for live ones")


def test_usage_error_shows_one_line_without_traceback(shell, ns, capsys):
    result = shell.run_cell("%%streamlab\nSELECT window_end FROM TABLE(HOOP(TABLE src, "
                            "DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND)) "
                            "GROUP BY window_start, window_end\n")
    assert isinstance(result.error_in_exec, StreamlabUsageError)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip() == ("UsageError: line 1, column 30: unknown window function HOOP — "
                           "hint: did you mean HOP?")


@pytest.mark.parametrize(("line", "kind", "hint"), [
    ("--plot lines:x=window_end,y=n", "usage", "did you mean line?"),
    ("--plot line:x=window_end,y=avg", "unknown_column", "result columns: window_end, n"),
    ("--plot line:x", "usage", "write --plot line:x=window_end,y=avg_v,by=key"),
    ("--name 2bad", "usage", "use letters, digits and _, e.g. --name hot_sensors"),
    ("--bogus", "usage", "see %streamlab? or %%streamlab?"),
])
def test_bad_options(shell, ns, line, kind, hint):
    e = usage_error(sql, shell, "SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE src, "
                                "DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
                                "GROUP BY window_start, window_end", line)
    assert (e.kind, e.hint) == (kind, hint)


def test_plot_option_shows_res_plot_and_returns_the_stream(shell, ns, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    res = sql(shell, "SELECT key, window_end, AVG(value) AS avg_v FROM TABLE(TUMBLE(TABLE src, "
                     "DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY key, window_start, "
                     "window_end", "--plot step:x=window_end,y=avg_v,by=key,rollover=50")
    assert isinstance(res, sl.Node)
    [plot] = shown
    assert (type(plot).__name__, plot.kind, plot.x, plot.y, plot.by, plot.rollover) == (
        "LivePlot", "step", "window_end", "avg_v", ["key"], 50)


def test_plot_unavailable_is_named(shell, ns, monkeypatch):
    def no_plot(self):
        raise ImportError("No module named 'jupyter_bokeh'")

    monkeypatch.setattr(sl.Node, "plot", property(no_plot))
    e = usage_error(sql, shell, "SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE src, "
                                "DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
                                "GROUP BY window_start, window_end", "--plot bar:y=n")
    assert e.kind == "unavailable"
    assert e.what == "res.plot.bar is not available (No module named 'jupyter_bokeh')"


# -- %streamlab line magic -----------------------------------------------------------------------

HOT = ("SELECT key, window_start, window_end, COUNT(*) AS cnt FROM TABLE(HOP(TABLE src, "
       "DESCRIPTOR(ts), INTERVAL '0.5' SECOND, INTERVAL '1' SECOND)) "
       "GROUP BY key, window_start, window_end")


def line(shell, text: str):
    return shell.run_line_magic("streamlab", text)


def test_list_inspect_late_graph(shell, ns):
    res = sql(shell, HOT, "--name hot")
    res.collect()
    table = line(shell, "list")
    assert list(table.columns) == ["name", "state", "events_in", "late", "errors"]
    row = table.set_index("name").loc["hot"]
    assert (row.state, row.events_in) == ("finished", 3_000)
    assert row.late == len(res.late.collect()) > 0
    snap = line(shell, "inspect hot")
    assert snap["name"] == "hot" and snap["operators"][-1]["kind"] == "window"
    late = line(shell, "late hot")
    assert list(late.columns[-3:]) == ["watermark", "missed_windows", "reason"]
    assert len(late) == row.late
    graph = line(shell, "graph hot")
    assert repr(graph).splitlines()[0].startswith("frame")
    assert graph._repr_svg_().startswith("<svg")


def test_late_by_pipeline_name_only(shell, ns):
    res = sql(shell, HOT)
    res.collect()
    name = res.pipeline.name
    shell.user_ns.pop("res", None)
    assert len(line(shell, f"late {name}")) == len(res.late.collect())


def test_max_rows_is_configurable(shell, ns):
    res = sql(shell, HOT, "--name hot")
    res.collect()
    shell.run_line_magic("config", "StreamlabMagics.max_rows = 3")
    try:
        assert len(line(shell, "late hot")) == 3
    finally:
        shell.run_line_magic("config", "StreamlabMagics.max_rows = 1000")


def test_start_pause_resume_stop_on_the_running_loop(shell, ns, capsys):
    ns["slow"] = sl.from_frame(ns["df"], time="ts", batch_size=50, speed=1.0)
    sql(shell, "SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE slow, DESCRIPTOR(ts), "
               "INTERVAL '1' SECOND)) GROUP BY window_start, window_end", "--name live")

    async def drive():
        line(shell, "start live")
        await asyncio.sleep(0.05)
        line(shell, "pause live")
        paused = sl.pipelines()["live"].state
        line(shell, "resume live")
        line(shell, "stop live")
        return paused, sl.pipelines()["live"].state

    assert asyncio.run(drive()) == ("paused", "stopped")
    assert capsys.readouterr().out.splitlines() == ["live: running", "live: paused",
                                                    "live: running", "live: stopped"]


def test_start_option_starts_the_pipeline(shell, ns):
    ns["slow"] = sl.from_frame(ns["df"], time="ts", batch_size=50, speed=1.0)

    async def run():
        res = sql(shell, "SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE slow, "
                         "DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, "
                         "window_end", "--start --name started")
        state = res.pipeline.state
        res.stop()
        return state

    assert asyncio.run(run()) == "running"


def test_start_outside_a_loop_is_a_usage_error(shell, ns):
    sql(shell, HOT, "--name hot")
    e = usage_error(line, shell, "start hot")
    assert e.kind == "usage" and e.what.startswith("start() needs a running asyncio loop")


def test_step_runs_one_batch(shell, ns):
    res = sql(shell, HOT, "--name hot")
    line(shell, "step hot")
    assert res.pipeline.snapshot()["counters"]["in"] == 256


def test_export_of_a_plain_stream_is_unsupported(shell, ns):
    ns["plain"] = streamz.Stream()
    e = usage_error(line, shell, "export plain --flink")
    assert e.kind == "unsupported" and "is not a streamlab window result" in e.what
    assert e.hint == "export res = src.watermark(...).window(...).agg(...) or a %%streamlab --name"


def test_export_prints_the_engine_sql(shell, ns, capsys):
    class Exportable(streamz.Stream):
        def to_flink_sql(self):
            return "CREATE TABLE src (...);\nSELECT 1;"

    ns["ex"] = Exportable()
    assert line(shell, "export ex --flink") is None
    assert capsys.readouterr().out == "CREATE TABLE src (...);\nSELECT 1;\n"
    assert usage_error(line, shell, "export ex").hint == "write %streamlab export ex --flink"


@pytest.mark.parametrize(("text", "kind", "hint"), [
    ("lst", "usage", "did you mean list?"),
    ("inspect", "usage", "pipelines and streams: "),
    ("pause srx", "unknown_pipeline", "did you mean src? pipelines and streams: "),
])
def test_line_magic_mistakes(shell, ns, text, kind, hint):
    e = usage_error(line, shell, text)
    assert e.kind == kind and e.hint.startswith(hint)
    if kind != "usage" or "pipelines" in hint:
        assert "clicks" in e.hint and "_hidden" not in e.hint


# -- loading -------------------------------------------------------------------------------------


def test_load_ext_registers_magics_help_and_config(shell):
    magics = shell.magics_manager.magics
    assert "streamlab" in magics["line"] and "streamlab" in magics["cell"]
    line_doc = shell.find_line_magic("streamlab").__doc__
    cell_doc = shell.find_cell_magic("streamlab").__doc__
    assert "%streamlab [--flink] [--connector {filesystem,kafka}] [--out FILE]" in line_doc
    assert "--name NAME, -n NAME" in cell_doc and "--watermark DELAY" in cell_doc
    configurables = [c for c in shell.configurables if isinstance(c, StreamlabMagics)]
    assert len(configurables) == 1
    shell.run_line_magic("config", "StreamlabMagics.autostart = False")
    assert configurables[0].autostart is False


def test_reload_does_not_duplicate_configurables(shell):
    shell.run_line_magic("reload_ext", "streamlab")
    assert sum(isinstance(c, StreamlabMagics) for c in shell.configurables) == 1


def test_display_hook_for_pipelines_is_registered(shell):
    formatter = shell.display_formatter.ipython_display_formatter
    assert formatter.lookup_by_type(sl.Pipeline) is not None


def test_bokehjs_loads_inline_only_in_a_kernel(monkeypatch):
    calls = []
    monkeypatch.setattr("bokeh.io.output_notebook", lambda *a, **k: calls.append((a, k)))
    assert extension._load_bokehjs(types.SimpleNamespace()) is False
    assert extension._load_bokehjs(types.SimpleNamespace(kernel=object())) is True
    from bokeh.resources import INLINE

    assert calls == [((INLINE,), {"hide_banner": True})]


def test_optional_parts_are_skipped_or_warned(monkeypatch):
    assert extension._optional("streamlab.no_such_part", "register") is None

    def broken(name):
        raise ImportError("cannot import name 'x' from 'bokeh'")

    monkeypatch.setattr(extension.importlib, "import_module", broken)
    with pytest.warns(RuntimeWarning, match="streamlab.widgets could not be loaded"):
        assert extension._optional("streamlab.widgets", "register_display_hooks") is None


# -- the same SQL text through Apache Flink and through %%streamlab ------------------------------

FLINK_PYTHON = Path(__file__).resolve().parents[1] / ".venv-flink" / "bin" / "python"
FLINK_RUNNER = Path(__file__).resolve().parents[1] / "tests" / "flink" / "run_flink_sql.py"
FLINK_DELAY_MS = 120
FLINK_QUERIES = {
    "hop_where": "SELECT key, window_start, window_end, COUNT(*) AS cnt, AVG(v) AS avg_v "
                 "FROM TABLE(HOP(TABLE src, DESCRIPTOR(ts), INTERVAL '0.05' SECOND, "
                 "INTERVAL '0.2' SECOND)) WHERE v > 0 GROUP BY key, window_start, window_end",
    "tumble_projection": "SELECT SUM(v) AS total, window_end AS until, key FROM TABLE(TUMBLE("
                         "TABLE src, DESCRIPTOR(ts), INTERVAL '0.1' SECOND)) WHERE key IN "
                         "('alpha', 'beta') OR v BETWEEN -10 AND 10 "
                         "GROUP BY key, window_start, window_end",
    "tumble_offset_no_window_columns": "SELECT key, COUNT(*) AS n, MAX(v) AS hi FROM TABLE("
                                       "TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '0.1' SECOND, "
                                       "INTERVAL '0.03' SECOND)) "
                                       "GROUP BY key, window_start, window_end",
    "cumulate_not_null": "SELECT window_start, window_end, COUNT(v) AS nv, MIN(v) AS lo "
                         "FROM TABLE(CUMULATE(TABLE src, DESCRIPTOR(ts), INTERVAL '0.1' SECOND, "
                         "INTERVAL '0.4' SECOND)) WHERE NOT (v < 0) OR v IS NULL "
                         "GROUP BY window_start, window_end",
    "session_partitioned_like": "SELECT key, window_start, window_end, COUNT(*) AS cnt, "
                                "SUM(v) AS s FROM TABLE(SESSION(TABLE src PARTITION BY key, "
                                "DESCRIPTOR(ts), INTERVAL '0.04' SECOND)) WHERE key LIKE '%a' "
                                "AND v * 2 + 1 <> 1 GROUP BY key, window_start, window_end",
    "session_global_three_valued": "SELECT window_start, window_end, COUNT(*) AS cnt "
                                   "FROM TABLE(SESSION(TABLE src, DESCRIPTOR(ts), "
                                   "INTERVAL '0.04' SECOND)) WHERE NOT (v <> 0.25 AND v > -50) "
                                   "GROUP BY window_start, window_end",
}


def flink_events(n: int = 3_000, seed: int = 11) -> pd.DataFrame:
    """Disordered events; values are multiples of 0.25, so sums are exact.

    No NULLs: the runner's CSV source cannot read them (SQL NULL logic is checked against a
    row-by-row model in test_sql_parse.py).
    """
    rng = np.random.default_rng(seed)
    clock = 1_710_028_800_000 + np.cumsum(rng.integers(0, 9, n)
                                          + np.where(rng.random(n) < 0.01, 300, 0))
    lag = np.where(rng.random(n) < 0.9, rng.integers(0, FLINK_DELAY_MS, n),
                   rng.integers(FLINK_DELAY_MS, 4 * FLINK_DELAY_MS, n))
    v = rng.integers(-400, 401, n) * 0.25
    return pd.DataFrame({"id": np.arange(n), "key": rng.choice(["alpha", "beta", "gamma", "delta"], n),
                         "ts": pd.to_datetime(clock - lag, unit="ms"), "v": v})


def _ms(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        utc = value.tz_localize("UTC") if value.tz is None else value
        return int((utc - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1))
    if isinstance(value, float) and np.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def run_flink(df: pd.DataFrame, queries: dict[str, str], work: Path) -> dict[str, list[tuple]]:
    """Run ``queries`` over ``df`` as table ``src`` in one Flink job; rows with ms timestamps."""
    (work / "events.csv").write_text("".join(
        f"{i},{k},{t:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f",{v!r}\n"
        for i, k, t, v in df[["id", "key", "ts", "v"]].itertuples(index=False)))
    job = {"input_csv": str(work / "events.csv"),
           "columns": [["id", "BIGINT"], ["key", "STRING"], ["ts", "TIMESTAMP(3)"],
                       ["v", "DOUBLE"]],
           "time_column": "ts", "watermark_delay_ms": FLINK_DELAY_MS, "queries": queries,
           "output_dir": str(work / "out")}
    (work / "job.json").write_text(json.dumps(job))
    proc = subprocess.run([str(FLINK_PYTHON), str(FLINK_RUNNER), str(work / "job.json")],
                          capture_output=True, text=True, timeout=600, cwd=work)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    rows = {}
    for name in queries:
        schema = json.loads((work / "out" / f"{name}.schema.json").read_text())
        frames = [pd.read_csv(part, header=None, names=[c for c, _ in schema], dtype=str,
                              keep_default_na=False)
                  for part in sorted((work / "out" / name).iterdir())
                  if not part.name.startswith((".", "_")) and part.stat().st_size]
        out = []
        for frame in frames:
            for rec in frame.itertuples(index=False):
                row = []
                for text, (_, flink_type) in zip(rec, schema):
                    kind = flink_type.split("(")[0].split()[0]
                    row.append(None if text == "" and kind != "STRING" else
                               _ms(pd.Timestamp(text)) if kind == "TIMESTAMP" else
                               int(text) if kind in ("BIGINT", "INT") else
                               float(text) if kind == "DOUBLE" else text)
                out.append(tuple(row))
        rows[name] = sorted(out, key=repr)
    return rows


@pytest.mark.flink
@pytest.mark.slow
def test_same_sql_text_gives_flinks_rows(shell, ns, tmp_path):
    if not FLINK_PYTHON.exists():
        if os.environ.get("STREAMLAB_SKIP_FLINK") == "1":
            pytest.skip(f"{FLINK_PYTHON} is missing (STREAMLAB_SKIP_FLINK=1)")
        pytest.fail(f"{FLINK_PYTHON} is missing: run `bash scripts/setup-flink.sh`")
    df = flink_events()
    expected = run_flink(df, FLINK_QUERIES, tmp_path)
    for name, text in FLINK_QUERIES.items():
        ns["src"] = sl.from_frame(df, time="ts", batch_size=97).watermark(f"{FLINK_DELAY_MS}ms")
        out = sql(shell, text, "--collect")
        got = sorted((tuple(_ms(v) for v in row) for row in out.itertuples(index=False)), key=repr)
        assert len(got) > 10, name
        assert got == expected[name], name
