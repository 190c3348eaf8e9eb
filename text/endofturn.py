"""End of turn from words: how long to wait after what was said so far before the turn is over.

A speaker who trails off ("drive forward, and ...", "turn left, um", 然后) is not done; one whose
words end a request (a full stop, a question mark) probably is, unless they end with a clause
that asks for what follows ("can you tell me?", "I think."). :func:`classify` reads a
transcript so far as ``trailing``, ``complete`` or ``open`` and :class:`EndOfTurn` maps that to a
wait in ms. The VAD applies it to the transcript of each pause (``vad.partial`` ->
``asr.partial``), so the segment closes sooner or later than its fixed hangover;
``bench/eot.py`` studies and tunes the waits on the understanding corpus (tuning split) and
reports them on the held-back split.

Words alone cannot tell "drive forward." from "drive forward | two meters" (the recogniser
writes a full stop after both), and the recogniser's comma is a weak sign (Whisper writes one
after about one complete request in six). A ``reader`` given to :class:`EndOfTurn` reads the
requests it understands first: the VAD passes the car's grammar
(:func:`text.turnend.command_reading`), which knows that "kindly turn left," is
complete and "drive forward." may well go on; the words' rule reads everything else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from text.language import language_of

__all__ = [
    "EndOfTurn",
    "Reader",
    "Reading",
    "by_mark_only",
    "classify",
    "without_trailing_mark",
]

Reading = Literal["trailing", "complete", "open"]

_TERMINAL = tuple(".!?。！？")
_TRAIL_MARKS = (",", "，", "、", "...", "…", "-", "—", ";", "；", ":", "：")
_TRAIL_EN = frozenset(
    ["and", "then", "or", "but", "so", "to", "the", "a", "an", "of", "for", "by", "with", "about",
     "at", "in", "on", "into", "um", "uh", "er", "erm", "like", "please", "can", "could", "would",
     "will", "should", "do", "let's", "my", "your"]
)  # fmt: skip
#: Words that ask for what comes next even where the recogniser wrote a full stop or a question
#: mark after them ("Can you tell me?", "I think."): a clause that takes a complement, said
#: before the complement. Matched on the transcript's last words.
_FRAMES_EN = frozenset(
    [("i", "think"), ("i", "guess"), ("i", "mean"), ("i", "want"), ("i", "need"),
     ("i'd", "like"), ("would", "like"), ("i", "wonder"), ("wondering",), ("tell", "me"),
     ("show", "me"), ("remind", "me"), ("let", "me"), ("how", "about"), ("what", "about")]
)  # fmt: skip
_TRAIL_ZH = (
    "我觉得",
    "我想",
    "告诉我",
    "请问",
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
    """``trailing`` (ends with a comma, a conjunction, an article, a preposition, a filler, or
    a clause that asks for its complement: "tell me", "I think", 我觉得), ``complete`` (ends
    with terminal punctuation) or ``open`` (neither)."""
    t = text.strip()
    if not t or t.endswith(_TRAIL_MARKS):
        return "trailing"
    if (lang == "zh" or language_of(t) == "zh") and t.rstrip("。！？!?.").endswith(_TRAIL_ZH):
        return "trailing"
    words = _WORDS.findall(t.lower().replace("\u2019", "'"))
    if words and words[-1] in _TRAIL_EN and not t.endswith(_TERMINAL):
        return "trailing"
    if tuple(words[-2:]) in _FRAMES_EN or tuple(words[-1:]) in _FRAMES_EN:
        return "trailing"  # whatever the punctuation: "Can you tell me?" goes on
    if t.endswith(_TERMINAL):
        return "complete"
    return "open"


def without_trailing_mark(text: str) -> str:
    """``text`` without the marks it trails off with ("what's your name," -> "what's your
    name"): the recogniser's comma at a pause is not part of what was asked, and a small LLM
    given a sentence that ends with one tends to go on with it instead of answering."""
    t = text.strip()
    while t.endswith(_TRAIL_MARKS):
        mark = next(m for m in _TRAIL_MARKS if t.endswith(m))
        t = t[: -len(mark)].rstrip()
    return t or text.strip()


def by_mark_only(text: str, lang: str = "") -> bool:
    """True when ``text`` trails off only by its last punctuation mark ("what's your name,"):
    without the mark its words do not trail off. The recogniser's comma is a weaker sign than a
    trailing word (Whisper writes one after about one complete request in six)."""
    t = text.strip()
    if not t.endswith(_TRAIL_MARKS):
        return False
    bare = without_trailing_mark(t)
    return bare != t and classify(bare, lang) != "trailing"


Reader = Callable[[str, str], Reading | None]
"""Reads ``(text, lang)`` it understands (``None``: not one of its lines)."""


@dataclass(frozen=True)
class EndOfTurn:
    """Waits after a transcript, by how it reads (ms)."""

    complete_ms: int
    open_ms: int
    trailing_ms: int
    reader: Reader | None = None
    """Consulted before the words' rule; its ``None`` leaves the reading to :func:`classify`."""
    mark_ms: int | None = None
    """Wait after words the ``reader`` leaves alone that trail off only by their last mark
    (:func:`by_mark_only`), ms; ``None``: ``trailing_ms``."""

    def wait_ms(self, text: str, lang: str = "") -> int:
        """How long the silence after ``text`` must last before the turn is over, ms."""
        got = self.reader(text, lang) if self.reader is not None else None
        reading = got if got is not None else classify(text, lang)
        if reading == "complete":
            return self.complete_ms
        if reading == "trailing":
            if got is None and self.mark_ms is not None and by_mark_only(text, lang):
                return self.mark_ms
            return self.trailing_ms
        return self.open_ms
