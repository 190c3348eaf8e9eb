"""The ``mic`` worker: captures a PortAudio input device with pyaudio; publishes ``audio.frame``.

    python -m workers.mic --list        # the devices PortAudio sees

The device is chosen by index or name substring (``device``); 16 kHz mono int16 frames of
``frame_ms`` go out with the capture time of their first sample. A device that cannot do 16 kHz
is captured at ``capture_rate_hz`` (or the first of 48000/44100/its default it accepts) and
resampled with a polyphase low-pass filter. The PortAudio callback only queues buffers; the main
loop converts and publishes them. Device overruns and buffers dropped because the loop fell
behind are counted and published as ``sys.metric`` (``mic.overruns``, ``mic.dropped_buffers``)
and the stream restarts its clock there, so lost audio is never hidden.
"""

from __future__ import annotations

import logging
import queue
import sys
import time
from typing import Any

from audio.capture import CaptureConverter
from audio.devices import (
    AudioDeviceError,
    DeviceInfo,
    find_device,
    format_devices,
    list_devices,
    open_pyaudio,
    supported_rate,
)
from schemas.audio import AudioFrame
from workers.mic.settings import MicSettings
from workers.runner import run_worker

__all__ = ["MicCapture", "MicSettings", "main"]

log = logging.getLogger("workers.mic")


class MicCapture:
    """An open input stream whose callback queues ``(buffer, arrival_ns, lost_before)``."""

    def __init__(self, settings: MicSettings, pa: Any | None = None) -> None:
        import pyaudio

        self.s = settings
        self.pa = pa if pa is not None else open_pyaudio()
        self.device: DeviceInfo = find_device(self.pa, settings.device, "input")
        if self.device.max_input_channels < settings.channels:
            raise AudioDeviceError(
                f"Device {self.device.name!r} has {self.device.max_input_channels} input "
                f"channel(s), fewer than channels={settings.channels}."
            )
        rates = (
            [settings.capture_rate_hz]
            if settings.capture_rate_hz
            else [16000, 48000, 44100, self.device.default_rate_hz]
        )
        self.rate_hz = supported_rate(self.pa, self.device, settings.channels, "input", rates)
        self.overruns = 0
        self.dropped_buffers = 0
        self._lost = False
        n_buffers = max(2, int(settings.queue_s * 1000 / settings.buffer_ms))
        self.queue: queue.Queue[tuple[bytes, int, bool]] = queue.Queue(maxsize=n_buffers)
        self._pyaudio = pyaudio
        try:
            self.stream = self.pa.open(
                format=pyaudio.paInt16,
                channels=settings.channels,
                rate=self.rate_hz,
                input=True,
                input_device_index=self.device.index,
                frames_per_buffer=self.rate_hz * settings.buffer_ms // 1000,
                stream_callback=self._callback,
            )
        except OSError as exc:
            raise AudioDeviceError(
                f"Cannot open input device {self.device.name!r} at {self.rate_hz} Hz ({exc}); "
                "it may be busy (used by another program) or unplugged. The input devices are:\n"
                + format_devices(list_devices(self.pa), "input")
            ) from exc
        self.latency_ns = int(self.stream.get_input_latency() * 1e9)

    def _callback(self, in_data: bytes, frame_count: int, time_info: Any, status: int) -> tuple:
        now = time.monotonic_ns()
        if status & self._pyaudio.paInputOverflow:
            self.overruns += 1
            self._lost = True
        try:
            self.queue.put_nowait((in_data, now, self._lost))
            self._lost = False
        except queue.Full:
            self.dropped_buffers += 1
            self._lost = True
        return (None, self._pyaudio.paContinue)

    def close(self) -> None:
        """Stop the stream and release PortAudio."""
        try:
            self.stream.stop_stream()
            self.stream.close()
        finally:
            self.pa.terminate()


def list_main() -> int:
    """``--list``: print the devices."""
    pa = open_pyaudio()
    try:
        print(format_devices(list_devices(pa)))
    finally:
        pa.terminate()
    return 0


def run(node: Any, settings: MicSettings) -> int:
    """Capture and publish until the node stops."""
    mic = MicCapture(settings)
    conv = CaptureConverter(
        mic.rate_hz, settings.channels, settings.frame_ms, latency_ns=mic.latency_ns
    )
    source = mic.device.name
    log.info(
        "mic_open device=%r index=%d rate=%d latency_ms=%.1f",
        source,
        mic.device.index,
        mic.rate_hz,
        mic.latency_ns / 1e6,
    )
    node.ready()
    next_metrics = time.monotonic() + settings.metrics_every_s
    reported = (0, 0)
    try:
        while node.running:
            try:
                buf, arrival_ns, lost = mic.queue.get(timeout=0.1)
            except queue.Empty:
                buf = b""
            if buf:
                for f in conv.push(buf, arrival_ns, lost):
                    node.publish(
                        "audio.frame",
                        AudioFrame(
                            pcm=f.pcm, index=f.index, capture_ns=f.capture_ns, source=source
                        ),
                    )
            counts = (mic.overruns, mic.dropped_buffers)
            if counts != reported:
                log.warning("audio_lost overruns=%d dropped_buffers=%d", *counts)
            if counts != reported or time.monotonic() >= next_metrics:
                node.metric("mic.overruns", counts[0], kind="counter")
                node.metric("mic.dropped_buffers", counts[1], kind="counter")
                reported = counts
                next_metrics = time.monotonic() + settings.metrics_every_s
            if not mic.stream.is_active():
                raise AudioDeviceError(f"The input stream of {source!r} stopped (device gone?).")
    finally:
        mic.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``--list`` prints the devices, otherwise run as a bus worker."""
    args = sys.argv[1:] if argv is None else argv
    if "--list" in args:
        return list_main()
    return run_worker(
        lambda node: run(node, node.settings_as(MicSettings)), unavailable=(AudioDeviceError,)
    )
