"""Settings of the ``tts`` worker (the ``settings:`` of its entry in the supervisor config).

A light module (pydantic only), so that the manifest and ``supervisor.py check`` can validate
them without importing numpy or the speech engines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TtsSettings"]


class TtsSettings(BaseModel):
    """Settings of the ``tts`` worker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["auto", "espeak", "piper"] = "auto"
    """auto = piper for English where installed, else espeak-ng."""
    sample_rate_hz: int = Field(default=16000, ge=8000, le=192000)
    """Output rate (set it to the speaker's rate so it never resamples)."""
    voice_en: str = "en-us"
    """espeak-ng voice for English."""
    voice_zh: str = "cmn-latn-pinyin"
    """espeak-ng voice for Chinese."""
    speed_wpm: int = Field(default=165, ge=80, le=450)
    """espeak-ng speaking rate, words per minute."""
    piper_model: Path | None = None
    """A piper .onnx voice; null = the packaged joe voice."""
    gain: float = Field(default=1.0, gt=0, le=4)
    """Loudness factor applied to the samples."""
