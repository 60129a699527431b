"""The side panel's TypeScript protocol and the kernel's Python mirror must agree.

``labextension/src/protocol.ts`` and ``streamlab/comm/protocol.py`` each carry
``PROTOCOL_VERSION`` and the lists of kinds and error codes; a change to one without the
other fails here. The pipeline states, the actions, the actions each state allows and the
snapshot's shape are declared once in ``streamlab/core`` and generated into
``labextension/src/generated.ts`` (``python -m streamlab.comm.tsgen``): a stale file fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypedDict

import pytest

from streamlab.comm import handler, protocol, tsgen
from streamlab.core import state as core_state
from streamlab.core.snapshot import DECLARED
from streamlab.core.state import PipelineState

SRC = Path(__file__).resolve().parents[1] / "labextension" / "src"
PROTOCOL_TS = SRC / "protocol.ts"
GENERATED_TS = SRC / "generated.ts"
CONSTANT_LISTS = [
    "REQUEST_KINDS",
    "RESPONSE_KINDS",
    "PUSH_KINDS",
    "ERROR_CODES",
]


@pytest.fixture(scope="module")
def ts_source() -> str:
    return PROTOCOL_TS.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def generated_source() -> str:
    # without its // comments, which may hold any text
    return re.sub(r"//[^\n]*", "", GENERATED_TS.read_text(encoding="utf-8"))


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


def ts_record(source: str, name: str) -> dict[str, set[str]]:
    """``export const name: Record<...> = { key: [...], ... };`` as a dict of sets."""
    found = re.search(rf"export const {name}:[^=]*=\s*\{{(.*?)\}};", source, re.S)
    assert found, f"generated.ts has no `export const {name}: ... = {{...}};`"
    entries = re.findall(r"(\w+):\s*\[([^\]]*)\]", found.group(1))
    assert entries, found.group(0)
    return {key: set(re.findall(r"'([^']*)'", items)) for key, items in entries}


def test_generated_ts_is_current():
    """The committed generated.ts is what the generator makes from the declarations now."""
    committed = GENERATED_TS.read_text(encoding="utf-8")
    wanted = tsgen.generate()
    assert committed.splitlines()[0] == tsgen.HEADER
    if committed != wanted:
        pytest.fail(f"{GENERATED_TS} is stale: run python -m streamlab.comm.tsgen\n"
                    + tsgen.check(GENERATED_TS))


def test_generated_states_and_actions_agree(generated_source):
    states = tuple(s.value for s in PipelineState)
    assert ts_string_list(generated_source, "PIPELINE_STATES") == states == protocol.PIPELINE_STATES
    assert ts_string_list(generated_source, "ACTIONS") == core_state.ACTIONS
    assert protocol.COMMAND_ACTIONS == core_state.ACTIONS and "reset" in protocol.COMMAND_ACTIONS


def test_typescript_allowed_actions_equal_python(generated_source):
    """The table the panel enables its buttons from is the one the kernel checks."""
    python = {s.value: set(core_state.ALLOWED_ACTIONS[s]) for s in PipelineState}
    assert ts_record(generated_source, "ALLOWED_ACTIONS") == python
    for state in PipelineState:  # allows() reads the same table
        assert {a for a in core_state.ACTIONS if state.allows(a)} == python[state.value]


def test_typescript_transitions_equal_python(generated_source):
    python = {s.value: {t.value for t in core_state.TRANSITIONS[s]} for s in PipelineState}
    assert ts_record(generated_source, "TRANSITIONS") == python


def test_every_declared_snapshot_type_has_an_interface_with_its_fields(generated_source):
    for name, declared in DECLARED.items():
        found = re.search(rf"export interface {name} \{{(.*?)\n\}}", generated_source, re.S)
        assert found, f"generated.ts has no interface {name}"
        fields = dict(re.findall(r"^\s+'?([\w-]+)'?(\??):", found.group(1), re.M))
        assert list(fields) == list(declared.__annotations__), name
        assert {f for f, mark in fields.items() if mark} == set(declared.__optional_keys__), name


def test_protocol_ts_takes_states_actions_and_snapshots_from_generated(ts_source):
    assert re.search(r"from '\./generated';", ts_source)
    assert ts_constant(ts_source, "COMMAND_ACTIONS") == "ACTIONS"
    assert "export const PIPELINE_STATES" not in ts_source  # no hand-written copy
    assert not re.search(r"export interface I(PipelineSnapshot|OperatorSnapshot|OpenWindow|"
                         r"Counters)\b", ts_source)
    components = (SRC / "components.tsx").read_text(encoding="utf-8")
    assert "ALLOWED_ACTIONS[state]" in components and "switch (state)" not in components


@pytest.mark.parametrize(("annotation", "expected"), [
    (int, "number"),
    (float, "number"),
    (str, "string"),
    (bool, "boolean"),
    (int | None, "number | null"),
    (float | int | None, "number | null"),
    (list[str], "string[]"),
    (list[int | None], "(number | null)[]"),
    (dict[str, int], "{ [key: string]: number }"),
    (dict[str, Any], "{ [key: string]: unknown }"),
    (list[dict[str, Any]], "{ [key: string]: unknown }[]"),
    (Any, "unknown"),
    (PipelineState, "PipelineState"),
])
def test_the_generator_maps_python_annotations(annotation, expected):
    assert tsgen.ts_type(annotation, {}) == expected


def test_the_generator_names_declared_types_and_refuses_unknown_ones():
    class Thing(TypedDict):
        n: int

    assert tsgen.ts_type(list[Thing], {Thing: "Thing"}) == "Thing[]"
    with pytest.raises(TypeError):
        tsgen.ts_type(dict[int, str], {})
    with pytest.raises(TypeError):
        tsgen.ts_type(Thing, {})  # a TypedDict the TypeScript side does not declare


def test_check_exits_1_with_a_diff_when_stale_and_write_makes_it_current(tmp_path, capsys):
    out = tmp_path / "generated.ts"
    out.write_text(tsgen.generate().replace("'reset'", "'rewind'"), encoding="utf-8")
    assert tsgen.main(["--check", "--output", str(out)]) == 1
    captured = capsys.readouterr()
    assert "'rewind'" in captured.out and "'reset'" in captured.out
    assert "is stale" in captured.err
    assert tsgen.main(["--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == tsgen.generate()
    assert tsgen.main(["--check", "--output", str(out)]) == 0


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
