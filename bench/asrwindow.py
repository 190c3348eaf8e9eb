"""How short may Whisper's encoder window be? WER and time per window, on the tuning split.

    python -m bench.asrwindow                  # 30 s (Whisper's), 16, 12, 8 s; tuning split
    python -m bench.asrwindow --split held     # the same on the held-back split (report)
    python -m bench.asrwindow --quick          # 8 lines, two windows: it works
    python -m bench.asrwindow --no-hotwords    # without host.yaml's whisper.hotwords

The English lines of the understanding corpus (``bench/data/understanding.yaml``; Chinese needs
Whisper base, which host.yaml does not run), every voice and the clean and pink 10 dB files
that ``bench.understanding_audio`` made, recognised whole by ``WhisperRecognizer`` with
host.yaml's ASR settings (its ``whisper.hotwords`` included, unless ``--no-hotwords``: the first
table of ``docs/asr.md`` was taken without them) and each ``window_s``. Per window and noise:
WER (digits as Whisper writes them count as errors, alike for every window), mean time per
utterance, and how many transcripts looped and were redone with the full window (and cut to
their loop's first turn when the redo looped too).
``configs/host.yaml``'s ``window_s`` is the shortest within 0.005 of the full window's WER on
the tuning split. Saved in ``bench/results/asrwindow.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.asrcandidates import word_error_rate

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


def run(
    split: str, windows: list[float], quick: bool, hotwords: dict[str, str] | None = None
) -> dict[str, Any]:
    """WER, time and redone counts per window and noise (``hotwords``: whisper.hotwords)."""
    from audio.wavio import read_wav
    from bench.understanding_audio import build_audio
    from bench.understanding_corpus import load_corpus
    from workers.asr.whisper import WhisperRecognizer

    corpus = load_corpus()
    lines = [x for x in corpus.split(split) if x.lang == "en"][: 8 if quick else None]
    voices = ("piper-ls0.85",) if quick else ("piper-ls0.85", "piper-ls1.2", "espeak-165")
    made = build_audio(corpus, lines=lines, voices=voices, noises=("clean", "pink10"))
    ids = {x.id for x in lines}
    files = [f for f in made.files if f.line_id in ids and f.voice in voices]
    out: dict[str, Any] = {}
    for window in windows:
        rec = WhisperRecognizer(
            "tiny.en", language="en", threads=2, window_s=window, hotwords=hotwords
        )
        rec.transcribe(np.zeros(16000, dtype=np.float32))
        for noise in ("clean", "pink10"):
            refs, hyps, spent = [], [], 0.0
            redone, cut, penalised = rec.redone, rec.cut, rec.penalised
            for f in (f for f in files if f.noise == noise):
                audio = read_wav(made.folder / f.path).astype(np.float32) / 32768
                t = time.perf_counter()
                hyps.append(rec.transcribe(audio).text)
                spent += time.perf_counter() - t
                refs.append(f.reference)
            out[f"{window:g}s/{noise}"] = {
                "window_s": window or 30.0,
                "noise": noise,
                "files": len(refs),
                "wer": round(word_error_rate(refs, hyps), 4),
                "mean_ms": round(1000 * spent / max(1, len(refs)), 1),
                "decoded_again_with_penalty": rec.penalised - penalised,
                "redone_full_window": rec.redone - redone,
                "loops_cut": rec.cut - cut,
            }
            print(f"  window {window or 30:g} s, {noise}: {out[f'{window:g}s/{noise}']}")
        rec.close()
    return out


def main(argv: list[str] | None = None) -> int:
    """Run and save."""
    ap = argparse.ArgumentParser(prog="python -m bench.asrwindow", description=__doc__)
    ap.add_argument("--split", choices=("tune", "held"), default="tune")
    ap.add_argument("--windows", default="0,16,12,8", help="window_s values (0 = 30 s)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--no-hotwords", action="store_true", help="without host.yaml's hotwords")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    windows = [0.0, 16.0] if args.quick else [float(w) for w in args.windows.split(",")]
    load = os.getloadavg()
    from bench.understanding import HostSettings

    hotwords = {} if args.no_hotwords else HostSettings().asr.whisper.hotwords
    figures = run(args.split, windows, args.quick, hotwords)
    out = args.out or RESULTS / f"asrwindow{'_quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"split": args.split, "hotwords": hotwords, "loadavg_start": load,
             "loadavg_end": os.getloadavg(), "figures": figures}, indent=1,
        ) + "\n"
    )  # fmt: skip
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
