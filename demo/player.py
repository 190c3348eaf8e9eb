"""The demo's microphone: speaks the script's lines on the bus as ``audio.frame``, on cue.

A fixed WAV with fixed gaps cannot know how long the machine takes to answer (on a loaded
2-core machine a reply can take seconds longer than on an idle one), so the demo plays each line
when the previous turn is over, and the barge-in line while the assistant is talking. Between
lines it sends silence, as a live microphone would: 20 ms frames, paced in real time, stamped
like :mod:`workers.wavsource` stamps them.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from bus import BusNode
from schemas.audio import AudioFrame

__all__ = ["ScriptedMic"]

RATE_HZ = 16000


class ScriptedMic(threading.Thread):
    """Publishes silence, or the line it was asked to say, one frame at a time."""

    def __init__(self, node: BusNode, *, frame_ms: int = 20) -> None:
        super().__init__(name="scripted-mic", daemon=True)
        self.node = node
        self.n = RATE_HZ * frame_ms // 1000
        self.frame_ns = frame_ms * 1_000_000
        self._queue: deque[np.ndarray] = deque()
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self.speaking = False
        """True while a line is being sent."""
        self.frames = 0

    def say(self, pcm: np.ndarray) -> None:
        """Send this speech (16 kHz int16) next."""
        pad = (-len(pcm)) % self.n
        x = np.concatenate([pcm.astype(np.int16), np.zeros(pad, np.int16)])
        with self._lock:
            self._queue.extend(x.reshape(-1, self.n))
            self.speaking = True

    def stop(self) -> None:
        """End the thread."""
        self._halt.set()

    def run(self) -> None:
        """Publish a frame every ``frame_ms`` until stopped."""
        silence = np.zeros(self.n, np.int16)
        t0 = time.monotonic_ns()
        while not self._halt.is_set():
            capture_ns = t0 + self.frames * self.frame_ns
            wait_ns = capture_ns + self.frame_ns - time.monotonic_ns()
            if wait_ns > 0:
                time.sleep(wait_ns / 1e9)
            with self._lock:
                frame = self._queue.popleft() if self._queue else silence
                self.speaking = bool(self._queue)
            self.node.publish(
                "audio.frame",
                AudioFrame(
                    pcm=frame.astype("<i2").tobytes(), sample_rate_hz=RATE_HZ,
                    index=self.frames, capture_ns=capture_ns, source="demo",
                ),
            )  # fmt: skip
            self.frames += 1
