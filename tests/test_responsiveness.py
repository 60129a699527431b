"""The kernel stays responsive while a 100,000 events/s pipeline feeds a live plot (issue 3, item 6).

Runs a real kernel through jupyter_client: demo sensors at 100,000 events/s in real time
(speed=1) -> watermark -> Hop(10s, 1s) by sensor -> live line plot and live view, started. Then
``1+1`` is executed repeatedly as separate requests: every one must complete (with the right
answer) while the pipeline runs. The plot must keep growing while the kernel is idle, and no
thread may be started for it.

No assertion here depends on how fast the machine is: the round-trip latency (target < 250 ms)
and the rate the source delivers are measured by ``benchmarks/bench_responsiveness.py``.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import jupyter_client
import pytest

ROOT = Path(__file__).resolve().parents[1]
RATE = 100_000

SETUP = f"""
import threading
import streamlab as sl
from IPython.display import display
threads_before = {{t.name for t in threading.enumerate()}}
src = sl.demo.sensors(rate={RATE}, keys=8, disorder="300ms", late_fraction=0.01, seed=0, speed=1)
res = (src.watermark("500ms")
          .window(sl.Hop("10s", "1s"), by="sensor")
          .agg(avg=("temp", "mean"), cnt=("temp", "size")))
p = res.plot.line(x="window_end", y="avg", by="sensor", rollover=2000)
display(p)
display(res)  # the live view: status, graph and controls refresh too
res.start()
"""

PROBES = {
    "rows": "p.n_rows",
    "flushes": "p.feeder.flushes",
    "plot_errors": "p.feeder.errors",
    "events_in": "res.pipeline.snapshot()['counters']['in']",
    "state": "str(res.pipeline.state)",
    # pyzmq starts its own garbage-collector thread for large zero-copy sends (inline BokehJS)
    "new_threads": "sorted(t.name for t in threading.enumerate() if t.name not in threads_before"
                   " and not type(t).__module__.startswith('zmq'))",
}


class Kernel:
    """A kernel and a blocking client, with request helpers that check for errors."""

    def __init__(self, km, kc):
        self.km, self.kc = km, kc

    def execute(self, code: str, timeout: float = 60.0, **expressions: str) -> dict:
        """Run ``code``; return the evaluated user expressions. ``timeout`` only guards against a
        hang (a kernel that never replies), it is not a latency limit."""
        msg_id = self.kc.execute(code, store_history=False, user_expressions=expressions)
        deadline = time.monotonic() + timeout
        while True:
            reply = self.kc.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        content = reply["content"]
        if content["status"] != "ok":
            raise AssertionError("kernel error:\n" + "\n".join(content.get("traceback", [])))
        values = {}
        for name, result in content.get("user_expressions", {}).items():
            if result["status"] != "ok":
                raise AssertionError(f"{name}: {result.get('ename')}: {result.get('evalue')}")
            values[name] = eval(result["data"]["text/plain"])  # noqa: S307 - our own literals
        return values

    def probe(self) -> dict:
        return self.execute("", **PROBES)

    def wait_for(self, predicate, timeout: float, what: str) -> dict:
        """Poll the probes until ``predicate(values)`` holds (no fixed sleep decides the result)."""
        deadline = time.monotonic() + timeout
        while True:
            values = self.probe()
            if predicate(values):
                return values
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last probe: {values}")
            time.sleep(0.1)


@pytest.fixture
def kernel(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield Kernel(km, kc)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_one_plus_one_completes_while_100k_events_per_s_feed_a_live_plot(kernel):
    kernel.execute(SETUP)
    first = kernel.wait_for(lambda v: v["rows"] > 0, 60, "the first window rows in the plot")

    rng = random.Random(0)
    for _ in range(30):
        # A reply (not a timeout) with the right answer: the kernel is not starved by the pipeline.
        assert kernel.execute("1+1", answer="1+1") == {"answer": 2}
        time.sleep(rng.uniform(0.02, 0.2))  # spread the requests over the pipeline's cycle

    # The plot keeps updating while the kernel is idle between requests.
    grown = kernel.wait_for(lambda v: v["rows"] > first["rows"] + 8, 30, "the plot to grow")
    later = kernel.wait_for(lambda v: v["rows"] > grown["rows"], 30, "the plot to keep growing")

    assert later["state"] == "running" and later["plot_errors"] == 0
    assert later["events_in"] > first["events_in"], "the source stopped delivering events"
    assert later["flushes"] > first["flushes"]
    assert later["new_threads"] == [], "the pipeline and plot must run on the kernel's loop"
