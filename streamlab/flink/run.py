"""``res.on_flink(cluster, parallelism=1)``: the pipeline's Flink SQL as a job, its rows streamed back.

The run is a streamlab :class:`~streamlab.core.node.Node` (a streamz stream of DataFrames), so
``run.plot.line(...)``, ``run.table()`` and streamz operators work on it as on a local result;
``run.late`` and ``run.errors`` are its side outputs.

>>> cluster = sl.flink.cluster()                                     # doctest: +SKIP
>>> run = res.on_flink(cluster, parallelism=2)                       # doctest: +SKIP
>>> run.collect(timeout=60)         # the rows so far, once the job ends or after 60 s   # doctest: +SKIP
>>> run.snapshot()["job_id"], run.web_url                            # doctest: +SKIP
>>> run.stop()                      # cancels the job                # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import html
import time
from pathlib import Path
from typing import Any, TypedDict

import pandas as pd

from ..core.node import Node
from ..core.state import PipelineState
from .chain import read_chain
from .cluster import FlinkCluster, FlinkError, current
from .job import Part, build_job, decode
from .submission import Submission


class FlinkRunSnapshot(TypedDict):
    """What the view shows of a run on Flink."""

    name: str
    state: str
    job_id: str | None
    web_url: str | None
    records_in: int
    records_out: int
    rows: int
    late: int
    error: str | None


class FlinkRun(Node):
    """The rows of one pipeline running on a Flink cluster, as they arrive."""

    kind = "flink"
    result_operator = True

    def __init__(self, submission_name: str, part: Part, time_meta):
        super().__init__(None, time_meta=time_meta, columns=[n for n, _ in part.columns],
                         stream_name=submission_name)
        self.part = part
        self.frames: list[pd.DataFrame] = []
        self.late_frames: list[pd.DataFrame] = []
        self.submission: Submission | None = None

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
        return s.cluster.job_url(s.job_id) if s and s.job_id else None

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

    def snapshot(self, limit: int | None = 50) -> FlinkRunSnapshot:
        """Job id, state, Flink's record counts, the web UI link, rows and late rows received."""
        s = self.submission
        metrics = s.metrics if s else {"records_in": 0, "records_out": 0}
        return {"name": self.name, "state": self.state.value, "job_id": self.job_id,
                "web_url": self.web_url, "records_in": metrics["records_in"],
                "records_out": metrics["records_out"], "rows": self.counters.rows_out,
                "late": self.counters.late, "error": s.root_cause if s else None}

    def _repr_html_(self) -> str:
        snap = self.snapshot()
        link = f"<a href='{snap['web_url']}' target='_blank'>{snap['job_id']}</a>" if snap["web_url"] \
            else "(not submitted yet)"
        err = f"<br><b>error:</b> {html.escape(str(snap['error']))}" if snap["error"] else ""
        return (f"<b>Flink job</b> {link} <b>{snap['state']}</b>: {snap['rows']} rows, "
                f"{snap['late']} late; Flink records in {snap['records_in']}, out "
                f"{snap['records_out']}{err}")

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        display(HTML(self._repr_html_()))

    def __repr__(self) -> str:
        return f"<FlinkRun {self.name} job={self.job_id} {self.state}>"


def submit(streams: list, cluster: FlinkCluster | None = None, parallelism: int = 1,
           name: str | None = None, late: bool = True, continuous: bool = False) -> list[FlinkRun]:
    """Run several pipelines as ONE Flink job (one submission); one :class:`FlinkRun` each.

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
        runs[f"q{i}"] = FlinkRun(f"{label}[{i}]" if len(streams) > 1 else label, part,
                                 read_chain(stream).time_meta)
    parts = {p.tag: p for p in job.parts}

    def deliver(tag: str, rows: list) -> None:
        q, what = tag.split(":")
        frame = decode(parts[tag], rows)
        if what == "late":
            runs[q].push_late(frame)
        else:
            runs[q].push(frame)

    sub = Submission(cluster, job, f"streamlab: {label}", deliver)
    for run in runs.values():
        run.submission = sub
        sub.on_change(run._failed)
    return list(runs.values())


def _name(stream) -> str:
    return str(stream.pipeline.name)


@Node.register_api()
def on_flink(self, cluster: FlinkCluster | None = None, parallelism: int = 1, name: str | None = None,
             late: bool = True, continuous: bool = False) -> Any:
    """Run this window pipeline on a Flink cluster; returns a live :class:`FlinkRun`.

    ``cluster`` defaults to the last ``sl.flink.cluster()`` / ``connect()``; see :func:`submit`.
    """
    return submit([self], cluster, parallelism=parallelism, name=name, late=late,
                  continuous=continuous)[0]
