"""The ``tts`` worker's manifest: ``tts.request`` and ``speaker.stop`` in, ``tts.audio`` out."""

from bus import Manifest
from schemas.speaker import SpeakerStop
from schemas.tts import TtsAudio, TtsRequest
from workers.tts.settings import TtsSettings

MANIFEST = Manifest(
    kind="stage",
    summary="Speaks each sentence (espeak-ng or piper); a stop cancels the queued ones.",
    consumes={"tts.request": TtsRequest, "speaker.stop": SpeakerStop},
    produces={"tts.audio": TtsAudio},
    settings=TtsSettings,
)
