"""Whether a checkpoint fits a pipeline: the same operators, built the same way, same state versions.

>>> import pandas as pd, streamlab as sl
>>> res = sl.from_frame(pd.DataFrame({"ts": [0]}), time="ts", unit="ms").watermark("5ms")
>>> [d["kind"] for d in fingerprint(operators(res.pipeline))]
['source', 'watermark']
>>> fingerprint(operators(res.pipeline))[1]["delay_ms"]
5
"""

from __future__ import annotations

import json
from typing import Any

from ..core.node import Node, SideOutput
from .format import FINGERPRINT, canonical

_NAMES = {"kind": "operator kind", "type": "operator type", "window": "window", "by": "group keys",
          "aggs": "aggregates", "allowed_lateness_ms": "allowed_lateness (ms)",
          "emit_early_ms": "emit_early (ms)", "delay_ms": "watermark delay (ms)",
          "time": "time column", "label": "operator"}


def operators(pipe) -> list[Node]:
    """The operators a checkpoint holds, in topological order (side outputs are kept by their parent)."""
    return [n for n in pipe.operators() if not isinstance(n, SideOutput)]


def describe(node: Node) -> dict:
    """What must be equal for a checkpoint to fit: kind, type, label, time column and, for windows, the spec."""
    d: dict[str, Any] = {"kind": node.kind, "type": type(node).__name__, "label": node.label()}
    if node.time_meta is not None:
        d["time"] = [node.time_meta.column, node.time_meta.unit]
    if node.kind == "window":
        d.update(window=node.plan.label(), by=list(node.by), aggs=[s.label() for s in node.specs],
                 allowed_lateness_ms=node.lateness, emit_early_ms=node.emit_early)
    if node.kind == "watermark":
        d["delay_ms"] = node.delay
    return json.loads(canonical(d))  # as it reads back from the file (tuples become lists ...)


def fingerprint(nodes: list[Node]) -> list[dict]:
    """One :func:`describe` per operator."""
    return [describe(n) for n in nodes]


def check_fits(doc: dict, nodes: list[Node]) -> None:
    """ValueError naming the first difference between the checkpoint ``doc`` and the pipeline ``nodes``."""
    saved, here = doc["fingerprint"], fingerprint(nodes)
    for i, (a, b) in enumerate(zip(saved, here)):
        for field in FINGERPRINT:
            if a.get(field) != b.get(field):
                raise ValueError(
                    f"this checkpoint was written by a different pipeline: operator #{i + 1} "
                    f"({b['label']}) has {_NAMES[field]} {b.get(field)!r} here but {a.get(field)!r} "
                    f"in the checkpoint; rebuild the pipeline exactly as it was, or start without restoring")
    if len(saved) != len(here):
        more, fewer = ("checkpoint", "pipeline") if len(saved) > len(here) else ("pipeline", "checkpoint")
        extra = (saved if len(saved) > len(here) else here)[min(len(saved), len(here))]
        raise ValueError(f"this checkpoint was written by a different pipeline: the {more} has more "
                         f"operators than the {fewer} ({len(saved)} vs {len(here)}), starting with "
                         f"{extra['label']!r}")
    for i, (node, entry) in enumerate(zip(nodes, doc["operators"])):
        if entry["state_version"] != node.state_version:
            raise ValueError(
                f"checkpoint field operators[{i}].state_version: operator #{i + 1} ({node.label()}) "
                f"reads state version {node.state_version}, the checkpoint holds version "
                f"{entry['state_version']}; write a new checkpoint with this streamlab")
