"""Generate the side panel's TypeScript mirror of the declared core: ``labextension/src/generated.ts``.

The pipeline states, the user actions, the actions each state allows and the allowed state
changes come from :mod:`streamlab.core.state`; one TypeScript interface per TypedDict in
:data:`streamlab.core.snapshot.DECLARED` comes from :mod:`streamlab.core.snapshot`. The panel
(``protocol.ts``, ``components.tsx``) reads only the generated file, and
``tests/test_protocol_version.py`` fails when the committed file is stale.

Run ``python -m streamlab.comm.tsgen`` to write the file, ``--check`` to exit 1 with a diff
when it is stale.

>>> ts_type(dict[str, list[int | None]], {})
'{ [key: string]: (number | null)[] }'
>>> "export type PipelineState" in generate()
True
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import re
import sys
import types
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

from ..core import snapshot as snapshot_module
from ..core import state as state_module
from ..core.snapshot import DECLARED
from ..core.state import ACTIONS, ALLOWED_ACTIONS, TRANSITIONS, PipelineState

__all__ = ["HEADER", "TARGET", "check", "generate", "main", "ts_type", "write"]

#: The file the panel imports (in a source checkout).
TARGET = Path(__file__).resolve().parents[2] / "labextension" / "src" / "generated.ts"

#: The first line of the generated file.
HEADER = "// generated — do not edit; run python -m streamlab.comm.tsgen"

_WIDTH = 80  # the longest line an array is kept on
_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")

#: Enums the TypeScript side declares as a type of the same name.
_ENUMS: dict[type, str] = {PipelineState: "PipelineState"}


# --------------------------------------------------------------------------- types


def ts_type(tp: Any, names: Mapping[Any, str]) -> str:
    """The TypeScript type for the Python annotation ``tp``.

    ``names`` maps the declared TypedDicts to their TypeScript interface names.

    >>> ts_type(int | None, {})
    'number | null'
    >>> ts_type(list[dict[str, Any]], {})
    '{ [key: string]: unknown }[]'
    """
    if tp is Any:
        return "unknown"
    if tp is type(None) or tp is None:
        return "null"
    if tp is bool:
        return "boolean"
    if tp in (int, float):
        return "number"
    if tp is str:
        return "string"
    if tp in names:
        return names[tp]
    if tp in _ENUMS:
        return _ENUMS[tp]
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        parts = [ts_type(a, names) for a in args if a is not type(None)]
        if type(None) in args:
            parts.append("null")
        return " | ".join(dict.fromkeys(parts))  # int | float is one number
    if origin is Literal:
        return " | ".join(dict.fromkeys(_ts_literal(a) for a in args))
    if origin in (list, Sequence) or tp is list:
        item = ts_type(args[0], names) if args else "unknown"
        return f"({item})[]" if " | " in item else f"{item}[]"
    if origin in (dict, Mapping) or tp is dict:
        key, value = args if args else (str, Any)
        if key is not str:
            raise TypeError(f"only str keys have a TypeScript mirror, not {key!r}")
        return f"{{ [key: string]: {ts_type(value, names)} }}"
    raise TypeError(f"no TypeScript mirror for the annotation {tp!r}")


def _ts_literal(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _quote(value)
    raise TypeError(f"no TypeScript mirror for the literal {value!r}")


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _key(name: str) -> str:
    return name if _IDENTIFIER.match(name) else _quote(name)


# --------------------------------------------------------------------------- comments


def _prose(text: str) -> str:
    """Python doc markup as plain comment text (``x`` and :class:`X` become `x` and `X`)."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    text = text.replace("``", "`")
    return text.replace("*/", "* /")


def _doc_comment(text: str | None, indent: str = "") -> list[str]:
    """A ``/** ... */`` block of the first paragraph of ``text`` (nothing when there is none)."""
    if not text:
        return []
    paragraph = inspect.cleandoc(text).split("\n\n")[0]
    lines = [_prose(line).rstrip() for line in paragraph.splitlines()]
    if len(lines) == 1:
        return [f"{indent}/** {lines[0]} */"]
    return [f"{indent}/**", *(f"{indent} * {line}".rstrip() for line in lines), f"{indent} */"]


def _source_comments(module: types.ModuleType) -> dict[str, str]:
    """The ``#:`` comments written just above each module-level assignment, by name."""
    comments: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(module).splitlines():
        if line.startswith("#:"):
            pending.append(line[2:].strip())
            continue
        found = re.match(r"^([A-Za-z_]\w*)\s*(?::[^=]*)?=", line)
        if found and pending:
            comments[found.group(1)] = " ".join(pending)
        pending = []
    return comments


def _member_comments(enum: type[Enum]) -> dict[str, str]:
    """The trailing ``# ...`` comment of each member of ``enum``, by value."""
    comments: dict[str, str] = {}
    for line in inspect.getsource(enum).splitlines():
        found = re.match(r"^\s+[A-Z_][A-Z0-9_]*\s*=\s*(['\"])(.*?)\1\s*#\s*(.+)$", line)
        if found:
            comments[found.group(2)] = found.group(3).strip()
    return comments


# --------------------------------------------------------------------------- output


def _array(items: Sequence[str], comments: Mapping[str, str] | None = None,
           indent: str = "", prefix: str = "", suffix: str = "") -> list[str]:
    """A TypeScript array of the quoted ``items``: on one line if it fits and has no comments."""
    quoted = [_quote(i) for i in items]
    line = f"{indent}{prefix}[{', '.join(quoted)}]{suffix}"
    if not comments and len(line) <= _WIDTH:
        return [line]
    lines = [f"{indent}{prefix}["]
    for n, (item, text) in enumerate(zip(items, quoted, strict=True)):
        comma = "," if n < len(items) - 1 else ""
        note = (comments or {}).get(item)
        lines.append(f"{indent}  {text}{comma}" + (f" // {_prose(note)}" if note else ""))
    lines.append(f"{indent}]{suffix}")
    return lines


def _record(name: str, doc: str | None, value_type: str,
            table: Mapping[Any, Any], order: Sequence[str]) -> list[str]:
    """``export const name: Record<PipelineState, readonly T[]> = {...}``, keys in state order."""
    rank = {item: n for n, item in enumerate(order)}
    lines = [*_doc_comment(doc),
             f"export const {name}: Record<PipelineState, readonly {value_type}[]> = {{"]
    states = list(PipelineState)
    for n, state in enumerate(states):
        values = sorted((str(getattr(v, "value", v)) for v in table[state]), key=rank.__getitem__)
        comma = "," if n < len(states) - 1 else ""
        lines.extend(_array(values, indent="  ", prefix=f"{_key(state.value)}: ", suffix=comma))
    lines.append("};")
    return lines


def _interface(name: str, declared: type, names: Mapping[Any, str], doc: str | None) -> list[str]:
    hints = get_type_hints(declared)  # NotRequired is stripped; __optional_keys__ says which
    optional: frozenset[str] = getattr(declared, "__optional_keys__", frozenset())
    lines = [*_doc_comment(declared.__doc__ or doc), f"export interface {name} {{"]
    for field in declared.__annotations__:
        mark = "?" if field in optional else ""
        lines.append(f"  {_key(field)}{mark}: {ts_type(hints[field], names)};")
    lines.append("}")
    return lines


def generate() -> str:
    """The text of ``generated.ts`` for the current declarations."""
    states = [s.value for s in PipelineState]
    unknown = {a for allowed in ALLOWED_ACTIONS.values() for a in allowed} - set(ACTIONS)
    if unknown:
        raise ValueError(f"ALLOWED_ACTIONS names undeclared actions: {sorted(unknown)}")
    if set(ALLOWED_ACTIONS) != set(PipelineState) or set(TRANSITIONS) != set(PipelineState):
        raise ValueError("ALLOWED_ACTIONS and TRANSITIONS need an entry for every state")
    state_notes = _source_comments(state_module)
    snapshot_notes = _source_comments(snapshot_module)
    for name, declared in DECLARED.items():
        if not is_typeddict(declared):
            raise TypeError(f"DECLARED[{name!r}] is not a TypedDict")
    names = {declared: name for name, declared in DECLARED.items()}

    out = [
        HEADER,
        "//",
        "// The TypeScript mirror of streamlab/core/state.py (the one pipeline state, its",
        "// actions and transitions) and streamlab/core/snapshot.py (the shape of snapshot()).",
        "// tests/test_protocol_version.py fails when this file is stale.",
        "",
        "/* ----------------------------------------------------------------- state */",
        "",
        *_doc_comment(PipelineState.__doc__),
        *_array(states, _member_comments(PipelineState),
                prefix="export const PIPELINE_STATES = ", suffix=" as const;"),
        "export type PipelineState = (typeof PIPELINE_STATES)[number];",
        "",
        *_doc_comment(state_notes.get("ACTIONS")),
        *_array(list(ACTIONS), prefix="export const ACTIONS = ", suffix=" as const;"),
        "export type Action = (typeof ACTIONS)[number];",
        "",
        *_record("ALLOWED_ACTIONS", state_notes.get("ALLOWED_ACTIONS"), "Action",
                 ALLOWED_ACTIONS, ACTIONS),
        "",
        *_record("TRANSITIONS", state_notes.get("TRANSITIONS"), "PipelineState",
                 TRANSITIONS, states),
        "",
        "/* ----------------------------------------------------------------- snapshot */",
    ]
    for name, declared in DECLARED.items():
        doc = snapshot_notes.get(declared.__name__) or snapshot_notes.get(name)
        out += ["", *_interface(name, declared, names, doc)]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- command line


def check(path: Path = TARGET) -> str:
    """A unified diff from ``path`` to the generated text; empty when the file is current."""
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = ""
    wanted = generate()
    if current == wanted:
        return ""
    return "".join(difflib.unified_diff(
        current.splitlines(keepends=True), wanted.splitlines(keepends=True),
        fromfile=f"{path} (committed)", tofile=f"{path} (generated)"))


def write(path: Path = TARGET) -> bool:
    """Write the generated file; True when it changed."""
    wanted = generate()
    if path.exists() and path.read_text(encoding="utf-8") == wanted:
        return False
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path.parent} does not exist: run this in a source checkout")
    path.write_text(wanted, encoding="utf-8")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streamlab.comm.tsgen",
        description="Generate labextension/src/generated.ts from streamlab/core/state.py "
                    "and streamlab/core/snapshot.py.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 with a diff when the file is stale")
    parser.add_argument("--output", type=Path, default=TARGET,
                        help=f"the file to write or check (default: {TARGET})")
    args = parser.parse_args(argv)
    if args.check:
        diff = check(args.output)
        if diff:
            sys.stdout.write(diff)
            print(f"{args.output} is stale: run python -m streamlab.comm.tsgen", file=sys.stderr)
            return 1
        print(f"{args.output} is current")
        return 0
    changed = write(args.output)
    print(f"{'wrote' if changed else 'unchanged:'} {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
