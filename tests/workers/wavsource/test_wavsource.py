"""wavsource framing: conversion, padding, looping, the final flag, settings errors."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.io import wavfile

from workers.wavsource.worker import WavSourceSettings, load_files, wav_frames


def test_frames_cover_the_audio_and_the_last_one_is_final_and_padded() -> None:
    x = np.arange(1000, dtype=np.int16)
    frames = list(wav_frames(x, 20))
    assert [i for i, _, _ in frames] == [0, 1, 2, 3]
    assert [f for _, _, f in frames] == [False, False, False, True]
    joined = np.frombuffer(b"".join(p for _, p, _ in frames), "<i2")
    np.testing.assert_array_equal(joined[:1000], x)
    assert not joined[1000:].any()


def test_looping_repeats_the_audio_with_indices_going_on_and_never_final() -> None:
    x = np.arange(640, dtype=np.int16)
    frames = list(itertools.islice(wav_frames(x, 20, loop=True), 6))
    assert [i for i, _, _ in frames] == list(range(6))
    assert not any(f for _, _, f in frames)
    assert frames[0][1] == frames[2][1] == frames[4][1]


def test_files_of_other_rates_and_channels_are_joined_at_16k_mono(tmp_path: Path) -> None:
    wavfile.write(tmp_path / "a.wav", 48000, np.zeros((48000, 2), np.int16))
    wavfile.write(tmp_path / "b.wav", 8000, np.zeros(4000, np.float32))
    assert len(load_files([tmp_path / "a.wav", tmp_path / "b.wav"])) == 16000 + 8000


def test_settings_refuse_unknown_keys_and_bad_frame_lengths() -> None:
    with pytest.raises(ValidationError, match="10, 20 or 30"):
        WavSourceSettings(files=[Path("a.wav")], frame_ms=25)
    with pytest.raises(ValidationError, match="extra"):
        WavSourceSettings.model_validate({"files": ["a.wav"], "lop": True})
