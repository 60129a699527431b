"""SQL result types are Flink's (issue 11 item 7), the Python API keeps pandas'.

Flink's ``GroupWindowITCase.testEventTimeSessionGroupWindowOverTime`` expects AVG of an INT column
to be an INT (3 where pandas' mean is 3.75): AVG of an integer column is ``SUM / COUNT`` in integer
arithmetic, truncated toward zero. The model below computes that with Python integers, row by row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import streamlab as sl
from streamlab.sql import query

WINDOWS = {
    "tumble": "TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND)",
    "hop": "HOP(TABLE src, DESCRIPTOR(ts), INTERVAL '500' MILLISECOND, INTERVAL '1' SECOND)",
    "session": "SESSION(TABLE src PARTITION BY k, DESCRIPTOR(ts), INTERVAL '300' MILLISECOND)",
}


def frame(seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(0, 20_000, n))
    return pd.DataFrame({"ts": pd.to_datetime(ts, unit="ms"), "k": rng.choice(["a", "b", "c"], n),
                         "v": rng.integers(-50, 50, n), "f": rng.normal(size=n)})


def epoch_ms(col: pd.Series) -> pd.Series:
    return (col.dt.tz_localize(None) if col.dt.tz is not None else col).sub(pd.Timestamp(0)) // pd.Timedelta("1ms")


def java_avg(values: list[int]) -> int:
    """Flink's AVG of INT: the long sum divided by the count, truncated toward zero (Java)."""
    total, count = sum(values), len(values)
    q = abs(total) // count
    return q if total >= 0 else -q


def session_model(df: pd.DataFrame, gap_ms: int) -> pd.DataFrame:
    rows = []
    for k, g in df.sort_values("ts").groupby("k"):
        ms = epoch_ms(g.ts).tolist()
        vs = g.v.tolist()
        start = 0
        for i in range(1, len(ms) + 1):
            if i == len(ms) or ms[i] - ms[i - 1] > gap_ms:  # touching sessions merge (DESIGN §2)
                rows.append((k, ms[start], java_avg(vs[start:i]), float(np.mean(vs[start:i]))))
                start = i
    return pd.DataFrame(rows, columns=["k", "start", "avg", "mean"])


def slice_model(df: pd.DataFrame, size: int, slide: int) -> pd.DataFrame:
    ms = epoch_ms(df.ts).to_numpy()
    rows = []
    for start in range(-size, int(ms.max()) + 1, slide):
        inside = df[(ms >= start) & (ms < start + size)]
        for k, g in inside.groupby("k"):
            rows.append((k, start, java_avg(g.v.tolist()), float(g.v.mean())))
    return pd.DataFrame(rows, columns=["k", "start", "avg", "mean"])


def sql_result(df: pd.DataFrame, window: str, batch_size: int) -> pd.DataFrame:
    src = sl.from_frame(df, time="ts", batch_size=batch_size).watermark("0s")
    res = query(f"SELECT k, window_start, AVG(v) AS av, AVG(f) AS af FROM TABLE({WINDOWS[window]}) "
                "GROUP BY k, window_start, window_end", src=src)
    out = res.collect()
    out["start"] = epoch_ms(out.window_start)
    return out


@pytest.mark.parametrize("window", list(WINDOWS))
@pytest.mark.parametrize("batch_size", [1, 37, 10_000])
def test_sql_avg_of_an_int_column_is_flinks_truncated_int(window, batch_size):
    df = frame(seed=len(window) + batch_size)
    out = sql_result(df, window, batch_size)
    model = session_model(df, 300) if window == "session" else \
        slice_model(df, 1000, 1000 if window == "tumble" else 500)
    assert out.av.dtype == np.int64, "AVG of an INT column is an INT in Flink"
    assert out.af.dtype == np.float64, "AVG of a DOUBLE column stays a DOUBLE"
    got = out.assign(start=out.start.astype("int64"))[["k", "start", "av"]]
    got = got.sort_values(["k", "start"]).reset_index(drop=True)
    want = model[["k", "start", "avg"]].rename(columns={"avg": "av"}).sort_values(["k", "start"])
    pd.testing.assert_frame_equal(got, want.reset_index(drop=True), check_dtype=False)
    assert (model["avg"] != model["mean"]).any(), "the case must tell a truncated mean from a float one"


def test_python_api_keeps_pandas_float_mean():
    df = frame(seed=3)
    src = sl.from_frame(df, time="ts").watermark("0s")
    out = src.window(sl.Tumble("1s"), by="k").agg(av=("v", "mean")).collect()
    model = slice_model(df, 1000, 1000)
    assert out.av.dtype == np.float64
    assert np.allclose(np.sort(out.av.to_numpy()), np.sort(model["mean"].to_numpy()))


def test_itcase_session_over_time_gives_3_not_3_75():
    # GroupWindowITCase.testEventTimeSessionGroupWindowOverTime: one session of "Hello" holds
    # ints 2, 3, 4, 6 (sum 15, count 4): Flink's AVG is 3, pandas' mean 3.75
    df = pd.DataFrame({"ts": pd.to_datetime([1, 2, 4, 7], unit="ms"), "k": ["Hello"] * 4, "v": [2, 3, 4, 6],
                       "f": [0.0] * 4})
    out = sql_result(df, "session", 10)
    assert out.av.tolist() == [3]
