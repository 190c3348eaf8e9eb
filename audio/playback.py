"""What the speaker plays next: a queue of turns' audio pulled one output buffer at a time.

:meth:`PlaybackQueue.pull` is called by the output (a PortAudio callback, or the headless WAV
writer's clock) for exactly one buffer; :meth:`PlaybackQueue.stop` discards everything not yet
pulled, so playback stops within the buffer being played. Both return :class:`PlaybackEvent`
records that become ``speaker.report`` messages. Thread-safe: the callback and the bus loop may
call from different threads.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

__all__ = ["PlaybackEvent", "PlaybackQueue"]


@dataclass(frozen=True)
class PlaybackEvent:
    """A turn's playback started, finished or was cut; durations in ms."""

    turn_id: str
    event: Literal["started", "finished", "cut"]
    played_ms: float
    cut_ms: float = 0.0


@dataclass
class _Turn:
    turn_id: str
    chunks: deque[np.ndarray] = field(default_factory=deque)
    final_queued: bool = False
    played: int = 0
    started: bool = False


@dataclass
class Pulled:
    """One output buffer: the samples, and which turn each stretch belonged to."""

    samples: np.ndarray
    spans: list[tuple[str, np.ndarray]]
    events: list[PlaybackEvent]


class PlaybackQueue:
    """Turns in arrival order, each a list of int16 chunks at the output rate."""

    def __init__(self, rate_hz: int) -> None:
        self.rate_hz = rate_hz
        self._turns: deque[_Turn] = deque()
        self._cut: deque[str] = deque(maxlen=64)  # turns stopped: their late audio is ignored
        self._lock = threading.Lock()

    def _ms(self, samples: int) -> float:
        return 1000.0 * samples / self.rate_hz

    def enqueue(self, turn_id: str, samples: np.ndarray, final: bool) -> bool:
        """Queue one chunk (int16 mono at the output rate); False if the turn was stopped."""
        with self._lock:
            if turn_id in self._cut:
                return False
            turn = next((t for t in self._turns if t.turn_id == turn_id), None)
            if turn is None:
                turn = _Turn(turn_id)
                self._turns.append(turn)
            if len(samples):
                turn.chunks.append(np.asarray(samples, dtype=np.int16))
            turn.final_queued = turn.final_queued or final
            return True

    def queued_ms(self) -> float:
        """Audio waiting to be played, ms."""
        with self._lock:
            return self._ms(sum(len(c) for t in self._turns for c in t.chunks))

    def pull(self, n: int) -> Pulled:
        """The next ``n`` samples (silence where nothing is queued)."""
        out = np.zeros(n, dtype=np.int16)
        spans: list[tuple[str, np.ndarray]] = []
        events: list[PlaybackEvent] = []
        pos = 0
        with self._lock:
            while pos < n and self._turns:
                turn = self._turns[0]
                if turn.chunks and not turn.started:
                    turn.started = True
                    events.append(PlaybackEvent(turn.turn_id, "started", 0.0))
                while pos < n and turn.chunks:
                    chunk = turn.chunks[0]
                    k = min(n - pos, len(chunk))
                    out[pos : pos + k] = chunk[:k]
                    spans.append((turn.turn_id, chunk[:k]))
                    pos += k
                    turn.played += k
                    if k == len(chunk):
                        turn.chunks.popleft()
                    else:
                        turn.chunks[0] = chunk[k:]
                if turn.chunks:
                    break
                if turn.final_queued:
                    self._turns.popleft()
                    events.append(PlaybackEvent(turn.turn_id, "finished", self._ms(turn.played)))
                else:
                    break  # waiting for this turn's next sentence; later turns wait behind it
        return Pulled(out, spans, events)

    def stop(self, turn_id: str = "") -> list[PlaybackEvent]:
        """Discard the queued audio of ``turn_id`` (every turn when empty); report the cuts."""
        events = []
        with self._lock:
            keep: deque[_Turn] = deque()
            for turn in self._turns:
                if turn_id and turn.turn_id != turn_id:
                    keep.append(turn)
                    continue
                cut = sum(len(c) for c in turn.chunks)
                self._cut.append(turn.turn_id)
                events.append(
                    PlaybackEvent(turn.turn_id, "cut", self._ms(turn.played), self._ms(cut))
                )
            self._turns = keep
            if turn_id and not events:
                self._cut.append(turn_id)  # its audio has not arrived yet: refuse it when it does
        return events
