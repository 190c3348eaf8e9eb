"""Restart policy: whether a worker that ended is started again, and after how long.

A restart is allowed while fewer than ``max_restarts`` restarts happened in the last
``window_s`` seconds; its delay is ``backoff_initial_s * 2**n`` (capped at ``backoff_max_s``)
where ``n`` counts the restarts already in the window, so a crash loop slows down and a worker
that ran well for a whole window starts again from the short delay. A failure while the bus was
down is not the worker's and is not counted. Pure: time is a parameter.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from supervision.config import RestartPolicy

__all__ = ["Decision", "RestartTracker"]


@dataclass(frozen=True)
class Decision:
    """What to do after a worker ended."""

    restart: bool
    """Start it again (after ``delay_s``)."""
    delay_s: float
    """Delay before the restart, s."""
    gave_up: bool
    """The restart window is exhausted: the supervisor stops trying."""
    reason: str
    """A sentence for the status line and the lifecycle event."""


class RestartTracker:
    """Counts restarts of one worker in its sliding window."""

    def __init__(self, policy: RestartPolicy) -> None:
        self.policy = policy
        self._times: deque[float] = deque()

    def reset(self) -> None:
        """Forget past restarts (a start asked for by hand)."""
        self._times.clear()

    def in_window(self, now: float) -> int:
        """Restarts within the window ending at ``now``."""
        while self._times and now - self._times[0] > self.policy.window_s:
            self._times.popleft()
        return len(self._times)

    def decide(
        self, *, failed: bool, now: float, name: str = "NAME", excused: bool = False
    ) -> Decision:
        """The decision after an end; ``failed`` = non-zero exit, a signal or a hang.

        ``excused``: the failure is not the worker's (the bus was down, so it could not join or
        was not heard): it is restarted after ``backoff_initial_s`` and not counted in the window.
        """
        p = self.policy
        if p.policy == "never":
            return Decision(False, 0.0, False, "restart policy is 'never'")
        if p.policy == "on-failure" and not failed:
            return Decision(False, 0.0, False, "exited cleanly (restart policy 'on-failure')")
        if excused:
            delay = p.backoff_initial_s
            return Decision(True, delay, False, f"restart in {delay:.2f} s (not counted: the bus "
                            "was down)")  # fmt: skip
        n = self.in_window(now)
        if n >= p.max_restarts:
            return Decision(
                False,
                0.0,
                True,
                f"gave up after {n} restarts in {p.window_s:g} s; fix the cause, then "
                f"'python supervisor.py start {name}'",
            )
        delay = min(p.backoff_initial_s * 2**n, p.backoff_max_s)
        self._times.append(now)
        return Decision(True, delay, False, f"restart {n + 1}/{p.max_restarts} in {delay:.2f} s")
