"""Every field of a checkpoint is checked before anything is touched; each problem names the field."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

import streamlab as sl
from streamlab.checkpoint import read_checkpoint
from streamlab.checkpoint.format import canonical, checksum


def build():
    df = pd.DataFrame({"ts": [0, 400, 1200, 2100, 2500, 3900], "k": list("abab" "ab"),
                       "v": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    return sl.from_frame(df, time="ts", unit="ms", batch_size=2).watermark("0ms").window(
        sl.Tumble(1000), by="k").agg(s=("v", "sum"), first=("k", "first"))


@pytest.fixture
def saved(tmp_path):
    """A real checkpoint as parsed JSON, and a function writing a changed copy (checksum redone)."""
    res = build()
    res.step()
    path = tmp_path / "c.json"
    res.checkpoint(path)
    doc = json.loads(path.read_text())

    def write(change, resum=True):
        d = copy.deepcopy(doc)
        change(d)
        if resum and isinstance(d, dict):
            d["checksum"] = checksum(d)
        out = tmp_path / "changed.json"
        out.write_text(json.dumps(d))
        return out

    return doc, write


def test_the_file_is_canonical_json_with_a_checksum(saved, tmp_path):
    doc, _ = saved
    text = (tmp_path / "c.json").read_text()
    assert text == canonical(doc) + "\n"
    assert doc["version"] == 2 and doc["checksum"] == checksum(doc)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(id=-3), "checkpoint field id: expected a non-negative integer, got -3"),
    (lambda d: d.update(id=True), "checkpoint field id: expected a non-negative integer, got True"),
    (lambda d: d.update(id="1"), "checkpoint field id: expected a non-negative integer, got '1'"),
    (lambda d: d.update(pipeline=None), "checkpoint field pipeline: expected a string, got null"),
    (lambda d: d.update(written_at=-1), "checkpoint field written_at: expected a non-negative number"),
    (lambda d: d.pop("fingerprint"), "checkpoint field fingerprint: missing"),
    (lambda d: d.update(extra=1), "checkpoint field extra: not a field of format version 2"),
    (lambda d: d.update(fingerprint={}), "checkpoint field fingerprint: expected a list, got an object"),
    (lambda d: d["fingerprint"][1].update(kind=3), "checkpoint field fingerprint\\[1\\].kind: expected a string"),
    (lambda d: d["operators"].pop(), "checkpoint field operators: expected 3 entries .*, got 2"),
    (lambda d: d["operators"][0]["state"].update(position=-3),
     "checkpoint field operators\\[0\\].state.position: expected a non-negative integer, got -3"),
    (lambda d: d["operators"][0]["state"].update(position=2.0),
     "checkpoint field operators\\[0\\].state.position: expected a non-negative integer, got 2.0"),
    (lambda d: d["operators"][0]["state"].pop("position"),
     "checkpoint field operators\\[0\\].state.position: expected a non-negative integer, got null"),
    (lambda d: d["operators"][2].update(state=[1]), "checkpoint field operators\\[2\\].state: expected an object"),
    (lambda d: d["operators"][2].update(state={"$": "tuple", "v": []}),
     "checkpoint field operators\\[2\\].state: expected an object \\(not a tagged value\\)"),
    (lambda d: d["operators"][2]["state"].update(bad={"$": "pickle", "v": ""}),
     "checkpoint field operators\\[2\\].state.bad: unknown tag 'pickle'"),
    (lambda d: d["operators"][2].update(state_version=-1),
     "checkpoint field operators\\[2\\].state_version: expected a non-negative integer"),
    (lambda d: d["operators"][1]["counters"].update(late=-1),
     "checkpoint field operators\\[1\\].counters.late: expected a non-negative integer, got -1"),
    (lambda d: d["operators"][1]["counters"].pop("in"), "checkpoint field operators\\[1\\].counters.in: missing"),
    (lambda d: d["operators"][1].update(sides={"other": {}}),
     "checkpoint field operators\\[1\\].sides.other: not a field"),
    (lambda d: d["operators"][2]["sides"]["late"].update(out="3"),
     "checkpoint field operators\\[2\\].sides.late.out: expected a non-negative integer, got '3'"),
])
def test_each_bad_field_is_named(saved, change, message):
    _, write = saved
    path = write(change)
    with pytest.raises(ValueError, match=message):
        read_checkpoint(path)
    again = build()
    with pytest.raises(ValueError, match=message):
        sl.restore(path, again)
    assert again.pipeline.checkpoint_id == 0


def test_a_changed_value_that_is_still_well_formed_fails_the_checksum(saved):
    _, write = saved
    path = write(lambda d: d["operators"][0]["state"].update(position=0), resum=False)
    with pytest.raises(ValueError, match="checkpoint field checksum: does not match the contents"):
        read_checkpoint(path)
    path = write(lambda d: d.update(checksum="md5:abc"), resum=False)
    with pytest.raises(ValueError, match="checkpoint field checksum: expected 'sha256:' and 64"):
        read_checkpoint(path)


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "not a streamlab checkpoint: the file holds a JSON list, not an object"),
    ("null", "not a streamlab checkpoint: the file holds JSON null, not an object"),
    ('"checkpoint"', "not a streamlab checkpoint: the file holds a JSON string"),
    ("3", "not a streamlab checkpoint: the file holds a JSON integer"),
    ('{"hello": 1}', "not a streamlab checkpoint: checkpoint field format is None"),
    ("", "is not a valid checkpoint file"),
    ('{"format": "streamlab-checkpoint", "version": NaN}', "NaN is not JSON"),
    ("\xff\xfe{}", "is not a valid checkpoint file"),
    ("[" * 100_000, "is not a valid checkpoint file"),
])
def test_documents_that_are_not_checkpoints(tmp_path, text, message):
    path = tmp_path / "x.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match=message):
        read_checkpoint(path)


def test_version_1_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"format": "streamlab-checkpoint", "version": 1, "id": 1,
                                "operators": [{"state": {"x": {"$": "pickle", "v": "gASV"}}}]}))
    with pytest.raises(ValueError, match="checkpoint version 1 is no longer read: it could hold pickled"):
        read_checkpoint(path)
    path.write_text(json.dumps({"format": "streamlab-checkpoint", "version": 3}))
    with pytest.raises(ValueError, match="this streamlab reads version 2, got 3"):
        read_checkpoint(path)


def test_state_version_must_match_the_operator(saved):
    _, write = saved
    path = write(lambda d: d["operators"][2].update(state_version=7))
    with pytest.raises(ValueError, match=r"operators\[2\].state_version: operator #3 \(.*\) reads state version 1, "
                                         r"the checkpoint holds version 7"):
        sl.restore(path, build())


def test_an_unencodable_state_names_the_operator_and_the_type(tmp_path, monkeypatch):
    res = build()
    real = type(res).save_state
    monkeypatch.setattr(type(res), "save_state", lambda self: {**real(self), "when": {1, 2}})
    with pytest.raises(TypeError, match=r"cannot checkpoint operator 'Tumble\(1s\) by k: .*' \(WindowAgg\): state.when: "
                                        r"a set cannot be checkpointed"):
        res.checkpoint(tmp_path / "c.json")
    assert not (tmp_path / "c.json").exists() and res.pipeline.checkpoint_id == 0
