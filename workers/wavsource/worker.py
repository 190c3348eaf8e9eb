"""The ``wavsource`` worker: WAV files as if from a microphone; publishes ``audio.frame``.

Files of any rate, channel count or sample format are converted to 16 kHz mono int16 and cut
into 10/20/30 ms frames. Frames are stamped as if captured live from the moment the stream
started (``capture_ns = start + sample / rate``) and, with ``realtime``, published when their last
sample would have been captured; otherwise as fast as the bus takes them. With ``loop`` the files
repeat forever; otherwise the last frame has ``final`` set and the worker idles (or exits with
``exit_when_done``). This is the microphone of machines without one, of tests and benchmarks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from audio.framer import frame_samples
from audio.wavio import read_wav
from bus import Node
from schemas.audio import AudioFrame
from workers.runner import run_worker
from workers.wavsource.settings import WavSourceSettings

__all__ = ["WavSourceSettings", "load_files", "wav_frames"]

log = logging.getLogger("workers.wavsource")

RATE_HZ = 16000


def load_files(paths: list[Path]) -> np.ndarray:
    """All files converted to 16 kHz mono int16, one after the other."""
    return np.concatenate([read_wav(p, RATE_HZ) for p in paths]) if paths else np.zeros(0, np.int16)


def wav_frames(
    samples: np.ndarray, frame_ms: int, *, loop: bool = False
) -> Iterator[tuple[int, bytes, bool]]:
    """Yield ``(index, pcm, final)`` frames; a partial last frame is padded with silence."""
    n = frame_samples(frame_ms, RATE_HZ)
    if len(samples) == 0:
        raise ValueError("The WAV files hold no audio; give at least one non-empty file.")
    pad = (-len(samples)) % n
    x = np.concatenate([samples, np.zeros(pad, np.int16)]).astype("<i2")
    per_pass = len(x) // n
    index = 0
    while True:
        for i in range(per_pass):
            final = not loop and i == per_pass - 1
            yield index, x[i * n : (i + 1) * n].tobytes(), final
            index += 1
        if not loop:
            return


def main() -> int:
    """Run the worker until SIGTERM (or the end of the files with ``exit_when_done``)."""
    return run_worker(_work)


def _work(node: Node) -> int | None:
    """The worker's recipe (``run_worker`` joins the bus and handles its end)."""
    s = node.settings_as(WavSourceSettings)
    samples = load_files(s.files)
    source = s.source or s.files[0].name
    node.ready()
    log.info(
        "wavsource_start files=%d seconds=%.1f realtime=%s loop=%s",
        len(s.files),
        len(samples) / RATE_HZ,
        s.realtime,
        s.loop,
    )
    deadline = time.monotonic() + s.start_delay_s
    while node.running and time.monotonic() < deadline:
        time.sleep(0.02)
    frame_ns = s.frame_ms * 1_000_000
    t0 = time.monotonic_ns()
    for index, pcm, final in wav_frames(samples, s.frame_ms, loop=s.loop):
        if not node.running:
            return 0
        capture_ns = t0 + index * frame_ns
        if s.realtime:
            wait_ns = capture_ns + frame_ns - time.monotonic_ns()
            if wait_ns > 0:
                time.sleep(wait_ns / 1e9)
        node.publish(
            "audio.frame",
            AudioFrame(
                pcm=pcm,
                sample_rate_hz=RATE_HZ,
                index=index,
                capture_ns=capture_ns,
                source=source,
                final=final,
            ),
        )
    log.info("wavsource_done frames=%d", index + 1)
    if not s.exit_when_done:
        for _ in node:
            pass
    return 0
