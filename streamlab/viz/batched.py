"""A jupyter_bokeh widget that sends all changes of one update as a single PATCH-DOC message.

jupyter_bokeh sends one message per document event; a redraw that streams into many data
sources would send dozens. Live plots and the teaching timeline both update through ``batched()``.
What this needs from jupyter_bokeh beyond its public API is in :mod:`streamlab.viz.compat`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bokeh.document.events import DocumentPatchedEvent
from ipywidgets import DOMWidget
from jupyter_bokeh import BokehModel

from .compat import patch_messages, paused_dispatch


class BatchedBokehModel(BokehModel):
    """``with widget.batched(): ...`` applies many model changes, then sends one patch."""

    #: The Bokeh model shown (None until ``__init__`` has attached one).
    bokeh_model: Any = None

    def update_from_model(self, model: Any) -> None:
        """Show ``model``, from the document as it is now (jupyter_bokeh's public method)."""
        self.bokeh_model = model
        super().update_from_model(model)

    def refresh(self) -> None:
        """Rebuild the render bundle, so a view drawn next starts from the current document."""
        if self.bokeh_model is not None and self.comm is not None:  # not closed
            self.update_from_model(self.bokeh_model)

    def close(self) -> None:
        """Close the widget; closing it again (as garbage collection does) is a no-op.

        (jupyter_bokeh's own ``close()`` raises KeyError the second time.)
        """
        if self.bokeh_model is None:  # __init__ failed before a model was attached
            DOMWidget.close(self)
        elif self.comm is not None:
            super().close()

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Apply many model changes with one re-index of the document and combined events."""
        doc = self.bokeh_model.document if self.bokeh_model is not None else None
        if doc is None:  # pragma: no cover - BokehModel always attaches a document
            yield
            return
        events: list[Any] = []

        def collect(event: Any) -> None:
            if isinstance(event, DocumentPatchedEvent) and event.setter is not self:
                events.append(event)

        try:
            with paused_dispatch(self, doc) as paused:
                if paused:
                    doc.on_change(collect)
                doc.hold("combine")
                try:
                    with doc.models.freeze():
                        yield
                finally:
                    doc.unhold()  # the combined events go to collect
                    if paused:
                        doc.remove_on_change(collect)
        finally:
            if events and self._connected():
                for content, buffers in patch_messages(events):
                    self.send(content, buffers)

    def _connected(self) -> bool:
        """Whether messages can reach a front end (outside a kernel, skip serialising them)."""
        import comm

        c = self.comm
        if c is None or isinstance(c, comm.DummyComm):
            return False
        return getattr(c, "kernel", True) is not None
