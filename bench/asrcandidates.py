"""The packaged recognisers of ``bench.asr``, run interleaved and scored.

:func:`bench_candidates` loads every candidate, runs them utterance by utterance in turn (so
that the load of a shared machine hits all alike) and scores them: word error rate for English
(lowercase, punctuation dropped), character error rate for Chinese (punctuation and spaces
dropped), both as corpus totals of Levenshtein edits over reference length. The distance is
the textbook dynamic programme, written here rather than taken from ``jiwer``/``rapidfuzz``: it
is nine lines, exact, and the only use is this benchmark.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.corpus import RATE_HZ
from workers.asr.transcript import Recognizer

__all__ = [
    "Candidate",
    "PocketSphinx",
    "bench_candidates",
    "char_error_rate",
    "edit_distance",
    "word_error_rate",
]

_PUNCT = re.compile(r"[^\w\s]")


def edit_distance(a: list[str], b: list[str]) -> int:
    """Levenshtein distance between two token lists."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def word_error_rate(refs: list[str], hyps: list[str]) -> float:
    """Corpus WER: word edits / reference words, lowercase, punctuation dropped."""
    words = lambda s: _PUNCT.sub(" ", s.lower()).split()  # noqa: E731
    edits = sum(edit_distance(words(r), words(h)) for r, h in zip(refs, hyps, strict=True))
    return edits / max(1, sum(len(words(r)) for r in refs))


def char_error_rate(refs: list[str], hyps: list[str]) -> float:
    """Corpus CER: character edits / reference characters, punctuation and spaces dropped."""
    chars = lambda s: list(_PUNCT.sub("", s).replace(" ", ""))  # noqa: E731
    edits = sum(edit_distance(chars(r), chars(h)) for r, h in zip(refs, hyps, strict=True))
    return edits / max(1, sum(len(chars(r)) for r in refs))


@dataclass
class Candidate:
    """One system under test and what it measured, per language."""

    name: str
    recognizer: Recognizer
    languages: tuple[str, ...]
    load_s: float
    wall_ms: dict[str, list[float]] = field(default_factory=dict)
    cpu_ms: dict[str, list[float]] = field(default_factory=dict)
    outputs: dict[str, list[Any]] = field(default_factory=dict)


def bench_candidates(
    makers: list[tuple[str, Callable[[], Recognizer], tuple[str, ...]]],
    by_lang: dict[str, list[tuple[str, np.ndarray]]],
) -> list[dict[str, Any]]:
    """Load every candidate, then run them interleaved utterance by utterance (so that the
    load of this shared machine hits all alike) and score them."""
    candidates = []
    for name, make, languages in makers:
        started = time.perf_counter()
        try:
            recognizer = make()
        except ImportError as exc:
            print(f"  {name}: skipped ({exc})")
            continue
        candidates.append(Candidate(name, recognizer, languages, time.perf_counter() - started))
    for lang, utts in by_lang.items():
        for _, audio in utts:
            for c in candidates:
                if lang not in c.languages:
                    continue
                wall0, cpu0 = time.perf_counter(), time.process_time()
                out = c.recognizer.transcribe(audio)
                c.cpu_ms.setdefault(lang, []).append(1000.0 * (time.process_time() - cpu0))
                c.wall_ms.setdefault(lang, []).append(1000.0 * (time.perf_counter() - wall0))
                c.outputs.setdefault(lang, []).append(out)
    results = []
    for c in candidates:
        result: dict[str, Any] = {"system": c.name, "load_s": round(c.load_s, 2), "languages": {}}
        for lang in c.languages:
            utts = by_lang[lang]
            audio_s = [len(a) / RATE_HZ for _, a in utts]
            wall, cpu = c.wall_ms[lang], c.cpu_ms[lang]
            refs, hyps = [r for r, _ in utts], [o.text for o in c.outputs[lang]]
            rtfs = [w / 1000.0 / a for w, a in zip(wall, audio_s, strict=True)]
            summary: dict[str, Any] = {
                "utterances": len(utts),
                "audio_s": round(sum(audio_s), 2),
                "p50_latency_ms": round(statistics.median(wall), 1),
                "max_latency_ms": round(max(wall), 1),
                "rtf": round(sum(wall) / 1000.0 / sum(audio_s), 4),
                "p50_rtf": round(statistics.median(rtfs), 4),
                "p50_cpu_ms": round(statistics.median(cpu), 1),
            }
            if lang == "zh":
                summary["cer"] = round(char_error_rate(refs, hyps), 3)
            else:
                summary["wer"] = round(word_error_rate(refs, hyps), 3)
            summary["language_right"] = sum(o.language == lang for o in c.outputs[lang])
            print(f"  {c.name} [{lang}] {json.dumps(summary)}")
            summary["examples"] = [{"ref": r, "hyp": h} for r, h in zip(refs, hyps, strict=True)]
            result["languages"][lang] = summary
        c.recognizer.close()
        results.append(result)
    return results


class PocketSphinx:
    """pocketsphinx with its packaged en-us model, as a :class:`Recognizer` (bench only)."""

    name = "pocketsphinx"
    max_samples = 60 * RATE_HZ

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self._decoder = Decoder(samprate=RATE_HZ, loglevel="FATAL")

    def transcribe(self, samples: np.ndarray, *, partial: bool = False) -> Any:
        from workers.asr.transcript import Transcript

        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, full_utt=True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        return Transcript(text=text, language="en" if text else "")

    def close(self) -> None:
        """Nothing to free."""
