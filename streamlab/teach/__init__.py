"""Teaching windowing: the live event-time diagram, what-if replay and exercises.

- ``res.timeline()`` → :class:`Timeline`: events at (event time, arrival), window bands, the
  watermark, fires and late rows, live while the stream runs, with a slider to scrub back;
- ``compare(source, {"A": settings, "B": settings}, ...)`` → :class:`Comparison`: the same
  recorded events replayed under two settings, results and late rows side by side;
- ``exercise(kind, window=..., watermark=..., seed=...)`` → :class:`Exercise`: a question
  checked against the engine, with the right answer explained.

The widget classes import ipywidgets and Bokeh, so they load on first use.

>>> import streamlab as sl
>>> sl.teach.exercise("is_late", window=sl.Tumble("10s"), watermark="2s", seed=0).check("no")[0]
True
"""

from __future__ import annotations

from typing import Any

from ..core.node import Node
from .compare import Comparison, compare

__all__ = ["Comparison", "Exercise", "Timeline", "compare", "exercise"]

# Loaded on first use (ipywidgets and Bokeh are notebook extras). The exercise widget lives in
# ``exercises.py``: a submodule named ``exercise`` would replace ``sl.teach.exercise`` once imported.
_LAZY = {"Timeline": "timeline", "Exercise": "exercises", "exercise": "exercises"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'streamlab.teach' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)


@Node.register_api(attribute_name="timeline")
def _timeline(self, **kwargs):
    """Teaching diagram: events at (event time, arrival time) with windows and the watermark."""
    from .timeline import timeline

    return timeline(self, **kwargs)
