"""The Flink SQL text of every join's export, and its refusals (fast: no Flink here).

That the exported scripts give streamlab's rows on Flink is checked in ``test_flink_joins.py``.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

import streamlab as sl
from streamlab.magics import StreamlabUsageError
from streamlab.sql.joins import run_statements

ROWS = pd.DataFrame({"ts": pd.to_datetime([0, 100, 1200, 1500], unit="ms"), "side": ["L", "R", "L", "R"],
                     "k": ["a", "a", "b", "b"], "v": [1, 2, 3, 4]})
USERS = pd.DataFrame({"k": ["a", "b"], "region": ["north", "south"]})


def sides(batch=10):
    src = sl.from_frame(ROWS, time="ts", batch_size=batch).watermark("200ms")
    return src.where("side == 'L'"), src.where("side == 'R'")


def export(stream, **options):
    return sl.flink.to_flink_sql(stream, path="/data/rows.csv", parts=True, **options)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize(("spec", "tvf"), [
    (sl.Tumble("1s"), "TUMBLE(TABLE src_l, DESCRIPTOR(ts), INTERVAL '1' SECOND)"),
    (sl.Hop("2s", "1s"), "HOP(TABLE src_l, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND)"),
    (sl.Cumulate("2s", "500ms"),
     "CUMULATE(TABLE src_l, DESCRIPTOR(ts), INTERVAL '0.500' SECOND, INTERVAL '2' SECOND)"),
])
@pytest.mark.parametrize("how", ["inner", "left", "right", "full"])
def test_window_join_is_a_join_of_two_tvf_subqueries(spec, tvf, how):
    left, right = sides()
    e = export(left.window(spec).join(right.window(spec), on="k", how=how))
    q = flat(e.query)
    join = {"inner": "JOIN", "left": "LEFT JOIN", "right": "RIGHT JOIN", "full": "FULL JOIN"}[how]
    assert f"FROM (SELECT * FROM TABLE({tvf})) AS l {join} (SELECT * FROM TABLE({tvf.replace('src_l', 'src_r')}))" \
           " AS r" in q
    assert q.endswith("ON l.k = r.k AND l.window_start = r.window_start AND l.window_end = r.window_end")
    key = "COALESCE(l.k, r.k) AS k" if how in ("right", "full") else "l.k AS k"
    assert key in q
    assert [n for n, _ in e.sink_columns] == list(left.window(spec).join(right.window(spec), on="k").columns)


def test_window_join_of_two_aggregations_joins_the_aggregation_queries():
    left, right = sides()
    a = left.window(sl.Tumble("1s"), by="k").agg(n=("v", "count"))
    b = right.window(sl.Tumble("1s"), by="k").agg(s=("v", "sum"))
    e = export(a.join(b, on="k", how="full"))
    q = flat(e.query)
    assert "FROM ( SELECT k, window_start, window_end, COUNT(v) AS n FROM TABLE(TUMBLE(TABLE src, " in q
    assert "WHERE side = 'L' GROUP BY k, window_start, window_end ) AS l FULL JOIN (" in q
    assert "COALESCE(l.window_start, r.window_start) AS window_start" in q
    assert e.sink_columns == [("k", "STRING"), ("window_start", "TIMESTAMP(3)"), ("window_end", "TIMESTAMP(3)"),
                              ("n", "BIGINT"), ("s", "BIGINT")]
    assert sum(d.startswith("CREATE TABLE src ") for d in e.ddl) == 1  # one source table for both


def test_temporal_join_reads_the_versioned_view_as_of_the_probe_time():
    left, right = sides()
    e = export(left.join_asof(right, on="k", how="left"))
    view = flat(e.more_ddl[-1])
    assert view == ("CREATE TEMPORARY VIEW src_r_versions AS SELECT ts, side, k, v FROM ( SELECT *, ROW_NUMBER() "
                    "OVER (PARTITION BY k ORDER BY ts DESC) AS rownum FROM src_r ) WHERE rownum = 1")
    assert "LEFT JOIN src_r_versions FOR SYSTEM_TIME AS OF l.ts AS r\nON l.k = r.k" in e.query


def test_numeric_time_uses_the_computed_rowtime():
    df = ROWS.assign(ts=[0, 100, 1200, 1500])
    src = sl.from_frame(df, time="ts", unit="ms").watermark(200)
    e = export(src.where("side == 'L'").join_asof(src.where("side == 'R'"), on="k"))
    assert "ORDER BY ts_time DESC" in e.more_ddl[-1]
    assert "FOR SYSTEM_TIME AS OF l.ts_time AS r" in e.query
    assert "l.ts AS ts_x" in e.query  # the number itself, not cast


def test_merge_exports_as_a_lookup_join_on_processing_time():
    left, _ = sides()
    e = export(left.merge(USERS, on="k", how="left"), lookup_table="users")
    assert "CREATE TEMPORARY VIEW src_rows_proc AS SELECT *, PROCTIME() AS proc_time FROM src_rows" in e.ddl
    assert "FROM src_rows_proc AS l LEFT JOIN users FOR SYSTEM_TIME AS OF l.proc_time AS r\nON l.k = r.k" in e.query
    assert "NOTE: users must be a lookup table holding the DataFrame's 2 rows, e.g. CREATE TABLE users " \
           "(k STRING, region STRING)" in e.script()


def test_merge_with_a_file_declares_a_versioned_table():
    left, _ = sides()
    e = export(left.merge(USERS, on="k"), lookup_table="users", paths={"users": "/data/users.csv"})
    table = flat(e.more_ddl[-1])
    assert table.startswith("CREATE TABLE users ( k STRING, region STRING, valid_from AS TIMESTAMP "
                            "'0001-01-01 00:00:00.000', WATERMARK FOR valid_from AS valid_from, PRIMARY KEY (k) "
                            "NOT ENFORCED ) WITH ( 'connector' = 'filesystem', 'path' = 'file:///data/users.csv'")
    assert "LEFT JOIN users FOR SYSTEM_TIME AS OF l.ts AS r" in e.query
    assert "'path' = 'file:///data/rows.csv'" in e.source_ddl  # paths= only names the users file


def test_merge_refusals_name_the_option():
    left, _ = sides()
    with pytest.raises(ValueError, match=r"pass lookup_table='users'"):
        left.merge(USERS, on="k").to_flink_sql()
    dup = pd.concat([USERS, USERS])
    with pytest.raises(ValueError, match=r"duplicate keys in \['k'\]; make them unique, or pass only "
                                         r"lookup_table='users'"):
        export(left.merge(dup, on="k"), lookup_table="users", paths={"users": "/d/u.csv"})
    nulls = pd.DataFrame({"k": ["a", None], "region": ["n", "s"]})
    with pytest.raises(ValueError, match="NULL keys"):
        export(left.merge(nulls, on="k"), lookup_table="users", paths={"users": "/d/u.csv"})
    assert "pandas merge matches them" in export(left.merge(nulls, on="k"), lookup_table="users").script()
    with pytest.raises(TypeError, match="lookup_table= takes a non-empty string"):
        export(left.merge(USERS, on="k"), lookup_table="")


def test_two_sources_need_a_file_each():
    a = sl.from_frame(ROWS, time="ts").watermark("200ms")
    b = sl.from_frame(ROWS, time="ts").watermark("200ms")
    j = a.join(b, on="k", between=("-1s", "1s"))
    with pytest.raises(ValueError, match=r"the join reads two sources; pass paths=\{'src_l'"):
        j.to_flink_sql(path="/data/one.csv")
    e = sl.flink.to_flink_sql(j, paths={"src_l": "/d/a.csv", "src_r": "/d/b.csv"}, parts=True)
    assert "'path' = 'file:///d/a.csv'" in e.ddl[0] and "'path' = 'file:///d/b.csv'" in e.ddl[1]


def test_own_tables_with_where_get_their_own_view_names():
    a = sl.from_frame(ROWS, time="ts").watermark("200ms").where("side == 'L'")
    b = sl.from_frame(ROWS, time="ts").watermark("200ms")
    e = sl.flink.to_flink_sql(a.join(b, on="k", between=("-1s", "1s")), paths={"src_l": "/a", "src_r": "/b"},
                              parts=True)
    assert "CREATE TEMPORARY VIEW src_l_rows AS SELECT * FROM src_l WHERE side = 'L'" in e.ddl
    assert "FROM src_l_rows AS l JOIN src_r AS r" in e.query


def test_a_where_before_the_watermark_is_refused():
    src = sl.from_frame(ROWS, time="ts")
    left = src.where("side == 'L'").watermark("200ms")
    right = src.watermark("200ms")
    with pytest.raises(ValueError, match=r"put \.watermark\(\.\.\.\) before \.where\(\.\.\.\)"):
        left.join(right, on="k", between=("-1s", "1s")).to_flink_sql(paths={"src_l": "/a", "src_r": "/b"})


def test_sql_join_select_list_exports_its_columns():
    left, right = sides()
    res = run_statements("SELECT l.v AS lv, r.v AS rv, l.k, COALESCE(l.k, r.k) AS ck FROM a AS l FULL JOIN b AS r "
                         "ON l.k = r.k AND r.ts BETWEEN l.ts - INTERVAL '1' SECOND AND l.ts + INTERVAL '1' SECOND",
                         {"a": left, "b": right}, {})
    e = export(res)  # l.k stays l.k (NULL where the left is padded, as Flink runs the cell), COALESCE stays
    assert e.query.startswith("SELECT l.v AS lv, r.v AS rv, l.k AS k, COALESCE(l.k, r.k) AS ck\n"
                              "FROM src_l AS l FULL JOIN")
    assert [n for n, _ in e.sink_columns] == list(res.collect().columns) == ["lv", "rv", "k", "ck"]


@pytest.fixture
def shell():
    ip = InteractiveShell.instance()
    saved = dict(ip.user_ns)
    ip.run_line_magic("load_ext", "streamlab")
    left, right = sides()
    ip.user_ns.update(lv=left, rv=right, enriched=left.merge(USERS, on="k"))
    yield ip
    ip.run_line_magic("unload_ext", "streamlab")
    ip.user_ns.clear()
    ip.user_ns.update(saved)


def test_magic_exports_a_sql_join_and_a_merge(shell, capsys):
    shell.run_cell_magic("streamlab", "--name wj", """
        SELECT L.v AS lv, R.v AS rv, L.window_start AS ws
        FROM (SELECT * FROM TABLE(TUMBLE(TABLE lv, DESCRIPTOR(ts), INTERVAL '1' SECOND))) L
        LEFT JOIN (SELECT * FROM TABLE(TUMBLE(TABLE rv, DESCRIPTOR(ts), INTERVAL '1' SECOND))) R
        ON L.k = R.k AND L.window_start = R.window_start AND L.window_end = R.window_end""")
    shell.run_line_magic("streamlab", "export wj --flink")
    text = capsys.readouterr().out
    assert "SELECT l.v AS lv, r.v AS rv, l.window_start AS ws\nFROM (SELECT * FROM TABLE(TUMBLE(TABLE src_l" in text
    with pytest.raises(StreamlabUsageError, match="lookup_table='users'.*hint: add --lookup-table TABLE"):
        shell.run_line_magic("streamlab", "export enriched --flink")
    shell.run_line_magic("streamlab", "export enriched --flink --lookup-table users")
    assert "LEFT JOIN users FOR SYSTEM_TIME AS OF l.proc_time AS r" in capsys.readouterr().out
