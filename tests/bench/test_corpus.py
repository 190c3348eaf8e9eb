"""The espeak-ng corpus: known boundaries, silences and SNRs, reloadable manifest."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from audio.wavio import read_wav
from bench.corpus import Manifest, make_corpus

pytestmark = pytest.mark.skipif(
    __import__("shutil").which("espeak-ng") is None, reason="espeak-ng is not installed"
)


def test_corpus_has_speech_exactly_inside_the_utterance_spans_and_the_asked_snr(
    tmp_path: Path,
) -> None:
    m = make_corpus(tmp_path, languages=("zh",), snrs_db=(10.0,), noises=("white",))
    assert [(f.noise, f.snr_db) for f in m.files] == [("none", None), ("white", 10.0)]
    clean, noisy = (read_wav(f.path).astype(np.float64) for f in m.files)
    utts = m.files[0].utterances
    assert len(utts) == 10
    mask = np.zeros(len(clean), bool)
    for u in utts:
        a, b = int(u.start_s * 16000), int(u.end_s * 16000)
        mask[a:b] = True
        assert clean[a] != 0 and clean[b - 1] != 0  # speech starts/ends on the boundary
    # silence everywhere else (only the resampler's sub-LSB smear of the edges)
    assert np.max(np.abs(clean[~mask])) < 0.002 * np.max(np.abs(clean))
    noise = noisy - clean
    snr = 10 * np.log10(np.mean(clean[mask] ** 2) / np.mean(noise**2))
    assert snr == pytest.approx(10.0, abs=0.3)
    gaps = [b.start_s - a.end_s for a, b in itertools.pairwise(utts)]
    assert min(gaps) == pytest.approx(2.0)
    assert Manifest.load(tmp_path / "manifest.json").files == m.files
