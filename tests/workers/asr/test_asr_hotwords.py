"""The recogniser is biased towards the dialog's command words when configured (per language)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from workers.asr.settings import AsrSettings
from workers.asr.whisper import ZH_PROMPT, WhisperRecognizer


class _Model:
    def __init__(self, segments: list[list[Any]] | None = None) -> None:
        self.options: list[dict[str, Any]] = []
        self.frames = 3000
        self._segments = segments or []

    def transcribe(self, audio: np.ndarray, **options: Any) -> tuple[list[Any], None]:
        self.options.append({**options, "frames": self.frames})
        return (self._segments.pop(0) if self._segments else []), None


def _recognizer(language: str, hotwords: dict[str, str]) -> tuple[WhisperRecognizer, _Model]:
    rec = WhisperRecognizer.__new__(WhisperRecognizer)  # no model: the decoder options only
    rec._model = model = _Model()
    rec._multilingual = True
    rec._language = language
    rec._auto_languages = ("zh", "en")
    rec._beam_size = 1
    rec._window_s = 16.0
    rec.redone = rec.cut = rec.penalised = rec.echoes = 0
    rec._loop_penalty = 1.3
    rec._encoding = None
    rec._hotwords = {k: v for k, v in hotwords.items() if v.strip()}
    rec._prompt_sizes = {}
    rec._looped_last = None
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


def test_hotwords_reach_both_the_short_window_and_its_full_window_redo():
    # a loop with no phrase twice in a row (nothing to cut it to) is decoded again
    loop = SimpleNamespace(text="".join(f" a{i}" for i in range(40)), compression_ratio=9.0)
    fine = SimpleNamespace(text=" Drive forward.", compression_ratio=1.1)
    rec, model = _recognizer("en", {"en": "drive forward"})
    rec._model = model = _Model([[loop], [fine]])
    assert rec.transcribe(np.zeros(16000, dtype=np.float32)).text == "Drive forward."
    assert [o["frames"] for o in model.options] == [1600, 3000]  # 16 s window, then 30 s
    assert [o["hotwords"] for o in model.options] == ["drive forward", "drive forward"]
    assert rec.redone == 1


def test_a_transcript_may_have_only_as_many_tokens_as_its_audio_can_hold():
    # A decoder that loops ("start, start, start ...") wrote until Whisper's 448 tokens: 1.7-3 s
    # for 0.75 s of audio. Capped by the audio's length, the loop is found after a few tokens.
    loop = SimpleNamespace(text=" start," * 20, compression_ratio=9.0)
    fine = SimpleNamespace(text=" Stop.", compression_ratio=1.1)
    rec, model = _recognizer("en", {})
    model._segments = [[loop], [fine]]
    assert rec.transcribe(np.zeros(12_000, dtype=np.float32)).text == "Stop."
    short, redo = model.options
    assert short["max_new_tokens"] == redo["max_new_tokens"] == 16 + 15  # 0.75 s: 31 tokens
    assert redo["frames"] == 3000 and rec.redone == 1
    rec.transcribe(np.zeros(30 * 16_000, dtype=np.float32))
    assert model.options[-1]["max_new_tokens"] == 320  # 30 s: within 448 with a prompt


def test_the_cap_leaves_room_for_a_long_prompt_of_hotwords():
    rec, model = _recognizer("en", {"en": "x" * 400})  # no tokenizer: a token per character
    rec.transcribe(np.zeros(30 * 16_000, dtype=np.float32))
    assert model.options[-1]["max_new_tokens"] == 448 - 408


def test_a_partial_loop_is_cut_to_its_first_turn_at_once_and_a_looping_redo_too():
    rec, model = _recognizer("en", {})
    turn = SimpleNamespace(text=" start," * 12, compression_ratio=5.0)
    model._segments = [[turn]]
    t = rec.transcribe(np.zeros(12_000, dtype=np.float32), partial=True)
    assert (t.text, t.loop_cut) == ("start,", True)  # heard at once: a stop word can act
    assert len(model.options) == 1 and rec.cut == 1 and rec.redone == 0
    loop = SimpleNamespace(text=" turn to the right" * 6, compression_ratio=5.0)
    fine = SimpleNamespace(text=" Turn to the right.", compression_ratio=1.1)
    model._segments = [[loop], [fine]]  # a whole segment is decoded again with care
    t = rec.transcribe(np.zeros(16_000, dtype=np.float32))
    assert (t.text, t.loop_cut) == ("Turn to the right.", False) and rec.redone == 1
    again = SimpleNamespace(text=" Stop and turn left, stop," * 8, compression_ratio=6.0)
    model._segments = [[loop], [again]]  # the redo loops too: it is cut
    t = rec.transcribe(np.full(16_000, 0.01, dtype=np.float32))
    assert (t.text, t.loop_cut) == ("Stop and turn left, stop,", True)
    model._segments = [[SimpleNamespace(text=" turn left, turn left", compression_ratio=1.2)]]
    t = rec.transcribe(np.zeros(16_000, dtype=np.float32), partial=True)
    assert (t.text, t.loop_cut) == ("turn left, turn left", False)  # no loop: said twice


def test_the_careful_pass_of_a_cut_partial_goes_straight_to_the_full_window():
    rec, model = _recognizer("en", {})
    loop = SimpleNamespace(text=" start," * 12, compression_ratio=5.0)
    fine = SimpleNamespace(text=" Stop, how much charge", compression_ratio=1.1)
    model._segments = [[loop], [fine]]
    audio = np.full(12_000, 0.01, dtype=np.float32)
    assert rec.transcribe(audio, partial=True).text == "start,"  # at once, for the stop word
    assert rec.transcribe(audio).text == "Stop, how much charge"  # the same audio, with care
    assert [o["frames"] for o in model.options] == [1600, 3000]  # the short decode not repeated
