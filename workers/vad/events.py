"""What the segmenter decides, frame by frame (plain data; times are monotonic ns of the audio).

:class:`SpeechStarted` and :class:`SpeechEnded` become ``vad.state``, :class:`SegmentClosed`
becomes ``vad.segment``, :class:`PartialReady` becomes ``vad.partial``, :class:`SpeechResumed`
becomes ``vad.resumed`` (:mod:`workers.vad.pipeline`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Event",
    "PartialReady",
    "SegmentClosed",
    "SpeechEnded",
    "SpeechResumed",
    "SpeechStarted",
]


@dataclass(frozen=True)
class SpeechStarted:
    """Speech began at ``at_ns``; decided by the frame ending at ``decided_at_ns``."""

    segment_id: str
    at_ns: int
    decided_at_ns: int


@dataclass(frozen=True)
class SpeechEnded:
    """Speech ended at ``at_ns``; decided by the frame ending at ``decided_at_ns``."""

    segment_id: str
    at_ns: int
    decided_at_ns: int
    speech_ms: float
    dropped: bool = False


@dataclass(frozen=True)
class SegmentClosed:
    """A finished segment (or one part of a split monologue) with its PCM."""

    segment_id: str
    pcm: bytes
    start_ns: int
    end_ns: int
    speech_start_ns: int
    speech_end_ns: int
    closed_by: Literal["silence", "max_length", "flush"]
    part: int
    decided_at_ns: int
    eot_wait_ms: int = 0
    """The silence after the speech when it closed by silence, ms."""
    partial_revision: int = -1
    """Revision of the pause partial that holds all of this segment's speech, or -1."""


@dataclass(frozen=True)
class PartialReady:
    """The open segment so far (PCM from its start), taken at a pause or during speech."""

    segment_id: str
    revision: int
    part: int
    pcm: bytes
    start_ns: int
    end_ns: int
    speech_start_ns: int
    speech_end_ns: int
    paused: bool
    decided_at_ns: int


@dataclass(frozen=True)
class SpeechResumed:
    """Speech went on at ``at_ns`` after the pause whose partial was ``revision``; decided by
    the frame ending at ``decided_at_ns``."""

    segment_id: str
    revision: int
    part: int
    at_ns: int
    decided_at_ns: int


Event = SpeechStarted | SpeechEnded | SegmentClosed | PartialReady | SpeechResumed
