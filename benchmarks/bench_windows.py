"""Throughput and memory of streamlab windows against a pandas groupby and a per-event streamz pipeline.

Run: ``python benchmarks/bench_windows.py [--events 2000000] [--repeat 3]``. It prints a table and
rewrites its own section of ``benchmarks/RESULTS.md`` (between the ``bench_windows`` markers; the
rest of the file is left alone). The machine is shared and noisy: each figure is the median of
``--repeat`` runs, and the ratios are what to read.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import streamz

import streamlab as sl

HERE = Path(__file__).resolve().parent
START = "<!-- bench_windows: start -->"
END = "<!-- bench_windows: end -->"


def make_data(n: int, seed: int = 0) -> pd.DataFrame:
    """n events at ~100k events/s of event time, <= 0.5 s disorder, 1,000 Zipf-skewed string keys."""
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(0, n // 100, n)).astype("int64")  # ms: 100 events per ms
    arrival = ts + rng.uniform(0, 500, n)
    order = np.argsort(arrival, kind="stable")
    ranks = np.minimum(rng.zipf(1.3, n), 1000) - 1
    names = np.array([f"key-{i:04d}" for i in range(1000)], dtype=object)
    return pd.DataFrame({
        "ts": pd.to_datetime(ts[order] + 1_704_067_200_000, unit="ms").as_unit("ms"),
        "key": names[ranks[order]],
        "value": rng.normal(10, 3, n).round(2),
    })


def timed(fn, repeat):
    """Median CPU time of ``fn`` (process time: waiting for a busy core is not counted)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


# --- baselines -------------------------------------------------------------------------------
def pandas_tumble(df):
    w = df["ts"].dt.floor("1s")
    return df.assign(w=w).groupby(["key", "w"], sort=False)["value"].agg(["count", "sum", "mean"])


def pandas_session(df):
    d = df.sort_values(["key", "ts"])
    gap = d["ts"].diff().dt.total_seconds().mul(1000).gt(50) | d["key"].ne(d["key"].shift())
    sid = gap.cumsum()
    return d.groupby(sid)["value"].agg(["count", "sum"])


def streamz_per_event(df):
    """A hand-written per-event tumbling count/sum with streamz ``accumulate`` (the naive way)."""
    source = streamz.Stream()

    def step(state, row):
        ts, key, value = row
        w = ts // 1000
        acc = state.setdefault((key, w), [0, 0.0])
        acc[0] += 1
        acc[1] += value
        return state

    out = source.accumulate(step, start={})
    out.sink(lambda s: None)
    ms = df["ts"].to_numpy().view("int64") // 1_000_000 if df["ts"].dtype.kind == "M" else df["ts"].to_numpy()
    for row in zip(ms.tolist(), df["key"].tolist(), df["value"].tolist()):
        source.emit(row)


# --- streamlab -------------------------------------------------------------------------------
def q1(df, batch_size):
    return (sl.from_frame(df, time="ts", batch_size=batch_size).watermark("500ms")
            .window(sl.Tumble("1s"), by="key")
            .agg(cnt=("value", "count"), total=("value", "sum"), avg=("value", "mean")).collect())


def q2(df, batch_size=10_000):
    return (sl.from_frame(df, time="ts", batch_size=batch_size).watermark("500ms")
            .window(sl.Hop("10s", "1s"), by="key").agg(total=("value", "sum"), cnt=("value", "count")).collect())


def q3(df, batch_size=10_000):
    return (sl.from_frame(df, time="ts", batch_size=batch_size).watermark("500ms")
            .window(sl.Session("50ms"), by="key").agg(cnt=("value", "count"), total=("value", "sum")).collect())


def push_rows(rows):
    s = streamz.Stream()
    src = sl.from_streamz(s, time="ts", unit="ms")
    res = src.watermark("500ms").window(sl.Tumble("1s"), by="key").agg(cnt=("value", "count"))
    res.sink(lambda df: None)
    emit = s.emit
    for row in rows:
        emit(row)
    src.on_flush()
    res.on_flush()


def peak_added_mb(fn) -> float:
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2**20


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args(argv)
    n = args.events
    df = make_data(n)
    small = df.iloc[: min(n, 200_000)]
    rows = [{"ts": int(t), "key": k, "value": v} for t, k, v in zip(
        small["ts"].to_numpy().view("int64") // 1_000_000, small["key"], small["value"])]

    eps = {}
    eps["pandas groupby (Tumble 1s)"] = n / timed(lambda: pandas_tumble(df), args.repeat)
    eps["pandas sessions (sort, diff, cumsum)"] = n / timed(lambda: pandas_session(df), args.repeat)
    eps["streamz per-event accumulate"] = len(small) / timed(lambda: streamz_per_event(small), 1)
    eps["Q1 Tumble 1s, batch 10k"] = n / timed(lambda: q1(df, 10_000), args.repeat)
    eps["Q1 Tumble 1s, batch 100k"] = n / timed(lambda: q1(df, 100_000), args.repeat)
    eps["Q2 Hop 10s/1s, batch 10k"] = n / timed(lambda: q2(df), args.repeat)
    eps["Q3 Session 50ms, batch 10k"] = n / timed(lambda: q3(df), args.repeat)
    eps["rows pushed one at a time (from_streamz)"] = len(rows) / timed(lambda: push_rows(rows), args.repeat)
    mem = peak_added_mb(lambda: q2(df))

    pd_t, pd_s = eps["pandas groupby (Tumble 1s)"], eps["pandas sessions (sort, diff, cumsum)"]
    checks = [
        ("Q1 batch 10k vs pandas", eps["Q1 Tumble 1s, batch 10k"] / pd_t, ">= 0.5x"),
        ("Q1 batch 100k vs pandas", eps["Q1 Tumble 1s, batch 100k"] / pd_t, ">= 0.8x"),
        ("Q2 cost vs Q1 (batch 10k)", eps["Q1 Tumble 1s, batch 10k"] / eps["Q2 Hop 10s/1s, batch 10k"], "<= 1.2x"),
        ("Q3 vs pandas sessions", eps["Q3 Session 50ms, batch 10k"] / pd_s, ">= 0.33x"),
        ("Q1 batch 10k vs streamz per-event", eps["Q1 Tumble 1s, batch 10k"] / eps["streamz per-event accumulate"], "(speed-up)"),
    ]
    lines = [
        "## Windows (CPU time)",
        "",
        f"`python benchmarks/bench_windows.py --events {n} --repeat {args.repeat}` on {platform.machine()}, "
        f"Python {platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}; "
        f"{time.strftime('%Y-%m-%d')}. Medians of {args.repeat} runs of CPU (process) time on a shared "
        "2-core machine; every figure comes from the same run, so read the ratios.",
        "",
        "| pipeline | events/s |",
        "|---|---:|",
        *[f"| {k} | {v:,.0f} |" for k, v in eps.items()],
        "",
        "| goal | measured | target |",
        "|---|---:|---|",
        *[f"| {name} | {ratio:.2f}x | {target} |" for name, ratio, target in checks],
        f"| Q2 peak memory added over the input | {mem:.1f} MB | <= 64 MB |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    update_results(Path(args.out), text)


def update_results(path: Path, section: str) -> None:
    """Replace this script's section of RESULTS.md (at the top when new), keeping everything else."""
    block = f"{START}\n{section.rstrip()}\n\n{END}\n"
    text = path.read_text() if path.exists() else ""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = block + ("\n" + text if text.strip() else "")
    path.write_text(text)


if __name__ == "__main__":
    main()
