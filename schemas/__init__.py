"""Message models of the bus, one module per domain, and the topic registry.

Importing :mod:`schemas` registers every core topic. ``docs/protocol.md`` lists them.
"""

from schemas import asr, audio, dialog, llm, rtos, system
from schemas.asr import AsrText
from schemas.audio import AudioFrame, SpeakerReport, SpeakerStop, VadSegment, VadState
from schemas.base import Message
from schemas.dialog import DialogState, TtsAudio, TtsRequest, TurnMetrics
from schemas.llm import ChatMessage, LlmAbort, LlmDelta, LlmReply, LlmRequest
from schemas.registry import Registry, RegistryError, registry
from schemas.rtos import RtosAck, RtosCommand, RtosLink, RtosTelemetry
from schemas.system import Heartbeat, LifecycleEvent, LogRecord, Metric, Ping

__all__ = [
    "AsrText",
    "AudioFrame",
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
    "VadSegment",
    "VadState",
    "asr",
    "audio",
    "dialog",
    "llm",
    "registry",
    "rtos",
    "system",
]
