"""Kafka calls never block the running asyncio loop (the kernel's loop, in Jupyter).

The rule for every librdkafka call in this package:

- With an asyncio loop running in this thread, a call made here returns at once: ``poll(0)``,
  ``flush(0)``, ``consume(n, 0)``, ``produce``, ``assign``, an asynchronous ``commit``. A call that
  waits for the broker (metadata, committed offsets, a synchronous commit, closing a consumer) is
  handed to a worker thread with :func:`off_loop`, and its future is looked at on later polls.
- Without a running loop (a script's synchronous ``collect()``) waiting is what the caller wants:
  :func:`off_loop` runs the call right away and returns a future that is already done.

The futures are ``concurrent.futures`` futures, not asyncio ones: checking ``done()`` works even
when the loop thread is busy in a synchronous ``collect()`` and never yields.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

WORKERS = 4  # threads for the broker-waiting calls of every source and sink of the process
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_lock = threading.Lock()


def in_loop() -> bool:
    """True when an asyncio loop is running in this thread (Jupyter, ``start()``, ``acollect()``)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _workers() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(WORKERS, thread_name_prefix="streamlab-kafka")
        return _pool


def off_loop(fn, *args) -> concurrent.futures.Future:
    """Call ``fn(*args)``, which may wait for the broker, without blocking a running loop.

    On a running loop it runs on a worker thread; otherwise right here (the future is done).

    >>> off_loop(sum, [1, 2]).result()
    3
    """
    if in_loop():
        return _workers().submit(fn, *args)
    fut: concurrent.futures.Future = concurrent.futures.Future()
    try:
        fut.set_result(fn(*args))
    except Exception as exc:  # noqa: BLE001 - handed to whoever reads the future
        fut.set_exception(exc)
    return fut
