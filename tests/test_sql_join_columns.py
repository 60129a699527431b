"""Qualified columns of a ``%%streamlab`` outer join, against a plain pandas batch model of Flink's
semantics: ``l.k`` (a key both inputs share) and ``L.window_start`` are NULL where that input is
NULL-padded, ``COALESCE(l.k, r.k)`` is the merged value, the unqualified ``k`` stays the merged
column, and the Python API keeps pandas' one merged key column. (``tests/test_flink_joins.py`` runs
the same cells on Flink verbatim.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import streamlab as sl
from streamlab.sql.joins import run_statements

BOUND = "r.ts BETWEEN l.ts - INTERVAL '1' SECOND AND l.ts + INTERVAL '2' SECOND"
TVF = {"tumble": "TUMBLE(TABLE {t}, DESCRIPTOR(ts), INTERVAL '1' SECOND)",
       "hop": "HOP(TABLE {t}, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND)"}


def rows(seed: int = 3, n: int = 300) -> pd.DataFrame:
    """Rows in time order with gaps (so some have no partner); no row is late."""
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.integers(0, 400, n))
    return pd.DataFrame({"id": np.arange(n), "side": rng.choice(["L", "R"], n), "k": rng.choice(list("abcdef"), n),
                         "ts": pd.to_datetime(ts, unit="ms", utc=True)})


def sides(df: pd.DataFrame, batch: int):
    src = sl.from_frame(df, time="ts", batch_size=batch).watermark("0ms")
    return src.where("side == 'L'"), src.where("side == 'R'")


def outer(pairs: pd.DataFrame, left: pd.DataFrame, right: pd.DataFrame, how: str, on: list[str]) -> pd.DataFrame:
    """Matched pairs plus the NULL-padded rows of an outer join (columns suffixed _l / _r)."""
    parts = [pairs]
    if how in ("left", "full"):
        lone = left[~left.set_index(on).index.isin(pairs.set_index([f"{c}_l" for c in on]).index)]
        parts.append(lone.add_suffix("_l"))
    if how in ("right", "full"):
        lone = right[~right.set_index(on).index.isin(pairs.set_index([f"{c}_r" for c in on]).index)]
        parts.append(lone.add_suffix("_r"))
    return pd.concat(parts, ignore_index=True)


def interval_model(df: pd.DataFrame, how: str) -> pd.DataFrame:
    left, right = df[df.side == "L"], df[df.side == "R"]
    m = left.add_suffix("_l").merge(right.add_suffix("_r"), left_on="k_l", right_on="k_r")
    d = m.ts_r - m.ts_l
    pairs = m[(d >= pd.Timedelta("-1s")) & (d <= pd.Timedelta("2s"))]
    full = outer(pairs, left, right, how, ["id"])
    return pd.DataFrame({"lid": full.id_l, "rid": full.id_r, "lk": full.k_l, "rk": full.k_r,
                         "ck": full.k_l.combine_first(full.k_r), "k": full.k_l.combine_first(full.k_r)})


def windows(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Each row once per window containing it (TUMBLE 1 s, HOP 2 s every 1 s)."""
    start = df.ts.dt.floor("1s")
    parts = [df.assign(ws=start)] if kind == "tumble" else [df.assign(ws=start), df.assign(ws=start - pd.Timedelta("1s"))]
    out = pd.concat(parts, ignore_index=True)
    return out.assign(we=out.ws + pd.Timedelta("1s" if kind == "tumble" else "2s"))


def window_model(df: pd.DataFrame, kind: str, how: str) -> pd.DataFrame:
    left, right = windows(df[df.side == "L"], kind), windows(df[df.side == "R"], kind)
    pairs = left.add_suffix("_l").merge(right.add_suffix("_r"), left_on=["k_l", "ws_l", "we_l"],
                                        right_on=["k_r", "ws_r", "we_r"])
    full = outer(pairs, left, right, how, ["id", "ws"])
    return pd.DataFrame({"lid": full.id_l, "rid": full.id_r, "lk": full.k_l, "rk": full.k_r,
                         "ck": full.k_l.combine_first(full.k_r), "lws": full.ws_l, "rwe": full.we_r,
                         "ws": full.ws_l.combine_first(full.ws_r)})


def as_rows(out: pd.DataFrame) -> list[tuple]:
    def v(x):
        if pd.isna(x):
            return None
        if isinstance(x, pd.Timestamp):
            return x.value // 1_000_000
        return int(x) if isinstance(x, (int, float, np.integer, np.floating)) else x

    return sorted((tuple(v(x) for x in r) for r in out.itertuples(index=False, name=None)), key=repr)


@pytest.mark.parametrize("batch", [1, 7, 1000])
@pytest.mark.parametrize("how", ["left", "right", "full"])
def test_qualified_keys_of_an_interval_join_are_null_where_padded(how, batch):
    df = rows()
    left, right = sides(df, batch)
    cell = (f"SELECT l.id AS lid, r.id AS rid, l.k AS lk, r.k AS rk, COALESCE(l.k, r.k) AS ck, k "
            f"FROM lv AS l {how.upper()} JOIN rv AS r ON l.k = r.k AND {BOUND}")
    out = run_statements(cell, {"lv": left, "rv": right}, {}).collect()
    expected = as_rows(interval_model(df, how))
    assert as_rows(out) == expected
    assert any(r[0] is None or r[1] is None for r in expected)  # padded rows exist


@pytest.mark.parametrize("batch", [1, 1000])
@pytest.mark.parametrize("how", ["left", "right", "full"])
@pytest.mark.parametrize("kind", ["tumble", "hop"])
def test_qualified_window_columns_of_a_window_join_are_null_where_padded(kind, how, batch):
    df = rows()
    left, right = sides(df, batch)
    tvf = TVF[kind]
    cell = ("SELECT L.id AS lid, R.id AS rid, L.k AS lk, R.k AS rk, COALESCE(L.k, R.k) AS ck, "
            "L.window_start AS lws, R.window_end AS rwe, COALESCE(L.window_start, R.window_start) AS ws "
            f"FROM (SELECT * FROM TABLE({tvf.format(t='lv')})) L {how.upper()} JOIN "
            f"(SELECT * FROM TABLE({tvf.format(t='rv')})) R "
            "ON L.k = R.k AND L.window_start = R.window_start AND L.window_end = R.window_end")
    out = run_statements(cell, {"lv": left, "rv": right}, {}).collect()
    expected = as_rows(window_model(df, kind, how))
    assert as_rows(out) == expected
    assert any(r[0] is None or r[1] is None for r in expected)


def test_the_export_writes_the_columns_as_the_user_did():
    df = rows(n=20)
    left, right = sides(df, 5)
    cell = (f"SELECT l.k AS lk, r.k AS rk, COALESCE(l.k, r.k) AS ck, k FROM lv AS l FULL JOIN rv AS r "
            f"ON l.k = r.k AND {BOUND}")
    query = run_statements(cell, {"lv": left, "rv": right}, {}).to_flink_sql(path="/tmp/x.csv", parts=True).query
    assert query.splitlines()[0] == ("SELECT l.k AS lk, r.k AS rk, COALESCE(l.k, r.k) AS ck, "
                                     "COALESCE(l.k, r.k) AS k")


def test_coalesce_needs_a_name():
    df = rows(n=20)
    left, right = sides(df, 5)
    with pytest.raises(Exception, match="COALESCE.* AS k"):
        run_statements(f"SELECT COALESCE(l.k, r.k) FROM lv AS l FULL JOIN rv AS r ON l.k = r.k AND {BOUND}",
                       {"lv": left, "rv": right}, {})


@pytest.mark.parametrize("how", ["right", "full"])
def test_the_python_api_keeps_one_merged_key_column(how):
    df = rows()
    left, right = sides(df, 50)
    out = left.join(right, on="k", between=("-1s", "2s"), how=how).collect()
    model = interval_model(df, how)
    assert "k" in out.columns and "k_x" not in out.columns and "k_y" not in out.columns
    assert sorted(out.k.tolist()) == sorted(model.k.tolist())
    assert out.k.notna().all()


@pytest.mark.parametrize("batch", [1, 50])
def test_the_versioned_key_of_a_left_temporal_join_is_null_without_a_version(batch):
    rng = np.random.default_rng(batch)
    orders = pd.DataFrame({"ts": np.sort(rng.integers(0, 10_000, 120)), "cur": rng.choice(["EUR", "USD", "GBP"], 120),
                           "oid": np.arange(120)})
    rates = pd.DataFrame({"ts": np.sort(rng.integers(2_000, 10_000, 20)), "cur": rng.choice(["EUR", "USD"], 20),
                          "rate": np.arange(20)})
    o = sl.from_frame(orders, time="ts", unit="ms", batch_size=batch).watermark(0)
    r = sl.from_frame(rates, time="ts", unit="ms", batch_size=batch).watermark(0)
    cell = ("CREATE TEMPORARY VIEW v AS SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY cur "
            "ORDER BY ts DESC) AS rownum FROM r) WHERE rownum = 1; "
            "SELECT o.oid, v.rate, o.cur AS ocur, v.cur AS vcur, COALESCE(v.cur, o.cur) AS cur "
            "FROM o LEFT JOIN v FOR SYSTEM_TIME AS OF o.ts AS v ON o.cur = v.cur")
    out = run_statements(cell, {"o": o, "r": r}, {}).collect()
    asof = pd.merge_asof(orders, rates.rename(columns={"ts": "rts"}).assign(vcur=rates.cur), left_on="ts",
                         right_on="rts", by="cur")
    want = pd.DataFrame({"oid": asof.oid, "rate": asof.rate, "ocur": asof.cur, "vcur": asof.vcur, "cur": asof.cur})
    assert as_rows(out) == as_rows(want)
    assert want.vcur.isna().any() and want.vcur.notna().any()
