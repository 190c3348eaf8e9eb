"""A worker's standby spare: a process that has done the module's imports and waits to take over.

``supervision.launch --standby`` imports what the module imports, then waits for one line on
stdin (the worker's current ``VOICEBUS_NODE``). A restart hands over to it: no interpreter
start, no imports, only the worker's own start (its model). The spare is made once the worker
is ready and the supervisor is settled (nothing starting: its imports take CPU that a starting
worker needs), and again after each hand-over.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from supervision.child import Child, Launch

__all__ = ["SPARE_AFTER_S", "Standby"]

#: A spare is made this long after the worker became ready (and nothing starts), s.
SPARE_AFTER_S = 0.5


class Standby:
    """The spare of one worker (none while the worker does not use standby)."""

    def __init__(self, make_launch: Callable[[], Launch]) -> None:
        self._make_launch = make_launch
        self.child: Child | None = None
        self._failed = False

    @property
    def pid(self) -> int | None:
        """The spare's pid, if there is one."""
        return self.child.pid if self.child is not None else None

    @property
    def preparing(self) -> bool:
        """A spare is still doing its imports (it takes CPU: one at a time)."""
        return self.child is not None and not self.child.prepared

    @property
    def prepared(self) -> bool:
        """The spare has done its imports and waits."""
        return self.child is not None and self.child.prepared

    def reap(self) -> None:
        """Forget a spare that died waiting (the next start makes a fresh process)."""
        if self.child is not None and self.child.poll() is not None:
            self.child = None

    def prepare(self, now: float, ready_at: float | None) -> None:
        """Make the spare if there is none, ``SPARE_AFTER_S`` after ``ready_at``."""
        since = ready_at if ready_at is not None else now
        if self.child is not None or self._failed or now < since + SPARE_AFTER_S:
            return
        try:
            self.child = Child(self._make_launch())
        except (OSError, subprocess.SubprocessError):
            self._failed = True  # the next start makes its own process and says why

    def retry(self) -> None:
        """After a ready worker: a spare may be tried again."""
        self._failed = False

    def take(self) -> Child | None:
        """The waiting spare (it is the worker's process from now on), or ``None``."""
        spare, self.child = self.child, None
        if spare is not None and spare.poll() is None:
            return spare
        return None

    def drop(self) -> None:
        """Kill the spare (the worker is stopped)."""
        if self.child is not None:
            self.child.kill()
            self.child.wait(2.0)
            self.child = None
