"""The SenseVoice pipeline's pure parts: query rows, padding, output layout, CTC, tags, files."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from tests.workers.asr.conftest import FakeSenseVoice
from workers.asr.errors import ModelDirError
from workers.asr.longform import join_texts, split_points
from workers.asr.modeldir import validate_model_dir
from workers.asr.sensevoice import (
    RKNN_INPUT_LEN,
    build_encoder_input,
    ctc_greedy,
    parse_tags,
    time_major_logits,
)

EMBEDDING = np.arange(16 * 560, dtype=np.float32).reshape(16, 560)


def test_encoder_input_is_language_event_emotion_itn_rows_then_scaled_speech_then_zeros() -> None:
    speech = np.ones((10, 560))
    x, length = build_encoder_input(EMBEDDING, speech, "zh", use_itn=False, speech_scale=0.5)
    assert x.shape == (1, RKNN_INPUT_LEN, 560) and x.dtype == np.float32
    assert length == 14
    np.testing.assert_array_equal(x[0, :4], EMBEDDING[[3, 1, 2, 15]])
    np.testing.assert_array_equal(x[0, 4:14], 0.5)
    np.testing.assert_array_equal(x[0, 14:], 0.0)
    x, _ = build_encoder_input(EMBEDDING, speech, "auto", use_itn=True, speech_scale=1.0)
    np.testing.assert_array_equal(x[0, [0, 3]], EMBEDDING[[0, 14]])
    np.testing.assert_array_equal(x[0, 4:14], 1.0)


def test_encoder_input_refuses_speech_longer_than_the_window() -> None:
    build_encoder_input(EMBEDDING, np.zeros((167, 560)))
    with pytest.raises(ValueError, match="168 speech frames exceed the encoder window of 167"):
        build_encoder_input(EMBEDDING, np.zeros((168, 560)))


def test_encoder_input_refuses_an_unknown_language() -> None:
    with pytest.raises(ValueError, match="Unknown SenseVoice language 'fr'"):
        build_encoder_input(EMBEDDING, np.zeros((3, 560)), "fr")


@pytest.mark.parametrize(
    "shape_of",
    [
        lambda tv: tv.T[None],  # (1, V, T): the reference RKNN export
        lambda tv: tv[None],  # (1, T, V): the original ONNX layout
        lambda tv: tv.T[None, :, None, :],  # (1, V, 1, T): the newer export
    ],
    ids=["1-V-T", "1-T-V", "1-V-1-T"],
)
def test_output_layout_is_detected_not_assumed(
    shape_of: Callable[[np.ndarray], np.ndarray],
) -> None:
    tv = np.random.default_rng(0).standard_normal((171, 30))
    np.testing.assert_array_equal(time_major_logits(shape_of(tv), 30, 171), tv)


def test_output_layout_falls_back_to_the_sequence_axis_when_vocab_size_differs() -> None:
    tv = np.zeros((171, 40))
    assert time_major_logits(tv.T[None], 25055, 171).shape == (171, 40)


def test_output_with_no_known_axis_is_refused() -> None:
    with pytest.raises(ValueError, match="does not belong to this encoder"):
        time_major_logits(np.zeros((1, 7, 9)), 30, 171)


def test_ctc_greedy_merges_repeats_drops_blanks_and_stops_at_the_real_length() -> None:
    path = [5, 5, 0, 5, 7, 7, 0, 0, 3, 9, 9]  # the last two steps are padding
    logits = np.eye(10)[path]
    assert ctc_greedy(logits, length=9) == [5, 5, 7, 3]
    assert ctc_greedy(logits, length=len(path)) == [5, 5, 7, 3, 9]
    assert ctc_greedy(logits, length=0) == []


def test_tags_become_fields_and_leave_the_text() -> None:
    t = parse_tags("<|en|><|HAPPY|><|Speech|><|woitn|>turn on the light")
    assert (t.text, t.language, t.emotion, t.event, t.itn) == (
        "turn on the light",
        "en",
        "HAPPY",
        "Speech",
        False,
    )
    t = parse_tags("<|zh|><|NEUTRAL|><|Speech|><|withitn|>今天天气很好。")
    assert (t.text, t.language, t.itn) == ("今天天气很好。", "zh", True)


def test_tag_only_output_is_no_speech() -> None:
    t = parse_tags("<|nospeech|><|EMO_UNKNOWN|><|Event_UNK|><|woitn|>")
    assert t.text == "" and not t.is_speech and t.language == ""
    assert t.event == "Event_UNK"
    assert parse_tags("<|en|><|NEUTRAL|><|BGM|><|woitn|> ").is_speech is False


@pytest.mark.parametrize("tag", ["Event_UNK", "Sing", "Speech_Noise", "GBG"])
def test_every_upstream_event_tag_fills_the_event(tag: str) -> None:
    # FunAudioLLM/SenseVoice webui.py names these four besides the eight common events.
    t = parse_tags(f"<|en|><|NEUTRAL|><|{tag}|><|woitn|>la la la")
    assert (t.event, t.emotion, t.text) == (tag, "NEUTRAL", "la la la")


def test_the_upper_case_spelling_is_not_an_event() -> None:
    # ``EVENT_UNK`` is not a SenseVoice token: it is dropped from the text but names no event.
    t = parse_tags("<|en|><|NEUTRAL|><|EVENT_UNK|><|woitn|>hi")
    assert (t.event, t.text) == ("", "hi")


def test_stray_and_unknown_tags_are_removed_from_the_text() -> None:
    t = parse_tags("<|ja|><|Laughter|><|FOO|>hello <|Cough|>world")
    assert (t.text, t.language, t.event) == ("hello world", "ja", "Laughter")


def test_model_dir_error_names_every_missing_file(tmp_path: Path) -> None:
    (tmp_path / "am.mvn").write_text("x")
    with pytest.raises(ModelDirError) as err:
        validate_model_dir(tmp_path, "rknnlite")
    msg = str(err.value)
    for name in (
        "sense-voice-encoder.rknn",
        "embedding.npy",
        "chn_jpn_yue_eng_ko_spectok.bpe.model",
    ):
        assert name in msg
    assert "am.mvn" not in msg.split("lacks")[1].split(".")[0]
    with pytest.raises(ModelDirError, match="does not exist"):
        validate_model_dir(tmp_path / "nope", "onnxruntime")


def test_model_dir_needs_only_the_selected_runtimes_encoder(
    fake_sensevoice: FakeSenseVoice,
) -> None:
    files = validate_model_dir(fake_sensevoice.dir, "onnxruntime")
    assert files.encoder.name == "sense-voice-encoder.onnx"
    assert validate_model_dir(fake_sensevoice.dir, "rknnlite").encoder.suffix == ".rknn"


def test_split_points_cut_in_the_pause_and_overlap() -> None:
    rng = np.random.default_rng(0)
    x = 0.3 * rng.standard_normal(16000 * 25)
    pauses = [(7.0, 7.6), (15.5, 16.0)]  # seconds
    for a, b in pauses:
        x[int(a * 16000) : int(b * 16000)] = 0.0
    ranges = split_points(x, max_samples=160000, overlap=4800)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(x)
    for (_, end), (start, _) in pairwise(ranges):
        assert end - start == 4800
    for start, end in ranges:
        assert end - start <= 160000
    cuts = [end / 16000 for _, end in ranges[:-1]]
    assert len(cuts) == 2
    for cut, (a, b) in zip(cuts, pauses, strict=True):
        assert a < cut < b


@pytest.mark.parametrize(
    ("left", "right", "joined"),
    [
        ("turn on the light in the", "in the kitchen", "turn on the light in the kitchen"),
        ("Hello world.", "world, again", "Hello world. again"),
        ("今天天气很好", "很好，我们去公园", "今天天气很好，我们去公园"),
        ("stop", "go", "stop go"),
        ("", "go", "go"),
    ],
)
def test_join_keeps_overlapping_words_once(left: str, right: str, joined: str) -> None:
    assert join_texts(left, right) == joined


def test_join_overlap_is_bounded_so_real_repeats_survive() -> None:
    assert join_texts("a b c d", "a b c d", max_overlap=3) == "a b c d a b c d"
