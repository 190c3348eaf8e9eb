"""The speaker on the bus (topic prefix ``speaker.``): stop requests and playback reports."""

from __future__ import annotations

from typing import Literal

from schemas.base import Message
from schemas.registry import registry

__all__ = ["SpeakerReport", "SpeakerStop"]


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


registry.register("speaker.stop", SpeakerStop, core=True)
registry.register("speaker.report", SpeakerReport, core=True)
