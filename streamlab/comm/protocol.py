"""Message types of the side-panel protocol (comm target ``streamlab``).

This module mirrors ``labextension/src/protocol.ts``; ``tests/test_protocol_version.py``
checks that the two agree on :data:`PROTOCOL_VERSION` and on every kind and error code.
Change both files together and bump the version on any incompatible change. The pipeline
states and the actions are declared once, in :mod:`streamlab.core.state`; the panel reads
them from ``labextension/src/generated.ts`` (``python -m streamlab.comm.tsgen``).

Every message is a JSON object with a ``kind``.

- Requests (front end → kernel) carry ``id`` (a string or an integer chosen by the
  front end), ``kind`` (one of :data:`REQUEST_KINDS`) and ``version``.
- Responses (kernel → front end) carry the request's ``id`` and ``kind`` ``"reply"``
  or ``"error"``.
- Pushes (kernel → front end) have no ``id``; ``kind`` is one of :data:`PUSH_KINDS`.

>>> hello = {"id": 1, "kind": "hello", "version": PROTOCOL_VERSION}
>>> hello["kind"] in REQUEST_KINDS
True
>>> error_reply(7, "unknown_kind", "no such request kind: 'x'")["kind"]
'error'
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, get_args

from ..core.state import ACTIONS, PipelineState

#: Bumped on any incompatible change of the messages below.
PROTOCOL_VERSION = 1

#: The comm target the kernel registers (``%load_ext streamlab``).
COMM_TARGET = "streamlab"

#: Requests the front end may send.
REQUEST_KINDS: tuple[str, ...] = ("hello", "list", "snapshot", "subscribe", "command")

#: Kinds of a response to a request.
RESPONSE_KINDS: tuple[str, ...] = ("reply", "error")

#: Kinds of a message the kernel sends unasked.
PUSH_KINDS: tuple[str, ...] = ("snapshots",)

#: The only actions a ``command`` request may ask for: the declared user actions.
COMMAND_ACTIONS: tuple[str, ...] = ACTIONS

#: Every ``code`` an error response may carry.
ErrorCode = Literal[
    "bad_request",
    "version_mismatch",
    "unknown_kind",
    "unknown_pipeline",
    "unknown_action",
    "command_failed",
    "internal",
]
ERROR_CODES: tuple[str, ...] = get_args(ErrorCode)

#: Pipeline states, as the engine reports them.
PIPELINE_STATES: tuple[str, ...] = tuple(s.value for s in PipelineState)

#: Shortest time between two pushes: at most four pushes a second.
MIN_PUSH_INTERVAL_MS = 250

#: Limits on what a request may contain.
MAX_ID_LENGTH = 64
MAX_NAME_LENGTH = 256

RequestId = str | int


class HelloRequest(TypedDict):
    id: RequestId
    kind: Literal["hello"]
    version: int


class ListRequest(TypedDict):
    id: RequestId
    kind: Literal["list"]
    version: int


class SnapshotRequest(TypedDict):
    id: RequestId
    kind: Literal["snapshot"]
    version: int
    pipeline: str


class SubscribeRequest(TypedDict):
    id: RequestId
    kind: Literal["subscribe"]
    version: int
    visible: bool


class CommandRequest(TypedDict):
    id: RequestId
    kind: Literal["command"]
    version: int
    pipeline: str
    action: str  # one of COMMAND_ACTIONS


class PipelineSummary(TypedDict):
    name: str
    state: str


class SnapshotsPush(TypedDict):
    kind: Literal["snapshots"]
    version: int
    seq: int
    pipelines: list[dict[str, Any]]


def reply(request_id: RequestId | None, request_kind: str, **fields: Any) -> dict[str, Any]:
    """A successful response to the request ``request_id`` of kind ``request_kind``.

    >>> reply(3, "list", pipelines=[])
    {'id': 3, 'kind': 'reply', 'request': 'list', 'version': 1, 'pipelines': []}
    """
    return {
        "id": request_id,
        "kind": "reply",
        "request": request_kind,
        "version": PROTOCOL_VERSION,
        **fields,
    }


def error_reply(
    request_id: RequestId | None, code: str, message: str, **fields: Any
) -> dict[str, Any]:
    """An error response; ``request_id`` is ``None`` when the request had no usable id.

    >>> error_reply(None, "bad_request", "a request is a JSON object")["code"]
    'bad_request'
    """
    if code not in ERROR_CODES:  # a programming error on the kernel side
        code = "internal"
    return {
        "id": request_id,
        "kind": "error",
        "version": PROTOCOL_VERSION,
        "code": code,
        "message": message,
        **fields,
    }


def snapshots_push(seq: int, pipelines: list[dict[str, Any]]) -> dict[str, Any]:
    """The periodic push with every pipeline's snapshot.

    >>> snapshots_push(1, [])["kind"]
    'snapshots'
    """
    return {"kind": "snapshots", "version": PROTOCOL_VERSION, "seq": seq, "pipelines": pipelines}
