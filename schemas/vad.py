"""Voice activity on the bus (topic prefix ``vad.``): speech start/end and closed segments."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from schemas.base import Message
from schemas.registry import registry

__all__ = ["VadSegment", "VadState"]


class VadState(Message):
    """Speech started or ended (topic ``vad.state``); published the moment it is decided."""

    speaking: bool
    """True when speech started, False when it ended."""
    segment_id: str
    """Id of the segment (also the turn's trace id)."""
    at_ns: int
    """Monotonic time (ns) of the audio sample where speech started or ended."""
    decided_ns: int = 0
    """Monotonic time (ns) at which the VAD decided; ``decided_ns - at_ns`` is its latency."""
    dropped: bool = False
    """On speech ended: the speech was shorter than the minimum length and no segment follows."""


class VadSegment(Message):
    """A closed speech segment (topic ``vad.segment``), with pre-roll included."""

    raw_field: ClassVar[str | None] = "pcm"

    pcm: bytes = Field(repr=False)
    """Samples, int16 little-endian, mono; carried in the raw frame."""
    sample_rate_hz: int = 16000
    """Sample rate of ``pcm`` in Hz."""
    segment_id: str
    """Id of the segment (also the turn's trace id)."""
    start_ns: int
    """Monotonic time (ns) of the first sample of ``pcm``."""
    end_ns: int
    """Monotonic time (ns) just after the last sample of ``pcm``."""
    speech_start_ns: int = 0
    """Monotonic time (ns) where speech started in this part (after the pre-roll); 0 if unknown."""
    speech_end_ns: int = 0
    """Monotonic time (ns) where speech ended (before the hangover); 0 if unknown."""
    decided_ns: int = 0
    """Monotonic time (ns) at which the VAD closed the segment."""
    closed_by: Literal["silence", "max_length", "flush"] = "silence"
    """Why the segment closed: end of speech, length limit (split), or end of input."""
    part: int = 0
    """Index of this part when a long monologue was split at ``max_length``."""


registry.register("vad.state", VadState, core=True)
registry.register("vad.segment", VadSegment, core=True)
