"""Speech recognition results."""

from __future__ import annotations

from typing import ClassVar

from schemas.base import Message
from schemas.registry import registry

__all__ = ["AsrPartial", "AsrText"]


class AsrText(Message):
    """The transcript of one segment (topic ``asr.text``), rich tags parsed into fields."""

    schema_version: ClassVar[tuple[int, int]] = (1, 1)

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
    speculative: bool = False
    """True when the text is the transcript of the segment's ``vad.partial`` (same speech),
    recognised before the segment closed and published at the close without a second pass."""
    bus_ms: float = 0.0
    """Time this turn spent on the bus before this message: the segment's ``bus_ms`` plus the
    segment's time on the bus to the ASR (``Envelope.bus_ms``: not the time it then waited while
    the ASR was busy), ms."""


class AsrPartial(Message):
    """The transcript of a ``vad.partial`` (topic ``asr.partial``): what was said so far.

    Speculative: the segment is still open and may go on. The dialog acts on a stop word in it
    at once; the VAD may end the turn sooner when it reads as a complete request. Superseded by
    a higher ``revision`` of the same segment, and by the segment's ``asr.text``. A revision may
    come twice: a quick transcript first (Whisper's looping decode cut to its first turn, for
    an early stop word), then a careful one of the same audio, which supersedes it. With the asr
    worker's ``stop_check``, a second recogniser's transcript of the same revision may follow,
    when it heard a stop word the first did not (``backend`` names it); it supersedes too.
    """

    text: str
    """Recognised text so far (no tags); empty when no words were recognised."""
    segment_id: str
    """Id of the open segment (the turn's trace id)."""
    revision: int
    """The ``vad.partial`` revision this transcribes."""
    part: int = 0
    """The segment part of that partial."""
    language: str = ""
    """Language code, or empty when unknown."""
    emotion: str = ""
    """SenseVoice emotion tag, or empty."""
    event: str = ""
    """SenseVoice audio event tag, or empty."""
    itn: bool = False
    """True when inverse text normalisation was applied."""
    paused: bool = True
    """Copied from the partial: the speech had paused when it was taken."""
    speech_end_ns: int = 0
    """Monotonic time (ns) where the last voiced audio of the partial ended."""
    audio_s: float = 0.0
    """Length of the recognised audio in seconds."""
    infer_ms: float = 0.0
    """Time spent recognising, in ms."""
    backend: str = ""
    """Which ASR backend produced the text."""
    bus_ms: float = 0.0
    """The partial's ``bus_ms`` plus the partial's time on the bus to the ASR
    (``Envelope.bus_ms``), ms."""


registry.register("asr.text", AsrText, core=True)
registry.register("asr.partial", AsrPartial, core=True)
