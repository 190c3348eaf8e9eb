"""The stop-word spotter: its front end and head, and its place first in the stop check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from audio.resample import resample
from tests.workers.asr.test_stopcheck import Scripted, audio
from workers.asr.errors import ModelDirError
from workers.asr.settings import AsrSettings, StopCheckSettings
from workers.asr.spotter import CONTEXT, HEAD_PATH, StopSpotter, contexts
from workers.asr.stopcheck import StopChecked
from workers.tts.backends import Espeak

RATE = 16000
HOST_THRESHOLD = 0.9999


class Fixed:
    """A spotter that answers ``p`` and counts its calls."""

    name = "stop-spotter"

    def __init__(self, p: float) -> None:
        self.p = p
        self.calls = 0

    def score(self, samples: np.ndarray) -> float:
        self.calls += 1
        return self.p


@pytest.fixture(scope="module")
def spotter() -> StopSpotter:
    return StopSpotter()


def spoken(text: str) -> np.ndarray:
    pcm, rate = Espeak(speed_wpm=165).synthesize(text, "en")
    return resample(pcm.astype(np.float64) / 32768.0, rate, RATE)


def test_one_embedding_every_80_ms_of_the_audio_and_its_quiet_lead(spotter: StopSpotter) -> None:
    one, two = spotter.embed(audio(1.0)), spotter.embed(audio(2.0))
    assert one.shape[1] == 96 and len(two) - len(one) in (12, 13)  # 1 s / 80 ms
    assert np.isfinite(two).all()


def test_contexts_pad_short_audio_with_zeros() -> None:
    e = np.ones((3, 96), np.float32)
    c = contexts(e)
    assert c.shape == (1, CONTEXT * 96)
    assert not c[0, : (CONTEXT - 3) * 96].any() and c[0, (CONTEXT - 3) * 96 :].all()
    assert contexts(np.ones((CONTEXT + 4, 96), np.float32)).shape == (5, CONTEXT * 96)


def test_a_spoken_stop_word_scores_high_and_other_speech_low(spotter: StopSpotter) -> None:
    # espeak-ng en-us at the corpus's 165 wpm, clean. The head was trained on these words in
    # such phrases, but spoken by en-us at 140 and 190 wpm, en-us+m3, en-gb and en-us+f2.
    for text in ("Okay, halt.", "Please freeze."):
        assert spotter.score(spoken(text)) >= HOST_THRESHOLD, text
    for text in ("Stop!", "Halt!", "Freeze!", "Stop the car."):
        assert spotter.score(spoken(text)) > 0.9, text
    for text in ("Good morning, how are you?", "Turn left a little.", "Start moving.", "Hold on."):
        assert spotter.score(spoken(text)) < 0.01, text


def test_a_missing_or_mismatched_head_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelDirError, match="bench.spotter_train"):
        StopSpotter(tmp_path / "absent.npz")
    bad = tmp_path / "bad.npz"
    with np.load(HEAD_PATH) as w:
        parts = {k: w[k] for k in w.files}
    parts["W1"] = parts["W1"][:96]
    np.savez(bad, **parts)
    with pytest.raises(ModelDirError, match=f"reads 1 embeddings, not {CONTEXT}"):
        StopSpotter(bad)


def test_the_spotter_is_asked_first_and_its_stop_answers() -> None:
    main, check, spot = Scripted(["up, please"]), Scripted([]), Fixed(0.99995)
    rec = StopChecked(main, check, 2.5, spotter=spot, spotter_threshold=HOST_THRESHOLD)
    out = rec.transcribe(audio(1.2))
    assert (out.text, out.checked_from, out.checked_by) == ("stop", "up, please", "stop-spotter")
    assert check.calls == [] and (rec.checked, rec.spotter_stops, rec.stops) == (1, 1, 0)


def test_below_the_threshold_the_other_steps_decide() -> None:
    main, check, spot = Scripted(["up, please"]), Scripted(["up, please."]), Fixed(0.9998)
    rec = StopChecked(main, check, 2.5, spotter=spot, spotter_threshold=HOST_THRESHOLD)
    assert rec.transcribe(audio(1.2)).text == "up, please"
    assert spot.calls == 1 and len(check.calls) == 1 and rec.spotter_stops == 0


def test_the_spotter_is_not_asked_about_long_audio_or_a_stop_already_heard() -> None:
    spot = Fixed(1.0)
    rec = StopChecked(Scripted(["go on", "stop it"]), Scripted([]), 2.5, spotter=spot)
    assert rec.transcribe(audio(3.0)).text == "go on"
    assert rec.transcribe(audio(1.0)).text == "stop it"
    assert spot.calls == 0


def test_the_threshold_setting_is_a_probability_and_off_by_default() -> None:
    assert StopCheckSettings().spotter_threshold is None
    base = {"language": "en", "whisper": {"model": "tiny.en"}}
    on = AsrSettings.model_validate({**base, "stop_check": {"spotter_threshold": HOST_THRESHOLD}})
    assert on.stop_check is not None and on.stop_check.spotter_threshold == HOST_THRESHOLD
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValidationError, match="spotter_threshold"):
            AsrSettings.model_validate({**base, "stop_check": {"spotter_threshold": bad}})


def test_host_yaml_sets_the_threshold_chosen_on_the_tuning_split() -> None:
    from bench.understanding import HostSettings

    sc = HostSettings().asr.stop_check
    assert sc is not None and sc.spotter_threshold == HOST_THRESHOLD
