"""The checkpoint file, format version 2: one JSON object, written as canonical JSON.

Every field is required and no other is allowed:

===============  ==============================================================================
``format``       ``"streamlab-checkpoint"``
``version``      ``2``. Version 1 files could hold pickled objects; they are refused, never read.
``id``           integer >= 0: the checkpoint's number in its pipeline (1, 2, ...)
``pipeline``     string: the name of the pipeline that wrote it (informative)
``written_at``   number >= 0: seconds since the Unix epoch (informative)
``fingerprint``  list, one object per operator in topological order: ``kind``, ``type`` and
                 ``label`` (strings) and what must be equal to resume (``time`` [column, unit];
                 windows: ``window``, ``by``, ``aggs``, ``allowed_lateness_ms``,
                 ``emit_early_ms``; watermarks: ``delay_ms``), in plain JSON
``operators``    list, as long as ``fingerprint``, one object per operator:
                 ``state_version`` (integer >= 0, equal to the operator's ``state_version``),
                 ``state`` (its ``save_state()``, an object in tagged JSON, see
                 :mod:`~streamlab.checkpoint.codec`; a source's has ``position``, an integer >= 0),
                 ``counters`` and ``sides`` (``{"late": counters, "errors": counters}``, either
                 may be absent); counters are ``{"in", "out", "late", "errors"}``, integers >= 0
``checksum``     ``"sha256:"`` and 64 lowercase hex digits: SHA-256 of the canonical JSON of the
                 object without ``checksum``; any changed byte is detected
===============  ==============================================================================

Canonical JSON: keys in the order written (operators' dicts keep their order), no whitespace,
ASCII only (other characters as ``\\uXXXX``), no ``NaN``/``Infinity`` literals (non-finite
floats are tagged). Parsing and writing it again gives the same text, so the checksum is checked
on what was read.

>>> canonical({"b": 1, "a": [1.5, "é"]})
'{"b":1,"a":[1.5,"\\\\u00e9"]}'
>>> checksum({"b": 1, "a": [1.5, "é"]}) == checksum({"a": [1.5, "é"], "b": 1})
False
"""

from __future__ import annotations

import hashlib
import json

FORMAT = "streamlab-checkpoint"
VERSION = 2
FIELDS = ("format", "version", "id", "pipeline", "written_at", "fingerprint", "operators", "checksum")
COUNTERS = ("in", "out", "late", "errors")
#: Fields of a fingerprint entry, in the order a restore compares them.
FINGERPRINT = ("kind", "type", "time", "label", "settings")
SIDES = ("late", "errors")


def canonical(doc) -> str:
    """The one JSON text of ``doc`` that checksums and files use."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def checksum(doc: dict) -> str:
    """``"sha256:<hex>"`` of the canonical JSON of ``doc`` without its ``checksum`` field."""
    body = {k: v for k, v in doc.items() if k != "checksum"}
    return "sha256:" + hashlib.sha256(canonical(body).encode("ascii")).hexdigest()
