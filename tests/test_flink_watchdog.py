"""A SIGKILLed kernel does not leave the Flink JVMs running (issue 12): the watchdog ends them.

A child Python process (standing in for the kernel) starts a local cluster and reports the
JobManager's and TaskManager's process groups; once their JVMs run, the child is SIGKILLed, so no
``atexit`` and no ``stop()`` runs. Every process of those groups must be gone within seconds.

Needs ``.venv-flink`` (``bash scripts/setup-flink.sh``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.flink

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, sys, time
import streamlab as sl
c = sl.flink.cluster(new=True, wait=False)
print(json.dumps({"pgids": [p.pid for p in c.procs], "watchdog": c.watchdog.pid}), flush=True)
time.sleep(600)
"""


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live (non-zombie) process in process group ``pgid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append((int(entry), cmd))
    return found


def poll(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def test_sigkilled_kernel_leaves_no_jvm_running():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True, env=env)
    pgids: list[int] = []
    try:
        assert child.stdout is not None
        info = json.loads(child.stdout.readline())
        pgids = info["pgids"]
        assert len(pgids) == 2
        # the JobManager and the TaskManager JVMs run (not only their launch scripts)
        poll(lambda: all(any(" java " in f" {cmd} " or "/java " in cmd for _, cmd in group_members(g))
                         for g in pgids), 60, "both JVMs started")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        t0 = time.monotonic()
        poll(lambda: not any(group_members(g) for g in pgids), 20,
             f"the JVMs of process groups {pgids} exit after the kernel was killed")
        took = time.monotonic() - t0
        poll(lambda: not group_members(info["watchdog"]), 10, "the watchdog exits too")
        print(f"JVMs gone {took:.1f} s after the kernel's SIGKILL")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for g in pgids:  # never leave JVMs behind, even when the test fails
            try:
                os.killpg(g, signal.SIGKILL)
            except ProcessLookupError:
                pass
