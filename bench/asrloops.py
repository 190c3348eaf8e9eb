"""What to do when Whisper loops: decode again with a penalty or the full window, or keep the
loop's first turn.

    python -m bench.asrloops            # both understanding corpora, every English rendering
    python -m bench.asrloops --quick    # 12 lines: it works
    python -m bench.asrloops --no-llm   # commands by the grammar alone (ask lines get none)

Every English line of ``bench/data/understanding.yaml`` and ``understanding_blind.yaml``, in
every voice and noise ``bench.understanding_audio`` makes (cached), is recognised whole by
``WhisperRecognizer`` with host.yaml's ASR settings (tiny.en, ``window_s``, ``hotwords``,
``loop_penalty``). For each transcript whose first decode loops (compression ratio above 2.4),
the bench keeps the loop itself, its first turn (:func:`workers.asr.deloop.first_cycle`: what a
partial transcript answers at once), a decode again of the same encoding with
``loop_penalty`` (the decoder alone), timed, a second decode with the full 30 s window, timed,
what a segment got before the penalty (the full-window redo, cut when it loops too) and what the
recogniser answers now. Word error rate of each against the line's words, and what the car
would do with each of the last two (the dialog's path of ``bench.understanding``, with the LLM
for command-like lines the grammar does not take), per split: choices were made on the tuning
lines (main corpus ``tune``, blind corpus ``-pNN``) and are reported on the held-back ones.
Saved in ``bench/results/asrloops.json``.
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
_WAYS = ("looped", "first_turn", "penalised", "redo", "before", "answer")
"""The transcripts kept per loop; ``before``: the redo, cut when it loops (until the penalty)."""


def run(quick: bool, llm: bool = True) -> dict[str, Any]:
    """The looping transcripts and the figures of each way out of them."""
    from audio.wavio import read_wav
    from bench.understanding import HostSettings
    from bench.understanding_audio import build_audio
    from bench.understanding_corpus import Line, load_corpus
    from bench.understanding_path import DialogPath, InProcessLlm
    from bench.understanding_score import judge
    from workers.asr.deloop import first_cycle
    from workers.asr.whisper import Encoding, WhisperRecognizer, window_frames

    host = HostSettings()
    asr = host.asr.whisper
    rec = WhisperRecognizer(
        asr.model, language="en", threads=asr.threads, window_s=asr.window_s,
        hotwords=asr.hotwords, loop_penalty=asr.loop_penalty,
    )  # fmt: skip
    first: list[tuple[str, bool, dict[str, Any], Encoding | None]] = []
    decode = rec._decode

    def recorded(audio: np.ndarray, frames: int, options: dict[str, Any]) -> tuple[str, bool]:
        text, looped = decode(audio, frames, options)
        first.append((text, looped, dict(options), rec._encoding))
        return text, looped

    rec._decode = recorded  # type: ignore[method-assign]
    rec.transcribe(np.zeros(16000, dtype=np.float32))
    loops: list[dict[str, Any]] = []
    lines: dict[str, Line] = {}
    clips = 0
    for name in CORPORA:
        corpus = load_corpus(REPO / "bench" / "data" / name)
        mine = [x for x in corpus.lines if x.lang == "en"][: 6 if quick else None]
        made = build_audio(corpus, lines=mine)
        split = {x.id: x.split for x in mine}
        lines.update({f"{name}:{x.id}": x for x in mine})
        for f in made.files:
            if f.line_id not in split:
                continue
            clips += 1
            audio = read_wav(made.folder / f.path).astype(np.float32) / 32768
            first.clear()
            answer = rec.transcribe(audio).text
            text, looped, options, encoding = first[0]
            if not looped or encoding is None:
                continue
            t = time.perf_counter()
            penalised = rec.decode_again(encoding, asr.loop_penalty)
            penalised_ms = 1000 * (time.perf_counter() - t)
            t = time.perf_counter()
            redo, redo_looped = decode(audio, 3000, options)
            redo_ms = 1000 * (time.perf_counter() - t)
            loops.append({
                "file": f.path, "corpus": name, "line": f"{name}:{f.line_id}",
                "split": split[f.line_id], "reference": f.reference, "looped": text,
                "first_turn": first_cycle(text) or redo, "penalised": penalised,
                "penalised_ms": round(penalised_ms, 1), "redo": redo, "redo_looped": redo_looped,
                "redo_ms": round(redo_ms, 1),
                "before": (first_cycle(redo) or redo) if redo_looped else redo,
                "answer": answer, "window_frames": window_frames(len(audio), asr.window_s),
            })  # fmt: skip
    rec.close()
    understand = DialogPath(host.dialog, InProcessLlm(host.llm) if llm else None)
    figures: dict[str, dict[str, Any]] = {}
    for part in ("tune", "held"):
        mine_loops = [x for x in loops if x["split"] == part]
        refs = [x["reference"] for x in mine_loops]
        fig: dict[str, Any] = {"loops": len(mine_loops)}
        for way in _WAYS:
            fig[f"wer_{way}"] = round(word_error_rate(refs, [x[way] for x in mine_loops]), 3)
        for way in ("before", "answer"):
            outs = [
                judge(lines[x["line"]], x[way], understand(x[way], "en"), host.dialog.bounds)
                for x in mine_loops
            ]
            stops = [o for o in outs if o.stop_hit is not None]
            fig[f"commands_{way}"] = {
                "exact": sum(o.exact for o in outs),
                "false_command": sum(o.false_command for o in outs),
                "stop_hit": f"{sum(bool(o.stop_hit) for o in stops)}/{len(stops)}",
            }
        fig["redo_looped_too"] = sum(x["redo_looped"] for x in mine_loops)
        for way in ("penalised", "redo"):
            times = [x[f"{way}_ms"] for x in mine_loops]
            fig[f"{way}_ms_mean"] = round(float(np.mean(times)), 1) if times else 0.0
        figures[part] = fig
    return {
        "clips": clips,
        "loop_penalty": asr.loop_penalty,
        "llm": llm,
        "figures": figures,
        "loops": loops,
    }


def main(argv: list[str] | None = None) -> int:
    """Run and save."""
    ap = argparse.ArgumentParser(prog="python -m bench.asrloops", description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--no-llm", action="store_true", help="commands by the grammar alone")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load = os.getloadavg()
    result = run(args.quick, llm=not args.no_llm)
    out = args.out or RESULTS / f"asrloops{'_quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"loadavg_start": load, "loadavg_end": os.getloadavg(), **result}
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(result["figures"], indent=1))
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
