"""Teaching windowing: the live event-time diagram, what-if replay and exercises."""
