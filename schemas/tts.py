"""Text to speech on the bus (topic prefix ``tts.``): sentences to speak and their audio."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from schemas.base import Message
from schemas.registry import registry

__all__ = ["TtsAudio", "TtsRequest"]


class TtsRequest(Message):
    """Speak one sentence (topic ``tts.request``)."""

    turn_id: str
    """Turn the sentence belongs to."""
    index: int
    """Sentence number in the turn, from 0."""
    text: str
    """The sentence."""
    language: str = ""
    """Language code; empty = detect from the text."""
    final: bool = False
    """True for the last sentence of the turn."""


class TtsAudio(Message):
    """Synthesized audio of one sentence (topic ``tts.audio``)."""

    schema_version: ClassVar[tuple[int, int]] = (1, 1)

    raw_field: ClassVar[str | None] = "pcm"

    pcm: bytes = Field(repr=False)
    """Samples, int16 little-endian, mono; carried in the raw frame."""
    sample_rate_hz: int
    """Sample rate of ``pcm`` in Hz."""
    turn_id: str
    """Turn the audio belongs to."""
    index: int
    """Sentence number in the turn, from 0."""
    final: bool = False
    """True for the last sentence of the turn."""
    synth_ms: float = 0.0
    """Time spent synthesizing, ms."""
    backend: str = ""
    """Which TTS backend produced the audio."""
    bus_ms: float = 0.0
    """Time on the bus of the ``tts.request`` this answers (``Envelope.bus_ms`` at the TTS), ms."""


registry.register("tts.request", TtsRequest, core=True)
registry.register("tts.audio", TtsAudio, core=True)
