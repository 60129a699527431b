"""What a live view of a changelog costs per update (``res.table()`` / ``res.plot.bar(...)``).

Run: ``python benchmarks/bench_changelog_views.py [--repeat 7]``. It prints a table (it does not
write ``RESULTS.md``).

A continuous ``groupby`` over K keys has emitted its table; one flush then brings 500 changes
(250 updated keys, ``-U``/``+U``). Measured, as medians over ``--repeat`` runs:

- **apply**: the view's one materialisation (``Materialized.update``: the table as ``+I`` rows,
  plus the changes, through ``apply_changelog``);
- **pandas upsert**: the obvious keyed baseline, ``concat([table, after rows]).drop_duplicates(key,
  keep="last")`` (it knows the key; the changelog is applied as a multiset, without one);
- **bar redraw**: a ``LivePlot`` bar chart with a text x (bars ordered by y) applying the flush,
  Bokeh model updates included (no front end attached).

The ratio is pandas upsert / apply (1.0 = as fast as the keyed pandas baseline).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from streamlab.ranking.changelog import Materialized
from streamlab.viz.plot import PlotAccessor
from streamlab.widgets.testing import dummy_comms


def frames(keys: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    names = np.array([f"/page-{i:06d}" for i in range(keys)], dtype=object)
    n = rng.integers(1, 1000, keys)
    table = pd.DataFrame({"op": "+I", "page": names, "n": n})
    upd = rng.choice(keys, min(250, keys), replace=False)
    before = pd.DataFrame({"op": "-U", "page": names[upd], "n": n[upd]})
    after = pd.DataFrame({"op": "+U", "page": names[upd], "n": n[upd] + 1})
    changes = pd.concat([before, after]).sort_index(kind="stable").reset_index(drop=True)
    return table, changes


def timed(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out) * 1000


def apply(table: pd.DataFrame, changes: pd.DataFrame) -> None:
    """What a live view does per flush: the table so far plus the new changes, applied."""
    Materialized(table.drop(columns="op")).update([changes])


def upsert(table: pd.DataFrame, changes: pd.DataFrame) -> None:
    """The keyed pandas baseline: the new values replace the old ones of their keys."""
    after = changes[changes["op"] == "+U"].drop(columns="op")
    pd.concat([table.drop(columns="op"), after]).drop_duplicates("page", keep="last")


def redraw(table: pd.DataFrame, changes: pd.DataFrame) -> float:
    """Seconds a bar chart (text x) takes to apply ``changes`` and update its Bokeh models."""
    import streamz

    with dummy_comms():
        s = streamz.Stream()
        p = PlotAccessor(s).bar(x="page", y="n")
        s.emit(table)
        t = time.perf_counter()
        s.emit(changes)
        spent = time.perf_counter() - t
        p.close()
    return spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    print(f"{'keys':>8} {'apply ms':>9} {'pandas upsert ms':>17} {'ratio':>6} {'bar redraw ms':>14}")
    for keys in (100, 1_000, 10_000, 100_000):
        table, changes = frames(keys)
        a = timed(lambda t=table, c=changes: apply(t, c), args.repeat)
        u = timed(lambda t=table, c=changes: upsert(t, c), args.repeat)
        runs = max(3, args.repeat // 2) if keys <= 10_000 else 1
        r = statistics.median(redraw(table, changes) for _ in range(runs)) * 1000
        print(f"{keys:>8,} {a:>9.1f} {u:>17.1f} {u / a:>6.2f} {r:>14.1f}")


if __name__ == "__main__":
    main()
