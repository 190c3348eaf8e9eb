"""ASR benchmark: the SenseVoice pipeline's own cost, and the packaged default on espeak speech.

    python -m bench.asr            # full run (a few minutes on 2 cores), bench/results/asr.json
    python -m bench.asr --quick    # 3 sentences per language

Measured in the same run, one utterance per espeak-ng sentence of ``bench.corpus.SENTENCES``
(English ``en-us``, Mandarin ``cmn-latn-pinyin``), each padded with 0.3 s of silence as a VAD
segment with pre-roll would be:

- ``sensevoice-onnx-standin``: the whole SenseVoice pipeline (fbank + LFR + CMVN, query rows,
  padding to 171, onnxruntime, CTC over the real length, sentencepiece, tags) around the
  SenseVoice-shaped linear ONNX graph of the tests, widened to the real vocabulary (25055), so
  what is timed is everything *but* the real encoder: the pipeline's overhead;
- ``whisper-base`` (the host default, ``language=auto`` restricted to zh/en, and with the
  language given), ``whisper-tiny.en`` (English only) and ``pocketsphinx`` (English, its
  packaged CMU model): recognition of real (synthetic) speech, with word error rate (English,
  lowercase, punctuation dropped) and character error rate (Chinese, punctuation dropped).

Per system: p50 latency per utterance (processing time, ms), real-time factor (sum of
processing time / sum of audio time, and its p50 per utterance), p50 CPU time per utterance
(all threads; less sensitive than wall time to other load on this shared machine), error rates,
and how often the reported language was right. The recognisers are all loaded first and then
run interleaved, utterance by utterance, so that changing load hits them alike.

The SenseVoice-on-NPU figure is the one published with SenseVoiceSmall-RKNN2, copied and
labelled as published: it cannot be measured here. The packaged recognisers and their scoring
are :mod:`bench.asrcandidates`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.asrcandidates import PocketSphinx, bench_candidates
from bench.corpus import RATE_HZ, SENTENCES, speak
from workers.asr.transcript import Recognizer

__all__ = ["corpus", "main", "run_system"]

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
PAD_S = 0.3
PUBLISHED_NPU = {
    "label": "published (SenseVoiceSmall-RKNN2 README), not measured here",
    "system": "SenseVoiceSmall encoder, RKNN fp16, one RK3588 NPU core",
    "speed": "about 20x real time",
    "rtf": 0.05,
    "memory_gb": 1.1,
}


def corpus(per_language: int) -> dict[str, list[tuple[str, np.ndarray]]]:
    """(reference text, float audio) per language, spoken by espeak-ng."""
    pad = np.zeros(int(PAD_S * RATE_HZ), dtype=np.float32)
    out: dict[str, list[tuple[str, np.ndarray]]] = {}
    for lang, sentences in SENTENCES.items():
        out[lang] = []
        for ref, spoken in sentences[:per_language]:
            audio = speak(spoken, lang).astype(np.float32) / 32768.0
            out[lang].append((ref, np.concatenate([pad, audio, pad])))
    return out


def run_system(
    name: str, transcribe: Callable[[np.ndarray], Any], utterances: list[tuple[str, np.ndarray]]
) -> tuple[dict[str, Any], list[Any]]:
    """Time ``transcribe`` on each utterance; return the timing summary and the outputs."""
    infer_ms, cpu_ms, audio_s, outputs = [], [], [], []
    for _, audio in utterances:
        started, cpu = time.perf_counter(), time.process_time()
        outputs.append(transcribe(audio))
        cpu_ms.append(1000.0 * (time.process_time() - cpu))
        infer_ms.append(1000.0 * (time.perf_counter() - started))
        audio_s.append(len(audio) / RATE_HZ)
    rtfs = [ms / 1000.0 / s for ms, s in zip(infer_ms, audio_s, strict=True)]
    summary = {
        "system": name,
        "utterances": len(utterances),
        "audio_s": round(sum(audio_s), 2),
        "p50_latency_ms": round(statistics.median(infer_ms), 1),
        "max_latency_ms": round(max(infer_ms), 1),
        "rtf": round(sum(infer_ms) / 1000.0 / sum(audio_s), 4),
        "p50_rtf": round(statistics.median(rtfs), 4),
        "p50_cpu_ms": round(statistics.median(cpu_ms), 1),
    }
    return summary, outputs


class TimedRuntime:
    """Wraps an encoder runtime and keeps the time of each call, to split encoder from overhead."""

    def __init__(self, runtime: Any) -> None:
        self.name = runtime.name
        self._runtime = runtime
        self.times_ms: list[float] = []

    def run(self, inputs: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        out = self._runtime.run(inputs)
        self.times_ms.append(1000.0 * (time.perf_counter() - started))
        return out

    def close(self) -> None:
        self._runtime.close()


def bench_sensevoice_standin(utts: list[tuple[str, np.ndarray]], tmp: Path) -> dict[str, Any]:
    """The SenseVoice pipeline around the tests' linear stand-in encoder (real vocab width)."""
    from tests.workers.asr.conftest import build_encoder, make_fake_sensevoice
    from workers.asr.frontend import features, load_cmvn
    from workers.asr.modeldir import validate_model_dir
    from workers.asr.runtimes import OnnxRuntime
    from workers.asr.sensevoice import SenseVoice

    fake = make_fake_sensevoice(tmp / "sensevoice")
    vocab = 25055
    weight = np.zeros((fake.weight.shape[0], vocab))
    weight[:, : fake.weight.shape[1]] = fake.weight
    bias = np.zeros(vocab)
    bias[: fake.bias.shape[0]] = fake.bias
    build_encoder(fake.dir / "sense-voice-encoder.onnx", weight, bias, "vocab_first")
    files = validate_model_dir(fake.dir, "onnxruntime")
    started = time.perf_counter()
    timed = TimedRuntime(OnnxRuntime(files.encoder, threads=2))
    recognizer = SenseVoice(files, timed)
    load_s = time.perf_counter() - started
    cmvn = load_cmvn(files.cmvn)
    front, _ = run_system("frontend", lambda a: features(a, cmvn), utts)
    whole, _ = run_system("sensevoice-onnx-standin", recognizer.transcribe, utts)
    recognizer.close()
    whole["load_s"] = round(load_s, 2)
    whole["frontend_p50_ms"] = front["p50_latency_ms"]
    encoder_p50 = statistics.median(timed.times_ms)
    whole["standin_encoder_p50_ms"] = round(encoder_p50, 1)
    whole["pipeline_overhead_p50_ms"] = round(whole["p50_latency_ms"] - encoder_p50, 1)
    whole["note"] = (
        "linear stand-in encoder with a [1, 25055, 171] output: no recognition; "
        "pipeline_overhead = everything but the encoder call (front end, query rows, padding, "
        "layout detection, CTC over 25055 classes, sentencepiece, tags)"
    )
    return whole


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print and save ``bench/results/asr.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 sentences per language")
    parser.add_argument("--out", type=Path, default=RESULTS / "asr.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import tempfile

    from workers.asr.whisper import WhisperRecognizer

    per_language = 3 if args.quick else 10
    print(f"speaking {per_language} sentences per language with espeak-ng ...")
    by_lang = corpus(per_language)
    results: dict[str, Any] = {
        "host": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
            "threads": 2,
        },
        "corpus": {lang: len(u) for lang, u in by_lang.items()},
        "published_npu": PUBLISHED_NPU,
        "systems": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        all_utts = by_lang["en"] + by_lang["zh"]
        standin = bench_sensevoice_standin(all_utts, Path(tmp))
        print(f"  {json.dumps(standin)}")
        results["systems"].append(standin)
    both = tuple(by_lang)
    makers: list[tuple[str, Callable[[], Recognizer], tuple[str, ...]]] = [
        ("whisper-base (auto: zh/en)", lambda: WhisperRecognizer("base"), both),
        ("whisper-base (language=en)", lambda: WhisperRecognizer("base", language="en"), ("en",)),
        ("whisper-base (language=zh)", lambda: WhisperRecognizer("base", language="zh"), ("zh",)),
        ("whisper-tiny.en", lambda: WhisperRecognizer("tiny.en"), ("en",)),
        ("pocketsphinx", PocketSphinx, ("en",)),
    ]
    results["systems"] += bench_candidates(makers, by_lang)
    results["host"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"published NPU figure: {PUBLISHED_NPU['speed']} (RTF {PUBLISHED_NPU['rtf']}), "
        f"{PUBLISHED_NPU['label']}"
    )
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
