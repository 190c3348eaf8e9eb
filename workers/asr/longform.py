"""Segments longer than one encoder window: split at quiet points, overlap, join without repeats.

SenseVoice on the NPU takes about 10 s per call (167 LFR frames). A longer segment is cut at
the lowest-energy 10 ms step in the second half of each window, the next piece starts
``overlap`` samples before the cut (a word cut in two is heard whole at least once), and the
texts are joined with the longest suffix/prefix word overlap removed.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from workers.asr.transcript import Recognizer, Transcript

__all__ = ["join_texts", "split_points", "transcribe_long"]

_RATE = 16000
_FRAME = 400
_STEP = 160
_SMOOTH_FRAMES = 21
_TOKENS_PER_S = 10  # an upper bound on words (or CJK characters) per second of speech
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")
_CJK_CHAR = re.compile(rf"[{_CJK}]")
_NOT_WORD = re.compile(r"[^\w]+")


def split_points(samples: np.ndarray, max_samples: int, overlap: int) -> list[tuple[int, int]]:
    """``(start, end)`` sample ranges, each at most ``max_samples`` long, covering ``samples``.

    Consecutive ranges overlap by ``overlap`` samples before each cut; each cut lies at the
    quietest 25 ms frame in the second half of its window.
    """
    total = len(samples)
    if max_samples <= 2 * max(overlap, _FRAME):
        raise ValueError(
            f"max_samples={max_samples} is too short for an overlap of {overlap} samples; "
            "use a window of at least a few seconds."
        )
    ranges: list[tuple[int, int]] = []
    start = 0
    while total - start > max_samples:
        cut = _quietest_point(samples, start + max_samples // 2, start + max_samples)
        ranges.append((start, cut))
        start = cut - overlap
    ranges.append((start, total))
    return ranges


def _quietest_point(samples: np.ndarray, lo: int, hi: int) -> int:
    region = np.asarray(samples[lo:hi], dtype=np.float64)
    frames = 1 + (len(region) - _FRAME) // _STEP
    if frames <= 1:
        return hi
    idx = np.arange(_FRAME)[None, :] + _STEP * np.arange(frames)[:, None]
    energy = np.sum(region[idx] ** 2, axis=1)
    # smooth over about 200 ms so the cut lands inside a pause, not in a short dip of a word
    width = min(_SMOOTH_FRAMES, frames)
    energy = np.convolve(energy, np.ones(width) / width, mode="same")
    best = int(np.argmin(energy))
    return min(hi, lo + best * _STEP + _FRAME // 2)


def _tokens(text: str) -> list[tuple[str, int]]:
    """(normalised token, end offset) per word or CJK character; punctuation-only tokens dropped."""
    out = []
    for match in _TOKEN.finditer(text):
        norm = _NOT_WORD.sub("", match.group()).lower()
        if norm:
            out.append((norm, match.end()))
    return out


def join_texts(left: str, right: str, max_overlap: int = 8) -> str:
    """``left + right`` with the longest repeated run of words (or CJK characters) kept once."""
    left, right = left.strip(), right.strip()
    if not left or not right:
        return left or right
    a = [t for t, _ in _tokens(left)]
    b = _tokens(right)
    cut = 0
    for k in range(min(len(a), len(b), max_overlap), 0, -1):
        if a[-k:] == [t for t, _ in b[:k]]:
            cut = b[k - 1][1]
            break
    rest = right[cut:].lstrip()
    if not rest or _NOT_WORD.fullmatch(rest):
        return left if not rest else left + rest
    glue = "" if _CJK_CHAR.match(left[-1]) or _CJK_CHAR.match(rest[0]) else " "
    return left + glue + rest


def transcribe_long(
    recognizer: Recognizer, samples: np.ndarray, overlap: int = 4800, *, partial: bool = False
) -> tuple[Transcript, int]:
    """Transcribe audio of any length with ``recognizer``; returns the transcript and piece count.

    Language, emotion and event come from the first piece that held speech; ``loop_cut`` is
    true when any piece's is. ``partial``: as :meth:`Recognizer.transcribe`'s.
    """
    if len(samples) <= recognizer.max_samples:
        return recognizer.transcribe(samples, partial=partial), 1
    ranges = split_points(samples, recognizer.max_samples, overlap)
    pieces = [recognizer.transcribe(samples[a:b], partial=partial) for a, b in ranges]
    max_overlap = 1 + overlap * _TOKENS_PER_S // _RATE
    spoken = [p for p in pieces if p.is_speech]
    if not spoken:
        return pieces[0], len(pieces)
    text = ""
    for piece in spoken:
        text = join_texts(text, piece.text, max_overlap)
    return replace(spoken[0], text=text, loop_cut=any(p.loop_cut for p in pieces)), len(pieces)
