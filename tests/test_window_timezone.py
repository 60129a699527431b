"""Windows in a session time zone (``tz=``) against a record-by-record model of Flink's rules.

The model is written from Flink's ``TimeWindowUtil`` with Python's ``datetime``/``zoneinfo`` only
(no pandas time zone code, no streamlab code): a row's local time is its wall clock in the zone;
windows are cut in local time; a window ``[s, e)`` has fired for watermark ``W`` once
``W >= timer(e - 1)``, where ``timer`` reads the local time in the zone (the earlier instant of a
repeated hour, the offset before a skipped hour) and, in zones with daylight saving time, applies
Flink's two corrections (a skipped hour fires at the change, a repeated hour after its second
occurrence).
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

import streamlab as sl
from tests.model import windows_containing

UTC = dt.UTC
H = 3_600_000
DAY = 24 * H


def local_of(ms: int, zone: ZoneInfo) -> int:
    wall = dt.datetime.fromtimestamp(ms / 1000, zone).replace(tzinfo=None)
    return round((wall - dt.datetime(1970, 1, 1)).total_seconds() * 1000)


def at_zone(local: int, zone: ZoneInfo) -> int:
    """Java's LocalDateTime.atZone(zone).toInstant(): Python's fold=0 reads the same way."""
    wall = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=local)
    return round(wall.replace(tzinfo=zone, fold=0).timestamp() * 1000)


def timer(local: int, zone: ZoneInfo, dst: bool) -> int:
    t1 = at_zone(local, zone)
    if not dst:
        return t1
    t2 = at_zone(local + H, zone)
    if t1 == t2:
        return t1 - int(math.fmod(t1, H))
    return t1 + H if t2 - t1 > H else t1


def model(rows, kind, size, step, offset, delay, zone_name):
    """rows: (ts ms, key, value) in arrival order -> ({(key, start, end): [values]}, late row count)."""
    zone = ZoneInfo(zone_name)
    dst = dt.datetime(2200, 1, 15, tzinfo=zone).utcoffset() != dt.datetime(2200, 7, 15, tzinfo=zone).utcoffset()
    wm, out, late = -math.inf, {}, 0
    for ts, key, value in rows:
        missed = 0
        for s, e in windows_containing(local_of(ts, zone), kind, size, step, offset):
            if wm >= timer(e - 1, zone, dst):
                missed += 1
            else:
                out.setdefault((key, s, e), []).append(value)
        late += missed > 0
        wm = max(wm, ts - delay)
    return out, late


def events(start: str, hours: int, seed: int, n: int = 1_500, late_every: int = 40) -> pd.DataFrame:
    """Disordered events over ``hours`` from ``start`` (UTC), a few of them far behind."""
    rng = np.random.default_rng(seed)
    base = int(pd.Timestamp(start, tz="UTC").value // 1_000_000)
    ts = base + np.sort(rng.integers(0, hours * H, n)) + rng.integers(-20 * 60_000, 20 * 60_000, n)
    ts[::late_every] -= rng.integers(H, 30 * H, len(ts[::late_every]))
    return pd.DataFrame({"ts": pd.to_datetime(ts, unit="ms", utc=True), "k": rng.choice(["a", "b"], n),
                         "v": rng.integers(0, 100, n)})


CASES = {  # name: (zone, spec, (kind, size, step, offset), data start, hours)
    "shanghai-day-8h": ("Asia/Shanghai", sl.Tumble("24h", offset="8h", tz="Asia/Shanghai"),
                        ("tumble", DAY, DAY, 8 * H), "2024-03-27", 120),
    "shanghai-hop": ("Asia/Shanghai", sl.Hop("24h", "6h", tz="Asia/Shanghai"), ("hop", DAY, 6 * H, 0), "2024-03-27", 96),
    "berlin-day-spring": ("Europe/Berlin", sl.Tumble("24h", tz="Europe/Berlin"), ("tumble", DAY, DAY, 0), "2024-03-29", 96),
    "berlin-day-autumn": ("Europe/Berlin", sl.Tumble("24h", tz="Europe/Berlin"), ("tumble", DAY, DAY, 0), "2024-10-25", 96),
    "berlin-hour-autumn": ("Europe/Berlin", sl.Tumble("1h", tz="Europe/Berlin"), ("tumble", H, H, 0), "2024-10-26", 48),
    "berlin-hour-spring": ("Europe/Berlin", sl.Tumble("1h", tz="Europe/Berlin"), ("tumble", H, H, 0), "2024-03-30", 48),
    "berlin-30min-autumn": ("Europe/Berlin", sl.Tumble("30min", tz="Europe/Berlin"),
                            ("tumble", H // 2, H // 2, 0), "2024-10-26", 48),
    "berlin-cumulate": ("Europe/Berlin", sl.Cumulate("24h", "6h", tz="Europe/Berlin"),
                        ("cumulate", DAY, 6 * H, 0), "2024-10-25", 96),
    "berlin-hop-autumn": ("Europe/Berlin", sl.Hop("2h", "1h", tz="Europe/Berlin"), ("hop", 2 * H, H, 0), "2024-10-26", 48),
}


def epoch_ms(values: pd.Series) -> list[int]:
    return values.astype("datetime64[ms, UTC]").astype("int64").tolist()


def local_ms(values: pd.Series) -> list[int]:
    assert values.dt.tz is None  # local wall-clock times, like Flink's TIMESTAMP(3) bounds
    return (values.astype("datetime64[ms]").astype("int64")).tolist()


@pytest.mark.parametrize("batch", [1, 50, 100_000])
@pytest.mark.parametrize("name", sorted(CASES))
def test_windows_in_a_session_time_zone_equal_the_model(name, batch):
    zone, spec, (kind, size, step, offset), start, hours = CASES[name]
    df = events(start, hours, seed=len(name) + batch, n=400 if batch == 1 else 1_500)
    res = sl.from_frame(df, time="ts", batch_size=batch).watermark("30min").window(spec, by="k").agg(
        n=("v", "count"), s=("v", "sum"))
    got = res.collect()
    rows = list(zip(epoch_ms(df.ts), df.k, df.v.tolist()))
    want, late = model(rows, kind, size, step, offset, 30 * 60_000, zone)
    have = {(k, s, e): (n, t) for k, s, e, n, t in zip(got.k, local_ms(got.window_start), local_ms(got.window_end),
                                                        got.n, got.s)}
    assert have == {key: (len(v), sum(v)) for key, v in want.items()}
    assert len(res.late.collect()) == late > 0


def test_a_shanghai_day_with_an_8_hour_offset_starts_at_08_local():
    df = pd.DataFrame({"ts": pd.to_datetime(["2024-03-28 23:59:59.999", "2024-03-29 00:00:00.000"], utc=True), "v": [1, 2]})
    got = sl.from_frame(df, time="ts").window(sl.Tumble("24h", offset="8h", tz="Asia/Shanghai")).agg(
        n=("v", "count")).collect()
    # 07:59:59.999 local belongs to the day that started at 08:00 the day before; 08:00 starts a new one
    assert got.window_start.astype(str).tolist() == ["2024-03-28 08:00:00", "2024-03-29 08:00:00"]
    assert got.window_end.astype(str).tolist() == ["2024-03-29 08:00:00", "2024-03-30 08:00:00"]


def test_window_topn_in_a_session_time_zone():
    df = events("2024-10-26", 48, seed=3)
    res = sl.from_frame(df, time="ts", batch_size=64).watermark("30min").window(
        sl.Tumble("1h", tz="Europe/Berlin")).nlargest(2, "v")
    got = res.collect()
    rows = list(zip(epoch_ms(df.ts), ["all"] * len(df), df.v.tolist()))
    want, late = model(rows, "tumble", H, H, 0, 30 * 60_000, "Europe/Berlin")
    have: dict = {}
    for s, e, v in zip(local_ms(got.window_start), local_ms(got.window_end), got.v):
        have.setdefault(("all", s, e), []).append(v)
    assert have == {key: sorted(v, reverse=True)[:2] for key, v in want.items()}
    assert len(res.late.collect()) == late


def test_session_time_zone_bad_input():
    with pytest.raises(ValueError, match="not a time zone name"):
        sl.Tumble("1h", tz="Mars/Olympus")
    src = sl.from_frame(pd.DataFrame({"ts": [0], "v": [1]}), time="ts", unit="ms")
    with pytest.raises(ValueError, match="needs datetime event time"):
        src.window(sl.Tumble("1h", tz="Asia/Shanghai"))
    with pytest.raises(TypeError):
        sl.Session("1h", tz="Asia/Shanghai")  # type: ignore[call-arg]


def test_utc_is_no_shift():
    df = events("2024-10-26", 24, seed=5)
    a = sl.from_frame(df, time="ts").window(sl.Tumble("1h", tz="UTC"), by="k").agg(n=("v", "count")).collect()
    b = sl.from_frame(df, time="ts").window(sl.Tumble("1h"), by="k").agg(n=("v", "count")).collect()
    pd.testing.assert_frame_equal(a, b)


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "streamlab")
    before = dict(ip.user_ns)
    yield ip
    ip.run_line_magic("unload_ext", "streamlab")
    for name in set(ip.user_ns) - set(before):
        del ip.user_ns[name]
    ip.user_ns.update(before)


QUERY = """SELECT k, window_start, window_end, COUNT(*) AS n, SUM(v) AS s
FROM TABLE(TUMBLE(TABLE tz_src, DESCRIPTOR(ts), INTERVAL '1' DAY, INTERVAL '8' HOUR))
GROUP BY k, window_start, window_end"""


def test_sql_set_local_time_zone_equals_the_python_api(shell):
    from IPython.core.error import UsageError

    df = events("2024-03-27", 96, seed=9)
    shell.user_ns["tz_src"] = sl.from_frame(df, time="ts", batch_size=77)
    got = shell.run_cell_magic("streamlab", "--watermark 30min --collect",
                               "SET 'table.local-time-zone' = 'Asia/Shanghai';\n" + QUERY)
    want = sl.from_frame(df, time="ts", batch_size=77).watermark("30min").window(
        sl.Tumble("24h", offset="8h", tz="Asia/Shanghai"), by="k").agg(n=("v", "size"), s=("v", "sum")).collect()
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)
    assert got.window_start.dt.hour.eq(8).all() and got.window_start.dt.tz is None
    # the setting holds for later cells, and the export writes it with a TIMESTAMP_LTZ rowtime
    res = shell.run_cell_magic("streamlab", "--watermark 30min", QUERY)
    script = res.to_flink_sql(path="/tmp/x.csv")
    assert "SET 'table.local-time-zone' = 'Asia/Shanghai';" in script and "TIMESTAMP_LTZ" in script
    shell.run_cell_magic("streamlab", "", "RESET 'table.local-time-zone';")
    utc = shell.run_cell_magic("streamlab", "--watermark 30min --collect", QUERY)
    assert str(utc.window_start.dt.tz) == "UTC" and utc.window_start.dt.hour.eq(8).all()
    # the same wall-clock 08:00, but Shanghai's is 00:00 UTC: other windows, other rows
    assert got.window_start.dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC").dt.hour.eq(0).all()
    assert not utc.n.reset_index(drop=True).equals(got.n.reset_index(drop=True))
    with pytest.raises(UsageError, match="not a time zone"):
        shell.run_cell_magic("streamlab", "", "SET 'table.local-time-zone' = 'Mars/Olympus';")
    with pytest.raises(UsageError, match="not a setting streamlab uses"):
        shell.run_cell_magic("streamlab", "", "SET 'table.exec.mini-batch.enabled' = 'true';")
    try:
        with pytest.raises(UsageError, match="SESSION windows in the session time zone"):
            shell.run_cell_magic("streamlab", "", "SET 'table.local-time-zone' = 'Europe/Berlin';\n"
                                 "SELECT k, window_start, window_end, COUNT(*) AS n FROM TABLE(SESSION(TABLE tz_src "
                                 "PARTITION BY k, DESCRIPTOR(ts), INTERVAL '1' HOUR)) GROUP BY k, window_start, "
                                 "window_end")
    finally:  # the SET before the failing query holds (as in Flink's SQL client): leave UTC behind
        shell.run_cell_magic("streamlab", "", "RESET 'table.local-time-zone';")


def test_export_of_a_window_with_tz():
    df = events("2024-03-27", 24, seed=4)
    res = sl.from_frame(df, time="ts").watermark("1min").window(sl.Hop("24h", "6h", tz="Europe/Berlin")).agg(
        n=("v", "size"))
    export = res.to_flink_sql(path="/tmp/x.csv", parts=True)
    assert export.settings["table.local-time-zone"] == "Europe/Berlin"
    assert "ts_ltz AS TO_TIMESTAMP_LTZ(CAST(ts AS STRING), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC')" in export.source_ddl
    assert "WATERMARK FOR ts_ltz" in export.source_ddl and "DESCRIPTOR(ts_ltz)" in export.query
    plain = sl.from_frame(df, time="ts").watermark("1min").window(sl.Hop("24h", "6h")).agg(n=("v", "size"))
    assert plain.to_flink_sql(path="/tmp/x.csv", parts=True).settings["table.local-time-zone"] == "UTC"
