"""The kernel side of the side panel: request handler, push loop and comm target.

The handler is driven with a fake pipeline registry (so these tests pin the protocol,
not the engine), with randomly generated bad messages (hypothesis), and finally through
a real ipykernel with ``%load_ext streamlab`` and a running demo pipeline.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamlab.comm import (
    COMM_TARGET,
    PROTOCOL_VERSION,
    PanelSession,
    RequestHandler,
    register_comm_target,
    unregister_comm_target,
)
from streamlab.comm.handler import to_jsonable
from streamlab.comm.protocol import (
    COMMAND_ACTIONS,
    ERROR_CODES,
    MIN_PUSH_INTERVAL_MS,
    REQUEST_KINDS,
)
from streamlab.core.state import ACTIONS, ALLOWED_ACTIONS, PipelineState

ROOT = Path(__file__).resolve().parents[1]
EVIL = "<img src=x onerror=alert(1)>"


class FakePipeline:
    """Quacks like ``streamlab.runtime.Pipeline`` and records what was called on it."""

    def __init__(self, name: str, state: str = "running") -> None:
        self.name = name
        self.state = state
        self.calls: list[str] = []
        self.rows = 0
        self.fail_with: Exception | None = None

    def _act(self, action: str, new_state: str | None) -> FakePipeline:
        self.calls.append(action)
        if self.fail_with is not None:
            raise self.fail_with
        if new_state is not None:
            self.state = new_state
        return self

    def start(self):
        return self._act("start", "running")

    def pause(self):
        return self._act("pause", "paused")

    def resume(self):
        return self._act("resume", "running")

    def step(self):
        self._act("step", None)
        return 10

    def stop(self):
        return self._act("stop", "stopped")

    def reset(self):
        return self._act("reset", "idle")

    def rewind(self):  # exists, but is not a declared command
        return self._act("rewind", "idle")

    def snapshot(self) -> dict[str, Any]:
        if self.state == "running":
            self.rows += 100
        return {
            "name": self.name,
            "state": self.state,
            "watermark": 1_700_000_000_000,
            "watermark_text": "2023-11-14T22:13:20.000Z",
            "lag_ms": 12,
            "counters": {"in": self.rows, "out": 1, "late": 0, "errors": 0},
            "events_per_s": float("nan"),
            "operators": [{
                "id": "op-2", "kind": "window", "label": "Tumble(1s) by sensor",
                "upstreams": ["op-1"], "counters": {"in": self.rows},
                "events_per_s": float("inf"), "watermark": None,
                "state": {"open_windows": [{"key": [EVIL + "s1"], "key_text": EVIL + "s1",
                                            "rows": 3, "partials": {"avg": float("nan")}}],
                          "open_count": 1, "truncated": False, "late_ledger": [], "errors": []},
            }],
        }


class FakeComm:
    """Records what a PanelSession sends (and from which thread)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.threads: list[int] = []
        self.msg_callback = None
        self.close_callback = None

    def on_msg(self, callback) -> None:
        self.msg_callback = callback

    def on_close(self, callback) -> None:
        self.close_callback = callback

    def send(self, data) -> None:
        json.dumps(data, allow_nan=False)  # what the wire needs: strict JSON
        self.sent.append(data)
        self.threads.append(threading.get_ident())

    def deliver(self, data) -> None:
        self.msg_callback({"content": {"comm_id": "c", "data": data}})

    def pushes(self) -> list[dict[str, Any]]:
        return [m for m in self.sent if m.get("kind") == "snapshots"]


@pytest.fixture
def registry():
    pipelines = {"demo": FakePipeline("demo"), EVIL: FakePipeline(EVIL, "paused")}
    return pipelines


@pytest.fixture
def handler(registry):
    return RequestHandler(registry=lambda: registry)


def request(kind: str, id: Any = 1, **fields: Any) -> dict[str, Any]:
    return {"id": id, "kind": kind, "version": PROTOCOL_VERSION, **fields}


def strict_json(value: Any) -> Any:
    return json.loads(json.dumps(value, allow_nan=False))


# --------------------------------------------------------------------------- requests


def test_hello_reports_protocol_actions_and_pipelines(handler):
    reply = handler.handle(request("hello", id="r1"))
    assert reply["kind"] == "reply" and reply["id"] == "r1" and reply["request"] == "hello"
    assert reply["protocol_version"] == PROTOCOL_VERSION
    assert reply["actions"] == list(COMMAND_ACTIONS)
    assert reply["push_interval_ms"] >= MIN_PUSH_INTERVAL_MS
    assert reply["pipelines"] == [{"name": "demo", "state": "running"},
                                  {"name": EVIL, "state": "paused"}]


def test_list_names_every_pipeline_with_its_state(handler):
    assert handler.handle(request("list"))["pipelines"][1] == {"name": EVIL, "state": "paused"}


def test_snapshot_of_a_pipeline_is_strict_json(handler):
    reply = handler.handle(request("snapshot", pipeline="demo"))
    snap = strict_json(reply)["snapshot"]
    assert snap["name"] == "demo" and snap["counters"]["in"] == 100
    assert snap["events_per_s"] is None  # NaN cannot cross the wire
    assert snap["operators"][0]["state"]["open_windows"][0]["key_text"] == EVIL + "s1"


def test_snapshot_of_a_missing_pipeline_is_an_error(handler):
    reply = handler.handle(request("snapshot", id=7, pipeline="nope"))
    assert reply == {"id": 7, "kind": "error", "version": PROTOCOL_VERSION,
                     "code": "unknown_pipeline",
                     "message": "no pipeline named 'nope' in this kernel"}


@pytest.mark.parametrize(("before", "action", "after"), [
    ("running", "pause", "paused"), ("paused", "resume", "running"),
    ("running", "stop", "stopped"), ("idle", "start", "running"),
    ("stopped", "start", "running"), ("paused", "step", "paused"), ("idle", "step", "idle"),
    ("running", "reset", "idle"), ("failed", "reset", "idle"), ("finished", "reset", "idle"),
])
def test_each_declared_command_runs_and_replies_with_the_new_state(handler, registry,
                                                                   before, action, after):
    registry["demo"].state = before
    reply = handler.handle(request("command", pipeline="demo", action=action))
    assert reply["kind"] == "reply", reply
    assert registry["demo"].calls == [action]
    assert reply["state"] == after and reply["snapshot"]["state"] == after
    assert (reply["pipeline"], reply["action"]) == ("demo", action)


def test_reset_is_a_declared_command():
    assert "reset" in COMMAND_ACTIONS and COMMAND_ACTIONS == ACTIONS


@pytest.mark.parametrize("state", list(PipelineState))
@pytest.mark.parametrize("action", ACTIONS)
def test_a_command_runs_only_if_the_state_allows_it(handler, registry, state, action):
    """The kernel checks the one table the view and the side panel enable their buttons from."""
    registry["demo"].state = state.value
    reply = handler.handle(request("command", id=5, pipeline="demo", action=action))
    if action in ALLOWED_ACTIONS[state]:
        assert reply["kind"] == "reply" and registry["demo"].calls == [action]
        return
    allowed = ", ".join(a for a in ACTIONS if a in ALLOWED_ACTIONS[state])
    assert reply == {"id": 5, "kind": "error", "version": PROTOCOL_VERSION,
                     "code": "command_failed",
                     "message": f"cannot {action} pipeline 'demo': it is {state.value}, "
                                f"which allows {allowed}",
                     "pipeline": "demo", "action": action, "state": state.value}
    assert registry["demo"].calls == []


def test_a_pipeline_in_an_unknown_state_runs_no_command(handler, registry):
    registry["demo"].state = "confused"
    reply = handler.handle(request("command", pipeline="demo", action="reset"))
    assert reply["code"] == "command_failed" and reply["state"] == "confused"
    assert "'confused' is not a pipeline state" in reply["message"]
    assert registry["demo"].calls == []


@pytest.mark.parametrize("action", ["rewind", "snapshot", "__init__", "__class__", "_act",
                                    "exec", "eval", "PAUSE", " pause", "", None, 1, ["pause"]])
def test_undeclared_actions_are_refused_and_nothing_runs(handler, registry, action):
    reply = handler.handle(request("command", pipeline="demo", action=action))
    assert reply["kind"] == "error" and reply["code"] == "unknown_action"
    assert registry["demo"].calls == []


def test_commands_on_missing_pipelines_are_refused(handler, registry):
    for name in ["nope", "", None, 3, {"name": "demo"}, "demo\x00"]:
        reply = handler.handle(request("command", pipeline=name, action="stop"))
        assert reply["kind"] == "error"
        assert reply["code"] in ("unknown_pipeline", "bad_request")
    assert all(p.calls == [] for p in registry.values())


def test_a_failing_command_is_an_error_reply_with_the_state(handler, registry):
    registry["demo"].fail_with = RuntimeError("pipeline 'demo' cannot pause now")
    reply = handler.handle(request("command", pipeline="demo", action="pause"))
    assert reply["code"] == "command_failed"
    assert "RuntimeError: pipeline 'demo' cannot pause now" in reply["message"]
    assert reply["state"] == "running"


def test_a_failing_snapshot_becomes_an_entry_with_an_error(handler, registry):
    def broken():
        raise ValueError("boom")

    registry["demo"].snapshot = broken
    snaps = handler.all_snapshots()
    assert snaps[0] == {"name": "demo", "state": "running",
                        "error": "snapshot failed: ValueError: boom"}
    assert snaps[1]["name"] == EVIL


def test_a_failing_registry_is_an_internal_error():
    def registry():
        raise RuntimeError("registry exploded")

    reply = RequestHandler(registry=registry).handle(request("list", id=4))
    assert reply["id"] == 4 and reply["code"] == "internal"
    assert "registry exploded" in reply["message"]


def test_a_version_mismatch_names_both_versions(handler):
    reply = handler.handle({"id": 1, "kind": "hello", "version": PROTOCOL_VERSION + 1})
    assert reply["code"] == "version_mismatch" and reply["expected"] == PROTOCOL_VERSION
    assert str(PROTOCOL_VERSION + 1) in reply["message"]


@pytest.mark.parametrize("message", [None, "import os", 42, [], ["hello"],
                                     {"kind": "hello", "version": PROTOCOL_VERSION},
                                     {"id": True, "kind": "hello", "version": PROTOCOL_VERSION},
                                     {"id": "x" * 65, "kind": "hello", "version": PROTOCOL_VERSION},
                                     {"id": 2**60, "kind": "hello", "version": PROTOCOL_VERSION}])
def test_requests_without_a_usable_id_get_an_error_with_a_null_id(handler, message):
    reply = handler.handle(message)
    assert reply["kind"] == "error" and reply["id"] is None and reply["code"] == "bad_request"


def test_unknown_kinds_get_an_error(handler):
    for kind in ["exec", "execute_request", "HELLO", "", None, 5, "__init__"]:
        reply = handler.handle({"id": 9, "kind": kind, "version": PROTOCOL_VERSION})
        assert (reply["id"], reply["kind"], reply["code"]) == (9, "error", "unknown_kind")


def test_subscribe_needs_a_boolean(handler):
    for visible in [None, 1, "true", []]:
        assert handler.handle(request("subscribe", visible=visible))["code"] == "bad_request"
    assert handler.handle(request("subscribe", visible=True))["subscribed"] is True


def test_to_jsonable_cleans_numpy_pandas_and_non_finite_numbers():
    import numpy as np
    import pandas as pd
    value = {"i": np.int64(3), "f": np.float32(1.5), "nan": np.float64("nan"),
             "arr": np.array([1.0, np.inf]), "ts": pd.Timestamp("2024-01-01", tz="UTC"),
             "td": pd.Timedelta("250ms"), ("a", 1): {1, 2}, "obj": object}
    out = strict_json(to_jsonable(value))
    assert out["i"] == 3 and out["f"] == 1.5 and out["nan"] is None
    assert out["arr"] == [1.0, None]
    assert out["ts"].startswith("2024-01-01T00:00:00")
    assert out["td"] == 250.0
    assert out["('a', 1)"] == [1, 2]
    assert out["obj"] == "<class 'object'>"


# --------------------------------------------------------------- hypothesis: bad messages

json_scalars = (st.none() | st.booleans() | st.integers() | st.text(max_size=20)
                | st.floats(allow_nan=True, allow_infinity=True))
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
names = st.sampled_from(["demo", EVIL, "nope", "", "__class__"]) | st.text(max_size=12)
actions = st.sampled_from([*COMMAND_ACTIONS, "rewind", "snapshot", "__init__", "eval"]) | json_values
kinds = st.sampled_from([*REQUEST_KINDS, "exec", "execute_request"]) | json_values
ids = st.integers() | st.text(max_size=70) | json_values
versions = st.sampled_from([PROTOCOL_VERSION, PROTOCOL_VERSION + 1, str(PROTOCOL_VERSION),
                            float(PROTOCOL_VERSION), True]) | json_values

near_requests = st.fixed_dictionaries(
    {},
    optional={"id": ids, "kind": kinds, "version": versions, "pipeline": names | json_values,
              "action": actions, "visible": st.booleans() | json_values},
)


def _valid_command(message: Any, pipelines: dict[str, FakePipeline]) -> bool:
    if not isinstance(message, dict):
        return False
    mid = message.get("id")
    good_id = (isinstance(mid, int) and not isinstance(mid, bool) and abs(mid) <= 2**53 - 1) or (
        isinstance(mid, str) and 0 < len(mid) <= 64)
    version = message.get("version")
    return (good_id and message.get("kind") == "command"
            and type(version) is int and version == PROTOCOL_VERSION
            and isinstance(message.get("action"), str) and message["action"] in COMMAND_ACTIONS
            and isinstance(message.get("pipeline"), str) and message["pipeline"] in pipelines
            and PipelineState(pipelines[message["pipeline"]].state).allows(message["action"]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=near_requests | json_values)
def test_the_handler_never_raises_and_always_answers(message):
    pipelines = {"demo": FakePipeline("demo"), EVIL: FakePipeline(EVIL)}
    handler = RequestHandler(registry=lambda: pipelines)
    valid = _valid_command(message, pipelines)  # before: a command changes the pipeline's state

    reply = handler.handle(message)

    assert isinstance(reply, dict)
    strict_json(reply)
    assert reply["kind"] in ("reply", "error")
    if reply["kind"] == "error":
        assert reply["code"] in ERROR_CODES
        assert isinstance(reply["message"], str) and len(reply["message"]) <= 500
    else:
        assert isinstance(message, dict) and reply["id"] == message["id"]
    called = [(name, p.calls) for name, p in pipelines.items() if p.calls]
    if valid:
        assert called == [(message["pipeline"], [message["action"]])]
        assert reply["kind"] == "reply"
    else:
        assert called == []


# ------------------------------------------------------------------- session and pushes


def test_session_answers_on_the_comm(registry):
    comm = FakeComm()
    PanelSession(comm, RequestHandler(registry=lambda: registry))
    comm.deliver(request("list", id="a"))
    comm.deliver("garbage")
    assert [m["kind"] for m in comm.sent] == ["reply", "error"]
    assert comm.sent[0]["id"] == "a" and comm.sent[1]["id"] is None


def test_pushes_at_most_four_a_second_while_visible_and_stop_when_hidden(registry):
    comm = FakeComm()

    async def scenario() -> tuple[int, int, float]:
        session = PanelSession(comm, RequestHandler(registry=lambda: registry))
        comm.deliver(request("subscribe", id=1, visible=True))
        started = time.monotonic()
        while len(comm.pushes()) < 4:
            await asyncio.sleep(0.01)
        elapsed = time.monotonic() - started
        comm.deliver(request("subscribe", id=2, visible=False))
        seen = len(comm.pushes())
        await asyncio.sleep(0.6)
        assert session._task is None
        return seen, len(comm.pushes()), elapsed

    seen, later, elapsed = asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    assert elapsed >= 3 * MIN_PUSH_INTERVAL_MS / 1000 * 0.9  # 4 pushes take >= 3 intervals
    assert later == seen  # hidden: no more pushes
    pushes = comm.pushes()
    assert [p["seq"] for p in pushes] == list(range(1, len(pushes) + 1))
    assert pushes[-1]["pipelines"][0]["counters"]["in"] > pushes[0]["pipelines"][0]["counters"]["in"]
    assert {p["name"] for p in pushes[0]["pipelines"]} == {"demo", EVIL}


def test_unchanged_snapshots_are_not_pushed_again(registry):
    registry["demo"].state = "paused"  # FakePipeline counts only while running
    comm = FakeComm()
    session = PanelSession(comm, RequestHandler(registry=lambda: registry))
    assert session.push_now() is True
    assert session.push_now() is False
    registry["demo"].state = "running"
    assert session.push_now() is True


def test_closing_the_comm_stops_the_pushes(registry):
    comm = FakeComm()

    async def scenario() -> PanelSession:
        session = PanelSession(comm, RequestHandler(registry=lambda: registry))
        comm.deliver(request("subscribe", visible=True))
        while not comm.pushes():
            await asyncio.sleep(0.01)
        comm.close_callback({"content": {"comm_id": "c", "data": {}}})
        await asyncio.sleep(0)
        return session

    session = asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    assert session.closed and not session.subscribed and session._task is None
    assert session.push_now() is False


def test_messages_from_another_thread_are_handled_on_the_loop(registry):
    """A front end may route comms over a kernel subshell (another thread)."""
    comm = FakeComm()

    async def scenario() -> int:
        PanelSession(comm, RequestHandler(registry=lambda: registry))
        loop_thread = threading.get_ident()
        worker = threading.Thread(
            target=comm.deliver,
            args=(request("command", pipeline="demo", action="pause"),))
        worker.start()
        while not comm.sent:
            await asyncio.sleep(0.01)
        worker.join()
        return loop_thread

    loop_thread = asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    assert comm.sent[0]["state"] == "paused"
    assert comm.threads == [loop_thread]


# ------------------------------------------------------------------------ comm target


class FakeCommManager:
    def __init__(self) -> None:
        self.targets: dict[str, Any] = {}

    def register_target(self, name, callback) -> None:
        self.targets[name] = callback

    def unregister_target(self, name, callback) -> Any:
        return self.targets.pop(name)


class FakeShell:
    def __init__(self) -> None:
        self.kernel = type("Kernel", (), {})()
        self.kernel.comm_manager = FakeCommManager()


def test_register_comm_target_opens_a_session_per_comm(registry):
    shell = FakeShell()
    assert register_comm_target(shell, registry=lambda: registry) is True
    opener = shell.kernel.comm_manager.targets[COMM_TARGET]
    comm = FakeComm()
    opener(comm, {"content": {"data": {"version": PROTOCOL_VERSION}}})
    comm.deliver(request("hello"))
    assert comm.sent[0]["request"] == "hello"
    unregister_comm_target(shell)
    assert COMM_TARGET not in shell.kernel.comm_manager.targets


def test_register_comm_target_without_a_kernel_does_nothing():
    assert register_comm_target(object()) is False


# --------------------------------------------------------------- through a real kernel


class KernelPanel:
    """Talks the panel protocol to a real ipykernel, as the front end does."""

    def __init__(self, client) -> None:
        self.client = client
        self.comm_id = uuid.uuid4().hex
        self.next_id = 0
        self.pushes: list[dict[str, Any]] = []
        self.closed = False

    def execute(self, code: str, timeout: float = 60) -> None:
        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=lambda m: None)
        assert reply["content"]["status"] == "ok", reply["content"]

    def _send(self, msg_type: str, content: dict[str, Any]) -> None:
        msg = self.client.session.msg(msg_type, content)
        self.client.shell_channel.send(msg)

    def open(self) -> None:
        self._send("comm_open", {"comm_id": self.comm_id, "target_name": COMM_TARGET,
                                 "data": {"version": PROTOCOL_VERSION}})

    def _next(self, deadline: float) -> dict[str, Any] | None:
        """The next message on our comm (None at the deadline)."""
        while time.monotonic() < deadline:
            try:
                msg = self.client.get_iopub_msg(timeout=max(0.05, deadline - time.monotonic()))
            except Exception:
                continue
            content = msg["content"]
            if content.get("comm_id") != self.comm_id:
                continue
            if msg["msg_type"] == "comm_close":
                self.closed = True
                return {"kind": "closed"}
            if msg["msg_type"] == "comm_msg":
                data = content["data"]
                if data.get("kind") == "snapshots":
                    self.pushes.append(data)
                return data
        return None

    def request(self, kind: str, timeout: float = 30, **fields: Any) -> dict[str, Any]:
        self.next_id += 1
        self._send("comm_msg", {"comm_id": self.comm_id,
                                "data": request(kind, id=self.next_id, **fields)})
        deadline = time.monotonic() + timeout
        while (data := self._next(deadline)) is not None:
            if data.get("id") == self.next_id or data.get("kind") == "closed":
                return data
        raise AssertionError(f"no reply to {kind!r} within {timeout} s")

    def wait_for_push(self, predicate, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (data := self._next(deadline)) is not None:
            if data.get("kind") == "snapshots" and predicate(data):
                return data
        raise AssertionError(f"no matching push within {timeout} s")


@pytest.fixture
def kernel_panel():
    import ipykernel  # noqa: F401 - the kernel must be installed
    import jupyter_client.manager as manager_module
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    km = manager_module.KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable  # this environment's Python, whatever the spec says
    km.start_kernel(env=env, cwd=str(ROOT))
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield KernelPanel(client)
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_real_kernel_serves_the_panel_after_load_ext(kernel_panel):
    panel = kernel_panel
    # Before %load_ext the kernel has no target: it closes the comm at once.
    panel.open()
    assert panel.request("hello", timeout=15) == {"kind": "closed"}

    panel.execute("%load_ext streamlab")
    panel.execute(
        "import streamlab as sl\n"
        f"evil = {EVIL!r}\n"
        "res = (sl.demo.sensors(rate=200, keys=3, speed=1)"
        ".assign(sensor=lambda df: evil + df.sensor)"
        ".watermark('500ms').window(sl.Tumble('1s'), by='sensor').agg(avg=('temp', 'mean')))\n"
        "res.start(name='panel-test')\n"
    )
    panel.comm_id = uuid.uuid4().hex
    panel.closed = False
    panel.open()
    hello = panel.request("hello")
    assert hello["kind"] == "reply", hello
    assert {"name": "panel-test", "state": "running"} in hello["pipelines"]

    assert panel.request("subscribe", visible=True)["subscribed"] is True
    first = panel.wait_for_push(lambda p: any(s["name"] == "panel-test" for s in p["pipelines"]))

    def counter(push: dict[str, Any]) -> int:
        return next(s for s in push["pipelines"] if s["name"] == "panel-test")["counters"]["in"]

    later = panel.wait_for_push(lambda p: counter(p) > counter(first))
    snap = next(s for s in later["pipelines"] if s["name"] == "panel-test")
    assert any(w["key_text"].startswith(EVIL)
               for op in snap["operators"] if op["kind"] == "window"
               for w in (op.get("state") or {}).get("open_windows", []))

    paused = panel.request("command", pipeline="panel-test", action="pause")
    assert paused["kind"] == "reply" and paused["state"] == "paused", paused
    refused = panel.request("command", pipeline="panel-test", action="start")
    assert refused["code"] == "command_failed" and refused["state"] == "paused", refused
    assert "allows resume, step, stop, reset" in refused["message"]
    refused = panel.request("command", pipeline="panel-test", action="__init__")
    assert refused["code"] == "unknown_action"
    refused = panel.request("command", pipeline="no-such", action="stop")
    assert refused["code"] == "unknown_pipeline"
    nonsense = panel.request("exec", code="import os; os._exit(1)")
    assert nonsense["code"] == "unknown_kind"

    stopped = panel.request("command", pipeline="panel-test", action="stop")
    assert stopped["state"] == "stopped"
    reset = panel.request("command", pipeline="panel-test", action="reset")
    assert reset["kind"] == "reply" and reset["state"] == "idle", reset
    assert panel.request("subscribe", visible=False)["subscribed"] is False
    seqs = [p["seq"] for p in panel.pushes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    panel.execute("assert res.pipeline.state == 'idle'")


def test_pushes_carry_strict_json_from_a_real_snapshot():
    """A real engine snapshot (NaN partials and all) goes through to_jsonable as strict JSON."""
    import pandas as pd

    import streamlab as sl

    df = pd.DataFrame({"ts": [0, 100, 1500, 2600], "sensor": [EVIL, "b", EVIL, "b"],
                       "temp": [1.0, float("nan"), 3.0, 4.0]})
    res = (sl.from_frame(df, time="ts", unit="ms").watermark(0)
           .window(sl.Tumble(1000), by="sensor").agg(avg=("temp", "mean")))
    res.pipeline.rename("strict-json-test")
    res.pipeline.step()
    handler = RequestHandler()
    snap = strict_json(handler.handle(request("snapshot", pipeline="strict-json-test")))
    assert snap["kind"] == "reply", snap
    assert snap["snapshot"]["name"] == "strict-json-test"
    assert not any(isinstance(v, float) and math.isnan(v) for v in _leaves(snap))


def _leaves(value: Any):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value
