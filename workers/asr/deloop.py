"""A looping decode's text cut to what it said before it began to repeat itself.

Whisper sometimes repeats a phrase until its token limit: 0.75 s of "stop," came out as
"start, start, start, ..." and a command as "turn to the right turn to the right turn to ...".
Decoding again with the full 30 s window takes another 0.3-0.5 s. :func:`first_cycle` keeps the
words before the repetition and one turn of it, or finds nothing (``None``) when no phrase of
the text comes twice in a row. The recogniser uses it for a partial transcript (the open
segment, heard at a pause for a stop word: "start," is then a stop at once; a careful
transcript of the same audio follows it) and for a redo that loops too; a whole segment is
decoded again first, because the first turn of a loop can look like a command that was never
said (``docs/asr.md``, `bench/results/asrloops.json`).
"""

from __future__ import annotations

import re

__all__ = ["first_cycle"]

_WORD = re.compile(r"\S+")
_PUNCT = re.compile(r"[^\w']+")
#: The longest phrase looked for, words.
_MAX_PHRASE = 12


def _key(word: str) -> str:
    return _PUNCT.sub("", word).lower()


def first_cycle(text: str) -> str | None:
    """``text`` up to the end of the first turn of its loop, or ``None`` if it has none.

    The loop is the earliest phrase (1 to 12 words, compared without case and punctuation) that
    comes twice in a row; of phrases that start at the same word, the shortest. Meant for a text
    known to loop (Whisper's compression ratio above 2.4): in other speech a phrase said twice
    ("turn left, turn left") is said twice.
    """
    spans = [m.span() for m in _WORD.finditer(text)]
    keys = [_key(text[a:b]) for a, b in spans]
    n = len(keys)
    for start in range(n):
        for size in range(1, _MAX_PHRASE + 1):
            if start + 2 * size > n:
                break
            phrase = keys[start : start + size]
            if any(phrase) and keys[start + size : start + 2 * size] == phrase:
                return text[: spans[start + size - 1][1]]
    return None
