"""Detection of lost messages from per-publisher, per-topic sequence numbers.

Each publisher socket has a random ``instance`` id and numbers its messages per topic from 1.
A subscriber that sees ``seq`` jump forward has lost the messages in between; a new instance of
the same source (a restart) starts a fresh count and is not a gap.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Gap", "SeqTracker"]


@dataclass(frozen=True, slots=True)
class Gap:
    """``lost`` messages of ``topic`` from ``source`` were not received."""

    source: str
    topic: str
    lost: int


class SeqTracker:
    """Remembers the last sequence number per (instance, topic) and reports gaps."""

    def __init__(self, max_streams: int = 4096) -> None:
        self._last: dict[tuple[int, str], int] = {}
        self._max = max_streams
        self.lost = 0

    def observe(self, source: str, instance: int, topic: str, seq: int) -> Gap | None:
        """Record one message; return the gap before it, if any."""
        key = (instance, topic)
        last = self._last.get(key)
        if last is None and len(self._last) >= self._max:
            # Bounded memory under churn of publishers: forget the oldest stream.
            self._last.pop(next(iter(self._last)))
        self._last[key] = seq if last is None or seq > last else last
        if last is not None and seq > last + 1:
            lost = seq - last - 1
            self.lost += lost
            return Gap(source, topic, lost)
        return None
