"""``streamlab run``: the headless main job — a source, a window, printed as windows fire.

Example::

    streamlab run --source demo:sensors --window tumble:5s --by sensor --agg avg:temp --for 30s
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import pandas as pd

from . import demo
from .core.durations import to_ms
from .core.state import PipelineState
from .sources import from_csv, from_parquet
from .windows import Cumulate, Hop, Session, Tumble

AGG_NAMES = {"avg": "mean", "mean": "mean", "sum": "sum", "min": "min", "max": "max", "count": "count",
             "first": "first", "last": "last", "std": "std", "var": "var", "median": "median", "size": "size"}


def parse_window(text: str):
    """``tumble:5s``, ``hop:10s:1s`` (size, slide), ``cumulate:1min:10s`` (size, step), ``session:30s``.

    >>> parse_window("hop:10s:1s")
    Hop(size='10s', slide='1s', offset=0, tz=None)
    """
    kind, _, rest = text.partition(":")
    parts = [p for p in rest.split(":") if p]
    kinds = {"tumble": (Tumble, 1), "hop": (Hop, 2), "cumulate": (Cumulate, 2), "session": (Session, 1)}
    if kind not in kinds:
        raise argparse.ArgumentTypeError(f"--window {text!r}: use tumble:SIZE, hop:SIZE:SLIDE, cumulate:SIZE:STEP or session:GAP")
    cls, nargs = kinds[kind]
    if len(parts) != nargs:
        raise argparse.ArgumentTypeError(f"--window {text!r}: {kind} takes {nargs} duration(s), e.g. {kind}:{':'.join(['5s'] * nargs)}")
    try:
        return cls(*parts)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"--window {text!r}: {exc}") from None


def parse_agg(text: str) -> tuple[str, tuple[str, str]]:
    """``avg:temp`` -> ("avg_temp", ("temp", "mean")); ``count`` counts rows.

    >>> parse_agg("avg:temp")
    ('avg_temp', ('temp', 'mean'))
    """
    func, _, column = text.partition(":")
    if func not in AGG_NAMES:
        raise argparse.ArgumentTypeError(f"--agg {text!r}: unknown function {func!r}; use one of {', '.join(AGG_NAMES)}")
    if not column:
        if func not in ("count", "size"):
            raise argparse.ArgumentTypeError(f"--agg {text!r}: {func} needs a column, e.g. {func}:temp")
        return "count", ("__rows__", "size")
    return f"{func}_{column}", (column, AGG_NAMES[func])


def build_source(args):
    kind, _, arg = args.source.partition(":")
    speed = None if args.speed in (None, "max") else float(args.speed)
    if kind == "demo":
        makers = {"sensors": demo.sensors, "clicks": demo.clicks, "trades": demo.trades}
        if arg not in makers:
            raise SystemExit(f"--source demo:{arg}: unknown demo; use demo:sensors, demo:clicks or demo:trades")
        return makers[arg](rate=args.rate, keys=args.keys, speed=1.0 if args.speed is None else speed,
                           seed=args.seed, disorder=args.disorder)
    readers = {"csv": from_csv, "parquet": from_parquet}
    if kind in readers:
        return readers[kind](arg, time=args.time, unit=args.unit, speed=speed)
    raise SystemExit(f"--source {args.source!r}: use demo:sensors|clicks|trades, csv:PATH or parquet:PATH")


def main(argv=None) -> int:
    """Entry point of the ``streamlab`` command."""
    parser = argparse.ArgumentParser(prog="streamlab", description="streamlab: event-time windows on live streams")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a windowed pipeline and print windows as they fire")
    run.add_argument("--source", default="demo:sensors", help="demo:sensors|clicks|trades, csv:PATH or parquet:PATH")
    run.add_argument("--time", default="ts", help="event-time column of a file source (default ts)")
    run.add_argument("--unit", default=None, choices=["s", "ms", "us", "ns"], help="unit of a numeric time column")
    run.add_argument("--window", type=parse_window, default=parse_window("tumble:5s"),
                     help="tumble:5s | hop:10s:1s | cumulate:1min:10s | session:30s")
    run.add_argument("--by", default=None, help="group key column(s), comma-separated")
    run.add_argument("--agg", action="append", type=parse_agg, help="FUNC:COLUMN, e.g. avg:temp (repeatable); count alone counts rows")
    run.add_argument("--watermark", default="500ms", help="allowed out-of-orderness (default 500ms)")
    run.add_argument("--for", dest="duration", default=None, help="stop after this long (wall clock), e.g. 30s")
    run.add_argument("--speed", default=None, help="replay speed: 1 = real time (demo default), 10, or max")
    run.add_argument("--rate", type=float, default=1000, help="demo events per second")
    run.add_argument("--keys", type=int, default=8, help="demo keys")
    run.add_argument("--seed", type=int, default=0, help="demo seed")
    run.add_argument("--disorder", default="300ms", help="demo disorder")
    run.add_argument("--out", default=None, help="also write the windows to a .csv or .parquet file")
    run.add_argument("--quiet", action="store_true", help="do not print windows")
    args = parser.parse_args(argv)
    args.agg = args.agg or [parse_agg("count")]
    try:
        res = _build_from_parsed(args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"streamlab: {exc}", file=sys.stderr)
        return 2
    limit = None if args.duration is None else to_ms(args.duration, None, name="--for") / 1000
    if limit is None and not all(s.finite for s in res.pipeline.sources):
        print("streamlab: the demo source is endless; add --for 30s", file=sys.stderr)
        return 2
    frames: list[pd.DataFrame] = []

    def show(df: pd.DataFrame) -> None:
        frames.append(df)
        if not args.quiet:
            print(df.to_string(index=False), end="\n\n", flush=True)

    res.sink(show)
    t0 = time.monotonic()
    asyncio.run(_run(res, limit))
    out = pd.concat(frames, ignore_index=True) if frames else res.empty_output()
    if args.out:
        (out.to_parquet if args.out.endswith(".parquet") else out.to_csv)(args.out, index=False)
    snap = res.snapshot(limit=0)
    c = snap["counters"]
    print(f"# {c['in']} events in, {c['out']} window rows, {c['late']} late, {c['errors']} errors "
          f"in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    return 0


def _build_from_parsed(args):
    aggs = dict(args.agg)
    src = build_source(args)
    aggs = {k: ((src.time_column, f) if col == "__rows__" else (col, f)) for k, (col, f) in aggs.items()}
    by = args.by.split(",") if args.by else None
    return src.watermark(args.watermark).window(args.window, by=by).agg(**aggs)


async def _run(res, limit) -> None:
    pipe = res.start()
    try:
        await asyncio.wait_for(pipe.wait(), timeout=limit)
    except TimeoutError:
        pipe.stop()
    if pipe.state == PipelineState.STOPPED:
        pipe.flush()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
