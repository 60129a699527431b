"""Interval join benchmark: streamlab vs pandas ``merge`` + filter, ratios from one run.

    python benchmarks/bench_joins.py --rows 1000000 --keys 1000

Two inputs of ``--rows`` rows each (1 row per ms per side, disordered by up to 50 ms, over
``--keys`` keys) are joined on the key with ``right.ts in [left.ts - 500ms, left.ts + 500ms]``.

- streamlab: ``from_frame(batch_size=100_000).watermark("100ms")`` on each side, ``join(...)``,
  ``collect()``. The peak number of rows the join holds (both sides) is sampled after every
  batch: it is bounded by the watermark and the bound, not by the input.
- pandas: ``merge(on="k")`` then the time filter, over the whole frames. A full merge of 1 M x 1 M
  rows over 1,000 keys makes 1e9 candidate pairs, which does not fit in memory, so it runs in
  chunks of keys (``--chunk`` keys at a time); that is the batch limit of this stack.

Both give the same number of rows (checked). It prints a table and rewrites its own section of
``benchmarks/RESULTS.md`` (between the ``bench_joins`` markers).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import streamlab as sl  # noqa: E402

START, END = "<!-- bench_joins: start -->", "<!-- bench_joins: end -->"
LOWER, UPPER = -500, 500


def make(n: int, keys: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = np.arange(n, dtype="int64") + rng.integers(0, 50, n)
    return pd.DataFrame({"ts": ts, "k": rng.integers(0, keys, n), "v": rng.random(n)})


def run_streamlab(left: pd.DataFrame, right: pd.DataFrame, batch: int) -> tuple[float, int, int]:
    a = sl.from_frame(left, time="ts", unit="ms", batch_size=batch).watermark("100ms")
    b = sl.from_frame(right, time="ts", unit="ms", batch_size=batch).watermark("100ms")
    j = a.join(b, on="k", between=(LOWER, UPPER))
    peak = [0]

    def sample(_df):
        peak[0] = max(peak[0], len(j.held[0]) + len(j.held[1]))

    j.sink(sample)
    t0 = time.process_time()
    out = j.collect()
    return time.process_time() - t0, len(out), peak[0]


def run_pandas(left: pd.DataFrame, right: pd.DataFrame, keys: int, chunk: int) -> tuple[float, int]:
    t0 = time.process_time()
    total = 0
    lg, rg = left.groupby(left.k // chunk), right.groupby(right.k // chunk)
    for g, lpart in lg:
        m = lpart.merge(rg.get_group(g), on="k")
        d = m.ts_y.to_numpy() - m.ts_x.to_numpy()
        total += int(((d >= LOWER) & (d <= UPPER)).sum())
    return time.process_time() - t0, total


def update_results(path: Path, section: str) -> None:
    """Replace this script's section of RESULTS.md (or append it), keeping everything else."""
    block = f"{START}\n{section.rstrip()}\n\n{END}\n"
    text = path.read_text() if path.exists() else ""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + block
    path.write_text(text)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows per input (default 1000000)")
    ap.add_argument("--keys", type=int, default=1_000)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--chunk", type=int, default=10, help="keys per pandas merge chunk (default 10)")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    left, right = make(args.rows, args.keys, 1), make(args.rows, args.keys, 2)
    sl_s, sl_rows, peak = run_streamlab(left, right, args.batch)
    pd_s, pd_rows = run_pandas(left, right, args.keys, args.chunk)
    assert sl_rows == pd_rows, (sl_rows, pd_rows)
    n = 2 * args.rows
    rows = [
        ("pandas merge + filter (key chunks)", f"{n / pd_s:,.0f} rows/s", f"{pd_s:.2f} s"),
        (f"streamlab interval join, batch {args.batch:,}", f"{n / sl_s:,.0f} rows/s", f"{sl_s:.2f} s"),
    ]
    ratio = pd_s / sl_s
    section = "\n".join([
        "## Interval join",
        "",
        f"`python benchmarks/bench_joins.py --rows {args.rows} --keys {args.keys} --batch {args.batch}` on "
        f"{platform.machine()}, Python {platform.python_version()}, pandas {pd.__version__}; "
        f"{datetime.date.today()}. {args.rows:,} x {args.rows:,} rows over {args.keys:,} keys, "
        f"right.ts in [left.ts - 500ms, left.ts + 500ms], {sl_rows:,} result rows. CPU (process) time of one run.",
        "",
        "| pipeline | input rows/s | time |",
        "|---|---:|---:|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
        "| goal | measured | target |",
        "|---|---:|---|",
        f"| streamlab vs pandas merge + filter | {ratio:.2f}x | >= 0.3x |",
        f"| peak rows held by the join (both sides) | {peak:,} | bounded by the watermark, not the input "
        f"({n:,} rows in) |",
    ])
    print(section)
    if not args.no_write:
        update_results(Path(args.out), section)


if __name__ == "__main__":
    main()
