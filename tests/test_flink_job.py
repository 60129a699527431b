"""The job a Flink run submits, without a cluster: SQL, input files, decoding, fail-fast errors.

The real cluster is exercised in tests/test_flink_cluster.py (marked ``flink``).
"""

from __future__ import annotations

import os

import pandas as pd
import pytest

import streamlab as sl
from streamlab.flink.cluster import FlinkError, connect
from streamlab.flink.driver import root_cause
from streamlab.flink.job import build_job, decode
from streamlab.flink.run import submit


def res_of(spec, datetime=False, delay="100ms"):
    df = pd.DataFrame({"ts": [0, 1500, 700, 3000], "k": ["a", "b", "a", "b"], "v": [1.0, 2.0, 3.0, 4.0]})
    if datetime:
        df["ts"] = pd.to_datetime(df["ts"], unit="ms", utc=True)
    return sl.from_frame(df, time="ts", unit=None if datetime else "ms").watermark(delay) \
        .window(spec, by="k").agg(n=("v", "size"), s=("v", "sum"))


def test_one_job_for_several_pipelines_with_late_companions(tmp_path):
    job = build_job([res_of(sl.Tumble("1s")), res_of(sl.Session("1s"), datetime=True)], tmp_path,
                    parallelism=2)
    # a session's late rows: which rows its sessions counted, and every row's watermark
    assert [p.tag for p in job.parts] == ["q0:out", "q0:late", "q1:out", "q1:session-rows", "q1:session-marks"]
    assert list(job.session_late) == ["q1"]
    assert job.settings["parallelism.default"] == "2"
    assert job.settings["pipeline.auto-watermark-interval"] == "0 ms"
    assert job.settings["table.local-time-zone"] == "UTC"
    query = job.query
    assert query.count("UNION ALL") == 4 and "CURRENT_WATERMARK(" in query
    assert "LISTAGG(CAST(__row AS STRING), ',')" in query and "SESSION(TABLE q1_rows PARTITION BY k" in query
    assert "TUMBLE(TABLE q0_src" in query and "SESSION(TABLE q1_src PARTITION BY k" in query
    width = max(len(p.columns) for p in job.parts)
    assert query.count("CAST(NULL AS STRING)") == sum(width - len(p.columns) for p in job.parts)
    files = sorted(os.listdir(tmp_path))
    assert files == ["q0-input", "q1-input", "q1-rows"]
    assert (tmp_path / "q1-input" / "part-0.csv").read_text().splitlines()[0] == "1970-01-01 00:00:00.000,a,1.0"
    numbered = (tmp_path / "q1-rows" / "part-0.csv").read_text().splitlines()
    assert numbered[0] == "1970-01-01 00:00:00.000,a,1.0,0" and numbered[-1].endswith(f",{len(numbered) - 1}")
    ddl = "\n".join(job.statements)
    assert "'source.monitor-interval'" not in ddl
    spec = job.spec("127.0.0.1", 8081, "name")
    assert spec["query"] == query and spec["statements"] == job.statements


def test_continuous_inputs_are_watched_folders(tmp_path):
    job = build_job([res_of(sl.Tumble("1s"))], tmp_path, continuous=True)
    assert "'source.monitor-interval' = '1 s'" in "\n".join(job.statements)


def test_decode_gives_the_kernels_types():
    out = build_job([res_of(sl.Tumble("1s"))], "/tmp/streamlab-test-decode").parts
    rows = decode(out[0], [["a", "1970-01-01 00:00:00", "1970-01-01 00:00:01", "2", "4.0"]])
    assert rows.to_dict("records") == [{"k": "a", "window_start": 0, "window_end": 1000, "n": 2, "s": 4.0}]
    late = decode(out[1], [["700", "a", "3.0", "1400", "1", "1"]])
    assert list(late.columns) == ["ts", "k", "v", "watermark", "missed_windows", "reason"]
    assert late["reason"][0] == "late for 1 of 1 windows (window end - 1ms <= watermark)"
    parts = build_job([res_of(sl.Hop("2s", "1s"), datetime=True)], "/tmp/streamlab-test-decode").parts
    rows = decode(parts[0], [["a", "1970-01-01 00:00:01", "1970-01-01 00:00:03", "1", None]])
    assert rows["window_end"][0] == pd.Timestamp(3000, unit="ms", tz="UTC")
    assert pd.isna(rows["s"][0])


def test_kafka_without_the_connector_jar_fails_before_submitting(tmp_path):
    res = (sl.from_kafka("events", bootstrap="127.0.0.1:1", time="ts", unit="ms", columns=["ts", "k", "v"])
           .window(sl.Tumble("1s"), by="k").agg(n=("v", "size")))
    with pytest.raises(FlinkError, match="flink-sql-connector-kafka.*lib/"):
        build_job([res], tmp_path, has_kafka_jar=False)


def test_a_remote_cluster_needs_a_shared_workdir():
    with pytest.raises(FlinkError, match="workdir"):
        submit([res_of(sl.Tumble("1s"))], connect("127.0.0.1:1"))


def test_parallelism_is_checked(tmp_path):
    with pytest.raises(ValueError, match="parallelism"):
        build_job([res_of(sl.Tumble("1s"))], tmp_path, parallelism=0)


def test_root_cause_is_the_innermost_java_exception():
    text = ("An error occurred while calling o18.executeSql.\n"
            ": org.apache.flink.table.api.ValidationException: SQL validation failed. Object 'x' not found\n"
            "\tat org.apache.flink.Foo.bar(Foo.java:1)\n"
            "Caused by: org.apache.calcite.runtime.CalciteContextException: From line 1, column 15 "
            "to line 1, column 15: Object 'x' not found\n\tat x.y(Z.java:2)\n")
    assert root_cause(text).startswith("org.apache.calcite.runtime.CalciteContextException: From line 1")
    assert root_cause("plain text") == "plain text"


def test_a_join_of_two_sources_reads_two_folders_and_one_source_one(tmp_path):
    a = pd.DataFrame({"ts": [0, 100], "ad": ["x", "y"], "iid": [1, 2]})
    b = pd.DataFrame({"ts": [50], "ad": ["x"], "cid": [10]})
    left, right = (sl.from_frame(f, time="ts", unit="ms").watermark("100ms") for f in (a, b))
    job = build_job([left.join(right, on="ad", between=("0s", "1s"))], tmp_path / "two")
    assert sorted(os.listdir(tmp_path / "two")) == ["q0-input-l", "q0-input-r"]
    left_ddl, right_ddl = job.statements
    assert left_ddl.startswith("CREATE TABLE q0_src_l ") and "q0-input-l'" in left_ddl and " iid BIGINT" in left_ddl
    assert right_ddl.startswith("CREATE TABLE q0_src_r ") and "q0-input-r'" in right_ddl and " cid BIGINT" in right_ddl
    assert (tmp_path / "two" / "q0-input-r" / "part-0.csv").read_text() == "50,x,10\n"
    src = sl.from_frame(pd.concat([a, b.rename(columns={"cid": "iid"})]), time="ts", unit="ms").watermark("100ms")
    one = build_job([src.where("iid < 5").join(src.where("iid > 5"), on="ad", between=("0s", "1s"))], tmp_path / "one")
    assert sorted(os.listdir(tmp_path / "one")) == ["q0-input"] and job.session_late == {}
    assert [p.tag for p in one.parts] == ["q0:out"]  # append-only, no late companion


def test_flink_magic_names_a_shape_that_does_not_run_on_flink(tmp_path):
    """``%%streamlab --flink`` of a result Flink export does not take (here a median): a
    UsageError, not a traceback (no cluster needed: the job is built before it is submitted)."""
    from streamlab.flink.cluster import _default
    from streamlab.magics import StreamlabMagics, StreamlabUsageError

    saved = list(_default)
    try:
        sl.flink.connect("127.0.0.1:1", workdir=tmp_path)
        res = (sl.from_frame(pd.DataFrame({"ts": [0, 1], "k": ["a", "b"], "v": [1.0, 2.0]}), time="ts", unit="s")
               .window(sl.Tumble("1s"), by="k").agg(m=("v", "median")))
        with pytest.raises(StreamlabUsageError, match="--flink: .*median") as err:
            StreamlabMagics._on_flink(res, 1)
        assert "%streamlab export NAME --flink" in err.value.hint
    finally:
        _default[:] = saved
