"""Captured audio on the bus (topic prefix ``audio.``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from schemas.base import Message
from schemas.registry import registry

__all__ = ["AudioFrame"]


class AudioFrame(Message):
    """One frame of captured audio (topic ``audio.frame``): mono signed 16-bit little-endian PCM."""

    raw_field: ClassVar[str | None] = "pcm"

    pcm: bytes = Field(repr=False)
    """Samples, int16 little-endian, mono; carried in the raw frame."""
    sample_rate_hz: int = 16000
    """Sample rate of ``pcm`` in Hz."""
    index: int = Field(ge=0)
    """Frame counter of this capture stream, from 0; a gap means frames were lost."""
    capture_ns: int
    """Monotonic time (CLOCK_MONOTONIC, ns) at which the first sample was captured."""
    source: str = ""
    """Device or file name the audio came from."""
    final: bool = False
    """True on the last frame of a finite source (a WAV file played once); the VAD then closes
    an open segment instead of waiting for silence."""

    @property
    def samples(self) -> int:
        """Number of samples in ``pcm``."""
        return len(self.pcm) // 2

    @property
    def duration_ms(self) -> float:
        """Length of the frame in milliseconds."""
        return 1000.0 * self.samples / self.sample_rate_hz


registry.register("audio.frame", AudioFrame, core=True)
