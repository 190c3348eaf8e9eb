"""The ``vad`` worker's manifest: ``audio.frame`` in; ``vad.state`` and ``vad.segment`` out."""

from bus import Manifest
from schemas.audio import AudioFrame
from schemas.vad import VadSegment, VadState
from workers.vad.settings import VadSettings

MANIFEST = Manifest(
    kind="stage",
    summary="Finds speech in the audio: speech start/end at once, then the closed segment.",
    consumes={"audio.frame": AudioFrame},
    produces={"vad.state": VadState, "vad.segment": VadSegment},
    settings=VadSettings,
)
