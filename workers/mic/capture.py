"""Capturing a PortAudio input device: the stream, and the queue its callback fills.

The device is chosen by index or name substring; a device that cannot do the asked rate is
captured at ``capture_rate_hz`` (or the first of 16000/48000/44100/its default it accepts). The
callback only queues buffers (counting device overruns, and buffers dropped when the queue is
full because the loop fell behind) and wakes the loop.
"""

from __future__ import annotations

import queue
import time
from typing import Any

from audio.devices import (
    AudioDeviceError,
    DeviceInfo,
    find_device,
    format_devices,
    list_devices,
    open_pyaudio,
    supported_rate,
)
from bus import Wakeup
from workers.mic.settings import MicSettings

__all__ = ["MicCapture", "list_main"]


class MicCapture:
    """An open input stream whose callback queues ``(buffer, arrival_ns, lost_before)``.

    The callback sets :attr:`wakeup` after each buffer it queues (or drops), so the worker's loop
    wakes for audio instead of polling the queue.
    """

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
        self.wakeup = Wakeup()
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
        self.wakeup.set()
        return (None, self._pyaudio.paContinue)

    def close(self) -> None:
        """Stop the stream and release PortAudio."""
        try:
            self.stream.stop_stream()
            self.stream.close()
        finally:
            self.pa.terminate()
            self.wakeup.close()


def list_main() -> int:
    """``--list``: print the devices."""
    pa = open_pyaudio()
    try:
        print(format_devices(list_devices(pa)))
    finally:
        pa.terminate()
    return 0
