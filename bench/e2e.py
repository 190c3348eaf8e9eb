"""End-to-end benchmark: the scripted conversation through the pipeline, beside the reference loop.

    python -m bench.e2e            # bench/results/e2e.json + e2e.png
    python -m bench.e2e --quick    # the same, one reference pass per line before and after

Measured in the same run, on this machine:

- **voicebus**: ``python -m demo`` (every worker a process, ``configs/host.yaml``: Whisper
  tiny.en, SmolLM2-135M on llama.cpp, espeak-ng, the RT app on a /dev/shm region). Per turn, from
  ``dialog.turn``: end of speech -> segment closed -> transcript -> first token -> first audio,
  end to end (end of speech -> first synthesized audio) and the bus's share: the measured
  delivery time (publish -> handled, serialisation included) of the critical-path messages the
  dialog receives, counted twice for the hops it sends (``workers/dialog/turn.py``).
- **reference loop**: the loop of the source document re-implemented (``bench.vadref``: 64 ms
  reads, 0.5 s blocks judged by webrtcvad mode 3 at 40 %, segment saved 1 s after the last voiced
  block; then, in one thread, the whole transcript, the *whole* reply, and TTS of the whole reply
  before anything is played) with the same models and settings: the same Whisper tiny.en
  (``WhisperRecognizer``), the same SmolLM2 GGUF through llama.cpp (same system prompt,
  ``max_tokens``, temperature, threads, read from ``configs/host.yaml``; one warm-up call first)
  and the same espeak-ng synthesis. The same spoken lines (espeak-ng, 16 kHz) are fed on a
  simulated stream clock; processing after the close is wall time. Its end to end is close
  latency + ASR + whole LLM reply + whole TTS.

The reference passes run before and after the pipeline run (two each; one with ``--quick``) and
their median is compared. The ratio is reference / voicebus end to end, over the turns answered
by the LLM (the greeting, the question, the story). Command and telemetry turns never reach an
LLM in voicebus (they are listed, not compared). The load average at the start and end is saved
with the figures: other processes on a shared 2-core machine slow both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
LLM_KINDS = ("greeting", "question", "story")
STAGES = ("vad_close_ms", "asr_ms", "llm_ttft_ms", "first_audio_ms", "end_to_end_ms", "bus_ms")


def run_pipeline(out: Path, timeout_s: float) -> tuple[list[dict[str, Any]], str]:
    """The demo through real processes; its turns and its printed transcript."""
    res = subprocess.run(
        [sys.executable, "-m", "demo", "--out", str(out), "--timeout-s", str(timeout_s)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s + 60,
    )
    if res.returncode != 0:
        print(res.stdout[-3000:], res.stderr[-3000:], sep="\n")
        raise SystemExit(f"The demo failed (exit {res.returncode}); see {out}/supervisor.log.")
    return json.loads((out / "turns.json").read_text()), res.stdout


def match_lines(turns: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Our turn for each scripted line kind (by order of the heard turns with a metrics record)."""
    from demo.script import SCRIPT

    heard = [t for t in turns if t["metrics"] and t["metrics"]["outcome"] != "ignored"]
    return {line.kind: t for line, t in zip(SCRIPT, heard, strict=False)}


def run_reference(repeats: int) -> list[dict[str, Any]]:
    """The reference loop on every LLM line of the script; stage times in ms."""
    from bench.vadref import reference_loop
    from demo.script import SCRIPT, speak_script
    from schemas.tts import TtsRequest
    from workers.asr.whisper import WhisperRecognizer
    from workers.dialog.settings import DEFAULT_SYSTEM_PROMPT
    from workers.llm.backends.llamacpp import default_model_path
    from workers.tts.synth import Synthesizer, TtsSettings

    from llama_cpp import Llama  # isort: skip

    asr = WhisperRecognizer("tiny.en", language="en", threads=2)
    llm = Llama(
        model_path=str(default_model_path()), n_ctx=2048, n_threads=2, seed=0, verbose=False
    )
    tts = Synthesizer(TtsSettings(backend="espeak", sample_rate_hz=16000))
    out: list[dict[str, Any]] = []
    lines = speak_script()
    for line, speech in zip(SCRIPT, lines, strict=True):
        if line.kind not in LLM_KINDS:
            continue
        text = line.text.replace("Hey robot, ", "")
        lead, tail = np.zeros(16000, np.int16), np.zeros(int(2.5 * 16000), np.int16)
        stream = np.concatenate([lead, speech, tail])
        speech_end_s = (len(lead) + len(speech)) / 16000
        for _ in range(repeats):
            segs = reference_loop(stream)
            seg = segs[0]
            close_ms = (seg.closed_s - speech_end_s) * 1000
            t0 = time.perf_counter()
            pcm = stream[int(seg.start_s * 16000) : int(seg.end_s * 16000)]
            path = RESULTS / "tmp" / "ref_segment.wav"  # the reference saves a WAV, then reads it
            path.parent.mkdir(parents=True, exist_ok=True)
            with wave.open(str(path), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(16000)
                w.writeframes(pcm.astype("<i2").tobytes())
            with wave.open(str(path)) as w:
                audio = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32)
            heard = asr.transcribe(audio / 32768.0).text
            t1 = time.perf_counter()
            completion: Any = llm.create_chat_completion(
                messages=[
                    {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
                    {"role": "user", "content": heard or text},
                ],
                max_tokens=64,
                temperature=0.3,
            )
            reply = str(completion["choices"][0]["message"]["content"] or "")
            t2 = time.perf_counter()
            tts.speak(TtsRequest(turn_id="ref", index=0, text=reply, final=True))
            t3 = time.perf_counter()
            out.append(
                {
                    "kind": line.kind,
                    "heard": heard,
                    "reply": reply,
                    "vad_close_ms": close_ms,
                    "asr_ms": (t1 - t0) * 1000,
                    "llm_total_ms": (t2 - t1) * 1000,
                    "tts_total_ms": (t3 - t2) * 1000,
                    "end_to_end_ms": close_ms + (t3 - t0) * 1000,
                }
            )
    return out


def summarise(ours: dict[str, dict[str, Any]], ref: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-line comparison and the overall ratio."""
    rows = []
    for kind in LLM_KINDS:
        r = [x for x in ref if x["kind"] == kind]
        t = ours.get(kind)
        if not r or t is None or t["metrics"].get("end_to_end_ms", 0) <= 0:
            continue
        ref_e2e = statistics.median(x["end_to_end_ms"] for x in r)
        our_e2e = t["metrics"]["end_to_end_ms"]
        rows.append(
            {
                "kind": kind,
                "voicebus_ms": our_e2e,
                "reference_ms": ref_e2e,
                "ratio": ref_e2e / our_e2e,
                "reference_stages_ms": {
                    k: statistics.median(x[k] for x in r)
                    for k in ("vad_close_ms", "asr_ms", "llm_total_ms", "tts_total_ms")
                },
                "voicebus_stages_ms": {k: t["metrics"][k] for k in STAGES},
            }
        )
    ratios = [row["ratio"] for row in rows]
    return {
        "rows": rows,
        "ratio_median": statistics.median(ratios) if ratios else None,
        "ratio_min": min(ratios) if ratios else None,
    }


def plot(summary: dict[str, Any], path: Path) -> None:
    """Stacked bars per compared turn: our stages beside the reference's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary["rows"]
    fig, ax = plt.subplots(figsize=(9, 1.2 + 1.1 * len(rows)))
    colours = ["#8da0cb", "#66c2a5", "#fc8d62", "#e78ac3"]
    names = [
        "close",
        "ASR",
        "LLM: first token / whole reply",
        "rest of the first sentence + its TTS / TTS of the whole reply",
    ]
    labels = []
    for i, row in enumerate(rows):
        v, r = row["voicebus_stages_ms"], row["reference_stages_ms"]
        ours = [
            v["vad_close_ms"],
            v["asr_ms"],
            v["llm_ttft_ms"],
            v["first_audio_ms"] - v["llm_ttft_ms"],
        ]
        theirs = [r["vad_close_ms"], r["asr_ms"], r["llm_total_ms"], r["tts_total_ms"]]
        totals = (row["voicebus_ms"], row["reference_ms"])
        for y, parts, total in ((2 * i, ours, totals[0]), (2 * i + 0.8, theirs, totals[1])):
            left = 0.0
            for k, (width, c) in enumerate(zip(parts, colours, strict=True)):
                label = names[k] if i == 0 and y == 0 else None
                ax.barh(y, max(0.0, width), left=left, color=c, height=0.7, label=label)
                left += max(0.0, width)
            ax.text(left + 30, y, f"{total:.0f} ms", va="center", fontsize=8)
        labels += [(2 * i, f"{row['kind']}: voicebus"), (2 * i + 0.8, f"{row['kind']}: reference")]
    ax.set_yticks([y for y, _ in labels], [t for _, t in labels], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("end of speech -> first audio (ms)")
    ratio = summary["ratio_median"]
    ax.set_title(
        f"voicebus vs reference loop, same models (median ratio {ratio:.1f}x)"
        if ratio
        else "voicebus vs reference loop",
        fontsize=10,
    )
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """Run both, print, save."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.e2e",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="one reference pass per line")
    parser.add_argument("--timeout-s", type=float, default=600.0)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load_start = os.getloadavg()
    # The reference runs before and after the pipeline, so that a change of load during the
    # run (a shared machine) weighs on both sides alike.
    ref = run_reference(1 if args.quick else 2)
    turns, transcript = run_pipeline(RESULTS / "tmp" / "e2e", args.timeout_s)
    print(transcript)
    ours = match_lines(turns)
    ref += run_reference(1 if args.quick else 2)
    load_end = os.getloadavg()
    summary = summarise(ours, ref)
    heard = [t["metrics"] for t in turns if t["metrics"] and t["metrics"]["outcome"] != "ignored"]
    e2e = [m["end_to_end_ms"] for m in heard if m["end_to_end_ms"] > 0]
    shares = [m["bus_ms"] / m["end_to_end_ms"] for m in heard if m["end_to_end_ms"] > 0]
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_start": load_start,
            "loadavg_end": load_end,
        },
        "voicebus_turns": [
            {
                "user": t["user_text"],
                "outcome": t["metrics"]["outcome"],
                **{k: t["metrics"][k] for k in STAGES},
            }
            for t in turns
            if t["metrics"] and t["metrics"]["outcome"] != "ignored"
        ],
        "voicebus_end_to_end_ms_median": statistics.median(e2e) if e2e else None,
        "bus_share_of_turn": {
            "median": statistics.median(shares) if shares else None,
            "max": max(shares) if shares else None,
        },
        "reference_runs": ref,
        "comparison": summary,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "e2e.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    plot(summary, RESULTS / "e2e.png")
    print("\nper turn (ms): close / ASR / first token / first audio | end to end | bus share")
    for row in result["voicebus_turns"]:
        share = row["bus_ms"] / row["end_to_end_ms"] if row["end_to_end_ms"] > 0 else 0.0
        print(
            f"  {row['outcome']:9s} {row['vad_close_ms']:5.0f} {row['asr_ms']:6.0f} "
            f"{row['llm_ttft_ms']:6.0f} {row['first_audio_ms']:6.0f} | {row['end_to_end_ms']:6.0f}"
            f" | {100 * share:.2f} %  {row['user'][:40]!r}"
        )
    for row in summary["rows"]:
        print(
            f"  {row['kind']:9s} voicebus {row['voicebus_ms']:6.0f} ms, reference "
            f"{row['reference_ms']:6.0f} ms: {row['ratio']:.1f}x"
        )
    print(
        f"load average {load_start[0]:.1f} at start, {load_end[0]:.1f} at end; "
        f"saved {RESULTS / 'e2e.json'} and e2e.png"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
