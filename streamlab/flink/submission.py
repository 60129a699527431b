"""The driver process of one Flink job, read without threads: JSON lines from its stdout.

On a running asyncio loop (Jupyter) the pipe is read by ``loop.add_reader`` and the job is
watched by a task polling the REST API every second; without one, ``wait()`` does the same while
it blocks. Rows are handed to the runs (:class:`~streamlab.flink.run.FlinkRun`) on that thread.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import select
import subprocess
import tempfile
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from ..core.state import PipelineState
from .cluster import FlinkCluster, FlinkError, flink_python
from .driver import root_cause
from .job import Job

DRIVER = Path(__file__).with_name("driver.py")
POLL_S = 1.0
#: The cluster counts as gone when its REST API has failed every poll for this long.
UNREACHABLE_S = 2.0
#: How long ``cancel()`` waits for Flink to report the job canceled (so the views show it).
CANCEL_WAIT_S = 3.0
_drivers: weakref.WeakSet[Submission] = weakref.WeakSet()


class Submission:
    """One job on ``cluster``: the driver process, the job id, its state and its rows."""

    def __init__(self, cluster: FlinkCluster, job: Job, name: str, deliver: Callable[[str, list], None]):
        self.cluster, self.job, self.name, self.deliver = cluster, job, name, deliver
        self.state = PipelineState.RUNNING
        self.job_id: str | None = None
        self.error: str | None = None
        self.root_cause: str | None = None
        self.metrics = {"records_in": 0, "records_out": 0}
        #: Flink's own state of the job (``RUNNING``, ``FINISHED``, ``CANCELED`` ...), from REST.
        self.job_state: str | None = None
        #: Records read by the job's sources per second, between the last two metric polls.
        self.records_per_s = 0.0
        self._rate_mark: tuple[float, int] | None = None
        self.log = Path(tempfile.mkstemp(prefix="streamlab-driver-", suffix=".log")[1])
        self.submitted_at = time.monotonic()
        self._buf = b""
        self._failing_since: float | None = None
        self._last_poll = 0.0
        self._listeners: list[Callable[[], None]] = []
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(
                [str(flink_python()), str(DRIVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=err, start_new_session=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(job.spec(cluster.host, cluster.port, name)) + "\n").encode())
        self.proc.stdin.close()
        _drivers.add(self)
        self.fd = self.proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._loop.add_reader(self.fd, self.pump)
        self._task = self._loop.create_task(self._watch())

    # --- reading ------------------------------------------------------------------------------
    def pump(self) -> None:
        """Read what the driver wrote and deliver it (non-blocking)."""
        try:
            chunk = os.read(self.fd, 1 << 20)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._eof()
            return
        self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        rows: dict[str, list] = {}
        for line in lines:
            if not line.strip():
                continue
            event = json.loads(line)
            kind = event.get("event")
            if kind == "row":
                row = event["row"]
                if "kind" in event:  # an updating result: Flink's RowKind goes last (the op column)
                    row = [*row, event["kind"]]
                rows.setdefault(row[0], []).append(row[1:])
            elif kind == "submitted":
                self.job_id = event.get("job_id")
            elif kind == "finished":
                self._flush(rows)
                self._end(PipelineState.FINISHED)
            elif kind == "error":
                self._flush(rows)
                self._fail(event.get("message", ""), event.get("root_cause"))
        self._flush(rows)

    def _flush(self, rows: dict[str, list]) -> None:
        for tag, batch in list(rows.items()):
            if batch:
                self.deliver(tag, batch)
        rows.clear()

    def _eof(self) -> None:
        self._detach()
        if not self.state.terminal:
            code = self.proc.wait()
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            self._fail(f"the Flink driver exited with {code} before the job ended:\n{tail}")

    # --- state ----------------------------------------------------------------------------------
    def on_change(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)

    def _end(self, state: PipelineState) -> None:
        if self.state.terminal:
            return
        self.state = state
        self._detach()
        self._poll_metrics()
        for fn in list(self._listeners):
            fn()
        if self.proc.poll() is None and state != PipelineState.FINISHED:
            try:
                os.killpg(self.proc.pid, 15)
            except ProcessLookupError:
                pass

    def _fail(self, message: str, root: str | None = None) -> None:
        if self.state.terminal:
            return
        lines = message.strip().splitlines()
        self.error, self.root_cause = message, root or (lines[0] if lines else "the job failed")
        if "factory for identifier 'kafka'" in message:
            self.root_cause = ("the cluster has no Kafka connector: put flink-sql-connector-kafka-<version>.jar "
                               "into its lib/ folder and restart it")
        self._end(PipelineState.FAILED)

    def _detach(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            try:
                self._loop.remove_reader(self.fd)
            except (ValueError, OSError):
                pass
        if self._task is not None and self._loop is not None:
            try:
                current = asyncio.current_task(self._loop)
            except RuntimeError:
                current = None
            if self._task is not current:
                self._task.cancel()

    # --- watching the job -------------------------------------------------------------------------
    def poll(self) -> None:
        """Ask the REST API about the job: metrics, a failure's root cause, a vanished cluster."""
        self._last_poll = time.monotonic()
        if self.state.terminal:
            return
        if not self.job_id:  # before submission the driver reports (and waits for a starting cluster)
            return
        try:
            info = self.cluster.rest(f"/jobs/{self.job_id}", timeout=1.0)
        except FlinkError as e:
            if "unreachable" in str(e):
                now = time.monotonic()
                self._failing_since = self._failing_since or now
                if now - self._failing_since >= UNREACHABLE_S:
                    self._fail(f"the Flink cluster went away: {e}", f"cluster unreachable: {e}")
            return
        self._failing_since = None
        self.job_state = info.get("state") or self.job_state
        self._read_metrics(info)
        if info.get("state") == "FAILED":
            self._fail(*self._exception())
        elif info.get("state") == "CANCELED":
            self._end(PipelineState.STOPPED)

    def _exception(self) -> tuple[str, str]:
        """The job's failure from ``/jobs/<id>/exceptions`` (Flink 2: the exception history)."""
        try:
            exc = self.cluster.rest(f"/jobs/{self.job_id}/exceptions", timeout=2.0)
        except FlinkError as e:
            return str(e), str(e)
        entries = (exc.get("exceptionHistory") or {}).get("entries") or []
        trace = exc.get("root-exception") or (entries[0].get("stacktrace") if entries else "") or ""
        return trace or "the job failed", root_cause(trace) if trace else "the job failed"

    def _read_metrics(self, info: dict) -> None:
        """Flink's REST metrics, as its web UI shows them: records in = records the source
        vertices read; records out = records the vertex holding the sink received (when the sink
        is chained behind an aggregation, that is the aggregation's input)."""
        vertices = info.get("vertices") or []

        def total(prefix: str, *keys: str) -> int:
            out = 0
            for v in vertices:
                name = str(v.get("name", ""))
                if name.startswith(prefix) or f"-> {prefix}" in name:  # a sink chained to an operator
                    m = v.get("metrics", {})
                    out += int(next((m[k] for k in keys if m.get(k)), 0))
            return out

        if vertices:
            self.metrics["records_in"] = total("Source:", "read-records", "write-records")
            self.metrics["records_out"] = total("Sink:", "read-records")
            now, count = time.monotonic(), self.metrics["records_in"]
            if self._rate_mark is not None and now > self._rate_mark[0]:
                self.records_per_s = max(0.0, (count - self._rate_mark[1]) / (now - self._rate_mark[0]))
            self._rate_mark = (now, count)

    def _poll_metrics(self) -> None:
        if self.job_id:
            try:
                info = self.cluster.rest(f"/jobs/{self.job_id}", timeout=1.0)
            except FlinkError:
                return
            self.job_state = info.get("state") or self.job_state
            self._read_metrics(info)
            self.records_per_s = 0.0

    async def _watch(self) -> None:
        while not self.state.terminal:
            await asyncio.sleep(POLL_S)
            self.poll()

    def wait(self, until: Callable[[], bool], timeout: float | None) -> None:
        """Block (reading the pipe, polling the job) until ``until()``, the end, or ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.state.terminal and not until():
            left = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
            if left <= 0:
                break
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                self.pump()
            if time.monotonic() - self._last_poll >= POLL_S:
                self.poll()

    def _await_job_state(self, states: tuple[str, ...], timeout: float) -> None:
        """Poll Flink's state of the job (``job_state``) until it is one of ``states`` (bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            self.job_state = self.cluster.rest(f"/jobs/{self.job_id}", timeout=1.0).get("state")
            if self.job_state in states or time.monotonic() >= deadline:
                return
            time.sleep(0.1)

    def cancel(self) -> None:
        """Cancel the job on the cluster and end the driver."""
        if self.job_id and not self.state.terminal:
            try:
                self.cluster.rest(f"/jobs/{self.job_id}?mode=cancel", method="PATCH", timeout=3.0)
                self._await_job_state(("CANCELED", "FAILED", "FINISHED"), CANCEL_WAIT_S)
            except FlinkError:
                pass
        self._end(PipelineState.STOPPED)
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 15)
            except ProcessLookupError:
                pass


@atexit.register
def _end_drivers() -> None:
    """At interpreter (kernel) exit, end the driver processes still running (not their jobs)."""
    for sub in list(_drivers):
        if sub.proc.poll() is None:
            try:
                os.killpg(sub.proc.pid, 15)
            except ProcessLookupError:
                pass
