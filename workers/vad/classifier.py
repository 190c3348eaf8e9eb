"""Decide whether one frame is voiced: webrtcvad, optionally gated by energy over a noise floor.

The noise floor is a low percentile (``floor_percentile``) of the frame levels of the last
``floor_window_s`` seconds, so it settles on the level of background noise (a fan) and not on
speech. With
``gate_db`` set, a frame counts as voiced only when webrtcvad says so *and* its level is at least
``gate_db`` above that floor; this stops a loud steady noise from holding a segment open.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import webrtcvad

from workers.vad.segmenter import frame_level_db
from workers.vad.settings import ClassifierParams

__all__ = ["ClassifierParams", "FrameClassifier", "NoiseFloor"]


class NoiseFloor:
    """Background level in dBFS: a low percentile of the frame levels of the last ``window_s``.

    The 20th percentile sits in the pauses between words, so speech barely raises it, while it
    follows a fan switched on within a window. Unlike the minimum it is not dragged down by the
    quiet dips of fluctuating (pink) noise, so the gate above it rejects that noise's peaks.
    Recomputed every ``every_s`` (the floor moves slowly; this keeps the cost per frame low).
    """

    def __init__(self, window_s: float, percentile: float = 20.0, every_s: float = 0.2) -> None:
        self.window_s = window_s
        self.percentile = percentile
        self.every_s = every_s
        self._levels: deque[float] = deque()
        self._n = 0
        self.level_db: float | None = None

    def update(self, level_db: float, frame_s: float) -> float:
        """Take one frame's level; return the floor before this frame (what it is judged by)."""
        before = level_db if self.level_db is None else self.level_db
        self._levels.append(level_db)
        if len(self._levels) > max(1, round(self.window_s / frame_s)):
            self._levels.popleft()
        if self.level_db is None or self._n % max(1, round(self.every_s / frame_s)) == 0:
            self.level_db = float(np.percentile(np.fromiter(self._levels, float), self.percentile))
        self._n += 1
        return before


class FrameClassifier:
    """Voiced/unvoiced decision per frame, with the frame level it measured."""

    def __init__(self, params: ClassifierParams | None = None) -> None:
        self.p = params or ClassifierParams()
        self._vad = webrtcvad.Vad(self.p.aggressiveness)
        self.floor = NoiseFloor(self.p.floor_window_s, self.p.floor_percentile)

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
