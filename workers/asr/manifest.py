"""The ``asr`` worker's manifest: ``vad.segment`` (and ``vad.partial``) in, ``asr.text`` (and
``asr.partial``) out.

``consumes``/``produces`` list every topic it may use; the partial topics only with
``speculative`` settings (the default), which need a VAD that publishes partials.
"""

from __future__ import annotations

from bus import Manifest
from schemas.asr import AsrPartial, AsrText
from schemas.base import Message
from schemas.vad import VadPartial, VadSegment
from workers.asr.settings import AsrSettings

Topics = dict[str, type[Message]]


def _topics(s: AsrSettings) -> tuple[Topics, Topics]:
    if s.speculative:
        return {"vad.segment": VadSegment, "vad.partial": VadPartial}, {
            "asr.text": AsrText,
            "asr.partial": AsrPartial,
        }
    return {"vad.segment": VadSegment}, {"asr.text": AsrText}


MANIFEST = Manifest(
    kind="stage",
    summary="Recognises each speech segment (Whisper, or SenseVoice on the NPU or CPU), and "
    "the open segment at each pause.",
    consumes={"vad.segment": VadSegment, "vad.partial": VadPartial},
    produces={"asr.text": AsrText, "asr.partial": AsrPartial},
    settings=AsrSettings,
    topics=_topics,
)
