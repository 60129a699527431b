"""Event-time windows: specs, partial aggregates, and the window operator."""

from .operator import WindowAgg, Windowed
from .specs import Cumulate, Hop, Session, Tumble

__all__ = ["Cumulate", "Hop", "Session", "Tumble", "WindowAgg", "Windowed"]
