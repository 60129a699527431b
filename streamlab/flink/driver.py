"""The submitting driver: run by the Flink virtualenv's Python, never imported by the kernel.

It reads one JSON job description on stdin, submits its SQL to a session cluster with
``execution.target: remote`` and writes JSON lines on stdout::

    {"event": "submitted", "job_id": "..."}
    {"event": "row", "row": ["q0:out", ...]}        # one per result row, as Flink emits it
    {"event": "row", "row": [...], "kind": "-U"}    # with "changelog": true, Flink's RowKind too
    {"event": "finished"}                           # the job ended (bounded input)
    {"event": "error", "message": "...", "root_cause": "..."}

Only the standard library and ``pyflink`` are imported (the Flink virtualenv has no streamlab).

    $ echo '{"rest_address": "127.0.0.1", "rest_port": 8081, "settings": {}, "statements": [],
    ...      "query": "SELECT 1"}' | .venv-flink/bin/python streamlab/flink/driver.py
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import re
import sys


def emit(event: dict) -> None:
    sys.stdout.write(json.dumps(event, default=_plain) + "\n")
    sys.stdout.flush()


def _plain(value):
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return str(value)


def root_cause(text: str) -> str:
    """The innermost Java exception of a stack trace (or the first line of the message).

    >>> root_cause("A: x\\n: org.X.ValidationException: bad\\n  at y\\nCaused by: java.lang.ArithmeticException: / by zero")
    'java.lang.ArithmeticException: / by zero'
    """
    found = re.findall(r"^(?:: |Caused by: )?((?:[a-z]\w*\.)+\w*(?:Exception|Error)\b.*)$", text, flags=re.M)
    if found:
        return found[-1].strip()
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else text


ROW_KINDS = {"INSERT": "+I", "UPDATE_BEFORE": "-U", "UPDATE_AFTER": "+U", "DELETE": "-D"}


def row_kind(row) -> str:
    """A result row's RowKind as streamlab's ``op`` text (``+I``, ``-U``, ``+U``, ``-D``)."""
    kind = row.get_row_kind() if hasattr(row, "get_row_kind") else None
    return ROW_KINDS.get(getattr(kind, "name", ""), "+I")


def _job_id(client) -> str | None:
    if client is None:
        return None
    jid = client.get_job_id()
    return jid.to_hex_string() if hasattr(jid, "to_hex_string") else str(jid)


def wait_for_cluster(host: str, port: int, timeout: float = 120.0) -> None:
    """Wait until the cluster's REST API reports a task slot (a cluster may still be starting)."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/overview", timeout=2) as r:
                if json.loads(r.read()).get("slots-total", 0) > 0:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Flink cluster at {host}:{port} did not answer within {timeout:.0f} s")
        time.sleep(0.3)


def main() -> int:
    spec = json.loads(sys.stdin.readline())
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    conf = Configuration()
    conf.set_string("execution.target", "remote")
    conf.set_string("rest.address", spec["rest_address"])
    conf.set_string("rest.port", str(spec["rest_port"]))
    for key, value in spec.get("settings", {}).items():
        conf.set_string(key, str(value))
    if spec.get("job_name"):
        conf.set_string("pipeline.name", spec["job_name"])
    settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(conf).build()
    try:
        t_env = TableEnvironment.create(settings)
        for statement in spec.get("statements", []):
            t_env.execute_sql(statement)
        wait_for_cluster(spec["rest_address"], int(spec["rest_port"]))
        result = t_env.execute_sql(spec["query"])
        client = result.get_job_client()
        emit({"event": "submitted", "job_id": _job_id(client)})
        changelog = bool(spec.get("changelog"))
        with result.collect() as rows:
            for row in rows:
                if changelog:
                    emit({"event": "row", "row": list(row), "kind": row_kind(row)})
                else:
                    emit({"event": "row", "row": list(row)})
        emit({"event": "finished"})
        return 0
    except Exception as exc:  # noqa: BLE001 - every failure goes to the kernel as an event
        text = str(exc)
        emit({"event": "error", "message": text[:20000], "root_cause": root_cause(text)})
        return 1


if __name__ == "__main__":
    sys.exit(main())
