"""The ``asr`` worker's manifest: ``vad.segment`` in, ``asr.text`` out."""

from bus import Manifest
from schemas.asr import AsrText
from schemas.vad import VadSegment
from workers.asr.settings import AsrSettings

MANIFEST = Manifest(
    kind="stage",
    summary="Recognises each speech segment (Whisper, or SenseVoice on the NPU or CPU).",
    consumes={"vad.segment": VadSegment},
    produces={"asr.text": AsrText},
    settings=AsrSettings,
)
