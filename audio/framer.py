"""Cut a stream of samples into fixed-length frames stamped with their capture time.

Timestamps come from a sample clock: frame ``i`` starts at ``origin_ns + first_sample * 1e9 /
rate``. A capture source re-anchors the origin when it learns that samples were lost (an overrun),
so that later frames keep true capture times; frame indices keep counting without a gap because
the lost samples never became frames (the overrun is reported as a metric instead).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Frame", "Framer", "frame_samples"]

VALID_FRAME_MS = (10, 20, 30)


def frame_samples(frame_ms: int, rate_hz: int = 16000) -> int:
    """Samples in one frame; webrtcvad accepts only 10, 20 and 30 ms frames."""
    if frame_ms not in VALID_FRAME_MS:
        raise ValueError(f"frame_ms must be 10, 20 or 30 (webrtcvad frame sizes), got {frame_ms}.")
    return rate_hz * frame_ms // 1000


@dataclass(frozen=True)
class Frame:
    """One fixed-length frame: int16 little-endian mono PCM and its capture time."""

    pcm: bytes
    index: int
    capture_ns: int


class Framer:
    """Accumulate int16 samples and hand out whole frames with indices and timestamps."""

    def __init__(self, frame_ms: int, rate_hz: int = 16000, origin_ns: int = 0) -> None:
        self.rate_hz = rate_hz
        self.size = frame_samples(frame_ms, rate_hz)
        self.origin_ns = origin_ns
        self._pending = np.zeros(0, dtype=np.int16)
        self._sample = 0  # stream position (samples since origin) of _pending[0]
        self.index = 0  # index of the next frame

    def reanchor(self, origin_ns: int) -> None:
        """Restart the sample clock at ``origin_ns`` (after lost samples); drops a partial frame."""
        self.origin_ns = origin_ns
        self._pending = np.zeros(0, dtype=np.int16)
        self._sample = 0

    def time_of(self, sample: int) -> int:
        """Monotonic ns of stream sample ``sample`` under the current anchor."""
        return self.origin_ns + sample * 1_000_000_000 // self.rate_hz

    def push_bytes(self, pcm: bytes) -> list[Frame]:
        """Add int16 little-endian PCM bytes; return the frames now complete."""
        return self.push(np.frombuffer(pcm, dtype="<i2"))

    def push(self, samples: np.ndarray) -> list[Frame]:
        """Add samples (int16, or float full scale 32768); return the frames now complete."""
        x = np.asarray(samples)
        if x.dtype != np.int16:
            x = np.clip(np.round(x), -32768, 32767).astype(np.int16)
        buf = np.concatenate([self._pending, x]) if len(self._pending) else x
        n_frames = len(buf) // self.size
        frames = []
        for i in range(n_frames):
            chunk = buf[i * self.size : (i + 1) * self.size]
            frames.append(
                Frame(chunk.astype("<i2").tobytes(), self.index, self.time_of(self._sample))
            )
            self.index += 1
            self._sample += self.size
        self._pending = buf[n_frames * self.size :].copy()
        return frames
