"""End-to-end benchmark: end of speech -> first audio, voicebus beside the reference loop.

    python -m bench.e2e            # 3 interleaved rounds; bench/results/e2e.json + e2e.png
    python -m bench.e2e --quick    # 1 round, the scripted conversation and 4 corpus lines

The lines (the same audio for both systems):

- the **scripted conversation** of ``make run`` (``demo.script.SCRIPT``), spoken by piper's
  packaged voice, anew in each round: round k with piper's seed k (1, 2, 3), so that the rounds
  cover three renderings of the script and a run can be repeated sample for sample (one
  rendering for every round would make a recogniser's slip on it count three times);
- a **held-back subset of the understanding corpus** (``bench/data/understanding.yaml``): every
  English line of the held-back split (29: commands, a refusal, stop words, questions, chat,
  near misses, one with a hesitation), piper's voice at length scale 0.85 and 1.2 alternately,
  clean (``bench.understanding_audio``'s cached files), after a wake line. Chinese lines are
  left out: host.yaml's ASR (Whisper tiny.en) is English-only.

Each round runs the **reference loop** (``bench.e2eref``: the source document's loop with
host.yaml's models and settings, one warm-up call of each) on every line, then **voicebus**
(``python -m demo --script``: every worker a process, ``configs/host.yaml``), so the rounds
interleave. Per line and system: **segment-closed latency** (end of speech -> the segment closed:
the VAD's part) and **after-close latency** (closed -> first synthesized audio: the pipeline's
part) as separate rows, and their sum, end to end; for voicebus also the stages of
``dialog.turn`` (the pause's speculative transcript, first token, first clause, TTS) and, on
stop lines, end of speech -> STOP written to the ring; the bus's share of each turn (every hop
of the turn, stamped by the worker that received it, over end to end). voicebus's end of speech
is its VAD's; the reference's the true one. The load average is saved at the start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.e2ereport import plot, summarise, table

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
RATE = 16000
LEAD_S = 0.5


def corpus_lines(quick: bool) -> list[dict[str, Any]]:
    """The held-back English lines with their piper recordings and true speech ends."""
    from bench.understanding_audio import build_audio
    from bench.understanding_corpus import load_corpus

    corpus = load_corpus()
    held = [x for x in corpus.split("held") if x.lang == "en"]
    if quick:
        cats = ("command", "stop", "question", "near_miss")
        held = [next(x for x in held if x.category == c) for c in cats]
    voices = ("piper-ls0.85", "piper-ls1.2")
    made = build_audio(corpus, lines=held, voices=voices, noises=("clean",))
    files = {(f.line_id, f.voice): f for f in made.files if f.noise == "clean"}
    out = []
    for i, line in enumerate(held):
        f = files[(line.id, voices[i % 2])]
        out.append(
            {
                "text": line.reference, "kind": line.category, "id": line.id, "gap_after_s": 3.0,
                "wav": str(made.folder / f.path), "speech_end_s": f.speech[-1][1],
            }
        )  # fmt: skip
    return out


def script_lines(tmp: Path, seed: int) -> list[dict[str, Any]]:
    """The demo's scripted conversation, spoken by piper with ``seed`` into WAVs (lead silence
    added)."""
    from audio.wavio import write_wav
    from demo.script import SCRIPT, speak_script

    out = []
    for i, (line, pcm) in enumerate(zip(SCRIPT, speak_script(SCRIPT, seed=seed), strict=True)):
        path = tmp / f"script-s{seed}-{i}.wav"
        lead = np.zeros(int(LEAD_S * RATE), np.int16)
        write_wav(path, np.concatenate([lead, pcm, np.zeros(RATE // 2, np.int16)]), RATE)
        out.append(
            {
                "text": line.text, "kind": line.kind, "id": f"script-{i}",
                "gap_after_s": line.gap_after_s, "wav": str(path),
                "speech_end_s": LEAD_S + len(pcm) / RATE,
            }
        )  # fmt: skip
    return out


def run_voicebus(lines: list[dict[str, Any]], out: Path, timeout_s: float) -> list[dict[str, Any]]:
    """One demo run over ``lines``; its turns (``turns.json``), each with its line index."""
    out.mkdir(parents=True, exist_ok=True)
    script = out / "script.yaml"
    keys = ("text", "kind", "id", "gap_after_s", "wav")
    script.write_text(yaml.safe_dump([{k: x[k] for k in keys} for x in lines]))
    res = subprocess.run(
        [sys.executable, "-m", "demo", "--script", str(script), "--out", str(out),
         "--timeout-s", str(timeout_s)],
        cwd=REPO, capture_output=True, text=True, timeout=timeout_s + 120,
    )  # fmt: skip
    (out / "demo.log").write_text(res.stdout + res.stderr)
    if res.returncode != 0:
        print(res.stdout[-3000:], res.stderr[-2000:], sep="\n")
        print(f"warning: the demo exited {res.returncode}; see {out}/demo.log", file=sys.stderr)
    return list(json.loads((out / "turns.json").read_text()))


def run_reference(ref: Any, lines: list[dict[str, Any]]) -> list[Any]:
    """Every line through the reference loop."""
    from audio.wavio import read_wav

    turns = []
    for i, line in enumerate(lines):
        t = ref.turn(i, read_wav(line["wav"], RATE), line["speech_end_s"])
        if t is not None:
            turns.append(t)
    return turns


def main(argv: list[str] | None = None) -> int:
    """Run the rounds, print, save."""
    ap = argparse.ArgumentParser(
        prog="python -m bench.e2e",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--quick", action="store_true", help="1 round, the script and 4 corpus lines")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (3; 1 with --quick)")
    ap.add_argument("--timeout-s", type=float, default=1800.0, help="per voicebus run")
    ap.add_argument("--out", type=Path, help="results JSON (default bench/results/e2e.json)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rounds = args.rounds or (1 if args.quick else 3)
    tmp = RESULTS / "tmp" / "e2e"
    tmp.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    wake = {"text": "Hey robot.", "kind": "greeting", "id": "wake", "gap_after_s": 3.0}
    corpus = corpus_lines(args.quick)

    def round_lines(seed: int) -> list[dict[str, Any]]:
        # the corpus lines follow a wake line of their own (its audio: piper, like the script's)
        return [*script_lines(tmp, seed), _spoken(wake, tmp, seed), *corpus]

    lines: list[dict[str, Any]] = []  # each round's, spoken in the loop
    from bench.e2eref import HostModels, Reference

    ref = Reference(HostModels.load(), tmp)
    per_round: list[dict[str, Any]] = []
    try:
        for r in range(rounds):
            lines = round_lines(r + 1)  # the same texts in every round, spoken anew
            print(f"round {r + 1}/{rounds}: reference loop ...", flush=True)
            theirs = run_reference(ref, lines)
            print(f"round {r + 1}/{rounds}: voicebus ...", flush=True)
            ours = run_voicebus(lines, tmp / f"round-{r + 1}", args.timeout_s)
            per_round.append({"reference": [t.__dict__ for t in theirs], "voicebus": ours,
                              "speech_end_s": [x["speech_end_s"] for x in lines]})  # fmt: skip
    finally:
        ref.close()
    load_end = os.getloadavg()
    summary = summarise(lines, per_round)
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_start": load_start,
            "loadavg_end": load_end,
        },
        "quick": args.quick,
        "rounds": rounds,
        "lines": [{k: v for k, v in x.items() if k not in ("wav", "speech_end_s")} for x in lines],
        "summary": summary,
        "per_round": per_round,
    }
    out = args.out or RESULTS / ("e2e_quick.json" if args.quick else "e2e.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n")
    if not args.quick:
        plot(summary, out.with_suffix(".png"))
    print(table(summary))
    print(f"load average {load_start[0]:.1f} at start, {load_end[0]:.1f} at end; saved {out}")
    return 0


def _spoken(line: dict[str, Any], tmp: Path, seed: int) -> dict[str, Any]:
    from audio.wavio import write_wav
    from demo.script import Line, speak_script

    (pcm,) = speak_script((Line(line["text"], line["gap_after_s"], line["kind"]),), seed=seed)
    path = tmp / f"wake-s{seed}.wav"
    lead = np.zeros(int(LEAD_S * RATE), np.int16)
    write_wav(path, np.concatenate([lead, pcm, np.zeros(RATE // 2, np.int16)]), RATE)
    return {**line, "wav": str(path), "speech_end_s": LEAD_S + len(pcm) / RATE}


if __name__ == "__main__":
    raise SystemExit(main())
