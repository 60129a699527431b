"""What crosses the wire to BokehJS: inline BokehJS once, compact data, a fresh document at display.

(The one patch per flush is ``BatchedBokehModel.batched``; its message format is in
:mod:`streamlab.viz.compat`.)

>>> wire({"x": __import__("numpy").array([1.0]), "key": ["a"]})
{'x': [1.0], 'key': ['a']}
"""

from __future__ import annotations

from typing import Any

import numpy as np

WIRE_BUFFER_ROWS = 1000


def ensure_bokehjs() -> None:
    """Load BokehJS inline into the notebook once, if running in a kernel and not done yet.

    ``%load_ext streamlab`` already does this; the check covers a plain ``import streamlab``.
    """
    from bokeh.io.state import curstate

    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a notebook dependency
        return
    ip = get_ipython()
    if ip is None or not hasattr(ip, "kernel") or curstate().notebook:
        return
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(INLINE, hide_banner=True)


def wire(cols: dict[str, Any]) -> dict[str, Any]:
    """Small batches travel as JSON lists (inline in one message); large ones as binary buffers."""
    if len(cols["key"]) >= WIRE_BUFFER_ROWS:
        return cols
    return {c: (v.tolist() if isinstance(v, np.ndarray) else list(v)) for c, v in cols.items()}


def refresh_bokeh(widget: Any) -> None:
    """Put the current Bokeh document into every BatchedBokehModel in ``widget`` (children too).

    Data streamed before a view exists is sent as patches that no view receives; a view drawn
    after this call starts from the document as it is now, so nothing is missing.
    """
    from .batched import BatchedBokehModel

    todo = [widget]
    while todo:
        w = todo.pop()
        if isinstance(w, BatchedBokehModel):
            w.refresh()
        todo.extend(getattr(w, "children", ()) or ())
