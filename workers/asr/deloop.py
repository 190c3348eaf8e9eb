"""A looping decode's text cut to what it said before it began to repeat itself.

Whisper in a short window sometimes repeats a phrase until its token limit: 0.75 s of "stop,"
came out as "start, start, start, ..." and "Halt!" as "Alt Alt Alt ...". :func:`first_cycle`
keeps the words before the repetition and one turn of it; it finds nothing (``None``) when no
phrase of the text comes three times in a row, and then the caller decodes again.
"""

from __future__ import annotations

import re

__all__ = ["first_cycle"]

_WORD = re.compile(r"\S+")
_PUNCT = re.compile(r"[^\w']+")
#: How many times in a row a phrase must come to be a loop (a phrase said twice is speech).
_TIMES = 3
#: The longest phrase looked for, words.
_MAX_PHRASE = 8


def _key(word: str) -> str:
    return _PUNCT.sub("", word).lower()


def first_cycle(text: str) -> str | None:
    """``text`` up to the end of the first turn of its loop, or ``None`` if it has none.

    The loop is the earliest phrase (of 1 to 8 words, compared without case and punctuation)
    that comes at least three times in a row; of phrases that start at the same word, the
    shortest.
    """
    spans = [m.span() for m in _WORD.finditer(text)]
    keys = [_key(text[a:b]) for a, b in spans]
    n = len(keys)
    for start in range(n):
        for size in range(1, _MAX_PHRASE + 1):
            if start + _TIMES * size > n:
                break
            phrase = keys[start : start + size]
            if not any(phrase):
                continue
            if all(
                keys[start + k * size : start + (k + 1) * size] == phrase for k in range(1, _TIMES)
            ):
                return text[: spans[start + size - 1][1]]
    return None
