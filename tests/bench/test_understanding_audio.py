"""The understanding corpus's audio: deterministic, true boundaries, the asked SNR; and the
bench's audio path wired end to end (with the recogniser replaced: no figures here)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from audio.wavio import read_wav
from bench import understanding
from bench.understanding_audio import AudioManifest, build_audio
from bench.understanding_corpus import load_corpus
from bench.understanding_voices import EDGE

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")

CORPUS = load_corpus()
RATE = 16000


def _pick(*ids: str) -> list[Any]:
    return [CORPUS.by_id[i] for i in ids]


def test_espeak_audio_has_speech_exactly_in_its_spans_the_pause_and_10_db_snr(
    tmp_path: Path,
) -> None:
    lines = _pick("en-command-31", "zh-stop-03")  # one with a 700 ms pause, one Chinese
    m = build_audio(CORPUS, tmp_path, lines=lines, voices=("espeak-165",),
                    noises=("clean", "pink10", "babble10"))  # fmt: skip
    assert len(m.files) == 6
    by = {(f.line_id, f.noise): f for f in m.files}
    f = by["en-command-31", "clean"]
    assert len(f.speech) == 2 and f.speech[1][0] - f.speech[0][1] == pytest.approx(0.7)
    clean = read_wav(tmp_path / f.path).astype(np.float64)
    mask = np.zeros(len(clean), bool)
    for a, b in f.speech:
        i, j = round(a * RATE), round(b * RATE)
        mask[i:j] = True
        peak = np.max(np.abs(clean[i:j]))
        assert abs(clean[i]) > EDGE * peak / 2 and abs(clean[j - 1]) > EDGE * peak / 2
    assert np.max(np.abs(clean[~mask])) == 0  # silence is silent: the spans are the truth
    for noise in ("pink10", "babble10"):
        noisy = read_wav(tmp_path / by["en-command-31", noise].path).astype(np.float64)
        snr = 10 * np.log10(np.mean(clean[mask] ** 2) / np.mean((noisy - clean) ** 2))
        assert snr == pytest.approx(10.0, abs=0.3), noise
    assert by["zh-stop-03", "clean"].expected == [{"kind": "stop"}]
    assert AudioManifest.load(tmp_path).files == sorted(m.files, key=lambda x: x.path)


def test_audio_is_deterministic_and_an_existing_folder_is_only_completed(tmp_path: Path) -> None:
    lines = _pick("en-stop-02")
    a = build_audio(CORPUS, tmp_path / "a", lines=lines, voices=("espeak-165",),
                    noises=("clean", "babble10"))  # fmt: skip
    b = build_audio(CORPUS, tmp_path / "b", lines=lines, voices=("espeak-165",),
                    noises=("clean", "babble10"))  # fmt: skip
    assert a.files == b.files
    for f in a.files:
        assert (tmp_path / "a" / f.path).read_bytes() == (tmp_path / "b" / f.path).read_bytes()
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "a").glob("*.wav")}
    more = build_audio(CORPUS, tmp_path / "a", lines=lines, voices=("espeak-165",),
                       noises=("clean", "babble10", "white10"))  # fmt: skip
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "a").glob("*.wav")}
    assert len(more.files) == 3 and all(after[k] == v for k, v in before.items())


@pytest.mark.slow
def test_piper_audio_is_deterministic_and_its_speeds_differ(tmp_path: Path) -> None:
    lines = _pick("en-stop-03")
    voices = ("piper-ls0.85", "piper-ls1.2")
    a = build_audio(CORPUS, tmp_path / "a", lines=lines, voices=voices, noises=("clean",))
    b = build_audio(CORPUS, tmp_path / "b", lines=lines, voices=voices, noises=("clean",))
    assert a.files == b.files
    for f in a.files:
        assert (tmp_path / "a" / f.path).read_bytes() == (tmp_path / "b" / f.path).read_bytes()
    length = {f.voice: f.speech[0][1] - f.speech[0][0] for f in a.files}
    assert length["piper-ls1.2"] > length["piper-ls0.85"] * 1.2


@pytest.mark.slow
def test_quick_audio_run_and_rescoring_saved_transcripts_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_asr(files: Any, folder: Path, host: Any, progress: bool = True) -> dict[str, Any]:
        assert all((folder / f.path).is_file() for f in files)
        return {f.path: {"text": f.reference, "language": f.lang, "infer_ms": 0.0,
                         "backend": "reference"} for f in files}  # fmt: skip

    monkeypatch.setattr(understanding, "transcribe", fake_asr)
    first, again = tmp_path / "q.json", tmp_path / "r.json"
    argv = ["--folder", str(tmp_path / "audio"), "--out"]
    assert understanding.main(["--quick", *argv, str(first)]) == 0
    assert understanding.main(["--transcripts", str(first), *argv, str(again)]) == 0
    q, r = (json.loads(p.read_text()) for p in (first, again))
    audio_q = [f for f in q["files"] if f.get("file")]
    audio_r = [f for f in r["files"] if f.get("file")]
    assert len(audio_q) == 18 and audio_q == audio_r
    # transcript = reference, so every audio judgement equals the text-only one of its line
    text = {f["line_id"]: f["exact"] for f in q["files"] if f["condition"] == "text"}
    assert all(f["exact"] == text[f["line_id"]] for f in audio_q)
