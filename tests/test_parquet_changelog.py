"""``to_parquet`` of a changelog writes the changelog, ``op`` column first: reading the parts back
in order and applying them gives the materialised table, also across a checkpoint and restore
(the sink's parts are exactly-once)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import streamlab as sl


def events(n=800, seed=2):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"ts": np.arange(n) * 5 + rng.integers(-50, 50, n), "k": rng.choice(list("abcdefg"), n),
                         "v": rng.integers(0, 200, n) * 0.5})


BUILD = {
    "groupby": lambda s: s.groupby("k").agg(n=("v", "size"), s=("v", "sum"), avg=("v", "mean")),
    "topn": lambda s: s.nlargest(2, "v", by="k"),
    "keep-last": lambda s: s.drop_duplicates("k", keep="last"),
}


def build(name, df, batch_size=40):
    return BUILD[name](sl.from_frame(df, time="ts", unit="ms", batch_size=batch_size))


def read_parts(directory):
    """Every part file in part order (the order the sink wrote them)."""
    parts = sorted(p for p in directory.iterdir() if p.name.startswith("part-"))
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


def canonical(df):
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("name", sorted(BUILD))
def test_the_parts_hold_the_changelog_and_give_the_table(tmp_path, name):
    df = events()
    expected_log = build(name, df).collect()
    res = build(name, df)
    res.to_parquet(tmp_path / "out")
    res.collect()
    log = read_parts(tmp_path / "out")
    assert list(log.columns)[0] == "op" and set(log["op"]) <= {"+I", "-U", "+U", "-D"}
    assert {"-U", "+U"} <= set(log["op"]) or {"-D"} <= set(log["op"])  # it really changed
    pd.testing.assert_frame_equal(log, expected_log)
    table = sl.apply_changelog(log)
    pd.testing.assert_frame_equal(canonical(table), canonical(build(name, df, 1000).materialize()))
    # the whole directory read at once (pandas orders the parts by name) says the same
    pd.testing.assert_frame_equal(sl.apply_changelog(pd.read_parquet(tmp_path / "out")), table)


def test_a_single_file_holds_the_changelog_too(tmp_path):
    df = events(300)
    res = build("groupby", df)
    res.to_parquet(tmp_path / "log.parquet")
    res.collect()
    log = pd.read_parquet(tmp_path / "log.parquet")
    pd.testing.assert_frame_equal(canonical(sl.apply_changelog(log)), canonical(build("groupby", df).materialize()))


@pytest.mark.parametrize("name", sorted(BUILD))
def test_parts_after_a_checkpoint_and_restore_give_the_table(tmp_path, name):
    df, out = events(), tmp_path / "out"
    first = build(name, df)
    first.to_parquet(out)
    for _ in range(5):
        first.step()
    first.checkpoint(tmp_path / "c.json")
    for _ in range(3):  # written after the checkpoint: removed at restore
        first.step()
    second = build(name, df, batch_size=40)
    second.to_parquet(out)
    sl.restore(tmp_path / "c.json", second)
    second.collect()
    log = read_parts(out)
    pd.testing.assert_frame_equal(log, build(name, df).collect())  # nothing lost, nothing twice
    pd.testing.assert_frame_equal(canonical(sl.apply_changelog(log)), canonical(build(name, df).materialize()))
