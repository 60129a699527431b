"""Live notebook widgets: the pipeline view (controls, status, graph, inspector).

``stream._ipython_display_`` shows ``view_for(stream)``; ``%load_ext streamlab`` calls
``register_display_hooks(ipython)`` so that pipelines display the same way.
"""

from __future__ import annotations

from typing import Any

from ..core.node import Node
from ..runtime import Pipeline

__all__ = ["register_display_hooks", "view_for"]


def _is_flink_run(obj: Any) -> bool:
    """A run on Flink (``res.on_flink``): it is its own pipeline and has a job view."""
    return getattr(obj, "kind", None) == "flink" and callable(getattr(obj, "snapshot", None))


def _pipeline_of(obj: Any) -> Any:
    if _is_flink_run(obj):
        return obj
    pipeline = getattr(obj, "pipeline", None)
    if pipeline is None and callable(getattr(obj, "snapshot", None)):
        pipeline = obj
    if pipeline is None or not callable(getattr(pipeline, "snapshot", None)):
        raise TypeError(f"{type(obj).__name__} is not a streamlab stream or pipeline "
                        "(it has no .pipeline with a snapshot())")
    return pipeline


def view_for(obj: Any, **options: Any) -> Any:
    """A live :class:`~streamlab.widgets.view.PipelineView` of a stream's pipeline (or a pipeline).

    ``options`` are the view's traitlets, e.g. ``interval=0.5`` or ``show_inspector=True``.
    A run on Flink gets a :class:`~streamlab.widgets.flink_view.FlinkJobView` (job, link, Stop).
    """
    if _is_flink_run(obj):
        from .flink_view import FlinkJobView

        return FlinkJobView(obj, **options)
    from .view import PipelineView

    return PipelineView(_pipeline_of(obj), **options)


def _display_view(obj: Any) -> None:
    from IPython.display import display

    display(view_for(obj))


def register_display_hooks(ipython: Any) -> None:
    """Show pipelines as live views in this IPython shell (streams display themselves)."""
    formatter = ipython.display_formatter.ipython_display_formatter
    formatter.for_type(Pipeline, _display_view)


@Node.register_api(attribute_name="_ipython_display_")
def _display_node(self) -> None:
    """Jupyter shows a stream as the live view of its pipeline (its repr without the extras)."""
    try:
        from .view import PipelineView  # noqa: F401 - the notebook extras are installed
    except ImportError:  # notebook extras not installed
        print(repr(self))
        return
    from IPython.display import display

    display(view_for(self))
