"""Message models of the bus, one module per topic prefix, and the topic registry.

``audio.*`` is in :mod:`schemas.audio`, ``vad.*`` in :mod:`schemas.vad`, ``asr.*`` in
:mod:`schemas.asr` and so on for ``llm``, ``tts``, ``speaker``, ``dialog`` and ``rtos``;
``sys.*`` is in :mod:`schemas.system` (not ``sys.py``, which would shadow the standard library's
``sys`` for a script run from this folder). Importing :mod:`schemas` registers every core topic;
``docs/protocol.md`` lists them.
"""

from schemas import asr, audio, dialog, llm, rtos, speaker, system, tts, vad
from schemas.asr import AsrPartial, AsrText
from schemas.audio import AudioFrame
from schemas.base import Message
from schemas.dialog import DialogState, TurnMetrics
from schemas.llm import ChatMessage, LlmAbort, LlmDelta, LlmReply, LlmRequest
from schemas.registry import Registry, RegistryError, registry
from schemas.rtos import CarIntent, RtosAck, RtosCommand, RtosLink, RtosTelemetry
from schemas.speaker import SpeakerReport, SpeakerStop
from schemas.system import Heartbeat, LifecycleEvent, LogRecord, Metric, Ping
from schemas.tts import TtsAudio, TtsRequest
from schemas.vad import VadPartial, VadResumed, VadSegment, VadState

__all__ = [
    "AsrPartial",
    "AsrText",
    "AudioFrame",
    "CarIntent",
    "ChatMessage",
    "DialogState",
    "Heartbeat",
    "LifecycleEvent",
    "LlmAbort",
    "LlmDelta",
    "LlmReply",
    "LlmRequest",
    "LogRecord",
    "Message",
    "Metric",
    "Ping",
    "Registry",
    "RegistryError",
    "RtosAck",
    "RtosCommand",
    "RtosLink",
    "RtosTelemetry",
    "SpeakerReport",
    "SpeakerStop",
    "TtsAudio",
    "TtsRequest",
    "TurnMetrics",
    "VadPartial",
    "VadResumed",
    "VadSegment",
    "VadState",
    "asr",
    "audio",
    "dialog",
    "llm",
    "registry",
    "rtos",
    "speaker",
    "system",
    "tts",
    "vad",
]
