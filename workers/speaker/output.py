"""The PortAudio output (``backend: pyaudio``): a stream whose callback pulls the buffers."""

from __future__ import annotations

from typing import Any

from audio.devices import (
    AudioDeviceError,
    find_device,
    format_devices,
    list_devices,
    open_pyaudio,
)
from audio.playback import PlaybackEvent
from workers.speaker.speaker import Speaker

__all__ = ["PyAudioOutput"]


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
