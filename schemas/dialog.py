"""Dialog turns on the bus (topic prefix ``dialog.``): state and per-turn latency."""

from __future__ import annotations

from typing import Literal

from schemas.base import Message
from schemas.registry import registry

__all__ = ["DialogState", "TurnMetrics"]


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


registry.register("dialog.state", DialogState, core=True)
registry.register("dialog.turn", TurnMetrics, core=True)
