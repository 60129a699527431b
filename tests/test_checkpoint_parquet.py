"""A checkpoint never deletes output the Parquet sink did not write after it; restore validates first."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest

import streamlab as sl
from streamlab.checkpoint.format import canonical, checksum
from tests.test_checkpoint_restore import Flaky


def frame(n=1100, seed=5):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"ts": np.arange(n) * 5, "k": rng.choice(list("abc"), n), "v": rng.integers(0, 20, n) * 0.5})


def build(df, out, batch_size=100):
    res = sl.from_frame(df, time="ts", unit="ms", batch_size=batch_size).watermark("0ms").window(
        sl.Tumble("500ms"), by="k").agg(n=("v", "count"), s=("v", "sum"))
    return res, res.to_parquet(out)


def files(directory):
    """Every file and a hash of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def sink_entry(doc):
    return next(op for op, fp in zip(doc["operators"], doc["fingerprint"]) if fp["type"] == "ParquetSink")


def rewrite(path, change, resum=True):
    doc = json.loads(path.read_text())
    change(doc)
    if resum:
        doc["checksum"] = checksum(doc)
    path.write_text(canonical(doc) + "\n")


@pytest.fixture
def finished(tmp_path):
    """A finished output of 11 part files and the checkpoint written at its end."""
    df, out = frame(), tmp_path / "out"
    res, sink = build(df, out)
    res.collect()
    res.checkpoint(tmp_path / "c.json")
    assert len(list(out.iterdir())) == 11
    return df, out, tmp_path / "c.json"


@pytest.mark.parametrize("resum", [True, False])
def test_a_checkpoint_saying_next_part_0_deletes_nothing(finished, resum):
    df, out, path = finished
    before = files(out)
    rewrite(path, lambda d: sink_entry(d)["state"].update(next_part=0, first_part=0), resum=resum)
    res, sink = build(df, out)
    message = "part-00000.parquet was not written by this sink after it" if resum else "checkpoint field checksum"
    with pytest.raises(ValueError, match=message):
        sl.restore(path, res)
    assert files(out) == before


def test_the_intact_final_checkpoint_keeps_every_part(finished):
    df, out, path = finished
    before = files(out)
    res, sink = build(df, out)
    sl.restore(path, res)
    assert files(out) == before
    assert len(res.collect()) == 0 and files(out) == before


@pytest.mark.parametrize("state, message", [
    ({"next_part": -1}, "field next_part: expected a non-negative integer, got -1"),
    ({"next_part": "3"}, "field next_part: expected a non-negative integer"),
    ({"epoch": True}, "field epoch: expected a non-negative integer"),
    ({"lineage": "../x"}, "malformed lineage"),
    ({"first_part": 12}, "first_part 12 after next_part 11"),
    ({"single_file": True}, "the checkpoint wrote one file, this sink writes parts"),
    ({"extra": 1}, "expected the fields"),
])
def test_a_bad_sink_state_is_refused_before_any_file_is_touched(finished, state, message):
    df, out, path = finished
    before = files(out)
    rewrite(path, lambda d: sink_entry(d)["state"].update(state))
    with pytest.raises(ValueError, match=message):
        sl.restore(path, build(df, out)[0])
    assert files(out) == before


def test_restore_removes_only_the_parts_this_sink_wrote_after_the_checkpoint(tmp_path):
    df, out = frame(), tmp_path / "out"
    first, sink = build(df, out)
    for _ in range(4):
        first.step()
    first.checkpoint(tmp_path / "c.json")
    kept = files(out)
    for _ in range(3):
        first.step()
    assert len(files(out)) > len(kept)
    second, sink2 = build(df, out, batch_size=64)
    sl.restore(tmp_path / "c.json", second)
    assert files(out) == kept
    second.collect()
    got = pd.concat([pd.read_parquet(out / n) for n in sorted(files(out))], ignore_index=True)
    whole = build(df, tmp_path / "whole")[0].collect()
    key = ["window_start", "k"]
    pd.testing.assert_frame_equal(got.sort_values(key, ignore_index=True), whole.sort_values(key, ignore_index=True))


def test_files_it_did_not_write_make_restore_refuse(tmp_path):
    df, out = frame(), tmp_path / "out"
    first, sink = build(df, out)
    for _ in range(4):
        first.step()
    first.checkpoint(tmp_path / "c.json")
    for _ in range(3):
        first.step()
    after = sorted(files(out))[-1]
    # another run's part, a plain Parquet file and a file that is not Parquet, where the output continues
    other, _ = build(df, tmp_path / "other")
    other.collect()
    for name, source in [(after.replace(after[5:10], "00040"), tmp_path / "other" / "part-00005.parquet"),
                         ("part-00041.parquet", None), ("part-00042.parquet", "text")]:
        if source is None:
            pd.DataFrame({"a": [1]}).to_parquet(out / name)
        elif source == "text":
            (out / name).write_text("not parquet")
        else:
            shutil.copy(source, out / name)
        before = files(out)
        with pytest.raises(ValueError, match=f"{name} was not written by this sink after it.*nothing was deleted"):
            sl.restore(tmp_path / "c.json", build(df, out)[0])
        assert files(out) == before
        (out / name).unlink()


def test_a_missing_part_before_the_checkpoint_is_refused(tmp_path):
    df, out = frame(), tmp_path / "out"
    first, sink = build(df, out)
    for _ in range(4):
        first.step()
    first.checkpoint(tmp_path / "c.json")
    (out / "part-00001.parquet").unlink()
    before = files(out)
    with pytest.raises(ValueError, match="part-00001.parquet, written before it, is missing"):
        sl.restore(tmp_path / "c.json", build(df, out)[0])
    assert files(out) == before


def test_a_restore_failing_later_deletes_nothing(tmp_path):
    df, out = frame(), tmp_path / "out"
    first, sink = build(df, out)
    keep = Flaky(sink, poison=True)  # downstream of the sink: loaded after it
    for _ in range(4):
        first.step()
    first.checkpoint(tmp_path / "c.json")
    for _ in range(3):
        first.step()
    before = files(out)
    second, sink2 = build(df, out)
    keep2 = Flaky(sink2)
    with pytest.raises(ValueError, match=r"operator #5 \(flaky\) could not load it"):
        sl.restore(tmp_path / "c.json", second)
    assert files(out) == before and keep and keep2


def test_a_single_file_cannot_resume_after_rows_were_written(tmp_path):
    df = frame()
    first, sink = build(df, tmp_path / "w.parquet")
    for _ in range(4):
        first.step()
    assert sink.rows_written > 0
    first.checkpoint(tmp_path / "c.json")
    with pytest.raises(ValueError, match="a single Parquet file cannot resume after .* rows; write to a directory"):
        sl.restore(tmp_path / "c.json", build(df, tmp_path / "w.parquet")[0])
