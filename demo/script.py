"""The scripted conversation: what the user says, spoken by espeak-ng.

The demo plays each line on cue (:mod:`demo.player`); :func:`build_wav` also writes the
whole script into one WAV with fixed gaps (what ``wavsource`` plays when ``configs/host.yaml``
is run by hand). Each line is one sentence: a pause at a full stop inside a line could end the
segment there and split the line into two turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio.resample import resample
from audio.wavio import write_wav
from workers.tts.backends import Espeak

__all__ = ["SCRIPT", "Line", "Placed", "build_wav", "speak_line", "speak_script"]

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
    Line("Hey robot, hello, what is your name?", 9.0, "greeting"),
    Line("What is the capital of France?", 9.0, "question"),
    Line("Move forward one meter, then turn left.", 11.0, "command"),
    Line("Where are you?", 6.0, "device"),
    Line("Tell me a long story about a dragon.", 3.0, "story"),
    Line("Stop, how much charge is in your battery?", 7.0, "barge-in"),
)


@dataclass(frozen=True)
class Placed:
    """A line where it lies in the WAV."""

    line: Line
    start_s: float
    end_s: float


def speak_line(text: str, engine: Espeak) -> np.ndarray:
    """``text`` spoken at 16 kHz, leading and trailing silence trimmed."""
    pcm, rate = engine.synthesize(text, "en")
    x = pcm.astype(np.float32) / 32768.0
    if rate != RATE_HZ:
        x = resample(x, rate, RATE_HZ)
    voiced = np.flatnonzero(np.abs(x) > 1e-3)
    x = x[voiced[0] : voiced[-1] + 1] if len(voiced) else x
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)


def speak_script(script: tuple[Line, ...] = SCRIPT, *, speed_wpm: int = 150) -> list[np.ndarray]:
    """Every line of ``script`` spoken."""
    engine = Espeak(speed_wpm=speed_wpm)
    return [speak_line(line.text, engine) for line in script]


def build_wav(
    path: Path, script: tuple[Line, ...] = SCRIPT, *, lead_s: float = 1.0, speed_wpm: int = 150
) -> list[Placed]:
    """Speak ``script`` into a 16 kHz mono WAV at ``path``; where each line lies."""
    parts = [np.zeros(int(lead_s * RATE_HZ), np.int16)]
    placed: list[Placed] = []
    t = lead_s
    for line, speech in zip(script, speak_script(script, speed_wpm=speed_wpm), strict=True):
        placed.append(Placed(line, t, t + len(speech) / RATE_HZ))
        parts += [speech, np.zeros(int(line.gap_after_s * RATE_HZ), np.int16)]
        t += len(speech) / RATE_HZ + line.gap_after_s
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, np.concatenate(parts), RATE_HZ)
    return placed
