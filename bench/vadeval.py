"""Scoring of VAD segmentations against the corpus ground truth (used by ``bench.vad``).

A detection and a true utterance match when they overlap; matching is one-to-one, greedy by
overlap. Unmatched utterances are *missed* (two utterances merged into one segment count one
miss), unmatched detections are *false* (an utterance split in two counts one false).
Boundary errors are signed (detected - true) in ms; close latency is the time from the true end
of speech to the moment the segment is closed. :func:`run_ours` and :func:`run_reference` score
the ``vad`` worker's classifier and segmenter, and the reference loop, on a whole corpus or on
one split of its sentences; :func:`summary` turns that into the figures per noise condition.

**The split** (:data:`HELD_TEXTS`): three of the ten sentences of each language are held back;
``bench.vad`` chooses the defaults on the other seven (``tune``) and reports both. A detection
belongs to the split of the utterance it overlaps most (or, overlapping none, the nearest one).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from audio.wavio import read_wav
from bench.corpus import Manifest, Utterance
from bench.vadref import reference_loop
from workers.vad.classifier import ClassifierParams, FrameClassifier
from workers.vad.pipeline import VadSettings
from workers.vad.segmenter import SegmentClosed, Segmenter, SegmenterParams, SpeechStarted

__all__ = [
    "CONDITIONS",
    "Detection",
    "classify_frames",
    "in_split",
    "pct",
    "run_ours",
    "run_reference",
    "score",
    "segment_frames",
    "split_of",
    "summary",
]

CONDITIONS = ("clean", "20 dB", "10 dB", "5 dB")
#: The sentences of ``bench.corpus`` held back from tuning: a long, a short and a medium one per
#: language (the reference texts).
HELD_TEXTS = frozenset(
    {
        "Drive forward two meters, then stop.",
        "Turn left and slow down.",
        "Remind me to call my sister tomorrow morning.",
        "向前走两米然后停下",
        "向左转然后慢一点",
        "停",
    }
)
Split = str  # "tune", "held" or "all"


def split_of(u: Utterance) -> str:
    """``held`` or ``tune``."""
    return "held" if u.text in HELD_TEXTS else "tune"


@dataclass(frozen=True)
class Detection:
    """One detected segment: speech start/end and the close decision, in stream seconds."""

    start_s: float
    end_s: float
    closed_s: float


def pct(values: list[float], q: float) -> float | None:
    """The ``q`` quantile by nearest rank (numpy's ``inverted_cdf``); None for no values."""
    return float(np.percentile(values, q * 100, method="inverted_cdf")) if values else None


def classify_frames(
    x: np.ndarray, frame_ms: int, params: ClassifierParams
) -> tuple[list[tuple[bytes, bool, float]], float]:
    """Frames of ``x`` with (pcm, voiced, level); and the CPU seconds the classifier took."""
    n = 16 * frame_ms
    clf = FrameClassifier(params)
    pcm = x.astype("<i2").tobytes()
    t = time.process_time()
    out = []
    for i in range(len(x) // n):
        f = pcm[2 * i * n : 2 * (i + 1) * n]
        voiced, level = clf.classify(f)
        out.append((f, voiced, level))
    return out, time.process_time() - t


def segment_frames(
    frames: list[tuple[bytes, bool, float]], params: SegmenterParams
) -> tuple[list[Detection], float]:
    """Run the segmenter over classified frames; detections and the CPU seconds it took."""
    seg = Segmenter(params)
    step = params.frame_ms * 1_000_000
    starts: dict[str, int] = {}
    out = []
    t = time.process_time()
    for i, (pcm, voiced, level) in enumerate(frames):
        events = seg.push(pcm, i * step, voiced, level)
        if i == len(frames) - 1:
            events += seg.flush()
        for e in events:
            if isinstance(e, SpeechStarted):
                starts[e.segment_id] = e.at_ns
            elif isinstance(e, SegmentClosed) and e.closed_by != "max_length":
                start_ns = starts.pop(e.segment_id)
                out.append(Detection(start_ns / 1e9, e.speech_end_ns / 1e9, e.decided_at_ns / 1e9))
    return out, time.process_time() - t


def in_split(
    dets: list[Detection], truth: list[Utterance], split: Split
) -> tuple[list[Detection], list[Utterance]]:
    """The detections and utterances of one split (``all``: everything)."""
    if split == "all" or not truth:
        return dets, truth

    def owner(d: Detection) -> Utterance:
        overlaps = [(min(d.end_s, u.end_s) - max(d.start_s, u.start_s), u) for u in truth]
        best = max(overlaps, key=lambda x: x[0])
        if best[0] > 0:
            return best[1]
        mid = (d.start_s + d.end_s) / 2
        return min(truth, key=lambda u: abs((u.start_s + u.end_s) / 2 - mid))

    return (
        [d for d in dets if split_of(owner(d)) == split],
        [u for u in truth if split_of(u) == split],
    )


def score(dets: list[Detection], truth: list[Utterance]) -> dict[str, list[float] | int]:
    """Match detections to utterances; errors in ms (signed) and counts."""
    pairs = []
    for di, d in enumerate(dets):
        for ti, u in enumerate(truth):
            ov = min(d.end_s, u.end_s) - max(d.start_s, u.start_s)
            if ov > 0:
                pairs.append((ov, di, ti))
    used_d: set[int] = set()
    used_t: set[int] = set()
    start_err, end_err, latency = [], [], []
    for _, di, ti in sorted(pairs, reverse=True):
        if di in used_d or ti in used_t:
            continue
        used_d.add(di)
        used_t.add(ti)
        d, u = dets[di], truth[ti]
        start_err.append(1000 * (d.start_s - u.start_s))
        end_err.append(1000 * (d.end_s - u.end_s))
        latency.append(1000 * (d.closed_s - u.end_s))
    return {
        "start_err_ms": start_err,
        "end_err_ms": end_err,
        "latency_ms": latency,
        "missed": len(truth) - len(used_t),
        "false": len(dets) - len(used_d),
        "utterances": len(truth),
    }


def _cond(f: Any) -> str:
    return "clean" if f.snr_db is None else f"{f.snr_db:g} dB"


def run_ours(
    manifest: Manifest, s: VadSettings, cache: dict | None = None, split: Split = "all"
) -> dict[str, Any]:
    """Segment every file with settings ``s``; per-condition scores (of ``split``) and CPU."""
    agg: dict[str, dict[str, Any]] = {}
    cpu_s = audio_s = 0.0
    frames_total = 0
    for f in manifest.files:
        key = (f.path, s.frame_ms, s.classifier_params())
        if cache is not None and key in cache:
            frames, c_cpu = cache[key]
        else:
            frames, c_cpu = classify_frames(read_wav(f.path), s.frame_ms, s.classifier_params())
            if cache is not None:
                cache[key] = (frames, c_cpu)
        dets, s_cpu = segment_frames(frames, s.segmenter_params())
        cpu_s += c_cpu + s_cpu
        audio_s += f.duration_s
        frames_total += len(frames)
        _merge(agg.setdefault(_cond(f), {}), score(*in_split(dets, f.utterances, split)))
    per_frame_s = cpu_s / max(1, frames_total)
    for a in agg.values():  # the decision is known once the frame is processed
        a["latency_ms"] = [x + 1000 * per_frame_s for x in a["latency_ms"]]
    return {"conditions": agg, "cpu_s_per_audio_s": cpu_s / audio_s}


def run_reference(manifest: Manifest, split: Split = "all") -> dict[str, Any]:
    """The reference loop over every file; per-condition scores (of ``split``) and CPU."""
    agg: dict[str, dict[str, Any]] = {}
    cpu_s = audio_s = 0.0
    for f in manifest.files:
        x = read_wav(f.path)
        t = time.process_time()
        segs = reference_loop(x)
        cpu_s += time.process_time() - t
        audio_s += f.duration_s
        dets = [Detection(g.start_s, g.end_s, g.closed_s) for g in segs]
        _merge(agg.setdefault(_cond(f), {}), score(*in_split(dets, f.utterances, split)))
    return {"conditions": agg, "cpu_s_per_audio_s": cpu_s / audio_s}


def _merge(into: dict[str, Any], s: dict[str, Any]) -> None:
    for k, v in s.items():
        into[k] = into.get(k, [] if isinstance(v, list) else 0) + v


def summary(res: dict[str, Any]) -> dict[str, Any]:
    """Scalar figures per condition."""
    out: dict[str, Any] = {"cpu_ms_per_audio_s": round(1000 * res["cpu_s_per_audio_s"], 2)}
    for cond in CONDITIONS:
        a = res["conditions"].get(cond)
        if a is None:
            continue
        both = [abs(x) for x in a["start_err_ms"] + a["end_err_ms"]]
        out[cond] = {
            "utterances": a["utterances"],
            "missed": a["missed"],
            "false": a["false"],
            "boundary_err_ms_mean": _r(float(np.mean(both)) if both else None),
            "boundary_err_ms_p90": _r(pct(both, 0.9)),
            "start_err_ms_mean": _r(_mean(a["start_err_ms"])),
            "end_err_ms_mean": _r(_mean(a["end_err_ms"])),
            "close_latency_ms_p50": _r(pct(a["latency_ms"], 0.5)),
            "close_latency_ms_p90": _r(pct(a["latency_ms"], 0.9)),
            "close_latency_ms_max": _r(max(a["latency_ms"], default=None)),
        }
    return out


def _mean(v: list[float]) -> float | None:
    return float(np.mean(v)) if v else None


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)
