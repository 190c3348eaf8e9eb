"""Voice activity on the bus (topic prefix ``vad.``): speech start/end and closed segments."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from schemas.base import Message
from schemas.registry import registry

__all__ = ["VadPartial", "VadResumed", "VadSegment", "VadState"]


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
    bus_ms: float = 0.0
    """The time on the bus of the audio frame on which this was decided, ms (added in 1.1):
    the same stamp as its segment's ``bus_ms``, for the dialog's ``bus_detail_ms``."""
    schema_version: ClassVar[tuple[int, int]] = (1, 1)


class VadSegment(Message):
    """A closed speech segment (topic ``vad.segment``), with pre-roll included."""

    schema_version: ClassVar[tuple[int, int]] = (1, 1)

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
    eot_wait_ms: int = 0
    """The silence after the speech that closed this segment, ms: the configured hangover, or
    less when the transcript so far (``asr.partial``) ended the turn sooner; 0 when it closed
    for another reason (``max_length``, ``flush``)."""
    partial_revision: int = -1
    """Revision of the ``vad.partial`` of this segment that holds all of its speech (same
    speech span), whose transcript may stand for this segment's; -1 when there is none."""
    bus_ms: float = 0.0
    """Time on the bus of the ``audio.frame`` that decided the close (``Envelope.bus_ms`` at
    the VAD), ms."""


class VadPartial(Message):
    """The audio of an open segment so far (topic ``vad.partial``): a speculative segment.

    Published when the speech pauses (``partial_after_ms`` of silence after voiced audio; and,
    with ``partial_every_ms``, every so often while it goes on), so that the ASR can transcribe
    before the segment closes and the dialog can act on a stop word at once. The segment stays
    open: if speech resumes, a later partial (higher ``revision``) supersedes this one, and the
    segment itself still closes as ``vad.segment`` with the same id (its ``partial_revision``
    names the partial whose speech it holds, if any). Times are monotonic ns of the audio.
    """

    raw_field: ClassVar[str | None] = "pcm"

    pcm: bytes = Field(repr=False)
    """Samples from the segment's start (pre-roll included) to ``end_ns``, int16 little-endian,
    mono; carried in the raw frame."""
    sample_rate_hz: int = 16000
    """Sample rate of ``pcm`` in Hz."""
    segment_id: str
    """Id of the open segment (the turn's trace id)."""
    revision: int
    """Number of this partial within the segment (and part), from 0; a higher one supersedes."""
    part: int = 0
    """Part of the segment it belongs to (a long monologue is split at ``max_length``)."""
    start_ns: int
    """Monotonic time (ns) of the first sample of ``pcm``."""
    end_ns: int
    """Monotonic time (ns) just after the last sample of ``pcm``."""
    speech_start_ns: int = 0
    """Monotonic time (ns) where speech started in this part."""
    speech_end_ns: int = 0
    """Monotonic time (ns) where the last voiced audio so far ended."""
    paused: bool = True
    """True when the speech has paused (published at the silence's start); False for a partial
    taken while the speech goes on (``partial_every_ms``)."""
    decided_ns: int = 0
    """Monotonic time (ns) at which the VAD published it."""
    bus_ms: float = 0.0
    """Time on the bus of the ``audio.frame`` that decided it (``Envelope.bus_ms``), ms."""


class VadResumed(Message):
    """Speech went on in an open segment after a pause whose ``vad.partial`` is out (topic
    ``vad.resumed``): that partial's transcript is no longer all of the segment. Published the
    moment the VAD decides (the frame that made it speech again); at most one per pause. The
    dialog drops an LLM request it sent early about that pause (:mod:`workers.dialog.early`),
    so the cores go to the transcript of what the user says next; the segment stays open, and a
    later ``vad.partial`` (higher ``revision``) or its ``vad.segment`` follows."""

    segment_id: str
    """Id of the open segment (the turn's trace id)."""
    revision: int
    """Revision of the pause's ``vad.partial`` that the speech went on after."""
    part: int = 0
    """Part of the segment (a long monologue is split at ``max_length``)."""
    at_ns: int
    """Monotonic time (ns) of the audio frame that decided the speech went on (its start)."""
    decided_ns: int = 0
    """Monotonic time (ns) at which the VAD published it."""


registry.register("vad.state", VadState, core=True)
registry.register("vad.segment", VadSegment, core=True)
registry.register("vad.partial", VadPartial, core=True)
registry.register("vad.resumed", VadResumed, core=True)
