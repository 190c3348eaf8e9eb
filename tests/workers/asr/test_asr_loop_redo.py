"""A short window's looping transcript is decoded again from its encoding with a repetition
penalty (the decoder alone), and only with the full 30 s window when that loops too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from workers.asr.settings import AsrSettings
from workers.asr.whisper import Encoding, WhisperRecognizer

_LOOP = "turn to the right, " * 8


class _Fake:
    """The recogniser's decoder calls, scripted: what each window answers, and what a decode
    again of the encoding answers."""

    def __init__(self, windows: dict[int, str], again: list[str]) -> None:
        self.windows = windows
        self.again = again
        self.calls: list[Any] = []


def _recognizer(fake: _Fake, *, penalty: float = 1.3, language: str = "en") -> WhisperRecognizer:
    rec = WhisperRecognizer.__new__(WhisperRecognizer)  # no model: its decoder calls scripted
    rec._multilingual = language != "en"
    rec._language = language
    rec._auto_languages = ("zh", "en")
    rec._beam_size = 1
    rec._window_s = 16.0
    rec._hotwords = {}
    rec._model = None  # no tokenizer: a prompt's tokens counted as characters
    rec._prompt_sizes = {}
    rec._looped_last = None
    rec._encoding = None
    rec._loop_penalty = penalty
    rec.redone = rec.cut = rec.penalised = rec.echoes = 0

    def decode(audio: np.ndarray, frames: int, options: dict[str, Any]) -> tuple[str, bool]:
        fake.calls.append(frames)
        text = fake.windows[frames]
        rec._encoding = Encoding(audio, "encoded", options["language"], dict(options), frames)
        return text, text == _LOOP

    def again(encoding: Encoding, repetition_penalty: float) -> str:
        fake.calls.append(("again", encoding.frames, repetition_penalty))
        return fake.again.pop(0)

    rec._decode = decode  # type: ignore[method-assign]
    rec.decode_again = again  # type: ignore[method-assign]
    return rec


def test_a_looping_segment_is_decoded_again_with_the_penalty_not_the_full_window() -> None:
    fake = _Fake({1600: _LOOP}, ["turn to the right"])
    rec = _recognizer(fake)
    t = rec.transcribe(np.full(16_000, 0.01, np.float32))
    assert (t.text, t.loop_cut) == ("turn to the right", False)
    assert fake.calls == [1600, ("again", 1600, 1.3)]  # no second encoding
    assert (rec.penalised, rec.redone, rec.cut) == (1, 0, 0)


def test_a_penalised_decode_that_loops_too_goes_to_the_full_window_then_to_the_cut() -> None:
    fake = _Fake({1600: _LOOP, 3000: "Turn to the right."}, [_LOOP])
    rec = _recognizer(fake)
    assert rec.transcribe(np.full(16_000, 0.01, np.float32)).text == "Turn to the right."
    assert fake.calls == [1600, ("again", 1600, 1.3), 3000]
    assert (rec.penalised, rec.redone) == (1, 1)
    fake = _Fake({1600: _LOOP, 3000: _LOOP}, [_LOOP])
    rec = _recognizer(fake)
    t = rec.transcribe(np.full(16_000, 0.01, np.float32))
    assert (t.text, t.loop_cut) == ("turn to the right,", True)  # every pass looped: the cut


def test_without_a_penalty_or_with_the_decodes_own_the_loop_goes_to_the_full_window() -> None:
    fake = _Fake({1600: _LOOP, 3000: "Turn to the right."}, [])
    rec = _recognizer(fake, penalty=1.0)  # off: as before
    assert rec.transcribe(np.full(16_000, 0.01, np.float32)).text == "Turn to the right."
    assert fake.calls == [1600, 3000] and (rec.penalised, rec.redone) == (0, 1)
    fake = _Fake({1600: _LOOP, 3000: "向左转"}, [])
    rec = _recognizer(fake, language="zh")  # Chinese decodes with 1.3 already: nothing to add
    assert rec.transcribe(np.full(16_000, 0.01, np.float32)).text == "向左转"
    assert fake.calls == [1600, 3000]


def test_a_cut_partials_careful_pass_decodes_its_encoding_again() -> None:
    fake = _Fake({1600: _LOOP}, ["turn to the right"])
    rec = _recognizer(fake)
    audio = np.full(16_000, 0.01, np.float32)
    quick = rec.transcribe(audio, partial=True)
    assert (quick.text, quick.loop_cut) == ("turn to the right,", True)  # at once, for a stop
    careful = rec.transcribe(audio.copy())  # the same audio, as its segment is recognised
    assert (careful.text, careful.loop_cut) == ("turn to the right", False)
    assert fake.calls == [1600, ("again", 1600, 1.3)]  # the short window is not encoded twice


def test_a_stale_encoding_is_never_decoded_again() -> None:
    fake = _Fake({1600: _LOOP, 3000: "Turn to the right."}, [])
    rec = _recognizer(fake)
    decode = rec._decode

    def other_audio_encoded(audio: np.ndarray, frames: int, options: dict[str, Any]):
        out = decode(audio, frames, options)
        rec._encoding = Encoding(audio[:10], "other", "en", dict(options), frames)
        return out

    rec._decode = other_audio_encoded  # type: ignore[method-assign]
    assert rec.transcribe(np.full(16_000, 0.01, np.float32)).text == "Turn to the right."
    assert fake.calls == [1600, 3000]


def test_the_penalty_is_a_setting() -> None:
    assert AsrSettings().whisper.loop_penalty == 1.3
    assert AsrSettings.model_validate({"whisper": {"loop_penalty": 1}}).whisper.loop_penalty == 1
    with pytest.raises(ValueError, match="loop_penalty"):
        AsrSettings.model_validate({"whisper": {"loop_penalty": 0.5}})


@pytest.mark.slow
def test_a_decode_again_of_a_real_encoding_hears_the_words(tmp_path: Path) -> None:
    from bench.asrcandidates import word_error_rate
    from tests.workers.asr.conftest import espeak_wav
    from tests.workers.asr.test_asr_worker import segment_from_wav
    from workers.asr.recognise import segment_samples

    rec = WhisperRecognizer("tiny.en", language="en", window_s=16.0, hotwords={"en": "turn"})
    ref = "Turn to the right."
    samples = segment_samples(segment_from_wav(espeak_wav(ref, "en-us", tmp_path / "t.wav")))
    rec.transcribe(samples)
    enc = rec.encoding(samples)
    assert enc is not None and enc.frames == 1600
    text = rec.decode_again(enc, 1.3)
    assert word_error_rate([ref], [text]) <= 0.3, text
    rec.close()
