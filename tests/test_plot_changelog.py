"""Live plots of changelog results apply the changelog in place (Zeppelin's "update" mode).

After every batch, the plot's Bokeh data sources must hold exactly the current table, checked
against an independent row-by-row materialisation of the changelog emitted so far (a multiset:
``+I``/``+U`` add a row, ``-U``/``-D`` remove an equal one).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
import streamz
from hypothesis import given, settings
from hypothesis import strategies as st

import streamlab as sl
from streamlab.viz.plot import PlotAccessor
from streamlab.widgets.testing import dummy_comms


def model(frames: list[pd.DataFrame]) -> Counter:
    """The table a changelog describes, applied one row at a time."""
    table: Counter = Counter()
    for df in frames:
        for op, *row in df.itertuples(index=False, name=None):
            if op in ("+I", "+U"):
                table[tuple(row)] += 1
            else:
                assert table[tuple(row)] > 0, f"{op} of a row not in the table: {row}"
                table[tuple(row)] -= 1
    return +table


def projected(frames, columns, x, y, by=None) -> Counter:
    """The model's rows as (x, y[, key]) pairs."""
    at = {c: i for i, c in enumerate(columns)}
    out: Counter = Counter()
    for row, n in model(frames).items():
        key = (row[at[by]],) if by else ()
        out[(row[at[x]], float(row[at[y]]), *key)] += n
    return out


def plotted(p, by=False) -> Counter:
    """The rows the plot's data sources hold, as (x or its label, y[, key])."""
    out: Counter = Counter()
    for key, src in p.sources.items():
        d = src.data
        xs = d["xl"] if p.labels is not None else d["x"]
        for i in range(len(d["y"])):
            x = xs[i].split(" (")[0] if p.labels is not None else xs[i]
            out[(x, float(d["y"][i]), *((key,) if by else ()))] += 1
    return out


def clicks(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"ts": np.arange(n), "page": rng.choice([f"/p{i}" for i in range(7)], n, p=[.3, .2, .15, .1, .1, .1, .05]),
                         "user": rng.choice(list("uvwxyz"), n)})


def trades(n=300, seed=1):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"ts": np.arange(n), "symbol": rng.choice(list("ABCDE"), n),
                         "price": np.round(rng.normal(100, 10, n), 1)})


def run_checking(res, plot, check):
    """Step ``res`` to the end; after every batch ``check(changes so far)``."""
    changes = res.sink_to_list()
    steps = 0
    while res.step():
        steps += 1
        check(list(changes))
    check(list(changes))  # the last step found the end of input and flushed
    assert res.snapshot()["state"] == "finished"
    return steps, changes


@pytest.mark.parametrize("batch_size", [1, 7, 10_000])
def test_a_bar_chart_of_a_continuous_groupby_shows_the_current_counts_largest_first(batch_size):
    res = sl.from_frame(clicks(), time="ts", unit="s", batch_size=batch_size).groupby("page").agg(n=("user", "size"))
    with dummy_comms():
        p = res.plot.bar(x="page", y="n")
    orders = []

    def check(frames):
        assert plotted(p) == projected(frames, list(res.columns)[1:], "page", "n")
        ys = list(p.sources[""].data["y"])
        assert ys == sorted(ys, reverse=True), "bars are ordered by y, largest first"
        assert list(p.sources[""].data["x"]) == list(range(len(ys)))
        axis = p.figure.xaxis[0]
        assert list(axis.ticker.ticks) == list(range(len(ys)))
        assert [axis.major_label_overrides[i] for i in range(len(ys))] == list(p.sources[""].data["xl"])
        orders.append(tuple(p.labels))

    _, changes = run_checking(res, p, check)
    final = sl.apply_changelog(pd.concat(changes, ignore_index=True))
    assert p.labels == list(final.sort_values(["n", "page"], ascending=[False, True])["page"])
    if batch_size == 1:  # the ranking changed on the way: the chart reordered
        assert len({tuple(o[:3]) for o in orders if len(o) >= 3}) > 1


@pytest.mark.parametrize("batch_size", [1, 13])
def test_a_top_n_bar_chart_reorders_as_ranks_change(batch_size):
    """nlargest(1, by=symbol): the best price per symbol; bars ordered by price."""
    res = sl.from_frame(trades(), time="ts", unit="s", batch_size=batch_size).nlargest(1, "price", by="symbol")
    with dummy_comms():
        p = res.plot.bar(x="symbol", y="price")
    orders = []

    def check(frames):
        want = projected(frames, list(res.columns)[1:], "symbol", "price")
        assert plotted(p) == want
        assert p.labels == [s for s, _ in sorted(((k[0], k[1]) for k in want), key=lambda t: (-t[1], t[0]))]
        orders.append(tuple(p.labels))

    run_checking(res, p, check)
    assert len(set(orders)) > 2, "the order of the bars changed as prices arrived"


@pytest.mark.parametrize("kind", ["line", "scatter"])
def test_a_top_n_over_time_drops_retracted_rows_from_the_plot(kind):
    """nlargest(5) without a key: rows leave the Top-5 (-D) and must leave the plot."""
    res = sl.from_frame(trades(), time="ts", unit="s", batch_size=4).nlargest(5, "price")
    with dummy_comms():
        p = getattr(res.plot, kind)(x="ts", y="price")
    deleted = []

    def check(frames):
        assert plotted(p) == projected(frames, list(res.columns)[1:], "ts", "price")
        assert list(p.sources[""].data["x"]) == sorted(p.sources[""].data["x"])
        deleted.append(sum((f["op"] == "-D").sum() for f in frames))

    run_checking(res, p, check)
    assert deleted[-1] > 0 and p.n_rows == 5


def test_series_per_key_follow_a_keep_last_deduplication():
    df = trades(200, seed=3)
    res = sl.from_frame(df, time="ts", unit="s", batch_size=9).drop_duplicates("symbol", keep="last")
    with dummy_comms():
        p = res.plot.scatter(x="ts", y="price", by="symbol")

    def check(frames):
        assert plotted(p, by=True) == projected(frames, list(res.columns)[1:], "ts", "price", by="symbol")

    run_checking(res, p, check)
    assert {k: len(s.data["y"]) for k, s in p.sources.items()} == dict.fromkeys("ABCDE", 1)


def test_a_deleted_key_empties_its_series_and_an_update_changes_its_bar():
    s = streamz.Stream()
    with dummy_comms():
        p = PlotAccessor(s).bar(x="page", y="n", by="page")
    frames = [pd.DataFrame({"op": ["+I", "+I", "+I"], "page": ["a", "b", "c"], "n": [1, 5, 3]}),
              pd.DataFrame({"op": ["-U", "+U", "-D"], "page": ["a", "a", "b"], "n": [1, 9, 5]})]
    for i, f in enumerate(frames):
        s.emit(f)
        assert plotted(p) == Counter({(x, float(y)): n for (x, y), n in model(frames[:i + 1]).items()})
    assert p.labels == ["a", "c"] and len(p.sources["b"].data["y"]) == 0
    assert p.changes_applied == 6 and p.n_rows == 2
    legend = {item.label.value: item.visible for item in p.figure.legend[0].items}
    assert legend == {"a": True, "b": False, "c": True}  # a key no longer in the table leaves the legend
    s.emit(pd.DataFrame({"op": ["+I"], "page": ["b"], "n": [4]}))
    assert p.figure.legend[0].items[1].visible and p.labels == ["a", "b", "c"]


def test_a_heatmap_of_a_two_key_groupby_holds_the_current_cells():
    df = clicks(300, seed=5)
    res = sl.from_frame(df, time="ts", unit="s", batch_size=11).groupby(["page", "user"]).agg(n=("ts", "size"))
    with dummy_comms():
        p = res.plot.heatmap(x="page", y="n", by="user")

    def check(frames):
        want = Counter()
        cols = list(res.columns)[1:]
        for row, k in model(frames).items():
            want[(row[cols.index("page")], row[cols.index("user")], float(row[cols.index("n")]))] += k
        cells = p.sources["cells"].data
        got = Counter(zip([x.split(" (")[0] for x in cells["xl"]], cells["key"], map(float, cells["y"])))
        assert got == want
        assert list(p.figure.y_range.factors) == sorted({u for _, u, _ in want})

    run_checking(res, p, check)


def test_an_append_only_plot_still_streams_rows():
    """No op column: rows are appended as before (no table kept)."""
    s = streamz.Stream()
    p = PlotAccessor(s).line(x="t", y="v")
    s.emit(pd.DataFrame({"t": [1.0, 2.0], "v": [3.0, 4.0]}))
    s.emit(pd.DataFrame({"t": [3.0], "v": [5.0]}))
    assert list(p.sources[""].data["y"]) == [3.0, 4.0, 5.0] and p.changelog is None


def test_a_view_made_after_a_run_starts_from_the_current_result_and_a_rerun_starts_again():
    df = clicks(200, seed=8)
    res = sl.from_frame(df, time="ts", unit="s", batch_size=9).groupby("page").agg(n=("user", "size"))
    cols = list(res.columns)[1:]
    first = res.collect()
    with dummy_comms():
        p = res.plot.bar(x="page", y="n")
        t = res.table()
    assert plotted(p) == projected([first], cols, "page", "n")  # before any new batch
    assert sorted(map(tuple, t.rows.values.tolist())) == sorted(model([first]))
    again = res.collect()  # from the start: the views follow the new run only
    assert plotted(p) == projected([again], cols, "page", "n")
    assert sorted(map(tuple, t.rows.values.tolist())) == sorted(model([again]))
    assert p.changelog.restarts == 1 and t.changelog.restarts == 1


def test_batches_coalesced_across_a_restart_keep_only_the_new_runs():
    """With a running loop, one flush may hold the end of one run and the start of the next."""
    from streamlab.viz.changes import LiveChangelog

    df = clicks(120, seed=9)
    res = sl.from_frame(df, time="ts", unit="s", batch_size=10).groupby("page").agg(n=("user", "size"))
    view = LiveChangelog(res)
    held = res.sink_to_list()
    for _ in range(5):
        res.step()
    view.update(list(held))
    held.clear()
    for _ in range(3):
        res.step()
    res.reset()
    for _ in range(4):
        res.step()
    old, new = held[:3], held[3:]
    view.update(old + new)
    assert view.restarts == 1
    assert sorted(map(tuple, view.rows.values.tolist())) == sorted(model(new))


def test_on_the_running_loop_coalesced_updates_end_at_the_final_table():
    """With a loop, flushes are throttled and several batches arrive at once; the end is exact."""
    import asyncio

    df = clicks(600, seed=12)
    res = sl.from_frame(df, time="ts", unit="s", batch_size=5).groupby("page").agg(n=("user", "size"))

    async def main():
        with dummy_comms():
            p = res.plot.bar(x="page", y="n", max_rate=5)
        log = await res.acollect()
        p.flush()
        return p, log

    p, log = asyncio.run(main())
    assert p.feeder.flushes < len(log)  # coalesced: fewer updates than batches with changes
    assert plotted(p) == projected([log], list(res.columns)[1:], "page", "n")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 9)), min_size=1, max_size=60),
       st.integers(1, 8), st.sampled_from(["groupby", "topn", "keep-last"]))
def test_property_the_plot_is_the_model_after_every_batch(rows, batch_size, form):
    df = pd.DataFrame({"ts": range(len(rows)), "k": [r[0] for r in rows], "v": [float(r[1]) for r in rows]})
    src = sl.from_frame(df, time="ts", unit="s", batch_size=batch_size)
    res = {"groupby": lambda: src.groupby("k").agg(v=("v", "sum")),
           "topn": lambda: src.nlargest(2, "v"),
           "keep-last": lambda: src.drop_duplicates("k", keep="last")}[form]()
    x = "k" if form == "groupby" else "ts"
    with dummy_comms():
        p = res.plot.bar(x=x, y="v")

    def check(frames):
        assert plotted(p) == projected(frames, list(res.columns)[1:], x, "v")

    run_checking(res, p, check)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["+I", "-U", "+U", "-D"]), st.sampled_from(["a", "b", None]),
                          st.integers(0, 2)), max_size=40))
def test_property_apply_changelog_is_the_row_by_row_model(rows):
    """The one materialisation the views share, against the model (also for invalid changelogs)."""
    log = pd.DataFrame(rows, columns=["op", "k", "n"]).astype({"op": object, "k": object, "n": "int64"})
    try:
        want = model([log])
    except AssertionError:
        with pytest.raises(ValueError, match="retracts"):
            sl.apply_changelog(log)
        return
    got = sl.apply_changelog(log)

    def null_as_none(row):
        return tuple(None if pd.isna(v) else v for v in row)

    assert Counter(map(null_as_none, got.values.tolist())) == Counter({null_as_none(r): c for r, c in want.items()})


def test_the_magics_plot_of_a_sql_group_by_is_the_current_table():
    """``%%streamlab --plot bar:x=page,y=n`` of a continuous GROUP BY: bars of the current counts."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    saved = dict(shell.user_ns)
    shell.run_line_magic("load_ext", "streamlab")
    try:
        shell.user_ns["clicks"] = sl.from_frame(clicks(300, seed=4), time="ts", unit="s", batch_size=25)
        with dummy_comms():
            shell.run_cell_magic("streamlab", "--name q --plot bar:x=page,y=n",
                                 "SELECT page, COUNT(*) AS n FROM clicks GROUP BY page")
        q = shell.user_ns["q"]
        import gc

        from streamlab.viz.plot import LivePlot

        (p,) = [o for o in gc.get_objects() if isinstance(o, LivePlot) and o.stream is q]  # the plot displayed
        changes = q.sink_to_list()
        while q.step():
            assert plotted(p) == projected(list(changes), list(q.columns)[1:], "page", "n")
        assert sum(y for _, y in plotted(p)) == 300
    finally:
        shell.run_line_magic("unload_ext", "streamlab")
        shell.user_ns.clear()
        shell.user_ns.update(saved)


def test_an_update_sends_the_new_table_as_a_patch_without_new_models():
    from tests.test_plots import streamed_events

    with dummy_comms() as comms:
        s = streamz.Stream()
        p = PlotAccessor(s).bar(x="page", y="n")
    comm = comms[-1]
    s.emit(pd.DataFrame({"op": ["+I", "+I", "+I"], "page": ["a", "b", "c"], "n": [1, 5, 3]}))
    comm.messages.clear()
    s.emit(pd.DataFrame({"op": ["-U", "+U"], "page": ["a", "a"], "n": [1, 9]}))
    events = streamed_events(comm)
    kinds = {e["kind"] for e in events}
    assert "ColumnDataChanged" in kinds and kinds <= {"ColumnDataChanged", "ModelChanged"}
    assert not any(e["kind"] == "ModelChanged" and e.get("attr") == "ticker" for e in events)
    assert not comm.updates(), "the document is not re-sent"
    assert p.labels == ["a", "b", "c"] and list(p.sources[""].data["y"]) == [9.0, 5.0, 3.0]


def test_a_text_axis_labels_at_most_max_labels_positions_and_the_hover_names_every_bar():
    from streamlab.viz.plot import MAX_LABELS

    s = streamz.Stream()
    with dummy_comms():
        p = PlotAccessor(s).bar(x="page", y="n")
    n = MAX_LABELS + 50
    s.emit(pd.DataFrame({"op": "+I", "page": [f"/p{i}" for i in range(n)], "n": range(n)}))
    axis = p.figure.xaxis[0]
    assert list(axis.ticker.ticks) == list(range(MAX_LABELS))
    assert axis.major_label_overrides[0] == f"/p{n - 1}"  # the largest first
    assert len(p.sources[""].data["xl"]) == n and len(p.labels) == n


@pytest.mark.parametrize("form", ["groupby", "topn", "keep-last"])
def test_a_plot_made_mid_run_starts_from_the_current_result_and_follows_on(form):
    df = trades(240, seed=6)
    src = sl.from_frame(df, time="ts", unit="s", batch_size=20)
    res = {"groupby": lambda: src.groupby("symbol").agg(price=("price", "max")),
           "topn": lambda: src.nlargest(3, "price", by="symbol"),
           "keep-last": lambda: src.drop_duplicates("symbol", keep="last")}[form]()
    changes = res.sink_to_list()
    for _ in range(4):
        res.step()
    x = "symbol" if form == "groupby" else "ts"
    with dummy_comms():
        p = res.plot.scatter(x=x, y="price")
    cols = list(res.columns)[1:]
    assert plotted(p) == projected(list(changes), cols, x, "price")  # before any new batch
    while res.step():
        assert plotted(p) == projected(list(changes), cols, x, "price")
    assert p.changelog.restarts == 0


def test_a_view_of_a_sql_group_by_made_mid_run_skips_retractions_of_rows_it_never_saw():
    """A projection has no current(): the view is partial, and follows on instead of failing."""
    from streamlab.sql.ranking import build

    src = sl.from_frame(clicks(300, seed=2), time="ts", unit="s", batch_size=20)
    res = build("SELECT page, COUNT(*) AS n FROM src GROUP BY page", {"src": src})
    changes = res.sink_to_list()
    for _ in range(5):
        res.step()
    with dummy_comms():
        p = res.plot.bar(x="page", y="n")
        t = res.table()
    seen_from = len(changes)
    while res.step():
        pass
    p.flush()
    final = projected(list(changes), list(res.columns)[1:], "page", "n")
    assert plotted(p) == final  # every key was updated after the view started
    assert sorted(zip(t.rows["page"], t.rows["n"].astype(float))) == sorted(final)
    at_start = {row[0] for row in model(changes[:seen_from])}  # keys whose row the view never saw
    retracted_after = {pg for f in changes[seen_from:] for pg in f.loc[f["op"] == "-U", "page"]}
    assert p.changelog.partial and p.changelog.unmatched == len(at_start & retracted_after) > 0
    assert p.feeder.errors == 0 and t.feeder.errors == 0
