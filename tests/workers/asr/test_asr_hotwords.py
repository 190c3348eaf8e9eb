"""The recogniser is biased towards the dialog's command words when configured (per language)."""

from __future__ import annotations

from typing import Any

import numpy as np

from workers.asr.settings import AsrSettings
from workers.asr.whisper import ZH_PROMPT, WhisperRecognizer


class _Model:
    def __init__(self) -> None:
        self.options: list[dict[str, Any]] = []

    def transcribe(self, audio: np.ndarray, **options: Any) -> tuple[list[Any], None]:
        self.options.append(options)
        return [], None


def _recognizer(language: str, hotwords: dict[str, str]) -> tuple[WhisperRecognizer, _Model]:
    rec = WhisperRecognizer.__new__(WhisperRecognizer)  # no model: the decoder options only
    rec._model = model = _Model()
    rec._multilingual = True
    rec._language = language
    rec._auto_languages = ("zh", "en")
    rec._beam_size = 1
    rec._hotwords = {k: v for k, v in hotwords.items() if v.strip()}
    return rec, model


def test_hotwords_of_the_language_reach_faster_whisper_and_only_those():
    words = {"en": "drive forward, turn left", "zh": "前进 后退"}
    rec, model = _recognizer("en", words)
    rec.transcribe(np.zeros(1600, dtype=np.float32))
    assert model.options[-1]["hotwords"] == "drive forward, turn left"
    rec, model = _recognizer("zh", words)
    rec.transcribe(np.zeros(1600, dtype=np.float32))
    assert model.options[-1]["hotwords"] == "前进 后退"
    assert model.options[-1]["initial_prompt"] == ZH_PROMPT  # the Chinese prompt is kept
    rec, model = _recognizer("en", {"zh": "前进"})
    rec.transcribe(np.zeros(1600, dtype=np.float32))
    assert "hotwords" not in model.options[-1]


def test_hotwords_are_a_setting_with_no_bias_by_default():
    assert AsrSettings().whisper.hotwords == {}
    s = AsrSettings.model_validate({"whisper": {"hotwords": {"en": "stop"}}})
    assert s.whisper.hotwords == {"en": "stop"}
