"""Test corpus: sentences spoken by espeak-ng with known speech boundaries, silences, noise.

    python -m bench.corpus OUT_DIR [--snr 20 --snr 10 --snr 5] [--noise white --noise pink]

or from Python::

    manifest = make_corpus(Path("corpus"))
    for f in manifest.files:
        print(f.path, f.snr_db, [(u.start_s, u.end_s, u.text) for u in f.utterances])

Each file is one language: ``lead_s`` of silence, then sentences separated by the gaps in
``gaps_s`` (cycled), then ``tail_s`` of silence, 16 kHz mono int16. espeak-ng writes exact digital
silence around and inside its speech, so the true boundaries of each sentence are its first and
last non-zero samples. Noisy variants add white noise or pink (1/f, fan-like) noise to the whole
file at a given SNR, measured against the mean power of the speech inside the utterance spans.
English uses ``-v en-us``; Chinese uses ``-v cmn-latn-pinyin`` fed with tone-numbered pinyin (the
Chinese characters are kept in the manifest as the reference transcript). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.io import wavfile

from audio.resample import Resampler
from audio.wavio import to_int16, write_wav

__all__ = ["SENTENCES", "CorpusFile", "Manifest", "Utterance", "make_corpus", "speak"]

RATE_HZ = 16000

#: Per language: (reference text, what espeak-ng is given to speak).
SENTENCES: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("Turn on the light in the kitchen.", "Turn on the light in the kitchen."),
        ("What is the weather like today?", "What is the weather like today?"),
        ("Drive forward two meters, then stop.", "Drive forward two meters, then stop."),
        (
            "Please tell me a short story about a robot.",
            "Please tell me a short story about a robot.",
        ),
        ("How far is it to the nearest station?", "How far is it to the nearest station?"),
        ("Set a timer for five minutes.", "Set a timer for five minutes."),
        ("Turn left and slow down.", "Turn left and slow down."),
        ("Can you play some quiet music?", "Can you play some quiet music?"),
        ("Stop.", "Stop."),
        (
            "Remind me to call my sister tomorrow morning.",
            "Remind me to call my sister tomorrow morning.",
        ),
    ],
    "zh": [
        ("今天天气怎么样", "jin1 tian1 tian1 qi4 zen3 me5 yang4"),
        ("打开客厅的灯", "da3 kai1 ke4 ting1 de5 deng1"),
        ("向前走两米然后停下", "xiang4 qian2 zou3 liang3 mi3 ran2 hou4 ting2 xia4"),
        (
            "给我讲一个关于机器人的故事",
            "gei3 wo3 jiang3 yi2 ge4 guan1 yu2 ji1 qi4 ren2 de5 gu4 shi5",
        ),
        ("现在几点了", "xian4 zai4 ji3 dian3 le5"),
        ("向左转然后慢一点", "xiang4 zuo3 zhuan3 ran2 hou4 man4 yi4 dian3"),
        ("停", "ting2"),
        ("播放一些安静的音乐", "bo1 fang4 yi4 xie1 an1 jing4 de5 yin1 yue4"),
        (
            "明天早上提醒我给妹妹打电话",
            "ming2 tian1 zao3 shang4 ti2 xing3 wo3 gei3 mei4 mei5 da3 dian4 hua4",
        ),
        ("你好小车", "ni2 hao3 xiao3 che1"),
    ],
}
VOICES = {"en": "en-us", "zh": "cmn-latn-pinyin"}


@dataclass(frozen=True)
class Utterance:
    """One sentence in a corpus file; ``start_s``/``end_s`` are its true speech boundaries."""

    text: str
    language: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class CorpusFile:
    """One WAV file of the corpus."""

    path: str
    language: str
    noise: str  # "none", "white" or "pink"
    snr_db: float | None  # None for clean speech
    duration_s: float
    sample_rate_hz: int
    utterances: list[Utterance] = field(default_factory=list)


@dataclass
class Manifest:
    """Every file of a corpus with its ground truth; saved as ``manifest.json``."""

    files: list[CorpusFile]

    def to_json(self) -> str:
        """The manifest as JSON text."""
        return json.dumps({"files": [asdict(f) for f in self.files]}, indent=1, ensure_ascii=False)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read a ``manifest.json`` written by :func:`make_corpus`."""
        data = json.loads(Path(path).read_text())
        files = []
        for f in data["files"]:
            utts = [Utterance(**u) for u in f.pop("utterances")]
            files.append(CorpusFile(**f, utterances=utts))
        return cls(files)


def speak(text: str, language: str, *, speed_wpm: int = 160) -> np.ndarray:
    """Speak ``text`` with espeak-ng; return 16 kHz mono int16 samples (digital silence kept)."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError(
            "espeak-ng is not installed; install it with 'apt-get install espeak-ng'."
        )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s.wav"
        subprocess.run(
            ["espeak-ng", "-v", VOICES[language], "-s", str(speed_wpm), "-w", str(out), text],
            check=True,
            capture_output=True,
        )
        native_hz, pcm = wavfile.read(out)  # 16-bit mono at espeak's own 22.05 kHz
    # The short streaming filter, not audio.resample.resample (libsoxr HQ): the steep filter
    # rings about 2 ms before each onset above the 2 LSB that _trim keeps, this one under 0.5 ms,
    # so the boundaries stay on espeak's digital silence and the corpus stays the one the VAD
    # figures in bench/results were taken on.
    r = Resampler(int(native_hz), RATE_HZ)
    x = pcm.astype(np.float64) / 32768.0
    return to_int16(np.concatenate([r.process(x), r.flush()]))


def _trim(x: np.ndarray) -> np.ndarray:
    # Resampling smears digital silence into tiny values; the speech is where |x| > 2 LSB.
    nz = np.nonzero(np.abs(x.astype(np.int32)) > 2)[0]
    return x[nz[0] : nz[-1] + 1] if len(nz) else x[:0]


def _noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(n)
    if kind == "white":
        return white
    if kind == "pink":  # shape the spectrum by 1/sqrt(f): power falls 3 dB per octave
        spec = np.fft.rfft(white)
        f = np.arange(len(spec), dtype=np.float64)
        f[0] = 1.0
        pink = np.fft.irfft(spec / np.sqrt(f), n)
        return pink / np.std(pink)
    raise ValueError(f"Unknown noise kind {kind!r}; use 'white' or 'pink'.")


def _compose(
    language: str, gaps_s: tuple[float, ...], lead_s: float, tail_s: float, level_dbfs: float
) -> tuple[np.ndarray, list[Utterance]]:
    parts: list[np.ndarray] = [np.zeros(int(lead_s * RATE_HZ))]
    pos = len(parts[0])
    utts = []
    for i, (text, spoken) in enumerate(SENTENCES[language]):
        if i:
            gap = np.zeros(int(gaps_s[(i - 1) % len(gaps_s)] * RATE_HZ))
            parts.append(gap)
            pos += len(gap)
        s = _trim(speak(spoken, language)).astype(np.float64)
        utts.append(Utterance(text, language, pos / RATE_HZ, (pos + len(s)) / RATE_HZ))
        parts.append(s)
        pos += len(s)
    parts.append(np.zeros(int(tail_s * RATE_HZ)))
    x = np.concatenate(parts)
    speech = _speech_mask(len(x), utts)
    rms = np.sqrt(np.mean(x[speech] ** 2))
    x *= 32768.0 * 10 ** (level_dbfs / 20) / rms
    return x, utts


def _speech_mask(n: int, utts: list[Utterance]) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for u in utts:
        mask[int(u.start_s * RATE_HZ) : int(u.end_s * RATE_HZ)] = True
    return mask


def make_corpus(
    out_dir: Path,
    *,
    languages: tuple[str, ...] = ("en", "zh"),
    snrs_db: tuple[float, ...] = (20.0, 10.0, 5.0),
    noises: tuple[str, ...] = ("white", "pink"),
    gaps_s: tuple[float, ...] = (2.0, 2.5, 3.0),
    lead_s: float = 1.0,
    tail_s: float = 2.0,
    level_dbfs: float = -23.0,
    seed: int = 0,
) -> Manifest:
    """Write the corpus WAV files and ``manifest.json`` into ``out_dir``; return the manifest.

    For each language: one clean file plus one per (noise kind, SNR).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    files = []
    for lang in languages:
        clean, utts = _compose(lang, gaps_s, lead_s, tail_s, level_dbfs)
        speech_power = np.mean(clean[_speech_mask(len(clean), utts)] ** 2)
        variants: list[tuple[str, float | None]] = [("none", None)]
        variants += [(kind, snr) for kind in noises for snr in snrs_db]
        for kind, snr in variants:
            x = clean
            if snr is not None:
                noise = _noise(kind, len(clean), rng)
                x = clean + noise * np.sqrt(speech_power / 10 ** (snr / 10))
            name = f"{lang}_clean.wav" if snr is None else f"{lang}_{kind}_{snr:g}db.wav"
            write_wav(out_dir / name, np.clip(np.round(x), -32768, 32767).astype(np.int16), RATE_HZ)
            files.append(
                CorpusFile(
                    str(out_dir / name), lang, kind, snr, len(x) / RATE_HZ, RATE_HZ, list(utts)
                )
            )
    manifest = Manifest(files)
    (out_dir / "manifest.json").write_text(manifest.to_json())
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Command line: write a corpus and print its manifest summary."""
    ap = argparse.ArgumentParser(
        prog="python -m bench.corpus",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("out_dir", type=Path, help="directory for the WAV files and manifest.json")
    ap.add_argument("--language", action="append", choices=sorted(SENTENCES))
    ap.add_argument("--snr", action="append", type=float, help="SNR in dB (repeatable)")
    ap.add_argument("--noise", action="append", choices=["white", "pink"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    m = make_corpus(
        args.out_dir,
        languages=tuple(args.language or ("en", "zh")),
        snrs_db=tuple(args.snr or (20.0, 10.0, 5.0)),
        noises=tuple(args.noise or ("white", "pink")),
        seed=args.seed,
    )
    for f in m.files:
        print(f"{f.path}  {f.duration_s:6.1f} s  {len(f.utterances)} utterances")
    print(f"manifest: {args.out_dir / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
