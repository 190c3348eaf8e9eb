"""``python -m workers.mic``: a PortAudio input device in, ``audio.frame`` out.

    python -m workers.mic --list        # the devices PortAudio sees

16 kHz mono int16 frames of ``frame_ms`` go out with the capture time of their first sample
(resampled with a polyphase low-pass filter when the device runs at another rate). The loop wakes
when the callback has queued audio, converts and publishes it; it ticks every quarter second to
notice a stream that stopped (device gone: exit 2). Device overruns and buffers dropped because
the loop fell behind are published as ``sys.metric`` (``mic.overruns``, ``mic.dropped_buffers``)
when they change and every ``metrics_every_s``, and the stream restarts its clock there, so lost
audio is never hidden. No such device, or no pyaudio: exit 2, listing the devices.
"""

from __future__ import annotations

import logging
import queue
import sys

from audio.capture import CaptureConverter
from audio.devices import AudioDeviceError
from bus import BusNode, Tick
from schemas.audio import AudioFrame
from workers.mic.capture import MicCapture, list_main
from workers.mic.manifest import MANIFEST
from workers.mic.settings import MicSettings
from workers.runner import run_worker

log = logging.getLogger("workers.mic")

#: How often the loop checks that the stream still runs, s.
_STREAM_CHECK_S = 0.25


def main(argv: list[str] | None = None) -> int:
    """``--list`` prints the devices, otherwise run as a bus worker until SIGTERM."""
    args = sys.argv[1:] if argv is None else argv
    if "--list" in args:
        return list_main()
    return run_worker(MANIFEST, run, cannot_run=(AudioDeviceError,))


def run(node: BusNode) -> None:
    """Open the device, then capture and publish until stopped."""
    settings = node.settings_as(MicSettings)
    mic = MicCapture(settings)
    try:
        log.info(
            "mic_open device=%r index=%d rate=%d latency_ms=%.1f",
            mic.device.name,
            mic.device.index,
            mic.rate_hz,
            mic.latency_ns / 1e6,
        )
        node.ready()
        serve(node, mic, settings)
    finally:
        mic.close()


def serve(node: BusNode, mic: MicCapture, settings: MicSettings) -> None:
    """The loop: queued buffers converted and published; loss counted; the stream watched."""
    conv = CaptureConverter(
        mic.rate_hz, settings.channels, settings.frame_ms, latency_ns=mic.latency_ns
    )
    source = mic.device.name
    every_ns = int(settings.metrics_every_s * 1e9)
    next_metrics_ns = 0
    reported = (0, 0)
    for event in node.events(tick_s=_STREAM_CHECK_S, watch=[mic.wakeup]):
        if isinstance(event, Tick):
            if not mic.stream.is_active():
                raise AudioDeviceError(f"The input stream of {source!r} stopped (device gone?).")
            if event.now_ns >= next_metrics_ns:
                next_metrics_ns = event.now_ns + every_ns
                reported = (mic.overruns, mic.dropped_buffers)
                node.metric("mic.overruns", reported[0], kind="counter")
                node.metric("mic.dropped_buffers", reported[1], kind="counter")
            continue
        mic.wakeup.clear()  # first: a buffer queued from now on wakes us again
        for _ in range(mic.queue.qsize()):  # what is there now: a flood does not hold the loop
            try:
                buf, arrival_ns, lost = mic.queue.get_nowait()
            except queue.Empty:
                break
            for f in conv.push(buf, arrival_ns, lost):
                frame = AudioFrame(pcm=f.pcm, index=f.index, capture_ns=f.capture_ns, source=source)
                node.publish("audio.frame", frame)
        counts = (mic.overruns, mic.dropped_buffers)
        if counts != reported:
            log.warning("audio_lost overruns=%d dropped_buffers=%d", *counts)
            reported = counts
            node.metric("mic.overruns", counts[0], kind="counter")
            node.metric("mic.dropped_buffers", counts[1], kind="counter")


if __name__ == "__main__":
    sys.exit(main())
