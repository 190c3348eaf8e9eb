"""One conversational turn: its stage, its timeline and the metrics it reports.

Times are monotonic nanoseconds: ``speech_end_ns`` comes from the VAD (the audio sample where
speech ended), the others are when the dialog received each message. ``bus_ms`` adds up the
receive age (publish -> received, serialisation included: ``Envelope.age_ms``) of the
critical-path messages the dialog receives (end of speech, transcript, first token, first
audio); the hops it sends (request, first sentence) are not visible to it and are counted as the
same amount again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from schemas.dialog import TurnMetrics
from schemas.rtos import RtosCommand
from workers.dialog.speech import ReplySpeech

if TYPE_CHECKING:
    from workers.dialog.understanding import Understanding

__all__ = ["Stage", "Timeline", "Turn"]

Stage = Literal["asr", "llm", "speaking", "done"]
Outcome = Literal["answered", "command", "ignored", "aborted", "error"]


def _ms(a: int, b: int) -> float:
    return (b - a) / 1e6 if a and b and b >= a else 0.0


@dataclass
class Timeline:
    """When each step of a turn happened (monotonic ns; 0 = not yet)."""

    speech_start_ns: int = 0
    speech_end_ns: int = 0
    closed_ns: int = 0
    transcript_ns: int = 0
    first_token_ns: int = 0
    first_audio_ns: int = 0
    bus_ms: float = 0.0
    """Measured receive age of the critical-path messages received, ms."""

    def metrics(self, turn_id: str, **fields: object) -> TurnMetrics:
        """The latency breakdown of this timeline."""
        return TurnMetrics(
            turn_id=turn_id,
            vad_close_ms=_ms(self.speech_end_ns, self.closed_ns),
            asr_ms=_ms(self.closed_ns, self.transcript_ns),
            llm_ttft_ms=_ms(self.transcript_ns, self.first_token_ns),
            first_audio_ms=_ms(self.transcript_ns, self.first_audio_ns),
            end_to_end_ms=_ms(self.speech_end_ns, self.first_audio_ns),
            bus_ms=2 * self.bus_ms,
            **fields,  # type: ignore[arg-type]
        )


@dataclass
class Turn:
    """A turn from its transcript to its last audio."""

    turn_id: str
    language: str
    user_text: str
    timeline: Timeline
    speech: ReplySpeech
    stage: Stage = "llm"
    outcome: Outcome = "answered"
    request_id: str = ""
    deadline_ns: int = 0
    """When the current stage times out (0 = no deadline)."""
    reply_text: str = ""
    reported: bool = False
    """TurnMetrics already published."""
    commands: list[int] = field(default_factory=list)
    """Ids of the car commands this turn sent, in order."""
    plan: list[RtosCommand] = field(default_factory=list)
    """Commands still to send, each once the one before it is done."""
    asked: Understanding | None = None
    """The command-like utterance whose intent the LLM was asked for (its reply is not
    spoken, only acted on or refused); None for an ordinary question."""

    def metrics(self) -> TurnMetrics:
        """The turn's metrics message."""
        reply = self.reply_text or " ".join(self.speech.spoken)
        return self.timeline.metrics(
            self.turn_id, user_text=self.user_text, reply_text=reply, outcome=self.outcome
        )
