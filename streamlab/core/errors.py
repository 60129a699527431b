"""Warnings and exceptions raised by streamlab."""

from __future__ import annotations


class StreamlabWarning(UserWarning):
    """A warning about something streamlab could not do exactly as asked."""


class PipelineStateError(RuntimeError):
    """An action does not fit the pipeline's current state (e.g. ``collect()`` while it runs)."""
