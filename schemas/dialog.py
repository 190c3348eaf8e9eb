"""Dialog turns on the bus (topic prefix ``dialog.``): state and per-turn latency."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from schemas.base import Message
from schemas.registry import registry

__all__ = ["HOP_FRAME", "HOP_SEGMENT", "DialogState", "TurnMetrics"]

#: ``TurnMetrics.bus_detail_ms`` keys of the two hops before the transcript, which the dialog
#: does not receive itself: the audio frame that ended the speech (at the VAD) and the segment
#: (at the ASR). The other keys are the topics the dialog receives or sends.
HOP_FRAME = "audio.frame"
HOP_SEGMENT = "vad.segment"


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
    schema_version: ClassVar[tuple[int, int]] = (1, 2)

    vad_close_ms: float = 0.0
    """End of speech -> segment closed (the VAD's decision)."""
    asr_partial_ms: float = 0.0
    """End of speech -> the speculative transcript of the pause (``asr.partial``) handled; 0
    when none came."""
    asr_ms: float = 0.0
    """Segment closed -> transcript handled (about 0 when the speculative one stood for it)."""
    speculative: bool = False
    """The transcript was the speculative one: no recognition after the segment closed."""
    llm_ttft_ms: float = 0.0
    """Transcript -> first LLM token."""
    first_clause_ms: float = 0.0
    """Transcript -> first piece of the reply sent to the TTS (its first clause)."""
    tts_ms: float = 0.0
    """First piece sent to the TTS -> its audio handled (synthesis and two hops)."""
    first_audio_ms: float = 0.0
    """Transcript -> first synthesized audio."""
    end_to_end_ms: float = 0.0
    """End of speech -> first synthesized audio."""
    stop_ms: float = 0.0
    """End of the speech whose transcript held the stop word (the pause's, when it came from a
    partial) -> STOP written to the ring (the gateway's stamp), when a stop word in this
    utterance stopped the car; 0 otherwise."""
    bus_ms: float = 0.0
    """The turn's time on the bus: the time on the bus of every hop on its critical path, from
    the audio frame that closed the segment to the first audio, each stamped by the worker that
    received it (``Envelope.bus_ms``: publish -> the receiver last found its queue empty; a
    frame's wait while its receiver was busy is that worker's time, not the bus's)."""
    bus_hops: int = 0
    """How many hops ``bus_ms`` adds up."""
    bus_detail_ms: dict[str, float] = Field(default_factory=dict)
    """``bus_ms`` by hop, ms (added in 1.2): message -> its time on the bus to where it was
    received.
    ``audio.frame`` (the frame that ended the speech, at the VAD), ``vad.segment`` (at the
    ASR), ``asr.text`` (at the dialog), ``llm.request`` (at the LLM), ``llm.delta`` (the first
    token, at the dialog), ``tts.request`` (the first piece, at the TTS), ``tts.audio`` (its
    audio, at the dialog); only the hops of this turn's path. The values add up to
    ``bus_ms``."""


registry.register("dialog.state", DialogState, core=True)
registry.register("dialog.turn", TurnMetrics, core=True)
