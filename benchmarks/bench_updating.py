"""Benchmarks for updating results and ranking (issue 11), ratios from one run.

- OVER ``RANGE 10s`` per key (``s.rolling("10s", by="key").agg(avg=("v", "mean"))``) against
  pandas ``df.groupby("key").rolling("10s", on="ts")["v"].mean()`` over the whole frame (goal >= 0.5x);
- window Top-N (``s.window(sl.Tumble("1s")).nlargest(3, "v")``) against pandas
  ``groupby(window).nlargest`` over the whole frame (goal >= 0.5x);
- memory: the OVER operator's kept rows stay bounded by the watermark (not by the input).

Usage: ``python benchmarks/bench_updating.py --events 1000000 --repeat 3``. It prints a table and
rewrites its own section of ``benchmarks/RESULTS.md`` (between the markers below).
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

import streamlab as sl

HERE = Path(__file__).resolve().parent
START = "<!-- bench_updating: start -->"
END = "<!-- bench_updating: end -->"


def events(n: int, keys: int = 16, seed: int = 0) -> pd.DataFrame:
    """``n`` events at 10,000/s of event time, a little disordered (< 10 ms), ``keys`` keys."""
    rng = np.random.default_rng(seed)
    ts = np.arange(n) * 10 + rng.integers(0, 1000, n)  # in units of 10 us
    return pd.DataFrame({"ts": pd.to_datetime(ts // 100, unit="ms"), "key": rng.integers(0, keys, n).astype(str),
                         "v": rng.random(n)})


def cpu(fn) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def over_streamlab(df: pd.DataFrame, batch: int):
    src = sl.from_frame(df, time="ts", batch_size=batch).watermark("100ms")
    res = src.rolling("10s", by="key").agg(avg=("v", "mean"))
    peak = [0]
    res.sink(lambda _: peak.__setitem__(0, max(peak[0], len(res.hist["__ms"]) + len(res.pending))))
    res.collect()
    return peak[0]


def over_pandas(df: pd.DataFrame) -> None:
    df.sort_values("ts").groupby("key").rolling("10s", on="ts")["v"].mean()


def topn_streamlab(df: pd.DataFrame, batch: int) -> None:
    sl.from_frame(df, time="ts", batch_size=batch).watermark("100ms").window(sl.Tumble("1s")).nlargest(3, "v").collect()


def topn_pandas(df: pd.DataFrame) -> None:
    w = df["ts"].dt.floor("1s")
    df.assign(w=w).groupby("w")["v"].nlargest(3)


def run(n: int, repeat: int, batch: int) -> tuple[list[tuple[str, str]], list[tuple[str, str, str, str]]]:
    df = events(n)
    times: dict[str, list[float]] = {k: [] for k in ("over_sl", "over_pd", "topn_sl", "topn_pd")}
    peak = 0
    for _ in range(repeat):
        t = time.process_time()
        peak = over_streamlab(df, batch)
        times["over_sl"].append(time.process_time() - t)
        times["over_pd"].append(cpu(lambda: over_pandas(df)))
        times["topn_sl"].append(cpu(lambda: topn_streamlab(df, batch)))
        times["topn_pd"].append(cpu(lambda: topn_pandas(df)))
    rate = {k: n / statistics.median(v) for k, v in times.items()}
    rows = [
        ("pandas groupby(key).rolling('10s').mean()", f"{rate['over_pd']:,.0f}"),
        (f"streamlab rolling('10s', by=key) mean, batch {batch // 1000}k", f"{rate['over_sl']:,.0f}"),
        ("pandas groupby(1s window).nlargest(3)", f"{rate['topn_pd']:,.0f}"),
        (f"streamlab window(Tumble 1s).nlargest(3), batch {batch // 1000}k", f"{rate['topn_sl']:,.0f}"),
    ]
    bound = int(10_000 * 10.1 * 1.05) + batch  # 10,000 events/s: the 10 s range, the 100 ms delay, one batch
    over_ratio = rate["over_sl"] / rate["over_pd"]
    topn_ratio = rate["topn_sl"] / rate["topn_pd"]
    goals = [
        ("OVER RANGE 10s vs pandas", f"{over_ratio:.2f}x", ">= 0.5x", "yes" if over_ratio >= 0.5 else "no"),
        ("window Top-N vs pandas", f"{topn_ratio:.2f}x", ">= 0.5x", "yes" if topn_ratio >= 0.5 else "no"),
        ("OVER rows kept at peak (of the input)", f"{peak:,} of {n:,}",
         f"<= 10.1 s of events ({bound:,})", "yes" if peak <= bound else "no"),
    ]
    return rows, goals


def section(args, rows, goals) -> str:
    lines = [START, "## Updating results and ranking", "",
             f"`python benchmarks/bench_updating.py --events {args.events} --repeat {args.repeat}` on "
             f"{platform.machine()}, Python {platform.python_version()}, pandas {pd.__version__}; "
             f"{dt.date.today().isoformat()}. Medians of CPU time; 16 keys, 10,000 events per second of event "
             "time, disorder < 10 ms, watermark delay 100 ms. pandas works on the whole frame at once.", "",
             "| pipeline | events/s |", "|---|---:|", *[f"| {a} | {b} |" for a, b in rows], "",
             "| goal | measured | target | met |", "|---|---:|---|---|",
             *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in goals], "", END]
    return "\n".join(lines)


def write(out: Path, text: str) -> None:
    """Replace this script's section of RESULTS.md (or append it), keeping everything else."""
    old = out.read_text() if out.exists() else "# Benchmark results\n"
    if START in old and END in old:
        new = old[:old.index(START)] + text + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    out.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = ap.parse_args()
    rows, goals = run(args.events, args.repeat, args.batch)
    text = section(args, rows, goals)
    print(text)
    write(Path(args.out), text)


if __name__ == "__main__":
    main()
