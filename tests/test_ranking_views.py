"""Views of changelog results: ``res.table()`` applies the changelog in place."""

from __future__ import annotations

import pandas as pd
import streamz

import streamlab as sl
from streamlab.viz.table import live_table
from streamlab.widgets.testing import dummy_comms


def test_live_table_applies_a_changelog_in_place():
    with dummy_comms() as comms:
        s = streamz.Stream()
        t = live_table(s, max_rows=10)
    s.emit(pd.DataFrame({"op": ["+I", "+I"], "page": ["/a", "/b"], "n": [1, 1]}))
    s.emit(pd.DataFrame({"op": ["-U", "+U"], "page": ["/a", "/a"], "n": [1, 2]}))
    assert sorted(zip(t.rows["page"], t.rows["n"])) == [("/a", 2), ("/b", 1)]
    assert "op" not in t.rows.columns
    html = comms[-1].updates()[-1]["state"]["value"]
    assert "updated in place" in html and "<td>2</td>" in html


def test_table_of_a_continuous_groupby_shows_the_final_counts():
    df = pd.DataFrame({"ts": range(6), "page": ["a", "b", "a", "c", "a", "b"]})
    res = sl.from_frame(df, time="ts", unit="s", batch_size=2).groupby("page").agg(n=("page", "size"))
    with dummy_comms():
        t = res.table()
    res.collect()
    assert dict(zip(t.rows["page"], t.rows["n"])) == {"a": 3, "b": 2, "c": 1}
