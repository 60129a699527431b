"""Test helpers: a dummy comm that records what widgets would send to the browser.

>>> import ipywidgets
>>> with dummy_comms() as comms:
...     w = ipywidgets.HTML()
...     w.value = "hi"
>>> [m["state"] for m in comms[-1].updates()]
[{'value': 'hi'}]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_ids = itertools.count()


class DummyComm:
    """Stands in for a kernel comm; keeps every message a widget sends."""

    kernel = "present"  # ipywidgets only sends when the comm has a kernel

    def __init__(self, **kwargs: Any) -> None:
        self.comm_id = kwargs.get("comm_id") or f"dummy-{next(_ids)}"
        self.open_data = kwargs.get("data")
        self.messages: list[dict[str, Any]] = []
        self.buffers: list[Any] = []
        self.callback: Any = None  # what the widget registered for messages from the browser

    def open(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to open."""

    def on_msg(self, callback: Any) -> None:
        """Keep the widget's handler: :func:`from_browser` delivers messages through it."""
        self.callback = callback

    def deliver(self, data: dict[str, Any]) -> None:
        """A message from the browser, delivered as the kernel's comm would."""
        if self.callback is None:
            raise RuntimeError("this widget registered no message handler on its comm")
        self.callback({"content": {"data": data}, "buffers": []})

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        """Record a message."""
        self.messages.append(data)
        self.buffers.append(buffers)

    def close(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to close."""

    def updates(self) -> list[dict[str, Any]]:
        """The state updates sent so far."""
        return [m for m in self.messages if m.get("method") in ("update", "echo_update")]

    def customs(self) -> list[Any]:
        """The custom messages sent so far."""
        return [m["content"] for m in self.messages if m.get("method") == "custom"]


@contextmanager
def dummy_comms() -> Iterator[list[DummyComm]]:
    """Within the block, new widgets get a :class:`DummyComm`; yields the list of them."""
    import ipywidgets.comm

    created: list[DummyComm] = []

    def create_comm(*args: Any, **kwargs: Any) -> DummyComm:
        c = DummyComm(**kwargs)
        created.append(c)
        return c

    original = ipywidgets.comm.create_comm
    ipywidgets.comm.create_comm = create_comm
    try:
        yield created
    finally:
        ipywidgets.comm.create_comm = original


def from_browser(widget: Any, state: dict[str, Any] | None = None,
                 event: dict[str, Any] | None = None) -> None:
    """Deliver a message to ``widget`` as the browser would: a state update or a custom event."""
    data: dict[str, Any]
    if state is not None:
        data = {"method": "update", "state": state, "buffer_paths": []}
    else:
        data = {"method": "custom", "content": event}
    widget.comm.deliver(data)


def click(button: Any) -> None:
    """Click an ipywidgets Button through its comm, like the browser does."""
    from_browser(button, event={"event": "click"})
