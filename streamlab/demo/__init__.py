"""Seeded, realistic demo streams: ``sensors``, ``clicks`` and ``trades``; and streams that join
naturally (:mod:`.joined`): ``ads()`` (impressions and the clicks answering them), ``orders()`` and
``rates()`` (a versioned stream), and the ``users()`` table.

Each yields events in *arrival* order: event times are disordered by up to ``disorder``, a
``late_fraction`` of events arrives much later than that, and ``idle`` inserts quiet gaps.
With ``speed=1`` (the default) event time starts now and runs in real time on the running loop.

>>> import streamlab as sl
>>> df = sl.demo.sensors(rate=100, keys=3, events=500, speed=None).collect()
>>> list(df.columns), len(df)
(['ts', 'sensor', 'temp', 'humidity'], 500)
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..core.durations import to_ms
from ..sources.base import Source

_EPOCH = pd.Timestamp("2024-01-01", tz="UTC")
_DAY_MS = 86_400_000
_SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "NFLX", "AMD", "INTC", "ORCL", "IBM"]
_PAGES = ["/", "/search", "/product", "/cart", "/checkout", "/help", "/blog", "/about"]
_REFERRERS = ["", "google", "newsletter", "twitter", "partner"]


class DemoSource(Source):
    """Base of the demo generators: blocks of one second of event time, disordered, paced."""

    columns_: list[str] = []

    def __init__(self, *, rate=1_000, keys=8, disorder="300ms", late_fraction=0.01, idle=None, seed=0,
                 speed=1, start=None, batch_size=None, events=None, duration=None, name=None):
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate <= 0:
            raise ValueError(f"rate must be a positive number of events per second, got {rate!r}")
        if not isinstance(keys, int) or isinstance(keys, bool) or keys <= 0:
            raise ValueError(f"keys must be a positive integer, got {keys!r}")
        if not 0 <= late_fraction < 1:
            raise ValueError(f"late_fraction must be in [0, 1), got {late_fraction!r}")
        if events is not None and (not isinstance(events, int) or events <= 0):
            raise ValueError(f"events must be None (endless) or a positive integer, got {events!r}")
        self.rate = float(rate)
        self.nkeys = keys
        self.disorder = to_ms(disorder, None, name="disorder", allow_zero=True)
        self.late_fraction = float(late_fraction)
        self.idle = None if idle is None else to_ms(idle, None, name="idle")
        self.seed = seed
        self.events = events
        self.duration = None if duration is None else to_ms(duration, None, name="duration")
        if batch_size is None:
            batch_size = 10_000 if speed is None else max(1, int(rate // 20) or 1)
        super().__init__(time="ts", unit=None, columns=self.columns_, batch_size=batch_size, speed=speed,
                         name=name or type(self).__name__.replace("Source", "").lower())
        self.finite = events is not None or duration is not None
        self.start_at = start

    def _start_ms(self) -> int:
        if self.start_at is not None:
            return int(pd.Timestamp(self.start_at, tz="UTC").value // 1_000_000)
        if self.speed is None:
            return int(_EPOCH.value // 1_000_000)
        return int(time.time() * 1000)

    def _batches(self):
        rng = np.random.default_rng(self.seed)
        jitter_rng = self._jitter_rng(rng)
        state = self._init(rng)
        t = t0 = self._start_ms()
        made = 0
        carry: pd.DataFrame | None = None
        # about 5,000 events per generated block: small enough not to stall the loop at high rates
        block_ms = max(10, int(5_000_000 // self.rate))
        per_block = max(1, int(round(self.rate * block_ms / 1000)))
        while True:
            span = block_ms
            if self.duration is not None:
                span = min(span, t0 + self.duration - t)
            n = per_block if span == block_ms else int(round(self.rate * span / 1000))
            if self.events is not None and self.events - made < n:
                n = self.events - made
                span = max(1, int(round(n * 1000 / self.rate)))  # keep the rate for a short tail
            if n <= 0 or span <= 0:
                break
            ts = t + np.sort(rng.integers(0, span, n))
            state["t"] = t  # the block's start
            block = self._make(rng, state, ts)
            made += n
            m = len(block)
            jitter = jitter_rng.uniform(0, self.disorder, m) if self.disorder else np.zeros(m)
            late = jitter_rng.random(m) < self.late_fraction
            jitter[late] += self.disorder + jitter_rng.uniform(500, 3000, late.sum())
            block = block.assign(_arrival=block["ts"].to_numpy() + jitter)
            frame = block if carry is None else pd.concat([carry, block], ignore_index=True)
            frame = frame.sort_values("_arrival", kind="stable")
            t += block_ms
            if self.idle and rng.random() < 0.05 * block_ms / 1000:
                t += self.idle
            ready = frame["_arrival"].to_numpy() < t
            carry = frame[~ready]
            yield from self._chunks(frame[ready])
        if carry is not None and len(carry):
            yield from self._chunks(carry)

    def _jitter_rng(self, rng):
        """The generator of arrival disorder (the world's own by default)."""
        return rng

    def _chunks(self, frame: pd.DataFrame):
        frame = frame.drop(columns="_arrival").reset_index(drop=True)
        frame["ts"] = pd.to_datetime(frame["ts"].to_numpy(), unit="ms", utc=True).as_unit("ms")
        for i in range(0, len(frame), self.batch_size):
            yield frame.iloc[i:i + self.batch_size]

    def _keys(self, rng, n, weights=None):
        return rng.choice(self.nkeys, size=n, p=weights)

    def _init(self, rng) -> dict:  # pragma: no cover - abstract
        return {}

    def _make(self, rng, state, ts) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError


def _per_key_walk(keys, steps, start):
    """Random walk per key: start[key] + cumulative steps within each key (arrival order kept)."""
    order = np.argsort(keys, kind="stable")
    k, s = keys[order], steps[order]
    csum = np.cumsum(s)
    first = np.r_[True, k[1:] != k[:-1]]
    base = np.maximum.accumulate(np.where(first, np.arange(len(k)), 0))
    offset = csum[base] - s[base]
    sorted_walk = start[k] + csum - offset
    walked = np.empty_like(csum)
    walked[order] = sorted_walk
    ends = np.r_[k[1:] != k[:-1], True]
    return walked, dict(zip(k[ends].tolist(), sorted_walk[ends].tolist()))


class SensorsSource(DemoSource):
    """Temperature per sensor: a random walk around a daily cycle; humidity moves against it."""

    columns_ = ["ts", "sensor", "temp", "humidity"]

    def _init(self, rng):
        return {"base": rng.uniform(17, 24, self.nkeys), "walk": np.zeros(self.nkeys)}

    def _make(self, rng, state, ts):
        keys = self._keys(rng, len(ts))
        walk, last = _per_key_walk(keys, rng.normal(0, 0.02, len(ts)), state["walk"])
        for k, v in last.items():
            state["walk"][k] = v * 0.999
        daily = 4 * np.sin(2 * np.pi * ((ts % _DAY_MS) / _DAY_MS - 0.375))
        temp = state["base"][keys] + daily + walk
        humidity = np.clip(55 - 1.5 * (temp - state["base"][keys]) + rng.normal(0, 1, len(ts)), 5, 100)
        names = np.array([f"sensor-{i:02d}" for i in range(self.nkeys)], dtype=object)
        return pd.DataFrame({"ts": ts, "sensor": names[keys], "temp": temp.round(2),
                             "humidity": humidity.round(1)})


class ClicksSource(DemoSource):
    """Users click in bursts (sessions) separated by idle gaps; pages and referrers are skewed."""

    columns_ = ["ts", "user", "page", "referrer"]

    def _init(self, rng):
        return {"active": rng.random(self.nkeys) < 0.3, "weight": rng.pareto(1.5, self.nkeys) + 1}

    def _make(self, rng, state, ts):
        active = state["active"]
        flip_on = (~active) & (rng.random(self.nkeys) < 0.15)
        flip_off = active & (rng.random(self.nkeys) < 0.25)
        active = (active | flip_on) & ~flip_off
        if not active.any():
            active[rng.integers(self.nkeys)] = True
        state["active"] = active
        w = np.where(active, state["weight"], 0.0)
        keys = self._keys(rng, len(ts), w / w.sum())
        names = np.array([f"user-{i:03d}" for i in range(self.nkeys)], dtype=object)
        page_p = np.array([0.3, 0.2, 0.2, 0.1, 0.05, 0.05, 0.05, 0.05])
        ref_p = np.array([0.7, 0.15, 0.05, 0.05, 0.05])
        return pd.DataFrame({
            "ts": ts, "user": names[keys],
            "page": np.array(_PAGES, dtype=object)[rng.choice(len(_PAGES), len(ts), p=page_p)],
            "referrer": np.array(_REFERRERS, dtype=object)[rng.choice(len(_REFERRERS), len(ts), p=ref_p)],
        })


class TradesSource(DemoSource):
    """Prices per symbol follow a geometric random walk; volumes are lognormal round lots."""

    columns_ = ["ts", "symbol", "price", "volume"]

    def _init(self, rng):
        return {"logp": np.log(rng.uniform(20, 500, self.nkeys))}

    def _make(self, rng, state, ts):
        weights = 1.0 / np.arange(1, self.nkeys + 1)
        keys = self._keys(rng, len(ts), weights / weights.sum())
        logp, last = _per_key_walk(keys, rng.normal(0, 0.0005, len(ts)), state["logp"])
        for k, v in last.items():
            state["logp"][k] = v
        names = np.array([_SYMBOLS[i] if i < len(_SYMBOLS) else f"SYM{i}" for i in range(self.nkeys)], dtype=object)
        volume = (np.round(rng.lognormal(1.0, 0.8, len(ts))) * 100).astype("int64") + 100
        return pd.DataFrame({"ts": ts, "symbol": names[keys], "price": np.exp(logp).round(2), "volume": volume})


def _factory(cls, doc):
    def make(rate=1_000, keys=8, disorder="300ms", late_fraction=0.01, idle=None, seed=0, speed=1,
             start=None, batch_size=None, events=None, duration=None, name=None):
        return cls(rate=rate, keys=keys, disorder=disorder, late_fraction=late_fraction, idle=idle,
                   seed=seed, speed=speed, start=start, batch_size=batch_size, events=events,
                   duration=duration, name=name)

    make.__doc__ = doc + """

    rate: events per second of event time; keys: number of sensors/users/symbols;
    disorder: max arrival delay of ordinary events; late_fraction: share of events delayed much
    more (late for a watermark of ``disorder``); idle: length of quiet gaps (about one every 20 s);
    speed: 1 = real time, 10 = 10x, None = as fast as possible (then time starts 2024-01-01);
    events / duration: make the stream finite.
    """
    return make


sensors = _factory(SensorsSource, "Sensor readings: ts, sensor, temp, humidity.")
sensors.__name__ = "sensors"
clicks = _factory(ClicksSource, "Web clicks in sessions: ts, user, page, referrer.")
clicks.__name__ = "clicks"
trades = _factory(TradesSource, "Trades: ts, symbol, price, volume.")
trades.__name__ = "trades"


from .joined import ads, orders, rates, users  # noqa: E402 - they build on DemoSource above

__all__ = ["DemoSource", "ads", "clicks", "orders", "rates", "sensors", "trades", "users"]
