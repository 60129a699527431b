"""``%load_ext streamlab``: magics, the side panel's comm target, display hooks, inline BokehJS.

Each optional part is set up only if its module is present; one that is present but fails to
import gives a warning instead of breaking the other parts.
"""

from __future__ import annotations

import importlib
import warnings
import weakref
from collections.abc import Callable
from typing import Any


def _optional(module: str, attribute: str) -> Callable[..., Any] | None:
    """``module.attribute`` if the module exists and imports; None if it is absent."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name and (module == error.name or module.startswith(error.name + ".")):
            return None  # the part (or what it needs) is not installed: skip quietly
        warnings.warn(f"streamlab: {module} could not be loaded: {error}", RuntimeWarning,
                      stacklevel=3)
        return None
    except ImportError as error:
        warnings.warn(f"streamlab: {module} could not be loaded: {error}", RuntimeWarning,
                      stacklevel=3)
        return None
    return getattr(mod, attribute, None)


def _load_bokehjs(ipython: Any) -> bool:
    """Load BokehJS inline (offline- and Binder-safe) into a kernel's front end.

    False without a kernel (a terminal cannot show Bokeh) or without bokeh.
    """
    if getattr(ipython, "kernel", None) is None:
        return False
    try:
        from bokeh.io import output_notebook
        from bokeh.resources import INLINE
    except ImportError:
        return False
    output_notebook(INLINE, hide_banner=True)
    return True


#: The shell's exception handler before ours, per shell (restored by ``%unload_ext``).
_PREVIOUS_EXC: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _show_usage_errors(ipython: Any) -> None:
    """Show StreamlabUsageError like IPython's own UsageError: one line, no traceback.

    IPython special-cases ``type(e) is UsageError`` only, so subclasses need a custom exception
    handler. Any handler installed before ours keeps receiving its own exception types.
    """
    from streamlab.magics import StreamlabUsageError

    if ipython not in _PREVIOUS_EXC:
        _PREVIOUS_EXC[ipython] = (tuple(ipython.custom_exceptions), ipython.CustomTB)
    types, previous = _PREVIOUS_EXC[ipython]

    def handler(shell: Any, etype: type, value: BaseException, tb: Any,
                tb_offset: int | None = None) -> list[str] | None:
        if issubclass(etype, StreamlabUsageError):
            shell.show_usage_error(value)
            return []
        return previous(etype, value, tb, tb_offset=tb_offset)

    ipython.set_custom_exc((*types, StreamlabUsageError), handler)


def load_ipython_extension(ipython: Any) -> None:
    """Register streamlab's magics, comm target and display hooks in ``ipython``; load BokehJS.

    Loading twice (``%reload_ext streamlab``) replaces the magics instead of duplicating them.
    """
    from streamlab.magics import StreamlabMagics

    stale = [c for c in ipython.configurables if isinstance(c, StreamlabMagics)]
    for old in stale:
        ipython.configurables.remove(old)
    ipython.register_magics(StreamlabMagics(shell=ipython))
    _show_usage_errors(ipython)

    for module, attribute in (("streamlab.comm", "register_comm_target"),
                              ("streamlab.widgets", "register_display_hooks")):
        register = _optional(module, attribute)
        if register is not None:
            register(ipython)
    _load_bokehjs(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Forget the magics' configurable and error handler; unregister the comm target (if any)."""
    from streamlab.magics import StreamlabMagics

    for old in [c for c in ipython.configurables if isinstance(c, StreamlabMagics)]:
        ipython.configurables.remove(old)
    previous = _PREVIOUS_EXC.pop(ipython, None)
    if previous is not None:
        ipython.custom_exceptions, ipython.CustomTB = previous
    unregister = _optional("streamlab.comm", "unregister_comm_target")
    if unregister is not None:
        unregister(ipython)
