"""``res.timeline()`` of an interval join: the data the figure is drawn from, against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import streamlab as sl
from streamlab.core.timecol import NEG_INF
from streamlab.teach.join_timeline import JoinTimeline

LOWER, UPPER, DELAY = 0, 2_000, 500


def frames(seed=0, n=40):
    rng = np.random.default_rng(seed)
    its = np.sort(rng.integers(0, 30_000, n))
    its = its + rng.integers(0, DELAY // 2, n)  # disorder within the watermark delay: nothing late
    imps = pd.DataFrame({"ts": its, "ad": rng.choice(["a1", "a2", "a3"], n), "imp": np.arange(n)})
    shown = imps.sample(n // 2, random_state=seed)
    cts = shown.ts.to_numpy() + rng.integers(100, 3_000, len(shown))  # some clicks fall outside the bound
    clicks = pd.DataFrame({"ts": cts, "ad": shown.ad.to_numpy(), "click": np.arange(len(shown))})
    clicks = clicks.sort_values("ts", kind="stable").reset_index(drop=True)
    clicks["ts"] = clicks.ts + rng.integers(0, DELAY // 2, len(clicks))
    return imps, clicks


@pytest.mark.parametrize("batch", [1, 5])
def test_the_join_timeline_draws_both_inputs_matches_watermarks_and_a_rows_bound(batch):
    imps, clicks = frames(seed=batch)
    a = sl.from_frame(imps, time="ts", unit="ms", batch_size=batch).watermark(DELAY)
    b = sl.from_frame(clicks, time="ts", unit="ms", batch_size=batch).watermark(DELAY)
    j = a.join(b, on="ad", between=(LOWER, UPPER), how="left")
    tl = j.timeline(row=3)
    assert isinstance(tl, JoinTimeline)
    j.collect()
    tl.flush()
    d = tl.data
    ev = d.tables["events"]
    # both inputs, every row, in its lane
    for side, df in (("left", imps), ("right", clicks)):
        mine = ev[ev.side == side]
        assert sorted(mine.x.astype("int64")) == sorted(df.ts)
        assert sorted(zip(mine.x.astype("int64"), mine.key)) == sorted(zip(df.ts, df.ad))
    # matches: pandas merge + filter on the bound
    m = imps.merge(clicks, on="ad")
    m = m[(m.ts_y >= m.ts_x + LOWER) & (m.ts_y <= m.ts_x + UPPER)]
    got = sorted(zip(d.tables["matches"].x0.astype("int64"), d.tables["matches"].x1.astype("int64"),
                     d.tables["matches"].key))
    assert got == sorted(zip(m.ts_x, m.ts_y, m.ad)) and len(got) > 0
    # impressions nobody clicked in time: emitted unmatched (LEFT join)
    lonely = imps[~imps.imp.isin(m.imp)]
    un = d.tables["unmatched"]
    assert sorted(un[un.side == "left"].x.astype("int64")) == sorted(lonely.ts) and len(lonely) > 0
    # each input's watermark after every arrival: max event time so far minus the delay
    for cut in range(0, d.count + 1, 7):
        arrived = ev[ev.n < cut]
        for side in ("left", "right"):
            xs = arrived[arrived.side == side].x
            want = int(xs.max()) - DELAY if len(xs) else NEG_INF
            assert d.watermark(side, cut) == want, (side, cut)
        assert d.joint(cut) == min(d.watermark("left", cut), d.watermark("right", cut))
    # the selected row: the 4th impression (arrival order = frame order); its bound on the click lane
    bound = tl.sources["bound"].data
    assert bound["left"] == [float(imps.ts[3] + LOWER)] and bound["right"] == [float(imps.ts[3] + UPPER)]
    assert bound["bottom"][0] < bound["top"][0] <= 1.0  # the right (clicks) lane
    assert tl.sources["selected"].data["x"] == [float(imps.ts[3])]
    # what the figure draws is the data
    assert len(tl.sources["events"].data["x"]) == len(imps) + len(clicks)
    assert len(tl.sources["matches"].data["x0"]) == len(m)
    wm = tl.sources["watermarks"].data
    assert sorted(wm["x0"]) == sorted([float(imps.ts.max() - DELAY), float(clicks.ts.max() - DELAY),
                                       float(min(imps.ts.max(), clicks.ts.max()) - DELAY)])
    # a right row's bound is the mirror image
    tl.select(0, side="right")
    first_click = ev[ev.side == "right"].sort_values("n").iloc[0]
    assert tl.sources["bound"].data["left"] == [first_click.x - UPPER]
    assert tl.sources["bound"].data["right"] == [first_click.x - LOWER]
    assert "last chance" in tl.caption.value
    tl.close()


def test_scrubbing_shows_the_matches_made_by_then():
    imps, clicks = frames(seed=2)
    a = sl.from_frame(imps, time="ts", unit="ms", batch_size=4).watermark(DELAY)
    b = sl.from_frame(clicks, time="ts", unit="ms", batch_size=4).watermark(DELAY)
    j = a.join(b, on="ad", between=(LOWER, UPPER))
    tl = j.timeline()
    j.collect()
    d = tl.data
    half = d.count // 2
    tl.scrub(half)
    ev = d.tables["events"]
    arrived = ev[ev.n < half]
    assert len(tl.sources["events"].data["x"]) == len(arrived)
    # every match drawn by then joins two rows that had arrived by then
    left = set(arrived[arrived.side == "left"].x)
    right = set(arrived[arrived.side == "right"].x)
    shown = tl.sources["matches"].data
    assert all(x0 in left and x1 in right for x0, x1 in zip(shown["x0"], shown["x1"]))
    tl.scrub(None)
    assert len(tl.sources["matches"].data["x0"]) == len(d.tables["matches"])
    tl.close()


def test_bad_row_and_side_say_what_to_pass():
    imps, clicks = frames()
    a = sl.from_frame(imps, time="ts", unit="ms").watermark(DELAY)
    b = sl.from_frame(clicks, time="ts", unit="ms").watermark(DELAY)
    j = a.join(b, on="ad", between=(LOWER, UPPER))
    with pytest.raises(ValueError, match="side="):
        j.timeline(row=1, side="middle")
    with pytest.raises(ValueError, match="row= takes"):
        j.timeline(row="first")
    w = a.window(sl.Tumble(1000)).agg(n=("ad", "size"))
    with pytest.raises(TypeError, match="interval join"):
        w.timeline(row=1)
