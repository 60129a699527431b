"""The optional C extensions that ``hatch_build.py`` compiles at install.

Each speeds up one hot per-row loop and has a pure-Python path that gives the same results:
``windows/_strtable.c`` (key lookups), ``windows/_groupsums.c`` (per-group counts and sums) and
``core/_runmax.c`` (the running maximum of watermarks). Setting ``STREAMLAB_PURE_PYTHON=1``
before importing streamlab turns them all off.
"""

from __future__ import annotations

import importlib
import os
from typing import Any


def load(module: str, name: str) -> Any:
    """``module.name`` from a compiled extension; None when it is not built or
    ``STREAMLAB_PURE_PYTHON`` is set.

    >>> load("streamlab.core._not_an_extension", "f") is None
    True
    """
    if os.environ.get("STREAMLAB_PURE_PYTHON"):
        return None
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
