"""Updating results and ranking (DESIGN §2b): changelogs, continuous GROUP BY, Top-N,
deduplication and OVER aggregations. Importing it attaches ``groupby``, ``nlargest``,
``nsmallest``, ``drop_duplicates``, ``rolling`` and ``materialize`` to every node.
"""

from . import changelog, continuous, groupby, over, windowrank  # noqa: F401 - fluent methods
from .changelog import OP, apply_changelog
from .groupby import GroupAgg

__all__ = ["OP", "GroupAgg", "apply_changelog"]
