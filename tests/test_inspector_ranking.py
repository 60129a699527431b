"""The inspector shows each updating operator's state: the per-key aggregate (continuous groupby),
the current top N (continuous Top-N), the rows kept for deduplication, and the OVER buffer
waiting for the watermark. Each is checked against an independent pandas model of the rows seen
so far, through the snapshot and through what the inspector renders."""

from __future__ import annotations

import re
from html import unescape

import numpy as np
import pandas as pd
import pytest

import streamlab as sl
from streamlab.widgets.inspector import StateInspector
from streamlab.widgets.testing import dummy_comms


def events(n=120, seed=4):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"ts": np.arange(n) * 100 + rng.integers(0, 300, n), "k": rng.choice(list("abcd"), n),
                         "v": rng.integers(0, 1000, n).astype(float)})


def source(df, batch_size=25):
    return sl.from_frame(df, time="ts", unit="ms", batch_size=batch_size)


def op_of(res, kind):
    return next(op for op in res.snapshot()["operators"] if op["kind"] == kind)


def shown_rows(html: str) -> pd.DataFrame:
    """The table the inspector rendered, read back from its HTML."""
    head = [unescape(h) for h in re.findall(r"<th>(.*?)</th>", html)]
    body = re.findall(r"<tr>(.*?)</tr>", html.split("</thead>", 1)[1])
    rows = [[unescape(c) for c in re.findall(r"<td>(.*?)</td>", tr)] for tr in body]
    return pd.DataFrame(rows, columns=head)


def inspect(res, kind):
    with dummy_comms():
        ins = StateInspector()
        ins.update(res.snapshot())
    op = op_of(res, kind)
    assert ins.operator.value == op["id"], "the updating operator is selected first"
    assert ins.windows.layout.display == "none"
    return ins


def steps(res, n):
    for _ in range(n):
        res.step()


def test_groupby_state_is_the_per_key_aggregate_so_far():
    df = events()
    res = source(df).groupby("k").agg(n=("v", "size"), hi=("v", "max"))
    steps(res, 3)
    seen = df.head(75)
    want = seen.groupby("k").agg(n=("v", "size"), hi=("v", "max")).reset_index()
    state = op_of(res, "groupby")["state"]
    got = pd.DataFrame(state["table"]).sort_values("k", ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    ins = inspect(res, "groupby")
    assert ins.tabs.titles[0] == f"Per-key aggregate ({len(want)})"
    table = shown_rows(ins.detail.value).sort_values("k", ignore_index=True)
    assert table["n"].astype(int).tolist() == want["n"].tolist()
    assert table["hi"].astype(float).tolist() == want["hi"].tolist()


@pytest.mark.parametrize("n", [1, 3])
def test_top_n_state_is_the_current_top_n_per_key_in_rank_order(n):
    df = events()
    res = source(df).nlargest(n, "v", by="k")
    steps(res, 2)
    seen = df.head(50).reset_index(drop=True)
    want = (seen.assign(seq=range(len(seen))).sort_values(["k", "v", "seq"], ascending=[True, False, True])
            .groupby("k").head(n))
    want = want.assign(rank=want.groupby("k").cumcount() + 1)[["rank", "ts", "k", "v"]].reset_index(drop=True)
    kept = pd.DataFrame(op_of(res, "rank")["state"]["kept"])
    got = kept.sort_values(["k", "rank"], ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    ins = inspect(res, "rank")
    assert ins.tabs.titles[0] == f"Current top {n} per key ({len(want)} rows)"
    shown = shown_rows(ins.detail.value)
    assert shown["rank"].astype(int).tolist() == kept["rank"].tolist()  # in rank order, as the state has it
    assert sorted(zip(shown["k"], shown["v"].astype(float))) == sorted(zip(want["k"], want["v"]))


def test_keep_last_dedup_state_is_each_keys_latest_row():
    df = events()
    res = source(df).drop_duplicates("k", keep="last")
    steps(res, 2)
    want = df.head(50).sort_values("ts", kind="stable").groupby("k").tail(1)
    got = pd.DataFrame(op_of(res, "rank")["state"]["kept"])
    assert sorted(zip(got["k"], got["ts"])) == sorted(zip(want["k"], want["ts"]))
    assert inspect(res, "rank").tabs.titles[0] == f"Last row per key, kept for deduplication ({len(want)})"


def test_keep_first_dedup_state_is_the_rows_kept_until_the_watermark():
    df = events()
    res = source(df).watermark("2s").drop_duplicates("k", keep="first")
    steps(res, 1)
    seen = df.head(25)
    wm = seen["ts"].max() - 2000
    first = seen.sort_values("ts", kind="stable").groupby("k").head(1)
    want = first[first["ts"] > wm]  # earliest per key, not yet passed by the watermark
    got = pd.DataFrame(op_of(res, "dedup")["state"]["kept"])
    assert sorted(zip(got.get("k", []), got.get("ts", []))) == sorted(zip(want["k"], want["ts"]))
    ins = inspect(res, "dedup")
    assert ins.tabs.titles[0] == f"Rows kept for deduplication ({len(want)})"


def test_over_state_is_the_buffer_waiting_for_the_watermark():
    df = events()
    res = source(df).watermark("1500ms").rolling("1s", by="k").agg(avg=("v", "mean"))
    steps(res, 2)
    seen = df.head(50)
    wm = seen["ts"].max() - 1500
    want = seen[seen["ts"] > wm]  # not yet passed by the watermark
    state = op_of(res, "over")["state"]
    assert state["waiting_rows"] == len(want) > 0
    got = pd.DataFrame(state["waiting"])
    assert sorted(zip(got["k"], got["ts"])) == sorted(zip(want["k"], want["ts"]))
    ins = inspect(res, "over")
    assert ins.tabs.titles[0] == f"Waiting for the watermark ({len(want)})"
    shown = shown_rows(ins.detail.value)
    assert sorted(zip(shown["k"], shown["ts"].astype(int))) == sorted(zip(want["k"], want["ts"]))


def test_a_window_operator_still_lists_its_open_windows():
    df = events()
    res = source(df).watermark("1s").window(sl.Tumble("2s"), by="k").agg(n=("v", "size"))
    steps(res, 2)
    with dummy_comms():
        ins = StateInspector()
        ins.update(res.snapshot())
    assert ins.tabs.titles[0].startswith("Windows (") and ins.windows.layout.display is None


FORMS = {
    "groupby": (lambda s: s.groupby("k").agg(n=("v", "size")), "GroupByState"),
    "rank": (lambda s: s.nlargest(2, "v", by="k"), "RankState"),
    "keep-last": (lambda s: s.drop_duplicates("k", keep="last"), "RankState"),
    "dedup": (lambda s: s.watermark("1s").drop_duplicates("k"), "DedupState"),
    "over": (lambda s: s.watermark("1s").rolling("1s", by="k").agg(a=("v", "mean")), "OverState"),
    "window_rank": (lambda s: s.watermark("1s").window(sl.Tumble("2s")).nlargest(2, "v"), "WindowRankState"),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_each_updating_operators_state_is_its_declared_snapshot_type(form):
    import json
    import typing

    from streamlab.core.snapshot import DECLARED

    build, declared = FORMS[form]
    res = build(source(events()))
    steps(res, 2)
    op = next(o for o in res.snapshot()["operators"] if o["kind"] in ("groupby", "rank", "dedup", "over", "window_rank"))
    hints = typing.get_type_hints(DECLARED[declared])
    assert list(op["state"]) == list(hints)
    for field, hint in hints.items():
        base = typing.get_origin(hint) or hint
        assert isinstance(op["state"][field], base), (field, hint)
    json.dumps(op["state"])  # JSON as it is


def test_the_pipeline_views_inspector_shows_the_top_n_as_the_run_goes():
    from streamlab.widgets import view_for
    from streamlab.widgets.testing import from_browser

    df = events()
    res = source(df, batch_size=30).nlargest(2, "v", by="k")
    with dummy_comms():
        v = view_for(res)
        from_browser(v.details, state={"selected_index": 0})  # open the inspector
        for batches in (1, 3):
            while res.snapshot()["counters"]["in"] < 30 * batches:
                res.step()
            v.refresh(inspect=True)  # what the open inspector does every inspector_interval
            seen = df.head(30 * batches).reset_index(drop=True)
            want = seen.assign(seq=range(len(seen))).sort_values(["k", "v", "seq"], ascending=[True, False, True]).groupby("k").head(2)
            shown = shown_rows(v.inspector.detail.value)
            assert sorted(zip(shown["k"], shown["v"].astype(float))) == sorted(zip(want["k"], want["v"]))
            assert v.inspector.tabs.titles[0] == f"Current top 2 per key ({len(want)} rows)"
        v.close()
