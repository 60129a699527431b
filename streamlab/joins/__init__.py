"""Joins: interval, window, temporal (``join_asof``) and enrichment (``merge``), Flink-exact.

Importing this package attaches ``join``, ``join_asof`` and ``merge`` to every node and
``.join`` to the window builder (``a.window(spec).join(b.window(spec), on=...)``).
"""

from .api import join, join_asof, merge  # noqa: F401 - registers the fluent methods
from .interval import IntervalJoin

__all__ = ["IntervalJoin"]
