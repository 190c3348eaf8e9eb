"""Settings of the ``wavsource`` worker (the ``settings:`` of its entry in the supervisor config).

A light module (pydantic only), so that the manifest and ``supervisor.py check`` can validate
them without importing scipy (numpy is imported only to check ``frame_ms``). The files are not
opened here: a config for another machine can be checked where its WAV files do not exist.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["WavSourceSettings"]


class WavSourceSettings(BaseModel):
    """Settings of the ``wavsource`` worker."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    files: list[Path] = Field(min_length=1)
    """WAV files played one after the other."""
    frame_ms: int = 20
    """Frame length, ms (10, 20 or 30)."""
    realtime: bool = True
    """Pace frames at the speed of a live microphone; false = as fast as possible."""
    loop: bool = False
    """Start over after the last file, forever."""
    start_delay_s: float = Field(default=0.0, ge=0)
    """Wait this long after reporting ready before the first frame (lets subscribers join)."""
    exit_when_done: bool = False
    """Exit (status 0) after the last frame instead of idling until stopped."""
    source: str = ""
    """Value of ``source`` in the frames; empty = the first file's name."""

    @field_validator("frame_ms")
    @classmethod
    def _frame_ms(cls, v: int) -> int:
        # Imported here: audio.framer (numpy) is needed to validate, not to import the manifest.
        from audio.framer import frame_samples

        frame_samples(v)
        return v
