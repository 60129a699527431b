"""Restoring a checkpoint, all or nothing.

The file is read and every field checked, then the pipeline is compared with the fingerprint and
each operator's ``state_version``; only then is anything touched. The pipeline's current state is
kept aside (``save_state()`` and counters of every operator), the checkpoint is loaded, and if any
operator's ``load_state`` raises, the kept state is loaded back: the pipeline is as it was, and
the error is a ValueError naming the operator. When every operator has loaded, each one's
``on_checkpoint`` runs: the pipeline now stands at a durable checkpoint (a Parquet sink removes
the part files it wrote after it).

>>> import os, tempfile, pandas as pd, streamlab as sl
>>> df = pd.DataFrame({"ts": [0, 400, 1200, 2100], "v": [1.0, 2.0, 3.0, 4.0]})
>>> def build():
...     return sl.from_frame(df, time="ts", unit="ms", batch_size=2).window(sl.Tumble(1000)).agg(s=("v", "sum"))
>>> first = build(); _ = first.step()
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.json"); _ = first.checkpoint(path)
>>> again = build(); restore(path, again).checkpoint_id
1
>>> again.collect()["s"].tolist()
[3.0, 3.0, 4.0]
"""

from __future__ import annotations

from ..core.errors import PipelineStateError
from ..core.node import Node
from ..core.state import PipelineState
from .codec import decode
from .fit import check_fits, operators
from .format import SIDES
from .io import read_json
from .validate import validate
from .write import encode_state


def read_checkpoint(path) -> dict:
    """The checkpoint in ``path``, every field checked and the state decoded (ValueError if damaged)."""
    return validate(read_json(path))


class _LoadFailed(Exception):
    def __init__(self, index: int, node: Node):
        self.index, self.node = index, node


def _kept(node: Node) -> tuple:
    """What ``node`` holds now: its state (a copy, through the codec), counters, side counters."""
    state = decode(encode_state(node, node.save_state()))
    return (state, node.counters.as_dict(),
            {what: side.counters.as_dict() for what, side in node.sides.items()})


def _load(pipe, nodes: list[Node], entries: list[tuple]) -> None:
    """Reset, then load ``(state, counters, sides)`` into each node (_LoadFailed names the one that raised)."""
    pipe.reset()
    for i, (node, (state, counters, sides)) in enumerate(zip(nodes, entries)):
        try:
            node.load_state(state)
        except Exception as exc:
            raise _LoadFailed(i, node) from exc
        node.counters.restore(counters)
        for what, saved in sides.items():
            node.side(what).counters.restore(saved)


def restore(path, *streams):
    """Load a checkpoint into the pipeline of ``streams`` (built by the same code); returns the pipeline.

    The pipeline must be idle (just built, stepped, or ``reset()``); afterwards ``collect()`` or
    ``start()`` continue from the checkpoint. A damaged file, a checkpoint of a different pipeline or an
    operator that cannot load its state raise ValueError and leave the pipeline as it was.
    """
    if not streams:
        raise TypeError("restore(path, res): pass the result stream(s) of the freshly built pipeline")
    pipe = streams[0].pipeline
    for s in streams[1:]:
        if s.pipeline is not pipe:
            raise ValueError(f"{s!r} belongs to another pipeline than {streams[0]!r}")
    if pipe.state != PipelineState.IDLE:
        raise PipelineStateError(f"pipeline {pipe.name!r} is {pipe.state}; restore() loads into a pipeline "
                                 "that has not run: reset() it or build it anew")
    doc = read_checkpoint(path)
    nodes = operators(pipe)
    check_fits(doc, nodes)
    before = [_kept(n) for n in nodes]
    entries = [(op["state"], op["counters"], {w: op["sides"][w] for w in SIDES if w in op["sides"]})
               for op in doc["operators"]]
    try:
        _load(pipe, nodes, entries)
    except _LoadFailed as failed:
        cause = failed.__cause__
        try:
            _load(pipe, nodes, before)
        except _LoadFailed as again:
            raise RuntimeError(f"restoring failed and operator #{again.index + 1} ({again.node.label()}) "
                               "could not take back its previous state; reset() the pipeline") from cause
        i, node = failed.index, failed.node
        raise ValueError(f"checkpoint field operators[{i}].state: operator #{i + 1} ({node.label()}) could "
                         f"not load it ({type(cause).__name__}: {cause}); the pipeline was left as it "
                         "was") from cause
    pipe.checkpoint_id = doc["id"]
    for node, op in zip(nodes, doc["operators"]):
        node.on_checkpoint(op["state"])
    return pipe
