"""Sentences waiting to be spoken, and the turns a barge-in cancelled.

Synthesis takes a few ms (espeak) to a few hundred ms (piper) per sentence, so requests of a turn
may pile up behind it; a ``speaker.stop`` that arrives meanwhile must cancel them, and any that
arrive later for the same turn. A stop naming no turn cancels every turn seen so far.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from schemas.speaker import SpeakerStop
from schemas.tts import TtsRequest

__all__ = ["SpeechQueue"]

_REMEMBER = 256


class SpeechQueue:
    """FIFO of requests that forgets cancelled turns."""

    def __init__(self) -> None:
        self._q: deque[TtsRequest] = deque()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._cancelled: OrderedDict[str, None] = OrderedDict()
        self.dropped = 0
        """Requests discarded because their turn was cancelled."""

    def __len__(self) -> int:
        return len(self._q)

    def push(self, req: TtsRequest) -> None:
        """Queue a request, unless its turn was cancelled."""
        if req.turn_id in self._cancelled:
            self.dropped += 1
            return
        _remember(self._seen, req.turn_id)
        self._q.append(req)

    def stop(self, stop: SpeakerStop) -> int:
        """Cancel a turn (every turn seen when ``turn_id`` is empty); how many were dropped."""
        turns = [stop.turn_id] if stop.turn_id else list(self._seen)
        for t in turns:
            _remember(self._cancelled, t)
        before = len(self._q)
        self._q = deque(r for r in self._q if r.turn_id not in self._cancelled)
        self.dropped += before - len(self._q)
        return before - len(self._q)

    def pop(self) -> TtsRequest | None:
        """The next request to speak, or None."""
        return self._q.popleft() if self._q else None


def _remember(d: OrderedDict[str, None], key: str) -> None:
    d[key] = None
    d.move_to_end(key)
    while len(d) > _REMEMBER:
        d.popitem(last=False)
