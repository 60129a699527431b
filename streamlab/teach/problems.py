"""Exercise problems, generated from a seed and answered by the engine itself.

Times are in seconds for the learner and in integer milliseconds inside. Each generator returns
a :class:`Problem`; its ``answer`` comes from :meth:`SlicedLogic.windows_of` or from running the
window operator on the problem's events (one row per micro-batch, so the arrival after which a
window fires is observable).

>>> import streamlab as sl, numpy as np
>>> p = which_windows(sl.Hop("10s", "5s").resolve("s"), 2000, np.random.default_rng(0))
>>> p.kind, len(p.answer)
('which_windows', 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core.durations import format_ms
from ..core.timecol import event_ms
from ..sources.frame import from_frame
from ..windows.sliced import SlicedLogic
from ..windows.specs import SessionPlan

END = "end"  # "fires only at the end of the input"


def sec(ms: int) -> str:
    """Seconds for the learner: ``sec(19999) == '19.999s'``.

    >>> sec(19999), sec(-5000)
    ('19.999s', '-5s')
    """
    return f"{ms / 1000:g}s"


def win(w: tuple[int, int]) -> str:
    return f"[{sec(w[0])}, {sec(w[1])})"


@dataclass(frozen=True)
class Problem:
    """One exercise: the question, its events (arrival order), the choices and the right answer."""

    kind: str
    question: str
    choices: list[tuple[str, object]]
    answer: object  # frozenset of windows | a window | event number or END | bool
    explanation: str
    multiple: bool = False
    events: pd.DataFrame | None = None
    target: int | None = None  # the highlighted event (1-based), if any
    facts: dict = field(default_factory=dict)


def _run(events_ms: list[int], spec, delay_ms: int):
    """Run the engine one row per batch: (fire arrival per window, late arrivals with reasons)."""
    df = pd.DataFrame({"ts": np.asarray(events_ms) / 1000.0, "arrival": np.arange(1, len(events_ms) + 1)})
    res = from_frame(df, time="ts", unit="s", batch_size=1).watermark(f"{delay_ms}ms").window(
        spec).agg(n=("ts", "size"))
    step = [0]
    fired: dict[tuple[int, int], object] = {}
    late: dict[int, str] = {}

    def on_fire(out):
        starts, ends = event_ms(out["window_start"], "s")[0], event_ms(out["window_end"], "s")[0]
        for s, e in zip(starts.tolist(), ends.tolist()):
            fired.setdefault((s, e), step[0] if step[0] <= len(events_ms) else END)

    res.sink(on_fire)
    res.late.sink(lambda d: late.update(zip(d["arrival"].tolist(), d["reason"].tolist())))
    pipe = res.pipeline
    for i in range(len(events_ms) + 1):  # the last step finds the end of input and fires the rest
        step[0] = i + 1
        pipe.step()
    return fired, late


def _watermarks(events_ms, delay) -> list[int]:
    """The watermark after each event: max(event times so far) - delay."""
    return (np.maximum.accumulate(np.asarray(events_ms)) - delay).tolist()


def _events_frame(events_ms) -> pd.DataFrame:
    return pd.DataFrame({"event": np.arange(1, len(events_ms) + 1),
                         "event time": [sec(t) for t in events_ms]})


# --- which windows does an event land in? ---------------------------------------------------------
def which_windows(plan, delay, rng) -> Problem:
    if isinstance(plan, SessionPlan):
        return _which_session(plan, rng)
    logic = SlicedLogic(plan, [], [])
    size, pane, off = plan.size, plan.pane, plan.offset
    t = off + int(rng.integers(2 * size // pane, 5 * size // pane + 1)) * pane
    if rng.random() > 0.3:  # not on a boundary (a boundary is the classic trap: ends are excluded)
        t += int(rng.integers(1, 4)) * max(pane // 4, 1)
    answer = logic.windows_of(t)
    if plan.kind == "cumulate":
        s0 = answer[0][0]
        cands = [(s0, s0 + k * pane) for k in range(1, size // pane + 1)]
        cands = [(s0 - size, s0)] + cands[max(0, len(cands) - len(answer) - 2):] + [(s0 + size, s0 + size + pane)]
    else:
        starts = range(answer[0][0] - pane, answer[-1][0] + 2 * pane, pane)
        cands = [(s, s + size) for s in starts]
    label = plan.label()
    lines = [f"{label}: intervals are [start, end): the start is in the window, the end is not."]
    if plan.kind == "tumble":
        lines.append(f"start = t - ((t - offset) mod size) = {sec(answer[0][0])}, so t = {sec(t)} "
                     f"is in exactly one window: {win(answer[0])}.")
    elif plan.kind == "hop":
        lines.append(f"A {format_ms(size)} window starts every {format_ms(pane)}; every window with "
                     f"start <= {sec(t)} < start + {format_ms(size)} holds the event: "
                     f"{', '.join(map(win, answer))} ({size // pane} windows).")
    else:
        lines.append(f"Each {format_ms(size)} period starting at S = {sec(answer[0][0])} has windows "
                     f"[S, S + k*{format_ms(pane)}); the event is in those that end after "
                     f"{sec(t)}: {', '.join(map(win, answer))}.")
    for w in cands:
        if w not in answer and w[1] == t:
            lines.append(f"Not {win(w)}: it ends exactly at {sec(t)}, and the end is excluded.")
    return Problem("which_windows", f"An event has event time t = {sec(t)}. Window: {label}. "
                   "Which windows does it land in? (choose all)",
                   [(win(w), w) for w in cands], frozenset(answer), "\n".join(lines),
                   multiple=True, facts={"t": t})


def _which_session(plan, rng) -> Problem:
    gap = plan.gap
    steps = [gap // 2, gap, gap + gap // 2, 2 * gap, gap // 4]
    ts, t = [], int(rng.integers(0, 10)) * max(gap // 2, 1)
    for _ in range(5):
        ts.append(t)
        t += steps[int(rng.integers(0, len(steps)))]
    i = int(rng.integers(1, len(ts) - 1))
    fired, _ = _run(ts, plan_spec(plan), 0)
    answer = next(w for w in fired if w[0] <= ts[i] < w[1])
    cands = sorted({(ts[a], ts[b] + gap) for a in range(i + 1) for b in range(i, len(ts))})
    deltas = [f"{sec(b - a)} ({'<=' if b - a <= gap else '>'} gap: "
              f"{'same session' if b - a <= gap else 'new session'})" for a, b in zip(ts, ts[1:])]
    text = (f"Session({format_ms(gap)}): each event opens [t, t + {format_ms(gap)}); sessions that "
            f"overlap or touch merge. Between consecutive events: {'; '.join(deltas)}. So event "
            f"#{i + 1} (t = {sec(ts[i])}) is in {win(answer)}: from the first event of its run to "
            f"the last one + gap.")
    return Problem("which_windows", f"Events of one key arrive in time order: "
                   f"{', '.join(sec(x) for x in ts)}. Window: Session({format_ms(gap)}). "
                   f"Which session window does event #{i + 1} (t = {sec(ts[i])}) end up in?",
                   [(win(w), w) for w in cands], answer, text, events=_events_frame(ts),
                   target=i + 1)


def plan_spec(plan):
    """A window spec (in ms) equal to a resolved plan (the engine takes specs)."""
    from ..windows.specs import Cumulate, Hop, Session, Tumble

    if isinstance(plan, SessionPlan):
        return Session(f"{plan.gap}ms")
    if plan.kind == "tumble":
        return Tumble(f"{plan.size}ms", f"{plan.offset}ms")
    if plan.kind == "hop":
        return Hop(f"{plan.size}ms", f"{plan.pane}ms", f"{plan.offset}ms")
    return Cumulate(f"{plan.size}ms", f"{plan.pane}ms", f"{plan.offset}ms")


def _stream(plan, delay, rng, n) -> list[int]:
    """Event times in arrival order: rising, with some disorder (up to about 1.5x the delay)."""
    session = isinstance(plan, SessionPlan)
    step = max(plan.gap if session else plan.pane // 2, 1)
    t0 = int(rng.integers(1, 4)) * step
    jitter = max(int(delay * 1.5), step)
    ts = [t0 + j * step + int(rng.integers(-jitter, jitter + 1)) for j in range(n)]
    return [max(0, t) // 100 * 100 for t in ts]


# --- when does a window fire? -------------------------------------------------------------------
def when_fires(plan, delay, rng) -> Problem:
    ts = _stream(plan, delay, rng, 7)
    fired, _ = _run(ts, plan_spec(plan), delay)
    early = sorted(w for w, at in fired.items() if at != END)
    pool = early or sorted(fired)
    w = pool[int(rng.integers(0, min(len(pool), 3)))]
    at = fired[w]
    wms = _watermarks(ts, delay)
    need = w[1] - 1
    lines = [f"Window {win(w)} fires once the watermark W >= end - 1ms = {sec(need)}.",
             f"After event j, W = max(event times of events 1..j) - {format_ms(delay)}:"]
    lines += [f"  after #{j + 1} (t = {sec(t)}): W = {sec(m)}{'  <- fires' if at == j + 1 else ''}"
              for j, (t, m) in enumerate(zip(ts, wms))]
    if at == END:
        lines.append(f"W never reaches {sec(need)}, so it fires only at the end of the input "
                     "(then every open window fires).")
    else:
        lines.append(f"So it fires right after event #{at}.")
    choices: list[tuple[str, object]] = [(f"after event #{j}", j) for j in range(1, len(ts) + 1)]
    choices.append(("only at the end of the input", END))
    return Problem("when_fires", f"Window: {plan.label()}, watermark delay {format_ms(delay)}. "
                   f"Events arrive in this order: {', '.join(sec(t) for t in ts)}. "
                   f"After which event does window {win(w)} fire?",
                   choices, at, "\n".join(lines), events=_events_frame(ts), facts={"window": w})


# --- is an event late? --------------------------------------------------------------------------
def is_late(plan, delay, rng) -> Problem:
    ts = _stream(plan, delay, rng, 6)
    k = int(rng.integers(3, len(ts) + 1))  # 1-based
    seen = max(ts[: k - 1]) - delay
    if rng.random() < 0.5:  # make it late for sure: well behind the watermark
        span = plan.gap if isinstance(plan, SessionPlan) else plan.size
        ts[k - 1] = max(0, seen - span - int(rng.integers(0, 3)) * 100)
    fired, late = _run(ts, plan_spec(plan), delay)
    answer = k in late
    t = ts[k - 1]
    lines = [f"Event #{k} (t = {sec(t)}) arrives after events 1..{k - 1}, so it sees the watermark "
             f"W = max({', '.join(sec(x) for x in ts[: k - 1])}) - {format_ms(delay)} = {sec(seen)}.",
             "A row is dropped from window [s, e) when e - 1ms <= W (the window has fired)."]
    if isinstance(plan, SessionPlan):
        own = (t, t + plan.gap)
        lines.append(f"Its own session {win(own)}: end - 1ms = {sec(own[1] - 1)} "
                     f"{'<=' if own[1] - 1 <= seen else '>'} W.")
        if answer and own[1] - 1 > seen:
            lines.append("Its own session is still open, but it overlaps or touches a session that "
                         "has already fired, so it is dropped.")
        joined = next((w for w in fired if w[0] <= t < w[1]), None)
        if not answer and own[1] - 1 <= seen and joined is not None:
            lines.append(f"On its own it would have closed, but it overlaps or touches a session "
                         f"that is still open (it ends up in {win(joined)}), so it joins that one.")
    else:
        for s, e in SlicedLogic(plan, [], []).windows_of(t):
            closed = e - 1 <= seen
            lines.append(f"{win((s, e))}: end - 1ms = {sec(e - 1)} {'<=' if closed else '>'} "
                         f"{sec(seen)}: {'late (already fired)' if closed else 'on time'}.")
    lines.append(f"So: late. The engine says: {late[k]}" if answer else
                 "So: on time, it is counted" + (" (even if it is out of order)." if t < max(ts[: k - 1])
                                                 else "."))
    return Problem("is_late", f"Window: {plan.label()}, watermark delay {format_ms(delay)}. "
                   f"Events arrive in this order: {', '.join(sec(x) for x in ts)}. "
                   f"Is event #{k} (t = {sec(t)}) late?",
                   [("yes, late", True), ("no, on time", False)], answer, "\n".join(lines),
                   events=_events_frame(ts), target=k)


GENERATORS = {"which_windows": which_windows, "when_fires": when_fires, "is_late": is_late}
