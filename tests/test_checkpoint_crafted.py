"""A crafted checkpoint never runs code: pickle payloads anywhere are refused with a clear ValueError."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import pickle

import pandas as pd
import pytest

import streamlab as sl
from streamlab.checkpoint import read_checkpoint
from streamlab.checkpoint.format import checksum

PACKAGE = pathlib.Path(sl.__file__).parent / "checkpoint"


class Boom:
    """Unpickling this creates the directory ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def payload(marker) -> str:
    return base64.b64encode(pickle.dumps(Boom(str(marker)))).decode()


def build():
    df = pd.DataFrame({"ts": [0, 400, 1200, 2100], "k": list("abab"), "v": [1.0, 2.0, 3.0, 4.0]})
    return sl.from_frame(df, time="ts", unit="ms", batch_size=2).watermark("0ms").window(
        sl.Tumble(1000), by="k").agg(s=("v", "sum"))


@pytest.fixture
def doc(tmp_path):
    res = build()
    res.step()
    res.checkpoint(tmp_path / "c.json")
    return json.loads((tmp_path / "c.json").read_text())


def test_the_payload_is_live(tmp_path):
    """Control: unpickling the payload does create the marker, so its absence below means something."""
    pickle.loads(base64.b64decode(payload(tmp_path / "control")))  # noqa: S301 - the point of the test
    assert (tmp_path / "control").exists()


def tag(marker):
    return {"$": "pickle", "v": payload(marker)}


PLACES = {
    "state value": lambda d, p: d["operators"][2]["state"].update(x=tag(p)),
    "whole state": lambda d, p: d["operators"][2].update(state=tag(p)),
    "object array item": lambda d, p: d["operators"][2]["state"].update(
        x={"$": "ndarray", "dtype": "|O", "shape": [1], "v": [tag(p)]}),
    "array dtype": lambda d, p: d["operators"][2]["state"].update(
        x={"$": "ndarray", "dtype": tag(p), "shape": [0], "v": []}),
    "array dtype text": lambda d, p: d["operators"][2]["state"].update(
        x={"$": "ndarray", "dtype": f"__import__('os').mkdir('{p}')", "shape": [0], "v": []}),
    "map key": lambda d, p: d["operators"][2]["state"].update(x={"$": "map", "v": [[tag(p), 1]]}),
    "map value": lambda d, p: d["operators"][2]["state"].update(x={"$": "map", "v": [[1, tag(p)]]}),
    "tuple item": lambda d, p: d["operators"][2]["state"].update(x={"$": "tuple", "v": [tag(p)]}),
    "extra tag field": lambda d, p: d["operators"][2]["state"].update(
        x={"$": "tuple", "v": [], "__reduce__": payload(p)}),
    "time zone": lambda d, p: d["operators"][2]["state"].update(
        x={"$": "timestamp", "v": 0, "unit": "ns", "tz": f"os.mkdir('{p}')"}),
    "tag name": lambda d, p: d["operators"][2]["state"].update(x={"$": "builtins.eval", "v": f"mkdir('{p}')"}),
    "source position": lambda d, p: d["operators"][0]["state"].update(position=tag(p)),
    "counters": lambda d, p: d["operators"][1]["counters"].update(late=tag(p)),
    "state version": lambda d, p: d["operators"][1].update(state_version=tag(p)),
    "fingerprint": lambda d, p: d["fingerprint"][2].update(window=tag(p)),
    "id": lambda d, p: d.update(id=tag(p)),
}


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("with_checksum", [True, False])
def test_a_pickle_payload_never_runs(tmp_path, doc, place, with_checksum):
    marker = tmp_path / "ran"
    PLACES[place](doc, marker)
    if with_checksum:  # a crafted file, not a damaged one: the checksum is right
        doc["checksum"] = checksum(doc)
    path = tmp_path / "crafted.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="checkpoint field|different pipeline") as info:
        sl.restore(path, build())
    with pytest.raises(ValueError):
        read_checkpoint(path)
    assert not marker.exists(), "the crafted checkpoint ran code"
    assert len(str(info.value)) < 600  # a clear message, not the payload


def test_a_version_1_file_with_pickled_state_is_refused_unread(tmp_path):
    """What the old writer produced: version 1 with {"$": "pickle"} values."""
    marker = tmp_path / "ran"
    old = {"format": "streamlab-checkpoint", "version": 1, "id": 1, "pipeline": "p", "written_at": 0,
           "fingerprint": [], "operators": [{"state": {"x": tag(marker)}, "counters": {}, "sides": {}}]}
    (tmp_path / "v1.json").write_text(json.dumps(old))
    with pytest.raises(ValueError, match="version 1 is no longer read"):
        sl.restore(tmp_path / "v1.json", build())
    assert not marker.exists()


def test_the_package_cannot_run_code_from_a_file():
    """No module of streamlab.checkpoint imports a deserializer that can run code, or evaluates text."""
    for path in PACKAGE.glob("*.py"):
        source = path.read_text()
        for banned in ("import pickle", "import marshal", "import shelve", "import dill", "cloudpickle",
                       "eval(", "exec(", "__import__", "importlib", "allow_pickle", "getattr("):
            assert banned not in source, f"{path.name} uses {banned!r}"
