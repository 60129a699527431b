"""What crosses the wire to BokehJS: inline BokehJS once, compact data, one patch per flush.

>>> wire({"x": __import__("numpy").array([1.0]), "key": ["a"]})
{'x': [1.0], 'key': ['a']}
"""

from __future__ import annotations

import json
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


def patch_messages(events: list[Any]) -> list[tuple[dict[str, Any], list[bytes] | None]]:
    """Custom messages for jupyter_bokeh's front end carrying ``events`` as one PATCH-DOC."""
    from bokeh.protocol import Protocol

    msg = Protocol().create("PATCH-DOC", events)
    out: list[tuple[dict[str, Any], list[bytes] | None]] = [
        ({"msg": "patch", "payload": part}, None)
        for part in (msg.header_json, msg.metadata_json, msg.content_json)
    ]
    for buffer in msg.buffers:
        out.append(({"msg": "patch", "payload": json.dumps(buffer.ref)}, None))
        out.append(({"msg": "patch"}, [buffer.to_bytes()]))
    return out


def refresh_bokeh(widget: Any) -> None:
    """Put the current Bokeh document into every BokehModel in ``widget`` (children included).

    Data streamed before a view exists is sent as patches that no view receives; a view drawn
    after this call starts from the document as it is now, so nothing is missing.
    """
    from jupyter_bokeh import BokehModel

    todo = [widget]
    while todo:
        w = todo.pop()
        if isinstance(w, BokehModel) and getattr(w, "_model", None) is not None:
            w.render_bundle = w._model_to_traits(w._model)
        todo.extend(getattr(w, "children", ()) or ())
