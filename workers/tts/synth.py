"""Choose an engine per sentence, synthesize, resample to the speaker's rate.

    synth = Synthesizer(TtsSettings(sample_rate_hz=16000))
    audio = synth.speak(TtsRequest(turn_id="t", index=0, text="Hello."))  # -> TtsAudio

``backend: auto`` speaks English with piper when it is installed and everything else with
espeak-ng; ``espeak`` / ``piper`` force one (piper still hands Chinese to espeak-ng, having no
Chinese voice). An empty request (the dialog's end-of-turn marker) gives empty final audio.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from audio.resample import resample
from audio.wavio import to_int16
from schemas.tts import TtsAudio, TtsRequest
from text.language import language_of
from workers.tts.backends import Espeak, Piper, TtsEngine, piper_available
from workers.tts.settings import TtsSettings

__all__ = ["Synthesizer", "TtsSettings", "language_of"]

log = logging.getLogger(__name__)


class Synthesizer:
    """Sentences to ``TtsAudio`` at one output rate."""

    def __init__(self, settings: TtsSettings) -> None:
        self.s = settings
        self.espeak = Espeak(
            voice_en=settings.voice_en, voice_zh=settings.voice_zh, speed_wpm=settings.speed_wpm
        )
        self.piper: Piper | None = None
        if settings.backend == "piper" or (settings.backend == "auto" and piper_available()):
            self.piper = Piper(settings.piper_model)
        log.info("tts_ready english=%s", self.piper.name if self.piper else self.espeak.name)

    def engine_for(self, language: str) -> TtsEngine:
        """piper for English when loaded, espeak-ng otherwise."""
        if self.piper is not None and language == "en":
            return self.piper
        return self.espeak

    def speak(self, req: TtsRequest) -> TtsAudio:
        """Synthesize one request."""
        text = req.text.strip()
        if not text:
            return TtsAudio(
                pcm=b"", sample_rate_hz=self.s.sample_rate_hz, turn_id=req.turn_id,
                index=req.index, final=req.final,
            )  # fmt: skip
        language = req.language if req.language in ("en", "zh") else language_of(text)
        if language_of(text) == "zh":
            language = "zh"  # never hand characters to an English voice
        engine = self.engine_for(language)
        t0 = time.perf_counter()
        pcm, rate = engine.synthesize(text, language)
        x = pcm.astype(np.float32) / 32768.0
        if rate != self.s.sample_rate_hz:
            x = resample(x, rate, self.s.sample_rate_hz)
        if self.s.gain != 1.0:
            x = x * self.s.gain
        out = to_int16(x).astype("<i2").tobytes()
        return TtsAudio(
            pcm=out,
            sample_rate_hz=self.s.sample_rate_hz,
            turn_id=req.turn_id,
            index=req.index,
            final=req.final,
            synth_ms=(time.perf_counter() - t0) * 1000,
            backend=engine.name,
        )
