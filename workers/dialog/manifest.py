"""The ``dialog`` worker's manifest: transcripts in; LLM requests, speech and car commands out.

It reads ``rtos.ack`` and ``rtos.telemetry`` from the gateway but not ``rtos.link``; it reads
``sys.lifecycle`` (from the supervisor) to fail a pending turn at once when the ASR or LLM worker
dies, and ``tts.audio``/``speaker.report`` to time and close its turns. ``asr.partial`` (the
transcript of a pause) and ``vad.resumed`` (the speech went on after one: an early request about
it is aborted) are read only with ``partial_transcripts`` (the default).
"""

from __future__ import annotations

from bus import Manifest
from schemas.asr import AsrPartial, AsrText
from schemas.base import Message
from schemas.dialog import DialogState, TurnMetrics
from schemas.llm import LlmAbort, LlmDelta, LlmReply, LlmRequest, LlmWait
from schemas.rtos import RtosAck, RtosCommand, RtosTelemetry
from schemas.speaker import SpeakerReport, SpeakerStop
from schemas.system import LifecycleEvent
from schemas.tts import TtsAudio, TtsRequest
from schemas.vad import VadResumed, VadState
from workers.dialog.settings import DialogSettings

Topics = dict[str, type[Message]]

CONSUMES: Topics = {
    "vad.state": VadState,
    "asr.text": AsrText,
    "asr.partial": AsrPartial,
    "vad.resumed": VadResumed,
    "llm.delta": LlmDelta,
    "llm.reply": LlmReply,
    "llm.wait": LlmWait,
    "tts.audio": TtsAudio,
    "speaker.report": SpeakerReport,
    "rtos.ack": RtosAck,
    "rtos.telemetry": RtosTelemetry,
    "sys.lifecycle": LifecycleEvent,
}


def _topics(s: DialogSettings) -> tuple[Topics, Topics]:
    consumes = dict(CONSUMES)
    if not s.partial_transcripts:
        del consumes["asr.partial"], consumes["vad.resumed"]
    return consumes, dict(PRODUCES)


PRODUCES: Topics = {
    "llm.request": LlmRequest,
    "llm.abort": LlmAbort,
    "tts.request": TtsRequest,
    "speaker.stop": SpeakerStop,
    "rtos.command": RtosCommand,
    "dialog.state": DialogState,
    "dialog.turn": TurnMetrics,
}

MANIFEST = Manifest(
    kind="stage",
    summary="Runs the turns: wake phrase, LLM request, spoken reply, barge-in, car commands; "
    "a stop word stops the car at once.",
    consumes=CONSUMES,
    produces=PRODUCES,
    settings=DialogSettings,
    topics=_topics,
)
