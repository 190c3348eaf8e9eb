"""A monotonic clock for ``MemoryBus(clock=...)``: moved by hand, or by a step on every reading."""

from __future__ import annotations

MS = 1_000_000


class FakeClock:
    """``now_ns`` as the clock reads it; each reading first adds ``step_ns`` (0: stands still)."""

    def __init__(self, now_ns: int = 1_000_000 * MS, step_ns: int = 0) -> None:
        self.now_ns = now_ns
        self.step_ns = step_ns

    def __call__(self) -> int:
        self.now_ns += self.step_ns
        return self.now_ns

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds``."""
        self.now_ns += int(seconds * 1e9)
