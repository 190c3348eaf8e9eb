"""The ``speaker`` worker's manifest: ``tts.audio`` and ``speaker.stop`` in, reports out."""

from bus import Manifest
from schemas.speaker import SpeakerReport, SpeakerStop
from schemas.tts import TtsAudio
from workers.speaker.settings import SpeakerSettings

MANIFEST = Manifest(
    kind="sink",
    summary="Plays the synthesized audio (pyaudio, or one WAV file per turn); stops on barge-in.",
    consumes={"tts.audio": TtsAudio, "speaker.stop": SpeakerStop},
    produces={"speaker.report": SpeakerReport},
    settings=SpeakerSettings,
)
