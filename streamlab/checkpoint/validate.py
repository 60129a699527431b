"""Check every field of a parsed checkpoint (see :mod:`~streamlab.checkpoint.format`) and decode it.

Nothing is touched before this passes: each problem is a ValueError that names the field.

>>> validate([1, 2])
Traceback (most recent call last):
...
ValueError: not a streamlab checkpoint: the file holds a JSON list, not an object
>>> validate({"format": "streamlab-checkpoint", "version": 2, "id": -1})
Traceback (most recent call last):
...
ValueError: checkpoint field id: expected a non-negative integer, got -1
"""

from __future__ import annotations

import math
import re

from .codec import Corrupt, decode
from .format import COUNTERS, FIELDS, FINGERPRINT, FORMAT, SIDES, VERSION, checksum

_CHECKSUM = re.compile(r"sha256:[0-9a-f]{64}")
_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", int: "an integer",
               float: "a number", bool: "a boolean", type(None): "null"}


def _bad(field: str, expected: str, got) -> ValueError:
    shown = f"{got!r:.60}" if isinstance(got, (int, float, str)) else _JSON_TYPES.get(type(got), type(got).__name__)
    return ValueError(f"checkpoint field {field}: expected {expected}, got {shown}")


def _nonneg(x, field: str) -> int:
    if type(x) is not int or x < 0:
        raise _bad(field, "a non-negative integer", x)
    return x


def _obj(x, field: str) -> dict:
    if type(x) is not dict:
        raise _bad(field, "an object", x)
    return x


def _list(x, field: str) -> list:
    if type(x) is not list:
        raise _bad(field, "a list", x)
    return x


def _keys(x: dict, field: str, required, optional=()) -> None:
    """Every required key present, no unknown one (``field`` "" is the top level)."""
    at = f"{field}." if field else ""
    missing = [k for k in required if k not in x]
    if missing:
        raise ValueError(f"checkpoint field {at}{missing[0]}: missing")
    extra = sorted(set(x) - set(required) - set(optional))
    if extra:
        raise ValueError(f"checkpoint field {at}{extra[0]}: not a field of format version {VERSION}")


def _counters(x, field: str) -> dict:
    _keys(_obj(x, field), field, COUNTERS)
    for k in COUNTERS:
        _nonneg(x[k], f"{field}.{k}")
    return dict(x)


def _flat(x) -> bool:
    """Strings, numbers, booleans, null and lists of them: what a fingerprint holds."""
    return type(x) in (str, int, float, bool, type(None)) or (type(x) is list and all(_flat(v) for v in x))


def _fingerprint(x) -> list:
    for i, d in enumerate(_list(x, "fingerprint")):
        _keys(_obj(d, f"fingerprint[{i}]"), f"fingerprint[{i}]", ("kind", "type", "label"), FINGERPRINT)
        for k, v in d.items():
            if k in ("kind", "type", "label") and type(v) is not str:
                raise _bad(f"fingerprint[{i}].{k}", "a string", v)
            if k == "settings":
                for name, s in _obj(v, f"fingerprint[{i}].settings").items():
                    if not _flat(s):
                        raise _bad(f"fingerprint[{i}].settings.{name}", "strings, numbers or lists of them", s)
            elif not _flat(v):
                raise _bad(f"fingerprint[{i}].{k}", "strings, numbers or lists of them", v)
    return x


def _operator(x, i: int, kind: str) -> dict:
    field = f"operators[{i}]"
    _keys(_obj(x, field), field, ("state_version", "state", "counters", "sides"))
    _nonneg(x["state_version"], f"{field}.state_version")
    _obj(x["state"], f"{field}.state")
    if "$" in x["state"]:
        raise _bad(f"{field}.state", "an object (not a tagged value)", x["state"].get("$"))
    try:
        state = decode(x["state"])
    except Corrupt as exc:
        raise ValueError(f"checkpoint field {exc.where(field + '.state')}: {exc.message}") from None
    if kind == "source":
        _nonneg(state.get("position"), f"{field}.state.position")
    sides = _obj(x["sides"], f"{field}.sides")
    _keys(sides, f"{field}.sides", (), SIDES)
    return {"state_version": x["state_version"], "state": state,
            "counters": _counters(x["counters"], f"{field}.counters"),
            "sides": {k: _counters(v, f"{field}.sides.{k}") for k, v in sides.items()}}


def validate(doc) -> dict:
    """The decoded checkpoint if every field is well formed and the checksum matches; else ValueError."""
    if type(doc) is not dict:
        raise ValueError(_not_object(doc))
    if doc.get("format") != FORMAT:
        raise ValueError(f"not a streamlab checkpoint: checkpoint field format is {doc.get('format')!r:.60}, "
                         f"expected {FORMAT!r}")
    version = doc.get("version")
    if version == 1 and type(version) is int:
        raise ValueError("checkpoint version 1 is no longer read: it could hold pickled Python objects, "
                         f"which this streamlab never loads; write a new checkpoint (version {VERSION})")
    if type(version) is not int or version != VERSION:
        raise ValueError(f"checkpoint field version: this streamlab reads version {VERSION}, got {version!r:.60}")
    ident = _nonneg(doc.get("id"), "id")
    _keys(doc, "", FIELDS)
    if type(doc["pipeline"]) is not str:
        raise _bad("pipeline", "a string", doc["pipeline"])
    when = doc["written_at"]
    if type(when) not in (int, float) or not math.isfinite(when) or when < 0:
        raise _bad("written_at", "a non-negative number of seconds", when)
    fingerprint = _fingerprint(doc["fingerprint"])
    ops = _list(doc["operators"], "operators")
    if len(ops) != len(fingerprint):
        raise ValueError(f"checkpoint field operators: expected {len(fingerprint)} entries (one per "
                         f"fingerprint entry), got {len(ops)}")
    operators = [_operator(x, i, d["kind"]) for i, (x, d) in enumerate(zip(ops, fingerprint))]
    if type(doc["checksum"]) is not str or not _CHECKSUM.fullmatch(doc["checksum"]):
        raise _bad("checksum", "'sha256:' and 64 lowercase hex digits", doc["checksum"])
    if checksum(doc) != doc["checksum"]:
        raise ValueError("checkpoint field checksum: does not match the contents; the file was changed "
                         "or damaged after it was written")
    return {"format": FORMAT, "version": VERSION, "id": ident, "pipeline": doc["pipeline"],
            "written_at": when, "fingerprint": fingerprint, "operators": operators,
            "checksum": doc["checksum"]}


def _not_object(doc) -> str:
    what = "JSON null" if doc is None else f"a JSON {_JSON_TYPES.get(type(doc), 'value').split()[-1]}"
    return f"not a streamlab checkpoint: the file holds {what}, not an object"
