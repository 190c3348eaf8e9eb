"""The ``wavsource`` worker's manifest: WAV files in, ``audio.frame`` out, as a live microphone."""

from bus import Manifest
from schemas.audio import AudioFrame
from workers.wavsource.settings import WavSourceSettings

MANIFEST = Manifest(
    kind="source",
    summary="Plays WAV files as if from a microphone (16 kHz mono audio frames).",
    produces={"audio.frame": AudioFrame},
    settings=WavSourceSettings,
)
