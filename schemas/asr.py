"""Speech recognition results."""

from __future__ import annotations

from schemas.base import Message
from schemas.registry import registry

__all__ = ["AsrText"]


class AsrText(Message):
    """The transcript of one segment (topic ``asr.text``), rich tags parsed into fields."""

    text: str
    """Recognised text without SenseVoice tags; empty when the segment held no speech."""
    segment_id: str
    """Id of the VAD segment (the turn's trace id)."""
    language: str = ""
    """Language code (zh, en, yue, ja, ko) or empty when unknown."""
    emotion: str = ""
    """SenseVoice emotion tag (HAPPY, SAD, NEUTRAL, ...) or empty."""
    event: str = ""
    """SenseVoice audio event tag (Speech, BGM, Laughter, ...) or empty."""
    itn: bool = False
    """True when inverse text normalisation (digits, punctuation) was applied."""
    audio_s: float = 0.0
    """Length of the recognised audio in seconds."""
    infer_ms: float = 0.0
    """Time spent recognising, in ms."""
    rtf: float = 0.0
    """Real-time factor: processing time / audio time."""
    speech_end_ns: int = 0
    """Monotonic time (ns) where the speech ended, copied from the segment."""
    backend: str = ""
    """Which ASR backend produced the text (e.g. sensevoice-rknn, whisper)."""


registry.register("asr.text", AsrText, core=True)
