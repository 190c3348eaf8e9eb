"""What to do when Whisper loops: decode again with the full window, or keep the loop's first turn.

    python -m bench.asrloops            # both understanding corpora, every English rendering
    python -m bench.asrloops --quick    # 12 lines: it works

Every English line of ``bench/data/understanding.yaml`` and ``understanding_blind.yaml``, in
every voice and noise ``bench.understanding_audio`` makes (cached), is recognised whole by
``WhisperRecognizer`` with host.yaml's ASR settings (tiny.en, ``window_s``, ``hotwords``). For
each transcript whose first decode loops (compression ratio above 2.4), the bench keeps the
loop itself, its first turn (:func:`workers.asr.deloop.first_cycle`: what a partial transcript
now answers), a second decode with the full 30 s window, timed, and what the recogniser answers
for the whole segment (the redo, cut when it loops too). Word error rate of each against the
line's words, per split: choices were made on the tuning lines (main corpus ``tune``, blind
corpus ``-pNN``) and are reported on the held-back ones. Saved in
``bench/results/asrloops.json``.
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
CORPORA = ("understanding.yaml", "understanding_blind.yaml")


def run(quick: bool) -> dict[str, Any]:
    """The looping transcripts and the figures of each way out of them."""
    from audio.wavio import read_wav
    from bench.understanding import HostSettings
    from bench.understanding_audio import build_audio
    from bench.understanding_corpus import load_corpus
    from workers.asr.deloop import first_cycle
    from workers.asr.whisper import WhisperRecognizer, window_frames

    asr = HostSettings().asr.whisper
    rec = WhisperRecognizer(
        asr.model, language="en", threads=asr.threads, window_s=asr.window_s,
        hotwords=asr.hotwords,
    )  # fmt: skip
    first: list[tuple[str, bool, dict[str, Any]]] = []
    decode = rec._decode

    def recorded(audio: np.ndarray, frames: int, options: dict[str, Any]) -> tuple[str, bool]:
        text, looped = decode(audio, frames, options)
        first.append((text, looped, dict(options)))
        return text, looped

    rec._decode = recorded  # type: ignore[method-assign]
    rec.transcribe(np.zeros(16000, dtype=np.float32))
    loops: list[dict[str, Any]] = []
    clips = 0
    for name in CORPORA:
        corpus = load_corpus(REPO / "bench" / "data" / name)
        lines = [x for x in corpus.lines if x.lang == "en"][: 6 if quick else None]
        made = build_audio(corpus, lines=lines)
        split = {x.id: x.split for x in lines}
        for f in made.files:
            if f.line_id not in split:
                continue
            clips += 1
            audio = read_wav(made.folder / f.path).astype(np.float32) / 32768
            first.clear()
            answer = rec.transcribe(audio).text
            text, looped, options = first[0]
            if not looped:
                continue
            t = time.perf_counter()
            redo, redo_looped = decode(audio, 3000, options)
            redo_ms = 1000 * (time.perf_counter() - t)
            loops.append({
                "file": f.path, "corpus": name, "split": split[f.line_id],
                "reference": f.reference, "looped": text, "first_turn": first_cycle(text),
                "answer": answer, "redo": redo, "redo_looped": redo_looped,
                "redo_ms": round(redo_ms, 1),
                "window_frames": window_frames(len(audio), asr.window_s),
            })  # fmt: skip
    rec.close()
    figures: dict[str, dict[str, Any]] = {}
    for part in ("tune", "held"):
        mine = [x for x in loops if x["split"] == part]
        refs = [x["reference"] for x in mine]
        figures[part] = {
            "loops": len(mine),
            "wer_loop": round(word_error_rate(refs, [x["looped"] for x in mine]), 3),
            "wer_first_turn": round(
                word_error_rate(refs, [x["first_turn"] or x["redo"] for x in mine]), 3
            ),
            "wer_redo": round(word_error_rate(refs, [x["redo"] for x in mine]), 3),
            "wer_answer": round(word_error_rate(refs, [x["answer"] for x in mine]), 3),
            "redo_looped_too": sum(x["redo_looped"] for x in mine),
            "redo_ms_mean": round(float(np.mean([x["redo_ms"] for x in mine])), 1) if mine else 0.0,
        }
    return {"clips": clips, "figures": figures, "loops": loops}


def main(argv: list[str] | None = None) -> int:
    """Run and save."""
    ap = argparse.ArgumentParser(prog="python -m bench.asrloops", description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load = os.getloadavg()
    result = run(args.quick)
    out = args.out or RESULTS / f"asrloops{'_quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"loadavg_start": load, "loadavg_end": os.getloadavg(), **result}
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(result["figures"], indent=1))
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
