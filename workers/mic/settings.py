"""Settings of the ``mic`` worker (the ``settings:`` of its entry in the supervisor config).

A light module (pydantic only), so that the manifest and ``supervisor.py check`` can validate
them without importing pyaudio (numpy is imported only to check ``frame_ms``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["MicSettings"]


class MicSettings(BaseModel):
    """Settings of the ``mic`` worker."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    device: str | int | None = None
    """Input device: index, part of its name, or null for the default input."""
    frame_ms: int = 20
    """Published frame length, ms (10, 20 or 30)."""
    capture_rate_hz: int | None = None
    """Capture rate; null tries 16000, then 48000, 44100 and the device default."""
    channels: int = Field(default=1, ge=1, le=32)
    """Channels captured (mixed down to mono)."""
    buffer_ms: int = Field(default=20, ge=5, le=500)
    """PortAudio buffer length, ms."""
    queue_s: float = Field(default=2.0, gt=0)
    """Audio the callback may queue ahead of the loop before buffers are dropped, s."""
    metrics_every_s: float = Field(default=5.0, gt=0)
    """Period of the ``mic.*`` metrics, s."""

    @field_validator("frame_ms")
    @classmethod
    def _frame_ms(cls, v: int) -> int:
        # Imported here: audio.framer (numpy) is needed to validate, not to import the manifest.
        from audio.framer import frame_samples

        frame_samples(v)
        return v
