"""Running count of messages per topic (pure: the echo worker's only logic)."""

from __future__ import annotations

__all__ = ["TopicCounter"]


class TopicCounter:
    """Running count of messages per topic; reports only topics that changed."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._reported: dict[str, int] = {}

    def add(self, topic: str) -> None:
        """Count one message on ``topic``."""
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def changed(self) -> list[tuple[str, int]]:
        """``(topic, total)`` for each topic counted since the last call."""
        out = [(t, n) for t, n in sorted(self.counts.items()) if self._reported.get(t) != n]
        self._reported.update(out)
        return out
