"""Settings of the ``speaker`` worker (the ``settings:`` of its entry in the supervisor config).

A light module (pydantic only), so that the manifest and ``supervisor.py check`` can validate
them without importing pyaudio or numpy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SpeakerSettings"]


class SpeakerSettings(BaseModel):
    """Settings of the ``speaker`` worker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["pyaudio", "wav"] = "pyaudio"
    """Play on a PortAudio device, or write one WAV file per turn (headless)."""
    device: str | int | None = None
    """Output device: index, part of its name, or null for the default output."""
    sample_rate_hz: int = Field(default=48000, ge=8000, le=192000)
    """Output rate; audio of other rates is resampled to it."""
    buffer_ms: int = Field(default=20, ge=5, le=200)
    """Output buffer length, ms: a stop takes effect within one buffer."""
    out_dir: Path = Path("out/speaker")
    """Where the ``wav`` backend writes ``<turn_id>.wav``."""
    realtime: bool = True
    """``wav`` backend: play at the speed of a real device (false = write at once)."""
