"""``res.on_flink(cluster, parallelism=1)``: the pipeline's Flink SQL as a job, its rows streamed back.

The run is a streamlab :class:`~streamlab.core.node.Node` (a streamz stream of DataFrames), so
``run.plot.line(...)``, ``run.table()`` and streamz operators work on it as on a local result;
``run.late`` and ``run.errors`` are its side outputs. The side panel lists every run of the
kernel (:func:`runs`, as ``NAME@flink``) with its job link, Flink's state and records in/out; its
Stop cancels the job. A part marked ``changelog=True`` (:func:`submit_job`) gives Flink's RowKind
as the ``op`` column.

>>> cluster = sl.flink.cluster()                                     # doctest: +SKIP
>>> run = res.on_flink(cluster, parallelism=2)                       # doctest: +SKIP
>>> run.collect(timeout=60)         # the rows so far, once the job ends or after 60 s   # doctest: +SKIP
>>> run.snapshot()["flink"]["job_id"], run.web_url                   # doctest: +SKIP
>>> run.stop()                      # cancels the job                # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import html
import time
import weakref
from pathlib import Path
from typing import Any

import pandas as pd

from ..core.node import Node
from ..core.snapshot import FlinkJobSnapshot, PipelineSnapshot
from ..core.state import PipelineState
from .chain import read_chain
from .cluster import FlinkCluster, FlinkError, current
from .job import Job, Part, build_job, decode
from .submission import Submission

_runs: weakref.WeakValueDictionary[str, FlinkRun] = weakref.WeakValueDictionary()


def runs() -> dict[str, FlinkRun]:
    """The runs on Flink of this process (kernel) that are still referenced, by their panel name.

    The side panel lists them next to ``sl.pipelines()``; a name is the run's name with
    ``@flink`` (and ``#2``, ``#3`` ... when a live run has it already).
    """
    return dict(sorted(_runs.items()))


def _register(run: FlinkRun) -> str:
    base = f"{run.name}@flink"
    key, n = base, 1
    while key in _runs and _runs[key] is not run and not _runs[key].state.terminal:
        n += 1
        key = f"{base}#{n}"
    _runs[key] = run
    return key


class FlinkRun(Node):
    """The rows of one pipeline running on a Flink cluster, as they arrive."""

    kind = "flink"
    result_operator = True
    #: The only command a job on Flink takes (the side panel and the view offer only Stop).
    panel_actions = ("stop",)

    def __init__(self, submission_name: str, part: Part, time_meta):
        columns = [n for n, _ in part.columns]
        super().__init__(None, time_meta=time_meta, columns=["op", *columns] if part.changelog else columns,
                         stream_name=submission_name)
        self.part = part
        self.frames: list[pd.DataFrame] = []
        self.late_frames: list[pd.DataFrame] = []
        self.submission: Submission | None = None
        #: The name the side panel lists it under (see :func:`runs`).
        self.panel_name = _register(self)

    @property
    def changelog(self) -> bool:
        """Whether the rows are a changelog (an ``op`` column with Flink's RowKind: +I -U +U -D)."""
        return self.part.changelog

    # --- rows in -------------------------------------------------------------------------------
    def push(self, df: pd.DataFrame) -> None:
        """Rows of the job's result: kept (for ``collect``) and emitted downstream."""
        self.frames.append(df)
        self.counters.rows_in += len(df)
        self.emit_out(df)

    def push_late(self, df: pd.DataFrame) -> None:
        self.late_frames.append(df)
        self.counters.late += len(df)
        self.late.push(df)

    @property
    def late(self):
        """Input rows late for at least one window (Flink's companion query), as in the kernel."""
        return self.side("late")

    # --- state ----------------------------------------------------------------------------------
    @property
    def state(self) -> PipelineState:
        return self.submission.state if self.submission else PipelineState.IDLE

    @property
    def job_id(self) -> str | None:
        return self.submission.job_id if self.submission else None

    @property
    def web_url(self) -> str | None:
        """The job's page in the Flink web UI."""
        s = self.submission
        if not s or not s.job_id:
            return None
        return s.cluster.job_url(s.job_id, ended=s.job_state in ("FINISHED", "CANCELED", "FAILED"))

    def _wait(self, until, timeout: float | None) -> None:
        if self.submission is not None:
            self.submission.wait(until, timeout)

    def wait_submitted(self, timeout: float = 120.0) -> FlinkRun:
        """Block until the job has an id (or ended)."""
        self._wait(lambda: self.job_id is not None, timeout)
        return self

    def collect(self, n: int | None = None, timeout: float | None = None) -> pd.DataFrame:
        """The rows received so far, after waiting for the job's end, ``n`` rows or ``timeout`` s."""
        self._wait(lambda: n is not None and sum(len(f) for f in self.frames) >= n, timeout)
        return self._rows(self.frames, self.columns, n)

    async def acollect(self, n: int | None = None, timeout: float | None = None) -> pd.DataFrame:
        """``collect()`` without blocking the running loop."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.state.terminal and (n is None or sum(len(f) for f in self.frames) < n):
            if deadline is not None and time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.05)
        return self._rows(self.frames, self.columns, n)

    def collect_late(self, timeout: float | None = None) -> pd.DataFrame:
        """The late rows received (waiting for the job's end or ``timeout``)."""
        self._wait(lambda: False, timeout)
        return self._rows(self.late_frames, None, None)

    @staticmethod
    def _rows(frames, columns, n) -> pd.DataFrame:
        frames = [f for f in frames if len(f)]
        out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns or [])
        return out.head(n) if n is not None else out

    def stop(self) -> FlinkRun:
        """Cancel the job on the cluster."""
        if self.submission is not None:
            self.submission.cancel()
        return self

    def start(self, name=None) -> FlinkRun:  # the job starts when it is submitted
        return self

    @property
    def errors(self):
        """The job's failure (Flink's root cause) as a row with ``reason``."""
        return self.side("errors")

    def _failed(self) -> None:
        s = self.submission
        if s is not None and s.state == PipelineState.FAILED:
            self.counters.errors += 1
            self.errors.push(pd.DataFrame({"job_id": [s.job_id], "reason": [s.root_cause],
                                           "detail": [(s.error or "")[:4000]]}))

    def snapshot(self, limit: int | None = 50) -> PipelineSnapshot:
        """The run as a pipeline snapshot; ``snap["flink"]`` has the job id, Flink's state and
        record counts, the web UI link, and the rows and late rows received.

        ``counters["in"]`` is Flink's records in, ``counters["out"]`` the rows received.
        """
        s = self.submission
        metrics = s.metrics if s else {"records_in": 0, "records_out": 0}
        running = not self.state.terminal and s is not None
        job: FlinkJobSnapshot = {
            "job_id": self.job_id, "job_state": s.job_state if s else None, "web_url": self.web_url,
            "cluster_url": s.cluster.web_url if s else "", "records_in": int(metrics["records_in"]),
            "records_out": int(metrics["records_out"]), "rows": self.counters.rows_out,
            "late": self.counters.late, "changelog": self.changelog,
            "actions": list(self.panel_actions) if running else []}
        snap: PipelineSnapshot = {
            "name": self.panel_name, "state": self.state.value, "watermark": None,
            "watermark_text": None, "lag_ms": None,
            "counters": {"in": job["records_in"], "out": job["rows"], "late": job["late"],
                         "errors": self.counters.errors},
            "events_per_s": s.records_per_s if s else 0.0, "operators": [], "flink": job}
        if s is not None and s.root_cause:
            snap["error"] = s.root_cause
        return snap

    @property
    def error(self) -> str | None:
        """Flink's root cause when the job failed (the view shows it)."""
        return self.submission.root_cause if self.submission else None

    def _repr_html_(self) -> str:
        snap = self.snapshot()
        job = snap["flink"]
        link = f"<a href='{job['web_url']}' target='_blank'>{job['job_id']}</a>" if job["web_url"] \
            else "(not submitted yet)"
        error = snap.get("error")
        err = f"<br><b>error:</b> {html.escape(str(error))}" if error else ""
        return (f"<b>Flink job</b> {link} <b>{snap['state']}</b>: {job['rows']} rows, "
                f"{job['late']} late; Flink records in {job['records_in']}, out "
                f"{job['records_out']}{err}")

    def __repr__(self) -> str:
        return f"<FlinkRun {self.name} job={self.job_id} {self.state}>"


def submit(streams: list, cluster: FlinkCluster | None = None, parallelism: int = 1,
           name: str | None = None, late: bool = True, continuous: bool = False) -> list[FlinkRun]:
    """Run several pipelines as ONE Flink job (one submission); one :class:`FlinkRun` each.

    A pipeline is a window result (with its late rows: a companion query for Tumble, Hop and
    Cumulate, the uncounted rows for sessions) or an interval join of frames, CSV or Parquet.

    ``late=False`` leaves out the late-row companion queries; ``continuous=True`` keeps watching
    the input folders, so the job runs until ``stop()``.
    """
    cluster = cluster or current()
    workdir = cluster.workdir
    if workdir is None:
        raise FlinkError(f"{cluster.web_url}: pass connect(..., workdir=PATH) with a folder the "
                         "cluster can read; the inputs are written there for the job")
    job_dir = Path(workdir) / f"job-{time.time_ns()}"
    job_dir.mkdir(parents=True, exist_ok=True)
    job = build_job(list(streams), job_dir, parallelism, late=late,
                    has_kafka_jar=cluster.has_jar("flink-sql-connector-kafka"), continuous=continuous)
    label = name or _name(streams[0])
    runs: dict[str, FlinkRun] = {}
    for i, stream in enumerate(streams):
        part = job.parts[[p.tag for p in job.parts].index(f"q{i}:out")]
        runs[f"q{i}"] = FlinkRun(f"{label}[{i}]" if len(streams) > 1 else label, part, _time_meta(stream))
    return _start(cluster, job, label, runs)


def submit_job(job: Job, cluster: FlinkCluster | None = None, name: str = "sql") -> list[FlinkRun]:
    """Run a prepared :class:`~streamlab.flink.job.Job` (hand-written parts allowed); one run
    per ``qN:out`` part, in order. A part with ``changelog=True`` yields an ``op`` column with
    Flink's RowKind (``+I``, ``-U``, ``+U``, ``-D``): ``sl.apply_changelog(run.collect())`` is the
    final table.
    """
    cluster = cluster or current()
    outs = [p for p in job.parts if p.tag.endswith(":out")]
    runs = {p.tag.split(":")[0]: FlinkRun(f"{name}[{i}]" if len(outs) > 1 else name, p, None)
            for i, p in enumerate(outs)}
    return _start(cluster, job, name, runs)


def _time_meta(stream):
    try:
        return read_chain(stream).time_meta
    except ValueError:  # a join: its own event-time column
        return stream.time_meta


def _start(cluster: FlinkCluster, job: Job, label: str, runs: dict[str, FlinkRun]) -> list[FlinkRun]:
    parts = {p.tag: p for p in job.parts}

    def deliver(tag: str, rows: list) -> None:
        q, what = tag.split(":")
        frame = decode(parts[tag], rows)
        if what == "late":
            runs[q].push_late(frame)
        elif what == "session-rows":
            job.session_late[q].add_sessions(frame)
        elif what == "session-marks":
            job.session_late[q].add_marks(frame)
        else:
            runs[q].push(frame)

    def session_late_rows() -> None:  # known once every session has fired: at the job's end
        if sub.state == PipelineState.FINISHED:
            for q, collector in job.session_late.items():
                late = collector.late_frame()
                if len(late):
                    runs[q].push_late(late)

    sub = Submission(cluster, job, f"streamlab: {label}", deliver)
    for run in runs.values():
        run.submission = sub
        sub.on_change(run._failed)
    if job.session_late:
        sub.on_change(session_late_rows)
    return list(runs.values())


def _name(stream) -> str:
    return str(stream.pipeline.name)


@Node.register_api()
def on_flink(self, cluster: FlinkCluster | None = None, parallelism: int = 1, name: str | None = None,
             late: bool = True, continuous: bool = False) -> Any:
    """Run this window pipeline (or interval join) on a Flink cluster; returns a live :class:`FlinkRun`.

    ``cluster`` defaults to the last ``sl.flink.cluster()`` / ``connect()``; see :func:`submit`.
    """
    return submit([self], cluster, parallelism=parallelism, name=name, late=late,
                  continuous=continuous)[0]
