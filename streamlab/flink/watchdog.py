"""Stop a local Flink cluster's JVMs when the process that started them dies, however it dies.

``atexit`` stops the cluster when the kernel exits normally; a SIGKILLed (or crashed) kernel runs
no exit code. So :class:`~streamlab.flink.cluster.LocalCluster` also starts this small watchdog,
with the JVMs' process groups as arguments and the read end of a pipe as its stdin. Only the
kernel holds the write end: when the kernel dies for any reason, the kernel's end closes, the
watchdog reads EOF, and it ends the process groups (SIGTERM, then SIGKILL after ``grace``
seconds). A normal ``stop()`` closes the pipe too, so the watchdog never outlives the cluster.

Run by the kernel's Python as a script (standard library only)::

    python streamlab/flink/watchdog.py [--grace 5] PGID [PGID ...]   < pipe
"""

from __future__ import annotations

import os
import signal
import sys
import time


def alive(pgid: int) -> bool:
    """Whether any process of the process group ``pgid`` still runs (zombies count as gone)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def end_groups(pgids: list[int], grace: float = 5.0) -> None:
    """SIGTERM every group, wait up to ``grace`` seconds, then SIGKILL what is left."""
    for pgid in pgids:
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(g) for g in pgids):
        time.sleep(0.1)
    for pgid in pgids:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main(argv: list[str]) -> int:
    grace = 5.0
    if argv[:1] == ["--grace"]:
        grace, argv = float(argv[1]), argv[2:]
    pgids = [int(a) for a in argv]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in a terminal is not the kernel dying
    while sys.stdin.buffer.read(4096):  # blocks until the starting process's end closes
        pass
    end_groups(pgids, grace)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
