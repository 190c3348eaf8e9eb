"""Decide whether one frame is voiced: webrtcvad, optionally gated by energy over a noise floor.

The noise floor is the quietest frame level of the last ``floor_window_s`` seconds, so it
settles on the level of steady background noise (a fan) and not on speech. With
``gate_db`` set, a frame counts as voiced only when webrtcvad says so *and* its level is at least
``gate_db`` above that floor; this stops a loud steady noise from holding a segment open.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import webrtcvad

from workers.vad.segmenter import frame_level_db

__all__ = ["ClassifierParams", "FrameClassifier", "NoiseFloor"]


@dataclass(frozen=True)
class ClassifierParams:
    """Frame classification parameters (defaults chosen by ``python -m bench.vad``)."""

    aggressiveness: int = 2
    sample_rate_hz: int = 16000
    gate_db: float | None = 9.0
    floor_window_s: float = 3.0
    min_level_dbfs: float = -70.0

    def __post_init__(self) -> None:
        if self.aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"aggressiveness must be 0, 1, 2 or 3, got {self.aggressiveness}.")
        if self.sample_rate_hz not in (8000, 16000, 32000, 48000):
            raise ValueError(
                f"webrtcvad needs 8, 16, 32 or 48 kHz audio, got {self.sample_rate_hz} Hz."
            )


class NoiseFloor:
    """Background level in dBFS: the minimum frame level over the last ``window_s`` seconds.

    A sliding minimum follows a fan switched on within one window, and speech cannot raise it
    unless it runs for the whole window without a single quieter frame.
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._mins: deque[tuple[int, float]] = deque()  # (frame number, level), increasing
        self._n = 0
        self.level_db: float | None = None

    def update(self, level_db: float, frame_s: float) -> float:
        """Take one frame's level; return the floor before this frame (what it is judged by)."""
        before = level_db if self.level_db is None else self.level_db
        window = max(1, round(self.window_s / frame_s))
        while self._mins and self._mins[-1][1] >= level_db:
            self._mins.pop()
        self._mins.append((self._n, level_db))
        while self._mins[0][0] <= self._n - window:
            self._mins.popleft()
        self._n += 1
        self.level_db = self._mins[0][1]
        return before


class FrameClassifier:
    """Voiced/unvoiced decision per frame, with the frame level it measured."""

    def __init__(self, params: ClassifierParams | None = None) -> None:
        self.p = params or ClassifierParams()
        self._vad = webrtcvad.Vad(self.p.aggressiveness)
        self.floor = NoiseFloor(self.p.floor_window_s)

    def classify(self, pcm: bytes) -> tuple[bool, float]:
        """Return (voiced, level in dBFS) for one 10/20/30 ms int16 frame."""
        level = frame_level_db(pcm)
        frame_s = len(pcm) / 2 / self.p.sample_rate_hz
        floor = self.floor.update(level, frame_s)
        if level < self.p.min_level_dbfs:
            return False, level
        voiced = self._vad.is_speech(pcm, self.p.sample_rate_hz)
        if voiced and self.p.gate_db is not None:
            voiced = level >= floor + self.p.gate_db
        return voiced, level
