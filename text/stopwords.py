"""Does an utterance hold a stop word? The one matcher of the STOP path and the command grammar.

Safety before conversation: any utterance that holds a stop word sends STOP to the car at once
(awake or not, mid-turn, while the assistant speaks), before anything is asked of the LLM. The
dialog's fast path (``workers/dialog/stopping.py``) and its command grammar both ask this module,
so the two can never disagree about what a stop word is.

The rule (the one the understanding corpus is labelled with, ``bench/data/understanding.yaml``;
``tests/text/test_stopwords.py`` checks every line of it):

- English forms match as **whole words**, case-insensitive, with ``'`` and ``’`` alike:
  ``stop``, ``halt``, ``freeze``, ``brake``, ``brakes``, ``don't move`` (also written ``do not
  move`` or ``dont move``). A word joined to another by a hyphen or an apostrophe is not one
  (``non-stop``, ``stop-motion``), nor is any other form of the word (``stopped``,
  ``stopping``, ``stops``); ``e-stop`` (``e stop``, ``estop``) is the emergency stop;
- Chinese forms match as **characters**, anywhere in the text: ``停`` (so 停车, 停下 and the
  停 in 停车场 alike), ``别动``, ``不要动``, ``站住``, ``刹车``, and their traditional spellings
  (Whisper may write them);
- both languages are looked for in every text: a recogniser's language tag can be wrong.

A stop word is honoured even where the user did not mean one ("don't stop believing", "the bus
stop", 停车场): a false STOP is safe, a missed one is not. ``emergency`` anywhere with a stop
form, ``e-stop``, 急停, 急刹车 and 紧急 with a stop form (紧急停车) ask for the latched
emergency stop (``estop``) instead.

The dialog's command grammar reads its stop words from here (``text/lexicon.py``:
:data:`STOP_FORMS`, :data:`STOP_SPELLINGS`, :data:`EMERGENCY_FORMS`), so what it parses as a
stop is what this matcher finds, of the same kind.

    hit = find_stop("Okay stop, that's far enough.")
    hit.kind   # "stop"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "EMERGENCY_FORMS",
    "STOP_FORMS",
    "STOP_SPELLINGS",
    "StopHit",
    "find_stop",
    "has_stop_word",
    "stop_kind",
]

#: The stop forms by language (the corpus's ``stop_words`` list is this one, checked by a test).
STOP_FORMS: dict[str, tuple[str, ...]] = {
    "en": ("stop", "halt", "freeze", "brake", "brakes", "don't move"),
    "zh": ("停", "停车", "停下", "急停", "别动", "不要动", "站住", "刹车"),
}
#: Other spellings of those forms: "don't move" written out or without its apostrophe, and the
#: traditional script of the Chinese forms (a recogniser may answer in it).
STOP_SPELLINGS: dict[str, tuple[str, ...]] = {
    "en": ("do not move", "dont move"),
    "zh": ("停車", "別動", "不要動", "剎車", "煞車"),
}
#: Words that make a stop the emergency stop (``estop``): with a stop form anywhere in the text
#: (the Chinese ones that hold a stop form, 急停 and 急刹车, are such a text by themselves).
EMERGENCY_FORMS: dict[str, tuple[str, ...]] = {
    "en": ("emergency",),
    "zh": ("急停", "急刹车", "紧急", "急剎車", "急煞車", "緊急"),
}

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})
#: Letters, digits, an apostrophe or a hyphen next to a form make it part of another word.
_EN_STOP = re.compile(
    r"(?<![\w'-])(?:"
    + "|".join(
        r"\s+".join(map(re.escape, f.split())) for f in (*STOP_FORMS["en"], *STOP_SPELLINGS["en"])
    )
    + r")(?![\w'-])",
    re.IGNORECASE,
)
#: The emergency stop as one word: e-stop, e stop, estop (a stop form and its emergency at once).
_EN_ESTOP = re.compile(r"(?<![\w'-])e(?:-|\s+)?stop(?![\w'-])", re.IGNORECASE)
_EN_EMERGENCY = re.compile(r"(?<![\w'-])emergency(?![\w'-])", re.IGNORECASE)
_ZH_STOP = re.compile("|".join(map(re.escape, (*STOP_FORMS["zh"], *STOP_SPELLINGS["zh"]))))
_ZH_EMERGENCY = re.compile("|".join(map(re.escape, EMERGENCY_FORMS["zh"])))


@dataclass(frozen=True)
class StopHit:
    """The first stop form found in a text."""

    form: str
    """The words as written in the text (``Stop``, ``don’t move``, ``停``)."""
    start: int
    """Offset of its first character in the text."""
    end: int
    """Offset just past its last character."""
    kind: Literal["stop", "estop"]
    """``estop`` when the text asks for the emergency stop, else ``stop``."""


def find_stop(text: str) -> StopHit | None:
    """The earliest stop form in ``text`` (English words or Chinese characters), or ``None``."""
    norm = text.translate(_APOSTROPHES)  # same length: offsets stay those of ``text``
    estop = _EN_ESTOP.search(norm)
    found = (_EN_STOP.search(norm), estop, _ZH_STOP.search(norm))
    hits = [m for m in found if m is not None]
    if not hits:
        return None
    first = min(hits, key=lambda m: m.start())
    emergency = bool(estop or _EN_EMERGENCY.search(norm) or _ZH_EMERGENCY.search(norm))
    return StopHit(
        form=text[first.start() : first.end()],
        start=first.start(),
        end=first.end(),
        kind="estop" if emergency else "stop",
    )


def has_stop_word(text: str) -> bool:
    """True when ``text`` holds a stop form."""
    return find_stop(text) is not None


def stop_kind(text: str) -> Literal["stop", "estop"] | None:
    """``stop`` or ``estop`` when ``text`` holds a stop form, else ``None``."""
    hit = find_stop(text)
    return None if hit is None else hit.kind
