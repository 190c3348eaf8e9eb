"""One conversational turn: its stage, its timeline and the metrics it reports.

Times are monotonic nanoseconds: ``speech_end_ns`` comes from the VAD (the audio sample where
speech ended), ``closed_ns`` is the VAD's decision, ``stop_ring_ns`` the gateway's stamp of the
STOP written to the ring; the others are when the dialog received or sent each message.

The bus share of a turn is added up hop by hop along its critical path, each hop's time on the
bus stamped by the worker that received it (``Envelope.bus_ms``, same board: not the time it
waited while that worker was busy): the audio frame
that closed the segment and the segment itself (carried in ``asr.text.bus_ms`` by the VAD and
the ASR), the transcript (received here), the request (``llm.delta.bus_ms``, stamped by the
LLM worker), the first token (here), the first sentence (``tts.audio.bus_ms``, stamped by the
TTS) and the first audio (here). Nothing is counted twice or estimated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from schemas.dialog import TurnMetrics
from schemas.rtos import RtosCommand
from workers.dialog.speech import ReplySpeech

if TYPE_CHECKING:
    from workers.dialog.understanding import Understanding

__all__ = ["BusHops", "Partial", "Stage", "Timeline", "Turn"]

Stage = Literal["asr", "llm", "speaking", "done"]
Outcome = Literal["answered", "command", "ignored", "aborted", "error"]


def _ms(a: int, b: int) -> float:
    return (b - a) / 1e6 if a and b and b >= a else 0.0


@dataclass
class BusHops:
    """Time on the bus of a turn's critical path, hop by hop."""

    ms: dict[str, float] = field(default_factory=dict)
    """Message -> its receive age where it was received, ms, one hop each
    (``TurnMetrics.bus_detail_ms``)."""

    def add(self, name: str, received_ms: float, upstream: dict[str, float] | None = None) -> None:
        """The first ``name`` message took ``received_ms`` to reach the dialog and carries what
        the workers before it measured, ``upstream``: message -> its receive age there (one
        hop each; their sum is what the message's ``bus_ms`` carries)."""
        if name in self.ms:
            return  # the first message of a kind is the one on the critical path
        self.ms.update({k: max(0.0, v) for k, v in (upstream or {}).items()})
        self.ms[name] = max(0.0, received_ms)

    @property
    def total_ms(self) -> float:
        """The turn's time on the bus, ms."""
        return sum(self.ms.values())

    @property
    def count(self) -> int:
        """Hops measured."""
        return len(self.ms)


@dataclass
class Timeline:
    """When each step of a turn happened (monotonic ns; 0 = not yet)."""

    speech_start_ns: int = 0
    speech_end_ns: int = 0
    closed_ns: int = 0
    partial_ns: int = 0
    """The speculative transcript of the pause that ended the speech was handled."""
    transcript_ns: int = 0
    speculative: bool = False
    first_token_ns: int = 0
    first_request_ns: int = 0
    """The first piece of the reply went to the TTS."""
    first_audio_ns: int = 0
    stop_ring_ns: int = 0
    """The gateway wrote this utterance's STOP to the ring (its ack's stamp)."""
    stop_speech_end_ns: int = 0
    """End of the speech whose transcript held the stop word (0: the utterance's end)."""
    frame_bus_ms: float = 0.0
    """The VAD's receive age of the audio frame on which the speech's end was decided (its
    ``vad.state``), ms: the first hop of the transcript's ``bus_ms``."""
    bus: BusHops = field(default_factory=BusHops)

    def metrics(self, turn_id: str, **fields: object) -> TurnMetrics:
        """The latency breakdown of this timeline."""
        return TurnMetrics(
            turn_id=turn_id,
            vad_close_ms=_ms(self.speech_end_ns, self.closed_ns),
            asr_partial_ms=_ms(self.speech_end_ns, self.partial_ns),
            asr_ms=_ms(self.closed_ns, self.transcript_ns),
            speculative=self.speculative,
            llm_ttft_ms=_ms(self.transcript_ns, self.first_token_ns),
            first_clause_ms=_ms(self.transcript_ns, self.first_request_ns),
            tts_ms=_ms(self.first_request_ns, self.first_audio_ns),
            first_audio_ms=_ms(self.transcript_ns, self.first_audio_ns),
            end_to_end_ms=_ms(self.speech_end_ns, self.first_audio_ns),
            stop_ms=_ms(self.stop_speech_end_ns or self.speech_end_ns, self.stop_ring_ns),
            bus_ms=self.bus.total_ms,
            bus_hops=self.bus.count,
            bus_detail_ms={k: round(v, 3) for k, v in self.bus.ms.items()},
            **fields,  # type: ignore[arg-type]
        )


@dataclass
class Partial:
    """The latest speculative transcript (``asr.partial``) of an open or closing segment."""

    text: str
    speech_end_ns: int
    """Monotonic time (ns) where the partial's last voiced audio ended."""
    at_ns: int
    """When the dialog handled it (monotonic ns)."""
    language: str = ""
    paused: bool = True
    """Taken at a pause (not during speech)."""
    part: int = 0
    """The segment part it transcribes."""

    def covers(self, speech_end_ns: int) -> bool:
        """True when it holds all the speech of a segment that ended at ``speech_end_ns``: the
        ASR would send its text as the segment's (:class:`~workers.asr.speculative.Speculation`:
        a pause's partial of the first part, with no voiced audio after it)."""
        return (
            self.paused
            and self.part == 0
            and bool(self.text)
            and (speech_end_ns != 0 and self.speech_end_ns == speech_end_ns)
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
