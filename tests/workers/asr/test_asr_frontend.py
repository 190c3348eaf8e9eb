"""Front-end parity: fbank + LFR + CMVN against an independent numpy computation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.workers.asr.conftest import write_cmvn
from workers.asr.frontend import (
    apply_cmvn,
    apply_lfr,
    fbank,
    features,
    lfr_frames,
    load_cmvn,
    parse_cmvn,
    samples_for_lfr_frames,
)

#: Tolerance of the fbank parity, in natural-log energy units: kaldi-native-fbank computes in
#: float32, the reference below in float64; log-mel values span about -16 .. 30.
FBANK_ATOL = 2e-3


def numpy_kaldi_fbank(waveform: np.ndarray) -> np.ndarray:
    """Kaldi fbank by its definition (float64): 25/10 ms frames with snip_edges, DC removal,
    pre-emphasis 0.97, hamming window, 512-point power spectrum, 80 triangular mel filters
    (mel = 1127 ln(1 + f/700), 20 Hz .. 8 kHz, Nyquist bin unused), natural log floored at
    FLT_EPSILON."""
    x = np.asarray(waveform, dtype=np.float64) * 32768.0
    win, shift, nfft, bins = 400, 160, 512, 80
    frames = 1 + (len(x) - win) // shift
    idx = np.arange(win)[None, :] + shift * np.arange(frames)[:, None]
    f = x[idx]
    f = f - f.mean(axis=1, keepdims=True)
    f = np.concatenate([f[:, :1] - 0.97 * f[:, :1], f[:, 1:] - 0.97 * f[:, :-1]], axis=1)
    f = f * (0.54 - 0.46 * np.cos(2 * np.pi * np.arange(win) / (win - 1)))
    power = np.abs(np.fft.rfft(f, n=nfft)) ** 2
    mel = lambda hz: 1127.0 * np.log(1.0 + hz / 700.0)  # noqa: E731
    lo, hi = mel(20.0), mel(8000.0)
    delta = (hi - lo) / (bins + 1)
    fft_mel = mel(np.arange(nfft // 2) * 16000.0 / nfft)
    bank = np.zeros((bins, nfft // 2 + 1))
    for m in range(bins):
        left, centre, right = lo + m * delta, lo + (m + 1) * delta, lo + (m + 2) * delta
        up = (fft_mel - left) / (centre - left)
        down = (right - fft_mel) / (right - centre)
        w = np.where((fft_mel > left) & (fft_mel < right), np.minimum(up, down), 0.0)
        bank[m, : nfft // 2] = w
    energies = power @ bank.T
    return np.log(np.maximum(energies, np.finfo(np.float32).eps))


def numpy_lfr(feats: np.ndarray, m: int = 7, n: int = 6) -> np.ndarray:
    """LFR by index arithmetic: output i stacks input rows i*n - 3 .. i*n + 3, clipped."""
    t = feats.shape[0]
    out = []
    for i in range(-(-t // n)):
        rows = np.clip(np.arange(i * n - (m - 1) // 2, i * n - (m - 1) // 2 + m), 0, t - 1)
        out.append(feats[rows].reshape(-1))
    return np.array(out)


def known_signal(seconds: float = 1.37) -> np.ndarray:
    """A chirp plus a tone plus seeded noise, in [-1, 1]."""
    t = np.arange(int(16000 * seconds)) / 16000
    rng = np.random.default_rng(7)
    chirp = 0.3 * np.sin(2 * np.pi * (100 * t + 1500 * t**2))
    return chirp + 0.1 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(len(t))


def test_fbank_matches_the_kaldi_definition_within_tolerance() -> None:
    x = known_signal()
    ours = fbank(x)
    ref = numpy_kaldi_fbank(x)
    assert ours.shape == ref.shape == (1 + (len(x) - 400) // 160, 80)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=FBANK_ATOL, rtol=0)


def test_lfr_matches_index_arithmetic_including_the_edge_padding() -> None:
    feats = np.random.default_rng(1).standard_normal((45, 80)).astype(np.float32)
    ours = apply_lfr(feats)
    assert ours.shape == (8, 560)
    np.testing.assert_array_equal(ours, numpy_lfr(feats))
    # left padding repeats frame 0 three times; the last frame repeats the last input row
    np.testing.assert_array_equal(ours[0, :240].reshape(3, 80), np.tile(feats[0], (3, 1)))
    np.testing.assert_array_equal(ours[-1, -160:].reshape(2, 80), np.tile(feats[-1], (2, 1)))
    # 47 rows also give ceil(47 / 6) = 8 frames: like the reference, row 46 is never used
    assert apply_lfr(np.vstack([feats, feats[:2]])).shape[0] == 8


def test_whole_front_end_matches_numpy_fbank_lfr_cmvn(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    shift, scale = rng.normal(-8, 2, 560), rng.uniform(0.1, 0.5, 560)
    write_cmvn(tmp_path / "am.mvn", shift, scale)
    cmvn = load_cmvn(tmp_path / "am.mvn")
    x = known_signal()
    ref = (numpy_lfr(numpy_kaldi_fbank(x)) + shift) * scale
    # the CMVN scale (at most 0.5) only shrinks the fbank tolerance
    np.testing.assert_allclose(features(x, cmvn), ref, atol=FBANK_ATOL, rtol=0)


def test_cmvn_parser_reads_addshift_and_rescale_blocks(tmp_path: Path) -> None:
    write_cmvn(tmp_path / "am.mvn", np.array([-8.31, 1.5, 0.0]), np.array([0.25, 2.0, 1.0]))
    cmvn = load_cmvn(tmp_path / "am.mvn")
    np.testing.assert_allclose(cmvn, [[-8.31, 1.5, 0.0], [0.25, 2.0, 1.0]])
    out = apply_cmvn(np.array([[8.31, 0.5, 3.0]]), cmvn)
    np.testing.assert_allclose(out, [[0.0, 4.0, 3.0]])


def test_cmvn_parser_refuses_a_file_without_blocks_with_a_sentence() -> None:
    with pytest.raises(ValueError, match=r"no <AddShift>/<Rescale> blocks.*use the am\.mvn"):
        parse_cmvn("<Nnet>\n</Nnet>\n")


@pytest.mark.parametrize("frames", [1, 2, 50, 167])
def test_sample_budget_for_lfr_frames_is_exact(frames: int) -> None:
    n = samples_for_lfr_frames(frames)
    assert lfr_frames(n) == frames
    assert lfr_frames(n + 1) == frames + 1
    assert apply_lfr(fbank(np.zeros(n))).shape[0] == frames


def test_audio_shorter_than_one_window_gives_no_frames() -> None:
    assert features(np.zeros(399), np.ones((2, 560))).shape == (0, 560)
