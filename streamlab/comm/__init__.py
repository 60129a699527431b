"""The kernel end of the JupyterLab side panel: comm target ``streamlab``.

``%load_ext streamlab`` calls :func:`register_comm_target`. From then on the side panel
(``labextension/``) opens a comm to the target and talks the versioned request/response
protocol of :mod:`streamlab.comm.protocol`; :mod:`streamlab.comm.handler` answers it.

>>> from streamlab.comm import PROTOCOL_VERSION, COMM_TARGET
>>> COMM_TARGET
'streamlab'
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .handler import PanelSession, Registry, RequestHandler
from .protocol import COMM_TARGET, PROTOCOL_VERSION

__all__ = [
    "COMM_TARGET",
    "PROTOCOL_VERSION",
    "PanelSession",
    "RequestHandler",
    "register_comm_target",
    "sessions",
    "unregister_comm_target",
]

log = logging.getLogger(__name__)

_sessions: list[PanelSession] = []


def sessions() -> list[PanelSession]:
    """The panel sessions whose comm is still open."""
    _sessions[:] = [s for s in _sessions if not s.closed]
    return list(_sessions)


def _comm_manager(ipython: Any = None) -> Any:
    kernel = getattr(ipython, "kernel", None)
    manager = getattr(kernel, "comm_manager", None)
    if manager is not None:
        return manager
    import comm

    return comm.get_comm_manager()


def register_comm_target(ipython: Any = None, registry: Registry | None = None) -> bool:
    """Register the ``streamlab`` comm target in the running kernel.

    ``ipython`` is the shell (``get_ipython()``); without a kernel behind it (plain IPython,
    a script) there is nothing to register and this returns False. Registering again
    replaces the target, so ``%reload_ext streamlab`` is safe. ``registry`` replaces
    :func:`streamlab.pipelines` (for tests).
    """
    if ipython is None:
        try:
            from IPython import get_ipython

            ipython = get_ipython()
        except Exception:
            ipython = None
    if ipython is None or getattr(ipython, "kernel", None) is None:
        return False
    try:
        manager = _comm_manager(ipython)
    except Exception:
        log.debug("no comm manager: the streamlab panel is unavailable", exc_info=True)
        return False

    try:  # %load_ext runs on the kernel's loop: every panel session works on that loop
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None

    def open_panel(comm: Any, open_msg: Any) -> None:
        _sessions.append(PanelSession(comm, RequestHandler(registry), loop=loop))
        sessions()

    manager.register_target(COMM_TARGET, open_panel)
    return True


def unregister_comm_target(ipython: Any = None) -> None:
    """Remove the target and close every open panel session."""
    for session in sessions():
        session.close()
    try:
        manager = _comm_manager(ipython)
        manager.unregister_target(COMM_TARGET, None)
    except Exception:
        log.debug("unregistering the streamlab comm target failed", exc_info=True)
