"""A transcript cleaned of the decoder's own prompt, which Whisper sometimes writes back.

Whisper base is given a simplified-Chinese initial prompt (``ZH_PROMPT``, "以下是普通话的句子。",
"what follows are sentences in Mandarin"). On speech it cannot make out it often writes the
prompt itself back as the transcript: 14 of the 273 Chinese audio files of the three
understanding corpora came out as "以下是普通话的句子。", its tail "普通话的句子。", or a sound
and then the prompt ("以义, 以下是普通话的句子。")
(`bench/results/understanding*_penalty.json`). Passed on, the dialog would ask the LLM about a
sentence nobody said. :func:`strip_prompt_echo` takes the prompt out; what the speaker said
around it stays, and an echo alone leaves nothing (no speech, as for silence).

An echo is the prompt, or a tail of it at least two thirds as long (without its closing
punctuation; compared without case), so a word of the prompt said on its own ("普通话",
"turn left") is never taken for one. The recogniser strips its initial prompt only, not the
hotwords it also gives the decoder: those are the commands people say ("drive forward").
"""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["strip_prompt_echo"]

_CLOSING = " \t\r\n。．.!！?？,，、;；:："
_SEPARATORS = " \t\r\n,，、;；:："
#: The shortest tail of a prompt taken for its echo, as a share of the prompt's length.
_MIN_TAIL = 2 / 3


def strip_prompt_echo(text: str, prompts: Iterable[str]) -> str:
    """``text`` without any echo of ``prompts`` (and the punctuation that closed it); ``""``
    when nothing but echo and punctuation is left."""
    out = text
    for prompt in prompts:
        out = _strip_one(out, prompt.strip().rstrip(_CLOSING))
    if out == text:
        return text
    out = out.strip(_SEPARATORS)
    return out if any(c.isalnum() for c in out) else ""


def _strip_one(text: str, core: str) -> str:
    if not core:
        return text
    shortest = max(1, math.ceil(len(core) * _MIN_TAIL))
    while True:
        found = _find_tail(text, core, shortest)
        if found is None:
            return text
        start, end = found
        while end < len(text) and text[end] in _CLOSING:
            end += 1
        left, right = text[:start].rstrip(), text[end:].lstrip()
        text = left + (" " if left and right else "") + right


def _find_tail(text: str, core: str, shortest: int) -> tuple[int, int] | None:
    """The span of the longest tail of ``core`` (at least ``shortest`` long) in ``text``."""
    low = text.lower()
    for size in range(len(core), shortest - 1, -1):
        at = low.find(core[len(core) - size :].lower())
        if at >= 0:
            return at, at + size
    return None
