"""Pure audio helpers: resampler accuracy, WAV conversion, framing, capture timestamps."""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile
from scipy.signal import resample_poly

from audio.capture import CaptureConverter
from audio.framer import Framer
from audio.resample import Resampler, resample
from audio.wavio import WavError, read_wav, write_wav


def tone(rate: int, seconds: float = 1.0, hz: float = 1000.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return amp * np.sin(2 * np.pi * hz * t)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec)) * rate / len(x)


@pytest.mark.parametrize("rate_in", [48000, 44100, 22050, 8000])
def test_a_1khz_tone_keeps_its_frequency_and_level(rate_in: int) -> None:
    y = resample(tone(rate_in, 2.0), rate_in, 16000)
    assert len(y) == 32000
    core = y[2000:-2000]
    assert abs(peak_hz(core, 16000) - 1000.0) < 2.0
    rms_db = 20 * np.log10(np.sqrt(np.mean(core**2)) / (0.5 / np.sqrt(2)))
    assert abs(rms_db) < 0.1


def test_content_above_the_new_nyquist_is_removed_not_aliased() -> None:
    y = resample(tone(48000, 1.0, hz=11000.0), 48000, 16000)  # would alias to 5 kHz
    core = y[1000:-1000]
    assert np.sqrt(np.mean(core**2)) < 0.5 / np.sqrt(2) * 10 ** (-50 / 20)


@pytest.mark.parametrize(("rate_in", "rate_out"), [(48000, 16000), (44100, 16000), (16000, 48000)])
def test_streaming_in_odd_chunks_equals_scipy_on_the_whole_signal(rate_in: int, rate_out: int):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(rate_in)
    r = Resampler(rate_in, rate_out)
    out, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, 900))
        out.append(r.process(x[i : i + n]))
        i += n
    out.append(r.flush())
    y = np.concatenate(out)
    g = gcd(rate_in, rate_out)
    np.testing.assert_allclose(y, resample_poly(x, rate_out // g, rate_in // g), atol=1e-9)


def test_whole_signals_keep_in_band_tones_to_100_db_against_the_exact_sine() -> None:
    for rate_in, rate_out in ((48000, 16000), (22050, 48000), (44100, 16000)):
        y = resample(tone(rate_in, 1.0, hz=1000.0), rate_in, rate_out)
        ideal = tone(rate_out, 1.0, hz=1000.0)
        err = (y - ideal)[1000:-1000]
        snr_db = 10 * np.log10(np.sum(ideal[1000:-1000] ** 2) / np.sum(err**2))
        assert snr_db > 100, (rate_in, rate_out, snr_db)


def test_whole_signals_do_not_alias_what_lies_just_above_the_new_nyquist() -> None:
    y = resample(tone(48000, 1.0, hz=8600.0), 48000, 16000)  # would fold to 7.4 kHz
    assert np.sqrt(np.mean(y[1000:-1000] ** 2)) < 0.5 / np.sqrt(2) * 10 ** (-90 / 20)


def test_the_live_stream_lags_by_its_lookahead_only_and_matches_the_whole_signal_call() -> None:
    r = Resampler(48000, 16000)
    assert r.lookahead * 1000 / 48000 < 1.0  # ms of input held back
    x = tone(48000, 1.0, hz=1000.0)
    got = 0
    for i in range(0, len(x), 480):  # 10 ms chunks, as a sound card delivers them
        got += len(r.process(x[i : i + 480]))
        assert (i + 480) // 3 - got <= r.lookahead // 3 + 1
    stream = Resampler(48000, 16000).process(x)
    whole = resample(x, 48000, 16000)[: len(stream)]
    err = (stream - whole)[1000:-1000]
    assert np.sqrt(np.mean(err**2)) < 0.5 * 10 ** (-50 / 20)  # same timing, same level


def test_empty_and_tiny_signals_resample_to_the_rounded_length() -> None:
    assert len(resample(np.zeros(0), 44100, 16000)) == 0
    assert len(resample(np.ones(5), 44100, 16000)) == 2
    with pytest.raises(ValueError, match="must be positive"):
        resample(np.ones(5), 0, 16000)


def test_same_rate_is_a_passthrough() -> None:
    x = np.arange(100, dtype=np.float64)
    np.testing.assert_array_equal(resample(x, 16000, 16000), x)


@pytest.mark.parametrize(
    ("dtype", "scale"), [(np.int16, 32767), (np.int32, 2**31 - 1), (np.float32, 1.0), (np.uint8, 0)]
)
def test_wav_of_any_format_rate_and_channels_reads_as_16k_mono_int16(
    tmp_path: Path, dtype: type, scale: float
) -> None:
    x = tone(44100, 1.0, amp=0.5)
    if dtype is np.uint8:
        data = np.round(128 + 127 * x).astype(np.uint8)
    else:
        data = (x * scale).astype(dtype)
    path = tmp_path / "t.wav"
    wavfile.write(path, 44100, np.stack([data, data], axis=1))
    y = read_wav(path)
    assert y.dtype == np.int16
    assert len(y) == 16000
    core = y[1000:-1000].astype(np.float64)
    assert abs(peak_hz(core, 16000) - 1000.0) < 2.0
    assert abs(np.sqrt(np.mean(core**2)) / 32768 - 0.5 / np.sqrt(2)) < 0.01


def test_16k_mono_int16_is_read_unchanged(tmp_path: Path) -> None:
    x = (tone(16000) * 20000).astype(np.int16)
    write_wav(tmp_path / "a.wav", x, 16000)
    np.testing.assert_array_equal(read_wav(tmp_path / "a.wav"), x)


def test_missing_or_broken_wav_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WavError, match="does not exist"):
        read_wav(tmp_path / "nope.wav")
    (tmp_path / "bad.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(WavError, match="Cannot decode"):
        read_wav(tmp_path / "bad.wav")


def test_framer_cuts_fixed_frames_stamped_on_the_sample_clock() -> None:
    f = Framer(20, 16000, origin_ns=1_000_000_000)
    frames = f.push(np.arange(500, dtype=np.int16)) + f.push(np.arange(500, dtype=np.int16))
    assert [fr.index for fr in frames] == [0, 1, 2]
    assert [fr.capture_ns for fr in frames] == [1_000_000_000, 1_020_000_000, 1_040_000_000]
    assert all(len(fr.pcm) == 640 for fr in frames)
    with pytest.raises(ValueError, match="10, 20 or 30"):
        Framer(25)


def test_capture_timestamps_follow_the_earliest_arrival_and_restart_after_an_overrun() -> None:
    conv = CaptureConverter(48000, channels=2, frame_ms=20)
    buf = np.zeros(960 * 2, dtype="<i2").tobytes()  # 20 ms of stereo at 48 kHz
    t = 5_000_000_000
    late = [0, 3_000_000, 1_000_000, 0, 7_000_000, 0, 0, 0]  # scheduling delays, ns
    frames = []
    for i, d in enumerate(late):
        frames += conv.push(buf, t + (i + 1) * 20_000_000 + d)
    assert conv.origin_ns == t
    # Late arrivals never move the clock by more than the allowed drift creep (200 ppm).
    errors = [f.capture_ns - (t + 20_000_000 * k) for k, f in enumerate(frames)]
    assert all(0 <= e < 50_000 for e in errors)
    assert [f.index for f in frames] == list(range(len(frames)))
    n = len(frames)
    after = conv.push(buf, t + 2_000_000_000, lost_before=True)
    after += conv.push(buf, t + 2_020_000_000)
    assert conv.restarts == 1
    assert after[0].index == n  # indices go on; the time jump shows the hole
    assert abs(after[0].capture_ns - (t + 2_000_000_000 - 20_000_000)) < 50_000
