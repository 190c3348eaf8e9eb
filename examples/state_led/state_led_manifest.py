"""The state LED's manifest: the assistant's activity in, ``ext.state_led.shown`` out.

Named by ``manifest: state_led_manifest`` in ``worker.yaml``; the supervisor imports it from the
worker's ``cwd`` before anything starts (see ``docs/writing-a-worker.md``).
"""

from state_led import LedShown, Settings

from bus.manifest import Manifest
from schemas import DialogState, LlmDelta, SpeakerReport, TtsAudio, VadState

MANIFEST = Manifest(
    kind="sink",
    summary="Shows listening / thinking / speaking on an LED or the terminal.",
    consumes={
        "vad.state": VadState,
        "dialog.state": DialogState,
        "llm.delta": LlmDelta,
        "tts.audio": TtsAudio,
        "speaker.report": SpeakerReport,
    },
    produces={"ext.state_led.shown": LedShown},
    settings=Settings,
)
