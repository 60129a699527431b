"""A jupyter_bokeh widget that sends all changes of one update as a single PATCH-DOC message.

jupyter_bokeh sends one message per document event; a redraw that streams into many data
sources would send dozens. Live plots and the teaching timeline both update through ``batched()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jupyter_bokeh import BokehModel

from .wire import patch_messages


class BatchedBokehModel(BokehModel):
    """``with widget.batched(): ...`` applies many model changes, then sends one patch."""

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Apply many model changes with one re-index of the document and combined events."""
        doc = self._model.document
        if doc is None:  # pragma: no cover - BokehModel always attaches a document
            yield
            return
        self._events: list[Any] | None = []
        doc.hold("combine")
        try:
            with doc.models.freeze():
                yield
        finally:
            doc.unhold()  # dispatches the combined events to _document_patched
            events, self._events = self._events, None
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

    def _document_patched(self, event: Any) -> None:
        if getattr(self, "_events", None) is not None:
            if event.setter is not self:
                self._events.append(event)
            return
        super()._document_patched(event)
