"""The live view of a pipeline running on Flink (``res.on_flink``): the job, its link, Stop.

Rendered from ``run.snapshot()`` (its ``flink`` part: job id, Flink's state, records in and out
from Flink's REST metrics, the web UI link) by an asyncio task on the kernel's running loop, as
the pipeline view is. Stop cancels the job on the cluster.

>>> job = {"job_id": "ab12", "job_state": "RUNNING", "web_url": "http://127.0.0.1:8081/#/job/running/ab12/overview",
...        "cluster_url": "http://127.0.0.1:8081", "records_in": 400, "records_out": 60, "rows": 60,
...        "late": 3, "changelog": False, "actions": ["stop"]}
>>> "ab12</a>" in job_html(job), "records in 400" in job_html(job)
(True, True)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from html import escape
from typing import Any

from ipywidgets import HTML, Button, HBox, Layout, VBox
from traitlets import Float, validate

from ..core.state import PipelineState
from ..viz.feed import running_loop
from .view import BAD, pipeline_state, status_html

log = logging.getLogger(__name__)


def job_html(job: Mapping[str, Any]) -> str:
    """The job line: id (a link to the job in the Flink web UI), Flink's state, record counts."""
    jid = job.get("job_id")
    url = job.get("web_url")
    if jid and url:
        link = (f'<a class="sl-flink-link" href="{escape(str(url), quote=True)}" target="_blank" '
                f'rel="noopener">{escape(str(jid))}</a>')
    else:
        link = "(not submitted yet)"
    parts = [f"Flink job {link}", f"Flink state {escape(str(job.get('job_state') or '–'))}",
             f"records in {int(job.get('records_in') or 0):,}",
             f"records out {int(job.get('records_out') or 0):,}",
             f"rows received {int(job.get('rows') or 0):,}"]
    if job.get("changelog"):
        parts.append("changelog (op)")
    return " · ".join(parts)


class FlinkJobView(VBox):
    """Live view of a :class:`~streamlab.flink.run.FlinkRun`: status, the job line, Stop."""

    interval = Float(1.0, help="Seconds between refreshes (Flink's metrics are polled once a second).")

    @validate("interval")
    def _at_least_quarter_second(self, proposal: dict[str, Any]) -> float:
        if proposal["value"] < 0.25:
            raise ValueError("interval must be >= 0.25 s (at most 4 updates/s)")
        return proposal["value"]

    def __init__(self, run: Any, **kwargs: Any) -> None:
        self.run = run
        self.title = HTML()
        self.stop = Button(description="Stop", icon="stop", tooltip="Cancel the job on the cluster",
                           layout=Layout(width="auto"))
        self.status = HTML()
        self.job = HTML()
        self.message = HTML()
        self.stop.on_click(self._on_stop)
        controls = HBox([self.title, self.stop], layout=Layout(align_items="center"))
        super().__init__(children=[controls, self.status, self.job, self.message], **kwargs)
        self.add_class("streamlab-view")
        self.add_class("streamlab-flink-view")
        self.refreshes = 0
        self._task: asyncio.Task[None] | None = None
        self.refresh()
        loop = running_loop()
        if loop is not None:
            self._task = loop.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                state = self.refresh()
            except Exception as exc:  # show it; keep the view alive
                log.exception("streamlab Flink view refresh failed")
                self.message.value = f"<span{BAD}>refresh failed: {escape(str(exc))}</span>"
                state = None
            if state is not None and state.terminal:
                return  # nothing changes after the job's end
            await asyncio.sleep(self.interval)

    def refresh(self) -> PipelineState | None:
        """Render the run's snapshot now; returns its state."""
        snap = self.run.snapshot()
        self.refreshes += 1
        job = snap.get("flink") or {}
        state = pipeline_state(snap.get("state"))
        with self.hold_sync():
            self.title.value = f"<b>{escape(str(snap.get('name') or 'flink'))}</b>"
            self.status.value = status_html(snap)
            self.job.value = job_html(job)
            self.stop.disabled = "stop" not in (job.get("actions") or [])
            if snap.get("error"):
                self.message.value = f"<span{BAD}>job failed: {escape(str(snap['error']))}</span>"
        return state

    def _on_stop(self, _: Any = None) -> None:
        try:
            self.run.stop()
            self.message.value = ""
        except Exception as exc:
            self.message.value = f"<span{BAD}>stop failed: {escape(f'{type(exc).__name__}: {exc}')}</span>"
        self.refresh()

    def close(self) -> None:
        """Stop refreshing and close the widget and its children."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        for w in (self.title, self.stop, self.status, self.job, self.message):
            w.close()
        super().close()
