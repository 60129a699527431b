"""Writing a checkpoint: the operators' state from ``snapshot(state=True)``, encoded, checked, written.

>>> import os, tempfile, pandas as pd, streamlab as sl
>>> res = sl.from_frame(pd.DataFrame({"ts": [0, 5]}), time="ts", unit="ms", batch_size=1).watermark("0ms")
>>> _ = res.step()
>>> path = os.path.join(tempfile.mkdtemp(), "c.json")
>>> write_checkpoint(res.pipeline, path)["id"], res.pipeline.checkpoint_id
(1, 1)
"""

from __future__ import annotations

import os
import time

from ..core.node import Node
from .codec import Unsupported, encode
from .fit import fingerprint, operators
from .format import FORMAT, VERSION, canonical, checksum
from .io import write_atomic
from .validate import validate

_HOLDS = ("checkpoints hold JSON data, numpy arrays (numbers, booleans, dates, strings, scalar "
          "objects), numpy scalars, pandas Timestamp/Timedelta/NaT/NA, tuples and dicts")


def encode_state(node: Node, state) -> dict:
    """``node.save_state()`` output as tagged JSON; TypeError naming the operator and the type if it cannot be."""
    if type(state) is not dict:
        raise TypeError(f"cannot checkpoint operator {node.label()!r} ({type(node).__name__}): "
                        f"save_state() returned a {type(state).__name__}, not a dict")
    try:
        return encode(state)
    except Unsupported as exc:
        raise TypeError(f"cannot checkpoint operator {node.label()!r} ({type(node).__name__}): "
                        f"{exc.where('state')}: {exc.message}; {_HOLDS}") from None


def _entry(node: Node, op: dict) -> dict:
    return {"state_version": op["state_version"], "state": encode_state(node, op["state"]),
            "counters": dict(op["counters"]), "sides": {k: dict(v) for k, v in op["sides"].items()}}


def write_checkpoint(pipe, path) -> dict:
    """Write one checkpoint of ``pipe`` to ``path`` now (call it between batches).

    The file is checked as a restore would check it before it replaces the previous one; then
    ``pipe.checkpoint_id`` advances and every operator's ``on_checkpoint`` runs (Kafka commits).
    """
    nodes = operators(pipe)
    snap = pipe.snapshot(limit=0, state=True)
    ops = [op["checkpoint"] for op in snap["operators"]]
    if len(ops) != len(nodes):  # pragma: no cover - both walk pipe.operators() the same way
        raise RuntimeError("snapshot and pipeline disagree on the operators")
    ident = pipe.checkpoint_id + 1
    doc = {"format": FORMAT, "version": VERSION, "id": ident, "pipeline": pipe.name,
           "written_at": time.time(), "fingerprint": fingerprint(nodes),
           "operators": [_entry(n, op) for n, op in zip(nodes, ops)]}
    doc["checksum"] = checksum(doc)
    saved = validate(doc)  # never write a file that a restore would refuse
    write_atomic(path, canonical(doc) + "\n")
    pipe.checkpoint_id = ident
    for node, op in zip(nodes, saved["operators"]):  # only now: e.g. Kafka commits these offsets
        node.on_checkpoint(op["state"])
    return {"id": ident, "path": os.fspath(path), "operators": len(nodes)}
