"""The ``speaker`` worker: plays ``tts.audio``, obeys ``speaker.stop``, reports ``speaker.report``.

Audio of each turn is resampled to the output rate and queued; the output pulls one buffer
(``buffer_ms``) at a time, so a ``speaker.stop`` (barge-in) silences it within one buffer. With
``backend: pyaudio`` a PortAudio output stream pulls the buffers; with ``backend: wav`` (a
machine without a sound card) a clock pulls them at the same pace and each turn's played audio
is written to ``out_dir/<turn_id>.wav``. Reports say when a turn started, finished, or was cut
and how much of it was played and discarded.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from audio.devices import (
    AudioDeviceError,
    find_device,
    format_devices,
    list_devices,
    open_pyaudio,
)
from audio.playback import PlaybackEvent, PlaybackQueue
from audio.resample import resample
from audio.wavio import to_int16, write_wav
from bus import Node
from schemas.speaker import SpeakerReport, SpeakerStop
from schemas.tts import TtsAudio
from workers.runner import run_worker
from workers.speaker.settings import SpeakerSettings

__all__ = ["Speaker", "SpeakerSettings", "main"]

log = logging.getLogger("workers.speaker")


class Speaker:
    """The speaker's logic with the output abstracted: queue, resample, record, report."""

    def __init__(self, settings: SpeakerSettings) -> None:
        self.s = settings
        self.queue = PlaybackQueue(settings.sample_rate_hz)
        self.buffer = settings.sample_rate_hz * settings.buffer_ms // 1000
        self._recorded: dict[str, list[np.ndarray]] = {}

    def on_audio(self, audio: TtsAudio) -> None:
        """Queue one sentence of synthesized audio."""
        x = np.frombuffer(audio.pcm, dtype="<i2")
        if audio.sample_rate_hz != self.s.sample_rate_hz:
            x = to_int16(resample(x, audio.sample_rate_hz, self.s.sample_rate_hz) / 32768.0)
        if not self.queue.enqueue(audio.turn_id, x, audio.final):
            log.info("audio_ignored turn=%s reason=turn_was_stopped", audio.turn_id)

    def on_stop(self, stop: SpeakerStop) -> list[SpeakerReport]:
        """Stop now; report what was cut."""
        return self.reports(self.queue.stop(stop.turn_id))

    def pull(self) -> tuple[bytes, list[PlaybackEvent]]:
        """One output buffer (and the events it caused); records spans for the WAV backend."""
        p = self.queue.pull(self.buffer)
        if self.s.backend == "wav":
            for turn_id, span in p.spans:
                self._recorded.setdefault(turn_id, []).append(span)
        return p.samples.astype("<i2").tobytes(), p.events

    def reports(self, events: list[PlaybackEvent]) -> list[SpeakerReport]:
        """Turn playback events into reports (writing the turn's WAV file when it is over)."""
        out = []
        for e in events:
            path = ""
            if self.s.backend == "wav" and e.event != "started":
                spans = self._recorded.pop(e.turn_id, [])
                self.s.out_dir.mkdir(parents=True, exist_ok=True)
                pcm = np.concatenate(spans) if spans else np.zeros(0, np.int16)
                path = str(
                    write_wav(
                        self.s.out_dir / f"{e.turn_id or 'turn'}.wav", pcm, self.s.sample_rate_hz
                    )
                )
            out.append(
                SpeakerReport(
                    turn_id=e.turn_id,
                    event=e.event,
                    played_ms=e.played_ms,
                    cut_ms=e.cut_ms,
                    at_ns=time.monotonic_ns(),
                    path=path,
                )
            )
        return out


class PyAudioOutput:
    """A PortAudio output stream whose callback pulls buffers from a :class:`Speaker`."""

    def __init__(self, speaker: Speaker) -> None:
        import pyaudio

        self.speaker = speaker
        self.events: list[PlaybackEvent] = []
        self.pa = open_pyaudio()
        s = speaker.s
        dev = find_device(self.pa, s.device, "output")
        self._continue = pyaudio.paContinue
        try:
            self.stream = self.pa.open(
                format=pyaudio.paInt16,
                channels=1,
                rate=s.sample_rate_hz,
                output=True,
                output_device_index=dev.index,
                frames_per_buffer=speaker.buffer,
                stream_callback=self._callback,
            )
        except (OSError, ValueError) as exc:
            self.pa.terminate()
            raise AudioDeviceError(
                f"Cannot open output device {dev.name!r} at {s.sample_rate_hz} Hz ({exc}); it may "
                "be busy or not support that rate. The output devices are:\n"
                + format_devices(list_devices(self.pa), "output")
            ) from exc

    def _callback(self, in_data: Any, frame_count: int, time_info: Any, status: int) -> tuple:
        pcm, events = self.speaker.pull()
        self.events.extend(events)  # list.extend is atomic under the GIL
        return (pcm, self._continue)

    def take_events(self) -> list[PlaybackEvent]:
        """Events produced by the callback since the last call."""
        n = len(self.events)
        out, self.events[:n] = self.events[:n], []
        return out

    def close(self) -> None:
        """Stop the stream and release PortAudio."""
        try:
            self.stream.stop_stream()
            self.stream.close()
        finally:
            self.pa.terminate()


def run(node: Any, settings: SpeakerSettings) -> int:
    """Play until the node stops."""
    speaker = Speaker(settings)
    output = PyAudioOutput(speaker) if settings.backend == "pyaudio" else None
    node.subscribe("tts.audio", "speaker.stop")
    node.ready()
    buffer_ns = settings.buffer_ms * 1_000_000
    next_pull = time.monotonic_ns()
    try:
        while node.running:
            msg = node.poll(settings.buffer_ms / 2000.0)
            reports: list[SpeakerReport] = []
            if msg is not None and isinstance(msg.payload, TtsAudio):
                speaker.on_audio(msg.payload)
            elif msg is not None and isinstance(msg.payload, SpeakerStop):
                reports += speaker.on_stop(msg.payload)
            if output is not None:
                reports += speaker.reports(output.take_events())
            elif not settings.realtime:
                while True:
                    reports += speaker.reports(speaker.pull()[1])
                    if speaker.queue.queued_ms() == 0:
                        break
            else:
                now = time.monotonic_ns()
                if now - next_pull > 10 * buffer_ns:
                    next_pull = now  # after a stall, resume the pace instead of bursting
                while now >= next_pull:
                    reports += speaker.reports(speaker.pull()[1])
                    next_pull += buffer_ns
            for r in reports:
                node.publish("speaker.report", r, trace=r.turn_id)
    finally:
        if output is not None:
            output.close()
    return 0


def main() -> int:
    """Entry point of ``python -m workers.speaker``."""
    return run_worker(_work, unavailable=(AudioDeviceError,))


def _work(node: Node) -> int | None:
    """The worker's recipe (``run_worker`` joins the bus and handles its end)."""
    return run(node, node.settings_as(SpeakerSettings))
