"""The ``mic`` worker's manifest: a PortAudio input device in, ``audio.frame`` out."""

from bus import Manifest
from schemas.audio import AudioFrame
from workers.mic.settings import MicSettings

MANIFEST = Manifest(
    kind="source",
    summary="Captures a microphone (pyaudio) as 16 kHz mono audio frames.",
    produces={"audio.frame": AudioFrame},
    settings=MicSettings,
)
