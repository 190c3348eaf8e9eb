"""Dialog turns and text to speech."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from schemas.base import Message
from schemas.registry import registry

__all__ = ["DialogState", "TtsAudio", "TtsRequest", "TurnMetrics"]


class DialogState(Message):
    """The assistant's state (topic ``dialog.state``), e.g. for an indicator LED."""

    state: Literal["idle", "listening", "thinking", "speaking", "acting", "error"]
    """What the assistant is doing now."""
    turn_id: str = ""
    """Current turn (the trace id), empty when idle."""
    awake: bool = True
    """Whether the wake phrase window is open."""
    text: str = ""
    """Optional detail (the transcript, the command, the error)."""


class TurnMetrics(Message):
    """Latency breakdown of a finished turn (topic ``dialog.turn``); all times in ms."""

    turn_id: str
    """The turn (trace id)."""
    user_text: str = ""
    """What the user said."""
    reply_text: str = ""
    """What the assistant answered."""
    outcome: Literal["answered", "command", "ignored", "aborted", "error"] = "answered"
    """How the turn ended."""
    vad_close_ms: float = 0.0
    """End of speech -> segment closed."""
    asr_ms: float = 0.0
    """Segment closed -> transcript."""
    llm_ttft_ms: float = 0.0
    """Transcript -> first LLM token."""
    first_audio_ms: float = 0.0
    """Transcript -> first synthesized audio."""
    end_to_end_ms: float = 0.0
    """End of speech -> first synthesized audio."""
    bus_ms: float = 0.0
    """Time spent on the bus (serialisation and hops) in this turn."""


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


registry.register("dialog.state", DialogState, core=True)
registry.register("dialog.turn", TurnMetrics, core=True)
registry.register("tts.request", TtsRequest, core=True)
registry.register("tts.audio", TtsAudio, core=True)
