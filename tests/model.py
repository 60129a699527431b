"""A plain, record-by-record batch model of DESIGN.md §2, written independently of the engine.

It is deliberately slow and obvious: every window containing a record is enumerated from the
definition, and sessions are merged one record at a time with the watermark each record saw.
"""

from __future__ import annotations

import math

NEG = -math.inf


def windows_containing(ts, kind, size, slide, offset=0):
    """Every window [s, s+size) of the given kind that contains ts (from the definition)."""
    if kind == "tumble":
        s = ts - ((ts - offset) % size)
        return [(s, s + size)]
    if kind == "hop":
        out = []
        s = ts - ((ts - offset) % slide)
        while s > ts - size:
            out.append((s, s + size))
            s -= slide
        return sorted(out)
    if kind == "cumulate":
        start = ts - ((ts - offset) % size)
        return [(start, start + k * slide) for k in range(1, size // slide + 1) if start + k * slide > ts]
    raise ValueError(kind)


def run_model(rows, kind, size=None, slide=None, gap=None, delay=0, offset=0):
    """rows: list of (ts_ms, key, value) in arrival order.

    Returns (results, late): results maps (key, start, end) -> list of values in arrival order;
    late is a list of (row index, watermark, missed windows).
    """
    results: dict[tuple, list] = {}
    late = []
    max_ts = None
    sessions: dict = {}  # key -> list of [start, end, values]
    for i, (ts, key, value) in enumerate(rows):
        wm = NEG if max_ts is None else max_ts - delay
        if kind == "session":
            open_ = sessions.setdefault(key, [])
            for sess in [s for s in open_ if s[1] - 1 <= wm]:  # fire what the watermark passed
                results[(key, sess[0], sess[1])] = sess[2]
                open_.remove(sess)
            touching = [s for s in open_ if ts <= s[1] and s[0] <= ts + gap]
            start = min([ts] + [s[0] for s in touching])
            end = max([ts + gap] + [s[1] for s in touching])
            if end - 1 <= wm:
                late.append((i, wm, 1))
            else:
                values = sorted([v for s in touching for v in s[2]] + [(i, value)])  # arrival order
                for s in touching:
                    open_.remove(s)
                open_.append([start, end, values])
        else:
            missed = 0
            for s, e in windows_containing(ts, kind, size, slide, offset):
                if e - 1 > wm:
                    results.setdefault((key, s, e), []).append((i, value))
                else:
                    missed += 1
            if missed:
                late.append((i, wm, missed))
        max_ts = ts if max_ts is None else max(max_ts, ts)
    for key, open_ in sessions.items():
        for s in open_:
            results[(key, s[0], s[1])] = s[2]
    return {k: [v for _, v in sorted(vs)] for k, vs in results.items()}, late
