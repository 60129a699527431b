"""Write the tutorial notebooks 02-07 (without outputs) from the cell sources below.

    python notebooks/_build.py            # rewrite every notebook
    python notebooks/_build.py 03 05      # only these

The notebooks are the product; this script only keeps their JSON tidy and reproducible.
01-quickstart.ipynb is maintained by hand (a browser test depends on its first cells).
tests/test_notebooks.py executes every notebook in this folder.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def md(text: str):
    return new_markdown_cell(textwrap.dedent(text).strip("\n"))


def code(text: str, *tags: str):
    cell = new_code_cell(textwrap.dedent(text).strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def write(name: str, cells: list) -> Path:
    nb = new_notebook(cells=cells, metadata=METADATA)
    for i, cell in enumerate(nb.cells):  # stable ids keep diffs small
        cell.id = f"{name[:2]}-{i:02d}"
    nbformat.validate(nb)
    path = HERE / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


NOTEBOOKS: dict[str, list] = {}


def notebook(name: str):
    def register(fn):
        NOTEBOOKS[name] = fn
        return fn

    return register


# ---------------------------------------------------------------------------------------------
@notebook("02-tumbling-hopping-cumulating")
def nb02():
    return [
        md("""
        # Tumbling, hopping and cumulating windows

        A window operator cuts an endless stream into finite pieces by **event time** (the time
        written in each row, here `ts`) and aggregates each piece. Three kinds of window are cut
        by the clock alone, whatever the data says:

        | window | what it makes | a row lands in |
        |---|---|---|
        | `sl.Tumble(size)` | back-to-back windows `[start, start + size)` | exactly 1 window |
        | `sl.Hop(size, slide)` | a window of length `size` starting every `slide` | `size / slide` windows |
        | `sl.Cumulate(size, step)` | windows that all start at the same `size`-aligned instant and grow by `step` | the windows of its period that end after it: 1 to `size / step` |

        They are Flink SQL's `TUMBLE`, `HOP` and `CUMULATE` table functions, with the same results
        row for row. This notebook feeds **the same recorded events** to all three and looks at
        what each makes of them.
        """),
        code("""
        %load_ext streamlab
        import time

        import pandas as pd
        import streamlab as sl

        # 30 s of readings from two sensors, 20 a second, recorded once so that every window
        # below sees exactly the same rows (in order: late data is the next notebook's topic).
        events = sl.demo.sensors(rate=20, keys=2, disorder="0ms", late_fraction=0, seed=1,
                                 speed=None, duration="30s").collect()
        print(len(events), "events from", events.ts.min(), "to", events.ts.max())
        events.head()
        """),
        md("""
        `sl.from_frame(events, time="ts")` replays a DataFrame as a stream, so each window kind gets
        its own run over the same rows. The watermark (explained in notebook 03) is set well above
        the disorder of these events, so no row is late here.
        """),
        code("""
        specs = {
            "Tumble": sl.Tumble("10s"),
            "Hop": sl.Hop("10s", "2s"),
            "Cumulate": sl.Cumulate("10s", "2s"),
        }


        def replay(spec, speed=None):
            \"\"\"The recorded events through one window spec: rows per (sensor, window).\"\"\"
            return (
                sl.from_frame(events, time="ts", speed=speed)
                .watermark("1s")
                .window(spec, by="sensor")
                .agg(n=("temp", "size"), avg=("temp", "mean"))
            )


        results = {name: replay(spec).collect() for name, spec in specs.items()}
        for name, out in results.items():
            print(f"{name:9} {len(out):3} result rows")
        """),
        md("""
        ## The picture

        `res.timeline()` draws every event as a dot at (event time, arrival time), the windows as
        bands on the event-time axis, the watermark as a line and the moment each window fires.
        Here are the three kinds over the first 12 seconds of one sensor. Tumble's bands tile the
        axis; Hop's overlap, a new one every 2 s; Cumulate's all start at the same instant and get
        longer, then start again 10 s later.
        """),
        code("""
        first = events[(events.sensor == "sensor-00") & (events.ts < events.ts.min() + pd.Timedelta("12s"))]


        def picture(spec):
            res = sl.from_frame(first, time="ts").watermark("1s").window(spec, by="sensor").agg(n=("temp", "size"))
            view = res.timeline(max_events=2000)
            res.collect()
            return view


        picture(specs["Tumble"])
        """),
        code("""
        picture(specs["Hop"])
        """),
        code("""
        picture(specs["Cumulate"])
        """),
        md("""
        ## The windows of one sensor

        The same thing as numbers. Each row is one window of `sensor-00`: when it starts, when it
        ends, how many readings fell in it. Look at the start and end columns of each table side by
        side with the pictures above.
        """),
        code("""
        def windows_of(name, sensor="sensor-00"):
            out = results[name]
            out = out[out.sensor == sensor]
            return out.assign(window_start=out.window_start.dt.strftime("%H:%M:%S"),
                              window_end=out.window_end.dt.strftime("%H:%M:%S"))[
                ["window_start", "window_end", "n"]].reset_index(drop=True)


        windows_of("Tumble")
        """),
        code("""
        windows_of("Hop").head(8)
        """),
        code("""
        windows_of("Cumulate").head(8)
        """),
        md("""
        Hop's first windows start *before* the first event (`23:59:52`): a hop window contains
        every instant it covers, so the windows `[23:59:52, 00:00:02)` ... `[23:59:58, 00:00:08)` all
        contain the readings of the first seconds. Flink does the same.

        ## How many windows does a row land in?

        Pick one reading and find the windows that contain it: `window_start <= ts < window_end`.
        """),
        code("""
        row = events.iloc[150]
        print(f"reading at {row.ts:%H:%M:%S.%f} from {row.sensor}")
        for name, out in results.items():
            hit = out[(out.sensor == row.sensor) & (out.window_start <= row.ts) & (row.ts < out.window_end)]
            spans = ", ".join(f"[{s:%H:%M:%S}, {e:%H:%M:%S})" for s, e in zip(hit.window_start, hit.window_end))
            print(f"{name:9} {len(hit)} window(s): {spans}")
        """),
        md("""
        Over all rows, the counts add up to *rows × windows per row*: 1 for Tumble, `size / slide`
        = 5 for Hop, and between 1 and `size / step` = 5 for Cumulate (a row early in its 10 s period
        is in all 5 growing windows, a row in its last 2 s only in the full one):
        """),
        code("""
        pd.DataFrame({
            name: {"rows in": len(events), "sum of n over windows": int(out.n.sum()),
                   "windows per row": round(out.n.sum() / len(events), 2)}
            for name, out in results.items()
        })
        """),
        md("""
        ## Why Hop is cheap: shared panes

        A hop window of 10 s sliding by 2 s overlaps four others. Copying every row into each of its
        5 windows would cost 5 times the work, and a daily window updated every minute 1,440 times.
        streamlab (like Flink) instead cuts time into **panes** of one slide (2 s here) and keeps
        one *partial aggregate* per pane and key: a row is added **once**, to its pane. When a window
        fires, it merges the partials of the 5 panes it covers. Mean is kept as (count, sum), so
        merging is adding. Cumulate is built the same way from panes of one step.

        The same computation in plain pandas, for one sensor, gives exactly the engine's rows:
        """),
        code("""
        one = events[events.sensor == "sensor-00"]
        # one partial aggregate (count, sum) per 2 s pane: each row is added once
        panes = one.groupby(one.ts.dt.floor("2s")).temp.agg(["size", "sum"])
        grid = pd.date_range(panes.index.min(), panes.index.max() + pd.Timedelta("8s"), freq="2s")
        panes = panes.reindex(grid, fill_value=0)
        # a 10 s window = the merge (sum) of the 5 panes it covers; it ends where its last pane ends
        merged = panes.rolling(5, min_periods=1).sum()
        from_panes = pd.DataFrame({
            "window_end": merged.index + pd.Timedelta("2s"),
            "n": merged["size"].astype("int64").to_numpy(),
            "avg": (merged["sum"] / merged["size"]).to_numpy(),
        })
        from_panes = from_panes[from_panes.n > 0].reset_index(drop=True)

        engine = results["Hop"][results["Hop"].sensor == "sensor-00"].reset_index(drop=True)
        assert (from_panes.n.to_numpy() == engine.n.to_numpy()).all()
        assert ((from_panes.avg - engine.avg).abs() < 1e-9).all()
        print(len(panes), "panes make", len(engine), "hop windows; every count and mean agrees")
        """),
        md("""
        What it buys: 100,000 readings through a 60-second window sliding every second (each row
        belongs to 60 windows) cost about the same as a tumbling window, while copying each row
        into its 60 windows and grouping (the naive way) moves 6 million rows.
        """),
        code("""
        many = sl.demo.sensors(rate=20_000, keys=8, disorder="0ms", late_fraction=0, seed=0,
                               speed=None, events=100_000).collect()


        def timed(spec):
            started = time.perf_counter()
            out = (sl.from_frame(many, time="ts").watermark("1s").window(spec, by="sensor")
                   .agg(n=("temp", "size"), avg=("temp", "mean")).collect())
            return out, time.perf_counter() - started


        for spec in (sl.Tumble("1s"), sl.Hop("60s", "1s"), sl.Cumulate("60s", "1s")):
            out, seconds = timed(spec)
            print(f"{str(spec):45} {len(out):4} windows, {out.n.sum():>9,} row-window pairs, {seconds:.2f} s")

        started = time.perf_counter()
        pane = many.ts.dt.floor("1s")
        copied = pd.concat([many.assign(window_start=pane - pd.Timedelta(seconds=k)) for k in range(60)])
        naive = copied.groupby(["sensor", "window_start"]).temp.agg(["size", "mean"])
        print(f"{'naive copy into 60 windows':45} {len(naive):4} windows, {len(copied):>9,} copied rows,"
              f" {time.perf_counter() - started:.2f} s")
        """),
        md("""
        ## Live

        Plots are live: `res.plot.line(...)` is a Bokeh figure that grows as windows fire. Here the
        recorded events are replayed at 5× their event-time rate (`speed=5`, about 6 seconds), one
        plot per window kind. The tumbling line has a point every 10 s, the hopping and cumulating
        lines one every 2 s; the cumulating line restarts every 10 s, because it is a running
        average over a growing window.
        """),
        code("""
        import ipywidgets as widgets

        live = {name: replay(spec, speed=5) for name, spec in specs.items()}
        plots = [live[name].plot.line(x="window_end", y="avg", by="sensor", title=f"{name}: avg temp",
                                      height=250) for name in live]
        for res in live.values():
            res.start()
        widgets.VBox(plots)
        """),
        md("""
        ## Exercise

        Which windows does an event land in? The widget draws a random event; answer, and the
        engine checks your answer and explains the right one. Run the cell again for a new event.
        """),
        code("""
        ex = sl.teach.exercise("which_windows", window=sl.Hop("10s", "5s"), watermark="2s", seed=0)
        ex
        """),
        md("""
        The same exercise in code: `ex.question` is the question and `ex.check(answer)` marks an
        answer and explains. A deliberately wrong answer:
        """),
        code("""
        print(ex.question)
        print(ex.check([]))
        """),
        md("""
        **Next:** [03 – event time, watermarks and late data](03-event-time-watermarks-late-data.ipynb):
        what happens when rows arrive out of order.
        """),
    ]


# ---------------------------------------------------------------------------------------------
def main(argv: list[str]) -> None:
    wanted = [name for name in NOTEBOOKS if not argv or any(name.startswith(a) for a in argv)]
    for name in wanted:
        print("wrote", write(name, NOTEBOOKS[name]()).relative_to(HERE.parent))


if __name__ == "__main__":
    main(sys.argv[1:])
