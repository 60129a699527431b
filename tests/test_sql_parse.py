"""The SQL layer without the engine: parse -> plan (exact values) and WHERE evaluation."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlab.sql import SQLError, TableInfo, plan_query
from streamlab.sql.compile import SQLPredicate
from streamlab.sql.plan import (
    Aggregate,
    And,
    Arith,
    Between,
    Col,
    Compare,
    In,
    IsNull,
    Like,
    Lit,
    Not,
    Or,
    Output,
)
from streamlab.sql.windows import CumulateWindow, HopWindow, SessionWindow, TumbleWindow

CATALOG = {
    "src": TableInfo(("ts", "key", "region", "value", "name", "n"), "ts"),
    "clicks": TableInfo(("ts", "user", "page"), "ts"),
}


def plan(sql: str):
    return plan_query(sql, CATALOG)


def ms(n: int) -> dt.timedelta:
    return dt.timedelta(milliseconds=n)


def fail(sql: str) -> SQLError:
    with pytest.raises(SQLError) as info:
        plan(sql)
    return info.value


def window_of(tvf: str):
    return plan(f"SELECT window_start, window_end, COUNT(*) AS n FROM TABLE({tvf}) "
                "GROUP BY window_start, window_end").window


# -- window TVFs --------------------------------------------------------------------------------


@pytest.mark.parametrize(("tvf", "expected"), [
    ("TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND)", TumbleWindow(size=ms(1000))),
    ("TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' HOUR, INTERVAL '15' MINUTE)",
     TumbleWindow(size=ms(3_600_000), offset=ms(900_000))),
    ("TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' MINUTE, -INTERVAL '10' SECOND)",
     TumbleWindow(size=ms(60_000), offset=ms(-10_000))),
    ("HOP(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '10' SECOND)",
     HopWindow(size=ms(10_000), slide=ms(1_000))),
    ("HOP(TABLE src, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND, INTERVAL '1' SECOND)",
     HopWindow(size=ms(10_000), slide=ms(2_000), offset=ms(1_000))),
    ("CUMULATE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '1' HOUR)",
     CumulateWindow(size=ms(3_600_000), step=ms(60_000))),
    ("CUMULATE(TABLE src, DESCRIPTOR(ts), INTERVAL '0.250' SECOND, INTERVAL '1' SECOND)",
     CumulateWindow(size=ms(1_000), step=ms(250))),
    ("SESSION(TABLE src, DESCRIPTOR(ts), INTERVAL '0.050' SECOND)",
     SessionWindow(gap=ms(50))),
], ids=["tumble", "tumble-offset", "tumble-negative-offset", "hop", "hop-offset", "cumulate",
        "cumulate-ms", "session-global"])
def test_each_tvf_gives_its_window(tvf, expected):
    assert window_of(tvf) == expected


def test_hop_takes_slide_then_size_like_flink():
    w = window_of("HOP(TABLE src, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '1' MINUTE)")
    assert (w.slide, w.size) == (ms(5_000), ms(60_000))


def test_named_arguments_in_any_order_after_data():
    w = window_of("HOP(DATA => TABLE src, TIMECOL => DESCRIPTOR(ts), SIZE => INTERVAL '10' "
                  "SECONDS, SLIDE => INTERVAL '2' SECONDS)")
    assert w == HopWindow(size=ms(10_000), slide=ms(2_000))


def test_tvf_without_table_wrapper_is_accepted():
    w = plan("SELECT window_end, COUNT(*) AS n FROM HOP(TABLE src, DESCRIPTOR(ts), "
             "INTERVAL '1' SECOND, INTERVAL '3' SECOND) GROUP BY window_start, window_end").window
    assert w == HopWindow(size=ms(3_000), slide=ms(1_000))


def test_session_partition_by_one_key_groups_by_it():
    p = plan("SELECT key, window_start, window_end, COUNT(*) AS n FROM TABLE(SESSION(TABLE src "
             "PARTITION BY key, DESCRIPTOR(ts), INTERVAL '30' SECOND)) "
             "GROUP BY key, window_start, window_end")
    assert p.window == SessionWindow(gap=ms(30_000), partition_by=("key",))
    assert p.keys == ("key",)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: TumbleWindow(size="1s"),
     "TUMBLE size must be a positive datetime.timedelta of whole milliseconds, e.g. "
     "size=timedelta(seconds=1); got '1s'"),
    (lambda: HopWindow(slide=ms(0), size=ms(10)), "HOP slide must be a positive"),
    (lambda: SessionWindow(gap=dt.timedelta(microseconds=1500)), "SESSION gap must be a positive"),
    (lambda: TumbleWindow(size=ms(10), offset=3), "TUMBLE offset must be a datetime.timedelta"),
    (lambda: CumulateWindow(step=ms(3), size=ms(10)),
     "CUMULATE size (10 ms) is not a multiple of its step (3 ms)"),
])
def test_plan_windows_check_their_durations(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_session_partition_by_several_keys_in_parentheses():
    p = plan("SELECT key, region, window_end, SUM(value) AS s FROM TABLE(SESSION(TABLE src "
             "PARTITION BY (key, region), DESCRIPTOR(ts), INTERVAL '1' MINUTE)) "
             "GROUP BY region, key, window_start, window_end")
    assert p.window.partition_by == ("key", "region")
    assert p.keys == ("region", "key")


@pytest.mark.parametrize(("interval", "millis"), [
    ("INTERVAL '1' SECOND", 1_000),
    ("INTERVAL '0.050' SECOND", 50),
    ("INTERVAL '1.5' SECONDS", 1_500),
    ("INTERVAL '10' MINUTES", 600_000),
    ("INTERVAL '2' HOUR", 7_200_000),
    ("INTERVAL '1' DAY", 86_400_000),
    ("INTERVAL '250' MILLISECOND", 250),
    ("INTERVAL 3 SECOND", 3_000),
    ("INTERVAL '5' SECOND(3)", 5_000),
    ("INTERVAL '5 seconds'", 5_000),
])
def test_interval_literals_in_milliseconds(interval, millis):
    assert window_of(f"TUMBLE(TABLE src, DESCRIPTOR(ts), {interval})").size == ms(millis)


# -- select list, aggregates, group keys -----------------------------------------------------


@pytest.mark.parametrize(("sql_agg", "expected"), [
    ("COUNT(*)", Aggregate("a", "size", "*")),
    ("COUNT(1)", Aggregate("a", "size", "*")),
    ("count(value)", Aggregate("a", "count", "value")),
    ("SUM(value)", Aggregate("a", "sum", "value")),
    ("AVG(value)", Aggregate("a", "mean", "value")),
    ("MIN(value)", Aggregate("a", "min", "value")),
    ("MAX(ts)", Aggregate("a", "max", "ts")),
])
def test_each_aggregate_maps_to_its_pandas_name(sql_agg, expected):
    p = plan(f"SELECT window_start, window_end, {sql_agg} AS a FROM TABLE(TUMBLE(TABLE src, "
             "DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end")
    assert p.aggregates == (expected,)


def test_issue_example_needs_no_projection():
    p = plan("""SELECT key, window_start, window_end, COUNT(*) AS cnt, AVG(value) AS avg_v
FROM TABLE(HOP(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '10' SECOND))
WHERE value > 0
GROUP BY key, window_start, window_end""")
    assert p.source == "src" and p.time_column == "ts"
    assert p.keys == ("key",)
    assert p.aggregates == (Aggregate("cnt", "size", "*"), Aggregate("avg_v", "mean", "value"))
    assert p.where == Compare(">", Col("value"), Lit(0))
    assert p.columns == ("key", "window_start", "window_end", "cnt", "avg_v")
    assert p.engine_columns == p.columns
    assert not p.needs_projection


def test_select_order_aliases_and_several_keys():
    p = plan("SELECT SUM(value) AS total, window_end AS until, region AS r, key, COUNT(*) "
             "FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) "
             "GROUP BY key, region, window_start, window_end")
    assert p.keys == ("key", "region")
    assert p.aggregates == (Aggregate("total", "sum", "value"), Aggregate("count", "size", "*"))
    assert p.outputs == (Output("total", "total"), Output("until", "window_end"),
                         Output("r", "region"), Output("key", "key"), Output("count", "count"))
    assert p.engine_columns == ("key", "region", "window_start", "window_end", "total", "count")
    assert p.needs_projection


def test_default_aggregate_names():
    p = plan("SELECT window_start, window_end, COUNT(*), COUNT(name), SUM(value), AVG(value), "
             "MIN(value), MAX(value) FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), "
             "INTERVAL '1' SECOND)) GROUP BY window_start, window_end")
    assert p.columns == ("window_start", "window_end", "count", "count_name", "sum_value",
                         "avg_value", "min_value", "max_value")


def test_window_columns_may_be_omitted():
    p = plan("SELECT key, MAX(value) AS top FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), "
             "INTERVAL '1' SECOND)) GROUP BY key, window_start, window_end")
    assert p.columns == ("key", "top")
    assert p.needs_projection


def test_grouped_key_may_be_left_out_of_select():
    p = plan("SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), "
             "INTERVAL '1' SECOND)) GROUP BY key, window_start, window_end, window_time")
    assert p.keys == ("key",)
    assert p.columns == ("window_end", "n")


def test_query_without_aggregates_counts_rows_hidden():
    p = plan("SELECT key, window_start, window_end FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), "
             "INTERVAL '1' SECOND)) GROUP BY key, window_start, window_end")
    assert p.aggregates == (Aggregate("_rows", "size", "*"),)
    assert p.columns == ("key", "window_start", "window_end")


def test_aggregate_alias_equal_to_a_key_is_renamed_inside_the_engine():
    p = plan("SELECT key AS k, COUNT(*) AS key FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), "
             "INTERVAL '1' SECOND)) GROUP BY key, window_start, window_end")
    assert p.aggregates == (Aggregate("_agg0_key", "size", "*"),)
    assert p.outputs == (Output("k", "key"), Output("key", "_agg0_key"))


def test_qualified_columns_with_source_or_alias():
    p = plan("SELECT t.key, src.window_end, SUM(t.value) AS s FROM TABLE(TUMBLE(TABLE src, "
             "DESCRIPTOR(ts), INTERVAL '1' SECOND)) AS t GROUP BY t.key, window_start, window_end")
    assert p.columns == ("key", "window_end", "s")


def test_quoted_identifiers_and_unknown_schema():
    catalog = {"my src": TableInfo(None, None)}
    p = plan_query("SELECT `odd col`, window_end, SUM(`v 2`) AS s FROM TABLE(TUMBLE(TABLE "
                   "`my src`, DESCRIPTOR(`t s`), INTERVAL '1' SECOND)) "
                   "GROUP BY `odd col`, window_start, window_end", catalog)
    assert (p.source, p.time_column, p.keys) == ("my src", "t s", ("odd col",))
    assert p.aggregates == (Aggregate("s", "sum", "v 2"),)


def test_trailing_semicolon_and_comments():
    p = plan("-- hourly\nSELECT window_end, COUNT(*) AS n /* rows */ FROM TABLE(TUMBLE(TABLE src, "
             "DESCRIPTOR(ts), INTERVAL '1' HOUR)) GROUP BY window_start, window_end;")
    assert p.columns == ("window_end", "n")


def test_describe_is_one_line():
    p = plan("SELECT key, window_end, AVG(value) AS a FROM TABLE(HOP(TABLE src, DESCRIPTOR(ts), "
             "INTERVAL '1' SECOND, INTERVAL '2' SECOND)) WHERE value > 0 "
             "GROUP BY key, window_start, window_end")
    assert p.describe() == ("src[ts] -> HOP(slide=1000ms, size=2000ms) WHERE value > 0 BY key "
                            "AGG a=AVG(value) -> key, window_end, a")


# -- WHERE -> predicate tree --------------------------------------------------------------------


def where_of(condition: str):
    return plan("SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), "
                f"INTERVAL '1' SECOND)) WHERE {condition} GROUP BY window_start, window_end").where


@pytest.mark.parametrize(("condition", "expected"), [
    ("value >= 2.5", Compare(">=", Col("value"), Lit(2.5))),
    ("value <> -1", Compare("<>", Col("value"), Lit(-1))),
    ("value != 1", Compare("<>", Col("value"), Lit(1))),
    ("name = 'it''s'", Compare("=", Col("name"), Lit("it's"))),
    ("1 < value", Compare("<", Lit(1), Col("value"))),
    ("value > 1 AND key = 'a' AND name IS NOT NULL",
     And((Compare(">", Col("value"), Lit(1)), Compare("=", Col("key"), Lit("a")),
          Not(IsNull(Col("name")))))),
    ("value > 1 OR (key = 'a' AND NOT value < 0)",
     Or((Compare(">", Col("value"), Lit(1)),
         And((Compare("=", Col("key"), Lit("a")), Not(Compare("<", Col("value"), Lit(0)))))))),
    ("key IN ('a', 'b', NULL)", In(Col("key"), (Lit("a"), Lit("b"), Lit(None)))),
    ("key NOT IN (1, 2)", Not(In(Col("key"), (Lit(1), Lit(2))))),
    ("value BETWEEN 1 AND 10", Between(Col("value"), Lit(1), Lit(10))),
    ("value NOT BETWEEN 1 AND 10", Not(Between(Col("value"), Lit(1), Lit(10)))),
    ("name IS NULL", IsNull(Col("name"))),
    ("name LIKE 'temp%'", Like(Col("name"), "temp%")),
    ("value * 2 + 1 > 3", Compare(">", Arith("+", Arith("*", Col("value"), Lit(2)), Lit(1)),
                                  Lit(3))),
    ("ts >= TIMESTAMP '2024-01-01 00:00:00'",
     Compare(">=", Col("ts"), Lit(dt.datetime(2024, 1, 1)))),
    ("value > 0 AND TRUE", And((Compare(">", Col("value"), Lit(0)), Compare("=", Lit(True),
                                                                             Lit(True))))),
])
def test_where_forms(condition, expected):
    assert where_of(condition) == expected


def test_decimal_literals_are_doubles_like_flinks_comparison():
    where = where_of("value > 0.1")
    assert type(where.right.value) is float
    mask = SQLPredicate(where)(pd.DataFrame({"value": [0.1, 0.2]}))
    assert mask.tolist() == [False, True]  # not 0.1 > Decimal('0.1')
    assert SQLPredicate(where).sql == "value > 0.1"


# -- errors: kind, position and hint -------------------------------------------------------------

GOOD_FROM = "FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))"
GROUP = "GROUP BY window_start, window_end"


def test_misspelt_tvf_says_did_you_mean_hop():
    e = fail("SELECT window_end, COUNT(*) AS n\nFROM TABLE(HOOP(TABLE src, DESCRIPTOR(ts), "
             "INTERVAL '1' SECOND, INTERVAL '5' SECOND))\nGROUP BY window_start, window_end")
    assert (e.kind, e.line, e.column, e.hint) == ("unknown_function", 2, 12, "did you mean HOP?")
    assert str(e) == "line 2, column 12: unknown window function HOOP — hint: did you mean HOP?"


def test_unknown_stream_lists_streams_in_scope():
    e = fail(f"SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE srx, DESCRIPTOR(ts), "
             f"INTERVAL '1' SECOND)) {GROUP}")
    assert (e.kind, e.line, e.column) == ("unknown_stream", 1, 58)
    assert e.hint == "did you mean src? streams in scope: clicks, src"


def test_unknown_column_lists_the_columns():
    e = fail(f"SELECT window_end,\n       AVG(valeu) AS a\n{GOOD_FROM}\n{GROUP}")
    assert (e.kind, e.line, e.column) == ("unknown_column", 2, 12)
    assert e.what == "unknown column 'valeu'"
    assert e.hint == "did you mean value? columns of src: ts, key, region, value, name, n"


def test_unknown_column_in_where_and_group_by():
    assert fail(f"SELECT window_end, COUNT(*) AS n {GOOD_FROM} WHERE nope > 1 {GROUP}").hint == (
        "columns of src: ts, key, region, value, name, n")
    e = fail(f"SELECT window_end, COUNT(*) AS n {GOOD_FROM} GROUP BY kye, window_start, window_end")
    assert (e.kind, e.hint.split("?")[0]) == ("unknown_column", "did you mean key")


def test_misspelt_aggregate():
    e = fail(f"SELECT window_end, AVERAGE(value) AS a {GOOD_FROM} {GROUP}")
    assert (e.kind, e.what, e.hint) == ("unknown_function", "unknown function AVERAGE",
                                        "did you mean AVG?")


def test_misspelt_descriptor():
    e = fail("SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE src, DESCRIPTER(ts), "
             f"INTERVAL '1' SECOND)) {GROUP}")
    assert (e.kind, e.hint) == ("unknown_function", "did you mean DESCRIPTOR?")


@pytest.mark.parametrize(("sql", "what"), [
    (f"SELECT window_end, COUNT(*) AS n {GOOD_FROM} {GROUP} ORDER BY window_end",
     "ORDER BY is not supported"),
    (f"SELECT window_end, COUNT(*) AS n {GOOD_FROM} {GROUP} HAVING COUNT(*) > 1",
     "HAVING is not supported"),
    (f"SELECT window_end, COUNT(*) AS n {GOOD_FROM} {GROUP} LIMIT 5", "LIMIT is not supported"),
    (f"SELECT window_end, COUNT(*) AS n {GOOD_FROM} AS a JOIN clicks AS b ON a.key = b.user "
     f"{GROUP}", "JOIN is not supported"),
    (f"SELECT DISTINCT window_end {GOOD_FROM} {GROUP}", "SELECT DISTINCT is not supported"),
    (f"SELECT window_end, COUNT(*) AS n {GOOD_FROM} WHERE value IN (SELECT 1) {GROUP}",
     "subqueries are not supported"),
    (f"SELECT window_end, COUNT(*) OVER (PARTITION BY key) AS n {GOOD_FROM} {GROUP}",
     "window functions (OVER ...) are not supported"),
    (f"SELECT * {GOOD_FROM} {GROUP}", "SELECT *"),
    (f"SELECT window_end, COUNT(DISTINCT key) AS n {GOOD_FROM} {GROUP}", "COUNT(DISTINCT key)"),
    (f"SELECT window_end, STDDEV_POP(value) AS n {GOOD_FROM} {GROUP}", "aggregate STDDEV_POP"),
    (f"SELECT window_end, value + 1 AS n {GOOD_FROM} {GROUP}", "ADD in SELECT"),
    (f"SELECT window_time, COUNT(*) AS n {GOOD_FROM} {GROUP}", "window_time in SELECT"),
    (f"SELECT window_end, COUNT(*) AS n FROM src {GROUP}",
     "FROM needs a window table-valued function"),
    ("SELECT key, COUNT(*) AS n FROM src GROUP BY key, TUMBLE(ts, INTERVAL '1' HOUR)",
     "FROM needs a window table-valued function"),
    (f"SELECT window_end, COUNT(*) AS n {GOOD_FROM} WHERE UPPER(name) = 'A' {GROUP}",
     "UPPER in WHERE"),
    ("SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE src PARTITION BY key, "
     f"DESCRIPTOR(ts), INTERVAL '1' SECOND)) {GROUP}", "PARTITION BY in TUMBLE"),
    ("SELECT key, window_end, COUNT(*) AS n FROM TABLE(SESSION(TABLE src, DESCRIPTOR(ts), "
     "INTERVAL '1' SECOND)) GROUP BY key, window_start, window_end",
     "SESSION sessions are per PARTITION BY key, so PARTITION BY and the GROUP BY keys must match"),
    ("WITH x AS (SELECT 1) SELECT 1", "WITH (common table expressions) is not supported"),
    ("INSERT INTO t SELECT 1", "INSERT statements are not supported"),
    ("SELECT 1; SELECT 2", "more than one statement"),
])
def test_unsupported_constructs_are_named(sql, what):
    e = fail(sql)
    assert (e.kind, e.what) == ("unsupported", what)
    assert e.hint


@pytest.mark.parametrize(("sql", "what", "hint"), [
    ("SELECT window_end, COUNT(*) AS n FROM TABLE(HOP(TABLE src, DESCRIPTOR(ts), "
     f"INTERVAL '3' SECOND, INTERVAL '10' SECOND)) {GROUP}",
     "HOP size (10000 ms) is not a multiple of its slide (3000 ms)",
     "HOP(TABLE src, DESCRIPTOR(ts), slide, size [, offset]): note the slide comes before the size"),
    ("SELECT window_end, COUNT(*) AS n FROM TABLE(HOP(TABLE src, DESCRIPTOR(ts), "
     f"INTERVAL '10' SECOND)) {GROUP}", "HOP is missing SIZE",
     "HOP(TABLE src, DESCRIPTOR(ts), slide, size [, offset])"),
    ("SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), 5)) "
     f"{GROUP}", "TUMBLE size must be an INTERVAL, got 5",
     "write INTERVAL '10' SECOND (units: SECOND, MINUTE, HOUR, DAY; '0.050' SECOND is 50 ms)"),
    ("SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), "
     f"INTERVAL '0.0005' SECOND)) {GROUP}",
     "TUMBLE size INTERVAL '0.0005' SECOND is not a whole number of milliseconds",
     "windows are computed in milliseconds (Flink's TIMESTAMP(3))"),
    ("SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), "
     f"INTERVAL '1' MONTH)) {GROUP}", "TUMBLE size: unit MONTH is not supported",
     "calendar units (MONTH, YEAR) have no fixed length; write INTERVAL '10' SECOND (units: "
     "SECOND, MINUTE, HOUR, DAY; '0.050' SECOND is 50 ms)"),
    ("SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), "
     f"INTERVAL '0' SECOND)) {GROUP}", "TUMBLE size must be positive, got INTERVAL '0' SECOND",
     "write INTERVAL '10' SECOND (units: SECOND, MINUTE, HOUR, DAY; '0.050' SECOND is 50 ms)"),
    ("SELECT window_end, COUNT(*) AS n FROM TABLE(SESSION(TABLE src, DESCRIPTOR(ts), "
     f"INTERVAL '1' SECOND, INTERVAL '1' SECOND)) {GROUP}", "too many arguments for SESSION",
     "SESSION(TABLE src [PARTITION BY key], DESCRIPTOR(ts), gap)"),
    ("SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), "
     f"GAP => INTERVAL '1' SECOND)) {GROUP}", "TUMBLE has no parameter GAP",
     "parameters: DATA, TIMECOL, SIZE, OFFSET"),
    ("SELECT window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(value), "
     f"INTERVAL '1' SECOND)) {GROUP}", "'value' is not the event-time column of src",
     "write DESCRIPTOR(ts), or build the stream with time='value'"),
    (f"SELECT key, window_end, COUNT(*) AS n {GOOD_FROM} {GROUP}",
     "'key' is neither grouped nor aggregated",
     "add key to GROUP BY or aggregate it, e.g. MAX(key)"),
    (f"SELECT window_end, COUNT(*) AS n {GOOD_FROM} GROUP BY window_end",
     "GROUP BY lacks window_start", "add window_start to GROUP BY"),
    (f"SELECT window_end, COUNT(*) AS n {GOOD_FROM}",
     "a window aggregation needs GROUP BY", "GROUP BY window_start, window_end"),
    (f"SELECT window_end, COUNT(*) AS n, SUM(value) AS n {GOOD_FROM} {GROUP}",
     "duplicate output column 'n'", "give one of them another name with AS"),
    (f"SELECT window_end, COUNT(*) AS n {GOOD_FROM} WHERE SUM(value) > 1 {GROUP}",
     "aggregates are not allowed in WHERE",
     "WHERE filters rows before windowing; HAVING is not supported"),
])
def test_invalid_queries(sql, what, hint):
    e = fail(sql)
    assert (e.kind, e.what, e.hint) == ("invalid", what, hint)


def test_window_start_in_where_is_an_unknown_column():
    e = fail(f"SELECT window_end, COUNT(*) AS n {GOOD_FROM} WHERE window_start > 0 {GROUP}")
    assert (e.kind, e.what) == ("unknown_column", "window_start is not available in WHERE")


@pytest.mark.parametrize(("sql", "line", "column", "what"), [
    ("SELECT window_end, COUNT(*) AS n\nFROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), "
     "INTERVAL '1' SECOND)", 2, 66, "unexpected end of query: expected ')'"),
    ("SELECT window_end,\n  COUNT(*) AS n\nFROM TABLE(src)", 3, 12,
     "expected a window function such as TUMBLE(...) inside TABLE(...)"),
    ("SELECT window_end FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1 SECOND))",
     1, 73, "cannot read the query text (unclosed quote?)"),
    ("", 1, 1, "empty query"),
    ("SELECT FROM WHERE", 1, 13, "expected table name but got 'WHERE'"),
    ("SELECT a,\n  b c d FROM x", 2, 7, "unexpected 'd'"),
])
def test_syntax_errors_point_at_line_and_column(sql, line, column, what):
    e = fail(sql)
    assert (e.kind, e.line, e.column, e.what) == ("syntax", line, column, what)
    assert "\n" not in str(e)


# -- WHERE evaluation: SQL three-valued logic, vectorised ---------------------------------------

FRAME = pd.DataFrame({
    "ts": pd.to_datetime(["2024-01-01 00:00:00", "2024-01-01 00:00:01", "2024-01-02 00:00:00",
                          "2024-01-02 00:00:05"], utc=True),
    "key": ["a", "b", None, "tempo"],
    "value": [1.0, np.nan, 5.0, -2.0],
    "n": [1, 2, 3, 4],
})


def mask(condition: str) -> list[bool]:
    return SQLPredicate(where_of(condition))(FRAME).tolist()


@pytest.mark.parametrize(("condition", "expected"), [
    ("value > 0", [True, False, True, False]),
    ("value <> 1", [False, False, True, True]),            # NULL <> 1 is unknown
    ("NOT value > 0", [False, False, False, True]),        # NOT unknown is unknown
    ("value > 0 OR key = 'b'", [True, True, True, False]),  # unknown OR true is true
    ("NOT (value > 0 AND key = 'b')", [True, False, False, True]),
    ("key IN ('a', 'tempo')", [True, False, False, True]),
    ("key NOT IN ('a', NULL)", [False, False, False, False]),  # NOT IN with NULL: never true
    ("key IN ('a', NULL)", [True, False, False, False]),
    ("value BETWEEN -2 AND 1", [True, False, False, True]),
    ("value NOT BETWEEN -2 AND 1", [False, False, True, False]),
    ("value IS NULL", [False, True, False, False]),
    ("key IS NOT NULL", [True, True, False, True]),
    ("key LIKE 't_m%'", [False, False, False, True]),
    ("key NOT LIKE 'a%'", [False, True, False, True]),
    ("n / 2 = 1", [False, True, True, False]),  # integer division truncates (3 / 2 = 1)
    ("n % 3 = 1", [True, False, False, True]),
    ("value * 2 >= 2", [True, False, True, False]),
    ("ts >= TIMESTAMP '2024-01-02 00:00:00'", [False, False, True, True]),  # naive literal = UTC
    ("value = NULL", [False, False, False, False]),
])
def test_where_masks(condition, expected):
    assert mask(condition) == expected


def test_predicate_keeps_length_on_empty_frames():
    assert SQLPredicate(where_of("value > 0"))(FRAME.iloc[:0]).tolist() == []


def _py_compare(a, b, op):
    if a is None or b is None:
        return None
    return {"<": a < b, ">": a > b, "=": a == b, "<>": a != b}[op]


def _py_and(a, b):
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _py_or(a, b):
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


@settings(max_examples=150, deadline=None)
@given(
    xs=st.lists(st.one_of(st.none(), st.integers(-3, 3)), min_size=0, max_size=12),
    ys=st.lists(st.one_of(st.none(), st.integers(-3, 3)), min_size=12, max_size=12),
    c1=st.integers(-3, 3), c2=st.integers(-3, 3),
    op1=st.sampled_from(["<", ">", "=", "<>"]), op2=st.sampled_from(["<", ">", "=", "<>"]),
    join=st.sampled_from(["AND", "OR"]), negate=st.booleans(),
)
def test_three_valued_logic_matches_a_row_by_row_model(xs, ys, c1, c2, op1, op2, join, negate):
    ys = ys[: len(xs)]
    frame = pd.DataFrame({"value": pd.array(xs, dtype="Float64").astype(float),
                          "n": pd.array(ys, dtype="Float64").astype(float)})
    condition = f"value {op1} {c1} {join} n {op2} {c2}"
    if negate:
        condition = f"NOT ({condition})"
    predicate = SQLPredicate(plan_query(
        "SELECT window_end, COUNT(*) AS k FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), "
        f"INTERVAL '1' SECOND)) WHERE {condition} GROUP BY window_start, window_end",
        {"t": TableInfo(None, "ts")}).where)
    expected = []
    for x, y in zip(xs, ys):
        a, b = _py_compare(x, c1, op1), _py_compare(y, c2, op2)
        r = _py_and(a, b) if join == "AND" else _py_or(a, b)
        if negate and r is not None:
            r = not r
        expected.append(r is True)
    assert predicate(frame).tolist() == expected
