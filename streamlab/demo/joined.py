"""Demo streams that join naturally: ad impressions and the clicks that answer them, orders and a
versioned stream of currency rates, and a users table.

``ads()`` gives two sources that share one seeded world: a click repeats its impression's ``ad``,
``user`` and ``impression`` id and follows it by at most ``click_within``. ``orders()`` and
``rates()`` share currency codes (every currency has a rate from the first instant on), and
``users()`` is a DataFrame of the user ids ``ads`` and ``orders`` draw from. Each stream is
deterministic for a seed, in event time, and disordered on arrival by up to ``disorder`` (plus a
``late_fraction`` of much later rows).

>>> import streamlab as sl
>>> imps, clicks = sl.demo.ads(rate=200, events=400, speed=None, late_fraction=0)
>>> i, c = imps.collect(), clicks.collect()
>>> list(i.columns), list(c.columns)
(['ts', 'impression', 'ad', 'user'], ['ts', 'click', 'impression', 'ad', 'user'])
>>> m = c.merge(i, on="impression", suffixes=("", "_imp"))
>>> bool((m.ad == m.ad_imp).all()), bool(((m.ts - m.ts_imp) >= pd.Timedelta(0)).all())
(True, True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.durations import to_ms
from . import DemoSource

CURRENCIES = ["EUR", "USD", "GBP", "JPY", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK"]
_START_RATE = {"EUR": 1.0, "USD": 0.92, "GBP": 1.16, "JPY": 0.0062, "CHF": 1.04, "SEK": 0.087, "NOK": 0.086,
               "DKK": 0.134, "PLN": 0.23, "CZK": 0.04}
_COUNTRIES = ["DE", "FR", "NL", "NP", "US", "JP", "BR", "IN"]


def user_names(n: int) -> np.ndarray:
    """The user ids the demo streams and ``users()`` share: user-000, user-001, ..."""
    return np.array([f"user-{i:03d}" for i in range(n)], dtype=object)


class _WorldSource(DemoSource):
    """A demo source whose rows come from a seeded world shared with its sibling streams.

    The world (event times, keys, values) is drawn from one generator seeded by ``seed`` alone, so
    sibling sources built with the same settings see the same world; each picks its own stream
    from it and disorders its arrival with a generator of its own.
    """

    stream = ""

    def _jitter_rng(self, rng):
        return np.random.default_rng([self.seed, len(self.stream)])  # each stream its own disorder

    def _make(self, rng, state, ts) -> pd.DataFrame:
        return self._world(rng, state, ts)[self.stream]

    def _world(self, rng, state, ts) -> dict[str, pd.DataFrame]:  # pragma: no cover - abstract
        raise NotImplementedError


class _AdsSource(_WorldSource):
    """Impressions of ``keys`` ads to users; each is clicked with probability ``ctr`` within
    ``click_within`` (a click's time can fall in a later block: it arrives then)."""

    def __init__(self, stream: str, ctr=0.2, click_within="10s", users=50, **kwargs):
        if not 0 < ctr <= 1:
            raise ValueError(f"ctr must be in (0, 1], the share of impressions clicked, got {ctr!r}")
        self.stream = stream
        self.ctr = float(ctr)
        self.click_within = to_ms(click_within, None, name="click_within")
        self.nusers = int(users)
        self.columns_ = (["ts", "impression", "ad", "user"] if stream == "impressions"
                         else ["ts", "click", "impression", "ad", "user"])
        super().__init__(**kwargs)

    def _init(self, rng):
        return {"next": 0, "clicks": 0, "weight": rng.pareto(1.2, self.nkeys) + 1}

    def _world(self, rng, state, ts):
        n = len(ts)
        w = state["weight"]
        ads = np.array([f"ad-{i:02d}" for i in range(self.nkeys)], dtype=object)[
            rng.choice(self.nkeys, n, p=w / w.sum())]
        users = user_names(self.nusers)[rng.integers(0, self.nusers, n)]
        ids = state["next"] + np.arange(n)
        state["next"] += n
        clicked = rng.random(n) < self.ctr
        delay = rng.integers(200, self.click_within + 1, n)  # people take a moment to click
        imps = pd.DataFrame({"ts": ts, "impression": ids, "ad": ads, "user": users})
        c = int(clicked.sum())
        clicks = pd.DataFrame({"ts": ts[clicked] + delay[clicked], "click": state["clicks"] + np.arange(c),
                               "impression": ids[clicked], "ad": ads[clicked], "user": users[clicked]})
        state["clicks"] += c
        return {"impressions": imps, "clicks": clicks.sort_values("ts", kind="stable").reset_index(drop=True)}


def ads(rate=200, keys=8, ctr=0.2, click_within="10s", users=50, disorder="300ms", late_fraction=0.0,
        seed=0, speed=1, start=None, batch_size=None, events=None, duration=None):
    """Two sources of one world: ad ``impressions`` (ts, impression, ad, user) and the ``clicks``
    (ts, click, impression, ad, user) that answer them, ``ctr`` of them within ``click_within``.

    ``rate`` is impressions per second, ``keys`` the number of ads, ``events`` the number of
    impressions (clicks stop with them). Join them with an interval join:
    ``imps.join(clicks, on="impression", between=("0s", "10s"), how="left")``.
    """
    common = dict(ctr=ctr, click_within=click_within, users=users, rate=rate, keys=keys, disorder=disorder,
                  late_fraction=late_fraction, seed=seed, speed=speed, start=start, batch_size=batch_size,
                  events=events, duration=duration)
    return (_AdsSource("impressions", name="impressions", **common),
            _AdsSource("clicks", name="clicks", **common))


class _OrdersSource(_WorldSource):
    stream = "orders"
    columns_ = ["ts", "order", "user", "currency", "amount"]

    def __init__(self, users=50, **kwargs):
        self.nusers = int(users)
        super().__init__(**kwargs)

    def _init(self, rng):
        return {"next": 0}

    def _world(self, rng, state, ts):
        n = len(ts)
        cur = np.array(CURRENCIES[: self.nkeys], dtype=object)[rng.choice(self.nkeys, n)]
        ids = state["next"] + np.arange(n)
        state["next"] += n
        return {"orders": pd.DataFrame({"ts": ts, "order": ids, "user": user_names(self.nusers)[
            rng.integers(0, self.nusers, n)], "currency": cur, "amount": rng.lognormal(3.5, 0.8, n).round(2)})}


class _RatesSource(_WorldSource):
    stream = "rates"
    columns_ = ["ts", "currency", "rate"]

    def _init(self, rng):
        return {"log": np.log([_START_RATE.get(c, 1.0) for c in CURRENCIES[: self.nkeys]]), "first": True}

    def _world(self, rng, state, ts):
        n = len(ts)
        keys = rng.choice(self.nkeys, n)
        if state["first"]:  # every currency has a rate from the first instant on
            state["first"] = False
            ts = np.concatenate([np.full(self.nkeys, state["t"]), ts])
            keys = np.concatenate([np.arange(self.nkeys), keys])
        steps = rng.normal(0, 0.002, len(ts))
        steps[: self.nkeys if len(ts) > n else 0] = 0
        order = np.argsort(keys, kind="stable")
        walk = np.empty(len(ts))
        for k in np.unique(keys):
            idx = order[keys[order] == k]
            path = state["log"][k] + np.cumsum(steps[idx])
            walk[idx] = path
            state["log"][k] = path[-1]
        cur = np.array(CURRENCIES[: self.nkeys], dtype=object)[keys]
        return {"rates": pd.DataFrame({"ts": ts, "currency": cur, "rate": np.exp(walk).round(5)})}


def orders(rate=100, keys=4, users=50, disorder="300ms", late_fraction=0.0, seed=0, speed=1, start=None,
           batch_size=None, events=None, duration=None, name="orders"):
    """Orders: ts, order, user, currency (one of ``keys`` currencies), amount. Join each with the
    rate valid at its time: ``orders.join_asof(rates, on="currency")``."""
    if not isinstance(keys, int) or not 1 <= keys <= len(CURRENCIES):
        raise ValueError(f"keys must be the number of currencies, 1 to {len(CURRENCIES)}, got {keys!r}")
    return _OrdersSource(users=users, rate=rate, keys=keys, disorder=disorder, late_fraction=late_fraction,
                         seed=seed, speed=speed, start=start, batch_size=batch_size, events=events,
                         duration=duration, name=name)


def rates(rate=2, keys=4, disorder="300ms", late_fraction=0.0, seed=1, speed=1, start=None, batch_size=None,
          events=None, duration=None, name="rates"):
    """A versioned stream of currency rates (to EUR): ts, currency, rate; ``rate`` updates per
    second over ``keys`` currencies (the same codes as ``orders``), each a random walk. Every
    currency has a rate at the first instant."""
    if not isinstance(keys, int) or not 1 <= keys <= len(CURRENCIES):
        raise ValueError(f"keys must be the number of currencies, 1 to {len(CURRENCIES)}, got {keys!r}")
    return _RatesSource(rate=rate, keys=keys, disorder=disorder, late_fraction=late_fraction, seed=seed,
                        speed=speed, start=start, batch_size=batch_size, events=events, duration=duration,
                        name=name)


def users(n=50, seed=0) -> pd.DataFrame:
    """A users table (a pandas DataFrame): user, country, segment, signup; the ``user`` ids the
    demo streams use. Enrich a stream with it: ``clicks.merge(sl.demo.users(), on="user")``.

    >>> users(3).user.tolist()
    ['user-000', 'user-001', 'user-002']
    """
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "user": user_names(n),
        "country": np.array(_COUNTRIES, dtype=object)[rng.integers(0, len(_COUNTRIES), n)],
        "segment": np.array(["new", "regular", "vip"], dtype=object)[rng.choice(3, n, p=[0.5, 0.4, 0.1])],
        "signup": pd.Timestamp("2023-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
    })
