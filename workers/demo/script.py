"""The scripted conversation: what the user says, when, spoken by espeak-ng into one WAV.

Gaps leave each reply time to be heard before the next line, except before the barge-in line,
which starts while the assistant is still telling its story.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workers.audio.resample import resample
from workers.audio.wavio import write_wav
from workers.tts.backends import Espeak

__all__ = ["SCRIPT", "Line", "build_wav"]

RATE_HZ = 16000


@dataclass(frozen=True)
class Line:
    """One thing the user says."""

    text: str
    """What is said (also the reference transcript)."""
    gap_after_s: float
    """Silence after it, seconds."""
    kind: str
    """greeting, question, command, device, story, barge-in."""


SCRIPT: tuple[Line, ...] = (
    Line("Hey robot, hello! What is your name?", 9.0, "greeting"),
    Line("What is the capital of France?", 9.0, "question"),
    Line("Move forward one meter, then turn left.", 11.0, "command"),
    Line("Where are you?", 6.0, "device"),
    Line("Tell me a long story about a dragon.", 3.0, "story"),
    Line("Stop. What is your battery level?", 7.0, "barge-in"),
)


@dataclass(frozen=True)
class Placed:
    """A line where it lies in the WAV."""

    line: Line
    start_s: float
    end_s: float


def build_wav(
    path: Path, script: tuple[Line, ...] = SCRIPT, *, lead_s: float = 1.0, speed_wpm: int = 150
) -> list[Placed]:
    """Speak ``script`` into a 16 kHz mono WAV at ``path``; where each line lies."""
    engine = Espeak(speed_wpm=speed_wpm)
    parts = [np.zeros(int(lead_s * RATE_HZ), np.int16)]
    placed: list[Placed] = []
    t = lead_s
    for line in script:
        pcm, rate = engine.synthesize(line.text, "en")
        x = pcm.astype(np.float32) / 32768.0
        if rate != RATE_HZ:
            x = resample(x, rate, RATE_HZ)
        voiced = np.flatnonzero(np.abs(x) > 1e-3)
        x = x[voiced[0] : voiced[-1] + 1] if len(voiced) else x
        speech = np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)
        placed.append(Placed(line, t, t + len(speech) / RATE_HZ))
        parts += [speech, np.zeros(int(line.gap_after_s * RATE_HZ), np.int16)]
        t += len(speech) / RATE_HZ + line.gap_after_s
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, np.concatenate(parts), RATE_HZ)
    return placed
