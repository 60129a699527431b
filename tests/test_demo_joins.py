"""Demo sources that join naturally: deterministic, disordered, and joining as their world says."""

from __future__ import annotations

import pandas as pd
import pytest

import streamlab as sl


def collect_pair(**kw):
    imps, clicks = sl.demo.ads(speed=None, **kw)
    return imps.collect(), clicks.collect()


def test_ads_are_deterministic_per_seed_and_disordered():
    i1, c1 = collect_pair(rate=300, events=900, seed=4)
    i2, c2 = collect_pair(rate=300, events=900, seed=4)
    pd.testing.assert_frame_equal(i1, i2)
    pd.testing.assert_frame_equal(c1, c2)
    i3, _ = collect_pair(rate=300, events=900, seed=5)
    assert not i1.equals(i3)
    assert len(i1) == 900 and not i1.ts.is_monotonic_increasing and not c1.ts.is_monotonic_increasing
    # disorder bounded by 300 ms (no late rows by default): each row is at most 300 ms behind the max so far
    for df in (i1, c1):
        behind = df.ts.cummax() - df.ts
        assert behind.max() <= pd.Timedelta("300ms")


def test_each_click_follows_its_impression_within_the_bound():
    imps, clicks = collect_pair(rate=300, events=1500, seed=1, ctr=0.3, click_within="5s")
    m = clicks.merge(imps, on="impression", suffixes=("", "_imp"), validate="one_to_one")
    assert len(m) == len(clicks) > 300
    assert (m.ad == m.ad_imp).all() and (m.user == m.user_imp).all()
    delay = m.ts - m.ts_imp
    assert (delay >= pd.Timedelta("200ms")).all() and (delay <= pd.Timedelta("5s")).all()


@pytest.mark.parametrize("batch", [1, 50, 10_000])
def test_the_interval_join_of_ads_matches_every_click_at_any_batch_size(batch):
    imps, clicks = sl.demo.ads(rate=200, events=400, seed=2, speed=None, batch_size=batch, click_within="5s")
    j = imps.watermark("300ms").join(clicks.watermark("300ms"), on="ad", between=("0s", "5s"), how="left")
    out = j.collect()
    want_i, want_c = collect_pair(rate=200, events=400, seed=2, click_within="5s")
    # the batch model: every pair of the same ad within the bound; impressions with none padded
    m = want_i.merge(want_c, on="ad")
    m = m[(m.ts_y >= m.ts_x) & (m.ts_y <= m.ts_x + pd.Timedelta("5s"))]
    lonely = want_i[~want_i.impression.isin(m.impression_x)]
    assert len(out) == len(m) + len(lonely)
    got = sorted(zip(out.impression_x, out.click.fillna(-1).astype(int)))
    assert got == sorted([*zip(m.impression_x, m.click), *((i, -1) for i in lonely.impression)])
    # each click joins at least its own impression
    own = out[out.impression_x == out.impression_y]
    assert sorted(own.click.astype(int)) == sorted(want_c.click)


def test_orders_join_the_rate_valid_at_their_time_and_users_enrich():
    o = sl.demo.orders(rate=50, events=300, keys=3, seed=3, speed=None)
    r = sl.demo.rates(rate=5, duration="8s", keys=3, seed=3, speed=None, disorder="0ms")
    out = o.watermark("300ms").join_asof(r.watermark("0s"), on="currency", how="left").collect()
    orders = o.collect().sort_values("ts", kind="stable")
    rates = r.collect().sort_values("ts", kind="stable")
    assert set(orders.currency) <= set(rates.currency)
    want = pd.merge_asof(orders, rates, on="ts", by="currency", direction="backward")
    got = out.rename(columns={"ts_x": "ts"}).sort_values(["ts", "order"])[["order", "rate"]]
    want = want.sort_values(["ts", "order"])[["order", "rate"]]
    assert got["rate"].notna().all()
    assert dict(zip(got.order, got.rate)) == dict(zip(want.order, want.rate))
    users = sl.demo.users(50)
    enriched = o.merge(users, on="user", how="left").collect()
    assert enriched.country.notna().all() and len(enriched) == 300
