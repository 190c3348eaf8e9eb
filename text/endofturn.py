"""End of turn from words: how long to wait after what was said so far before the turn is over.

A speaker who trails off ("drive forward, and ...", "turn left, um", 然后) is not done; one whose
words end a request (a full stop, a question mark) probably is. :func:`classify` reads a
transcript so far as ``trailing``, ``complete`` or ``open`` and :class:`EndOfTurn` maps that to a
wait in ms. The VAD applies it to the transcript of each pause (``vad.partial`` ->
``asr.partial``), so the segment closes sooner or later than its fixed hangover;
``bench/eot.py`` studies and tunes the waits on the understanding corpus (tuning split) and
reports them on the held-back split.

Words alone cannot tell "drive forward." from "drive forward | two meters" (the recogniser
writes a full stop after both), so the complete wait must stay long enough for the hesitations
the tuning lines hold; a trailing transcript is the signal words do give.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

__all__ = ["EndOfTurn", "Reading", "classify"]

Reading = Literal["trailing", "complete", "open"]

_TERMINAL = tuple(".!?。！？")
_TRAIL_MARKS = (",", "，", "、", "...", "…", "-", "—", ";", "；", ":", "：")
_TRAIL_EN = frozenset(
    ["and", "then", "or", "but", "so", "to", "the", "a", "an", "of", "for", "by", "with", "about",
     "at", "in", "on", "into", "um", "uh", "er", "erm", "like", "please", "can", "could", "would",
     "will", "should", "do", "let's", "my", "your"]
)  # fmt: skip
_TRAIL_ZH = (
    "然后",
    "和",
    "还有",
    "再",
    "先",
    "嗯",
    "那个",
    "就是",
    "把",
    "往",
    "向",
    "给",
    "请",
    "或者",
)
_WORDS = re.compile(r"[a-z']+")


@lru_cache(maxsize=8192)
def classify(text: str, lang: str = "") -> Reading:
    """``trailing`` (ends with a comma, a conjunction, an article, a preposition, a filler),
    ``complete`` (ends with terminal punctuation) or ``open`` (neither)."""
    t = text.strip()
    if not t or t.endswith(_TRAIL_MARKS):
        return "trailing"
    if (lang == "zh" or _is_chinese(t)) and t.rstrip("。！？!?.").endswith(_TRAIL_ZH):
        return "trailing"
    words = _WORDS.findall(t.lower().replace("\u2019", "'"))
    if words and words[-1] in _TRAIL_EN and not t.endswith(_TERMINAL):
        return "trailing"
    if t.endswith(_TERMINAL):
        return "complete"
    return "open"


def _is_chinese(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text)


@dataclass(frozen=True)
class EndOfTurn:
    """Waits after a transcript, by how it reads (ms)."""

    complete_ms: int
    open_ms: int
    trailing_ms: int

    def wait_ms(self, text: str, lang: str = "") -> int:
        """How long the silence after ``text`` must last before the turn is over, ms."""
        reading = classify(text, lang)
        if reading == "complete":
            return self.complete_ms
        if reading == "trailing":
            return self.trailing_ms
        return self.open_ms
