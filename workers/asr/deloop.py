"""A looping decode's text cut to what it said before it began to repeat itself.

Whisper sometimes repeats a phrase until its token limit: 0.75 s of "stop," came out as
"start, start, start, ..." and a command as "turn to the right turn to the right turn to ...".
Decoding again with the full 30 s window (what the recogniser did) took another 0.3-0.5 s and
looped as often: on the 80 looping clips of the understanding corpora's English audio the redo's
word error rate was 0.87 (tuning lines) and 1.43 (held-back lines), the loop's first turn's
0.33 and 0.36 (`bench/results/runlog-2026-12-02.md`). :func:`first_cycle` keeps the words before
the repetition and one turn of it, or finds nothing (``None``) when no phrase of the text comes
twice in a row; only then does the caller decode again.
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
