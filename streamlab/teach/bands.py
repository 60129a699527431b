"""When each window was open and when it fired, on the timeline's arrival axis.

A band is ``(key, start_ms, end_ms)``: ``key`` is ``""`` for Tumble/Hop/Cumulate windows (one band
for all keys) and the group key's text for sessions (sessions are per key). Polling the window
operator's open windows after each batch records, for every band, the arrival at which it was
first seen open and the arrival at which it disappeared (it fired, grew or merged into another).
That history lets the timeline show sessions growing and merging when scrubbed back.

>>> spans = BandSpans(limit=10)
>>> spans.observe({("a", 0, 200)}, count=1, horizon=0)
>>> spans.observe({("a", 0, 500)}, count=3, horizon=0)      # grew: the old span closed at 3
>>> spans.fire(("a", 0, 500), 4)
>>> spans.observe(set(), count=4, horizon=0)
>>> spans.visible(2), spans.visible(None, now=4)
({('a', 0, 200): ('open', 2)}, {('a', 0, 500): ('fired', 4)})
"""

from __future__ import annotations

from collections import deque

from ..viz.columns import key_text

Band = tuple[str, int, int]


def open_bands(op, session: bool) -> set[Band]:
    """The window operator's open windows as bands."""
    now: set[Band] = set()
    for vals, start, end in op.open_windows():
        if not session or not op.by:
            now.add(("(all)" if session else "", start, end))
        else:
            now.add((key_text(vals if len(vals) > 1 else vals[0]), start, end))
    return now


class BandSpans:
    """Open spans ``[first seen, gone)`` and fire arrivals of window bands (bounded by ``limit``)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.open: dict[Band, int] = {}  # band -> arrival when first seen open
        self.closed: deque = deque(maxlen=4 * limit)  # (band, first seen, gone)
        self.fired: dict[Band, int] = {}  # band -> arrival it fired at

    def fire(self, band: Band, arrival: int) -> None:
        """A band's window fired at ``arrival`` (the first firing counts)."""
        self.fired.setdefault(band, arrival)

    def observe(self, now: set[Band], count: int, horizon: int) -> None:
        """The bands open after ``count`` arrivals; forget spans older than ``horizon``."""
        for band in now.difference(self.open):
            self.open[band] = count
        for band in set(self.open).difference(now):
            self.closed.append((band, self.open.pop(band), count))
        if len(self.fired) > self.limit:
            self.fired = {b: y for b, y in self.fired.items() if y >= horizon}
            while len(self.fired) > self.limit:
                self.fired.pop(next(iter(self.fired)))
        while self.closed and self.closed[0][2] < horizon:
            self.closed.popleft()

    def visible(self, cut: int | None, now: int = 0) -> dict[Band, tuple[str, int]]:
        """Bands to draw as of ``cut`` arrivals (None: ``now``): state and top of each."""
        top = now if cut is None else cut
        chosen = {band: ("fired", y) for band, y in self.fired.items() if y <= top}
        spans = [(b, first, None) for b, first in self.open.items()] + list(self.closed)
        for band, first, gone in spans:
            if band not in chosen and first <= top and (gone is None or top < gone):
                chosen[band] = ("open", top)
        return dict(list(chosen.items())[-self.limit:])

    def fired_touching(self, key: str, lo: int, hi: int) -> list[tuple[int, int]]:
        """Fired sessions of ``key`` that overlap or touch ``[lo, hi]``."""
        return [(s, e) for (k, s, e) in self.fired if k == key and s <= hi and e >= lo]
