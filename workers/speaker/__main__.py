"""``python -m workers.speaker``: plays ``tts.audio``, obeys ``speaker.stop``, reports each turn.

The loop ticks once per output buffer (``buffer_ms``). With ``backend: pyaudio`` the PortAudio
callback pulls the buffers and each tick publishes what it played; with ``backend: wav`` (a
machine without a sound card) each tick pulls one buffer, as a device's clock would (a tick late
by k buffers pulls k + 1, at most 10: after a longer stall the pace resumes instead of
bursting), or everything at once without ``realtime``. A message is handled at once: a stop
silences the output within one buffer. No output device (or no pyaudio): exit 2, naming what is
there.
"""

from __future__ import annotations

import sys

from audio.devices import AudioDeviceError
from bus import BusNode, Tick
from schemas.speaker import SpeakerReport, SpeakerStop
from schemas.tts import TtsAudio
from workers.runner import run_worker
from workers.speaker.manifest import MANIFEST
from workers.speaker.output import PyAudioOutput
from workers.speaker.settings import SpeakerSettings
from workers.speaker.speaker import Speaker

#: At most this many buffers are pulled at one late tick (more: the pace resumes, no burst).
_CATCH_UP_BUFFERS = 10


def main() -> int:
    """Run the worker until SIGTERM."""
    return run_worker(MANIFEST, run, cannot_run=(AudioDeviceError,))


def run(node: BusNode) -> None:
    """Open the output, then play until stopped."""
    speaker = Speaker(node.settings_as(SpeakerSettings))
    output = PyAudioOutput(speaker) if speaker.s.backend == "pyaudio" else None
    try:
        node.ready()
        serve(node, speaker, output)
    finally:
        if output is not None:
            output.close()


def serve(node: BusNode, speaker: Speaker, output: PyAudioOutput | None) -> None:
    """The loop: audio queued and stops applied at once; buffers played on the ticks."""
    s = speaker.s
    buffer_ns = s.buffer_ms * 1_000_000
    for event in node.events(tick_s=s.buffer_ms / 1000):
        reports: list[SpeakerReport] = []
        if isinstance(event, Tick):
            if output is not None:
                reports += speaker.reports(output.take_events())
            elif s.realtime:
                behind = int(event.late_ms * 1e6) // buffer_ns
                for _ in range(1 + min(behind, _CATCH_UP_BUFFERS - 1)):
                    reports += speaker.reports(speaker.pull()[1])
        elif isinstance(event.payload, TtsAudio):
            reports += speaker.on_audio(event.payload)
        elif isinstance(event.payload, SpeakerStop):
            reports += speaker.on_stop(event.payload)
        if output is None and not s.realtime:
            while True:
                reports += speaker.reports(speaker.pull()[1])
                if speaker.queue.queued_ms() == 0:
                    break
        for r in reports:
            node.publish("speaker.report", r, trace=r.turn_id)


if __name__ == "__main__":
    sys.exit(main())
