"""The kernel side of the side-panel protocol: validate a request, answer it, push snapshots.

:class:`RequestHandler` turns one request (any JSON value) into exactly one response
and never raises: a malformed request, an unknown kind, an undeclared action, an action
the pipeline's state does not allow or a pipeline that does not exist all get an ``error``
response. It looks pipelines up by name in a registry and calls only the methods in
:data:`~streamlab.comm.protocol.COMMAND_ACTIONS`, and only those
:data:`~streamlab.core.state.ALLOWED_ACTIONS` allows in the pipeline's state (the table the
view and the side panel enable their buttons from); it never evaluates anything.

:class:`PanelSession` binds a handler to one open comm and, while the panel is
visible, pushes every pipeline's snapshot at most four times a second from an
asyncio task on the running loop (the kernel's own loop; no thread).

>>> class Demo:
...     name, state = "demo", "running"
...     def pause(self): self.state = "paused"
...     def resume(self): self.state = "running"
...     def snapshot(self): return {"name": self.name, "state": self.state}
>>> handler = RequestHandler(registry=lambda: {"demo": Demo()})
>>> handler.handle({"id": 1, "kind": "list", "version": PROTOCOL_VERSION})["pipelines"]
[{'name': 'demo', 'state': 'running'}]
>>> handler.handle({"id": 2, "kind": "command", "version": PROTOCOL_VERSION,
...                 "pipeline": "demo", "action": "__init__"})["code"]
'unknown_action'
>>> handler.handle({"id": 3, "kind": "command", "version": PROTOCOL_VERSION,
...                 "pipeline": "demo", "action": "resume"})["message"]
"cannot resume pipeline 'demo': it is running, which allows pause, stop, reset"
>>> handler.handle("import os")["code"]
'bad_request'
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import inspect
import json
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from ..core.snapshot import preview
from ..core.state import ACTIONS, PipelineState
from ..runtime import pipelines
from .protocol import (
    COMMAND_ACTIONS,
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    MIN_PUSH_INTERVAL_MS,
    PROTOCOL_VERSION,
    REQUEST_KINDS,
    error_reply,
    reply,
    snapshots_push,
)

__all__ = ["PanelSession", "RequestHandler", "default_registry", "to_jsonable"]

log = logging.getLogger(__name__)

Registry = Callable[[], Mapping[str, Any]]

_MAX_SAFE_INTEGER = 2**53 - 1
_MAX_DEPTH = 32
_MAX_MESSAGE_CHARS = 500
#: Longest text in a reply or push: a long cell value (a 2 MB field) is cut to a preview.
MAX_TEXT_CHARS = 1000


def default_registry() -> Mapping[str, Any]:
    """The engine's named pipelines (``streamlab.pipelines()``), then the runs on Flink
    (``streamlab.flink.runs()``, listed as ``NAME@flink``)."""
    from ..flink.run import runs

    return {**pipelines(), **runs()}


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` that strict JSON can carry.

    NaN and infinities become ``None``, numpy scalars and arrays become Python numbers
    and lists, timestamps become ISO strings, and anything else unknown its ``str``.

    >>> to_jsonable({"a": float("nan"), "b": (1, 2), 3: {1.5}})
    {'a': None, 'b': [1, 2], '3': [1.5]}
    """
    if _depth > _MAX_DEPTH:
        return None
    if isinstance(value, str):
        return preview(value, MAX_TEXT_CHARS)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v, _depth + 1) for v in value]
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds() * 1000.0
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist) and type(value).__module__.startswith("numpy"):
        try:
            return to_jsonable(tolist(), _depth + 1)
        except Exception:
            pass
    isoformat = getattr(value, "isoformat", None)  # pandas Timestamp
    if callable(isoformat):
        try:
            return str(isoformat())
        except Exception:
            pass
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE_CHARS else text[: _MAX_MESSAGE_CHARS - 1] + "…"


def _describe(value: Any) -> str:
    """A short, safe description of a value that came from the front end."""
    try:
        return _short(repr(value))
    except Exception:
        return f"<{type(value).__name__}>"


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH


class _RequestError(Exception):
    def __init__(self, code: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields


class RequestHandler:
    """Answers side-panel requests against a registry of named pipelines.

    ``registry`` is a function returning a mapping of name to pipeline; by default the
    engine's :func:`streamlab.pipelines`. Tests pass a fake.
    """

    def __init__(
        self,
        registry: Registry | None = None,
        push_interval_ms: int = MIN_PUSH_INTERVAL_MS,
    ) -> None:
        self._registry = registry or default_registry
        self.push_interval_ms = max(int(push_interval_ms), MIN_PUSH_INTERVAL_MS)
        self._dispatch: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "hello": self._hello,
            "list": self._list,
            "snapshot": self._snapshot,
            "subscribe": self._subscribe,
            "command": self._command,
        }
        assert set(self._dispatch) == set(REQUEST_KINDS)
        #: Called with the requested visibility after a valid ``subscribe``.
        self.on_subscribe: Callable[[bool], None] | None = None

    # -- the one entry point --------------------------------------------------------------

    def handle(self, message: Any) -> dict[str, Any]:
        """Exactly one response to ``message``; never raises."""
        request_id: Any = None
        kind: object = "?"  # the request's "kind" as sent (any JSON value) until it is checked
        try:
            if not isinstance(message, dict):
                raise _RequestError(
                    "bad_request", f"a request is a JSON object, not {type(message).__name__}"
                )
            raw_id = message.get("id")
            if not _valid_id(raw_id):
                raise _RequestError(
                    "bad_request",
                    f"a request needs an 'id': a string of 1-{MAX_ID_LENGTH} characters "
                    f"or an integer, not {_describe(raw_id)}",
                )
            request_id = raw_id
            kind = message.get("kind")
            if not isinstance(kind, str) or kind not in self._dispatch:
                raise _RequestError(
                    "unknown_kind",
                    f"unknown request kind {_describe(kind)}; expected one of "
                    + ", ".join(REQUEST_KINDS),
                )
            version = message.get("version")
            if type(version) is not int or version != PROTOCOL_VERSION:  # 1.0 and True are not 1
                raise _RequestError(
                    "version_mismatch",
                    f"the panel speaks protocol version {_describe(version)}, this kernel's "
                    f"streamlab speaks {PROTOCOL_VERSION}: install matching versions",
                    expected=PROTOCOL_VERSION,
                )
            response = self._dispatch[kind](message)
            return to_jsonable(response)
        except _RequestError as exc:
            return error_reply(request_id, exc.code, _short(exc.message), **exc.fields)
        except Exception as exc:  # a bug or a failing pipeline: never into the kernel
            log.debug("streamlab panel request failed", exc_info=True)
            return error_reply(
                request_id,
                "internal",
                _short(f"{kind!s} failed: {type(exc).__name__}: {exc}"),
            )

    # -- helpers --------------------------------------------------------------------------

    def pipelines(self) -> dict[str, Any]:
        """The registry as a plain dict, keeping only string names."""
        found = self._registry()
        return {name: p for name, p in dict(found).items() if isinstance(name, str)}

    def _pipeline(self, message: dict[str, Any]) -> tuple[str, Any]:
        name = message.get("pipeline")
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_LENGTH:
            raise _RequestError(
                "bad_request", f"'pipeline' must be a pipeline's name, not {_describe(name)}"
            )
        pipelines = self.pipelines()
        if name not in pipelines:
            raise _RequestError(
                "unknown_pipeline", f"no pipeline named {_describe(name)} in this kernel"
            )
        return name, pipelines[name]

    @staticmethod
    def _state(pipeline: Any) -> str:
        try:
            return str(pipeline.state)
        except Exception:
            return "unknown"

    def snapshot_of(self, name: str, pipeline: Any) -> dict[str, Any]:
        """One pipeline's snapshot, made JSON-safe; a failing snapshot becomes an error entry."""
        try:
            snap = pipeline.snapshot()
            if not isinstance(snap, Mapping):
                raise TypeError(f"snapshot() returned {type(snap).__name__}, not a dict")
            result = to_jsonable(snap)
            result["name"] = name
            result.setdefault("state", self._state(pipeline))
            return result
        except Exception as exc:
            return {
                "name": name,
                "state": self._state(pipeline),
                "error": _short(f"snapshot failed: {type(exc).__name__}: {exc}"),
            }

    def all_snapshots(self) -> list[dict[str, Any]]:
        """Every registered pipeline's snapshot, in registry order."""
        return [self.snapshot_of(name, p) for name, p in self.pipelines().items()]

    def _summaries(self) -> list[dict[str, Any]]:
        return [{"name": name, "state": self._state(p)} for name, p in self.pipelines().items()]

    # -- one method per request kind ------------------------------------------------------

    def _hello(self, message: dict[str, Any]) -> dict[str, Any]:
        try:
            from importlib.metadata import version

            streamlab_version = version("streamlab")
        except Exception:
            streamlab_version = None
        return reply(
            message["id"],
            "hello",
            protocol_version=PROTOCOL_VERSION,
            streamlab_version=streamlab_version,
            actions=list(COMMAND_ACTIONS),
            push_interval_ms=self.push_interval_ms,
            pipelines=self._summaries(),
        )

    def _list(self, message: dict[str, Any]) -> dict[str, Any]:
        return reply(message["id"], "list", pipelines=self._summaries())

    def _snapshot(self, message: dict[str, Any]) -> dict[str, Any]:
        name, pipeline = self._pipeline(message)
        return reply(message["id"], "snapshot", snapshot=self.snapshot_of(name, pipeline))

    def _subscribe(self, message: dict[str, Any]) -> dict[str, Any]:
        visible = message.get("visible")
        if not isinstance(visible, bool):
            raise _RequestError(
                "bad_request", f"'visible' must be true or false, not {_describe(visible)}"
            )
        if self.on_subscribe is not None:
            self.on_subscribe(visible)
        return reply(
            message["id"], "subscribe", subscribed=visible, push_interval_ms=self.push_interval_ms
        )

    def _command(self, message: dict[str, Any]) -> dict[str, Any]:
        action = message.get("action")
        if not isinstance(action, str) or action not in COMMAND_ACTIONS:
            raise _RequestError(
                "unknown_action",
                f"unknown action {_describe(action)}; expected one of "
                + ", ".join(COMMAND_ACTIONS),
            )
        name, pipeline = self._pipeline(message)
        method = getattr(type(pipeline), action, None)
        if method is None or not callable(method):
            raise _RequestError(
                "unknown_action", f"pipeline {name!r} does not support {action!r}"
            )
        self._check_allowed(name, pipeline, action)
        only = getattr(type(pipeline), "panel_actions", None)  # a job on Flink takes only stop
        if only is not None and action not in only:
            raise _RequestError(
                "command_failed",
                f"cannot {action} {name!r}: it runs on Flink, which allows {', '.join(only)}",
                pipeline=name,
                action=action,
                state=self._state(pipeline),
            )
        try:
            result = getattr(pipeline, action)()
            if inspect.isawaitable(result):
                _schedule(result)
        except Exception as exc:
            raise _RequestError(
                "command_failed",
                _short(f"{action} {name!r} failed: {type(exc).__name__}: {exc}"),
                pipeline=name,
                action=action,
                state=self._state(pipeline),
            ) from None
        return reply(
            message["id"],
            "command",
            pipeline=name,
            action=action,
            state=self._state(pipeline),
            snapshot=self.snapshot_of(name, pipeline),
        )

    def _check_allowed(self, name: str, pipeline: Any, action: str) -> None:
        """Refuse ``action`` unless the pipeline's state allows it (``command_failed``)."""
        raw = self._state(pipeline)
        try:
            state: PipelineState | None = PipelineState(raw)
        except ValueError:
            state = None
        if state is not None and state.allows(action):
            return
        if state is None:
            why = f"its state {raw!r} is not a pipeline state ({', '.join(PipelineState)})"
        else:
            allowed = [a for a in ACTIONS if state.allows(a)]
            why = f"it is {state}, which allows {', '.join(allowed) or 'nothing'}"
        raise _RequestError(
            "command_failed",
            f"cannot {action} pipeline {name!r}: {why}",
            pipeline=name,
            action=action,
            state=raw,
        )


def _schedule(awaitable: Any) -> None:
    """Run an awaitable a command returned on the running loop (or close it)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        close = getattr(awaitable, "close", None)
        if callable(close):
            close()
        raise RuntimeError("no running event loop to run the command on") from None
    asyncio.ensure_future(awaitable)


class PanelSession:
    """One open comm: answers its requests and pushes snapshots while it is subscribed.

    ``comm`` needs ``send(data)``, ``on_msg(callback)`` and ``on_close(callback)``
    (a :class:`comm.base_comm.BaseComm`, or a fake in tests).
    """

    def __init__(
        self,
        comm: Any,
        handler: RequestHandler | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.comm = comm
        self.handler = handler or RequestHandler()
        self.handler.on_subscribe = self._set_subscribed
        self.subscribed = False
        self.closed = False
        self.seq = 0
        self._last_payload: str | None = None
        self._task: asyncio.Task[None] | None = None
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        #: The kernel's loop: requests, commands and pushes all run on it.
        self.loop = loop
        comm.on_msg(self._on_msg)
        comm.on_close(self._on_close)

    # -- comm callbacks -------------------------------------------------------------------

    def _on_msg(self, msg: Any) -> None:
        try:
            data = msg["content"]["data"]
        except Exception:
            data = None
        self._on_loop(self.receive, data)

    def _on_close(self, msg: Any = None) -> None:
        self._on_loop(self.close)

    def _on_loop(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback`` on the kernel's loop thread.

        A front end may route comm messages over a kernel subshell, which runs on another
        thread; pipelines must only be touched from the loop that runs them.
        """
        loop = self.loop
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if loop is not None and current is not loop and loop.is_running():
            loop.call_soon_threadsafe(callback, *args)
        else:
            callback(*args)

    # -- API ------------------------------------------------------------------------------

    def receive(self, data: Any) -> dict[str, Any]:
        """Answer one request on the comm; returns the response sent."""
        response = self.handler.handle(data)
        self._send(response)
        return response

    def close(self) -> None:
        """Stop pushing; the comm is gone."""
        self.closed = True
        self._set_subscribed(False)

    def push_now(self) -> bool:
        """Send one push if anything changed since the last one; True if one was sent."""
        try:
            push = snapshots_push(self.seq + 1, self.handler.all_snapshots())
            payload = json.dumps(push["pipelines"], sort_keys=True, default=str)
        except Exception:
            log.debug("streamlab panel push failed", exc_info=True)
            return False
        if payload == self._last_payload:
            return False
        self.seq += 1
        self._last_payload = payload
        return self._send(push)

    # -- internals ------------------------------------------------------------------------

    def _send(self, data: dict[str, Any]) -> bool:
        if self.closed:
            return False
        try:
            self.comm.send(data)
            return True
        except Exception:
            log.debug("streamlab panel send failed", exc_info=True)
            self.close()
            return False

    def _set_subscribed(self, visible: bool) -> None:
        self.subscribed = visible and not self.closed
        if self.subscribed:
            self._last_payload = None  # the panel was hidden: send the next push whatever it is
            if self._task is None or self._task.done():
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    log.debug("no running loop: the streamlab panel gets no pushes")
                    return
                self._task = loop.create_task(self._push_loop())
        elif self._task is not None:
            self._task.cancel()
            self._task = None

    async def _push_loop(self) -> None:
        interval = self.handler.push_interval_ms / 1000.0
        while self.subscribed and not self.closed:
            self.push_now()
            await asyncio.sleep(interval)
