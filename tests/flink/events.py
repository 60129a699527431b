"""Arrival-ordered event times for the Flink tests: disordered, on the lateness edge, and late."""

from __future__ import annotations

import numpy as np


def lagged_times(rng: np.random.Generator, n: int, base_ms: int, delay_ms: int) -> np.ndarray:
    """Event times (ms) of ``n`` events in arrival order.

    Arrival follows a clock with exponential gaps and occasional pauses (which end sessions).
    Most events lag the clock by less than the watermark delay (on time); some lag by exactly the
    delay or one ms less (the lateness boundary), some by up to four delays (late).
    """
    gaps = np.rint(rng.exponential(4.0, n)).astype(np.int64)
    pauses = np.where(rng.random(n) < 0.012, rng.integers(60, 400, n), 0)
    clock = base_ms + np.cumsum(gaps + pauses)
    kind = rng.random(n)
    lag = np.select(
        [kind < 0.10, kind < 0.80, kind < 0.86, kind < 0.90],
        [0, rng.integers(0, delay_ms, n), delay_ms, delay_ms - 1],
        default=rng.integers(delay_ms, 4 * delay_ms, n),
    )
    return clock - lag
