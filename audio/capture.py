"""From raw capture buffers to 16 kHz mono frames with capture timestamps (no device here).

A capture callback hands buffers of interleaved int16 samples at the device rate together with
the monotonic time they arrived. :class:`CaptureConverter` mixes them down to mono, resamples
them (polyphase, see :mod:`audio.resample`) and cuts fixed frames.

Timestamps come from a sample clock anchored on the arrivals: a buffer that ends with stream
sample ``S`` and arrives at ``t`` says the stream started no later than ``t - S / rate -
latency``. Scheduling delays only make arrivals later, so the anchor is the lowest such bound
seen, allowed to creep up by ``drift_ppm`` so it follows a device clock slower than the
monotonic clock. When samples were lost (an overrun) the stream restarts: new anchor, fresh
resampler, frame indices continuing (consumers see the jump in ``capture_ns``).
"""

from __future__ import annotations

import numpy as np

from audio.framer import Frame, Framer
from audio.resample import Resampler

__all__ = ["CaptureConverter"]


class CaptureConverter:
    """Convert capture buffers into :class:`~audio.framer.Frame` objects at 16 kHz."""

    def __init__(
        self,
        capture_rate_hz: int,
        channels: int = 1,
        frame_ms: int = 20,
        *,
        out_rate_hz: int = 16000,
        latency_ns: int = 0,
        drift_ppm: float = 200.0,
    ) -> None:
        self.capture_rate_hz = capture_rate_hz
        self.channels = channels
        self.frame_ms = frame_ms
        self.out_rate_hz = out_rate_hz
        self.latency_ns = latency_ns
        self.drift_ppm = drift_ppm
        self.restarts = 0
        self._framer = Framer(frame_ms, out_rate_hz)
        self._start()

    def _start(self) -> None:
        self._resampler = Resampler(self.capture_rate_hz, self.out_rate_hz)
        self._in_samples = 0
        self._origin_ns: int | None = None

    @property
    def origin_ns(self) -> int | None:
        """Estimated monotonic time of the first sample of the current stream."""
        return self._origin_ns

    def push(self, buffer: bytes, arrival_ns: int, lost_before: bool = False) -> list[Frame]:
        """Take one capture buffer that arrived at ``arrival_ns``; return the complete frames.

        ``lost_before`` says samples were lost just before this buffer (device overrun or a
        dropped buffer): the stream restarts on a new anchor.
        """
        x = np.frombuffer(buffer, dtype="<i2")
        if self.channels > 1:
            x = x[: len(x) - len(x) % self.channels].reshape(-1, self.channels).mean(axis=1)
        if lost_before and self._origin_ns is not None:
            self.restarts += 1
            next_index = self._framer.index
            self._start()
            self._framer = Framer(self.frame_ms, self.out_rate_hz)
            self._framer.index = next_index
        n = len(x)
        end_sample = self._in_samples + n
        bound = arrival_ns - end_sample * 1_000_000_000 // self.capture_rate_hz - self.latency_ns
        if self._origin_ns is None:
            self._origin_ns = bound
        else:
            creep = int(n * 1e9 / self.capture_rate_hz * self.drift_ppm * 1e-6)
            self._origin_ns = min(bound, self._origin_ns + creep)
        self._in_samples = end_sample
        self._framer.origin_ns = self._origin_ns
        if self._resampler.passthrough and x.dtype == np.int16:
            return self._framer.push(x)
        return self._framer.push(self._resampler.process(x))
