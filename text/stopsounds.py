"""A stop word the recogniser wrote as a word that sounds like it: "start moving" for "stop moving".

Whisper tiny.en writes "stop" as "start" or "top", "halt" as "off" or "of", "brake" as "break"
and "freeze" as "breeze" often enough to matter (the understanding corpus's tuning split: 11 of
the 21 English stop utterances it missed on audio, ``bench/results/understanding.json``; "break"
is a homophone not seen there, "breeze" was seen once, in "that's breeze."). None of these
words is a car command, and a false STOP is safe where a missed one is not, so an utterance
made **only** of such a word and what may follow a stop word ("the car", "moving", "right
there", "now", "immediately") is read as the stop it sounds like: :func:`restore_stop` puts the
stop word back before the dialog reads the words, so the STOP path, the grammar and the log all
see "stop moving". A sound-alike in any other utterance ("start the story", "turn the lights
off", "take a break") is left as it is.

    restore_stop("start moving")        # "stop moving"
    restore_stop("well, start, start")  # "well stop stop"
    restore_stop("Of the car, immediately.")  # "halt the car immediately"
    restore_stop("start the story")     # None
"""

from __future__ import annotations

import re

__all__ = ["SOUND_ALIKES", "restore_stop"]

SOUND_ALIKES: dict[str, str] = {
    "start": "stop",
    "top": "stop",
    "off": "halt",
    "of": "halt",
    "alt": "halt",
    "hold": "halt",
    "holt": "halt",
    "break": "brake",
    "breeze": "freeze",
}
"""Words the recogniser writes for a stop word, and that stop word (phonetic neighbours; the
ones seen are from the tuning split's transcripts)."""

_AFTER = (("the", "car"), ("the", "robot"), ("right", "there"), ("right", "now"), ("moving",),
          ("there",), ("now",), ("immediately",), ("please",), ("it",), ("here",))  # fmt: skip
"""What may follow a stop word in a stop command ("stop the car", "halt right there")."""
_BEFORE = frozenset({"okay", "ok", "and", "oh", "so", "please", "now", "hey", "robot", "well",
                     "whoa", "wait"})  # fmt: skip
"""What may come before it ("okay, stop", "hey robot, stop", "whoa, stop")."""
_WORD = re.compile(r"[a-z']+")


def restore_stop(text: str) -> str | None:
    """The utterance with its stop word put back, when it is only a sound-alike of one and what
    may surround a stop word; None otherwise."""
    words = _WORD.findall(text.lower().replace("\u2019", "'"))
    k = 0
    while k < len(words) and words[k] in _BEFORE:
        k += 1
    if k >= len(words) or words[k] not in SOUND_ALIKES:
        return None
    alike = words[k]
    rest = words[k + 1 :]
    while rest:
        if rest[0] in (alike, SOUND_ALIKES[alike]):  # "start, start, start": "stop, stop, stop"
            rest = rest[1:]
            continue
        after = next((a for a in _AFTER if tuple(rest[: len(a)]) == a), None)
        if after is None:
            return None
        rest = rest[len(after) :]
    stop = SOUND_ALIKES[alike]
    return " ".join([*words[:k], *(stop if w == alike else w for w in words[k:])])
