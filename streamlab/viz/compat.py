"""Everything streamlab.viz relies on from jupyter_bokeh and bokeh beyond their documented API.

No private (underscore) name of jupyter_bokeh or bokeh is used anywhere in streamlab.viz. What
the live plots need that neither library documents is two behaviours of
``jupyter_bokeh.BokehModel``, and both are used from this module only:

``BokehModel`` is its document's change receiver, keyed by the widget itself
    ``update_from_model`` registers it with ``Document.on_change_dispatch_to(widget)`` and
    ``close`` removes it with ``Document.remove_on_change(widget)``; meanwhile it sends every
    document change to the browser as one message set. :func:`paused_dispatch` takes the
    widget off the document for a batch and puts it back, with those same public ``Document``
    methods, so that a batch can be sent once, combined (see ``BatchedBokehModel.batched``).
The ``{"msg": "patch"}`` custom messages of jupyter_bokeh's front end
    A ``PATCH-DOC`` message goes to the browser as its header, metadata and content JSON, then
    a JSON reference and the bytes of each buffer, each as one custom message.
    :func:`patch_messages` builds that sequence for many events at once.

Private names this replaces (none is used any more): ``BokehModel._model`` (our
``BatchedBokehModel.bokeh_model``, kept by overriding the public ``update_from_model``),
``BokehModel._model_to_traits`` (the public ``update_from_model`` rebuilds the render bundle)
and an override of ``BokehModel._document_patched`` (the document hook bokeh dispatches to;
replaced by :func:`paused_dispatch` plus a public ``Document.on_change`` callback).

Tested with jupyter_bokeh 4.1.0 and bokeh 3.9.2; pinned to ``jupyter_bokeh>=4,<5`` and
``bokeh>=3.4,<3.10`` in pyproject.toml. ``tests/test_compat.py`` checks both behaviours and the
pins against the installed versions and fails naming the dependency when one no longer holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

TESTED = {"jupyter_bokeh": "4.1.0", "bokeh": "3.9.2"}


@contextmanager
def paused_dispatch(widget: Any, doc: Any) -> Iterator[bool]:
    """Within the block ``widget`` (a BokehModel) sends no per-change patches of ``doc``.

    Yields whether the widget was receiving the document's changes (a closed one is not); only
    then is it put back afterwards.
    """
    try:
        doc.remove_on_change(widget)
    except KeyError:  # closed, or never attached: nothing to pause
        yield False
        return
    try:
        yield True
    finally:
        doc.on_change_dispatch_to(widget)


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
