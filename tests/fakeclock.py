"""A monotonic clock for ``MemoryBus(clock=clock, sleep=clock.sleep)``: simulated time in tests.

It moves by hand (``advance``), by ``step_ns`` on every reading, or when an idle loop sleeps
towards its next tick, up to ``until_ns`` (after which idle loops end).
"""

from __future__ import annotations

import select
from collections.abc import Sequence

MS = 1_000_000


class FakeClock:
    """``now_ns`` as the clock reads it; each reading first adds ``step_ns`` (0: stands still)."""

    def __init__(self, now_ns: int = 1_000_000 * MS, step_ns: int = 0) -> None:
        self.now_ns = now_ns
        self.step_ns = step_ns
        self.until_ns: int | None = None
        """How far an idle loop may sleep; ``None``: it may not (it ends)."""

    def __call__(self) -> int:
        self.now_ns += self.step_ns
        return self.now_ns

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds``."""
        self.now_ns += int(seconds * 1e9)

    def run_for(self, seconds: float) -> None:
        """Let idle loops sleep ``seconds`` of simulated time from now."""
        self.until_ns = self.now_ns + int(seconds * 1e9)

    def sleep(self, ns: int, fds: Sequence[int]) -> Sequence[int] | None:
        """``MemoryBus(sleep=)``: move on by ``ns``, at most to ``until_ns`` (then: end it)."""
        if self.until_ns is None or self.now_ns >= self.until_ns:
            return None
        self.now_ns = min(self.now_ns + ns, self.until_ns)
        return select.select(fds, [], [], 0)[0] if fds else ()
