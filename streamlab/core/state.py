"""The one pipeline state: an enum, its allowed transitions and the actions each state allows.

The runtime, the widgets, the CLI, checkpoints and the side panel all read this module; the
panel's TypeScript is generated from it (``labextension/src/generated.ts``) and a test checks
that both sides agree.

>>> PipelineState.RUNNING.allows("pause")
True
>>> PipelineState.FINISHED.allows("start")
False
>>> PipelineState.STOPPED.can_become(PipelineState.RUNNING)
True
"""

from __future__ import annotations

from enum import Enum


class PipelineState(str, Enum):  # noqa: UP042 - a StrEnum would change str() of the members
    """Where a pipeline is in its life. The value is the text every view shows."""

    IDLE = "idle"  # built or reset: nothing has run yet
    RUNNING = "running"  # sources emit (on the loop, or inside a synchronous collect())
    PAUSED = "paused"  # tasks alive, sources hold their batches
    STOPPED = "stopped"  # tasks ended before the input did; state kept, start() continues
    FINISHED = "finished"  # a finite input ended and every open window fired
    FAILED = "failed"  # an operator raised; ``Pipeline.error`` says why

    def __str__(self) -> str:
        return self.value

    @property
    def active(self) -> bool:
        """Running or paused: tasks are alive on the loop."""
        return self in (PipelineState.RUNNING, PipelineState.PAUSED)

    @property
    def terminal(self) -> bool:
        """Stopped, finished or failed: nothing runs until an action is taken."""
        return self in (PipelineState.STOPPED, PipelineState.FINISHED, PipelineState.FAILED)

    def allows(self, action: str) -> bool:
        """Whether the user action ``action`` (see :data:`ACTIONS`) is allowed in this state."""
        return action in ALLOWED_ACTIONS[self]

    def can_become(self, other: PipelineState) -> bool:
        """Whether the runtime may move from this state to ``other``."""
        return other is self or other in TRANSITIONS[self]


#: Every user action, in the order the views show their buttons.
ACTIONS: tuple[str, ...] = ("start", "pause", "resume", "step", "stop", "reset")

S = PipelineState

#: The actions each state allows (buttons enabled in the view and the side panel).
ALLOWED_ACTIONS: dict[PipelineState, frozenset[str]] = {
    S.IDLE: frozenset({"start", "step", "reset"}),
    S.RUNNING: frozenset({"pause", "stop", "reset"}),
    S.PAUSED: frozenset({"resume", "step", "stop", "reset"}),
    S.STOPPED: frozenset({"start", "step", "reset"}),
    S.FINISHED: frozenset({"reset"}),
    S.FAILED: frozenset({"reset"}),
}

#: The state changes the runtime may make.
TRANSITIONS: dict[PipelineState, frozenset[PipelineState]] = {
    S.IDLE: frozenset({S.RUNNING, S.FINISHED, S.STOPPED, S.FAILED}),
    S.RUNNING: frozenset({S.PAUSED, S.STOPPED, S.FINISHED, S.FAILED, S.IDLE}),
    S.PAUSED: frozenset({S.RUNNING, S.STOPPED, S.FINISHED, S.FAILED, S.IDLE}),
    S.STOPPED: frozenset({S.RUNNING, S.FINISHED, S.FAILED, S.IDLE}),
    S.FINISHED: frozenset({S.IDLE}),
    S.FAILED: frozenset({S.IDLE}),
}

del S
