"""``%%streamlab`` and ``sl.sql.query`` with Flink's syntax for Top-N, deduplication, OVER and
continuous GROUP BY: the same rows as the Python API, Flink's result types, and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

import streamlab as sl
from streamlab import extension
from streamlab.magics import StreamlabUsageError
from streamlab.ranking import apply_changelog
from streamlab.sql.errors import SQLError


def frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"ts": pd.to_datetime(np.arange(n) * 7 + rng.integers(-30, 30, n), unit="ms"),
                         "k": rng.choice(["a", "b", "c"], n), "v": rng.integers(0, 20, n), "id": np.arange(n)})


def src(df):
    return sl.from_frame(df, time="ts", batch_size=17).watermark("20ms")


def same(a, b, cols):
    pd.testing.assert_frame_equal(a[cols].sort_values(cols).reset_index(drop=True),
                                  b[cols].sort_values(cols).reset_index(drop=True), check_dtype=False)


TUMBLE = "TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '0.1' SECOND))"


def test_window_topn_sql_equals_the_python_api():
    df = frame()
    got = sl.sql.query(f"SELECT id, k, window_start, window_end, rownum FROM (SELECT *, ROW_NUMBER() OVER "
                       f"(PARTITION BY window_start, window_end, k ORDER BY v DESC) AS rownum FROM {TUMBLE}) "
                       f"WHERE rownum <= 2", src=src(df)).collect()
    want = src(df).window(sl.Tumble("100ms"), by="k").nlargest(2, "v").collect()
    assert list(got.columns) == ["id", "k", "window_start", "window_end", "rownum"]
    same(got, want, ["id", "window_start", "rownum"])


def test_window_dedup_and_continuous_forms_sql_equal_the_python_api():
    df = frame(seed=1)
    first = sl.sql.query(f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, k "
                         f"ORDER BY ts ASC) AS rownum FROM {TUMBLE}) WHERE rownum = 1", src=src(df)).collect()
    same(first, src(df).window(sl.Tumble("100ms"), by="k").drop_duplicates("first").collect(), ["id"])
    top = sl.sql.query("SELECT id, k, v FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) "
                       "AS rownum FROM src) WHERE rownum <= 3", src=src(df)).collect()
    assert list(top.columns) == ["op", "id", "k", "v"]
    same(apply_changelog(top), apply_changelog(src(df).nlargest(3, "v", by="k").collect()), ["id"])
    last = sl.sql.query("SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) AS rownum "
                        "FROM src) WHERE rownum = 1", src=src(df)).materialize()
    same(last, src(df).drop_duplicates("k", keep="last").materialize(), ["id"])
    keep_first = sl.sql.query("SELECT id, k FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts ASC) "
                              "AS rownum FROM src) WHERE rownum = 1", src=src(df)).collect()
    assert "op" not in keep_first.columns
    same(keep_first, src(df).drop_duplicates("k").collect(), ["id"])


def test_topn_after_a_window_aggregation_sql():
    df = frame(seed=2)
    got = sl.sql.query(f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end "
                       f"ORDER BY s DESC) AS rownum FROM (SELECT k, window_start, window_end, SUM(v) AS s FROM "
                       f"{TUMBLE} GROUP BY k, window_start, window_end)) WHERE rownum <= 1", src=src(df)).collect()
    want = src(df).window(sl.Tumble("100ms"), by="k").agg(s=("v", "sum")).nlargest(1, "s").collect()
    same(got, want, ["window_start", "s", "rownum"])


def test_over_and_group_by_sql_have_flinks_types():
    df = frame(seed=3)
    over = sl.sql.query("SELECT id, COUNT(v) OVER w AS c, AVG(v) OVER w AS m, MAX(v) OVER w AS hi FROM src "
                        "WINDOW w AS (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '0.05' SECOND PRECEDING "
                        "AND CURRENT ROW)", src=src(df)).collect()
    py = src(df).rolling("50ms", by="k").agg(c=("v", "count"), m=("v", "mean"), hi=("v", "max")).collect()
    assert list(over.columns) == ["id", "c", "m", "hi"]
    assert over["m"].dtype.kind == "i" and py["m"].dtype.kind == "f"  # AVG of INT is INT in SQL
    same(over.assign(m=over["m"]), py.assign(m=np.trunc(py["m"]).astype(int)), ["id", "c", "m", "hi"])
    rows = sl.sql.query("SELECT id, SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND "
                        "CURRENT ROW) AS s FROM src", src=src(df)).collect()
    same(rows, src(df).rolling(3, by="k").agg(s=("v", "sum")).collect(), ["id", "s"])
    g = sl.sql.query("SELECT k, COUNT(*) AS n, AVG(v) AS m FROM src GROUP BY k", src=src(df)).materialize()
    assert g["m"].dtype.kind == "i"
    want = df.groupby("k")["v"].agg(["size", "mean"])
    assert dict(zip(g["k"], g["n"])) == want["size"].to_dict()
    assert dict(zip(g["k"], g["m"])) == np.trunc(want["mean"]).astype(int).to_dict()


@pytest.mark.parametrize("query, message", [
    ("SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rownum FROM src) "
     "WHERE rownum <= v", "must be compared with a constant"),
    ("SELECT id, SUM(v) OVER (PARTITION BY k ORDER BY ts RANGE BETWEEN 5 PRECEDING AND CURRENT ROW) AS s FROM src",
     "must be a literal interval"),
    ("SELECT id, SUM(v) OVER (PARTITION BY k ORDER BY v ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s FROM src",
     "must be ORDER BY ts"),
    (f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rownum FROM {TUMBLE}) "
     "WHERE rownum <= 2", "PARTITION BY window_start, window_end"),
    ("SELECT k, v, COUNT(*) AS n FROM src GROUP BY k", "neither grouped nor aggregated"),
])
def test_bad_queries_give_clear_errors(query, message):
    with pytest.raises(SQLError, match=message) as info:
        sl.sql.query(query, src=src(frame(10)))
    assert info.value.kind in ("invalid", "unsupported")


@pytest.fixture(scope="module")
def shell():
    ip = InteractiveShell.instance()
    extension.load_ipython_extension(ip)  # direct: other modules load and unload it on this shell too
    yield ip


def test_magic_runs_the_forms_and_reports_errors_with_a_position(shell):
    shell.user_ns["clicks"] = sl.from_frame(pd.DataFrame({"ts": pd.to_datetime([0, 1, 2], unit="s"),
                                                          "page": ["/", "/a", "/"]}), time="ts")
    out = shell.run_cell_magic("streamlab", "--collect", "SELECT page, COUNT(*) AS n FROM clicks GROUP BY page")
    assert out["op"].tolist() == ["+I", "+I"] and dict(zip(out["page"], out["n"])) == {"/": 2, "/a": 1}
    with pytest.raises(StreamlabUsageError) as info:
        shell.run_cell_magic("streamlab", "", "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY page "
                             "ORDER BY ts DESC) AS rownum FROM clicks)\nWHERE rownum <= page")
    assert info.value.kind == "invalid" and "line 2" in str(info.value)
