"""Scoring of VAD segmentations against the corpus ground truth (used by ``bench.vad``).

A detection and a true utterance match when they overlap; matching is one-to-one, greedy by
overlap. Unmatched utterances are *missed* (two utterances merged into one segment count one
miss), unmatched detections are *false* (an utterance split in two counts one false).
Boundary errors are signed (detected - true) in ms; close latency is the time from the true end
of speech to the moment the segment is closed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from bench.corpus import Utterance
from workers.vad.classifier import ClassifierParams, FrameClassifier
from workers.vad.segmenter import SegmentClosed, Segmenter, SegmenterParams, SpeechStarted

__all__ = ["Detection", "classify_frames", "pct", "score", "segment_frames"]


@dataclass(frozen=True)
class Detection:
    """One detected segment: speech start/end and the close decision, in stream seconds."""

    start_s: float
    end_s: float
    closed_s: float


def pct(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (nearest rank) or None for no values."""
    if not values:
        return None
    v = sorted(values)
    return v[max(0, min(len(v) - 1, math.ceil(q * len(v)) - 1))]


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
