"""%%streamlab speaks Flink's join syntax: interval, window and temporal joins, views, statements."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

import streamlab as sl
from streamlab.magics import StreamlabUsageError

T0 = 1_000_000


def frame(rows, cols):
    df = pd.DataFrame(rows, columns=cols)
    df["ts"] = pd.to_datetime(df["ts"] + T0, unit="ms")
    return df


IMPRESSIONS = frame([(1, 0, "ad1"), (2, 100, "ad2"), (3, 900, "ad1"), (4, 3000, "ad3")], ["iid", "ts", "ad"])
CLICKS = frame([(10, 50, "ad1"), (11, 400, "ad2"), (12, 2500, "ad1"), (13, 3100, "ad3")], ["cid", "ts", "ad"])
RATES = frame([(20, 0, "EUR", 1.1), (21, 1000, "EUR", 1.2), (22, 500, "EUR", 9.9), (23, 0, "USD", 1.0)],
              ["rid", "ts", "cur", "rate"])
ORDERS = frame([(30, 200, "EUR"), (31, 1500, "EUR"), (32, 1500, "USD"), (33, 1600, "GBP")], ["oid", "ts", "cur"])


@pytest.fixture(scope="module")
def shell():
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "streamlab")
    yield ip
    ip.run_line_magic("unload_ext", "streamlab")  # the extension manager forgets it too


@pytest.fixture
def ns(shell):
    saved = dict(shell.user_ns)
    shell.user_ns.update(
        imps=sl.from_frame(IMPRESSIONS, time="ts", batch_size=1).watermark("100ms"),
        clicks=sl.from_frame(CLICKS, time="ts", batch_size=1).watermark("100ms"),
        rates=sl.from_frame(RATES, time="ts", batch_size=2).watermark("0ms"),
        orders=sl.from_frame(ORDERS, time="ts", batch_size=2).watermark("0ms"),
    )
    yield shell.user_ns
    shell.user_ns.clear()
    shell.user_ns.update(saved)


def sql(shell, body: str, line: str = "--collect"):
    return shell.run_cell_magic("streamlab", line, body)


def ids(out, a, b):
    return sorted(((None if pd.isna(x) else int(x), None if pd.isna(y) else int(y)) for x, y in
                  zip(out[a], out[b])), key=repr)


def api_interval(how):
    imps = sl.from_frame(IMPRESSIONS, time="ts", batch_size=1).watermark("100ms")
    clicks = sl.from_frame(CLICKS, time="ts", batch_size=1).watermark("100ms")
    return imps.join(clicks, on="ad", between=("0s", "1s"), how=how).collect()


@pytest.mark.parametrize("how", ["inner", "left", "right", "full"])
def test_interval_join_on_equals_the_python_api(shell, ns, how):
    join = {"inner": "JOIN", "left": "LEFT JOIN", "right": "RIGHT OUTER JOIN", "full": "FULL OUTER JOIN"}[how]
    out = sql(shell, f"""
        SELECT i.iid, c.cid AS click, i.ad
        FROM imps AS i {join} clicks c
          ON i.ad = c.ad AND c.ts BETWEEN i.ts AND i.ts + INTERVAL '1' SECOND""")
    assert list(out.columns) == ["iid", "click", "ad"]
    assert ids(out, "iid", "click") == ids(api_interval(how), "iid", "cid")


def test_comma_form_with_where_and_strict_bounds(shell, ns):
    out = sql(shell, """
        SELECT * FROM imps i, clicks c
        WHERE i.ad = c.ad AND c.ts >= i.ts AND c.ts < i.ts + INTERVAL '1' SECOND""")
    assert ids(out, "iid", "cid") == [(1, 10), (2, 11), (4, 13)]


def test_window_join_of_two_tvfs(shell, ns):
    out = sql(shell, """
        SELECT L.iid, R.cid, L.window_start, L.window_end
        FROM (SELECT * FROM TABLE(TUMBLE(TABLE imps, DESCRIPTOR(ts), INTERVAL '1' SECOND))) L
        FULL JOIN (SELECT * FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND))) R
        ON L.ad = R.ad AND L.window_start = R.window_start AND L.window_end = R.window_end""")
    assert ids(out, "iid", "cid") == sorted([(1, 10), (2, 11), (3, 10), (None, 12), (4, 13)], key=repr)


def test_temporal_join_with_a_versioned_view_over_two_cells(shell, ns):
    assert sql(shell, """
        CREATE TEMPORARY VIEW rates_v AS
        SELECT rid, cur, rate, ts FROM (
          SELECT *, ROW_NUMBER() OVER (PARTITION BY cur ORDER BY ts DESC) AS rownum FROM rates)
        WHERE rownum = 1;
        CREATE VIEW eur_orders AS SELECT * FROM orders WHERE cur <> 'GBP'""", "") is None
    out = sql(shell, """
        SELECT o.oid, r.rid, r.rate
        FROM eur_orders AS o LEFT JOIN rates_v FOR SYSTEM_TIME AS OF o.ts AS r ON o.cur = r.cur""")
    # (22, ts 500) is older than EUR's newest (21, ts 1000) when it arrives: never a version
    assert ids(out, "oid", "rid") == [(30, 20), (31, 21), (32, 23)]


def test_a_regular_join_names_the_flink_forms_to_use(shell, ns):
    with pytest.raises(StreamlabUsageError, match="regular join of two streams.*interval join: JOIN b ON"):
        sql(shell, "SELECT * FROM imps i JOIN clicks c ON i.ad = c.ad")


def test_a_processing_time_temporal_join_names_the_event_time_form(shell, ns):
    with pytest.raises(StreamlabUsageError, match=r"only event-time temporal joins.*FOR SYSTEM_TIME AS OF o\.ts"):
        sql(shell, "SELECT * FROM orders o JOIN rates FOR SYSTEM_TIME AS OF PROCTIME() AS r ON o.cur = r.cur")


def test_a_missing_key_column_is_a_usage_error(shell, ns):
    with pytest.raises(StreamlabUsageError, match="join key 'nope'"):
        sql(shell, "SELECT * FROM imps i JOIN clicks c ON i.nope = c.ad AND c.ts BETWEEN i.ts AND i.ts")
