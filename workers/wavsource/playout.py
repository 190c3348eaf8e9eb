"""WAV files played as a live microphone would deliver them (pure: no bus, no clock of its own).

Files of any rate, channel count or sample format are converted to 16 kHz mono int16 and cut
into 10/20/30 ms frames (:func:`wav_frames`; a partial last frame is padded with silence).
:class:`Playout` stamps them as if captured live from ``start_ns`` (``capture_ns = start + sample
/ rate``) and says which are due at a given time: with ``realtime`` a frame is due when its last
sample would have been captured, otherwise at once (in bursts). With ``loop`` the files repeat
forever; otherwise the last frame has ``final`` set and the playout is ``done``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from audio.framer import frame_samples
from audio.wavio import WavError, read_wav
from bus import Out
from schemas.audio import AudioFrame

__all__ = ["RATE_HZ", "Playout", "load_files", "wav_frames"]

RATE_HZ = 16000
#: Frames handed over per call when not pacing in real time (2 s of audio at 20 ms).
BURST_FRAMES = 100


def load_files(paths: list[Path]) -> np.ndarray:
    """All files converted to 16 kHz mono int16, one after the other (:class:`WavError`)."""
    samples = np.concatenate([read_wav(p, RATE_HZ) for p in paths]) if paths else np.zeros(0)
    if len(samples) == 0:
        raise WavError(
            f"The WAV files {', '.join(map(str, paths)) or '(none)'} hold no audio; give at "
            "least one non-empty file."
        )
    return samples.astype(np.int16)


def wav_frames(
    samples: np.ndarray, frame_ms: int, *, loop: bool = False
) -> Iterator[tuple[int, bytes, bool]]:
    """Yield ``(index, pcm, final)`` frames; a partial last frame is padded with silence."""
    n = frame_samples(frame_ms, RATE_HZ)
    if len(samples) == 0:
        raise WavError("The WAV files hold no audio; give at least one non-empty file.")
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


class Playout:
    """The ``audio.frame`` messages of ``samples``, due as from a live capture at ``start_ns``."""

    def __init__(
        self,
        samples: np.ndarray,
        frame_ms: int,
        start_ns: int,
        *,
        source: str,
        loop: bool = False,
        realtime: bool = True,
    ) -> None:
        self.frame_ns = frame_ms * 1_000_000
        self.start_ns = start_ns
        self.source = source
        self.realtime = realtime
        self.done = False
        """True once the final frame was handed over."""
        self.sent = 0
        """Frames handed over so far."""
        self._frames = wav_frames(samples, frame_ms, loop=loop)
        self._next: tuple[int, bytes, bool] | None = next(self._frames)

    def due(self, now_ns: int) -> list[Out]:
        """The frames due at ``now_ns``, in order (realtime: all captured by then)."""
        out: list[Out] = []
        while self._next is not None:
            index, pcm, final = self._next
            capture_ns = self.start_ns + index * self.frame_ns
            if self.realtime and capture_ns + self.frame_ns > now_ns:
                break
            if not self.realtime and (now_ns < self.start_ns or len(out) >= BURST_FRAMES):
                break
            frame = AudioFrame(
                pcm=pcm,
                sample_rate_hz=RATE_HZ,
                index=index,
                capture_ns=capture_ns,
                source=self.source,
                final=final,
            )
            out.append(Out("audio.frame", frame))
            self.sent += 1
            self._next = next(self._frames, None)
        self.done = self._next is None
        return out
