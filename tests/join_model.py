"""A plain, row-by-row model of the joins of DESIGN.md §2b, written independently of the engine.

Rows are (id, ts ms, key); key None is NULL. Arrival order is the runtime's: one batch from the
left input, then one from the right, alternating while both have rows. Each row sees the joint
watermark min(left, right), each ``max(ts seen) - delay`` (-inf before the first row).
"""

from __future__ import annotations

import math

NEG = -math.inf


def arrival(left, right, batch, first=0):
    """[(side, row)] in the order the runtime delivers alternating batches of ``batch`` rows
    (``first``: the side whose source the pipeline steps first)."""
    out, pos = [], [0, 0]
    rows = (left, right)
    while pos[0] < len(left) or pos[1] < len(right):
        for side in (first, 1 - first):
            out += [(side, r) for r in rows[side][pos[side]:pos[side] + batch]]
            pos[side] += batch
    return out


class Watermarks:
    def __init__(self, delays):
        self.delays, self.max = delays, [None, None]

    def joint(self):
        wms = [NEG if m is None else m - d for m, d in zip(self.max, self.delays)]
        return min(wms)

    def saw(self, side, ts):
        self.max[side] = ts if self.max[side] is None else max(self.max[side], ts)


def interval_model(left, right, lower, upper, how, delays, batch, first=0):
    """Pairs (left id or None, right id or None) of the interval join, as a sorted list."""
    wms = Watermarks(delays)
    rows = [(side, rid, ts, key) for side, (rid, ts, key) in arrival(left, right, batch, first)]
    return interval_pairs(rows, lower, upper, how, wms.joint, wms.saw)


def interval_pairs(rows, lower, upper, how, joint, saw):
    """The interval join of ``rows`` (side, id, ts, key) in arrival order: each row sees the joint
    watermark ``joint()`` (clamped at 0, as Flink does) and is then reported with ``saw(side, ts)``."""
    outer = {0: how in ("left", "full"), 1: how in ("right", "full")}
    held = {0: [], 1: []}
    out = []

    def pad(side, h):
        out.append((h["id"], None) if side == 0 else (None, h["id"]))

    for side, rid, ts, key in rows:
        w = max(joint(), 0)  # Flink clamps the interval join's watermark at 0
        for s in (0, 1):
            for h in [h for h in held[s] if h["last"] < w]:
                held[s].remove(h)
                if outer[s] and not h["matched"]:
                    pad(s, h)
        matched = False
        for h in held[1 - side]:
            if key is None or h["key"] != key:
                continue
            lt, rt = (ts, h["ts"]) if side == 0 else (h["ts"], ts)
            if lt + lower <= rt <= lt + upper:
                h["matched"] = matched = True
                out.append((rid, h["id"]) if side == 0 else (h["id"], rid))
        last = ts + upper if side == 0 else ts - lower
        row = {"id": rid, "ts": ts, "key": key, "last": last, "matched": matched}
        if w < last:
            held[side].append(row)
        elif outer[side] and not matched:
            pad(side, row)
        saw(side, ts)
    for s in (0, 1):
        for h in held[s]:
            if outer[s] and not h["matched"]:
                pad(s, h)
    return sorted(out, key=repr)


def window_model(left, right, windows_of, how, delays, batch, first=0):
    """(pairs, late) of the window join: pairs (left id, right id, start, end) with None for a
    padded side; late {(side, id): missed windows}."""
    from collections import defaultdict

    wms = Watermarks(delays)
    acc = {0: defaultdict(list), 1: defaultdict(list)}  # (key, s, e) -> ids
    late = {}
    for side, (rid, ts, key) in arrival(left, right, batch, first):
        w = wms.joint()
        missed = 0
        for s, e in windows_of(ts):
            if e - 1 > w:
                acc[side][(key, s, e)].append(rid)
            else:
                missed += 1
        if missed:
            late[(side, rid)] = missed
        wms.saw(side, ts)
    out = []
    for (key, s, e) in set(acc[0]) | set(acc[1]):
        ls, rs = acc[0].get((key, s, e), []), acc[1].get((key, s, e), [])
        if key is not None and ls and rs:
            out += [(a, b, s, e) for a in ls for b in rs]
            continue
        if how in ("left", "full"):
            out += [(a, None, s, e) for a in ls]
        if how in ("right", "full"):
            out += [(None, b, s, e) for b in rs]
    return sorted(out, key=repr), late


def temporal_model(probe, build, how, delays, batch, first=0):
    """Pairs (probe id, build id or None) of the event-time temporal join with a keep-last view."""
    wms = Watermarks(delays)
    fired = NEG
    newest, versions, held, out = {}, {}, [], []
    seq = 0

    def fire(w):
        nonlocal held
        ready = [p for p in held if p[1] <= w]
        held = [p for p in held if p[1] > w]
        for pid, t, key in ready:
            ok = [v for v in versions.get(key, []) if v[0] <= t]
            if ok:
                out.append((pid, max(ok)[2]))
            elif how == "left":
                out.append((pid, None))
        for key in {p[2] for p in ready}:
            vs = sorted(versions.get(key, []))
            upto = [i for i, v in enumerate(vs) if v[0] <= w]
            if upto:
                versions[key] = vs[upto[-1]:]

    for side, (rid, ts, key) in arrival(probe, build, batch, first):
        w = wms.joint()
        if w > fired:
            fire(w)
            fired = w
        if side == 0:
            held.append((rid, ts, key))
        elif key is not None and (key not in newest or ts >= newest[key]):
            newest[key] = ts
            seq += 1
            versions.setdefault(key, []).append((ts, seq, rid))
        wms.saw(side, ts)
    fire(math.inf)
    return sorted(out, key=repr)
