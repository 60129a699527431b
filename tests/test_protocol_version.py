"""The side panel's TypeScript protocol and the kernel's Python mirror must agree.

``labextension/src/protocol.ts`` and ``streamlab/comm/protocol.py`` each carry
``PROTOCOL_VERSION`` and the lists of kinds, actions and error codes; a change to one
without the other fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streamlab.comm import handler, protocol

PROTOCOL_TS = Path(__file__).resolve().parents[1] / "labextension" / "src" / "protocol.ts"
CONSTANT_LISTS = [
    "REQUEST_KINDS",
    "RESPONSE_KINDS",
    "PUSH_KINDS",
    "COMMAND_ACTIONS",
    "ERROR_CODES",
    "PIPELINE_STATES",
]


@pytest.fixture(scope="module")
def ts_source() -> str:
    return PROTOCOL_TS.read_text(encoding="utf-8")


def ts_constant(source: str, name: str) -> str:
    found = re.search(rf"export const {name}\s*=\s*(.+?);", source, re.S)
    assert found, f"protocol.ts has no `export const {name} = ...;`"
    return found.group(1).strip()


def ts_string_list(source: str, name: str) -> tuple[str, ...]:
    value = ts_constant(source, name)
    assert value.startswith("[") and value.endswith("] as const"), value
    return tuple(re.findall(r"'([^']*)'", value))


def test_protocol_versions_agree(ts_source):
    assert int(ts_constant(ts_source, "PROTOCOL_VERSION")) == protocol.PROTOCOL_VERSION


def test_comm_target_agrees(ts_source):
    assert ts_constant(ts_source, "COMM_TARGET") == f"'{protocol.COMM_TARGET}'"
    assert protocol.COMM_TARGET == "streamlab"


def test_push_rate_limit_agrees(ts_source):
    assert int(ts_constant(ts_source, "MIN_PUSH_INTERVAL_MS")) == protocol.MIN_PUSH_INTERVAL_MS
    assert protocol.MIN_PUSH_INTERVAL_MS >= 250  # at most about four pushes a second


@pytest.mark.parametrize("name", CONSTANT_LISTS)
def test_message_kinds_agree(ts_source, name):
    assert ts_string_list(ts_source, name) == getattr(protocol, name)


def test_every_request_kind_has_a_typescript_interface(ts_source):
    for kind in protocol.REQUEST_KINDS:
        assert re.search(rf"kind: '{kind}';", ts_source), f"no request interface for {kind!r}"


def test_every_error_code_the_handler_uses_is_declared():
    source = Path(handler.__file__).read_text(encoding="utf-8")
    used = set(re.findall(r'_RequestError\(\s*"(\w+)"', source))
    used |= set(re.findall(r'error_reply\(\s*\w+,\s*"(\w+)"', source))
    assert used, "found no error codes in handler.py"
    assert used <= set(protocol.ERROR_CODES)


def test_the_handler_answers_every_request_kind():
    assert set(handler.RequestHandler()._dispatch) == set(protocol.REQUEST_KINDS)
