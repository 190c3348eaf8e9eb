"""Audio on the bus: captured frames, VAD events and segments, speaker control."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from schemas.base import Message
from schemas.registry import registry

__all__ = ["AudioFrame", "SpeakerReport", "SpeakerStop", "VadSegment", "VadState"]


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


class SpeakerStop(Message):
    """Stop playback now (topic ``speaker.stop``), e.g. on barge-in."""

    reason: str = "barge-in"
    """Why playback is stopped."""
    turn_id: str = ""
    """Only stop audio of this turn; empty stops everything."""


class SpeakerReport(Message):
    """What the speaker did with a turn's audio (topic ``speaker.report``)."""

    turn_id: str
    """Turn whose audio this reports on."""
    event: Literal["started", "finished", "cut"]
    """Playback began, ran to the end, or was cut by a stop."""
    played_ms: float = 0.0
    """Audio played so far, in ms."""
    cut_ms: float = 0.0
    """Audio discarded by a stop, in ms."""
    at_ns: int = 0
    """Monotonic time (ns) of the event."""
    path: str = ""
    """WAV file written for this turn when the speaker runs headless."""


registry.register("audio.frame", AudioFrame, core=True)
registry.register("vad.state", VadState, core=True)
registry.register("vad.segment", VadSegment, core=True)
registry.register("speaker.stop", SpeakerStop, core=True)
registry.register("speaker.report", SpeakerReport, core=True)
